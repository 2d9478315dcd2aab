"""Pure-ASGI guard for Python portals: a declared route table, a decision before data leaves.

Each `Route` says which requests read patients: the method, a path pattern
(``/patients/by-card/{card}``), the event kind, how the patient is designated
(`Lookup`), the data categories the route returns, and where the clear NIR
sits in the request (``subject_from``). For a matching request,
`GuardMiddleware` builds an `Event` (the subject is the keyed pseudonym; the
clear NIR goes nowhere else), asks ``guard.decide`` *before* calling the app,
and then:

- allow: the request reaches the app; once the app has answered, the audit
  event is recorded with the app's outcome (404 is ``not_found``);
- challenge: ``401 {"error": "step_up_required", "step_up": "/step-up"}``
  (a ``303`` to the step-up page for a browser asking for HTML, with the page
  it asked for in ``next``: ``/step-up?next=/patients%3Fnir%3D...``);
- deny: ``403 {"error": "denied", "reasons": ["account_locked", ...]}``.

Refused requests are recorded too, with outcome ``refused``. Requests no
route matches pass through untouched; a protected route without an
authenticated identity is a ``401 {"error": "not_authenticated"}``.

**A challenged session stays challenged.** Once the guard challenges a
session, the session is in the `ChallengeBook` until the portal's step-up
endpoint takes it out (`ChallengeBook.pop`, then ``guard.step_up``): every
protected request on it is still decided by the guard (so locks, bans and
repeated unanswered challenges still count), but an ``allow`` is answered
with the challenge again (reason ``step_up_pending``). Nothing is served on a
challenged session until step-up passes, whatever the guard's budget says.
The guard has learnt such a read as the allow it decided (its budget counts
it, the patient counts as seen): it errs towards a smaller budget, and a
patient so marked is one the guard would have served anyway.

**Client address.** The event's address is the connection's peer, unless
the peer is one of ``trusted_proxies``: then ``X-Forwarded-For`` is read
from the right, skipping trusted proxies, and the first address that is not
one is the client's (what a client writes at the left of the header is never
believed). `ClientAddress` does this for the portal's own events too.

``next`` is attacker-controlled by the time the step-up page reads it (anyone
can send a link to ``/step-up?next=...``): the page must send the browser
back only to what `safe_return_path` accepts, a same-origin path. ``next``
never enters an audit event; it may hold a typed NIR, so the portal's access
log, if it keeps one, must treat the step-up URL like the patient URL itself.

>>> route = Route("GET", "/patients/{ref}", EventKind.RECORD_VIEW, Lookup.LINK,
...               (DataCategory.IDENTITY,), subject_from=lambda target: None)
>>> route.match("/patients/p42")
{'ref': 'p42'}
>>> route.match("/patients/p42/extra") is None
True
>>> safe_return_path("/patients?nir=253072B07300470"), safe_return_path("//evil.example")
('/patients?nir=253072B07300470', None)
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlsplit

import msgspec

from rempart.errors import ConfigError, NirError
from rempart.events import DataCategory, Event, EventKind, Lookup, Outcome
from rempart.guard.decision import Decision, Reason, Verdict
from rempart.guard.guard import Guard

__all__ = [
    "MAX_RETURN_PATH",
    "ChallengeBook",
    "ClientAddress",
    "GuardMiddleware",
    "Identity",
    "Route",
    "Subject",
    "Target",
    "safe_return_path",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Identity = tuple[str, str]
"""The authenticated ``(account, session)`` of a request."""

_PARAMETER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNKNOWN_ADDRESS: Final = "0.0.0.0"  # noqa: S104 (a placeholder value, never bound)
MAX_RETURN_PATH: Final = 2048
"""The longest return target kept (longer ones fall back to the portal's home page)."""
# Printable ASCII without space or backslash: what a browser sends, percent-encoded.
_RETURN_PATH: Final = re.compile(r"/[!-\[\]-~]*")


def safe_return_path(target: str | None) -> str | None:
    r"""``target`` when it is a same-origin path a step-up or login page may redirect to, else None.

    Accepted: a path starting with one ``/``, printable ASCII without spaces
    or backslashes (a browser percent-encodes the rest), at most
    `MAX_RETURN_PATH` characters, with an optional query. Refused: anything
    naming a scheme or a host (``https://...``, ``//host``, ``/\host``, which
    browsers read as ``//host``), control characters, empty or overlong values.

    >>> safe_return_path("/patients/by-card/c1?x=1")
    '/patients/by-card/c1?x=1'
    >>> [safe_return_path(t) for t in ("https://evil.example/", "/\\evil", "/a\r\nb", "")]
    [None, None, None, None]
    """
    if not target or len(target) > MAX_RETURN_PATH or target.startswith("//"):
        return None
    if _RETURN_PATH.fullmatch(target) is None:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@dataclass(frozen=True, slots=True)
class Target:
    """What a route's ``subject_from`` reads: the path parameters and the query string."""

    path_params: Mapping[str, str]
    query: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Subject:
    """A patient designated by a request, as the data holder resolves it before answering.

    A portal that holds the data can say, before its handler runs, whether the
    NIR exists (``found``), whether a typed birth date matched, and the
    patient's department, so that the guard's enumeration detectors see
    misses *before* deciding. A plain string NIR from ``subject_from`` means
    ``found=True`` with nothing else known.
    """

    nir: str | None
    found: bool = True
    birth_date_match: bool | None = None
    department: str | None = None


SubjectFrom = Callable[[Target], str | Subject | None]


@dataclass(frozen=True, slots=True)
class Route:
    """One protected route: which requests read patients, and how to find the patient.

    ``path_pattern`` uses ``{name}`` for one path segment. ``subject_from``
    returns the clear NIR (or a `Subject`) from the request; None for a route
    that designates no single patient (a search).
    """

    method: str
    path_pattern: str
    kind: EventKind
    lookup: Lookup | None
    categories: tuple[DataCategory, ...]
    subject_from: SubjectFrom | None = None
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = _PARAMETER.split(self.path_pattern)
        # split alternates literal text and parameter names.
        pattern = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
        )
        object.__setattr__(self, "_regex", re.compile(f"^{pattern}$"))
        object.__setattr__(self, "method", self.method.upper())

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when ``path`` matches the pattern, else None."""
        found = self._regex.match(path)
        return found.groupdict() if found is not None else None


def _outcome(status: int, presumed: Outcome) -> Outcome:
    if status == 404:
        return Outcome.NOT_FOUND
    if status >= 400:
        return Outcome.FAILURE
    return presumed


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _valid_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return _UNKNOWN_ADDRESS


def _new_event_id() -> str:
    return uuid.uuid4().hex


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddress:
    """The client's address of a request: the peer, or what trusted proxies say it was.

    ``trusted_proxies``: addresses or networks (``10.0.0.0/8``) of the
    reverse proxies in front of the portal. From a peer that is not one of
    them, ``X-Forwarded-For`` is ignored. From one, the header is read right
    to left, past every trusted proxy; the first other address is the
    client's (a malformed one stands for an unknown address, ``0.0.0.0``).

    >>> address = ClientAddress(["10.0.0.1"])
    >>> scope = {"client": ("10.0.0.1", 5000),
    ...          "headers": [(b"x-forwarded-for", b"198.51.100.9, 203.0.113.7")]}
    >>> address(scope), address({**scope, "client": ("203.0.113.50", 5000)})
    ('203.0.113.7', '203.0.113.50')
    """

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        networks: list[_Network] = []
        for proxy in trusted_proxies:
            try:
                networks.append(ipaddress.ip_network(proxy.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    "trusted_proxies", "IP addresses or networks (10.0.0.0/8)", proxy
                ) from None
        self._proxies = tuple(networks)
        # Chosen once: without proxies, the header is never even looked at.
        self._resolve: Callable[[Scope], str] = self._forwarded if self._proxies else self._peer

    def __call__(self, scope: Scope) -> str:
        return self._resolve(scope)

    @staticmethod
    def _peer(scope: Scope) -> str:
        client = scope.get("client")
        return _valid_address(str(client[0])) if client else _UNKNOWN_ADDRESS

    def _trusted(self, address: str) -> bool:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self._proxies)

    def _forwarded(self, scope: Scope) -> str:
        peer = self._peer(scope)
        if not self._trusted(peer):
            return peer
        hops = [
            value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name == b"x-forwarded-for"
        ]
        address = peer
        for hop in reversed(",".join(hops).split(",")):
            if not hop.strip():
                continue
            address = _valid_address(hop)
            if not self._trusted(address):
                return address
        return address  # every hop a trusted proxy: the leftmost


class ChallengeBook:
    """The sessions with a challenge waiting for step-up, each with the event it was challenged on.

    `GuardMiddleware` adds a session when the guard challenges it and
    refuses everything on it while it is here; the portal takes it out when
    step-up is answered (`pop`, then ``guard.step_up`` with the event) or the
    session ends (`discard`). One entry per challenged session, until then.

    >>> from rempart.testing import make_event
    >>> book = ChallengeBook()
    >>> book.hold(make_event(session="s1"))
    >>> "s1" in book, book.pop("s1") is not None, "s1" in book
    (True, True, False)
    """

    def __init__(self) -> None:
        self._pending: dict[str, Event] = {}

    def hold(self, event: Event) -> None:
        """Keep ``event``'s session challenged, with ``event`` as the one step-up answers."""
        if event.session is not None:
            self._pending[event.session] = event

    def pop(self, session: str) -> Event | None:
        """The session's challenged event, taken out (step-up is being answered), or None."""
        return self._pending.pop(session, None)

    def discard(self, session: str) -> None:
        """Forget the session (it ended)."""
        self._pending.pop(session, None)

    def __contains__(self, session: object) -> bool:
        return session in self._pending

    def __len__(self) -> int:
        return len(self._pending)


class GuardMiddleware:
    """Asks the guard before a protected route answers, and records the portal's audit events.

    Parameters: ``guard``; ``routes``; ``identity(scope)`` returning the
    authenticated ``(account, session)`` or None; ``pseudonymize(nir)``
    (raises `NirError` for an invalid NIR, which is then a miss);
    ``clock()`` returning an aware datetime; ``step_up_path``; ``audit(event)``
    called once per protected request after it is answered or refused;
    ``on_refusal(event, decision)`` for the portal's containment (session
    revocation); ``challenges``, the `ChallengeBook` the portal's step-up
    endpoint answers from (a new, empty one by default, at ``.challenges``);
    ``trusted_proxies``, the reverse proxies whose ``X-Forwarded-For`` is
    believed (see `ClientAddress`; none by default); ``event_ids`` to number
    events.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: Guard,
        routes: Sequence[Route],
        identity: Callable[[Scope], Identity | None],
        pseudonymize: Callable[[str], str],
        clock: Callable[[], datetime],
        step_up_path: str = "/step-up",
        audit: Callable[[Event], None] | None = None,
        on_refusal: Callable[[Event, Decision], None] | None = None,
        challenges: ChallengeBook | None = None,
        trusted_proxies: Iterable[str] = (),
        event_ids: Callable[[], str] = _new_event_id,
    ) -> None:
        self.app = app
        self.guard = guard
        self.identity = identity
        self.pseudonymize = pseudonymize
        self.clock = clock
        self.step_up_path = step_up_path
        self.audit = audit
        self.on_refusal = on_refusal
        self.challenges = challenges if challenges is not None else ChallengeBook()
        self.event_ids = event_ids
        self._routes: dict[str, tuple[Route, ...]] = {}
        for route in routes:
            self._routes[route.method] = (*self._routes.get(route.method, ()), route)
        self._address = ClientAddress(trusted_proxies)
        self._challenge_body = json.dumps(
            {"error": "step_up_required", "step_up": step_up_path}
        ).encode()

    # -- request facts ------------------------------------------------------------------

    def _subject(self, route: Route, target: Target) -> Subject | None:
        if route.subject_from is None:
            return None
        resolved = route.subject_from(target)
        if resolved is None or isinstance(resolved, Subject):
            return resolved
        return Subject(nir=resolved)

    def _event(self, scope: Scope, route: Route, params: dict[str, str], who: Identity) -> Event:
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        subject = self._subject(route, Target(path_params=params, query=query))
        pseudonym: str | None = None
        found = True
        birth_date_match: bool | None = None
        department: str | None = None
        if subject is not None:
            found = subject.found
            birth_date_match = subject.birth_date_match
            department = subject.department
            if subject.nir is not None:
                try:
                    pseudonym = self.pseudonymize(subject.nir)
                except NirError:
                    found = False  # an invalid NIR designates nobody
        outcome = Outcome.SUCCESS
        if route.kind is EventKind.RECORD_VIEW and (not found or pseudonym is None):
            outcome = Outcome.NOT_FOUND
        user_agent = _header(scope.get("headers", ()), b"user-agent") or ""
        return Event(
            time=self.clock(),
            event_id=self.event_ids(),
            kind=route.kind,
            ip=self._address(scope),
            account=who[0],
            session=who[1],
            user_agent=user_agent[:1024],
            subject=pseudonym,
            lookup=route.lookup,
            categories=route.categories if outcome is Outcome.SUCCESS else (),
            outcome=outcome,
            subject_department=department,
            birth_date_match=birth_date_match,
        )

    # -- ASGI ---------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        for route in self._routes.get(scope["method"], ()):
            params = route.match(path)
            if params is not None:
                await self._guarded(route, params, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _guarded(
        self, route: Route, params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        who = self.identity(scope)
        if who is None:
            await _send_json(send, 401, b'{"error":"not_authenticated"}')
            return
        event = self._event(scope, route, params, who)
        decision = self.guard.decide(event)
        if decision.verdict is Verdict.CHALLENGE:
            self.challenges.hold(event)
        elif decision.verdict is Verdict.ALLOW and who[1] in self.challenges:
            decision = _still_pending(decision)
        if decision.verdict is not Verdict.ALLOW:
            refused = _replace(event, outcome=Outcome.REFUSED, categories=())
            if self.on_refusal is not None:
                self.on_refusal(event, decision)
            self._record(refused)
            await self._refuse(scope, send, decision)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            outcome = _outcome(status, event.outcome)
            if outcome is not event.outcome:
                event = _replace(
                    event,
                    outcome=outcome,
                    categories=event.categories if outcome is Outcome.SUCCESS else (),
                )
            self._record(event)

    def _record(self, event: Event) -> None:
        if self.audit is not None:
            self.audit(event)

    def _step_up_location(self, scope: Scope) -> str:
        """The step-up page, with the page the browser asked for in ``next`` when it can return.

        Only a GET (or HEAD) can be replayed by a redirect; the target is the
        request's path as the browser sent it (``raw_path``) and its query.
        """
        if scope["method"] not in ("GET", "HEAD"):
            return self.step_up_path
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
        query = scope.get("query_string", b"").decode("latin-1")
        target = safe_return_path(f"{path}?{query}" if query else path)
        if target is None:
            return self.step_up_path
        return f"{self.step_up_path}?next={quote(target, safe='/')}"

    async def _refuse(self, scope: Scope, send: Send, decision: Decision) -> None:
        wants_html = "text/html" in (_header(scope.get("headers", ()), b"accept") or "")
        codes = [reason.code for reason in decision.reasons]
        if decision.verdict is Verdict.CHALLENGE:
            if wants_html:
                location = self._step_up_location(scope)
                await _send(send, 303, b"", b"text/plain", [(b"location", location)])
            else:
                await _send_json(send, 401, self._challenge_body)
            return
        if wants_html:
            items = "".join(f"<li>{escape(code)}</li>" for code in codes)
            page = (
                "<!doctype html><title>Access refused</title><h1>Access refused</h1>"
                f"<p>This request was refused for the account's protection.</p><ul>{items}</ul>"
            )
            await _send(send, 403, page.encode(), b"text/html; charset=utf-8")
            return
        await _send_json(send, 403, json.dumps({"error": "denied", "reasons": codes}).encode())


_STEP_UP_PENDING: Final = Reason(
    detector="middleware",
    code="step_up_pending",
    message="this session was challenged and has not passed step-up since",
)


def _still_pending(allowed: Decision) -> Decision:
    """The challenge again, for a request the guard allowed on a session still challenged."""
    return msgspec.structs.replace(allowed, verdict=Verdict.CHALLENGE, reasons=(_STEP_UP_PENDING,))


def _replace(event: Event, **changes: Any) -> Event:
    return msgspec.structs.replace(event, **changes)


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await _send(send, status, body, b"application/json")


async def _send(
    send: Send,
    status: int,
    body: bytes,
    media_type: bytes,
    extra: Sequence[tuple[bytes, str]] = (),
) -> None:
    headers = [(b"content-type", media_type), (b"content-length", str(len(body)).encode())]
    headers.extend((name, value.encode("latin-1")) for name, value in extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
