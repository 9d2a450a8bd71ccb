"""Shapes of the staff API (design §4): inputs are checked for type here, rules in services."""

from rest_framework import serializers

from tickets.models import Channel, Sla, State
from tickets.search import MAX_LENGTH, MIN_LENGTH, RECENT_WINDOW
from tickets.selectors import ticket_reporter


class LocationInput(serializers.Serializer):
    address = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    lat = serializers.FloatField(required=False, allow_null=True)
    lng = serializers.FloatField(required=False, allow_null=True)


class ReporterInput(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True)


class TicketCreateInput(serializers.Serializer):
    category = serializers.CharField()
    description = serializers.CharField(trim_whitespace=False)
    location = LocationInput(required=False)
    channel = serializers.ChoiceField(
        choices=[Channel.STAFF, Channel.PHONE], default=Channel.STAFF,
        help_text="Staff enter `staff` tickets, hotline operators `phone` ones (with the caller's phone). "
        "Web, SMS, Weibo and Open311 reports arrive through their own endpoints.",
    )
    reporter = ReporterInput(required=False)


def _codes(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _known(value: str, allowed: list[str], what: str) -> list[str]:
    items = _codes(value)
    unknown = sorted(set(items) - set(allowed))
    if unknown:
        raise serializers.ValidationError(f"Unknown {what}(s): {', '.join(unknown)}.")
    return items


class TicketFilterInput(serializers.Serializer):
    state = serializers.CharField(required=False, help_text="Comma-separated states.")
    unit = serializers.CharField(required=False, help_text="Comma-separated unit codes.")
    category = serializers.CharField(required=False, help_text="Comma-separated category codes.")
    channel = serializers.CharField(required=False, help_text="Comma-separated channels.")
    sla = serializers.ChoiceField(choices=Sla.values, required=False)
    reported_after = serializers.DateTimeField(required=False)
    reported_before = serializers.DateTimeField(required=False)
    q = serializers.CharField(
        required=False, max_length=200,
        help_text=f"A ticket number, a reporter's phone (centre staff) or {MIN_LENGTH}-{MAX_LENGTH} characters "
        "of the description or address. Text without 3 letters or digits in a row (停水) searches the "
        f"newest {RECENT_WINDOW:,} tickets only.",
    )

    def validate_state(self, value: str) -> list[str]:
        return _known(value, State.values, "state")

    def validate_channel(self, value: str) -> list[str]:
        return _known(value, Channel.values, "channel")

    def validate_unit(self, value: str) -> list[str]:
        return _codes(value)

    def validate_category(self, value: str) -> list[str]:
        return _codes(value)

    def validate(self, attrs):
        after, before = attrs.get("reported_after"), attrs.get("reported_before")
        if after and before and after >= before:
            raise serializers.ValidationError({"reported_before": ["Must be later than reported_after."]})
        return attrs


class LocationOutput(serializers.Serializer):
    address = serializers.CharField()
    lat = serializers.FloatField(allow_null=True)
    lng = serializers.FloatField(allow_null=True)


class DeadlinesOutput(serializers.Serializer):
    accept = serializers.DateTimeField(source="accept_due_at", allow_null=True)
    claim = serializers.DateTimeField(source="claim_due_at", allow_null=True)
    resolve = serializers.DateTimeField(source="resolve_due_at", allow_null=True)
    feedback = serializers.DateTimeField(source="feedback_due_at", allow_null=True)


class ReporterOutput(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    is_masked = serializers.BooleanField()


class TicketOutput(serializers.Serializer):
    number = serializers.CharField()
    state = serializers.ChoiceField(choices=State.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    category = serializers.CharField(source="category.code")
    unit = serializers.CharField(source="unit.code", allow_null=True)
    description = serializers.CharField()
    location = LocationOutput(source="*")
    reported_at = serializers.DateTimeField()
    deadlines = DeadlinesOutput(source="*")
    sla = serializers.ChoiceField(choices=Sla.choices)
    reopen_count = serializers.IntegerField()
    support_count = serializers.IntegerField()
    return_count = serializers.IntegerField()
    is_final_dispatch = serializers.BooleanField()
    merged_into = serializers.CharField(source="merged_into.number", allow_null=True, default=None)
    escalation_level = serializers.IntegerField(help_text="Red cards (红牌) this ticket has had.")
    paused_until = serializers.DateTimeField(
        allow_null=True, help_text="While waiting for the citizen's material (补充材料): the pause's end."
    )
    reporter = serializers.SerializerMethodField()

    def get_reporter(self, ticket) -> ReporterOutput:
        return ticket_reporter(user=self.context["request"].user, ticket=ticket)


class EventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    unit = serializers.CharField(source="unit.code", allow_null=True, default=None)
    note = serializers.CharField()
    payload = serializers.JSONField()
    at = serializers.DateTimeField()


class TicketDetailOutput(TicketOutput):
    reply = serializers.CharField()
    rating = serializers.CharField()
    events = EventOutput(many=True, source="event_list")


class TicketCreatedOutput(TicketDetailOutput):
    access_code = serializers.CharField(
        help_text="The citizen's access code for the tracking page; shown this once only."
    )


class EmptyInput(serializers.Serializer):
    pass


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(trim_whitespace=False)


class ReturnInput(ReasonInput):
    reason = serializers.CharField(
        trim_whitespace=False,
        help_text="wrong_territory (属地不符), unclear_ownership (权属不清), overlapping_duties (职能交叉), "
        "or other with `comment`.",
    )
    comment = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class MergeInput(serializers.Serializer):
    into = serializers.CharField(help_text="Number of the ticket that carries this one from now on.")


class DispatchInput(serializers.Serializer):
    unit = serializers.CharField(help_text="Code of the handling unit.")
    final = serializers.BooleanField(default=False, help_text="审定: the unit may not return it.")
    category = serializers.CharField(
        required=False, help_text="Code of a category to sort the ticket into on the way (its deadlines apply).",
    )


class ExtensionInput(serializers.Serializer):
    until = serializers.DateTimeField()
    reason = serializers.CharField(trim_whitespace=False)


class PauseInput(serializers.Serializer):
    until = serializers.DateTimeField(help_text="When the pause ends at the latest.")
    reason = serializers.CharField(trim_whitespace=False, help_text="What the citizen is asked to supply.")


class CommentInput(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class ResolveInput(serializers.Serializer):
    reply = serializers.CharField(trim_whitespace=False)


class RateInput(serializers.Serializer):
    rating = serializers.CharField(help_text="satisfied, basically_satisfied or unsatisfied.")
    comment = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class TokenInput(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()
