"""The reference portal: logins, step-up, password reset by e-mail, patient look-ups, the guard."""

from __future__ import annotations

import json
import re

import pytest

from rempart.events import EventKind, Lookup, Outcome
from rempart.testbed.portal import account_email, credentials

from .world import SECRET, Outbox, PortalClient

ACCOUNT = "A000001"  # a pharmacist
PASSWORD = credentials.testbed_password(SECRET, ACCOUNT)
RECORD_CATEGORIES = ["identity", "birth_date", "sex", "nir", "treating_doctor", "rights"]


def _login(client: PortalClient, password: str = PASSWORD) -> int:
    return client.request(
        "POST", "/login", json={"account": ACCOUNT, "password": password}
    ).status_code


def test_login_with_the_right_password_opens_a_session(portal_client: PortalClient) -> None:
    """The account's testbed password logs in, sets the session cookie and audits login_success."""
    assert _login(portal_client) == 200
    assert "portal_session" in portal_client.cookies
    assert portal_client.kinds() == ["login_success"]
    assert portal_client.audit[0].account == ACCOUNT


def test_wrong_password_is_401_and_a_login_failure(portal_client: PortalClient) -> None:
    """A wrong password is a 401 without a session, and a login_failure event."""
    assert _login(portal_client, "not-the-password") == 401
    assert "portal_session" not in portal_client.cookies
    assert portal_client.kinds() == ["login_failure"]


def test_password_reset_goes_through_real_smtp(
    portal_client: PortalClient, smtp: tuple[int, Outbox]
) -> None:
    """The reset e-mail arrives through the SMTP server; its token sets a new password."""
    _, outbox = smtp
    response = portal_client.request("POST", "/password-reset", json={"account": ACCOUNT})
    assert response.status_code == 202
    (message,) = outbox.messages
    assert message["To"] == account_email(ACCOUNT)
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    token = re.search(r"^([A-Za-z0-9_-]{32})\s*$", body.decode(), re.MULTILINE)
    assert token is not None
    new_password = "a brand new passphrase"  # noqa: S105 (a test value)
    confirm = portal_client.request(
        "POST", "/password-reset/confirm", json={"token": token[1], "password": new_password}
    )
    assert confirm.status_code == 200
    assert _login(portal_client) == 401
    assert _login(portal_client, new_password) == 200
    again = portal_client.request(
        "POST", "/password-reset/confirm", json={"token": token[1], "password": "x" * 20}
    )
    assert again.status_code == 400
    assert portal_client.kinds()[:2] == ["password_reset_request", "password_reset"]


def test_reset_request_for_an_unknown_account_sends_nothing(
    portal_client: PortalClient, smtp: tuple[int, Outbox]
) -> None:
    """An unknown account gets the same 202 and no e-mail."""
    response = portal_client.request("POST", "/password-reset", json={"account": "nobody"})
    assert response.status_code == 202
    assert smtp[1].messages == []


def test_typed_nir_lookup_returns_the_data_categories(
    portal_client: PortalClient, patients: list[dict[str, str]]
) -> None:
    """A typed NIR with its birth date returns the record and is audited as a read."""
    patient = patients[0]
    _login(portal_client)
    response = portal_client.request(
        "GET", "/patients", params={"nir": patient["nir"], "birth_date": patient["birth_date"]}
    )
    assert response.status_code == 200
    record = response.json()
    assert record["nir"] == patient["nir"]
    assert record["categories"] == RECORD_CATEGORIES
    assert {"surname", "first_names", "sex", "treating_doctor", "rights"} <= set(record)
    read = portal_client.audit[-1]
    assert (read.kind, read.lookup, read.outcome) == (
        EventKind.RECORD_VIEW,
        Lookup.TYPED_NIR,
        Outcome.SUCCESS,
    )
    assert read.birth_date_match is True
    assert patient["nir"] not in json.dumps([event.to_dict() for event in portal_client.audit])


def test_typed_nir_with_the_wrong_birth_date_is_404(
    portal_client: PortalClient, patients: list[dict[str, str]]
) -> None:
    """A birth-date mismatch returns nothing and is seen by the guard as a mismatch miss."""
    _login(portal_client)
    response = portal_client.request(
        "GET", "/patients", params={"nir": patients[0]["nir"], "birth_date": "1900-01-01"}
    )
    assert response.status_code == 404
    read = portal_client.audit[-1]
    assert (read.outcome, read.birth_date_match) == (Outcome.NOT_FOUND, False)


def test_card_search_and_link_lookups(
    portal_client: PortalClient, patients: list[dict[str, str]]
) -> None:
    """A card number and a search link lead to the same patient's record."""
    patient = patients[1]
    _login(portal_client)
    card = portal_client.portal.patients.card_of(patient["nir"])
    by_card = portal_client.request("GET", f"/patients/by-card/{card}")
    assert by_card.json()["nir"] == patient["nir"]
    found = portal_client.request(
        "GET",
        "/patients/search",
        params={"surname": patient["surname"].upper(), "birth_date": patient["birth_date"]},
    ).json()
    assert found["count"] >= 1
    links = [result["link"] for result in found["results"]]
    records = [portal_client.request("GET", link).json() for link in links]
    assert patient["nir"] in [record["nir"] for record in records]
    lookups = [event.lookup for event in portal_client.audit if event.kind.value != "login_success"]
    assert lookups[:2] == [Lookup.CARD, Lookup.SEARCH]
    assert set(lookups[2:]) == {Lookup.LINK}


@pytest.mark.parametrize(
    ("user_agent", "least", "most"),
    [
        (None, 3, 10),  # a browser's: the hour budget, tightened for robot timing, >= the floor
        ("python-requests/2.31.0", 1, 1),  # a script's: the strong floor from the first read
    ],
)
def test_robot_is_challenged_after_the_budget_and_failed_step_up_locks(
    portal_client: PortalClient,
    patients: list[dict[str, str]],
    user_agent: str | None,
    least: int,
    most: int,
) -> None:
    """A robot reading by typed NIR is challenged within the hour budget; a failed TOTP locks.
    A robot that says it is a script gets the strong floor."""
    assert _login(portal_client) == 200
    statuses = []
    headers = {} if user_agent is None else {"User-Agent": user_agent}
    for patient in patients[:20]:
        portal_client.clock.advance(2)
        response = portal_client.request(
            "GET",
            "/patients",
            params={"nir": patient["nir"], "birth_date": patient["birth_date"]},
            headers=headers,
        )
        statuses.append(response.status_code)
        if response.status_code != 200:
            assert response.json() == {"error": "step_up_required", "step_up": "/step-up"}
            break
    served = statuses.count(200)
    assert statuses[-1] == 401
    assert least <= served <= most
    step_up = portal_client.request("POST", "/step-up", json={"code": "000000"})
    assert step_up.status_code == 403
    assert step_up.json()["reasons"] == ["step_up_failed"]
    after = portal_client.request(
        "GET", "/patients", params={"nir": patients[50]["nir"], "birth_date": "x"}
    )
    assert after.status_code == 401  # the session was revoked
    assert _login(portal_client) == 403  # and the account is locked
    assert "mfa_failure" in portal_client.kinds()


def test_passed_step_up_lets_the_owner_continue(
    portal_client: PortalClient, patients: list[dict[str, str]]
) -> None:
    """The owner answers the challenge with the right TOTP and reads again."""
    import pyotp

    _login(portal_client)
    status = 200
    index = 0
    while status == 200:
        patient = patients[index]
        index += 1
        status = portal_client.request(
            "GET", "/patients", params={"nir": patient["nir"], "birth_date": patient["birth_date"]}
        ).status_code
    code = pyotp.TOTP(credentials.testbed_totp_secret(SECRET, ACCOUNT)).at(portal_client.clock())
    assert portal_client.request("POST", "/step-up", json={"code": code}).status_code == 200
    patient = patients[index]
    again = portal_client.request(
        "GET", "/patients", params={"nir": patient["nir"], "birth_date": patient["birth_date"]}
    )
    assert again.status_code == 200
    assert "mfa_success" in portal_client.kinds()
