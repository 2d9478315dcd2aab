"""A thief who never answers a challenge, a step-up that vouches for one session only, what a
login reveals carried to its session's reads, and the network signs a real import gives."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

import pytest

from rempart.detectors import TakeoverContext
from rempart.detectors.testing import context_for
from rempart.errors import ConfigError
from rempart.guard import ActionKind, Guard, Knowledge, Policy, Verdict
from rempart.networks import NetworkKind, NetworkRange
from rempart.stores.memory import MemoryStore
from rempart.testing import make_event

from .test_guard import OVH, Portal, _established, codes, knowledge

FRESH_NETWORK = "82.64.1.2"  # Free, a French fixed line the account never used
OTHER_BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0"


def _held_portal(to_lock: int = 3) -> Portal:
    """A portal whose guard locks at ``to_lock`` unanswered challenges."""
    policy = Policy.from_toml_text(f"[response]\nunanswered_to_lock = {to_lock}\n", source="test")
    return Portal(Guard(knowledge(), MemoryStore(), policy=policy))


def test_a_thief_who_never_answers_is_held_then_locked_at_the_third_unanswered() -> None:
    """Past the budget, every read of a session that ignores its challenges is challenged, and
    the third unanswered challenge denies the read, revokes, locks and tells the owner."""
    portal = _held_portal()
    portal.login(session="t1")
    assert portal.reads_until_challenged(session="t1") == 10
    verdicts = [portal.guard.decide(portal.read(session="t1")) for _ in range(3)]
    assert [d.verdict for d in verdicts] == [Verdict.CHALLENGE, Verdict.CHALLENGE, Verdict.DENY]
    assert "challenge_unanswered" in codes(verdicts[1])
    locked = verdicts[2]
    assert codes(locked)[0] == "challenges_unanswered"
    kinds = {(action.kind, action.target) for action in locked.actions}
    assert kinds >= {
        (ActionKind.LOCK_ACCOUNT, "A1"),
        (ActionKind.REVOKE_SESSION, "t1"),
        (ActionKind.NOTIFY_OWNER, "A1"),
        (ActionKind.ALERT, "A1"),
    }
    assert codes(portal.login(session="t2")) == ["account_locked"]


def test_the_lock_threshold_is_a_policy_key() -> None:
    """With four to lock, the third unanswered challenge is still only a challenge."""
    portal = _held_portal(to_lock=4)
    portal.login(session="t1")
    portal.reads_until_challenged(session="t1")
    verdicts = [portal.guard.decide(portal.read(session="t1")).verdict for _ in range(4)]
    assert verdicts == [Verdict.CHALLENGE] * 3 + [Verdict.DENY]


def test_a_held_account_stays_challenged_after_the_budget_window_passes() -> None:
    """An hour later the budget's hour window is fresh, yet the session that left its
    challenge unanswered is challenged on its first unexplained read."""
    portal = _held_portal()
    portal.login(session="t1")
    portal.reads_until_challenged(session="t1")
    portal.guard.decide(portal.read(session="t1"))  # unanswered: the account is held
    later = portal.guard.decide(portal.read(session="t1", gap=2 * 3_600.0))
    assert later.verdict is Verdict.CHALLENGE
    assert "challenge_unanswered" in codes(later)


def test_an_answered_challenge_is_never_counted_unanswered() -> None:
    """An owner who passes every step-up is challenged once per budget and never held."""
    portal = Portal()
    portal.login()
    for _ in range(5):
        assert portal.reads_until_challenged() == 10
        challenged = portal.read()
        assert portal.guard.decide(challenged).verdict is Verdict.CHALLENGE
        assert portal.guard.step_up(challenged, passed=True).verdict is Verdict.ALLOW


def test_the_owners_step_up_vouches_for_the_owners_session_only() -> None:
    """The owner passing step-up on their session leaves the thief's session, reading beside
    it on another network, challenged; the owner's session gets a fresh budget."""
    portal = Portal()
    portal.login(session="owner")
    portal.login(session="thief", ip=OVH)
    portal.reads_until_challenged(session="thief", ip=OVH)
    portal.reads_until_challenged(session="owner")
    challenged = portal.read(session="owner")
    assert portal.guard.decide(challenged).verdict is Verdict.CHALLENGE
    assert portal.guard.step_up(challenged, passed=True).verdict is Verdict.ALLOW
    thief = portal.guard.decide(portal.read(session="thief", ip=OVH))
    assert thief.verdict is Verdict.CHALLENGE
    assert portal.reads_until_challenged(session="owner") == 10


def test_the_vouched_sessions_reads_still_count_against_other_sessions() -> None:
    """Reads of a vouched session count in the account's total, so a new session of the account
    is challenged on its first unexplained read once that total is spent."""
    portal = Portal()
    portal.login(session="s1")
    portal.reads_until_challenged(session="s1")
    challenged = portal.read(session="s1")
    portal.guard.decide(challenged)
    portal.guard.step_up(challenged, passed=True)
    assert portal.reads_until_challenged(session="s1") == 10
    portal.login(session="s2")
    assert portal.reads_until_challenged(session="s2") == 0


def test_a_login_from_a_new_network_and_browser_tightens_its_sessions_reads() -> None:
    """An established account's session opened from a network and a browser it never used
    reads fewer unexplained patients than one opened from its usual line (the login taught
    the guard both, yet the session keeps what it revealed), and says why."""
    usual = Portal()
    _established(usual)
    usual.login(session="u1")
    assert usual.reads_until_challenged(session="u1") == 10

    novel = Portal()
    _established(novel)
    novel.login(session="n1", ip=FRESH_NETWORK, user_agent=OTHER_BROWSER)
    fields = {"ip": FRESH_NETWORK, "user_agent": OTHER_BROWSER}
    allowed = novel.reads_until_challenged(session="n1", **fields)
    assert allowed == 3  # a budget of 10 x 0.5 (new network) x 0.75 (new browser) = 3.75
    challenged = novel.guard.decide(novel.read(session="n1", **fields))
    (reason,) = [r for r in challenged.reasons if r.code == "unexplained_budget"]
    assert "session opened from a new network and a new browser" in reason.message


def test_a_passed_step_up_lifts_what_the_login_revealed() -> None:
    """Once the session from a new network passes step-up it reads a full budget again."""
    portal = Portal()
    _established(portal)
    fields = {"ip": FRESH_NETWORK, "user_agent": OTHER_BROWSER}
    portal.login(session="n1", **fields)
    portal.reads_until_challenged(session="n1", **fields)
    challenged = portal.read(session="n1", **fields)
    portal.guard.decide(challenged)
    portal.guard.step_up(challenged, passed=True)
    assert portal.reads_until_challenged(session="n1", **fields) == 10


def test_sessionless_events_are_told_apart_by_address_and_browser() -> None:
    """Without session ids, a step-up vouches for the address and browser that passed it,
    not for another address reading on the same account."""
    portal = Portal()
    assert portal.reads_until_challenged(session=None) == 10
    challenged = portal.read(session=None)
    portal.guard.decide(challenged)
    portal.guard.step_up(challenged, passed=True)
    other = portal.guard.decide(portal.read(session=None, ip=OVH))
    assert other.verdict is Verdict.CHALLENGE
    portal.now += timedelta(seconds=1)
    assert portal.guard.decide(portal.read(session=None)).verdict is Verdict.ALLOW


def test_knowledge_needs_no_network_table_for_the_hold() -> None:
    """The hold works with no network data at all (an empty table)."""
    empty = Knowledge(accounts=knowledge().accounts, sites=knowledge().sites)
    portal = Portal(Guard(empty, MemoryStore()))
    portal.login(session="t1")
    portal.reads_until_challenged(session="t1")
    verdicts = [portal.guard.decide(portal.read(session="t1")).verdict for _ in range(3)]
    assert verdicts[-1] is Verdict.DENY


def test_a_new_network_alone_is_not_carried_to_the_session() -> None:
    """The owner's usual browser on a new network (travel, a rotating VPN exit) reads a full
    budget: only a network and a browser both new are someone else's device."""
    portal = Portal()
    _established(portal)
    portal.login(session="n1", ip=FRESH_NETWORK)
    assert portal.reads_until_challenged(session="n1", ip=FRESH_NETWORK) == 10


def _tighten_of(network: NetworkRange, policy: Policy | None = None) -> float:
    """The takeover detector's tightening of a read from ``network`` by an unknown account."""
    detector = TakeoverContext(MemoryStore(), policy or Policy.default())
    context = context_for(make_event())
    context.network = network
    finding = detector.score_one(context)
    return 1.0 if finding is None else finding.tighten


def test_proxies_and_tor_exits_tighten_like_rented_servers() -> None:
    """A range the table labels proxy or Tor tightens by its policy multiplier, as hosting does."""
    prefix = ipaddress.ip_network("198.51.100.0/24")
    for kind in (NetworkKind.PROXY, NetworkKind.TOR, NetworkKind.HOSTING):
        network = NetworkRange(prefix=prefix, asn=64500, operator="X", country="FR", kind=kind)
        assert _tighten_of(network) == 0.25, kind
    plain = NetworkRange(
        prefix=prefix, asn=64500, operator="X", country="FR", kind=NetworkKind.FIXED
    )
    assert _tighten_of(plain) == 1.0


def test_home_countries_are_a_policy_key() -> None:
    """A Belgian line is foreign under the default policy and home when BE is listed; an
    unknown country is never foreign; a malformed code is refused naming the key."""
    prefix = ipaddress.ip_network("198.51.100.0/24")
    belgian = NetworkRange(
        prefix=prefix, asn=64500, operator="X", country="BE", kind=NetworkKind.FIXED
    )
    assert _tighten_of(belgian) == 0.5
    both = Policy.from_toml_text('[takeover]\nhome_countries = ["FR", "BE"]\n', source="test")
    assert _tighten_of(belgian, both) == 1.0
    unknown = NetworkRange(prefix=prefix, kind=NetworkKind.UNKNOWN)
    assert _tighten_of(unknown) == 1.0
    with pytest.raises(ConfigError, match="home_countries"):
        Policy.from_toml_text('[takeover]\nhome_countries = ["france"]\n', source="test")
