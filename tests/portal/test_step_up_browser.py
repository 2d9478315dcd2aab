"""Debian's chromium, driven by Playwright, through sign-in, challenge and step-up."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pyotp
import pytest
import uvicorn

from rempart.guard import Knowledge
from rempart.testbed.portal import credentials
from tests.system_tools import require_program

from .world import SECRET, Outbox, PortalClient

pytestmark = pytest.mark.browser

ACCOUNT = "A000001"  # a pharmacist
PASSWORD = credentials.testbed_password(SECRET, ACCOUNT)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class LivePortal:
    """The guarded portal served by uvicorn on a free loopback port, in a background thread."""

    def __init__(self, portal: PortalClient) -> None:
        self.portal = portal
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        self.base = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            portal.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            access_log=False,  # an access log would hold the typed NIRs of the URLs
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="step-up-browser-portal")

    def __enter__(self) -> LivePortal:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the portal did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def live(world_dir: Path, knowledge: Knowledge, smtp: tuple[int, Outbox]) -> Iterator[LivePortal]:
    """A fresh guard and portal, served over HTTP on loopback."""
    with LivePortal(PortalClient(world_dir, knowledge, smtp[0])) as server:
        yield server


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A page of Debian's chromium, never Playwright's own download."""
    chromium = require_program("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(locale="fr-FR")
            yield context.new_page()
            context.close()
        finally:
            browser.close()


def _sign_in(page: Any, live: LivePortal) -> None:
    page.goto(f"{live.base}/login")
    page.fill("#account", ACCOUNT)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.base}/")


def _read_until_challenged(page: Any, live: LivePortal, patients: list[dict[str, str]]) -> str:
    """Look patients up with the home page's form, two portal seconds apart, until challenged.

    Returns the URL of the look-up that was challenged.
    """
    for patient in patients:
        live.portal.clock.advance(2)
        page.goto(f"{live.base}/")
        page.fill("#nir", patient["nir"])
        page.fill("#birth_date", patient["birth_date"])
        page.click("button[type=submit]")
        page.wait_for_load_state()
        query = {"nir": patient["nir"], "birth_date": patient["birth_date"]}
        asked = f"{live.base}/patients?{urlencode(query)}"
        if urlsplit(page.url).path == "/step-up":
            return asked
        assert page.url == asked
        assert patient["nir"] in page.content()
    pytest.fail("the guard never challenged the reads")


def _totp(live: LivePortal) -> str:
    secret = credentials.testbed_totp_secret(SECRET, ACCOUNT)
    return pyotp.TOTP(secret).at(live.portal.clock())


def test_browser_passes_the_step_up_and_lands_on_the_record_it_asked_for(
    page: Any, live: LivePortal, patients: list[dict[str, str]], tmp_path: Path
) -> None:
    """Signed in by form and challenged mid-reading, the TOTP brings the browser back to its URL."""
    _sign_in(page, live)
    asked = _read_until_challenged(page, live, patients)
    assert "Vérification de sécurité" in page.content()
    page.screenshot(path=str(tmp_path / "step-up.png"), full_page=True)
    page.fill("#code", _totp(live))
    page.click("button[type=submit]")
    page.wait_for_url(asked)
    assert page.url == asked
    nir = dict(pair.split("=") for pair in urlsplit(asked).query.split("&"))["nir"]
    assert page.locator("h1").inner_text() == "Dossier patient"
    assert nir in page.locator("table").inner_text()
    kinds = live.portal.kinds()
    assert kinds[-2:] == ["mfa_success", "record_view"]
    assert nir not in json.dumps([event.to_dict() for event in live.portal.audit])


def test_browser_with_a_wrong_code_sees_the_error(
    page: Any, live: LivePortal, patients: list[dict[str, str]]
) -> None:
    """A wrong TOTP shows the error on the page, and the guard has closed the session."""
    _sign_in(page, live)
    asked = _read_until_challenged(page, live, patients)
    wrong = "000000" if _totp(live) != "000000" else "111111"
    page.fill("#code", wrong)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    alert = page.locator("[role=alert]")
    assert "Code incorrect" in alert.inner_text()
    assert "mfa_failure" in live.portal.kinds()
    page.goto(asked)
    assert page.url == asked
    assert "not_authenticated" in page.content()  # the session is gone
