"""An archived ticket is read-only everywhere: services, API, admin, and PostgreSQL itself."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import IntegrityError
from django.utils import timezone, translation

from tests.factories import make_ticket
from tests.tickets.admin.helpers import CHANGELIST, change_url, history, post_action
from tests.tickets.api.helpers import VALID_BODIES, act, assert_error
from tickets import services
from tickets.errors import Conflict
from tickets.models import (
    Attachment,
    Channel,
    DeadlineAlert,
    ExtensionRequest,
    InboundMessage,
    Notification,
    PersonalDataAccess,
    State,
    Supporter,
    Ticket,
    TicketEvent,
)

API_TRANSITIONS = [
    "accept", "reject", "merge", "dispatch", "claim", "return", "request-extension",
    "approve-extension", "refuse-extension", "pause", "resume", "resolve", "verify", "send-back",
    "rate", "expire-feedback", "archive",
]


@pytest.fixture(autouse=True)
def _english():
    # The services' refusals are read in English, whichever test ran before.
    with translation.override("en"):
        yield


@pytest.fixture
def archived(city):
    return make_ticket(city, State.ARCHIVED, reporter_phone="13912345678")


def _snapshot(ticket: Ticket) -> tuple:
    row = Ticket.objects.filter(id=ticket.id).values().get()
    return row, list(TicketEvent.objects.filter(ticket=ticket).values_list("id", flat=True))


def _refused_in_the_database(sql: str, params=()) -> str:
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    return str(refused.value)


# -- services ------------------------------------------------------------------------------

def _service_calls(city, ticket):
    """Each service that writes to a ticket, called by someone whose role allows it."""
    later = timezone.now() + dt.timedelta(days=3)
    args = {"ticket_id": ticket.id}
    return {
        "accept": lambda: services.ticket_accept(**args, actor=city.dispatcher),
        "reject": lambda: services.ticket_reject(**args, actor=city.dispatcher, reason="广告信息"),
        "merge": lambda: services.ticket_merge(**args, into_id=make_ticket(city).id, actor=city.dispatcher),
        "dispatch": lambda: services.ticket_dispatch(**args, unit=city.bureau, actor=city.dispatcher),
        "claim": lambda: services.ticket_claim(**args, actor=city.handler),
        "return": lambda: services.ticket_return(**args, actor=city.handler, reason="wrong_territory"),
        "request_extension": lambda: services.ticket_request_extension(
            **args, actor=city.handler, until=later, reason="需要协调"),
        "decide_extension": lambda: services.ticket_decide_extension(**args, actor=city.dispatcher, approve=True),
        "pause": lambda: services.ticket_pause(**args, actor=city.handler, until=later, reason="请补充照片"),
        "resume": lambda: services.ticket_resume(**args, actor=city.handler),
        "resolve": lambda: services.ticket_resolve(**args, actor=city.handler, reply="已修复"),
        "verify": lambda: services.ticket_verify(**args, actor=city.dispatcher),
        "send_back": lambda: services.ticket_send_back(**args, actor=city.dispatcher, reason="回复不完整"),
        "rate": lambda: services.ticket_rate(**args, actor=city.operator, rating="unsatisfied"),
        "expire_feedback": lambda: services.ticket_expire_feedback(**args, now=later),
        "archive": lambda: services.ticket_archive(**args, actor=city.dispatcher),
    }


# Every service of tickets/services.py that changes a ticket (its record included).
SERVICES = [
    "accept", "reject", "merge", "dispatch", "claim", "return", "request_extension", "decide_extension", "pause",
    "resume", "resolve", "verify", "send_back", "rate", "expire_feedback", "archive",
]


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_refuses_an_archived_ticket_with_a_conflict_and_changes_nothing(city, archived, service):
    before = _snapshot(archived)

    with pytest.raises(Conflict, match="archived: its record is read-only"):
        _service_calls(city, archived)[service]()

    assert _snapshot(archived) == before


def test_an_archived_ticket_is_never_merged_into(city, archived):
    duplicate = make_ticket(city)

    with pytest.raises(Conflict):
        services.ticket_merge(ticket_id=duplicate.id, into_id=archived.id, actor=city.dispatcher)

    assert Ticket.objects.get(id=archived.id).support_count == archived.support_count


def test_a_repost_of_an_archived_ticket_counts_no_supporter(city, archived):
    ticket, counted = services.ticket_support(ticket_id=archived.id, channel=Channel.WEIBO, identity="u1")

    assert not counted and ticket.support_count == 0 and not Supporter.objects.exists()


def test_unit_staff_may_still_reveal_an_archived_tickets_reporter_and_it_is_logged(city, archived):
    services.ticket_reveal_reporter(ticket_id=archived.id, actor=city.handler, reason="档案核查")

    assert PersonalDataAccess.objects.filter(ticket=archived, user=city.handler).count() == 1


# -- the staff API -------------------------------------------------------------------------

@pytest.mark.parametrize("transition", API_TRANSITIONS)
@pytest.mark.parametrize("who", ["dispatcher", "handler"])
def test_every_api_transition_on_an_archived_ticket_is_a_409_whatever_the_body(city, api, archived, transition,
                                                                              who):
    client = api(getattr(city, who))
    before = _snapshot(archived)

    for body in (VALID_BODIES.get(transition, {}), {}):
        body = assert_error(act(client, archived, transition, body), 409, "conflict")
        assert "archived" in body["detail"] and archived.number in body["detail"]

    assert _snapshot(archived) == before


def test_the_api_still_reads_an_archived_ticket_with_its_history(city, api, archived):
    response = api(city.dispatcher).get(f"/api/v1/tickets/{archived.number}/")

    assert response.status_code == 200
    assert response.json()["state"] == "archived" and response.json()["events"][-1]["kind"] == "archive"


# -- the admin -----------------------------------------------------------------------------

def test_the_admin_page_of_an_archived_ticket_is_read_only_and_says_so(browse, city, archived):
    page = browse(city.dispatcher).get(change_url(archived))

    assert page.status_code == 200
    html = page.content.decode()
    assert "this record is read-only" in html
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert f"{CHANGELIST}{archived.id}/delete/" not in html
    assert "/actions/" not in html
    assert f'/desk/record/{archived.number}/' in html


def test_the_admin_refuses_to_save_or_delete_an_archived_ticket(browse, city, archived):
    client = browse(city.dispatcher)
    before = _snapshot(archived)

    assert client.post(change_url(archived), {"description": "改写"}).status_code == 403
    assert client.get(f"{CHANGELIST}{archived.id}/delete/").status_code == 403
    assert client.post(f"{CHANGELIST}{archived.id}/delete/", {"post": "yes"}).status_code == 403

    assert _snapshot(archived) == before


@pytest.mark.parametrize("action", ["accept", "dispatch", "resolve", "archive", "decide-extension"])
def test_an_admin_button_posted_on_an_archived_ticket_is_a_conflict(browse, city, archived, action):
    client = browse(city.dispatcher)
    before = history(archived)

    response = post_action(client, archived, action, {"reason": "x", "unit": city.bureau.pk, "reply": "x"})

    assert response.status_code == 409
    assert "archived: its record is read-only" in response.content.decode()
    assert history(archived) == before


def test_the_ticket_list_offers_no_bulk_action_that_could_change_a_ticket(browse, city, archived):
    page = browse(city.dispatcher).get(CHANGELIST, {"queue": "all"}).content.decode()

    assert archived.number in page and 'name="action"' not in page


def test_an_admin_decision_on_an_archived_tickets_extension_is_refused(city, archived):
    with pytest.raises(Conflict, match="archived"):
        services.ticket_decide_extension(ticket_id=archived.id, actor=city.dispatcher, approve=False)


# -- PostgreSQL ----------------------------------------------------------------------------

def test_postgresql_refuses_a_raw_update_or_delete_of_an_archived_ticket(archived):
    before = _snapshot(archived)

    message = _refused_in_the_database("UPDATE tickets_ticket SET description = 'x' WHERE id = %s", [archived.id])
    assert f"ticket {archived.number} is archived and read-only (UPDATE refused)" in message
    _refused_in_the_database("UPDATE tickets_ticket SET state = 'closed' WHERE id = %s", [archived.id])
    _refused_in_the_database("DELETE FROM tickets_ticket WHERE id = %s", [archived.id])
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(id=archived.id).update(reply="改写")
    with pytest.raises(IntegrityError), transaction.atomic():
        archived.description = "改写"
        archived.save()

    assert _snapshot(archived) == before


def test_postgresql_still_lets_a_ticket_that_is_not_archived_be_updated(city):
    closed = make_ticket(city, State.CLOSED)

    with connection.cursor() as cursor:
        cursor.execute("UPDATE tickets_ticket SET reply = 'x' WHERE id = %s", [closed.id])

    assert Ticket.objects.get(id=closed.id).reply == "x"


def test_postgresql_refuses_new_events_on_an_archived_ticket_after_its_archive_event(archived):
    assert TicketEvent.objects.filter(ticket=archived, kind="archive").count() == 1

    for kind in ("comment", "archive"):
        with pytest.raises(IntegrityError, match="takes no new event"), transaction.atomic():
            TicketEvent.objects.create(ticket=archived, kind=kind, to_state=State.ARCHIVED)

    _refused_in_the_database("UPDATE tickets_ticketevent SET note = 'x' WHERE ticket_id = %s", [archived.id])


def test_postgresql_refuses_changes_to_the_photos_supporters_requests_and_cards_of_an_archived_ticket(city,
                                                                                                    archived):
    now = timezone.now()
    for create in (
        lambda: Attachment.objects.create(ticket=archived, kind="report", file="x.png",
                                          content_type="image/png", size=1),
        lambda: Supporter.objects.create(ticket=archived, channel=Channel.WEIBO, identity="u1"),
        lambda: ExtensionRequest.objects.create(ticket=archived, until=now, reason="x",
                                                requested_by=city.handler),
        lambda: DeadlineAlert.objects.create(ticket=archived, stage="resolve", level="red", due_at=now,
                                             warn_at=now),
    ):
        with pytest.raises(IntegrityError, match="the ticket is archived and read-only"), transaction.atomic():
            create()


def test_an_open_tickets_photos_cannot_be_moved_onto_an_archived_ticket(city, archived):
    open_ticket = make_ticket(city, State.IN_PROGRESS)
    photo = Attachment.objects.create(ticket=open_ticket, kind="report", file="x.png", content_type="image/png",
                                      size=1)

    _refused_in_the_database("UPDATE tickets_attachment SET ticket_id = %s WHERE id = %s", [archived.id, photo.id])

    assert Attachment.objects.get(id=photo.id).ticket_id == open_ticket.id


def test_a_message_still_arrives_for_an_archived_ticket_but_is_kept_as_it_came(archived):
    message = InboundMessage.objects.create(
        channel=Channel.WEIBO, external_id="m-late", ticket=archived, outcome=InboundMessage.Outcome.SUPPORTED,
        sender="u1", raw="{}",
    )

    _refused_in_the_database("UPDATE tickets_inboundmessage SET text = 'x' WHERE id = %s", [message.id])
    _refused_in_the_database("DELETE FROM tickets_inboundmessage WHERE id = %s", [message.id])


def test_notices_of_an_archived_ticket_still_record_their_delivery(archived):
    notice = Notification.objects.filter(ticket=archived).first()
    assert notice is not None

    Notification.objects.filter(id=notice.id).update(status=Notification.Status.SENT, sent_at=timezone.now())

    assert Notification.objects.get(id=notice.id).status == Notification.Status.SENT
