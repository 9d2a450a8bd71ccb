"""Who is on the other end of a socket.

Programs send `Authorization: Token <key>` (a browser cannot set that header, so it
cannot be forged from another site). Browsers use their session cookie, which counts
only when the handshake's Origin is this site: a page elsewhere can open a socket to us
with the user's cookie attached, and must get nothing.
"""

from urllib.parse import urlsplit

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.sessions import SessionMiddlewareStack
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host


def headers_of(scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", [])}


def same_origin(headers: dict[bytes, bytes]) -> bool:
    """Whether the handshake comes from a page of this site (Origin = Host, an allowed host)."""
    origin = headers.get(b"origin", b"").decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    if not origin or not host:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    netloc = urlsplit(origin).netloc
    domain, _port = split_domain_port(host)
    return netloc == host and bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


@database_sync_to_async
def _token_user(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class SocketAuthMiddleware:
    """Set scope["user"] (AnonymousUser when nothing valid came) and scope["same_origin"]."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        headers = headers_of(scope)
        scope = dict(scope, same_origin=same_origin(headers), user=AnonymousUser())
        authorization = headers.get(b"authorization", b"").decode("latin-1").split()
        if authorization:
            if len(authorization) == 2 and authorization[0].lower() == "token":
                scope["user"] = await _token_user(authorization[1])
        elif scope["same_origin"]:
            scope["user"] = await get_user(scope)
        return await self.inner(scope, receive, send)


def SocketAuthStack(inner):  # noqa: N802 - named like Channels' own stacks
    return SessionMiddlewareStack(SocketAuthMiddleware(inner))
