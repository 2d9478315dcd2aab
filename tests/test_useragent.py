"""The browser key: what a version update leaves alone, and what tells two browsers apart."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rempart.testbed.geography import browser_user_agents
from rempart.useragent import browser_key

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{}.0.0.0 Safari/537.36"
)
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{0}.0) Gecko/20100101 Firefox/{0}.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{}.0.0.0 Mobile Safari/537.36"
)
EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{0}.0.0.0 Safari/537.36 Edg/{0}.0.1343.53"
)


def test_two_chrome_versions_on_windows_are_one_browser() -> None:
    """Chrome 104 and Chrome 105 on Windows give the same key."""
    assert browser_key(CHROME_WINDOWS.format(104)) == browser_key(CHROME_WINDOWS.format(105))
    assert browser_key(CHROME_WINDOWS.format(104)) == "Chrome/Windows/desktop"


def test_family_system_and_device_tell_browsers_apart() -> None:
    """Chrome and Firefox differ, Windows and Android differ, Edge is not Chrome."""
    keys = {
        browser_key(CHROME_WINDOWS.format(104)),
        browser_key(FIREFOX_WINDOWS.format(104)),
        browser_key(CHROME_ANDROID.format(104)),
        browser_key(EDGE_WINDOWS.format(104)),
    }
    assert keys == {
        "Chrome/Windows/desktop",
        "Firefox/Windows/desktop",
        "Chrome/Android/mobile",
        "Edge/Windows/desktop",
    }


def test_the_testbeds_browsers_and_tools() -> None:
    """Every professional's browser of the testbed is recognised; tools keep their name only."""
    for agent, _ in browser_user_agents():
        family, system, device = browser_key(agent).split("/")
        assert family != "Mozilla", agent
        assert system != "other", agent
        assert device != "other", agent
    assert browser_key("curl/7.64.0") == browser_key("curl/8.0.1") == "curl/other/other"
    assert browser_key("python-requests/2.27.1") != browser_key("curl/7.64.0")
    assert browser_key("") == ""


@given(st.integers(1, 999), st.integers(1, 999))
def test_any_version_update_keeps_the_key(old: int, new: int) -> None:
    """Whatever the two versions, the same browser on the same system keeps its key."""
    for template in (CHROME_WINDOWS, FIREFOX_WINDOWS, CHROME_ANDROID, EDGE_WINDOWS):
        assert browser_key(template.format(old)) == browser_key(template.format(new))


@given(st.text(max_size=300))
def test_any_header_gives_a_short_key(user_agent: str) -> None:
    """Any header at all gives a key of three parts, never longer than the header allows."""
    key = browser_key(user_agent)
    if not user_agent:
        assert key == ""
    else:
        assert len(key.split("/")) == 3
    assert len(key) <= 100
