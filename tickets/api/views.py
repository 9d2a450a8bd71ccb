"""Staff REST API for tickets: one view per operation, each calling one service."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from config.api import NewestFirstCursorPagination, ReportedCursorPagination
from departments.models import Category, Unit
from tickets import search, selectors, services
from tickets.api import serializers as s
from tickets.errors import InvalidInput
from tickets.models import Ticket


def _category(code: str) -> Category:
    category = Category.objects.filter(code=code).first()
    if category is None:
        raise InvalidInput(f"Unknown category {code!r}.", fields={"category": ["Unknown category."]})
    return category


def _unit(code: str) -> Unit:
    unit = Unit.objects.filter(code=code).first()
    if unit is None:
        raise InvalidInput(f"Unknown unit {code!r}.", fields={"unit": ["Unknown unit."]})
    return unit


def _ids(model, codes: list[str], field: str) -> list[int]:
    found = dict(model.objects.filter(code__in=codes).values_list("code", "id"))
    unknown = sorted(set(codes) - set(found))
    if unknown:
        raise InvalidInput(f"Unknown {field} {', '.join(unknown)}.", fields={field: ["Unknown code."]})
    return list(found.values())


def _searched(request, tickets, q: str, paginator, *, windowed: bool):
    """Narrow the list to what `q` finds; a text search reads only the page asked for.

    Within a report-date window the window bounds what is read, and its pages follow
    the report time; otherwise the search finds the page's matches next to the cursor
    (tickets.search), the cursor pagination then serves them as any other page.
    """
    if windowed:
        term = search.parse_search_term(q, user=request.user)
        return tickets.filter(search.search_condition(term))
    cursor = paginator.decode_cursor(request)
    try:
        position = int(cursor.position) if cursor and cursor.position is not None else None
    except ValueError:
        raise NotFound(paginator.invalid_cursor_message) from None
    return search.ticket_search(
        tickets, user=request.user, term=q, limit=paginator.get_page_size(request) + 1,
        before=position if cursor and not cursor.reverse else None,
        after=position if cursor and cursor.reverse else None,
    )


def ticket_detail_response(request, ticket, *, status_code=status.HTTP_200_OK, extra=None) -> Response:
    ticket.event_list = list(selectors.ticket_events(ticket))
    data = s.TicketDetailOutput(ticket, context={"request": request}).data
    if extra:
        data = {**data, **extra}
    return Response(data, status=status_code)


class TicketListCreateApi(APIView):
    @extend_schema(
        parameters=[s.TicketFilterInput],
        responses=s.TicketOutput(many=True),
        summary="List the tickets you may see, newest first (cursor pages)",
    )
    def get(self, request):
        filters = s.TicketFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        tickets = selectors.ticket_list(
            user=request.user,
            states=f.get("state"),
            unit_ids=_ids(Unit, f["unit"], "unit") if f.get("unit") else None,
            category_ids=_ids(Category, f["category"], "category") if f.get("category") else None,
            channels=f.get("channel"),
            sla=f.get("sla"),
            reported_after=f.get("reported_after"),
            reported_before=f.get("reported_before"),
        ).select_related("merged_into")
        windowed = bool(f.get("reported_after") or f.get("reported_before"))
        if windowed:
            tickets = tickets.order_by("-reported_at", "-id")
            paginator = ReportedCursorPagination()
        else:
            paginator = NewestFirstCursorPagination()
        if f.get("q"):
            tickets = _searched(request, tickets, f["q"], paginator, windowed=windowed)
        page = paginator.paginate_queryset(tickets, request, view=self)
        data = s.TicketOutput(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        request=s.TicketCreateInput,
        responses={201: s.TicketCreatedOutput},
        summary="Enter a ticket for a citizen (staff or hotline operator)",
    )
    def post(self, request):
        payload = s.TicketCreateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        location, reporter = data.get("location", {}), data.get("reporter", {})
        ticket, code = services.ticket_create(
            category=_category(data["category"]),
            description=data["description"],
            channel=data["channel"],
            actor=request.user,
            address=location.get("address", ""),
            lat=location.get("lat"),
            lng=location.get("lng"),
            reporter_name=reporter.get("name", ""),
            reporter_phone=reporter.get("phone", ""),
        )
        return ticket_detail_response(
            request, selectors.ticket_get(user=request.user, number=ticket.number),
            status_code=status.HTTP_201_CREATED, extra={"access_code": code},
        )


class TicketDetailApi(APIView):
    @extend_schema(responses=s.TicketDetailOutput, summary="A ticket with its history")
    def get(self, request, number: str):
        return ticket_detail_response(request, selectors.ticket_get(user=request.user, number=number))


class TicketTransitionApi(APIView):
    """POST /api/v1/tickets/{number}/{transition}/: 200 with the ticket, or 400/403/404/409."""

    transition: str = ""
    summary: str = ""
    InputSerializer: type = s.EmptyInput

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)

        def post(self, request, number: str):
            return self.handle(request, number)

        cls.post = extend_schema(
            request=cls.InputSerializer,
            responses={200: s.TicketDetailOutput},
            operation_id=f"tickets_{cls.transition.replace('-', '_')}",
            summary=cls.summary,
            parameters=[OpenApiParameter("number", str, OpenApiParameter.PATH)],
        )(post)

    def handle(self, request, number: str) -> Response:
        ticket = selectors.ticket_get(user=request.user, number=number)
        # An archived ticket refuses every change as such (409), whatever the body says.
        services.refuse_if_archived(ticket)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        # The service's own copy: after a return the handler can no longer look the
        # ticket up, yet is owed the 200 with the ticket the contract promises.
        ticket = self.perform(ticket, request.user, payload.validated_data)
        return ticket_detail_response(request, ticket)

    def perform(self, ticket, actor, data) -> Ticket:
        raise NotImplementedError


class AcceptApi(TicketTransitionApi):
    transition, summary = "accept", "Accept a reported ticket (受理)"

    def perform(self, ticket, actor, data):
        return services.ticket_accept(ticket_id=ticket.id, actor=actor)


class RejectApi(TicketTransitionApi):
    transition, summary, InputSerializer = "reject", "Reject a report (不予受理)", s.ReasonInput

    def perform(self, ticket, actor, data):
        return services.ticket_reject(ticket_id=ticket.id, actor=actor, reason=data["reason"])


class MergeApi(TicketTransitionApi):
    transition, summary, InputSerializer = "merge", "Merge a duplicate into another ticket", s.MergeInput

    def perform(self, ticket, actor, data):
        into = selectors.ticket_visible_to(actor).filter(number=data["into"]).first()
        if into is None:
            raise InvalidInput(f"No ticket {data['into']} to merge into.", fields={"into": ["Unknown ticket."]})
        return services.ticket_merge(ticket_id=ticket.id, into_id=into.id, actor=actor)


class DispatchApi(TicketTransitionApi):
    transition, summary, InputSerializer = "dispatch", "Dispatch to a handling unit (派单)", s.DispatchInput

    def perform(self, ticket, actor, data):
        category = _category(data["category"]) if data.get("category") else None
        return services.ticket_dispatch(
            ticket_id=ticket.id, unit=_unit(data["unit"]), actor=actor, final=data["final"], category=category,
        )


class ClaimApi(TicketTransitionApi):
    transition, summary = "claim", "Sign for a dispatched ticket (签收)"

    def perform(self, ticket, actor, data):
        return services.ticket_claim(ticket_id=ticket.id, actor=actor)


class ReturnApi(TicketTransitionApi):
    transition, summary, InputSerializer = "return", "Return the ticket to the centre (退单)", s.ReturnInput

    def perform(self, ticket, actor, data):
        return services.ticket_return(
            ticket_id=ticket.id, actor=actor, reason=data["reason"], comment=data.get("comment", "")
        )


class RequestExtensionApi(TicketTransitionApi):
    transition, summary, InputSerializer = (
        "request-extension", "Ask for a later resolve deadline (延期申请)", s.ExtensionInput,
    )

    def perform(self, ticket, actor, data):
        return services.ticket_request_extension(
            ticket_id=ticket.id, actor=actor, until=data["until"], reason=data["reason"]
        )


class ApproveExtensionApi(TicketTransitionApi):
    transition, summary, InputSerializer = (
        "approve-extension", "Approve the pending extension request", s.CommentInput,
    )

    def perform(self, ticket, actor, data):
        return services.ticket_decide_extension(
            ticket_id=ticket.id, actor=actor, approve=True, note=data.get("comment", "")
        )


class RefuseExtensionApi(TicketTransitionApi):
    transition, summary, InputSerializer = (
        "refuse-extension", "Refuse the pending extension request", s.CommentInput,
    )

    def perform(self, ticket, actor, data):
        return services.ticket_decide_extension(
            ticket_id=ticket.id, actor=actor, approve=False, note=data.get("comment", "")
        )


class PauseApi(TicketTransitionApi):
    transition, summary, InputSerializer = (
        "pause", "Stop the resolve clock while the citizen supplies material (补充材料)", s.PauseInput,
    )

    def perform(self, ticket, actor, data):
        return services.ticket_pause(ticket_id=ticket.id, actor=actor, until=data["until"], reason=data["reason"])


class ResumeApi(TicketTransitionApi):
    transition, summary, InputSerializer = (
        "resume", "Restart the resolve clock; the deadline moves on by the time paused", s.CommentInput,
    )

    def perform(self, ticket, actor, data):
        return services.ticket_resume(ticket_id=ticket.id, actor=actor, note=data.get("comment", ""))


class ResolveApi(TicketTransitionApi):
    transition, summary, InputSerializer = "resolve", "Submit the unit's reply (办结)", s.ResolveInput

    def perform(self, ticket, actor, data):
        return services.ticket_resolve(ticket_id=ticket.id, actor=actor, reply=data["reply"])


class VerifyApi(TicketTransitionApi):
    transition, summary = "verify", "Accept the unit's reply (核查通过)"

    def perform(self, ticket, actor, data):
        return services.ticket_verify(ticket_id=ticket.id, actor=actor)


class SendBackApi(TicketTransitionApi):
    transition, summary, InputSerializer = "send-back", "Refuse the unit's reply (核查不通过)", s.ReasonInput

    def perform(self, ticket, actor, data):
        return services.ticket_send_back(ticket_id=ticket.id, actor=actor, reason=data["reason"])


class RateApi(TicketTransitionApi):
    transition, summary, InputSerializer = "rate", "Record the citizen's rating (回访)", s.RateInput

    def perform(self, ticket, actor, data):
        return services.ticket_rate(
            ticket_id=ticket.id, actor=actor, rating=data["rating"], comment=data.get("comment", "")
        )


class ExpireFeedbackApi(TicketTransitionApi):
    transition, summary = "expire-feedback", "System only: close when the rating window passed"

    def perform(self, ticket, actor, data):
        return services.ticket_expire_feedback(ticket_id=ticket.id, actor=actor)


class ArchiveApi(TicketTransitionApi):
    transition, summary = "archive", "Archive a closed, rejected or merged ticket (归档)"

    def perform(self, ticket, actor, data):
        return services.ticket_archive(ticket_id=ticket.id, actor=actor)


TRANSITION_VIEWS = [
    AcceptApi, RejectApi, MergeApi, DispatchApi, ClaimApi, ReturnApi, RequestExtensionApi,
    ApproveExtensionApi, RefuseExtensionApi, PauseApi, ResumeApi, ResolveApi, VerifyApi, SendBackApi,
    RateApi, ExpireFeedbackApi, ArchiveApi,
]


class OverdueReportApi(APIView):
    @extend_schema(
        responses=s.TicketOutput(many=True),
        summary="Tickets still unresolved 5 working days after their resolve deadline",
    )
    def get(self, request):
        tickets = selectors.overdue_report(user=request.user).select_related("merged_into")
        paginator = NewestFirstCursorPagination()
        page = paginator.paginate_queryset(tickets, request, view=self)
        data = s.TicketOutput(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)


class TokenApi(APIView):
    """Exchange a staff username and password for an API token (throttled per client)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(request=s.TokenInput, responses=s.TokenOutput, summary="Get an API token")
    def post(self, request):
        payload = s.TokenInput(data=request.data)
        payload.is_valid(raise_exception=True)
        user = authenticate(
            request, username=payload.validated_data["username"], password=payload.validated_data["password"]
        )
        if user is None or not user.is_active or not user.is_staff:
            return Response(
                {"error": "invalid_credentials", "detail": "Wrong username or password."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
