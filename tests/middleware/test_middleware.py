"""GuardMiddleware: route matching, a decision before the app runs, refusals, the audit trail."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rempart.directory import Account, Profession
from rempart.events import DataCategory, Event, EventKind, Lookup, Outcome
from rempart.guard import Guard, Knowledge
from rempart.middleware import (
    MAX_RETURN_PATH,
    GuardMiddleware,
    Route,
    Scope,
    Target,
    safe_return_path,
)
from rempart.pseudonym import Pseudonymizer, is_pseudonym
from rempart.secret import Secret
from rempart.testing import make_event

T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
NIR = "253072B07300470"  # a valid NIR: must never leave the middleware in clear
MISSING_NIR = "189057511301136"
HOME = "90.12.34.56"
PSEUDONYMIZER = Pseudonymizer(Secret(b"0123456789abcdef"))
CATEGORIES = (DataCategory.IDENTITY, DataCategory.NIR, DataCategory.RIGHTS)
SESSIONS = {"cookie-s1": ("A1", "s1"), "cookie-stolen": ("A1", "s-stolen")}


class Portal:
    """A stand-in portal app that records which requests reached it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.calls.append(scope["path"])
        missing = MISSING_NIR in scope.get("query_string", b"").decode()
        status = 404 if missing else 200
        body = b'{"error":"not_found"}' if missing else b'{"patient":"data"}'
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"x-app", b"yes")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _identity(scope: Scope) -> tuple[str, str] | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return SESSIONS.get(value.decode())
    return None


ROUTES = (
    Route(
        "GET",
        "/patients",
        EventKind.RECORD_VIEW,
        Lookup.TYPED_NIR,
        CATEGORIES,
        lambda target: target.query.get("nir"),
    ),
    Route(
        "GET",
        "/patients/by-card/{card}",
        EventKind.RECORD_VIEW,
        Lookup.CARD,
        CATEGORIES,
        lambda target: NIR if target.path_params["card"] == "C1" else None,
    ),
)


class Harness:
    """A guard, the stand-in portal behind the middleware, and the audit log."""

    def __init__(self, *, trusted_proxies: tuple[str, ...] = ()) -> None:
        account = Account(account="A1", profession=Profession.PHARMACIST, site="S1")
        self.guard = Guard(Knowledge(accounts={"A1": account}, sites={}))
        self.portal = Portal()
        self.audit: list[Event] = []
        self.refusals: list[str] = []
        self.app = GuardMiddleware(
            self.portal,
            guard=self.guard,
            routes=ROUTES,
            identity=_identity,
            pseudonymize=PSEUDONYMIZER.pseudonym,
            clock=lambda: T0,
            audit=self.audit.append,
            on_refusal=lambda event, decision: self.refusals.append(decision.verdict.value),
            trusted_proxies=trusted_proxies,
        )

    def login(self, session: str = "s1") -> None:
        """Tell the guard that ``session`` logged in from home."""
        self.guard.decide(
            make_event(kind="login_success", account="A1", session=session, ip=HOME, time=T0)
        )

    def get(
        self, path: str, *, session: str | None = "cookie-s1", **headers: str
    ) -> httpx.Response:
        """One GET through the middleware from the home address."""
        if session is not None:
            headers["authorization"] = session

        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(HOME, 40_000))
            async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
                return await client.get(path, headers=headers)

        return asyncio.run(send())


@pytest.fixture
def harness() -> Harness:
    """A fresh guard and portal for each test."""
    return Harness()


def test_unmatched_path_passes_through_untouched(harness: Harness) -> None:
    """A path no route declares reaches the app as is, with no decision and no audit event."""
    response = harness.get("/help", session=None)
    assert response.status_code == 200
    assert response.headers["x-app"] == "yes"
    assert harness.portal.calls == ["/help"]
    assert harness.audit == []


def test_other_method_on_a_route_path_is_not_guarded(harness: Harness) -> None:
    """Routes match on method and path: a POST to a GET route passes through."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=harness.app, client=(HOME, 40_000))
        async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
            return await client.post("/patients")

    assert asyncio.run(send()).status_code == 200
    assert harness.audit == []


def test_allowed_read_reaches_the_app_and_is_audited(harness: Harness) -> None:
    """An allowed typed-NIR read is served and audited with the pseudonym and categories."""
    harness.login()
    response = harness.get(f"/patients?nir={NIR}&birth_date=1953-07-01")
    assert response.status_code == 200
    assert harness.portal.calls == ["/patients"]
    (event,) = harness.audit
    assert event.kind is EventKind.RECORD_VIEW
    assert event.lookup is Lookup.TYPED_NIR
    assert event.subject == PSEUDONYMIZER.pseudonym(NIR)
    assert event.categories == CATEGORIES
    assert event.outcome is Outcome.SUCCESS
    assert (event.account, event.session, event.ip, event.time) == ("A1", "s1", HOME, T0)


def test_path_parameter_carries_the_patient(harness: Harness) -> None:
    """A route's path parameter designates the patient through ``subject_from``."""
    harness.login()
    assert harness.get("/patients/by-card/C1").status_code == 200
    assert harness.audit[0].subject == PSEUDONYMIZER.pseudonym(NIR)
    assert harness.audit[0].lookup is Lookup.CARD


def test_app_404_is_recorded_as_not_found(harness: Harness) -> None:
    """The outcome comes from the app's answer: a 404 is audited as not_found, no categories."""
    harness.login()
    assert harness.get(f"/patients?nir={MISSING_NIR}").status_code == 404
    (event,) = harness.audit
    assert event.outcome is Outcome.NOT_FOUND
    assert event.categories == ()


def test_invalid_nir_is_a_miss_without_a_subject(harness: Harness) -> None:
    """An invalid typed NIR designates nobody: no subject, outcome not_found, no error."""
    harness.login()
    harness.get("/patients?nir=123")
    (event,) = harness.audit
    assert event.subject is None
    assert event.outcome is Outcome.NOT_FOUND


def test_unauthenticated_read_is_refused_before_the_app(harness: Harness) -> None:
    """A protected route without an identity is a 401 and never reaches the app."""
    response = harness.get(f"/patients?nir={NIR}", session=None)
    assert response.status_code == 401
    assert response.json() == {"error": "not_authenticated"}
    assert harness.portal.calls == []


def test_challenge_answers_401_step_up_and_app_never_runs(harness: Harness) -> None:
    """A read from a session that never logged in is challenged: 401 step-up JSON, app not run."""
    response = harness.get(f"/patients?nir={NIR}", session="cookie-stolen")
    assert response.status_code == 401
    assert response.json() == {"error": "step_up_required", "step_up": "/step-up"}
    assert harness.portal.calls == []
    assert harness.refusals == ["challenge"]
    (event,) = harness.audit
    assert event.outcome is Outcome.REFUSED
    assert event.categories == ()


def _next_of(location: str) -> str:
    """The ``next`` a step-up location carries (decoded once, as the page reads it)."""
    parts = urlsplit(location)
    assert parts.path == "/step-up"
    (target,) = parse_qs(parts.query)["next"]
    return target


def test_challenge_redirects_a_browser_to_the_step_up_page(harness: Harness) -> None:
    """A browser asking for HTML gets a 303 to the step-up page, the page it asked for in next."""
    asked = f"/patients?nir={NIR}&birth_date=1953-07-01"
    response = harness.get(asked, session="cookie-stolen", accept="text/html")
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/step-up?next=/patients%3Fnir%3D{NIR}%26birth_date%3D1953-07-01"
    )
    assert _next_of(response.headers["location"]) == asked
    assert harness.portal.calls == []


def test_return_target_is_the_url_exactly_as_the_browser_sent_it(harness: Harness) -> None:
    """Percent-encodings in the path and query survive the round trip through next unchanged."""
    asked = f"/patients?nir={NIR}&note=caf%C3%A9%20cr%C3%A8me&x=a%2Bb%26c"
    response = harness.get(asked, session="cookie-stolen", accept="text/html")
    assert _next_of(response.headers["location"]) == asked
    assert safe_return_path(asked) == asked


def test_overlong_return_target_falls_back_to_the_bare_step_up_page(harness: Harness) -> None:
    """A target past MAX_RETURN_PATH is not carried: the 303 goes to the step-up page alone."""
    response = harness.get(
        f"/patients?nir={NIR}&pad={'a' * MAX_RETURN_PATH}",
        session="cookie-stolen",
        accept="text/html",
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/step-up"


def test_challenged_post_is_sent_to_the_step_up_page_without_a_target() -> None:
    """A challenged POST cannot be replayed by a redirect, so its 303 carries no next."""
    harness = Harness()
    harness.app = GuardMiddleware(
        harness.portal,
        guard=harness.guard,
        routes=[Route("POST", "/export", EventKind.SEARCH, Lookup.SEARCH, ())],
        identity=_identity,
        pseudonymize=PSEUDONYMIZER.pseudonym,
        clock=lambda: T0,
    )

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=harness.app, client=(HOME, 40_000))
        async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
            return await client.post(
                "/export?all=1", headers={"authorization": "cookie-stolen", "accept": "text/html"}
            )

    response = asyncio.run(send())
    assert response.status_code == 303
    assert response.headers["location"] == "/step-up"


def test_browser_challenge_keeps_the_clear_nir_out_of_the_audit(harness: Harness) -> None:
    """The typed NIR goes back to the browser in next, and nowhere else: not in the audit events."""
    harness.get(f"/patients?nir={NIR}", session="cookie-stolen", accept="text/html")
    (event,) = harness.audit
    assert NIR not in json.dumps(event.to_dict())


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/patients?nir=253072B07300470&birth_date=1953-07-01",
        "/patients/by-card/c1",
        "/a%2F%2Fevil.example",
        "/search?q=a:b@c",
        "/" + "a" * (MAX_RETURN_PATH - 1),
    ],
)
def test_same_origin_paths_are_accepted_as_return_targets(target: str) -> None:
    """A path on the portal itself, percent-encoded, within the length bound, is kept as is."""
    assert safe_return_path(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "//evil.example",
        "//evil.example/patients",
        "///evil.example",
        "https://evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example/patients",
        "patients",
        "/\\evil.example",
        "/\\/evil.example",
        "\\\\evil.example",
        "/patients\\..\\x",
        "/a\r\nSet-Cookie: x=1",
        "/a\x00b",
        "/a\tb",
        "/a\x7fb",
        " /patients",
        "/a b",
        "/caf\u00e9",
        "/" + "a" * MAX_RETURN_PATH,
    ],
)
def test_open_redirect_targets_are_refused(target: str | None) -> None:
    """Other hosts and schemes, backslashes, control or non-ASCII characters, overlong: refused."""
    assert safe_return_path(target) is None


@given(st.text(max_size=60))
def test_an_accepted_return_target_never_leaves_the_portal(target: str) -> None:
    """Whatever text is accepted, resolving it against the portal's URL stays on the portal."""
    accepted = safe_return_path(target)
    if accepted is not None:
        resolved = urlsplit(urljoin("https://portal.example/step-up", accepted))
        assert (resolved.scheme, resolved.netloc) == ("https", "portal.example")


@given(st.text(alphabet=st.sampled_from("/\\:.@?#%evil"), max_size=12))
def test_no_slash_and_backslash_mix_reaches_another_host(target: str) -> None:
    """Strings made of the characters open redirects are built from never pass as a target."""
    accepted = safe_return_path(target)
    if accepted is not None:
        assert accepted.startswith("/")
        assert not accepted.startswith("//")
        assert "\\" not in accepted


def test_deny_answers_403_with_reason_codes_and_app_never_runs(harness: Harness) -> None:
    """A locked account's read is denied before the app runs: 403 with the reason codes."""
    harness.login()
    harness.guard.step_up(make_event(account="A1", session="s1", time=T0), passed=False)
    response = harness.get(f"/patients?nir={NIR}")
    assert response.status_code == 403
    assert response.json() == {"error": "denied", "reasons": ["account_locked"]}
    assert harness.portal.calls == []
    assert harness.refusals == ["deny"]


def test_deny_page_for_a_browser(harness: Harness) -> None:
    """A browser gets a plain HTML error page naming the reason."""
    harness.login()
    harness.guard.step_up(make_event(account="A1", session="s1", time=T0), passed=False)
    response = harness.get(f"/patients?nir={NIR}", accept="text/html")
    assert response.status_code == 403
    assert "account_locked" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_clear_nir_never_leaves_the_middleware(harness: Harness) -> None:
    """Neither the audit events, nor the decisions' reasons, nor error bodies hold the clear NIR."""
    harness.login()
    bodies = [harness.get(f"/patients?nir={NIR}&birth_date=1953-07-01").text]
    bodies.append(harness.get(f"/patients?nir={NIR}", session="cookie-stolen").text)
    harness.guard.step_up(make_event(account="A1", session="s1", time=T0), passed=False)
    bodies.append(harness.get(f"/patients?nir={NIR}").text)
    audit = json.dumps([event.to_dict() for event in harness.audit])
    assert len(harness.audit) == 3
    assert all(
        is_pseudonym(event.subject or "ps_") or event.subject is None for event in harness.audit
    )
    for text in (audit, *bodies[1:]):
        assert NIR not in text
        assert "253072" not in text


@pytest.mark.parametrize(
    ("proxies", "expected"),
    [((), HOME), ((HOME,), "10.0.0.1"), ((HOME, "10.0.0.0/8"), "203.0.113.7")],
)
def test_forwarded_address_only_from_trusted_proxies(
    proxies: tuple[str, ...], expected: str
) -> None:
    """X-Forwarded-For is read from the right, past the trusted proxies only."""
    harness = Harness(trusted_proxies=proxies)
    harness.login()
    harness.get(f"/patients?nir={NIR}", **{"x-forwarded-for": "203.0.113.7, 10.0.0.1"})
    assert harness.audit[0].ip == expected


def test_route_matching_is_anchored() -> None:
    """A pattern matches whole paths only, one segment per parameter."""
    route = ROUTES[1]
    assert route.match("/patients/by-card/C1") == {"card": "C1"}
    assert route.match("/patients/by-card/C1/x") is None
    assert route.match("/patients/by-card/") is None
    assert route.match("/api/patients/by-card/C1") is None


def test_subject_from_sees_path_parameters_and_query() -> None:
    """``subject_from`` receives the path parameters and the decoded query string."""
    seen: list[Target] = []

    def subject_from(target: Target) -> str | None:
        seen.append(target)
        return None

    harness = Harness()
    harness.app = GuardMiddleware(
        harness.portal,
        guard=harness.guard,
        routes=[Route("GET", "/x/{a}", EventKind.SEARCH, Lookup.SEARCH, (), subject_from)],
        identity=_identity,
        pseudonymize=PSEUDONYMIZER.pseudonym,
        clock=lambda: T0,
    )
    harness.login()
    harness.get("/x/1?q=a%20b")
    assert seen == [Target(path_params={"a": "1"}, query={"q": "a b"})]
