"""Issue #9, the portal's rows: sessions, TOTP, resets, cookies, forwarded headers, 422 bodies."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pyotp
import pytest

from rempart.events import EventKind
from rempart.guard import Guard, Knowledge
from rempart.middleware import GuardMiddleware
from rempart.testbed.portal import Portal, create_portal, credentials
from rempart.testbed.portal import app as portal_app
from tests.portal.world import FAST_HASHER, HOME, SECRET, T0, Clock

ACCOUNT = "A000001"  # a pharmacist
PASSWORD = credentials.testbed_password(SECRET, ACCOUNT)
HOSTING = "51.75.3.7"  # OVH: a rented server, where the 2022 robot read from
PROXY = "10.0.0.1"
LOOPBACK = "http://127.0.0.1"


@pytest.fixture(scope="module")
def patients(world_dir: Path) -> list[dict[str, str]]:
    """Real (non-canary) patients of the world: NIR and birth date."""
    table = pq.read_table(
        world_dir / "identities" / "identities.parquet", columns=["nir", "birth_date", "canary"]
    ).to_pylist()
    return [
        {"nir": row["nir"], "birth_date": row["birth_date"].isoformat()}
        for row in table
        if not row["canary"]
    ][:60]


def _closed_port() -> int:
    """A loopback port nothing listens on: the portal's SMTP relay is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class World:
    """A fresh guard and portal over the shared world, with its clock and audit log."""

    def __init__(self, world_dir: Path, knowledge: Knowledge, **options: Any) -> None:
        self.clock = Clock(T0)
        self.guard = Guard(knowledge)
        self.audit: list[Any] = []
        self.app: GuardMiddleware = create_portal(
            world_dir,
            guard=self.guard,
            smtp_host="127.0.0.1",
            smtp_port=_closed_port(),
            secret=SECRET,
            clock=self.clock,
            hasher=FAST_HASHER,
            audit=self.audit.append,
            **options,
        )
        self.portal: Portal = self.app.app.state.portal  # type: ignore[attr-defined]

    def browser(self, address: str = HOME, base_url: str = LOOPBACK) -> Browser:
        """A client with its own cookie jar, connecting from ``address``."""
        return Browser(self.app, address, base_url)


class Browser:
    """One client of the portal: its address, its cookies."""

    def __init__(self, app: GuardMiddleware, address: str, base_url: str) -> None:
        self.app = app
        self.address = address
        self.base_url = base_url
        self.cookies = httpx.Cookies()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, keeping the cookies the portal sets (as a browser would for this URL)."""

        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(self.address, 40_000))
            async with httpx.AsyncClient(
                transport=transport, base_url=self.base_url, cookies=self.cookies
            ) as client:
                response = await client.request(method, path, **kwargs)
                self.cookies = client.cookies
                return response

        return asyncio.run(send())

    def login(self, password: str = PASSWORD) -> httpx.Response:
        """Sign in to the test account."""
        return self.request("POST", "/login", json={"account": ACCOUNT, "password": password})

    def login_with(self, headers: dict[str, str]) -> httpx.Response:
        """Sign in to the test account with extra request headers."""
        return self.request(
            "POST", "/login", json={"account": ACCOUNT, "password": PASSWORD}, headers=headers
        )

    def read(self, patient: dict[str, str]) -> httpx.Response:
        """Look a patient up by typed NIR and birth date."""
        return self.request("GET", "/patients", params=patient)


@pytest.fixture
def world(world_dir: Path, knowledge: Knowledge) -> World:
    """A fresh portal with default options."""
    return World(world_dir, knowledge)


def _read_until_challenged(
    world: World, browser: Browser, patients: list[dict[str, str]]
) -> list[dict[str, str]]:
    """Read patients at a robot's pace until the guard challenges; the patients served before."""
    served = []
    for patient in patients:
        world.clock.advance(2)
        response = browser.read(patient)
        if response.status_code == 401:
            assert response.json()["error"] == "step_up_required"
            return served
        assert response.status_code == 200
        served.append(patient)
    pytest.fail("the guard never challenged")


def _code(world: World) -> str:
    return pyotp.TOTP(credentials.testbed_totp_secret(SECRET, ACCOUNT)).at(world.clock())


# -- a challenge stops the session ------------------------------------------------------


def test_a_challenged_session_is_served_nothing_until_step_up(
    world: World, patients: list[dict[str, str]]
) -> None:
    """After the first challenge, even a patient the session already read (which the guard
    explains as seen before) is refused, until step-up passes."""
    robot = world.browser(HOSTING)
    assert robot.login().status_code == 200
    served = _read_until_challenged(world, robot, patients)
    assert served
    for patient in [*served, *patients[len(served) + 1 : len(served) + 30]]:
        world.clock.advance(2)
        answer = robot.read(patient)
        assert answer.status_code in (401, 403), patient
        assert "nir" not in answer.text
        if answer.status_code == 401 and "not_authenticated" in answer.text:
            break  # the guard revoked the session: still nothing served
    kinds = [event.kind for event in world.audit]
    assert EventKind.MFA_SUCCESS not in kinds


def test_a_passed_step_up_opens_the_session_again(
    world: World, patients: list[dict[str, str]]
) -> None:
    """The owner who passes step-up reads again on the same session, already-read patients too."""
    owner = world.browser(HOME)
    assert owner.login().status_code == 200
    served = _read_until_challenged(world, owner, patients)
    world.clock.advance(2)
    assert owner.read(served[0]).status_code == 401  # still challenged
    assert owner.request("POST", "/step-up", json={"code": _code(world)}).status_code == 200
    assert owner.read(served[0]).status_code == 200


def test_a_totp_code_passes_step_up_once(world: World, patients: list[dict[str, str]]) -> None:
    """The code that passed step-up on one session is refused on another (RFC 6238 §5.2)."""
    first, second = world.browser(HOME), world.browser(HOME)
    assert first.login().status_code == 200
    _read_until_challenged(world, first, patients[:30])
    assert second.login().status_code == 200
    _read_until_challenged(world, second, patients[30:])
    code = _code(world)
    assert first.request("POST", "/step-up", json={"code": code}).status_code == 200
    replayed = second.request("POST", "/step-up", json={"code": code})
    assert replayed.status_code == 403
    assert replayed.json()["reasons"] == ["step_up_failed"]


def test_a_totp_code_is_refused_on_the_same_session_too() -> None:
    """`Credentials.verify_totp` accepts each time step once, and no earlier one after it."""
    store = credentials.Credentials([ACCOUNT], SECRET, FAST_HASHER)
    totp = store.totp(ACCOUNT)
    assert store.verify_totp(ACCOUNT, totp.at(T0), T0)
    assert not store.verify_totp(ACCOUNT, totp.at(T0), T0)
    earlier = T0.timestamp() - 30
    assert not store.verify_totp(ACCOUNT, totp.at(earlier), T0)  # within the drift, but older
    later = T0.timestamp() + 30
    assert store.verify_totp(ACCOUNT, totp.at(later), T0)


# -- password reset ---------------------------------------------------------------------


def test_reset_requests_do_the_same_work_for_known_and_unknown_accounts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A known and an unknown account each cost one reset token drawn and hashed, and neither
    answer waits on the mail (here the SMTP relay is down: both still answer 202)."""
    digests: list[str] = []
    real: Callable[[str], str] = portal_app._reset_digest

    def counted(token: str) -> str:
        digests.append(token)
        return real(token)

    monkeypatch.setattr(portal_app, "_reset_digest", counted)
    client = world.browser()
    answers = []
    for account in (ACCOUNT, "Z999999"):
        before = len(digests)
        answer = client.request("POST", "/password-reset", json={"account": account})
        answers.append((answer.status_code, answer.json(), len(digests) - before))
    assert answers == [(202, {"status": "sent_if_known"}, 1)] * 2


def test_a_reset_spends_every_other_outstanding_token(world: World) -> None:
    """Of two reset tokens sent to an account, using one makes the other worthless."""
    first = world.portal.issue_reset(ACCOUNT)
    second = world.portal.issue_reset(ACCOUNT)
    assert first is not None
    assert second is not None
    client = world.browser()
    confirm = {"token": first, "password": "the owner's new passphrase"}
    assert client.request("POST", "/password-reset/confirm", json=confirm).status_code == 200
    stolen = {"token": second, "password": "the thief's own passphrase"}
    assert client.request("POST", "/password-reset/confirm", json=stolen).status_code == 400
    assert client.login("the thief's own passphrase").status_code == 401


# -- cookies ----------------------------------------------------------------------------


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    return {
        header.split("=", 1)[0]: header.lower()
        for header in response.headers.get_list("set-cookie")
    }


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [
        ("https://portal.example", True),
        ("http://portal.example", True),  # behind a proxy ending TLS, the browser sees https
        (LOOPBACK, False),
        ("http://localhost:8000", False),
        ("http://[::1]:8000", False),
    ],
)
def test_cookies_are_secure_outside_loopback(world: World, base_url: str, secure: bool) -> None:
    """Session and sign-in form cookies carry ``Secure`` unless the portal is on loopback."""
    client = world.browser(base_url=base_url)
    login = client.login()
    assert login.status_code == 200
    form = client.request("GET", "/login")
    cookies = {**_set_cookies(login), **_set_cookies(form)}
    assert set(cookies) == {"portal_session", "portal_login_csrf"}
    for header in cookies.values():
        assert ("; secure" in header) is secure, header
        assert "httponly" in header
        assert "samesite=strict" in header


def test_secure_cookies_can_be_forced(world_dir: Path, knowledge: Knowledge) -> None:
    """``secure_cookies=True`` sets ``Secure`` on loopback too (a TLS test rig)."""
    forced = World(world_dir, knowledge, secure_cookies=True)
    login = forced.browser().login()
    assert "; secure" in _set_cookies(login)["portal_session"]


# -- forwarded headers ------------------------------------------------------------------


def test_forwarded_headers_are_believed_only_from_the_configured_proxy(
    world_dir: Path, knowledge: Knowledge
) -> None:
    """Password guessing straight at the portal with a new X-Forwarded-For each time is seen
    from its real address and banned; through the proxy, the proxy's own entry is believed."""
    world = World(world_dir, knowledge, trusted_proxies=[PROXY])
    attacker = world.browser("203.0.113.50")
    statuses = []
    for guess in range(40):
        world.clock.advance(5)
        spoofed = {"x-forwarded-for": f"198.51.100.{guess + 1}"}
        answer = attacker.request(
            "POST", "/login", json={"account": ACCOUNT, "password": "x"}, headers=spoofed
        )
        statuses.append(answer.status_code)
    assert 403 in statuses  # the address was banned
    assert {event.ip for event in world.audit} == {"203.0.113.50"}
    via_proxy = world.browser(PROXY)
    via_proxy.request(
        "POST",
        "/login",
        json={"account": ACCOUNT, "password": "x"},
        headers={"x-forwarded-for": "192.0.2.1, 90.12.34.77"},  # forged entry, then the proxy's
    )
    assert world.audit[-1].ip == "90.12.34.77"


def test_forwarded_headers_are_ignored_without_proxies(
    world: World, patients: list[dict[str, str]]
) -> None:
    """With no proxy configured, reads and logins are both recorded from the peer's address."""
    client = world.browser(HOME)
    headers = {"x-forwarded-for": "198.51.100.1"}
    client.request(
        "POST", "/login", json={"account": ACCOUNT, "password": PASSWORD}, headers=headers
    )
    client.request("GET", "/patients", params=patients[0], headers=headers)
    assert [event.ip for event in world.audit] == [HOME, HOME]


# -- 422 --------------------------------------------------------------------------------

SECRET_VALUE = "hunter2-TOP-SECRET"  # noqa: S105 (a test value)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/password-reset/confirm", {"token": "t", "password": SECRET_VALUE[:11]}),
        ("/password-reset/confirm", {"token": SECRET_VALUE * 10, "password": "x" * 20}),
        ("/login", {"account": ACCOUNT, "password": SECRET_VALUE * 20}),
        ("/login", {"account": ACCOUNT, "password": [SECRET_VALUE]}),
        ("/step-up", {"code": SECRET_VALUE}),
        ("/password-reset", {"account": SECRET_VALUE * 10}),
    ],
)
def test_422_names_the_field_but_never_echoes_the_value(
    world: World, path: str, body: dict[str, Any]
) -> None:
    """A rejected body is a 422 with the type and place of the error, without the value sent."""
    answer = world.browser().request("POST", path, json=body)
    assert answer.status_code == 422
    assert SECRET_VALUE[:11] not in answer.text
    detail = answer.json()["detail"]
    assert detail
    assert all(set(item) == {"type", "loc", "msg"} for item in detail)
    assert detail[0]["loc"][0] == "body"
