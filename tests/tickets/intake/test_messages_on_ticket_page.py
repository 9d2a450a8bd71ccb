"""A ticket's admin page lists the messages that came for it, as they came."""

from tests.tickets.intake.conftest import sms, weibo
from tickets import services
from tickets.models import Ticket


def test_the_dispatcher_reads_each_post_with_its_pictures_as_links(deliver, city, browse):
    deliver("weibo", weibo(pics=["https://wx1.sinaimg.cn/large/0001.jpg"]))
    deliver("weibo", weibo(mid="502", user_id="2002", text="我家楼下也是", repost_of="5012345678901234"))
    ticket = Ticket.objects.get()

    page = browse(city.dispatcher).get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "中南路路灯坏了一周了" in page and "我家楼下也是" in page
    assert 'href="https://wx1.sinaimg.cn/large/0001.jpg" rel="noreferrer noopener"' in page
    assert "supported by another citizen" in page


def test_unit_staff_see_an_sms_senders_number_masked(deliver, city, browse):
    deliver("sms", sms(sender="13912345678"))
    ticket = Ticket.objects.get()
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.bureau, actor=city.dispatcher)

    handler_page = browse(city.handler).get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    centre_page = browse(city.dispatcher).get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "139****5678" in handler_page and "13912345678" not in handler_page
    assert "13912345678" in centre_page
