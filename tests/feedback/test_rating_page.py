"""The citizen's rating page (/rate/{number}/{token}/): two taps, once per round, nothing changed by bad input."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from feedback.models import RatingLink
from tests.feedback.helpers import awaiting, handle_again, rating_path, reopen, token_of
from tests.threads import race
from tests.tickets.citizen.helpers import csrf_token
from tickets import services
from tickets.models import State, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def _snapshot(ticket: Ticket) -> tuple:
    fresh = Ticket.objects.get(id=ticket.id)
    link = RatingLink.objects.filter(ticket=ticket).order_by("-round").first()
    return (fresh.state, fresh.rating, fresh.reopen_count, fresh.events.count(), link.used_at if link else None)


def _rate(client: Client, path: str, extra: dict | None = None, **data):
    return client.post(path, {"rating": "satisfied", "comment": "", **data}, **(extra or {}))


def test_the_link_shows_the_reply_and_the_three_answers(citizen, city):
    ticket = awaiting(city)

    response = citizen.get(rating_path(ticket))

    page = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    assert ticket.number in page and "已处理" in page and city.bureau.name in page  # the unit's reply
    assert [f'value="{v}"' in page for v in ("satisfied", "basically_satisfied", "unsatisfied")] == [True] * 3
    assert 'type="radio"' in page and 'name="comment"' in page and 'name="csrfmiddlewaretoken"' in page
    assert ticket.reporter_phone not in page and ticket.description not in page


def test_the_page_speaks_chinese_by_default(city):
    ticket = awaiting(city)
    page = Client().get(rating_path(ticket)).content.decode()
    assert '<html lang="zh-hans">' in page and "承办单位答复" in page


def test_satisfied_closes_the_ticket_spends_the_link_and_thanks_the_citizen(citizen, city):
    ticket = awaiting(city)
    path = rating_path(ticket)

    response = _rate(citizen, path, rating="basically_satisfied", comment="处理及时")

    assert response.status_code == 302 and response["Location"] == f"/rate/{ticket.number}/thanks/"
    ticket.refresh_from_db()
    assert (ticket.state, ticket.rating, ticket.reopen_count) == (State.CLOSED, "basically_satisfied", 0)
    event = ticket.events.get(kind="rate")
    assert (event.actor, event.note, event.payload["via"]) == (None, "处理及时", "link")
    assert RatingLink.objects.get(ticket=ticket).used_at is not None
    thanks = citizen.get(response["Location"]).content.decode()
    assert "Thank you for your rating" in thanks and "your report is closed" in thanks


def test_unsatisfied_reopens_the_ticket_to_the_same_unit_with_the_comment(citizen, city):
    ticket = awaiting(city)

    response = _rate(citizen, rating_path(ticket), rating="unsatisfied", comment="水管还在漏")

    ticket.refresh_from_db()
    assert response.status_code == 302
    assert (ticket.state, ticket.unit, ticket.reopen_count) == (State.DISPATCHED, city.bureau, 1)
    event = ticket.events.get(kind="reopen")
    assert (event.note, event.payload["via"], event.payload["reopen_count"]) == ("水管还在漏", "link", 1)
    assert "handled again" in citizen.get(response["Location"]).content.decode()


def test_a_used_link_is_refused_and_changes_nothing(citizen, city):
    ticket = awaiting(city)
    path = rating_path(ticket)
    _rate(citizen, path)
    before = _snapshot(ticket)

    again = _rate(Client(HTTP_ACCEPT_LANGUAGE="en"), path, rating="unsatisfied")
    opened = citizen.get(path)

    assert again.status_code == opened.status_code == 410
    assert "has been used already" in again.content.decode()
    assert _snapshot(ticket) == before


def test_an_expired_link_is_refused_and_changes_nothing(citizen, city):
    ticket = awaiting(city)
    path = rating_path(ticket)
    RatingLink.objects.filter(ticket=ticket).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    before = _snapshot(ticket)

    response = _rate(citizen, path)

    assert response.status_code == 410 and "has expired" in response.content.decode()
    assert citizen.get(path).status_code == 410
    assert _snapshot(ticket) == before


@pytest.mark.parametrize("forge", [
    lambda number, token: f"/rate/{number}/{token[:-1]}{'B' if token.endswith('A') else 'A'}/",  # one changed
    lambda number, token: f"/rate/{number}/{token[:12]}/",  # cut short
    lambda number, token: f"/rate/{number}/{'A' * 24}/",  # made up
    lambda number, token: f"/rate/{number}/{token}{'A' * 500}/",  # absurdly long
])
def test_a_forged_token_is_refused_and_changes_nothing(citizen, city, forge):
    ticket = awaiting(city)
    before = _snapshot(ticket)
    path = forge(ticket.number, token_of(ticket))

    assert citizen.get(path).status_code == 404
    response = _rate(citizen, path)

    assert response.status_code == 404 and "not valid" in response.content.decode()
    assert _snapshot(ticket) == before


def test_a_token_opens_only_its_own_ticket(citizen, city):
    first, second = awaiting(city), awaiting(city)
    response = _rate(citizen, f"/rate/{second.number}/{token_of(first)}/")
    assert response.status_code == 404
    assert Ticket.objects.get(id=first.id).state == Ticket.objects.get(id=second.id).state == State.AWAITING_FEEDBACK


def test_the_address_without_its_token_says_the_link_is_incomplete(citizen, city):
    ticket = awaiting(city)
    response = citizen.get(f"/rate/{ticket.number}/")
    assert response.status_code == 404 and "not complete" in response.content.decode()


def test_a_ticket_rated_another_way_is_not_rated_again_through_its_link(citizen, city):
    ticket = awaiting(city)
    path = rating_path(ticket)
    services.ticket_rate(ticket_id=ticket.id, actor=None, rating="satisfied", via="sms")
    before = _snapshot(ticket)

    response = _rate(citizen, path, rating="unsatisfied")

    assert response.status_code == 409 and "not waiting for a rating" in response.content.decode()
    assert _snapshot(ticket) == before


def test_a_ticket_whose_rating_window_closed_is_not_rated(citizen, city):
    ticket = awaiting(city)
    path = rating_path(ticket)
    services.ticket_expire_feedback(ticket_id=ticket.id, now=ticket.feedback_due_at + dt.timedelta(seconds=1))

    response = _rate(citizen, path)

    assert response.status_code == 409
    assert Ticket.objects.get(id=ticket.id).rating == ""


def test_a_link_of_an_earlier_round_is_dead_and_the_new_one_works(citizen, city):
    ticket = awaiting(city)
    old = rating_path(ticket)
    ticket = reopen(city, ticket)
    assert _rate(citizen, old).status_code == 409  # reopened: the round is over

    ticket = handle_again(city, ticket)
    new = rating_path(ticket)
    refused = _rate(citizen, old)
    assert refused.status_code == 409 and "an earlier reply" in refused.content.decode()
    assert Ticket.objects.get(id=ticket.id).state == State.AWAITING_FEEDBACK

    assert _rate(citizen, new).status_code == 302
    ticket.refresh_from_db()
    assert (ticket.state, ticket.reopen_count) == (State.CLOSED, 1)


@pytest.mark.parametrize("data", [
    {"rating": "great"},
    {"rating": ""},
    {"rating": "satisfied", "comment": "太" * 2001},
])
def test_bad_input_shows_the_form_again_and_changes_nothing(citizen, city, data):
    ticket = awaiting(city)
    path = rating_path(ticket)
    before = _snapshot(ticket)

    response = _rate(citizen, path, **data)

    page = response.content.decode()
    assert response.status_code == 400 and 'id="error-summary"' in page
    assert _snapshot(ticket) == before
    assert RatingLink.objects.get(ticket=ticket).used_at is None  # the link still works
    assert _rate(citizen, path).status_code == 302


def test_an_oversized_form_gets_a_page_not_json(citizen, city):
    ticket = awaiting(city)
    before = _snapshot(ticket)

    response = _rate(citizen, rating_path(ticket), comment="x" * 70_000)

    assert response.status_code == 413 and response["Content-Type"].startswith("text/html")
    assert _snapshot(ticket) == before


def test_the_form_needs_its_csrf_token(guarded, city):
    ticket = awaiting(city)
    path = rating_path(ticket)
    before = _snapshot(ticket)

    refused = guarded.post(path, {"rating": "satisfied"})
    assert refused.status_code == 403 and "The form has expired" in refused.content.decode()
    assert _snapshot(ticket) == before

    token = csrf_token(guarded.get(path).content.decode())
    assert guarded.post(path, {"rating": "satisfied", "csrfmiddlewaretoken": token}).status_code == 302


def test_requests_from_one_client_are_limited(citizen, city):
    ticket = awaiting(city)
    path = rating_path(ticket)
    for _ in range(10):
        citizen.get(f"/rate/{ticket.number}/{'B' * 24}/")

    response = _rate(citizen, path)

    assert response.status_code == 429 and "Too many tries" in response.content.decode()
    assert Ticket.objects.get(id=ticket.id).state == State.AWAITING_FEEDBACK
    assert _rate(citizen, path, extra={"REMOTE_ADDR": "10.1.2.3"}).status_code == 302  # another client


@pytest.mark.django_db(transaction=True)
def test_two_submissions_of_one_link_at_once_rate_once(city):
    ticket = awaiting(city)
    path = rating_path(ticket)

    def submit(i: int) -> int:
        client = Client(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=f"10.0.0.{i + 1}")
        return client.post(path, {"rating": "unsatisfied" if i % 2 else "satisfied"}).status_code

    statuses = race(4, submit)

    assert sorted(statuses) == [302, 410, 410, 410], statuses
    assert TicketEvent.objects.filter(ticket=ticket, kind__in=("rate", "reopen")).count() == 1
