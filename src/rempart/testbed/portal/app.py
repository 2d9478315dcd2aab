"""The reference portal: a small patient-rights portal in the spirit of AmeliPro, guarded.

Endpoints (JSON bodies)::

    POST /login                   {account, password} -> session cookie, or 401 (login_failure)
    POST /step-up                 {code}  TOTP for the pending challenge -> guard.step_up
    POST /logout
    POST /password-reset          {account} -> e-mail with a reset token (SMTP), always 202
    POST /password-reset/confirm  {token, password}
    GET  /patients/by-card/{card}
    GET  /patients?nir=...&birth_date=YYYY-MM-DD   (typed NIR; 404 unless both agree)
    GET  /patients/search?surname=...&birth_date=...   (links to /patients/by-link/{ref})
    GET  /patients/by-link/{ref}
    POST /rempart/webhook         Rempart's signed actions, with ``webhook_secret`` only
                                  (see `rempart.testbed.portal.webhook`)

and for a browser (HTML pages, forms posted ``application/x-www-form-urlencoded``,
see `rempart.testbed.portal.forms` for the cross-site defences)::

    GET  /                        a patient look-up form (signed in)
    GET  /login?next=/path        the sign-in form; POST /login with the form -> 303 to next
    GET  /step-up?next=/path      the TOTP form of the pending challenge, where
                                  `GuardMiddleware` sends a challenged browser;
                                  POST /step-up with the form -> 303 back to next
    GET  /patients... with Accept: text/html   the record as a page

``next`` is only ever followed when `safe_return_path` accepts it.

Hardening, each pinned by ``tests/security``:

- a challenged session is served nothing until step-up passes (the
  middleware's `ChallengeBook`, shared with this portal), and a TOTP code
  passes once (`Credentials.verify_totp`);
- a reset request does the same work for a known and an unknown account (a
  token drawn and hashed for both, kept and mailed only for a known one; the
  mail leaves after the answer, so its SMTP exchange is not timed), and a
  reset spends every other outstanding token of the account;
- cookies are ``Secure`` unless the portal is reached on loopback
  (``localhost``, ``127.0.0.0/8``, ``::1``), or as ``secure_cookies`` says;
- ``X-Forwarded-For`` is believed only from ``trusted_proxies``
  (`rempart.middleware.ClientAddress`), for account events as for reads;
- a 422 names the type, place and rule of each error, never the value
  rejected (a password, a token).

Account events (logins, step-ups, resets) are decided by the guard and
recorded here; patient reads are decided and recorded by `GuardMiddleware`.
Every audit event goes to ``audit`` in Rempart's event format.

For a front proxy's access log, every response names who acted: ``X-Audit-Account``
(the signed-in account, or the one a sign-in or reset request named) and, on a
patient record returned, ``X-Audit-Subject`` (the patient's pseudonym, never the
NIR). ``rempart/data/routes-portal.toml`` reads them from nginx's log.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import secrets
import smtplib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar
from urllib.parse import quote

import structlog
from argon2 import PasswordHasher
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.background import BackgroundTask
from starlette.requests import cookie_parser

from rempart.directory import Account
from rempart.events import Event, EventKind, Lookup
from rempart.guard.decision import ActionKind, Decision, Verdict
from rempart.guard.guard import Guard
from rempart.ingestion import read_records
from rempart.middleware import (
    ChallengeBook,
    ClientAddress,
    GuardMiddleware,
    Identity,
    Message,
    Receive,
    Route,
    Scope,
    Send,
    safe_return_path,
)
from rempart.pseudonym import Pseudonymizer
from rempart.secret import Secret
from rempart.testbed.portal import forms, pages, webhook
from rempart.testbed.portal.credentials import Credentials, account_email
from rempart.testbed.portal.patients import (
    RECORD_CATEGORIES,
    SEARCH_CATEGORIES,
    PatientRegister,
)
from rempart.testbed.portal.restrictions import LOCKED, Restrictions
from rempart.testbed.simulate import key_for_seed

__all__ = ["AUDIT_ACCOUNT", "AUDIT_SUBJECT", "SESSION_COOKIE", "Portal", "create_portal"]

_log = structlog.get_logger(__name__)

SESSION_COOKIE: Final = "portal_session"
AUDIT_ACCOUNT: Final = "X-Audit-Account"
AUDIT_SUBJECT: Final = "X-Audit-Subject"
# Printable ASCII but "%": an account outside it (only ever an attempted one) is
# percent-encoded, so that no value can break or split a header.
_HEADER_SAFE: Final = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")
_RESET_TTL: Final = timedelta(minutes=30)
_SENDER: Final = "AmeliPro testbed <no-reply@portal.rempart.test>"
_LOOPBACK_NAMES: Final = frozenset({"localhost"})
_STEP_UP_PATH: Final = "/step-up"
_TOTP_CODE: Final = re.compile(r"[0-9]{6}")
_Body = TypeVar("_Body", bound=BaseModel)
_Next = Annotated[str, Query(alias="next")]
"""Where a browser goes back to; checked by `safe_return_path` before any use."""


class _Login(BaseModel):
    account: str = Field(min_length=1, max_length=128)
    password: str = Field(max_length=256)


class _StepUp(BaseModel):
    code: str = Field(max_length=16)


class _ResetRequest(BaseModel):
    account: str = Field(min_length=1, max_length=128)


class _ResetConfirm(BaseModel):
    token: str = Field(max_length=128)
    password: str = Field(min_length=12, max_length=256)


def _reset_digest(token: str) -> str:
    """How a reset token is kept: its SHA-256 (a leaked table gives no usable token)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _on_loopback(request: Request) -> bool:
    """Whether the request was addressed to this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = (request.url.hostname or "").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _invalid_request(request: Request, error: Exception) -> Response:
    """422 with the type, place and rule of each error, never the rejected value itself."""
    errors = error.errors() if isinstance(error, RequestValidationError) else []
    detail = [
        {"type": item.get("type"), "loc": list(item.get("loc", ())), "msg": item.get("msg")}
        for item in errors
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def _not_found() -> JSONResponse:
    return JSONResponse({"error": "not_found"}, status_code=404)


def _denied(decision: Decision) -> JSONResponse:
    return JSONResponse(
        {"error": "denied", "reasons": [reason.code for reason in decision.reasons]},
        status_code=403,
    )


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type")
    if content_type is None:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _json_body(request: Request, model: type[_Body]) -> _Body:
    """The JSON body as ``model``; a 422 like FastAPI's own when it does not validate.

    As FastAPI does, a body is read as JSON only when it says so (or says
    nothing): a ``text/plain`` post, which any site can make a browser send,
    is not.
    """
    body = await request.body()
    try:
        if _is_json(request):
            return model.model_validate_json(body)
        return model.model_validate(body)  # raw bytes: never a valid body
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from exc


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _with_next(path: str, next_path: str) -> str:
    return f"{path}?next={quote(next_path, safe='/')}" if next_path != "/" else path


def _record_response(
    request: Request, record: dict[str, Any] | None, pseudonymize: Callable[[str], str]
) -> Response:
    """The record (or a 404), naming the patient returned by pseudonym (``X-Audit-Subject``)."""
    if _wants_html(request):
        response: Response = pages.record_page(record)
    else:
        response = JSONResponse(record) if record is not None else _not_found()
    if record is not None:
        response.headers[AUDIT_SUBJECT] = pseudonymize(record["nir"])
    return response


def _audit_account(response: Response, account: str) -> Response:
    """``response`` naming ``account`` for the front proxy's log."""
    response.headers[AUDIT_ACCOUNT] = quote(account, safe=_HEADER_SAFE)
    return response


_CROSS_SITE_FR: Final = "Cette demande ne vient pas du portail : elle a été refusée."
_CROSS_SITE_EN: Final = "This request did not come from the portal and was refused."


def _cross_site_refusal() -> Response:
    return pages.refused_page(_CROSS_SITE_FR, _CROSS_SITE_EN)


@dataclass(frozen=True, slots=True)
class _SignIn:
    """What a sign-in attempt came to: the guard's decision, and the new session if any."""

    decision: Decision | None  # None: wrong password, and the guard did not deny
    session: str | None = None

    @property
    def challenged(self) -> bool:
        return self.decision is not None and self.decision.verdict is Verdict.CHALLENGE


class Portal:
    """The portal's state: accounts, sessions, pending challenges, reset tokens, patients.

    ``restrictions`` holds the locks and bans Rempart sent by webhook.
    """

    def __init__(
        self,
        *,
        guard: Guard,
        credentials: Credentials,
        patients: PatientRegister,
        clock: Callable[[], datetime],
        audit: Callable[[Event], None],
        smtp_host: str,
        smtp_port: int,
        address: Callable[[Scope], str] | None = None,
        secure_cookies: bool | None = None,
    ) -> None:
        self.guard = guard
        self.credentials = credentials
        self.patients = patients
        self.clock = clock
        self.audit = audit
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.address = address if address is not None else ClientAddress()
        self.secure_cookies = secure_cookies
        self.sessions: dict[str, str] = {}  # session -> account
        self.pending = ChallengeBook()  # sessions challenged, until step-up is answered
        self.csrf = forms.CsrfTokens()
        self.restrictions = Restrictions()
        self._resets: dict[str, tuple[str, datetime]] = {}  # sha256(token) -> account, expiry
        self._account_resets: dict[str, set[str]] = {}  # account -> its outstanding digests

    # -- sessions ------------------------------------------------------------------------

    def identity(self, scope: Scope) -> Identity | None:
        """The ``(account, session)`` of a request's session cookie."""
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                session = cookie_parser(value.decode("latin-1")).get(SESSION_COOKIE)
                account = self.sessions.get(session) if session else None
                if session is not None and account is not None:
                    return account, session
        return None

    def sign_in(self, account: str, password: str, request: Request) -> _SignIn:
        """Check the password, ask the guard, and open a session unless it denies.

        A wrong password is a ``login_failure`` (``decision`` None unless the
        guard denies); a challenged sign-in opens the session with its
        challenge pending. An account Rempart locked by webhook is refused
        before its password is even checked.
        """
        if self.restrictions.locked(account, self.clock()):
            return _SignIn(LOCKED)
        if not self.credentials.verify(account, password):
            decision = self.decide(self.account_event(EventKind.LOGIN_FAILURE, account, request))
            return _SignIn(decision if decision.verdict is Verdict.DENY else None)
        session = secrets.token_urlsafe(18)
        event = self.account_event(EventKind.LOGIN_SUCCESS, account, request, session)
        decision = self.decide(event)
        if decision.verdict is Verdict.DENY:
            return _SignIn(decision)
        self.sessions[session] = account
        if decision.verdict is Verdict.CHALLENGE:
            self.pending.hold(event)
        return _SignIn(decision, session)

    def answer_step_up(
        self, account: str, session: str, code: str, request: Request
    ) -> Decision | None:
        """The guard's decision on a TOTP code for the session's pending challenge, if any."""
        challenged = self.pending.pop(session)
        if challenged is None:
            return None
        passed = self.credentials.verify_totp(account, code, self.clock())
        kind = EventKind.MFA_SUCCESS if passed else EventKind.MFA_FAILURE
        self.audit(self.account_event(kind, account, request, session))
        decision = self.guard.step_up(challenged, passed=passed)
        self.contain(decision)
        return decision

    def revoke(self, session: str) -> None:
        """End one session."""
        self.sessions.pop(session, None)
        self.pending.discard(session)

    def revoke_account(self, account: str) -> None:
        """End every session of an account."""
        for session in [s for s, a in self.sessions.items() if a == account]:
            self.revoke(session)

    def on_refusal(self, event: Event, decision: Decision) -> None:
        """Carry out the guard's containment (the middleware keeps the challenge in `pending`)."""
        self.contain(decision)

    def contain(self, decision: Decision) -> None:
        """Revoke the sessions and accounts the decision's actions name."""
        for action in decision.actions:
            if action.kind is ActionKind.REVOKE_SESSION:
                self.revoke(action.target)
            elif action.kind is ActionKind.LOCK_ACCOUNT:
                self.revoke_account(action.target)

    # -- account events ------------------------------------------------------------------

    def account_event(
        self, kind: EventKind, account: str, request: Request, session: str | None = None
    ) -> Event:
        """An account event of this request, at the portal's clock."""
        return Event(
            time=self.clock(),
            event_id=uuid.uuid4().hex,
            kind=kind,
            ip=self.address(request.scope),
            account=account,
            session=session,
            user_agent=request.headers.get("user-agent", "")[:1024],
        )

    def decide(self, event: Event) -> Decision:
        """Ask the guard about an account event, record it, and carry out its containment."""
        decision = self.guard.decide(event)
        self.audit(event)
        self.contain(decision)
        return decision

    # -- password reset ------------------------------------------------------------------

    def issue_reset(self, account: str) -> str | None:
        """A fresh single-use reset token for ``account``; None for an unknown account.

        The same work either way (a token drawn, hashed and timed), so that
        how long a request takes does not tell whether the account exists;
        only a known account's token is kept.
        """
        token = secrets.token_urlsafe(24)
        digest = _reset_digest(token)
        now = self.clock()
        if account not in self.credentials:
            return None
        outstanding = self._account_resets.setdefault(account, set())
        for stale in [d for d in outstanding if self._resets[d][1] < now]:  # a bounded table
            outstanding.discard(stale)
            del self._resets[stale]
        self._resets[digest] = (account, now + _RESET_TTL)
        outstanding.add(digest)
        return token

    def redeem_reset(self, token: str) -> str | None:
        """The account a valid, unexpired token resets; every token of the account is then spent."""
        digest = _reset_digest(token)
        entry = self._resets.pop(digest, None)
        if entry is None:
            return None
        account, expiry = entry
        outstanding = self._account_resets.get(account, set())
        outstanding.discard(digest)
        if expiry < self.clock():
            return None
        for other in outstanding:  # a reset ends every other way in
            del self._resets[other]
        outstanding.clear()
        return account

    def mail_reset(self, account: str, token: str) -> None:
        """`send_reset`, for after the answer: a failure is logged, the request is long gone."""
        try:
            self.send_reset(account, token)
        except (OSError, smtplib.SMTPException) as error:
            _log.warning("reset_mail_failed", account=account, error=type(error).__name__)

    def send_reset(self, account: str, token: str) -> None:
        """E-mail the reset token to the account's address through the SMTP server."""
        message = EmailMessage()
        message["From"] = _SENDER
        message["To"] = account_email(account)
        message["Subject"] = "Réinitialisation de votre mot de passe"
        message.set_content(
            "Bonjour,\n\nPour choisir un nouveau mot de passe, utilisez ce code "
            f"(valable 30 minutes) :\n\n{token}\n\n"
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n"
        )
        with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=10) as smtp:
            smtp.send_message(message)


class _AuditedGuard(GuardMiddleware):
    """`GuardMiddleware` whose responses name the signed-in account (``X-Audit-Account``).

    The account is the session's as the request arrived (a logout's too), named on
    the guard's own refusals as on the portal's answers; an answer naming an
    account already (a sign-in's, a reset's) keeps its own.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        who = self.identity(scope) if scope["type"] == "http" else None
        if who is None:
            await super().__call__(scope, receive, send)
            return
        named = (_AUDIT_ACCOUNT_KEY, quote(who[0], safe=_HEADER_SAFE).encode("ascii"))

        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if all(name.lower() != _AUDIT_ACCOUNT_KEY for name, _ in headers):
                    headers.append(named)
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send_named)


_AUDIT_ACCOUNT_KEY: Final = AUDIT_ACCOUNT.lower().encode("ascii")


def _routes(patients: PatientRegister) -> list[Route]:
    return [
        Route(
            "GET",
            "/patients",
            EventKind.RECORD_VIEW,
            Lookup.TYPED_NIR,
            RECORD_CATEGORIES,
            lambda target: patients.typed(target.query.get("nir"), target.query.get("birth_date")),
        ),
        Route(
            "GET",
            "/patients/by-card/{card}",
            EventKind.RECORD_VIEW,
            Lookup.CARD,
            RECORD_CATEGORIES,
            lambda target: patients.by_card_subject(target.path_params["card"]),
        ),
        Route(
            "GET",
            "/patients/by-link/{ref}",
            EventKind.RECORD_VIEW,
            Lookup.LINK,
            RECORD_CATEGORIES,
            lambda target: patients.by_link_subject(target.path_params["ref"]),
        ),
        Route("GET", "/patients/search", EventKind.SEARCH, Lookup.SEARCH, SEARCH_CATEGORIES),
    ]


def create_portal(
    world_dir: Path,
    *,
    guard: Guard,
    smtp_host: str,
    smtp_port: int,
    secret: Secret,
    clock: Callable[[], datetime],
    key: Secret | None = None,
    hasher: PasswordHasher | None = None,
    audit: Callable[[Event], None] | None = None,
    trusted_proxies: Iterable[str] = (),
    secure_cookies: bool | None = None,
    webhook_secret: Secret | None = None,
) -> GuardMiddleware:
    """The portal over the simulated world in ``world_dir``, wrapped by `GuardMiddleware`.

    ``world_dir`` is a `rempart simulate` output (``world/``, ``identities/``,
    ``manifest.json``). ``secret`` derives the testbed passwords, TOTP
    secrets, card numbers and links; ``key`` is the world's pseudonym key
    (by default the simulator's key for the manifest's seed).
    ``trusted_proxies``: the reverse proxies whose ``X-Forwarded-For`` is
    believed (addresses or networks; none by default). ``secure_cookies``:
    True or False to force the cookies' ``Secure`` flag; by default it is set
    unless the request was addressed to loopback. ``webhook_secret``: the
    secret shared with Rempart's webhook enforcer (at least 32 bytes); with
    it, the portal carries out Rempart's signed actions posted to
    ``/rempart/webhook`` (`rempart.testbed.portal.webhook`), without it that
    endpoint does not exist. The `Portal` state is at ``app.app.state.portal``.
    """
    if key is None:
        manifest = json.loads((world_dir / "manifest.json").read_text())
        key = key_for_seed(int(manifest["seed"]))
    pseudonymizer = Pseudonymizer(key)
    accounts = read_records(world_dir / "world" / "accounts.jsonl", Account).records
    proxies = tuple(trusted_proxies)
    portal = Portal(
        guard=guard,
        credentials=Credentials([a.account for a in accounts], secret, hasher or PasswordHasher()),
        patients=PatientRegister(world_dir, secret),
        clock=clock,
        audit=audit or (lambda event: None),
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        address=ClientAddress(proxies),
        secure_cookies=secure_cookies,
    )
    app = FastAPI(title="Reference patient-rights portal (Rempart testbed)")
    app.state.portal = portal
    app.add_exception_handler(RequestValidationError, _invalid_request)
    _endpoints(app, portal, pseudonymizer.pseudonym)
    if webhook_secret is not None:
        webhook.install(app, portal, webhook_secret)
    return _AuditedGuard(
        app,
        guard=guard,
        routes=_routes(portal.patients),
        identity=portal.identity,
        pseudonymize=pseudonymizer.pseudonym,
        clock=clock,
        audit=portal.audit,
        on_refusal=portal.on_refusal,
        challenges=portal.pending,
        trusted_proxies=proxies,
    )


def _endpoints(app: FastAPI, portal: Portal, pseudonymize: Callable[[str], str]) -> None:
    _account_endpoints(app, portal)
    _browser_endpoints(app, portal)
    _patient_endpoints(app, portal, pseudonymize)


def _request_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of an endpoint taking ``model`` as JSON or an HTML form."""
    schema = model.model_json_schema()
    form = {
        **schema,
        "properties": {
            **schema["properties"],
            "csrf": {"type": "string", "description": "the form's anti-forgery token"},
            "next": {"type": "string", "description": "a same-origin path to return to"},
        },
        "required": [*schema.get("required", []), "csrf"],
    }
    content = {"application/json": {"schema": schema}, forms.FORM_TYPE: {"schema": form}}
    return {"requestBody": {"required": True, "content": content}}


def _account_endpoints(app: FastAPI, portal: Portal) -> None:
    @app.post("/login", openapi_extra=_request_body(_Login))
    async def login(request: Request) -> Response:
        if forms.is_form(request):
            return await _login_form(portal, request)
        body = await _json_body(request, _Login)
        attempt = portal.sign_in(body.account, body.password, request)
        if attempt.decision is None:
            failed = JSONResponse({"error": "invalid_credentials"}, status_code=401)
            return _audit_account(failed, body.account)
        if attempt.session is None:
            return _audit_account(_denied(attempt.decision), body.account)
        response: Response = JSONResponse({"account": body.account})
        if attempt.challenged:
            response = JSONResponse(
                {"error": "step_up_required", "step_up": _STEP_UP_PATH}, status_code=401
            )
        _set_session(portal, request, response, attempt.session)
        return _audit_account(response, body.account)

    @app.post("/step-up", openapi_extra=_request_body(_StepUp))
    async def step_up(request: Request) -> Response:
        if forms.is_form(request):
            return await _step_up_form(portal, request)
        body = await _json_body(request, _StepUp)
        who = portal.identity(request.scope)
        if who is None:
            return JSONResponse({"error": "not_authenticated"}, status_code=401)
        account, session = who
        decision = portal.answer_step_up(account, session, body.code, request)
        if decision is None:
            return JSONResponse({"error": "no_pending_challenge"}, status_code=409)
        if decision.verdict is not Verdict.ALLOW:
            return _denied(decision)
        return JSONResponse({"status": "passed"})

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        who = portal.identity(request.scope)
        if who is not None:
            portal.decide(portal.account_event(EventKind.LOGOUT, who[0], request, who[1]))
            portal.revoke(who[1])
        response = JSONResponse({"status": "logged_out"})
        _delete_session(portal, request, response)
        return response

    @app.post("/password-reset", status_code=202)
    async def password_reset(body: _ResetRequest, request: Request) -> Response:
        event = portal.account_event(EventKind.PASSWORD_RESET_REQUEST, body.account, request)
        decision = portal.decide(event)
        if decision.verdict is Verdict.DENY:
            return _audit_account(_denied(decision), body.account)
        token = portal.issue_reset(body.account)  # the same work, known account or not
        # The same answer whether the account exists or not; the mail leaves after it.
        mail = None if token is None else BackgroundTask(portal.mail_reset, body.account, token)
        sent = JSONResponse({"status": "sent_if_known"}, status_code=202, background=mail)
        return _audit_account(sent, body.account)

    @app.post("/password-reset/confirm")
    async def password_reset_confirm(body: _ResetConfirm, request: Request) -> Response:
        account = portal.redeem_reset(body.token)
        if account is None:
            return JSONResponse({"error": "invalid_token"}, status_code=400)
        portal.credentials.set_password(account, body.password)
        portal.revoke_account(account)
        portal.decide(portal.account_event(EventKind.PASSWORD_RESET, account, request))
        return _audit_account(JSONResponse({"status": "password_changed"}), account)


def _patient_endpoints(app: FastAPI, portal: Portal, pseudonymize: Callable[[str], str]) -> None:
    @app.get("/patients")
    async def by_typed_nir(request: Request, nir: str = "", birth_date: str = "") -> Response:
        record = portal.patients.record_by_typed(nir, birth_date)
        return _record_response(request, record, pseudonymize)

    @app.get("/patients/search")
    async def search(surname: str = "", birth_date: str = "") -> Response:
        results = portal.patients.search(surname, birth_date)
        return JSONResponse({"results": results, "count": len(results)})

    @app.get("/patients/by-card/{card}")
    async def by_card(request: Request, card: str) -> Response:
        return _record_response(request, portal.patients.record_by_card(card), pseudonymize)

    @app.get("/patients/by-link/{ref}")
    async def by_link(request: Request, ref: str) -> Response:
        return _record_response(request, portal.patients.record_by_link(ref), pseudonymize)


def _secure(portal: Portal, request: Request) -> bool:
    """Whether cookies carry ``Secure``: as configured, else unless addressed to loopback."""
    if portal.secure_cookies is not None:
        return portal.secure_cookies
    return not _on_loopback(request)


def _set_session(portal: Portal, request: Request, response: Response, session: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session,
        httponly=True,
        samesite="strict",
        secure=_secure(portal, request),
    )


def _delete_session(portal: Portal, request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="strict", secure=_secure(portal, request)
    )


def _browser_endpoints(app: FastAPI, portal: Portal) -> None:
    @app.get("/")
    async def home(request: Request) -> Response:
        who = portal.identity(request.scope)
        if who is None:
            return _see_other("/login")
        return pages.home_page(account=who[0])

    @app.get("/login")
    async def login_page(request: Request, asked: _Next = "") -> Response:
        token = forms.login_token()
        response = pages.login_page(csrf=token, next_path=safe_return_path(asked) or "/")
        _set_login_token(response, token, secure=_secure(portal, request))
        return response

    @app.get(_STEP_UP_PATH)
    async def step_up_page(request: Request, asked: _Next = "") -> Response:
        next_path = safe_return_path(asked) or "/"
        who = portal.identity(request.scope)
        if who is None:
            return _see_other(_with_next("/login", next_path))
        account, session = who
        if session not in portal.pending:
            return _see_other(next_path)  # nothing to answer: straight back
        csrf = portal.csrf.for_session(session)
        return pages.step_up_page(account=account, csrf=csrf, next_path=next_path)


def _set_login_token(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        forms.LOGIN_CSRF_COOKIE,
        token,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


_BAD_FORM_FR: Final = "Formulaire invalide ou expiré : rechargez la page."
_BAD_FORM_EN: Final = "Invalid or expired form: reload the page."


async def _login_form(portal: Portal, request: Request) -> Response:
    """The sign-in form's post: 303 to ``next`` (or to the step-up page), else the form again."""
    form = await forms.read_form(request)
    if form is None:
        return pages.refused_page(_BAD_FORM_FR, _BAD_FORM_EN, status=400)
    next_path = safe_return_path(form.get("next")) or "/"
    cookie = request.cookies.get(forms.LOGIN_CSRF_COOKIE)
    if forms.cross_site(request) or not forms.login_token_valid(cookie, form.get("csrf", "")):
        return _cross_site_refusal()
    account = form.get("account", "").strip()
    password = form.get("password", "")
    csrf = cookie or ""
    if not 0 < len(account) <= 128 or len(password) > 256:
        return pages.login_page(
            csrf=csrf,
            next_path=next_path,
            account=account[:128],
            error="Identifiant ou mot de passe incorrect. · Wrong account or password.",
            status=400,
        )
    attempt = portal.sign_in(account, password, request)
    if attempt.decision is None:
        failed = pages.login_page(
            csrf=csrf,
            next_path=next_path,
            account=account,
            error="Identifiant ou mot de passe incorrect. · Wrong account or password.",
            status=401,
        )
        return _audit_account(failed, account)
    if attempt.session is None:
        refused = pages.refused_page(
            "Ce compte est bloqué par mesure de sécurité : contactez le support.",
            "This account is blocked for its protection: contact support.",
        )
        return _audit_account(refused, account)
    target = _with_next(_STEP_UP_PATH, next_path) if attempt.challenged else next_path
    response = _audit_account(_see_other(target), account)
    _set_session(portal, request, response, attempt.session)
    response.delete_cookie(
        forms.LOGIN_CSRF_COOKIE,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=_secure(portal, request),
    )
    return response


async def _step_up_form(portal: Portal, request: Request) -> Response:
    """The step-up form's post: 303 back to ``next`` when the code passes, else an error page.

    A malformed code (not 6 digits) shows the form again with the challenge
    still pending: it cannot be anyone's code, so it tells the guard nothing.
    A well-formed wrong code is a failed step-up, handled by the guard as
    for any client (session revoked, account locked by default).
    """
    form = await forms.read_form(request)
    if form is None:
        return pages.refused_page(_BAD_FORM_FR, _BAD_FORM_EN, status=400)
    next_path = safe_return_path(form.get("next")) or "/"
    who = portal.identity(request.scope)
    if who is None:
        return _see_other(_with_next("/login", next_path))
    account, session = who
    # Checked before the challenge is touched: a forged post must not spend it.
    if forms.cross_site(request) or not portal.csrf.valid(session, form.get("csrf", "")):
        return _cross_site_refusal()
    if session not in portal.pending:
        return _see_other(next_path)
    code = "".join(form.get("code", "").split())
    if _TOTP_CODE.fullmatch(code) is None:
        return pages.step_up_page(
            account=account,
            csrf=portal.csrf.for_session(session),
            next_path=next_path,
            error="Le code comporte 6 chiffres. · The code has 6 digits.",
            status=400,
        )
    decision = portal.answer_step_up(account, session, code, request)
    if decision is None:
        return _see_other(next_path)
    if decision.verdict is Verdict.ALLOW:
        return _see_other(next_path)
    locked = any(action.kind is ActionKind.LOCK_ACCOUNT for action in decision.actions)
    response = pages.step_up_failed_page(locked=locked)
    _delete_session(portal, request, response)
    return response
