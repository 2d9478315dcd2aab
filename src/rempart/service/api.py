"""The decision API: FastAPI over `DecisionService`, API keys, OpenAPI from the msgspec types.

Every endpoint but ``GET /health`` and the bouncer stream needs a portal key
in ``Authorization: Bearer <key>`` (the OpenAPI document at
``/openapi.json`` too): none is a 401, a bouncer key a 403, and a key
without the route's scope a 403 (`rempart.service.keys`: ``decide`` for
decisions and step-up outcomes, ``evidence``, ``read`` for an account's
state and the metrics, ``admin`` for lifting locks and bans). A key costs
one SHA-256 to check, on the event loop, and a wrong one is refused by a
pure ASGI gate before the framework does any work (`rempart.service.gate`):
a flood of wrong keys never takes a thread from the decisions. An address
that sent too many wrong keys is answered 429 with ``Retry-After``
(`rempart.service.throttle`).

Bodies are read only once the key has passed, within the request limits
(`rempart.service.limits`: size 413, nesting, batch, list lengths and event
time 422), then decoded and validated by msgspec, the same code as every
other reader of events; a bad body is a 422 whose ``field`` is the JSON
path of the culprit (``$[3].kind``). Every log line of an action names the
key that asked for it.

``GET /v1/decisions/stream`` is CrowdSec's Local API stream, so that
CrowdSec bouncers (firewall, nginx, custom) enforce Rempart's address bans
unchanged. It takes a bouncer key in ``X-Api-Key``, as the Local API does;
anything else (none, a wrong one, a portal key) is a 403 that costs one
SHA-256, never argon2. Each bouncer key has its own cursor: ``startup=true``
gets every ban in force, a later poll what was banned, lifted or expired
since that key's previous poll (`rempart.response.crowdsec.DecisionStream`).

>>> import io
>>> from argon2 import PasswordHasher
>>> from rempart.guard import Guard, Knowledge
>>> keys = ApiKeys(hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
>>> app = create_app(Guard(Knowledge(accounts={}, sites={})), keys, log_stream=io.StringIO())
>>> sorted(app.openapi()["paths"])[:3]
['/health', '/metrics', '/ready']
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Annotated, Any, Final, TextIO

import msgspec
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException
from structlog.typing import FilteringBoundLogger

from rempart import __version__
from rempart.errors import StoreUnavailableError
from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.guard.guard import Guard
from rempart.response.crowdsec import StreamFilter
from rempart.response.ledger import ActionLedger
from rempart.service.bodies import (
    BanLifted,
    EventBatch,
    EvidenceBatch,
    Health,
    LockLifted,
    Observed,
    Problem,
    StepUp,
)
from rempart.service.decisions import DecisionService, StoreErrorPolicy
from rempart.service.gate import STATE_KEY, UNAUTHORIZED, KeyGate
from rempart.service.keys import ApiKey, ApiKeys, Scope
from rempart.service.limits import RequestLimits, too_deep
from rempart.service.logs import make_logger
from rempart.service.metrics import ServiceMetrics
from rempart.service.openapi import IP_ADDRESS, components, ref
from rempart.service.recent import RecentDecisions
from rempart.service.throttle import FailureThrottle

__all__ = ["create_app", "default_store_errors"]

Route = Callable[..., Response]

_JSON: Final = "application/json"
_LOCATED: Final = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.DOTALL)
_FIELD_PREFIX: Final = re.compile(r"^(?P<field>[a-z_]+): (?P<rest>.*)$", re.DOTALL)
_ECHOING: Final = (
    (re.compile(r"^Invalid enum value ", re.DOTALL), "Not one of the accepted values"),
    (re.compile(r"^Object contains unknown field ", re.DOTALL), "Object contains an unknown field"),
)
"""msgspec messages that quote the rejected input, and what is said instead."""
_ENCODER: Final = msgspec.json.Encoder()

Account = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=r"^[^\n]+$",  # a URL path has no line break (it may have a slash)
        description="The account's login, as events carry it.",
    ),
]
Address = Annotated[
    str,
    Path(
        min_length=2,
        max_length=64,
        description="The banned IPv4 or IPv6 address, as events carry it.",
        json_schema_extra={"anyOf": IP_ADDRESS["anyOf"]},
    ),
]


_BEARER: Final = HTTPBearer(auto_error=False, description="A portal key, `rk_<id>_<secret>`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
_BOUNCER: Final = APIKeyHeader(
    name="X-Api-Key",
    auto_error=False,
    description="A bouncer key, `rb_<id>_<secret>` (`rempart keys add NAME --role bouncer`).",
)
BouncerKey = Annotated[str | None, Depends(_BOUNCER)]
_FORBIDDEN: Final = "access forbidden: a bouncer key is required in X-Api-Key"
_LEGACY_QUEUE: Final = 4  # legacy (argon2) key checks waiting at most; more are told to retry


def _filter_words(description: str) -> Any:
    return Query(max_length=1_000, description=description)


async def _raw_body(request: Request) -> bytes:
    """The body, refused (413) as soon as it is known to be past the app's limit."""
    most: int = request.app.state.limits.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > most:
        raise _LimitError(413, "body_size", _too_large(most))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > most:
            raise _LimitError(413, "body_size", _too_large(most))
        chunks.append(chunk)
    return b"".join(chunks)


Body = Annotated[bytes, Depends(_raw_body)]


def default_store_errors() -> tuple[type[BaseException], ...]:
    """What a store raises when it does not answer: Redis' errors and the OS's socket errors."""
    from redis.exceptions import RedisError

    return (RedisError, OSError)


class _InvalidBodyError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class _LimitError(Exception):
    """A request past one of the limits: its status (413 or 422), the limit's name, the body."""

    def __init__(self, status: int, limit: str, problem: Problem) -> None:
        super().__init__(problem.message)
        self.status = status
        self.limit = limit
        self.problem = problem


def _json(value: Any, status_code: int = 200) -> Response:
    return Response(_ENCODER.encode(value), status_code=status_code, media_type=_JSON)


def _problem(status_code: int, error: str, message: str, field: str | None = None) -> Response:
    return _json(Problem(error=error, message=message, field=field), status_code)


def _decode(body: bytes, kind: Any, max_depth: int) -> Any:
    """``body`` as ``kind``; a located 422 `Problem` otherwise.

    JSON nested deeper than ``max_depth`` is refused before decoding. JSON
    Schema calls ``3.0`` an integer, msgspec does not: a body that fails for
    a float where an integer belongs is decoded again with integral numbers
    made ints (that slow path runs for such invalid bodies only).
    """
    if too_deep(body, max_depth):
        raise _LimitError(422, "json_depth", _deep(max_depth))
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as error:
        text = str(error)
        if "length <= " in text and "array" in text:
            raise _LimitError(422, "batch_size", _located(text)) from None
        if "got `float`" not in text:
            raise _InvalidBodyError(_located(text)) from None
    except msgspec.DecodeError as error:
        raise _InvalidBodyError(Problem(error="malformed_json", message=str(error))) from None
    except RecursionError:  # pragma: no cover - too_deep refuses such bodies first
        raise _LimitError(422, "json_depth", _deep(max_depth)) from None
    try:
        return msgspec.convert(_integral(msgspec.json.decode(body)), kind)
    except msgspec.ValidationError as error:
        raise _InvalidBodyError(_located(str(error))) from None


def _deep(max_depth: int) -> Problem:
    return Problem(
        error="too_deep",
        message=f"JSON nested more than {max_depth} levels deep",
        field="$",
    )


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    return value


def _located(text: str) -> Problem:
    """Split msgspec's ``message - at `$.path``` and a cross-field ``field: message``.

    The caller's own text is never echoed: msgspec quotes a rejected enum value
    and an unknown field's name (either may hold a NIR or a secret), so those
    two messages lose their quotation.
    """
    match = _LOCATED.match(text)
    message = match.group("message") if match else text
    for echoing, plain in _ECHOING:
        if echoing.match(message):
            message = plain
    path = (match.group("path") if match else None) or "$"
    named = _FIELD_PREFIX.match(message)
    if named is not None:  # raised by __post_init__ as "ip: not an IPv4 or IPv6 address"
        path, message = f"{path}.{named.group('field')}", named.group("rest")
    return Problem(error="invalid_request", message=message, field=path)


def _body_doc(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {_JSON: {"schema": schema}},
        }
    }


def _answers(status: int, schema: dict[str, Any], description: str, *errors: int) -> Any:
    """The documented responses: the success and each error status, with their bodies."""
    texts = {
        401: "Missing or invalid API key.",
        403: "A bouncer key (it reads /v1/decisions/stream only), or a key without the "
        "scope this route needs.",
        404: "No such route (an account's path cannot hold a line break).",
        413: "The body is larger than the service accepts.",
        422: "Invalid input, or past a limit; `field` is the JSON path of the culprit.",
        429: "Too many failed authentications from this address: retry after "
        "`Retry-After` seconds.",
        503: "The guard's state store did not answer.",
    }
    documented: dict[int | str, dict[str, Any]] = {
        status: {"description": description, "content": {_JSON: {"schema": schema}}}
    }
    for error in (401, 403, 429, *errors):
        documented[error] = {
            "description": texts[error],
            "content": {_JSON: {"schema": ref("Problem")}},
        }
    return documented


def create_app(
    guard: Guard,
    keys: ApiKeys,
    *,
    registry: CollectorRegistry | None = None,
    log_stream: TextIO | None = None,
    on_store_error: StoreErrorPolicy = "error",
    store_errors: tuple[type[BaseException], ...] | None = None,
    clock: Callable[[], datetime] | None = None,
    recent_per_account: int = 50,
    ledger: ActionLedger | None = None,
    limits: RequestLimits | None = None,
    throttle: FailureThrottle | None = None,
) -> FastAPI:
    """The decision API over ``guard``, opened by ``keys``.

    ``registry``: where the metrics live (a fresh one by default).
    ``log_stream``: where JSON log lines go (standard error by default).
    ``on_store_error``: ``error`` answers 503 when the store fails, ``open``
    allows and ``closed`` denies (reason ``store_unavailable``).
    ``store_errors``: the exception types meaning the store did not answer
    (`default_store_errors` by default). ``clock``: the server's time, for
    lifts, account reads, bouncer polls, the locks and bans in force and the
    event-time check (the wall clock by default).
    ``recent_per_account``: how many decisions an account's state shows.
    ``ledger``: where locks, bans and lifts are recorded, and bouncers read
    (in memory by default). ``limits``: what one request may carry
    (`RequestLimits` defaults). ``throttle``: failed authentications allowed
    per client address (`FailureThrottle` defaults: 20 a minute).
    """
    logger = make_logger(log_stream)
    metrics = ServiceMetrics(registry)
    limits = limits if limits is not None else RequestLimits()
    throttle = throttle if throttle is not None else FailureThrottle()
    service = DecisionService(
        guard,
        metrics=metrics,
        logger=logger,
        on_store_error=on_store_error,
        store_errors=store_errors if store_errors is not None else default_store_errors(),
        clock=clock,
        recent=RecentDecisions(per_account=recent_per_account),
        ledger=ledger,
    )
    legacy = _LegacyVerifier(keys)

    async def authenticate(request: Request, credentials: Credentials) -> ApiKey:
        # Everything here is cheap and runs on the event loop: a wrong key never takes
        # a thread from the decisions (a legacy argon2 key excepted, see _LegacyVerifier).
        # Most wrong keys never get here: the KeyGate middleware refuses them first.
        passed: ApiKey | None = getattr(request.state, STATE_KEY, None)
        if passed is not None:
            request.state.key_id = passed.id
            return passed
        address = request.client.host if request.client is not None else "unknown"
        presented = credentials.credentials if credentials is not None else None
        slow = False
        if presented is not None:
            if keys.bouncer(presented) is not None:
                metrics.auth_failures.labels(reason="bouncer_key").inc()
                logger.warning("forbidden", role="bouncer", address=address)
                raise HTTPException(
                    status_code=403, detail="a bouncer key reads /v1/decisions/stream only"
                )
            found = keys.check(presented)
            if found.key is not None:
                request.state.key_id = found.key.id  # who asked, in logs and the ledger
                return found.key
            slow = found.slow
        wait = throttle.retry_after(address)
        if wait is not None:
            metrics.auth_failures.labels(reason="throttled").inc()
            raise HTTPException(
                status_code=429,
                detail="too many failed authentications from this address",
                headers={"Retry-After": str(wait)},
            )
        if presented is not None and slow:
            key = await legacy.verify(presented)
            if key is not None:
                request.state.key_id = key.id
                return key
        metrics.auth_failures.labels(reason="missing" if presented is None else "wrong").inc()
        if throttle.failed(address):
            logger.warning("auth_throttled", address=address, seconds=throttle.window)
        logger.warning("unauthorized", presented=presented is not None, address=address)
        raise HTTPException(
            status_code=401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
        )

    def scoped(scope: Scope | None) -> Callable[..., Any]:
        # A default, not Annotated: FastAPI reads string annotations in the module's
        # globals, where this closure's ``authenticate`` is not.
        async def permitted(request: Request, key: ApiKey = Depends(authenticate)) -> ApiKey:  # noqa: B008
            if scope is not None and scope not in key.granted:
                metrics.auth_failures.labels(reason="scope").inc()
                logger.warning("forbidden", key=key.id, scope=scope, path=request.url.path)
                raise HTTPException(status_code=403, detail=f"this key lacks the {scope} scope")
            return key

        return permitted

    def sane(event: Event, path: str) -> None:
        """Refuse ``event`` (at JSON path ``path``) past the list or event-time limits."""
        if len(event.categories) > limits.max_categories:
            raise _LimitError(
                422,
                "list_length",
                Problem(
                    error="too_long",
                    message=f"more than {limits.max_categories} categories",
                    field=f"{path}.categories",
                ),
            )
        check_time(event.time, path, past=True)

    def check_time(moment: datetime, path: str, *, past: bool) -> None:
        """Refuse a time too far ahead of the server's clock (or behind it, when ``past``)."""
        skew = limits.max_clock_skew
        if skew is None:
            return
        offset = (moment - service.clock()).total_seconds()
        if offset > skew or (past and offset < -skew):
            direction = "ahead of" if offset > 0 else "behind"
            raise _LimitError(
                422,
                "clock_skew",
                Problem(
                    error="clock_skew",
                    message=f"the time is {abs(offset):.0f} s {direction} the server's clock; "
                    f"at most {skew:g} s are accepted",
                    field=f"{path}.time",
                ),
            )

    async def authenticate_bouncer(request: Request, presented: BouncerKey) -> str:
        # One SHA-256 and a constant-time comparison: cheap enough to run on the event loop.
        key_id = keys.bouncer(presented) if presented is not None else None
        if key_id is None:
            logger.warning("forbidden", presented=presented is not None)
            raise HTTPException(status_code=403, detail=_FORBIDDEN)
        request.state.bouncer = key_id  # whose cursor the poll moves
        return key_id

    bouncer_keyed = [Depends(authenticate_bouncer)]

    app = FastAPI(
        title="Rempart decision API",
        version=__version__,
        description=(
            "Ask Rempart before the portal returns patient data: allow, challenge (step-up) "
            "or deny, with reasons and actions. Submit care evidence, read an account's state, "
            "lift locks and bans. CrowdSec bouncers read the address bans from the Local API's "
            "decision stream."
        ),
        openapi_url=None,
        generate_unique_id_function=lambda route: route.name,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.state.metrics = metrics
    app.state.limits = limits
    app.add_middleware(KeyGate, keys=keys, throttle=throttle, metrics=metrics, logger=logger)
    # Every route but /health goes through these two: a route added with them needs a key,
    # and ``scope`` (None: any portal key). The key is checked before the body is read.

    def get(path: str, scope: Scope | None, **options: Any) -> Callable[[Route], Route]:
        return app.get(path, dependencies=[Depends(scoped(scope))], **options)

    def post(path: str, scope: Scope | None, **options: Any) -> Callable[[Route], Route]:
        return app.post(path, dependencies=[Depends(scoped(scope))], **options)

    @post(
        "/v1/decide",
        "decide",
        summary="Decide on one event",
        responses=_answers(200, ref("Decision"), "The guard's decision.", 413, 422, 503),
        openapi_extra=_body_doc(ref("Event"), "One portal event."),
    )
    def decide(body: Body, request: Request) -> Response:
        event: Event = _decode(body, Event, limits.max_depth)
        sane(event, "$")
        return _json(service.decide(event, key=request.state.key_id))

    @post(
        "/v1/decide/batch",
        "decide",
        summary="Decide on a batch of events, in order",
        responses=_answers(
            200,
            {"type": "array", "items": ref("Decision")},
            "The decisions, in the order of the events.",
            413,
            422,
            503,
        ),
        openapi_extra=_body_doc(
            {"type": "array", "items": ref("Event"), "maxItems": limits.max_batch},
            f"Up to {limits.max_batch} portal events.",
        ),
    )
    def decide_batch(body: Body, request: Request) -> Response:
        events: list[Event] = _decode(body, EventBatch, limits.max_depth)
        _check_batch(len(events))
        for index, event in enumerate(events):
            sane(event, f"$[{index}]")
        return _json(service.decide_batch(events, key=request.state.key_id))

    def _check_batch(count: int) -> None:
        if count > limits.max_batch:
            problem = Problem(
                error="batch_too_large",
                message=f"{count} items in one request; at most {limits.max_batch}",
                field="$",
            )
            raise _LimitError(422, "batch_size", problem)

    @post(
        "/v1/evidence",
        "evidence",
        summary="Submit care evidence",
        status_code=202,
        responses=_answers(202, ref("Observed"), "The evidence is observed.", 413, 422, 503),
        openapi_extra=_body_doc(
            {
                "anyOf": [
                    ref("CareEvidence"),
                    {"type": "array", "items": ref("CareEvidence"), "maxItems": limits.max_batch},
                ]
            },
            f"One piece of care evidence, or a list of up to {limits.max_batch}.",
        ),
    )
    def evidence(body: Body, request: Request) -> Response:
        pieces: CareEvidence | list[CareEvidence] = _decode(
            body, CareEvidence | EvidenceBatch, limits.max_depth
        )
        batch = pieces if isinstance(pieces, list) else [pieces]
        if isinstance(pieces, list):
            _check_batch(len(batch))
        for index, piece in enumerate(batch):
            # Evidence is often older than the event it explains: only the future is refused.
            check_time(piece.time, f"$[{index}]" if isinstance(pieces, list) else "$", past=False)
        return _json(Observed(observed=service.observe(batch, key=request.state.key_id)), 202)

    @post(
        "/v1/step-up",
        "decide",
        summary="Report a step-up outcome",
        responses=_answers(200, ref("Decision"), "The guard's decision.", 413, 422, 503),
        openapi_extra=_body_doc(ref("StepUp"), "The challenged event and whether step-up passed."),
    )
    def step_up(body: Body, request: Request) -> Response:
        outcome: StepUp = _decode(body, StepUp, limits.max_depth)
        sane(outcome.event, "$.event")
        return _json(service.step_up(outcome.event, outcome.passed, key=request.state.key_id))

    @get(
        "/v1/accounts/{account:path}",
        "read",
        summary="Read an account's state",
        responses=_answers(200, ref("AccountState"), "The account's state.", 404, 422, 503),
    )
    def account_state(account: Account, request: Request) -> Response:
        return _json(service.account_state(account, key=request.state.key_id))

    @post(
        "/v1/locks/{account:path}/lift",
        "admin",
        summary="Lift an account's lock",
        responses=_answers(200, ref("LockLifted"), "The lock is lifted.", 404, 422, 503),
    )
    def lift_lock(account: Account, request: Request) -> Response:
        key_id = request.state.key_id
        service.lift_lock(account, by=f"key:{key_id}", key=key_id)
        return _json(LockLifted(account=account, locked=False))

    @post(
        "/v1/bans/{address}/lift",
        "admin",
        summary="Lift an address's ban",
        responses=_answers(200, ref("BanLifted"), "The ban is lifted.", 422, 503),
    )
    def lift_ban(address: Address, request: Request) -> Response:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            message = "not an IPv4 or IPv6 address"
            problem = Problem(error="invalid_request", message=message, field="address")
            raise _InvalidBodyError(problem) from None
        key_id = request.state.key_id
        service.lift_ban(address, by=f"key:{key_id}", key=key_id)
        return _json(BanLifted(address=address, banned=False))

    @app.get(
        "/v1/decisions/stream",
        dependencies=bouncer_keyed,
        summary="CrowdSec bouncers: bans to add and delete since the last poll",
        responses={
            200: {
                "description": (
                    "`new`: bans to enforce; `deleted`: bans lifted or expired since this "
                    "bouncer key's previous poll (none at startup)."
                ),
                "content": {_JSON: {"schema": ref("DecisionsStream")}},
            },
            403: {
                "description": "No bouncer key in `X-Api-Key`, or a wrong one.",
                "content": {_JSON: {"schema": ref("Problem")}},
            },
            422: {
                "description": "Invalid query parameter; `field` names it.",
                "content": {_JSON: {"schema": ref("Problem")}},
            },
        },
    )
    def decisions_stream(
        request: Request,
        startup: Annotated[
            bool, Query(description="The bouncer starts: every ban in force, none deleted.")
        ] = False,
        scopes: Annotated[
            str | None, _filter_words("Comma-separated scopes to keep: `ip`, `range`.")
        ] = None,
        origins: Annotated[
            str | None, _filter_words("Comma-separated origins to keep (Rempart's: `rempart`).")
        ] = None,
        scenarios_containing: Annotated[
            str | None, _filter_words("Keep the bans whose scenario contains any of these words.")
        ] = None,
        scenarios_not_containing: Annotated[
            str | None, _filter_words("Drop the bans whose scenario contains any of these words.")
        ] = None,
    ) -> Response:
        selection = StreamFilter.from_query(
            scopes=scopes,
            origins=origins,
            scenarios_containing=scenarios_containing,
            scenarios_not_containing=scenarios_not_containing,
        )
        answer = service.decisions_stream(
            request.state.bouncer, startup=startup, selection=selection
        )
        return _json(answer)

    @app.head("/v1/decisions/stream", dependencies=bouncer_keyed, include_in_schema=False)
    def decisions_stream_head() -> Response:
        # As the Local API: a bouncer checks its key; nothing is read, its cursor stays.
        return Response(media_type=_JSON)

    @get(
        "/ready",
        None,
        summary="Readiness: the store answers",
        responses=_answers(200, ref("Health"), "Ready to decide.", 503),
    )
    def ready() -> Response:
        service.ready()
        return _json(Health(status="ready"))

    @get(
        "/metrics",
        "read",
        summary="Prometheus metrics",
        responses={
            200: {
                "description": "Metrics in Prometheus' text format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            401: _answers(200, {}, "")[401],
            403: _answers(200, {}, "")[403],
            429: _answers(200, {}, "")[429],
        },
    )
    def metrics_text() -> Response:
        content, media_type = metrics.exposition()
        return Response(content, media_type=media_type)

    @get("/openapi.json", None, include_in_schema=False)
    def openapi_document() -> Response:
        return _json(app.openapi())

    @app.get(
        "/health",
        summary="Liveness (no key needed)",
        responses={200: {"description": "Alive.", "content": {_JSON: {"schema": ref("Health")}}}},
    )
    def health() -> Response:
        return _json(Health(status="ok"))

    _install_error_handlers(app, metrics, logger)
    app.state.legacy_keys = legacy

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            document.setdefault("components", {}).setdefault("schemas", {}).update(components())
            _at_most(document, "categories", limits.max_categories)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _install_error_handlers(
    app: FastAPI, metrics: ServiceMetrics, logger: FilteringBoundLogger
) -> None:
    """Every error answers a `Problem` body; every rejected request is counted and logged."""

    def rejected(request: Request, problem: Problem) -> Response:
        metrics.rejected.inc()
        logger.info(
            "rejected",
            path=request.url.path,
            error=problem.error,
            field=problem.field,
            message=problem.message,
        )
        return _json(problem, 422)

    async def invalid_body(request: Request, error: Exception) -> Response:
        if not isinstance(error, _InvalidBodyError):  # pragma: no cover - registered for it only
            raise error
        return rejected(request, error.problem)

    async def invalid_parameter(request: Request, error: Exception) -> Response:
        errors = error.errors() if isinstance(error, RequestValidationError) else []
        first = errors[0] if errors else {}
        location = first.get("loc", ())
        problem = Problem(
            error="invalid_request",
            message=str(first.get("msg", "invalid request")),
            field=str(location[-1]) if location else None,
        )
        return rejected(request, problem)

    async def past_limit(request: Request, error: Exception) -> Response:
        if not isinstance(error, _LimitError):  # pragma: no cover - registered for it only
            raise error
        metrics.limited.labels(limit=error.limit).inc()
        if error.status != 422:
            logger.info("limited", path=request.url.path, limit=error.limit)
            return _json(error.problem, error.status)
        return rejected(request, error.problem)

    async def store_unavailable(request: Request, error: Exception) -> Response:
        return _problem(503, "store_unavailable", str(error))

    async def internal_error(request: Request, error: Exception) -> Response:
        # Counted and logged by type only: no stack trace or path ever reaches a caller.
        metrics.internal_errors.inc()
        logger.error("internal_error", path=request.url.path, error=type(error).__name__)
        return _problem(500, "internal_error", "the service failed to answer this request")

    async def http_error(request: Request, error: Exception) -> Response:
        if not isinstance(error, HTTPException):  # pragma: no cover
            raise error
        codes = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            429: "too_many_failures",
        }
        response = _problem(
            error.status_code, codes.get(error.status_code, "http_error"), str(error.detail)
        )
        response.headers.update(error.headers or {})
        return response

    app.add_exception_handler(_InvalidBodyError, invalid_body)
    app.add_exception_handler(_LimitError, past_limit)
    app.add_exception_handler(Exception, internal_error)
    app.add_exception_handler(RequestValidationError, invalid_parameter)
    app.add_exception_handler(StoreUnavailableError, store_unavailable)
    app.add_exception_handler(HTTPException, http_error)


def _at_most(schema: Any, name: str, most: int) -> None:
    """Give every ``name`` property in ``schema`` a ``maxItems`` of ``most`` (the limit)."""
    if isinstance(schema, dict):
        properties = schema.get("properties")
        if isinstance(properties, dict) and isinstance(properties.get(name), dict):
            properties[name]["maxItems"] = most
        for value in schema.values():
            _at_most(value, name, most)
    elif isinstance(schema, list):
        for item in schema:
            _at_most(item, name, most)


def _too_large(most: int) -> Problem:
    return Problem(error="body_too_large", message=f"the body is larger than {most:,} bytes")


class _LegacyVerifier:
    """Runs argon2 checks of legacy keys one at a time, on a thread of their own.

    Only a well-formed key naming a known legacy id gets here (an unknown id
    is refused by the quick check), from an address not throttled, and at
    most `_LEGACY_QUEUE` wait: others are told to retry (429). The decisions'
    thread pool is never used, so these checks cannot hold a decision up.
    """

    def __init__(self, keys: ApiKeys) -> None:
        self.keys = keys
        self._executor: ThreadPoolExecutor | None = None
        self._waiting = 0
        self._lock = threading.Lock()

    async def verify(self, presented: str) -> ApiKey | None:
        with self._lock:
            if self._waiting >= _LEGACY_QUEUE:
                raise HTTPException(
                    status_code=429,
                    detail="too many key verifications in progress",
                    headers={"Retry-After": "1"},
                )
            self._waiting += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="rempart-legacy-key")
            executor = self._executor
        try:
            return await asyncio.wrap_future(executor.submit(self.keys.verify_slowly, presented))
        finally:
            with self._lock:
                self._waiting -= 1
