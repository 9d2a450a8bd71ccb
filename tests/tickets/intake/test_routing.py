"""Routing help: keyword rules, direct dispatch (直派), learning from returns, and the kept rate."""

import pytest

from departments.models import Category, RoutingRule
from tests.factories import make_category, make_ticket
from tests.tickets.intake.conftest import sms
from tickets import routing, services
from tickets.models import State, Ticket
from tickets.selectors import dispatch_candidates


@pytest.fixture
def lights(city):
    """A category for street lights whose words point to the bureau."""
    category = make_category(code="street-light", default_unit=None, name="路灯故障")
    RoutingRule.objects.create(category=category, keywords="路灯, 灯不亮\n照明", unit=city.bureau)
    return category


def test_two_words_of_one_category_make_a_confident_suggestion(lights, city):
    suggestion = routing.suggest("中南路的路灯坏了，晚上灯不亮")

    assert (suggestion.category, suggestion.unit, suggestion.is_confident) == (lights, city.bureau, True)
    assert suggestion.words == ("灯不亮", "路灯") and "路灯" in suggestion.reason


def test_one_word_suggests_without_confidence(lights):
    assert routing.suggest("路灯旁边的井盖丢了").is_confident is False


def test_words_of_two_categories_alike_are_not_confident(lights, city):
    water = make_category(code="water-outage")
    RoutingRule.objects.create(category=water, keywords="停水, 没水")
    assert routing.suggest("停水了，没水，路灯也不亮，照明没有").is_confident is False


def test_an_inactive_rule_and_an_edited_rule_take_effect_at_once(lights):
    rule = RoutingRule.objects.get(category=lights)
    assert routing.suggest("路灯 照明") is not None
    rule.is_active = False
    rule.save()
    assert routing.suggest("路灯 照明") is None


def test_an_sms_the_rules_are_sure_of_lands_in_their_category(deliver, lights):
    assert deliver("sms", sms(text="路灯坏了，晚上灯不亮")).status_code == 201
    ticket = Ticket.objects.get()
    assert (ticket.category, ticket.state) == (lights, State.REPORTED)


def test_an_sms_the_rules_are_unsure_of_waits_in_the_intake_category_with_the_suggestion_shown(
    deliver, lights, browse, city
):
    deliver("sms", sms(text="路灯旁边的井盖丢了"))
    ticket = Ticket.objects.get()
    assert ticket.category.code == "unclassified"

    page = browse(city.dispatcher).get(f"/desk/tickets/{ticket.number}/").content.decode()
    assert "Suggested category: 供水 › 路灯故障." in page and "The text mentions 路灯." in page
    assert 'value="street-light" selected' in page
    desk = browse(city.dispatcher).get(f"/desk/?ticket={ticket.number}").content.decode()
    assert 'value="street-light" selected' in desk and "Suggested category" in desk


def test_a_category_marked_direct_is_dispatched_at_once_and_the_log_says_so(deliver, lights, city):
    Category.objects.filter(id=lights.id).update(auto_dispatch=True)

    response = deliver("sms", sms(text="路灯坏了，晚上灯不亮"))

    assert response.status_code == 201 and response.json()["state"] == "dispatched"
    ticket = Ticket.objects.get()
    assert ticket.unit == city.bureau
    event = ticket.events.get(kind="dispatch")
    assert event.actor is None
    assert event.payload["automatic"] is True and event.payload["matched"] == ["灯不亮", "路灯"]


def test_a_direct_category_without_a_sure_unit_waits_for_the_centre(deliver, lights):
    Category.objects.filter(id=lights.id).update(auto_dispatch=True)
    RoutingRule.objects.filter(category=lights).update(unit=None)

    deliver("sms", sms(text="路灯坏了，晚上灯不亮"))
    assert Ticket.objects.get().state == State.REPORTED


def test_a_rule_on_a_group_never_costs_a_message(deliver, city):
    RoutingRule.objects.create(category=Category.objects.get(code="water"), keywords="停水, 没水")
    assert deliver("sms", sms(text="停水了，没水")).status_code == 201
    assert Ticket.objects.get().category.code == "unclassified"


# -- learning from returns ----------------------------------------------------------------


def _returned_then_kept(city, *, returned_by, kept_by, address):
    ticket = make_ticket(city, State.DISPATCHED, unit=returned_by, address=address)
    handler = city.street_handler if returned_by == city.street else city.handler
    services.ticket_return(ticket_id=ticket.id, actor=handler, reason="属地不符")
    services.ticket_dispatch(ticket_id=ticket.id, unit=kept_by, actor=city.dispatcher)
    keeper = city.street_handler if kept_by == city.street else city.handler
    services.ticket_claim(ticket_id=ticket.id, actor=keeper)
    return ticket


def test_the_unit_that_kept_returned_tickets_of_the_place_comes_first_and_the_bouncer_last(city):
    # The category's usual unit (the bureau) returned two such tickets on this street,
    # which the street office then kept.
    for _ in range(2):
        _returned_then_kept(city, returned_by=city.bureau, kept_by=city.street, address="中南路街道 12号")
    ticket = make_ticket(city, address="中南路街道 30号")

    candidates = dispatch_candidates(ticket)
    assert [c.unit for c in candidates] == [city.street, city.bureau]
    assert "2 earlier tickets of this category here ended with this unit" in candidates[0].reason
    assert "It returned 2 such tickets here before." in candidates[1].reason


def test_returns_elsewhere_teach_nothing_about_this_place(city):
    _returned_then_kept(city, returned_by=city.bureau, kept_by=city.street, address="中南路街道 12号")
    ticket = make_ticket(city, address="别的地方 1号")
    assert [c.unit for c in dispatch_candidates(ticket)] == [city.bureau]


def test_coordinates_find_returned_tickets_nearby(city):
    ticket = make_ticket(city, State.DISPATCHED, lat="30.5200", lng="114.3500")
    services.ticket_return(ticket_id=ticket.id, actor=city.handler, reason="属地不符")
    services.ticket_dispatch(ticket_id=ticket.id, unit=city.street, actor=city.dispatcher)
    services.ticket_claim(ticket_id=ticket.id, actor=city.street_handler)

    near = make_ticket(city, lat="30.5230", lng="114.3510")
    far = make_ticket(city, lat="30.6000", lng="114.3500")
    assert dispatch_candidates(near)[0].unit == city.street
    assert dispatch_candidates(far)[0].unit == city.bureau


# -- how often the suggestion was kept -----------------------------------------------------------


def test_each_dispatch_records_the_suggestion_and_whether_it_was_kept(city, browse):
    kept, overruled = make_ticket(city), make_ticket(city)
    services.ticket_dispatch(ticket_id=kept.id, unit=city.bureau, actor=city.dispatcher)
    services.ticket_dispatch(ticket_id=overruled.id, unit=city.other_bureau, actor=city.dispatcher)

    assert kept.events.get(kind="dispatch").payload["suggestion_kept"] is True
    payload = overruled.events.get(kind="dispatch").payload
    assert (payload["suggested"], payload["suggestion_kept"]) == ("water-group", False)
    assert (routing.suggestion_kept_rate().dispatched, routing.suggestion_kept_rate().kept) == (2, 1)
    page = browse(city.dispatcher).get("/desk/").content.decode()
    assert "50%" in page and "of 2 dispatches followed the suggestion" in page
