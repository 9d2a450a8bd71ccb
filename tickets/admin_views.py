"""The working part of a ticket's admin page: its buttons, the reporter reveal and the photos.

Each button is a POST to its own URL under the ticket's admin (CSRF-protected through
``admin_site.admin_view``) and calls one service. A button shows when the model's own
rule for that step (django-fsm's permission and conditions, or the model's ``can_*``)
lets this user take it from the ticket's state; the service still decides. Success
redirects back to the page (post/redirect/get); an error shows the page again with the
form as typed and the service's reason.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy as _
from django_fsm import has_transition_perm

from config.middleware import accepts_uploads
from tickets import admin_forms as f
from tickets import services
from tickets.duplicates import likely_originals_for
from tickets.errors import Conflict, NotAllowed, NotFound, TicketError
from tickets.intake.open311_selectors import open311_ticket_answers
from tickets.models import Attachment, Channel, ExtensionRequest, State, Ticket, TicketEvent
from tickets.selectors import may_reveal_reporter, pending_extension, sees_personal_data, ticket_events
from tickets.validation import mask_phone

# The messages a ticket's page lists: a post reposted thousands of times shows its first ones.
MESSAGES_SHOWN = 50


def _transition(name: str) -> Callable[[Ticket, object], bool]:
    """Show the button when the transition's permission and conditions allow it from this state."""
    return lambda ticket, user: has_transition_perm(getattr(ticket, name), user)


def _extension_pending(ticket: Ticket, user) -> bool:
    return ticket.can_centre_act(user) and _pending_extension(ticket) is not None


def _pending_extension(ticket: Ticket) -> ExtensionRequest | None:
    # Asked by the button and by the page: read once per page.
    if not hasattr(ticket, "_pending_extension"):
        ticket._pending_extension = pending_extension(ticket)
    return ticket._pending_extension


@dataclass(frozen=True)
class TicketAction:
    name: str
    label: Promise
    service: Callable[..., Ticket]
    form: type[f.ActionForm]
    available: Callable[[Ticket, object], bool]


# In the order the buttons show: the unit's steps, then the centre's.
ACTIONS: dict[str, TicketAction] = {a.name: a for a in [
    TicketAction("claim", _("Claim (签收)"), services.ticket_claim, f.ActionForm, _transition("claim")),
    TicketAction("resolve", _("Resolve with a reply (办结)"), services.ticket_resolve, f.ResolveForm,
                 _transition("resolve")),
    TicketAction("request-extension", _("Request an extension (延期)"), services.ticket_request_extension,
                 f.ExtensionForm, _transition("request_extension")),
    TicketAction("pause", _("Pause for the citizen's material (补充材料)"), services.ticket_pause,
                 f.PauseForm, _transition("pause")),
    TicketAction("resume", _("Resume the clock"), services.ticket_resume, f.ResumeForm, _transition("resume")),
    TicketAction("return", _("Return to the centre (退单)"), services.ticket_return, f.ReturnForm,
                 _transition("return_to_centre")),
    TicketAction("accept", _("Accept (受理)"), services.ticket_accept, f.ActionForm, _transition("accept")),
    TicketAction("dispatch", _("Dispatch (派单)"), services.ticket_dispatch, f.DispatchForm,
                 _transition("dispatch")),
    TicketAction("merge", _("Merge into another ticket (合并)"), services.ticket_merge, f.MergeForm,
                 _transition("merge")),
    TicketAction("reject", _("Reject (不予受理)"), services.ticket_reject, f.ReasonForm, _transition("reject")),
    TicketAction("verify", _("Verify the reply (核查通过)"), services.ticket_verify, f.ActionForm,
                 _transition("verify")),
    TicketAction("send-back", _("Send back to the unit (核查不通过)"), services.ticket_send_back, f.ReasonForm,
                 _transition("send_back")),
    TicketAction("decide-extension", _("Decide the extension request (延期)"),
                 services.ticket_decide_extension, f.DecideExtensionForm, _extension_pending),
    TicketAction("archive", _("Archive (归档)"), services.ticket_archive, f.ActionForm, _transition("archive")),
]}


def _error_message(error: TicketError) -> str:
    if isinstance(error, Conflict):
        return gettext(
            "This ticket changed since the page was shown (someone else may have acted on it): "
            "%(detail)s The page now shows its current state."
        ) % {"detail": error.detail}
    if isinstance(error, NotAllowed):
        return gettext("Your role or unit may not do this: %(detail)s") % {"detail": error.detail}
    if isinstance(error, NotFound):
        return gettext("Not found: %(detail)s") % {"detail": error.detail}
    return gettext("Please correct the errors below.")  # InvalidInput: its fields show on the form


# What each kind of event is called in a ticket's history.
EVENT_LABELS = {
    "report": _("reported"),
    "accept": _("accepted"),
    "reject": _("rejected"),
    "merge": _("merged"),
    "merge_in": _("a duplicate merged in"),
    "support": _("supported by another citizen"),
    "dispatch": _("dispatched"),
    "claim": _("claimed"),
    "return": _("returned to the centre"),
    "request_extension": _("extension requested"),
    "extension_approved": _("extension approved"),
    "extension_refused": _("extension refused"),
    "pause": _("paused for the citizen's material"),
    "resume": _("clock resumed"),
    "resolve": _("resolved with a reply"),
    "verify": _("verified"),
    "send_back": _("sent back to the unit"),
    "rate": _("rated by the citizen"),
    "reopen": _("reopened"),
    "reopen_flagged": _("flagged to the centre: reopened repeatedly"),
    "expire_feedback": _("feedback window expired"),
    "archive": _("archived"),
    "warning_yellow": _("yellow card"),
    "warning_red": _("red card"),
    "urging": _("urged"),
    "overdue_listed": _("listed as overdue"),
}


def with_state_labels(events) -> list[TicketEvent]:
    """Return the events with what a page shows of them: the step's name and the states' (the record too)."""
    labels = dict(State.choices)
    events = list(events)
    for event in events:
        event.kind_label = EVENT_LABELS.get(event.kind, event.kind)
        event.from_label = labels.get(event.from_state, event.from_state)
        event.to_label = labels.get(event.to_state, event.to_state)
    return events


@dataclass
class Panel:
    action: TicketAction
    form: f.ActionForm
    url: str
    is_open: bool = False


class TicketDeskMixin:
    """Adds the buttons, the reporter reveal and the photos to a ticket's read-only admin page."""

    def get_urls(self):
        site, name = self.admin_site, "tickets_ticket"
        resolve = accepts_uploads(settings.MINHU_MAX_UPLOAD_BYTES, too_large=self._upload_too_large)(
            site.admin_view(self.action_view)
        )
        return [
            path("<int:object_id>/actions/resolve/", resolve, {"action": "resolve"}),
            path("<int:object_id>/actions/<slug:action>/", site.admin_view(self.action_view),
                 name=f"{name}_action"),
            path("<int:object_id>/reveal/", site.admin_view(self.reveal_view), name=f"{name}_reveal"),
            path("<int:object_id>/attachments/<int:attachment_id>/", site.admin_view(self.attachment_view),
                 name=f"{name}_attachment"),
            *super().get_urls(),
        ]

    # -- views -------------------------------------------------------------------------

    def action_view(self, request, object_id: int, action: str):
        """Run one service for the ticket from its button's form."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        spec, ticket = ACTIONS.get(action), self.get_object(request, str(object_id))
        if spec is None or ticket is None:
            raise Http404(gettext("No such ticket that you may see."))
        try:
            services.refuse_if_archived(ticket)
        except Conflict as error:
            self.message_user(request, _error_message(error), messages.ERROR)
            return self._change_page(request, ticket, status=error.status)
        form = spec.form(request.POST, request.FILES, ticket=ticket, user=request.user, prefix=spec.name)
        status = 400
        if form.is_valid():
            try:
                ticket = spec.service(ticket_id=ticket.pk, actor=request.user, **form.arguments())
            except TicketError as error:
                form.show_error(error)
                # An error on a field is the form's to correct; a refusal of the act keeps its status.
                status = 400 if error.fields else error.status
                self.message_user(request, _error_message(error), messages.ERROR)
            else:
                self.message_user(request, gettext("%(action)s: done. The ticket is now %(state)s.") % {
                    "action": spec.label, "state": ticket.get_state_display(),
                }, messages.SUCCESS)
                # A returned ticket leaves the unit's sight: back to its queue then.
                if not self.get_queryset(request).filter(pk=ticket.pk).exists():
                    return redirect("admin:tickets_ticket_changelist")
                return redirect(self._change_url(ticket))
        else:
            self.message_user(request, gettext("Please correct the errors below."), messages.ERROR)
        return self._change_page(request, ticket, status=status, failed=Panel(spec, form, "", is_open=True))

    def reveal_view(self, request, object_id: int):
        """Show the reporter in full on this one response, logging the access first."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        ticket = self.get_object(request, str(object_id))
        if ticket is None:
            raise Http404(gettext("No such ticket that you may see."))
        form = f.RevealForm(request.POST, prefix="reveal")
        if not form.is_valid():
            return self._change_page(request, ticket, status=400, reveal_form=form)
        try:
            services.ticket_reveal_reporter(ticket_id=ticket.pk, actor=request.user,
                                            reason=form.cleaned_data["reason"])
        except TicketError as error:
            self.message_user(request, _error_message(error), messages.ERROR)
            return self._change_page(request, ticket, status=error.status)
        # Lives on this request only: a reload shows the masked page again.
        request.reporter_revealed = True
        return self._change_page(request, ticket, status=200)

    def attachment_view(self, request, object_id: int, attachment_id: int):
        """Stream one of the ticket's photos to someone who may see the ticket."""
        ticket = self.get_object(request, str(object_id))
        attachment = (
            Attachment.objects.filter(ticket=ticket, pk=attachment_id).first() if ticket is not None else None
        )
        if attachment is None:
            raise Http404(gettext("No such photo."))
        try:
            handle = attachment.file.open("rb")
        except FileNotFoundError:
            raise Http404(gettext("No such photo.")) from None
        response = FileResponse(
            handle, content_type=attachment.content_type,
            filename=f"{ticket.number}-{attachment.pk}.{attachment.extension}",
        )
        # The stored type was read from the content; browsers must not guess another.
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    def _upload_too_large(self, request, limit: int):
        return TemplateResponse(request, "admin/tickets/ticket/upload_too_large.html", {
            **self.admin_site.each_context(request),
            "title": gettext("The photos are too large"),
            "limit_mb": limit // (1024 * 1024),
            "back_url": reverse("admin:tickets_ticket_change", args=[request.resolver_match.kwargs["object_id"]],
                                current_app=self.admin_site.name),
        }, status=413)

    # -- the page ------------------------------------------------------------------------

    def _change_url(self, ticket: Ticket) -> str:
        return reverse("admin:tickets_ticket_change", args=[ticket.pk], current_app=self.admin_site.name)

    def _change_page(self, request, ticket: Ticket, *, status: int, **context):
        # The read-only change view renders on GET only; this POST has passed the CSRF
        # check and been handled, and what follows only reads.
        request.method = "GET"
        response = self.change_view(request, str(ticket.pk), extra_context=context)
        response.status_code = status
        return response

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self._desk(request, obj, context.pop("failed", None), context.pop("reveal_form", None)))
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def _desk(self, request, ticket: Ticket, failed: Panel | None, reveal_form) -> dict:
        user, panels = request.user, []
        for action in ACTIONS.values():
            if failed is not None and failed.action is action:
                panel = failed
            elif action.available(ticket, user):
                panel = Panel(action, action.form(ticket=ticket, user=user, prefix=action.name), "")
            else:
                continue
            # The resolve action's URL lands on its own route, the one that takes photos.
            panel.url = reverse("admin:tickets_ticket_action", kwargs={"object_id": ticket.pk, "action": action.name},
                                current_app=self.admin_site.name)
            panels.append(panel)
        revealed = getattr(request, "reporter_revealed", False)
        photos = Attachment.objects.filter(ticket=ticket).order_by("id")
        inbound = list(ticket.inbound_messages.order_by("id")[:MESSAGES_SHOWN + 1])
        if not (revealed or sees_personal_data(user)):
            for message in inbound:
                if message.channel == Channel.SMS:
                    message.sender = mask_phone(message.sender)
        return {
            "desk_panels": panels,
            "desk_archived": ticket.state == State.ARCHIVED,
            "desk_record_url": reverse("desk:record", args=[ticket.number]),
            "desk_history": with_state_labels(ticket_events(ticket)),
            "desk_photos": [
                (photo, reverse("admin:tickets_ticket_attachment", args=[ticket.pk, photo.pk],
                                current_app=self.admin_site.name))
                for photo in photos
            ],
            "desk_messages": inbound[:MESSAGES_SHOWN],
            "desk_more_messages": len(inbound) > MESSAGES_SHOWN,
            "desk_service_answers": open311_ticket_answers(ticket) if ticket.channel == Channel.OPEN311 else [],
            "desk_pending_extension": _pending_extension(ticket) if ticket.can_centre_act(user) else None,
            "desk_revealed": revealed,
            "desk_duplicates": [
                (original, reverse("admin:tickets_ticket_change", args=[original.ticket.pk],
                                   current_app=self.admin_site.name))
                for original in likely_originals_for(user, ticket)
            ],
            # "Merge into this" beside each: the merge action's own form, its number filled in.
            "desk_merge_url": reverse("admin:tickets_ticket_action", kwargs={"object_id": ticket.pk, "action": "merge"},
                                      current_app=self.admin_site.name)
            if ACTIONS["merge"].available(ticket, user) else "",
            "desk_reveal": None if revealed or not may_reveal_reporter(user, ticket) else {
                "form": reveal_form or f.RevealForm(prefix="reveal"),
                "url": reverse("admin:tickets_ticket_reveal", args=[ticket.pk], current_app=self.admin_site.name),
            },
        }
