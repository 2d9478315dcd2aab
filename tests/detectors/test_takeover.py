"""The takeover detector's browser novelty: a version update is not a new browser."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from rempart.decision import Verdict
from rempart.detectors.context import EventContext
from rempart.detectors.takeover import TakeoverContext
from rempart.policy import Policy
from rempart.stores.memory import MemoryStore
from rempart.testing import make_event

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{}.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:105.0) Gecko/20100101 Firefox/105.0"


def _detector() -> TakeoverContext:
    """A takeover detector for which one active day makes an account established."""
    policy = Policy.default()
    policy = msgspec.structs.replace(
        policy, takeover=msgspec.structs.replace(policy.takeover, established_days=1)
    )
    return TakeoverContext(MemoryStore(), policy)


def _login(user_agent: str, day: int) -> EventContext:
    """A login from the account's usual line on ``day``, with ``user_agent``."""
    event = make_event(kind="login_success", session=f"s{day}", user_agent=user_agent)
    event = msgspec.structs.replace(event, time=event.time + timedelta(days=day))
    return EventContext(
        event=event,
        t=event.time.timestamp(),
        account=None,
        site=None,
        network=None,
        prefix="90.12.34.0/24",
        is_read=False,
        explained=False,
    )


def _signs(detector: TakeoverContext, context: EventContext) -> str:
    finding = detector.score_one(context)
    return (finding.context or "") if finding is not None else ""


def test_a_browser_update_is_not_a_new_browser() -> None:
    """After Chrome 104 was learned, Chrome 105 on the same system is known; Firefox is not."""
    detector = _detector()
    first = _login(CHROME.format(104), day=0)
    detector.learn_one(first, Verdict.ALLOW)
    assert "new browser" not in _signs(detector, _login(CHROME.format(105), day=1))
    assert "new browser" in _signs(detector, _login(FIREFOX, day=1))
