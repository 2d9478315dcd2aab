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

Account events (logins, step-ups, resets) are decided by the guard and
recorded here; patient reads are decided and recorded by `GuardMiddleware`.
Every audit event goes to ``audit`` in Rempart's event format.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
import smtplib
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Final

from argon2 import PasswordHasher
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser

from rempart.directory import Account
from rempart.events import Event, EventKind, Lookup
from rempart.guard.decision import ActionKind, Decision, Verdict
from rempart.guard.guard import Guard
from rempart.ingestion import read_records
from rempart.middleware import GuardMiddleware, Identity, Route, Scope
from rempart.pseudonym import Pseudonymizer
from rempart.secret import Secret
from rempart.testbed.portal.credentials import Credentials, account_email
from rempart.testbed.portal.patients import (
    RECORD_CATEGORIES,
    SEARCH_CATEGORIES,
    PatientRegister,
)
from rempart.testbed.simulate import key_for_seed

__all__ = ["SESSION_COOKIE", "Portal", "create_portal"]

SESSION_COOKIE: Final = "portal_session"
_RESET_TTL: Final = timedelta(minutes=30)
_SENDER: Final = "AmeliPro testbed <no-reply@portal.rempart.test>"
_UNKNOWN_ADDRESS: Final = "0.0.0.0"  # noqa: S104 (a placeholder value, never bound)


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


def _address(request: Request) -> str:
    host = request.client.host if request.client else _UNKNOWN_ADDRESS
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return _UNKNOWN_ADDRESS


def _not_found() -> JSONResponse:
    return JSONResponse({"error": "not_found"}, status_code=404)


def _denied(decision: Decision) -> JSONResponse:
    return JSONResponse(
        {"error": "denied", "reasons": [reason.code for reason in decision.reasons]},
        status_code=403,
    )


class Portal:
    """The portal's state: accounts, sessions, pending challenges, reset tokens, patients."""

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
    ) -> None:
        self.guard = guard
        self.credentials = credentials
        self.patients = patients
        self.clock = clock
        self.audit = audit
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.sessions: dict[str, str] = {}  # session -> account
        self.pending: dict[str, Event] = {}  # session -> the challenged event
        self._resets: dict[str, tuple[str, datetime]] = {}  # sha256(token) -> account, expiry

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

    def revoke(self, session: str) -> None:
        """End one session."""
        self.sessions.pop(session, None)
        self.pending.pop(session, None)

    def revoke_account(self, account: str) -> None:
        """End every session of an account."""
        for session in [s for s, a in self.sessions.items() if a == account]:
            self.revoke(session)

    def on_refusal(self, event: Event, decision: Decision) -> None:
        """Keep a challenged event for the step-up flow; carry out the guard's containment."""
        if decision.verdict is Verdict.CHALLENGE and event.session is not None:
            self.pending[event.session] = event
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
            ip=_address(request),
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

    def issue_reset(self, account: str) -> str:
        """A fresh single-use reset token for ``account``."""
        token = secrets.token_urlsafe(24)
        digest = hashlib.sha256(token.encode()).hexdigest()
        self._resets[digest] = (account, self.clock() + _RESET_TTL)
        return token

    def redeem_reset(self, token: str) -> str | None:
        """The account a valid, unexpired token resets (the token is then spent)."""
        entry = self._resets.pop(hashlib.sha256(token.encode()).hexdigest(), None)
        if entry is None or entry[1] < self.clock():
            return None
        return entry[0]

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
    trust_forwarded: bool = False,
) -> GuardMiddleware:
    """The portal over the simulated world in ``world_dir``, wrapped by `GuardMiddleware`.

    ``world_dir`` is a `rempart simulate` output (``world/``, ``identities/``,
    ``manifest.json``). ``secret`` derives the testbed passwords, TOTP
    secrets, card numbers and links; ``key`` is the world's pseudonym key
    (by default the simulator's key for the manifest's seed). The `Portal`
    state is at ``app.app.state.portal``.
    """
    if key is None:
        manifest = json.loads((world_dir / "manifest.json").read_text())
        key = key_for_seed(int(manifest["seed"]))
    pseudonymizer = Pseudonymizer(key)
    accounts = read_records(world_dir / "world" / "accounts.jsonl", Account).records
    portal = Portal(
        guard=guard,
        credentials=Credentials([a.account for a in accounts], secret, hasher or PasswordHasher()),
        patients=PatientRegister(world_dir, secret),
        clock=clock,
        audit=audit or (lambda event: None),
        smtp_host=smtp_host,
        smtp_port=smtp_port,
    )
    app = FastAPI(title="Reference patient-rights portal (Rempart testbed)")
    app.state.portal = portal
    _endpoints(app, portal)
    return GuardMiddleware(
        app,
        guard=guard,
        routes=_routes(portal.patients),
        identity=portal.identity,
        pseudonymize=pseudonymizer.pseudonym,
        clock=clock,
        audit=portal.audit,
        on_refusal=portal.on_refusal,
        trust_forwarded=trust_forwarded,
    )


def _endpoints(app: FastAPI, portal: Portal) -> None:
    @app.post("/login")
    async def login(body: _Login, request: Request) -> Response:
        if not portal.credentials.verify(body.account, body.password):
            decision = portal.decide(
                portal.account_event(EventKind.LOGIN_FAILURE, body.account, request)
            )
            if decision.verdict is Verdict.DENY:
                return _denied(decision)
            return JSONResponse({"error": "invalid_credentials"}, status_code=401)
        session = secrets.token_urlsafe(18)
        event = portal.account_event(EventKind.LOGIN_SUCCESS, body.account, request, session)
        decision = portal.decide(event)
        if decision.verdict is Verdict.DENY:
            return _denied(decision)
        portal.sessions[session] = body.account
        if decision.verdict is Verdict.CHALLENGE:
            portal.pending[session] = event
            response: Response = JSONResponse(
                {"error": "step_up_required", "step_up": "/step-up"}, status_code=401
            )
        else:
            response = JSONResponse({"account": body.account})
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict")
        return response

    @app.post("/step-up")
    async def step_up(body: _StepUp, request: Request) -> Response:
        who = portal.identity(request.scope)
        if who is None:
            return JSONResponse({"error": "not_authenticated"}, status_code=401)
        account, session = who
        challenged = portal.pending.pop(session, None)
        if challenged is None:
            return JSONResponse({"error": "no_pending_challenge"}, status_code=409)
        passed = portal.credentials.verify_totp(account, body.code, portal.clock())
        kind = EventKind.MFA_SUCCESS if passed else EventKind.MFA_FAILURE
        portal.audit(portal.account_event(kind, account, request, session))
        decision = portal.guard.step_up(challenged, passed=passed)
        portal.contain(decision)
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
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.post("/password-reset", status_code=202)
    async def password_reset(body: _ResetRequest, request: Request) -> Response:
        event = portal.account_event(EventKind.PASSWORD_RESET_REQUEST, body.account, request)
        decision = portal.decide(event)
        if decision.verdict is Verdict.DENY:
            return _denied(decision)
        if body.account in portal.credentials:
            token = portal.issue_reset(body.account)
            await run_in_threadpool(portal.send_reset, body.account, token)
        # The same answer whether the account exists or not.
        return JSONResponse({"status": "sent_if_known"}, status_code=202)

    @app.post("/password-reset/confirm")
    async def password_reset_confirm(body: _ResetConfirm, request: Request) -> Response:
        account = portal.redeem_reset(body.token)
        if account is None:
            return JSONResponse({"error": "invalid_token"}, status_code=400)
        portal.credentials.set_password(account, body.password)
        portal.revoke_account(account)
        portal.decide(portal.account_event(EventKind.PASSWORD_RESET, account, request))
        return JSONResponse({"status": "password_changed"})

    @app.get("/patients")
    async def by_typed_nir(nir: str = "", birth_date: str = "") -> Response:
        record = portal.patients.record_by_typed(nir, birth_date)
        return JSONResponse(record) if record is not None else _not_found()

    @app.get("/patients/search")
    async def search(surname: str = "", birth_date: str = "") -> Response:
        results = portal.patients.search(surname, birth_date)
        return JSONResponse({"results": results, "count": len(results)})

    @app.get("/patients/by-card/{card}")
    async def by_card(card: str) -> Response:
        record = portal.patients.record_by_card(card)
        return JSONResponse(record) if record is not None else _not_found()

    @app.get("/patients/by-link/{ref}")
    async def by_link(ref: str) -> Response:
        record = portal.patients.record_by_link(ref)
        return JSONResponse(record) if record is not None else _not_found()
