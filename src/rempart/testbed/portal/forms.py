"""The portal's browser forms: reading a form body, and refusing posts made from another site.

The session is a cookie set ``HttpOnly`` and ``SameSite=Strict``, so a page on
another site cannot make a browser send it: that is the first defence against
cross-site request forgery. Each form also carries a token the other site
cannot read:

- signed in (the step-up form): an HMAC of the session under a key drawn when
  the portal starts (`CsrfTokens`), so nothing is stored and a revoked
  session's token dies with it;
- not yet signed in (the login form): a random value both in a cookie and in
  the form (double submit), so another site cannot sign a browser into an
  account of its choosing.

Last, a post whose ``Origin`` or ``Sec-Fetch-Site`` names another site is
refused before any token is looked at (`cross_site`).

>>> tokens = CsrfTokens(b"k" * 32)
>>> tokens.valid("session-1", tokens.for_session("session-1"))
True
>>> tokens.valid("session-2", tokens.for_session("session-1")), tokens.valid("session-1", "")
(False, False)
"""

from __future__ import annotations

import base64
import hmac
import secrets
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request

__all__ = [
    "FORM_TYPE",
    "LOGIN_CSRF_COOKIE",
    "CsrfTokens",
    "cross_site",
    "is_form",
    "login_token",
    "login_token_valid",
    "read_form",
]

LOGIN_CSRF_COOKIE: Final = "portal_login_csrf"
FORM_TYPE: Final = "application/x-www-form-urlencoded"
_MAX_FORM_BYTES: Final = 8_192  # a login or step-up form is a few hundred bytes
_MAX_FIELDS: Final = 16


class CsrfTokens:
    """Per-session form tokens: an HMAC of the session id, nothing stored."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def for_session(self, session: str) -> str:
        """The token the session's forms carry."""
        digest = hmac.digest(self._key, b"csrf:" + session.encode(), "sha256")
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def valid(self, session: str, token: str) -> bool:
        """Whether ``token`` is the session's (compared in constant time)."""
        return hmac.compare_digest(self.for_session(session).encode(), token.encode())


def login_token() -> str:
    """A fresh double-submit token for the login form (its cookie and its hidden field)."""
    return secrets.token_urlsafe(24)


def login_token_valid(cookie: str | None, field: str) -> bool:
    """Whether the login form's hidden field repeats its cookie."""
    return bool(cookie) and hmac.compare_digest((cookie or "").encode(), field.encode())


def is_form(request: Request) -> bool:
    """Whether the request's body is an HTML form (``application/x-www-form-urlencoded``)."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == FORM_TYPE


async def read_form(request: Request) -> dict[str, str] | None:
    """The form's fields (first value of each); None for a body too large or too many fields."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > _MAX_FORM_BYTES:
            return None
    try:
        pairs = parse_qsl(
            body.decode("utf-8", errors="replace"),
            keep_blank_values=True,
            max_num_fields=_MAX_FIELDS,
        )
    except ValueError:  # more fields than any of our forms has
        return None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def cross_site(request: Request) -> bool:
    """Whether the browser says this post comes from another origin.

    ``Sec-Fetch-Site`` other than ``same-origin`` or ``none`` (typed in the
    address bar), or an ``Origin`` whose scheme and host differ from the
    request's own (``null`` included), is cross-site. A client sending
    neither header (an old browser, a script) is judged by its token alone.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    parts = urlsplit(origin)
    host = request.headers.get("host", "").lower()
    same = parts.scheme == request.url.scheme and bool(host) and parts.netloc.lower() == host
    return not same
