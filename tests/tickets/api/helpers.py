"""Shared pieces of the staff API tests: URLs, contract keys, the error check, one transition."""

TICKETS = "/api/v1/tickets/"

TICKET_KEYS = {
    "number", "state", "channel", "category", "unit", "description", "location",
    "reported_at", "deadlines", "sla", "reopen_count", "support_count",
}
EVENT_KEYS = {"kind", "from_state", "to_state", "actor", "unit", "note", "at"}


def ticket_url(ticket) -> str:
    return f"{TICKETS}{ticket.number}/"


def transition_url(ticket, transition: str) -> str:
    return f"{TICKETS}{ticket.number}/{transition}/"


def assert_error(response, status: int, code: str | None = None) -> dict:
    """Check the status and the `{"error", "detail"}` body; return the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"]
    assert isinstance(body.get("detail"), str) and body["detail"]
    if code is not None:
        assert body["error"] == code, body
    return body


def act(client, ticket, transition: str, body: dict | None = None):
    """POST one transition of the ticket with a JSON body; return the response."""
    return client.post(transition_url(ticket, transition), body or {}, format="json")


# A body each transition would accept, so a refusal must come from role, scope or state.
VALID_BODIES = {
    "reject": {"reason": "广告信息"},
    "dispatch": {"unit": "power-supply"},
    "return": {"reason": "wrong_territory"},
    "request-extension": {"until": "2099-01-01T12:00:00+08:00", "reason": "需要协调"},
    "pause": {"until": "2099-01-01T12:00:00+08:00", "reason": "请补充现场照片"},
    "resolve": {"reply": "已修复"},
    "send-back": {"reason": "回复不完整"},
    "rate": {"rating": "satisfied"},
}
