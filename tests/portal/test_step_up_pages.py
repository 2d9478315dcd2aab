"""The portal's browser side: the sign-in and step-up forms, their return target, their defences."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pyotp
import pytest

from rempart.testbed.portal import credentials

from .world import BASE_URL, SECRET, PortalClient

ACCOUNT = "A000001"  # a pharmacist
PASSWORD = credentials.testbed_password(SECRET, ACCOUNT)
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
FORM = "application/x-www-form-urlencoded"


def _url(patient: dict[str, str]) -> str:
    return "/patients?" + urlencode({"nir": patient["nir"], "birth_date": patient["birth_date"]})


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', page)
    assert found is not None, f"no hidden {name} field"
    return unescape(found[1])


def _form(
    client: PortalClient, path: str, fields: dict[str, str], **headers: str
) -> httpx.Response:
    return client.request(
        "POST", path, content=urlencode(fields), headers={"content-type": FORM, **HTML, **headers}
    )


def _sign_in(client: PortalClient) -> None:
    answer = client.request("POST", "/login", json={"account": ACCOUNT, "password": PASSWORD})
    assert answer.status_code == 200


def _challenge(client: PortalClient, patients: list[dict[str, str]]) -> tuple[str, str]:
    """Read by typed NIR as a browser until challenged: (the URL asked for, the 303's location)."""
    for patient in patients:
        client.clock.advance(2)
        asked = _url(patient)
        response = client.request("GET", asked, headers=HTML)
        if response.status_code == 303:
            return asked, response.headers["location"]
        assert response.status_code == 200
    pytest.fail("the guard never challenged")


def _code(client: PortalClient) -> str:
    return pyotp.TOTP(credentials.testbed_totp_secret(SECRET, ACCOUNT)).at(client.clock())


def _step_up_form(client: PortalClient, location: str) -> tuple[str, str]:
    """The step-up page at ``location``: (its CSRF token, its next field)."""
    page = client.request("GET", location, headers=HTML)
    assert page.status_code == 200
    return _hidden(page.text, "csrf"), _hidden(page.text, "next")


@pytest.fixture
def challenged(
    portal_client: PortalClient, patients: list[dict[str, str]]
) -> tuple[PortalClient, str, str]:
    """A signed-in browser session just challenged: the client, the URL it asked for, the 303."""
    _sign_in(portal_client)
    asked, location = _challenge(portal_client, patients)
    return portal_client, asked, location


def test_challenged_browser_is_sent_to_a_step_up_form_that_carries_its_url(
    challenged: tuple[PortalClient, str, str],
) -> None:
    """The 303 names the page asked for; the step-up page is a TOTP form holding it in next."""
    client, asked, location = challenged
    assert location == f"/step-up?next={quote(asked, safe='/')}"
    page = client.request("GET", location, headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"
    assert '<form method="post" action="/step-up">' in page.text
    assert 'name="code"' in page.text
    assert "Vérification de sécurité" in page.text
    assert _hidden(page.text, "next") == asked
    assert _hidden(page.text, "csrf") == client.portal.csrf.for_session(
        client.cookies["portal_session"]
    )


def test_right_code_sends_the_browser_back_to_the_record_it_asked_for(
    challenged: tuple[PortalClient, str, str],
) -> None:
    """The form with the current TOTP passes the guard's step-up and 303s to next, which serves."""
    client, asked, location = challenged
    csrf, next_path = _step_up_form(client, location)
    answer = _form(client, "/step-up", {"csrf": csrf, "next": next_path, "code": _code(client)})
    assert answer.status_code == 303
    assert answer.headers["location"] == asked
    record = client.request("GET", answer.headers["location"], headers=HTML)
    assert record.status_code == 200
    nir = parse_qs(urlsplit(asked).query)["nir"][0]
    assert nir in record.text
    assert "Dossier patient" in record.text
    assert client.kinds()[-2:] == ["mfa_success", "record_view"]
    assert client.request("GET", asked).json()["nir"] == nir  # JSON clients still get JSON


def test_typed_nir_never_reaches_the_audit_log_on_the_browser_path(
    challenged: tuple[PortalClient, str, str],
) -> None:
    """Challenge, step-up page and form post leave no clear NIR in any audit event."""
    client, asked, location = challenged
    csrf, next_path = _step_up_form(client, location)
    _form(client, "/step-up", {"csrf": csrf, "next": next_path, "code": _code(client)})
    nir = parse_qs(urlsplit(asked).query)["nir"][0]
    assert nir not in json.dumps([event.to_dict() for event in client.audit])


def test_code_typed_with_a_space_passes(challenged: tuple[PortalClient, str, str]) -> None:
    """A code typed as two groups of three digits is read as the same six digits."""
    client, asked, location = challenged
    csrf, next_path = _step_up_form(client, location)
    code = _code(client)
    answer = _form(
        client, "/step-up", {"csrf": csrf, "next": next_path, "code": f"{code[:3]} {code[3:]}"}
    )
    assert (answer.status_code, answer.headers["location"]) == (303, asked)


def test_wrong_code_shows_the_error_and_the_guard_locks_the_account(
    challenged: tuple[PortalClient, str, str],
) -> None:
    """A wrong code answers an error page; the guard revokes the session and locks the account."""
    client, asked, location = challenged
    csrf, next_path = _step_up_form(client, location)
    answer = _form(client, "/step-up", {"csrf": csrf, "next": next_path, "code": "000000"})
    assert answer.status_code == 403
    assert 'role="alert"' in answer.text
    assert "Code incorrect" in answer.text
    assert "verrouillé" in answer.text
    assert "mfa_failure" in client.kinds()
    assert client.request("GET", asked).status_code == 401  # the session is gone
    login = client.request("POST", "/login", json={"account": ACCOUNT, "password": PASSWORD})
    assert login.status_code == 403  # and the account locked


def test_malformed_code_shows_the_form_again_with_the_challenge_pending(
    challenged: tuple[PortalClient, str, str],
) -> None:
    """Letters or a short code re-render the form with an error; no step-up is spent on it."""
    client, asked, location = challenged
    csrf, next_path = _step_up_form(client, location)
    answer = _form(client, "/step-up", {"csrf": csrf, "next": next_path, "code": "12a45"})
    assert answer.status_code == 400
    assert "6 chiffres" in answer.text
    assert _hidden(answer.text, "next") == asked
    assert "mfa_failure" not in client.kinds()
    passed = _form(client, "/step-up", {"csrf": csrf, "next": next_path, "code": _code(client)})
    assert (passed.status_code, passed.headers["location"]) == (303, asked)


@pytest.mark.parametrize("token", ["", "forged-token"])
def test_step_up_post_without_the_session_token_is_refused(
    challenged: tuple[PortalClient, str, str], token: str
) -> None:
    """A post with a missing or wrong CSRF token is refused and does not spend the challenge."""
    client, _, location = challenged
    _, next_path = _step_up_form(client, location)
    answer = _form(client, "/step-up", {"csrf": token, "next": next_path, "code": "000000"})
    assert answer.status_code == 403
    assert "mfa_failure" not in client.kinds()
    assert client.cookies["portal_session"] in client.portal.pending


@pytest.mark.parametrize(
    "headers",
    [{"origin": "https://evil.example"}, {"origin": "null"}, {"sec-fetch-site": "cross-site"}],
)
def test_step_up_post_from_another_site_is_refused_even_with_the_token(
    challenged: tuple[PortalClient, str, str], headers: dict[str, str]
) -> None:
    """A post whose Origin or Sec-Fetch-Site names another site is refused before the token."""
    client, _, location = challenged
    csrf, next_path = _step_up_form(client, location)
    fields = {"csrf": csrf, "next": next_path, "code": _code(client)}
    assert _form(client, "/step-up", fields, **headers).status_code == 403
    assert "mfa_success" not in client.kinds()
    same_site = {"origin": BASE_URL, "sec-fetch-site": "same-origin"}
    assert _form(client, "/step-up", fields, **same_site).status_code == 303


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/patients",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/patients\r\nLocation: https://evil.example",
        "javascript:alert(1)",
        "/" + "a" * 2048,
    ],
)
def test_step_up_never_redirects_off_the_portal(
    challenged: tuple[PortalClient, str, str], target: str
) -> None:
    """A forged next, in the page's URL or in the posted form, is replaced by the home page."""
    client, _, _ = challenged
    page = client.request("GET", "/step-up?" + urlencode({"next": target}), headers=HTML)
    csrf = _hidden(page.text, "csrf")
    assert _hidden(page.text, "next") == "/"
    answer = _form(client, "/step-up", {"csrf": csrf, "next": target, "code": _code(client)})
    assert (answer.status_code, answer.headers["location"]) == (303, "/")


def test_step_up_page_sends_a_signed_out_browser_to_sign_in(portal_client: PortalClient) -> None:
    """Without a session the step-up page 303s to the sign-in page, keeping next."""
    answer = portal_client.request("GET", "/step-up?next=/patients%3Fnir%3D1", headers=HTML)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/patients%3Fnir%3D1"


def test_step_up_page_without_a_challenge_goes_straight_back(portal_client: PortalClient) -> None:
    """A session with nothing pending is sent on to next (a reload, a back button)."""
    _sign_in(portal_client)
    answer = portal_client.request("GET", "/step-up?next=/patients/search", headers=HTML)
    assert (answer.status_code, answer.headers["location"]) == (303, "/patients/search")


def _login_form(client: PortalClient, next_path: str = "/") -> str:
    page = client.request("GET", "/login?" + urlencode({"next": next_path}), headers=HTML)
    assert page.status_code == 200
    assert _hidden(page.text, "next") == (next_path if next_path.startswith("/") else "/")
    return _hidden(page.text, "csrf")


def test_html_sign_in_sets_the_session_cookie_and_goes_to_next(portal_client: PortalClient) -> None:
    """The sign-in form with the right password opens a session and 303s to next."""
    csrf = _login_form(portal_client, "/patients/search")
    answer = _form(
        portal_client,
        "/login",
        {"csrf": csrf, "next": "/patients/search", "account": ACCOUNT, "password": PASSWORD},
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/patients/search")
    session = portal_client.cookies["portal_session"]
    assert portal_client.portal.sessions[session] == ACCOUNT
    assert "samesite=strict" in answer.headers["set-cookie"].lower()
    assert portal_client.kinds() == ["login_success"]
    home = portal_client.request("GET", "/", headers=HTML)
    assert ACCOUNT in home.text


def test_html_sign_in_with_a_wrong_password_shows_the_form_again(
    portal_client: PortalClient,
) -> None:
    """A wrong password re-renders the form with an error, escaped, and is a login_failure."""
    csrf = _login_form(portal_client)
    answer = _form(
        portal_client,
        "/login",
        {"csrf": csrf, "next": "/", "account": '<b>"A000001"', "password": "guess"},
    )
    assert answer.status_code == 401
    assert "incorrect" in answer.text
    assert "&lt;b&gt;&quot;A000001&quot;" in answer.text
    assert "<b>" not in answer.text
    assert "portal_session" not in portal_client.cookies
    assert portal_client.kinds() == ["login_failure"]


@pytest.mark.parametrize("use_cookie", [False, True])
def test_html_sign_in_without_its_double_submit_token_is_refused(
    portal_client: PortalClient, use_cookie: bool
) -> None:
    """Without the login cookie, or with a field that does not repeat it, nobody is signed in."""
    if use_cookie:
        _login_form(portal_client)
    answer = _form(
        portal_client,
        "/login",
        {"csrf": "forged", "next": "/", "account": ACCOUNT, "password": PASSWORD},
    )
    assert answer.status_code == 403
    assert "portal_session" not in portal_client.cookies
    assert portal_client.kinds() == []


def test_json_step_up_and_login_answer_as_before(
    portal_client: PortalClient, patients: list[dict[str, str]]
) -> None:
    """JSON clients see the same statuses and bodies: 401 step-up JSON, 422, 409, 200 passed."""
    _sign_in(portal_client)
    assert portal_client.request("POST", "/step-up", json={"code": "1"}).status_code == 409
    assert portal_client.request("POST", "/step-up", json={"nope": 1}).status_code == 422
    assert portal_client.request("POST", "/login", json={"account": ""}).status_code == 422
    status = 200
    for patient in patients:
        portal_client.clock.advance(2)
        response = portal_client.request("GET", _url(patient))
        status = response.status_code
        if status != 200:
            break
    assert status == 401
    assert response.json() == {"error": "step_up_required", "step_up": "/step-up"}
    passed = portal_client.request("POST", "/step-up", json={"code": _code(portal_client)})
    assert (passed.status_code, passed.json()) == (200, {"status": "passed"})


def test_json_step_up_sent_as_text_plain_is_not_read(
    challenged: tuple[PortalClient, str, str],
) -> None:
    """A text/plain body (what any site can make a browser post) is a 422 and spends nothing."""
    client, _, _ = challenged
    answer = client.request(
        "POST", "/step-up", content='{"code": "000000"}', headers={"content-type": "text/plain"}
    )
    assert answer.status_code == 422
    assert client.cookies["portal_session"] in client.portal.pending
    assert "mfa_failure" not in client.kinds()


def test_openapi_documents_the_json_and_form_bodies(portal_client: PortalClient) -> None:
    """The sign-in and step-up bodies stay in the OpenAPI document, as JSON and as a form."""
    spec = portal_client.request("GET", "/openapi.json").json()
    for path, field in (("/login", "password"), ("/step-up", "code")):
        content = spec["paths"][path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "application/x-www-form-urlencoded"}
        assert field in content["application/json"]["schema"]["properties"]
