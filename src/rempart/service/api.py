"""The decision API: FastAPI over `DecisionService`, API keys, OpenAPI from the msgspec types.

Every endpoint but ``GET /health`` and the bouncer stream needs a portal key
in ``Authorization: Bearer <key>`` (the OpenAPI document at
``/openapi.json`` too): none is a 401, a bouncer key a 403. Bodies are
decoded and validated by msgspec, the same code as every other reader of
events; a bad body is a 422 whose ``field`` is the JSON path of the culprit
(``$[3].kind``).

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

import ipaddress
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Final, TextIO

import msgspec
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry
from starlette.concurrency import run_in_threadpool
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
    MAX_BATCH,
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
from rempart.service.keys import ApiKeys
from rempart.service.logs import make_logger
from rempart.service.metrics import ServiceMetrics
from rempart.service.openapi import IP_ADDRESS, components, ref
from rempart.service.recent import RecentDecisions

__all__ = ["create_app", "default_store_errors"]

Route = Callable[..., Response]

_JSON: Final = "application/json"
_LOCATED: Final = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.DOTALL)
_FIELD_PREFIX: Final = re.compile(r"^(?P<field>[a-z_]+): (?P<rest>.*)$", re.DOTALL)
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


def _filter_words(description: str) -> Any:
    return Query(max_length=1_000, description=description)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


Body = Annotated[bytes, Depends(_raw_body)]


def default_store_errors() -> tuple[type[BaseException], ...]:
    """What a store raises when it does not answer: Redis' errors and the OS's socket errors."""
    from redis.exceptions import RedisError

    return (RedisError, OSError)


class _InvalidBodyError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _json(value: Any, status_code: int = 200) -> Response:
    return Response(_ENCODER.encode(value), status_code=status_code, media_type=_JSON)


def _problem(status_code: int, error: str, message: str, field: str | None = None) -> Response:
    return _json(Problem(error=error, message=message, field=field), status_code)


def _decode(body: bytes, kind: Any) -> Any:
    """``body`` as ``kind``; a located 422 `Problem` otherwise.

    JSON Schema calls ``3.0`` an integer, msgspec does not: a body that fails
    only for that is decoded again with integral numbers made ints (the slow
    path runs for invalid bodies only).
    """
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as error:
        raise _InvalidBodyError(Problem(error="malformed_json", message=str(error))) from None
    try:
        return msgspec.convert(_integral(msgspec.json.decode(body)), kind)
    except msgspec.ValidationError as error:
        raise _InvalidBodyError(_located(str(error))) from None


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    return value


def _located(text: str) -> Problem:
    """Split msgspec's ``message - at `$.path``` and a cross-field ``field: message``."""
    match = _LOCATED.match(text)
    message = match.group("message") if match else text
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
        403: "A bouncer key: it reads /v1/decisions/stream only.",
        404: "No such route (an account's path cannot hold a line break).",
        422: "Invalid input; `field` is the JSON path of the culprit.",
        503: "The guard's state store did not answer.",
    }
    documented: dict[int | str, dict[str, Any]] = {
        status: {"description": description, "content": {_JSON: {"schema": schema}}}
    }
    for error in (401, 403, *errors):
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
) -> FastAPI:
    """The decision API over ``guard``, opened by ``keys``.

    ``registry``: where the metrics live (a fresh one by default).
    ``log_stream``: where JSON log lines go (standard error by default).
    ``on_store_error``: ``error`` answers 503 when the store fails, ``open``
    allows and ``closed`` denies (reason ``store_unavailable``).
    ``store_errors``: the exception types meaning the store did not answer
    (`default_store_errors` by default). ``clock``: the time of lifts,
    account reads and bouncer polls (the wall clock by default).
    ``recent_per_account``: how many decisions an account's state shows.
    ``ledger``: where locks, bans and lifts are recorded, and bouncers read
    (in memory by default).
    """
    logger = make_logger(log_stream)
    metrics = ServiceMetrics(registry)
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

    async def authenticate(request: Request, credentials: Credentials) -> str:
        key_id = None
        if credentials is not None:
            presented = credentials.credentials
            if keys.bouncer(presented) is not None:
                logger.warning("forbidden", role="bouncer")
                raise HTTPException(
                    status_code=403, detail="a bouncer key reads /v1/decisions/stream only"
                )
            # A key seen before costs a dictionary look-up; argon2 runs off the event loop.
            key_id = keys.remembered(presented) or await run_in_threadpool(keys.verify, presented)
        if key_id is None:
            logger.warning("unauthorized", presented=credentials is not None)
            raise HTTPException(
                status_code=401,
                detail="a valid API key is required: Authorization: Bearer <key>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        request.state.key_id = key_id  # who lifts a lock or a ban, in the ledger
        return key_id

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
    # Every route but /health goes through these two: a route added with them needs a key.
    keyed = [Depends(authenticate)]

    def get(path: str, **options: Any) -> Callable[[Route], Route]:
        return app.get(path, dependencies=keyed, **options)

    def post(path: str, **options: Any) -> Callable[[Route], Route]:
        return app.post(path, dependencies=keyed, **options)

    @post(
        "/v1/decide",
        summary="Decide on one event",
        responses=_answers(200, ref("Decision"), "The guard's decision.", 422, 503),
        openapi_extra=_body_doc(ref("Event"), "One portal event."),
    )
    def decide(body: Body) -> Response:
        return _json(service.decide(_decode(body, Event)))

    @post(
        "/v1/decide/batch",
        summary="Decide on a batch of events, in order",
        responses=_answers(
            200,
            {"type": "array", "items": ref("Decision")},
            "The decisions, in the order of the events.",
            422,
            503,
        ),
        openapi_extra=_body_doc(
            {"type": "array", "items": ref("Event"), "maxItems": MAX_BATCH},
            f"Up to {MAX_BATCH} portal events.",
        ),
    )
    def decide_batch(body: Body) -> Response:
        events: list[Event] = _decode(body, EventBatch)
        return _json(service.decide_batch(events))

    @post(
        "/v1/evidence",
        summary="Submit care evidence",
        status_code=202,
        responses=_answers(202, ref("Observed"), "The evidence is observed.", 422, 503),
        openapi_extra=_body_doc(
            {
                "anyOf": [
                    ref("CareEvidence"),
                    {"type": "array", "items": ref("CareEvidence"), "maxItems": MAX_BATCH},
                ]
            },
            f"One piece of care evidence, or a list of up to {MAX_BATCH}.",
        ),
    )
    def evidence(body: Body) -> Response:
        pieces: CareEvidence | list[CareEvidence] = _decode(body, CareEvidence | EvidenceBatch)
        batch = pieces if isinstance(pieces, list) else [pieces]
        return _json(Observed(observed=service.observe(batch)), 202)

    @post(
        "/v1/step-up",
        summary="Report a step-up outcome",
        responses=_answers(200, ref("Decision"), "The guard's decision.", 422, 503),
        openapi_extra=_body_doc(ref("StepUp"), "The challenged event and whether step-up passed."),
    )
    def step_up(body: Body) -> Response:
        outcome: StepUp = _decode(body, StepUp)
        return _json(service.step_up(outcome.event, outcome.passed))

    @get(
        "/v1/accounts/{account:path}",
        summary="Read an account's state",
        responses=_answers(200, ref("AccountState"), "The account's state.", 404, 422, 503),
    )
    def account_state(account: Account) -> Response:
        return _json(service.account_state(account))

    @post(
        "/v1/locks/{account:path}/lift",
        summary="Lift an account's lock",
        responses=_answers(200, ref("LockLifted"), "The lock is lifted.", 404, 422, 503),
    )
    def lift_lock(account: Account, request: Request) -> Response:
        service.lift_lock(account, by=f"key:{request.state.key_id}")
        return _json(LockLifted(account=account, locked=False))

    @post(
        "/v1/bans/{address}/lift",
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
        service.lift_ban(address, by=f"key:{request.state.key_id}")
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
        summary="Readiness: the store answers",
        responses=_answers(200, ref("Health"), "Ready to decide.", 503),
    )
    def ready() -> Response:
        service.ready()
        return _json(Health(status="ready"))

    @get(
        "/metrics",
        summary="Prometheus metrics",
        responses={
            200: {
                "description": "Metrics in Prometheus' text format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            401: _answers(200, {}, "")[401],
            403: _answers(200, {}, "")[403],
        },
    )
    def metrics_text() -> Response:
        content, media_type = metrics.exposition()
        return Response(content, media_type=media_type)

    @get("/openapi.json", include_in_schema=False)
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

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            document.setdefault("components", {}).setdefault("schemas", {}).update(components())
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

    async def store_unavailable(request: Request, error: Exception) -> Response:
        return _problem(503, "store_unavailable", str(error))

    async def http_error(request: Request, error: Exception) -> Response:
        if not isinstance(error, HTTPException):  # pragma: no cover
            raise error
        codes = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
        }
        response = _problem(
            error.status_code, codes.get(error.status_code, "http_error"), str(error.detail)
        )
        response.headers.update(error.headers or {})
        return response

    app.add_exception_handler(_InvalidBodyError, invalid_body)
    app.add_exception_handler(RequestValidationError, invalid_parameter)
    app.add_exception_handler(StoreUnavailableError, store_unavailable)
    app.add_exception_handler(HTTPException, http_error)
