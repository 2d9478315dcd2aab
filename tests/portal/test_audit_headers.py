"""The portal's audit headers: who acted (X-Audit-Account), whose record left (X-Audit-Subject)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from importlib import resources
from pathlib import Path

import httpx
import msgspec

from rempart.events import Event, EventKind
from rempart.ingestion.logs import LogLine
from rempart.ingestion.logs.access import AccessLogParser
from rempart.ingestion.logs.routes import RouteTable
from rempart.pseudonym import Pseudonymizer
from rempart.testbed.portal import SESSION_COOKIE, credentials
from rempart.testbed.simulate import key_for_seed

from .world import BROWSER, HOME, SECRET, PortalClient

ACCOUNT = "A000001"
PASSWORD = credentials.testbed_password(SECRET, ACCOUNT)


def _login(client: PortalClient, password: str = PASSWORD) -> httpx.Response:
    return client.request("POST", "/login", json={"account": ACCOUNT, "password": password})


def _read(client: PortalClient, patient: dict[str, str], birth_date: str = "") -> httpx.Response:
    params = {"nir": patient["nir"], "birth_date": birth_date or patient["birth_date"]}
    return client.request("GET", "/patients", params=params)


def test_login_names_the_account_whether_it_succeeds_or_fails(
    portal_client: PortalClient,
) -> None:
    """A sign-in's answer names the account it tried, on a wrong password as on success."""
    failed = _login(portal_client, "not-the-password")
    assert (failed.status_code, failed.headers["x-audit-account"]) == (401, ACCOUNT)
    signed_in = _login(portal_client)
    assert (signed_in.status_code, signed_in.headers["x-audit-account"]) == (200, ACCOUNT)
    assert "x-audit-subject" not in signed_in.headers


def test_a_record_returned_names_its_patient_by_pseudonym(
    portal_client: PortalClient, patients: list[dict[str, str]]
) -> None:
    """A record read names the reader and the patient's pseudonym, never the NIR."""
    _login(portal_client)
    patient = patients[0]
    response = _read(portal_client, patient)
    assert response.status_code == 200
    assert response.headers["x-audit-account"] == ACCOUNT
    assert response.headers["x-audit-subject"] == portal_client.audit[-1].subject
    assert response.headers["x-audit-subject"].startswith("ps_")
    card = portal_client.portal.patients.card_of(patient["nir"])
    page = portal_client.request(
        "GET", f"/patients/by-card/{card}", headers={"Accept": "text/html"}
    )
    assert page.headers["x-audit-subject"] == response.headers["x-audit-subject"]
    assert all(patient["nir"] not in value for value in [*response.headers.values()])


def test_no_subject_without_a_record_and_no_account_without_a_session(
    portal_client: PortalClient, patients: list[dict[str, str]]
) -> None:
    """A miss names the reader but no patient; a request without a session names nobody."""
    anonymous = _read(portal_client, patients[0])
    assert anonymous.status_code == 401
    assert "x-audit-account" not in anonymous.headers
    _login(portal_client)
    miss = _read(portal_client, patients[0], birth_date="1900-01-01")
    assert miss.status_code == 404
    assert miss.headers["x-audit-account"] == ACCOUNT
    assert "x-audit-subject" not in miss.headers


def test_a_read_the_guard_refuses_still_names_the_account(
    portal_client: PortalClient, patients: list[dict[str, str]]
) -> None:
    """The guard's own challenge, sent before the portal runs, names the session's account."""
    _login(portal_client)
    statuses = []
    for patient in patients[:30]:
        portal_client.clock.advance(2)
        response = portal_client.request(
            "GET",
            "/patients",
            params={"nir": patient["nir"], "birth_date": patient["birth_date"]},
            headers={"User-Agent": "python-requests/2.31.0"},
        )
        statuses.append(response.status_code)
        if response.status_code != 200:
            break
    assert statuses[-1] == 401
    assert response.json()["error"] == "step_up_required"
    assert response.headers["x-audit-account"] == ACCOUNT
    assert "x-audit-subject" not in response.headers


def _nginx_line(client: PortalClient, response: httpx.Response) -> str:
    """The line nginx writes for ``response`` with the log_format of routes-portal.toml."""
    now = client.clock()
    sent = SimpleCookie(response.request.headers.get("cookie", ""))
    session = sent[SESSION_COOKIE].value if SESSION_COOKIE in sent else ""
    set_session = ""  # $upstream_cookie_portal_session: the value as the portal wrote it
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name == SESSION_COOKIE:
            set_session = rest.split(";", 1)[0]
    record = {
        "time": now.isoformat(timespec="seconds"),
        "msec": f"{now.timestamp():.3f}",
        "ip": HOME,
        "method": response.request.method,
        "uri": response.request.url.raw_path.decode("ascii"),
        "status": response.status_code,
        "user_agent": BROWSER,
        "session": session,
        "set_session": set_session,
        "account": response.headers.get("x-audit-account", ""),
        "subject": response.headers.get("x-audit-subject", ""),
    }
    return msgspec.json.encode(record).decode()


def _shipped_routes() -> RouteTable:
    return RouteTable.from_toml(Path(str(resources.files("rempart") / "data/routes-portal.toml")))


def test_the_proxy_log_tells_what_the_portal_audited(
    portal_client: PortalClient, patients: list[dict[str, str]]
) -> None:
    """nginx's log of the portal, read with routes-portal.toml, gives the portal's own events."""
    card = portal_client.portal.patients.card_of(patients[3]["nir"])
    search = {"surname": patients[4]["surname"], "birth_date": patients[4]["birth_date"]}
    steps = [
        lambda: _login(portal_client),
        lambda: _read(portal_client, patients[1]),
        lambda: _read(portal_client, patients[2], birth_date="1900-01-01"),
        lambda: portal_client.request("GET", f"/patients/by-card/{card}"),
        lambda: portal_client.request("GET", "/patients/search", params=search),
        lambda: portal_client.request("GET", "/static/portal.css"),
        lambda: portal_client.request("POST", "/logout"),
    ]
    lines = []
    for number, step in enumerate(steps, 1):
        portal_client.clock.advance(1.5)
        lines.append(LogLine("portal.json", number, _nginx_line(portal_client, step())))
    parser = AccessLogParser(_shipped_routes(), Pseudonymizer(key_for_seed(1)))
    parsed = list(parser.parse(lines))
    events = [event for event in parsed if isinstance(event, Event)]
    assert [type(p).__name__ for p in parsed] == [*["Event"] * 5, "Skipped", "Event"]

    def told(event: Event) -> tuple[object, ...]:
        read = event.kind in (EventKind.RECORD_VIEW, EventKind.SEARCH)
        return (
            event.time,
            event.kind,
            event.account,
            event.ip,
            event.subject,
            event.lookup,
            event.categories,
            event.outcome if read else None,
            event.session,
        )

    assert [told(e) for e in events] == [told(e) for e in portal_client.audit]
    assert patients[1]["nir"] not in " ".join(str(e.to_dict()) for e in events)
