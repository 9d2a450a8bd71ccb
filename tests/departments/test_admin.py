"""The admin pages of issue scope: the working calendar and the scoped ticket list."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from departments import calendar
from departments.models import CalendarDay
from tests.factories import make_ticket
from tickets.models import State


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", password="pw-for-tests-1")


def test_calendar_admin_warns_loudly_about_a_year_without_a_schedule(client, superuser):
    calendar.seed_from_chinese_calendar()
    year = dt.date.today().year
    client.force_login(superuser)
    page = client.get("/admin/departments/calendarday/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    missing = [y for y in (year, year + 1) if not CalendarDay.objects.filter(date__year=y).exists()]
    assert missing, "the seed data should not reach this far ahead"
    for y in missing:
        assert f"{y}" in page and "Monday to Friday" in page


def test_calendar_admin_stops_warning_once_the_schedule_is_entered(client, superuser):
    year = dt.date.today().year
    for y in (year, year + 1):
        CalendarDay.objects.create(date=dt.date(y, 1, 1), is_workday=False, name="元旦")
    client.force_login(superuser)
    page = client.get("/admin/departments/calendarday/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Monday to Friday" not in page


def test_calendar_admin_lists_the_years_that_have_an_official_schedule(client, superuser):
    for day in (dt.date(2019, 10, 1), dt.date(2020, 10, 1), dt.date(2021, 10, 1), dt.date(2024, 10, 1)):
        CalendarDay.objects.create(date=day, is_workday=False, name="国庆节")
    client.force_login(superuser)

    page = client.get("/admin/departments/calendarday/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Official schedules loaded: 2019–2021, 2024." in page


def test_a_staff_member_enters_next_years_schedule_in_the_admin(client, superuser):
    next_year = dt.date.today().year + 1
    client.force_login(superuser)

    response = client.post(
        "/admin/departments/calendarday/add/",
        {"date": f"{next_year}-10-01", "is_workday": "", "name": "国庆节"},
    )

    assert response.status_code == 302, response.content
    assert calendar.has_schedule(next_year)
    assert not calendar.is_workday(dt.date(next_year, 10, 1))


def test_handler_sees_only_its_units_tickets_in_the_admin(client, city):
    own = make_ticket(city, State.DISPATCHED)
    other = make_ticket(city, State.DISPATCHED, unit=city.street)
    client.force_login(city.handler)
    listing = client.get("/admin/tickets/ticket/").content.decode()
    assert own.number in listing and other.number not in listing
    assert client.get(f"/admin/tickets/ticket/{own.id}/change/").status_code == 200
    assert client.get(f"/admin/tickets/ticket/{other.id}/change/").status_code in (302, 404)
