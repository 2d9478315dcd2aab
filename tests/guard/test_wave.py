"""A stuffing wave counts every failed login the portal saw, banned senders' included."""

from __future__ import annotations

from datetime import timedelta

from rempart.guard import Guard, Verdict
from rempart.stores.memory import MemoryStore

from .test_guard import T0, Portal, codes
from .test_shared_prefix import THIEF, _established, _knowledge

SENDERS = 10
ACCOUNTS_EACH = 12  # each sender is banned after 3 (login.address_accounts_hour) of them


def _stuffing_run(portal: Portal) -> list[str]:
    """``SENDERS`` addresses, each failing on ``ACCOUNTS_EACH`` accounts in turn, 2 s apart:
    120 failures in four minutes, most of them from addresses already banned."""
    verdicts = []
    for sender in range(SENDERS):
        for tried in range(ACCOUNTS_EACH):
            decision = portal.decide(
                gap=2.0,
                kind="login_failure",
                account=f"X{sender:02d}{tried:02d}",
                ip=f"203.0.{113 + sender}.7",
                session=None,
            )
            verdicts.append(decision.verdict.value)
    return verdicts


def test_failures_from_banned_addresses_still_make_a_stuffing_wave() -> None:
    """Of 120 failures, 90 come from addresses the guard had banned: the wave is the 120
    the portal saw (over ``login.wave_min_10min``, 100), not the 30 it scored, so a login
    from someone else's device during it makes a suspect session, whose first unexplained
    read needs step-up."""
    portal = Portal(Guard(_knowledge(), MemoryStore()))
    for n in (1, 2, 3):
        _established(portal, f"A{n}", f"90.{n}.1.1")
    portal.now = T0 + timedelta(days=3)
    verdicts = _stuffing_run(portal)
    assert verdicts.count("deny") >= 90  # refused on their ban, unscored
    portal.login(session="t1", account="A1", ip="82.64.9.10", user_agent=THIEF)
    read = portal.guard.decide(
        portal.read(session="t1", account="A1", ip="82.64.9.10", user_agent=THIEF)
    )
    assert read.verdict is Verdict.CHALLENGE
    assert "suspect_session" in codes(read)
    assert "a stuffing wave" in read.reasons[0].message
