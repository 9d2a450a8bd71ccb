"""Citizens' text is shown as text on every admin page, never as markup."""

from tests.factories import make_ticket
from tests.tickets.admin.helpers import CHANGELIST, change_url
from tickets import services
from tickets.models import State

SCRIPT = "<script>alert(1)</script>"


def test_markup_in_a_report_and_a_reason_is_escaped_on_the_list_and_the_page(browse, city):
    ticket = make_ticket(city, State.DISPATCHED, description=f"{SCRIPT}水管爆裂", address=SCRIPT,
                         reporter_name="<b>x</b>")
    returned = make_ticket(city, State.DISPATCHED)
    services.ticket_return(ticket_id=returned.id, actor=city.handler, reason="other", comment=SCRIPT)
    client = browse(city.dispatcher)

    for url in (CHANGELIST, change_url(ticket), change_url(returned), "/admin/tickets/ticketevent/"):
        page = client.get(url).content.decode()
        assert SCRIPT not in page and "<b>x</b>" not in page, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(change_url(ticket)).content.decode()
    assert "&lt;script&gt;" in client.get(CHANGELIST).content.decode()
