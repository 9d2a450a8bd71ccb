"""Where a ticket should go: keyword rules for text that arrives without a category, and
where similar tickets ended up after being passed from unit to unit (退单).

Hotlines lose days to tickets bounced between units; the dispatcher sees each
suggestion with its reason, and the desk shows how often suggestions were kept.
"""

import math
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext

from departments.models import Category, CategoryAttribute, RoutingRule, Unit, UnitKind
from departments.selectors import leaf_categories
from tickets.models import State, Ticket, TicketEvent

# A confident match names at least this many of its category's words, and at least
# twice as many as any other category.
MIN_CONFIDENT_WORDS = 2
# Rules, categories and their questions change in the admin now and then; each process
# reads what it remembers of them again this often.
RULES_SECONDS = 30.0

T = TypeVar("T")

# What this process read of the rules and categories, and when (monotonic seconds).
_read: dict = {"at": -math.inf}


@dataclass(frozen=True)
class Suggestion:
    """A category (and unit) the words of a text point to, and the words that did."""

    category: Category
    unit: Unit | None
    words: tuple[str, ...]
    is_confident: bool

    @property
    def reason(self) -> str:
        return gettext("The text mentions %(words)s.") % {"words": "、".join(self.words)}


def forget_rules() -> None:
    """Read the rules and categories again when next needed (one of them changed)."""
    _read.clear()
    _read["at"] = -math.inf


def remembered(name: str, read: Callable[[], T]) -> T:
    """Return what `read` returned, read again after RULES_SECONDS or an edit in this process.

    For what every text that arrives needs and staff seldom change: the rules, which
    categories take tickets, the intake category.
    """
    now = time.monotonic()
    if now - _read["at"] > RULES_SECONDS:
        forget_rules()
        _read["at"] = now
    if name not in _read:
        _read[name] = read()
    return _read[name]


def _active_rules() -> list[tuple[Category, Unit | None, list[str]]]:
    """The active rules: each category (with its default unit), the rule's unit, its words."""
    def read():
        rules = RoutingRule.objects.filter(is_active=True, category__is_active=True).select_related(
            "category__default_unit", "category__parent", "unit",
        )
        return [(r.category, r.unit, [w.casefold() for w in r.words]) for r in rules]

    return remembered("rules", read)


def takes_tickets(category: Category) -> bool:
    """Whether the category is an active one without subcategories.

    A category in the remembered set was one moments ago; any other is asked again, so
    a category added in another process takes tickets at once.
    """
    if not category.is_active:
        return False
    leaves = remembered("leaves", lambda: frozenset(leaf_categories().values_list("id", flat=True)))
    return category.id in leaves or not category.children.exists()


def _usable(unit: Unit | None) -> Unit | None:
    return unit if unit is not None and unit.is_active and unit.kind != UnitKind.CENTRE else None


def suggest(text: str) -> Suggestion | None:
    """Return the category whose rules' words the text mentions most, or None."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    found: dict[int, set[str]] = {}
    categories: dict[int, Category] = {}
    units: dict[int, Counter] = {}
    for category, unit, words in _active_rules():
        hits = {w for w in words if w in folded}
        if hits:
            found.setdefault(category.id, set()).update(hits)
            categories[category.id] = category
            if unit is not None:
                units.setdefault(category.id, Counter())[unit] += len(hits)
    if not found:
        return None
    ranked = sorted(found, key=lambda c: (len(found[c]), sum(map(len, found[c]))), reverse=True)
    best = ranked[0]
    runner_up = len(found[ranked[1]]) if len(ranked) > 1 else 0
    count = len(found[best])
    category = categories[best]
    unit = units[best].most_common(1)[0][0] if best in units else category.default_unit
    return Suggestion(
        category=category, unit=_usable(unit), words=tuple(sorted(found[best])),
        is_confident=count >= MIN_CONFIDENT_WORDS and count >= 2 * runner_up,
    )


# -- learning from returns ------------------------------------------------------------------

# The states of a ticket some unit kept: signed for and handled, or done.
KEPT_STATES = (State.IN_PROGRESS, State.RESOLVED, State.AWAITING_FEEDBACK, State.CLOSED, State.ARCHIVED)
SIMILAR_LOOKED_AT = 200
# How near counts as "the same place" for tickets with coordinates (about 1 km).
NEAR_DEGREES = Decimal("0.01")


@dataclass(frozen=True)
class Bounces:
    """Where earlier returned tickets of a category and place ended up, and who returned them."""

    kept_by: Counter  # unit id -> tickets of these it kept
    returned_by: Counter  # unit id -> tickets of these it returned


def bounces(ticket: Ticket, places: list[Unit]) -> Bounces:
    """Look at recent tickets of the same category and place that were returned (退单) at least once.

    The place is the ticket's coordinates (within about 1 km) or the districts and
    streets its address names; a ticket with neither has no history to learn from.
    """
    similar = Ticket.objects.filter(category_id=ticket.category_id, return_count__gt=0).exclude(id=ticket.id)
    if ticket.lat is not None and ticket.lng is not None:
        near = NEAR_DEGREES
        similar = similar.filter(lat__range=(ticket.lat - near, ticket.lat + near),
                                 lng__range=(ticket.lng - near, ticket.lng + near))
    elif places:
        named = Q()
        for place in places:
            named |= Q(address__contains=place.name)
        similar = similar.filter(named)
    else:
        return Bounces(Counter(), Counter())
    rows = list(similar.order_by("-id").values_list("id", "unit_id", "state")[:SIMILAR_LOOKED_AT])
    kept = Counter(unit for _id, unit, state in rows if unit is not None and state in KEPT_STATES)
    returned = Counter(
        TicketEvent.objects.filter(ticket_id__in=[row[0] for row in rows], kind="return", unit__isnull=False)
        .values_list("unit_id", flat=True)
    )
    return Bounces(kept, returned)


# -- how often the desk's suggestion was kept ----------------------------------------------------

KEPT_RATE_DAYS = 30


@dataclass(frozen=True)
class KeptRate:
    dispatched: int
    kept: int

    @property
    def percent(self) -> int | None:
        return round(100 * self.kept / self.dispatched) if self.dispatched else None


def suggestion_kept_rate() -> KeptRate:
    """Return how many dispatches of the last 30 days had a suggestion, and how many followed it.

    Read for every desk page: counted once per five minutes for the whole centre.
    """
    found = cache.get("minhu:routing:kept")
    if found is None:
        since = timezone.now() - timezone.timedelta(days=KEPT_RATE_DAYS)
        # Dispatch events are public: `is_public` lets the window use the index on public events' time.
        dispatches = TicketEvent.objects.filter(kind="dispatch", is_public=True, at__gte=since,
                                                payload__has_key="suggested")
        found = (dispatches.count(), dispatches.filter(payload__suggestion_kept=True).count())
        cache.set("minhu:routing:kept", found, 300)
    return KeptRate(*found)


@receiver([post_save, post_delete], sender=RoutingRule)
@receiver([post_save, post_delete], sender=Category)
@receiver([post_save, post_delete], sender=CategoryAttribute)
@receiver([post_save, post_delete], sender=Unit)
def _rules_changed(**kwargs) -> None:
    # This process sees an edit at once, and again once it is committed: another thread
    # that read the old rows meanwhile would otherwise keep them. The others within
    # RULES_SECONDS.
    forget_rules()
    transaction.on_commit(forget_rules)
