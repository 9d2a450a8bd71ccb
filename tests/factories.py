"""Small, explicit builders for tests: a city of a few units and one account per role."""

import itertools
from dataclasses import dataclass

from django.contrib.auth import get_user_model

from departments.models import Category, DeadlineUnit, Role, Unit, UnitKind
from departments.services import staff_upsert, unit_upsert
from tickets import services
from tickets.models import Channel, State, Ticket

_seq = itertools.count(1)


@dataclass
class City:
    centre: Unit
    district: Unit
    street: Unit
    bureau: Unit
    other_bureau: Unit
    category: Category
    operator: object
    dispatcher: object
    handler: object
    unit_admin: object
    other_handler: object
    supervisor: object
    street_handler: object
    outsider: object


def make_category(*, code: str = "water-outage", default_unit: Unit | None = None, **deadlines) -> Category:
    group, _ = Category.objects.get_or_create(code="water", defaults={"name": "供水"})
    fields = {
        "name": "停水", "parent": group, "default_unit": default_unit,
        "accept_amount": 2, "accept_unit": DeadlineUnit.HOURS,
        "claim_amount": 4, "claim_unit": DeadlineUnit.HOURS,
        "resolve_amount": 5, "resolve_unit": DeadlineUnit.WORKING_DAYS,
        "feedback_amount": 3, "feedback_unit": DeadlineUnit.WORKING_DAYS,
        **deadlines,
    }
    category, _ = Category.objects.update_or_create(code=code, defaults=fields)
    return category


def make_city() -> City:
    centre = unit_upsert(code="centre", name="调度中心", kind=UnitKind.CENTRE, parent=None)
    district = unit_upsert(code="wuchang", name="武昌区", kind=UnitKind.DISTRICT, parent=centre)
    street = unit_upsert(code="wuchang-zhongnan", name="中南路街道", kind=UnitKind.STREET, parent=district)
    bureau = unit_upsert(code="water-group", name="水务集团", kind=UnitKind.UTILITY, parent=centre)
    other = unit_upsert(code="power-supply", name="供电公司", kind=UnitKind.UTILITY, parent=centre)

    def staff(username, unit, role):
        return staff_upsert(username=username, unit=unit, role=role, password="pw-for-tests-1")

    outsider = get_user_model().objects.create_user("outsider", password="pw-for-tests-1", is_staff=True)
    return City(
        centre=centre, district=district, street=street, bureau=bureau, other_bureau=other,
        category=make_category(default_unit=bureau),
        operator=staff("operator", centre, Role.OPERATOR),
        dispatcher=staff("dispatcher", centre, Role.DISPATCHER),
        handler=staff("handler", bureau, Role.HANDLER),
        unit_admin=staff("unitadmin", bureau, Role.UNIT_ADMIN),
        other_handler=staff("otherhandler", other, Role.HANDLER),
        supervisor=staff("supervisor", district, Role.SUPERVISOR),
        street_handler=staff("streethandler", street, Role.HANDLER),
        outsider=outsider,
    )


def make_ticket(city: City, state: str = State.REPORTED, *, unit: Unit | None = None, **fields) -> Ticket:
    """Return a ticket brought to `state` through the real services, as staff would."""
    fields.setdefault("description", f"停水第{next(_seq)}次")
    fields.setdefault("channel", Channel.PHONE)
    fields.setdefault("reporter_phone", "13800138000")
    ticket, _code = services.ticket_create(category=city.category, actor=city.operator, **fields)
    return advance_ticket(city, ticket, state, unit=unit)


def advance_ticket(city: City, ticket: Ticket, state: str, *, unit: Unit | None = None) -> Ticket:
    """Return the reported ticket brought to `state` through the real services, as staff would."""
    unit = unit or city.bureau
    handler = city.street_handler if unit == city.street else city.handler
    d = city.dispatcher
    path = {
        State.REPORTED: [],
        State.ACCEPTED: ["accept"],
        State.REJECTED: ["reject"],
        State.MERGED: ["merge"],
        State.DISPATCHED: ["accept", "dispatch"],
        State.IN_PROGRESS: ["accept", "dispatch", "claim"],
        State.RESOLVED: ["accept", "dispatch", "claim", "resolve"],
        State.AWAITING_FEEDBACK: ["accept", "dispatch", "claim", "resolve", "verify"],
        State.CLOSED: ["accept", "dispatch", "claim", "resolve", "verify", "rate"],
        State.ARCHIVED: ["accept", "dispatch", "claim", "resolve", "verify", "rate", "archive"],
    }[state]
    steps = {
        "accept": lambda: services.ticket_accept(ticket_id=ticket.id, actor=d),
        "reject": lambda: services.ticket_reject(ticket_id=ticket.id, actor=d, reason="不属于受理范围"),
        "merge": lambda: services.ticket_merge(
            ticket_id=ticket.id, into_id=make_ticket(city).id, actor=d
        ),
        "dispatch": lambda: services.ticket_dispatch(ticket_id=ticket.id, unit=unit, actor=d),
        "claim": lambda: services.ticket_claim(ticket_id=ticket.id, actor=handler),
        "resolve": lambda: services.ticket_resolve(ticket_id=ticket.id, actor=handler, reply="已处理"),
        "verify": lambda: services.ticket_verify(ticket_id=ticket.id, actor=d),
        "rate": lambda: services.ticket_rate(ticket_id=ticket.id, actor=city.operator, rating="satisfied"),
        "archive": lambda: services.ticket_archive(ticket_id=ticket.id, actor=d),
    }
    for step in path:
        steps[step]()
    ticket.refresh_from_db()
    assert ticket.state == state
    return ticket
