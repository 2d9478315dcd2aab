"""A browser as a detector should remember it: family, system and device class, no versions.

Browsers update every few weeks (Chrome, Edge and Firefox ship a major
version every four, in staggered rollouts) and every update changes the
version numbers in the user agent. A detector that asks "has this account
used this browser before?" must compare what an update leaves alone — which
browser, on which operating system, on which kind of device — or it takes
each update for someone else's device.

`browser_key` reads product tokens with plain substring tests, in the order
that tells them apart (Edge, Opera and Samsung Internet also announce
``Chrome/``, Chrome also announces ``Safari/``, an iPhone also says ``like
Mac OS X``); no regular expression ever runs on the untrusted header. A user
agent naming no known browser keeps its first product name (``curl``,
``python-requests``), so scripting tools stay apart from browsers and from
each other, whatever their version.

>>> browser_key(
...     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
...     "(KHTML, like Gecko) Chrome/104.0.0.0 Safari/537.36"
... )
'Chrome/Windows/desktop'
>>> browser_key("Mozilla/5.0 (Android 12; Mobile; rv:106.0) Gecko/106.0 Firefox/106.0")
'Firefox/Android/mobile'
>>> browser_key("python-requests/2.27.1")
'python-requests/other/other'

`is_scripted` tells a script from a person's browser: a user agent that
names no browser and does not even claim to be one (``Mozilla/``), a
headless Chrome, or none at all.

>>> is_scripted("Go-http-client/2.0"), is_scripted("")
(True, True)
>>> is_scripted("Mozilla/5.0 (iPhone; CPU iPhone OS 16_1 like Mac OS X) AppleWebKit/605.1.15 "
...             "(KHTML, like Gecko) Mobile/15E148")  # an app's web view: a person
False
"""

from __future__ import annotations

from typing import Final

__all__ = ["browser_key", "is_scripted"]

# First match wins: a token that another browser's user agent also carries comes after it.
_FAMILIES: Final = (
    ("HeadlessChrome/", "HeadlessChrome"),
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edge/", "Edge"),
    ("OPR/", "Opera"),
    ("OPiOS/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Trident/", "Internet Explorer"),
    ("MSIE ", "Internet Explorer"),
    ("Version/", "Safari"),
)
_SYSTEMS: Final = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("iPod", "iOS"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)
_DESKTOPS: Final = frozenset({"Windows", "macOS", "ChromeOS", "Linux"})
_PRODUCT_END: Final = "/ (;"
_MAX_PRODUCT: Final = 64  # an unknown product name is kept, but never a whole header
_OTHER: Final = "other"


def browser_key(user_agent: str) -> str:
    """``family/system/device`` of ``user_agent``, the same before and after a version update.

    The device is ``desktop``, ``mobile``, ``tablet`` or ``other``; an empty
    user agent gives an empty key.

    >>> browser_key("Mozilla/5.0 (iPhone; CPU iPhone OS 16_1 like Mac OS X) AppleWebKit/605.1.15 "
    ...             "(KHTML, like Gecko) Version/16.1 Mobile/15E148 Safari/604.1")
    'Safari/iOS/mobile'
    """
    if not user_agent:
        return ""
    family = next((name for token, name in _FAMILIES if token in user_agent), None)
    if family is None:
        family = _product(user_agent)
    system = next((name for token, name in _SYSTEMS if token in user_agent), _OTHER)
    return f"{family}/{system}/{_device(user_agent, system)}"


def is_scripted(user_agent: str) -> bool:
    """Whether ``user_agent`` is a script's: no browser named nor claimed, headless, or empty.

    Every browser a person uses, and every web view in an app, starts with
    ``Mozilla/``; ``curl``, ``python-requests``, ``Go-http-client``, ``okhttp``
    and the rest do not. A headless Chrome claims to be a browser but says
    what it is.
    """
    if not user_agent.startswith("Mozilla/"):
        return True
    return "HeadlessChrome/" in user_agent


def _product(user_agent: str) -> str:
    """The first product name (``curl`` in ``curl/7.64.0``), cut short."""
    end = len(user_agent)
    for stop in _PRODUCT_END:
        at = user_agent.find(stop)
        if 0 <= at < end:
            end = at
    return user_agent[: min(end, _MAX_PRODUCT)].strip() or _OTHER


def _device(user_agent: str, system: str) -> str:
    if "iPad" in user_agent or "Tablet" in user_agent:
        return "tablet"
    if "Mobi" in user_agent or "iPhone" in user_agent or "iPod" in user_agent:
        return "mobile"
    if system == "Android":
        return "tablet"  # Android browsers without "Mobile" run on tablets
    if system in _DESKTOPS:
        return "desktop"
    return _OTHER
