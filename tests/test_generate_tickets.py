"""generate_tickets: a city's year of tickets in bulk, with histories that replay."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Exists, F, OuterRef

from departments.demo import seed_demo
from tickets.models import OPEN_STATES, AlertLevel, Channel, DeadlineAlert, State, Ticket, TicketEvent

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def city(transactional_db):
    seed_demo(with_passwords=False, with_tickets=False)


def test_generated_tickets_cover_every_state_and_channel_and_their_histories_replay(city):
    call_command("generate_tickets", "2000", "--seed", "3", stdout=io.StringIO())
    assert Ticket.objects.count() == 2000
    assert set(Ticket.objects.values_list("state", flat=True)) == set(State.values)
    assert set(Ticket.objects.values_list("channel", flat=True)) == set(Channel.values)
    events: dict[int, list] = {}
    rows = TicketEvent.objects.values_list("ticket_id", "kind", "from_state", "to_state", "at")
    for ticket_id, kind, from_state, to_state, at in rows.order_by("id"):
        events.setdefault(ticket_id, []).append((kind, from_state, to_state, at))
    for ticket in Ticket.objects.all():
        history = events[ticket.id]
        assert history[0][:3] == ("report", "", State.REPORTED), ticket.number
        for before, after in zip(history, history[1:]):
            assert after[1] == before[2] and after[3] >= before[3], ticket.number
        assert history[-1][2] == ticket.state, ticket.number
    assert DeadlineAlert.objects.exists()


def test_generated_tickets_are_on_the_overdue_report_exactly_when_their_cards_say_so(city):
    call_command("generate_tickets", "2000", "--seed", "3", stdout=io.StringIO())
    listed_by_cards = set(Ticket.objects.filter(
        Exists(DeadlineAlert.objects.filter(ticket=OuterRef("pk"), stage="resolve", level=AlertLevel.OVERDUE,
                                            due_at=OuterRef("resolve_due_at"))),
        state__in=[State.DISPATCHED, State.IN_PROGRESS],
    ).values_list("id", flat=True))
    listed = set(Ticket.objects.filter(overdue_listed_due__isnull=False).values_list("id", flat=True))
    assert listed_by_cards and listed == listed_by_cards
    assert not Ticket.objects.filter(overdue_listed_due__isnull=False).exclude(
        overdue_listed_due=F("resolve_due_at")).exists()


def test_the_same_seed_generates_the_same_tickets_and_replace_is_required_to_redo_it(city):
    quiet = io.StringIO()
    call_command("generate_tickets", "500", "--seed", "7", stdout=quiet)
    first = list(Ticket.objects.order_by("id").values_list("state", "channel", "category_id", "unit_id"))
    with pytest.raises(CommandError, match="--replace"):
        call_command("generate_tickets", "500", "--seed", "7", stdout=quiet)
    call_command("generate_tickets", "500", "--seed", "7", "--replace", stdout=quiet)
    again = list(Ticket.objects.order_by("id").values_list("state", "channel", "category_id", "unit_id"))
    assert again == first


def test_open_tickets_asks_for_exactly_that_many_open_and_refuses_more_than_the_curve_allows(city):
    call_command("generate_tickets", "1000", "--open-tickets", "150", stdout=io.StringIO())
    assert Ticket.objects.filter(state__in=OPEN_STATES).count() == 150
    with pytest.raises(CommandError, match="can be open"):
        call_command("generate_tickets", "1000", "--open-tickets", "900", "--replace")
    assert Ticket.objects.count() == 1000


@pytest.mark.django_db
def test_generate_tickets_refuses_a_database_without_the_demo_city():
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("generate_tickets", "10")
    assert not Ticket.objects.exists()


def test_generate_tickets_refuses_sqlite_clearly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(SQLITE_PATH=str(tmp_path / "demo.sqlite3"), DEBUG="true")
    run = subprocess.run([sys.executable, "manage.py", "generate_tickets", "10"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "needs PostgreSQL" in run.stderr
