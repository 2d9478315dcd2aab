"""Each signal on its own: every tightening sign alone gives its policy multiplier and its
words, and every reason code is raised by the one situation that calls for it (and not by
the one next to it). Values come from ``Policy.default()``."""

from __future__ import annotations

import ipaddress

import msgspec
import pytest

from rempart.decision import ActionKind, Verdict
from rempart.detectors import SharedInfrastructure, TakeoverContext, UnansweredChallenges
from rempart.detectors.base import Finding
from rempart.detectors.context import EventContext
from rempart.detectors.testing import context_for
from rempart.directory import Account, Profession
from rempart.events import Outcome
from rempart.networks import NetworkKind, NetworkRange
from rempart.policy import Policy
from rempart.stores.base import Window
from rempart.stores.keys import PopulationKeys
from rempart.stores.memory import MemoryStore
from rempart.testing import make_event, pseudonym_for

POLICY = Policy.default()
TAKEOVER = POLICY.takeover
DAY = 86_400.0
HOUR = 3_600.0
HOME = "90.12.34.56"
ELSEWHERE = "82.64.1.2"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def _network(ip: str, kind: NetworkKind, asn: int = 0, country: str = "FR") -> NetworkRange:
    prefix = ipaddress.ip_network(f"{ip.rsplit('.', 1)[0]}.0/24")
    return NetworkRange(prefix=prefix, asn=asn, operator="Op", country=country, kind=kind)


def _context(
    t: float = 0.0,
    *,
    kind: str = "record_view",
    ip: str = HOME,
    network: NetworkRange | None = None,
    explained: bool = False,
    account: str = "A00001",
    **fields: object,
) -> EventContext:
    context = context_for(
        make_event(kind=kind, ip=ip, account=account, **fields), t=t, explained=explained
    )
    context.network = network
    return context


def _established(detector: TakeoverContext) -> None:
    """Logins on ``established_days`` days from the usual line and browser (session s0)."""
    for day in range(TAKEOVER.established_days):
        detector.learn_one(_context(day * DAY, kind="login_success", session="s0"), Verdict.ALLOW)


def _at_day(days: float = TAKEOVER.established_days) -> float:
    return days * DAY


# The network a connection comes from, one sign at a time.


@pytest.mark.parametrize(
    ("kind", "multiplier", "sign"),
    [
        (NetworkKind.HOSTING, TAKEOVER.hosting_network, "rented server (Op)"),
        (NetworkKind.VPN, TAKEOVER.vpn_network, "VPN exit (Op)"),
        (NetworkKind.PROXY, TAKEOVER.proxy_network, "proxy (Op)"),
        (NetworkKind.TOR, TAKEOVER.tor_network, "Tor exit"),
    ],
)
def test_each_kind_of_network_tightens_alone(
    kind: NetworkKind, multiplier: float, sign: str
) -> None:
    """A login from a labelled network of a new account tightens by that kind's multiplier,
    with its words, and nothing else."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    finding = detector.score_one(_context(kind="login_success", network=_network(HOME, kind)))
    assert finding is not None
    assert (finding.verdict, finding.tighten, finding.context) == (Verdict.ALLOW, multiplier, sign)


@pytest.mark.parametrize("kind", [NetworkKind.FIXED, NetworkKind.MOBILE, NetworkKind.UNKNOWN])
def test_ordinary_networks_say_nothing(kind: NetworkKind) -> None:
    """A fixed or mobile line at home, or an unknown one, is no sign at all."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    assert detector.score_one(_context(kind="login_success", network=_network(HOME, kind))) is None


def test_a_foreign_country_tightens_alone() -> None:
    """A connection from outside ``takeover.home_countries`` tightens by
    ``foreign_network``; an unknown country (``??``) is never foreign."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    abroad = _network(HOME, NetworkKind.FIXED, country="BE")
    finding = detector.score_one(_context(kind="login_success", network=abroad))
    assert finding is not None
    assert (finding.tighten, finding.context) == (
        TAKEOVER.foreign_network,
        "connection from BE",
    )
    unknown = _network(HOME, NetworkKind.FIXED, country="??")
    assert detector.score_one(_context(kind="login_success", network=unknown)) is None


def test_home_countries_is_a_policy_key() -> None:
    """With Belgium among the home countries, a Belgian line is no sign; France then is."""
    policy = Policy.from_toml_text('[takeover]\nhome_countries = ["FR", "BE"]\n')
    detector = TakeoverContext(MemoryStore(), policy)
    belgian = _network(HOME, NetworkKind.FIXED, country="BE")
    assert detector.score_one(_context(kind="login_success", network=belgian)) is None
    only_be = Policy.from_toml_text('[takeover]\nhome_countries = ["BE"]\n')
    french = _network(HOME, NetworkKind.FIXED, country="FR")
    assert (
        TakeoverContext(MemoryStore(), only_be).score_one(
            _context(kind="login_success", network=french)
        )
        is not None
    )


def test_a_new_network_alone_tightens_an_established_account() -> None:
    """An established account logging in from a /24 and AS it never used, with its usual
    browser, is tightened by ``new_network`` alone."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    finding = detector.score_one(_context(_at_day(), kind="login_success", ip=ELSEWHERE))
    assert finding is not None
    assert finding.tighten == TAKEOVER.new_network
    assert finding.context == "new network 82.64.1.0/24 (unknown)"


def test_a_known_autonomous_system_is_not_a_new_network() -> None:
    """Another /24 of an AS the account already used is the same network."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    for day in range(TAKEOVER.established_days):
        usual = _context(
            day * DAY, kind="login_success", network=_network(HOME, NetworkKind.FIXED, asn=3215)
        )
        detector.learn_one(usual, Verdict.ALLOW)
    same_as = _network(ELSEWHERE, NetworkKind.FIXED, asn=3215)
    assert (
        detector.score_one(_context(_at_day(), kind="login_success", ip=ELSEWHERE, network=same_as))
        is None
    )
    other_as = _network(ELSEWHERE, NetworkKind.FIXED, asn=12322)
    finding = detector.score_one(
        _context(_at_day(), kind="login_success", ip=ELSEWHERE, network=other_as)
    )
    assert finding is not None
    assert finding.tighten == TAKEOVER.new_network


def test_a_new_browser_alone_tightens_an_established_account() -> None:
    """An established account on its usual line with a browser it never used is tightened by
    ``new_device`` alone."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    finding = detector.score_one(_context(_at_day(), kind="login_success", user_agent=FIREFOX))
    assert finding is not None
    assert (finding.tighten, finding.context) == (TAKEOVER.new_device, "new browser")


def test_a_new_account_has_no_usual_network_or_browser() -> None:
    """Before it is established, nothing an account does is new to it."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    detector.learn_one(_context(kind="login_success", session="s0"), Verdict.ALLOW)
    later = _context(DAY, kind="login_success", ip=ELSEWHERE, user_agent=FIREFOX)
    assert detector.score_one(later) is None


def test_only_allowed_events_teach_the_usual_network() -> None:
    """A challenged login does not make its network the account's own."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    detector.learn_one(
        _context(_at_day(), kind="login_success", ip=ELSEWHERE, session="x"), Verdict.CHALLENGE
    )
    finding = detector.score_one(_context(_at_day() + 60, kind="login_success", ip=ELSEWHERE))
    assert finding is not None
    assert "new network" in (finding.context or "")


# Sessions.


def test_a_read_in_a_session_that_never_logged_in_is_unknown_session() -> None:
    """A read whose session no login opened is challenged as ``unknown_session``."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    finding = detector.score_one(_context(session="stolen"))
    assert finding is not None
    assert finding.verdict is Verdict.CHALLENGE
    assert finding.reason is not None
    assert finding.reason.code == "unknown_session"
    assert finding.reason.message == (
        "session stolen… reads patients but never logged in (from 90.12.34.0/24, unknown)"
    )


def test_unknown_session_is_a_policy_key() -> None:
    """With ``takeover.unknown_session = "allow"``, such a read is not refused."""
    policy = Policy.from_toml_text('[takeover]\nunknown_session = "allow"\n')
    assert TakeoverContext(MemoryStore(), policy).score_one(_context(session="stolen")) is None


def test_a_session_opened_by_another_account_is_denied() -> None:
    """A read in a session another account's login opened is denied."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    detector.learn_one(_context(kind="login_success", session="s1", account="B1"), Verdict.ALLOW)
    finding = detector.score_one(_context(60.0, session="s1"))
    assert finding is not None
    assert finding.verdict is Verdict.DENY
    assert finding.reason is not None
    assert finding.reason.code == "session_account_mismatch"
    assert finding.reason.message == "session s1… opened by B1 used by A00001"


def test_a_session_that_moves_to_another_network_and_as_is_challenged() -> None:
    """A session reading from another /24 and another AS than its login is challenged as
    ``session_moved``; another /24 of the same AS is not a move."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    login_network = _network(HOME, NetworkKind.FIXED, asn=3215)
    detector.learn_one(
        _context(kind="login_success", session="s1", network=login_network), Verdict.ALLOW
    )
    same_as = _network(ELSEWHERE, NetworkKind.FIXED, asn=3215)
    assert detector.score_one(_context(60.0, session="s1", ip=ELSEWHERE, network=same_as)) is None
    same_prefix = _network(HOME, NetworkKind.FIXED, asn=12322)
    assert detector.score_one(_context(60.0, session="s1", network=same_prefix)) is None
    moved = _network(ELSEWHERE, NetworkKind.FIXED, asn=12322)
    finding = detector.score_one(_context(60.0, session="s1", ip=ELSEWHERE, network=moved))
    assert finding is not None
    assert finding.verdict is Verdict.CHALLENGE
    assert finding.reason is not None
    assert finding.reason.code == "session_moved"
    assert finding.reason.message == (
        "session moved from 90.12.34.0/24 (AS3215) to 82.64.1.0/24 (Op, AS12322) mid-session"
    )


def _someone_elses_login(detector: TakeoverContext, t: float, *, after_reset: bool) -> None:
    if after_reset:
        reset = _context(t - 600, kind="password_reset", ip=ELSEWHERE, session=None)
        detector.learn_one(reset, Verdict.ALLOW)
    login = _context(t, kind="login_success", ip=ELSEWHERE, user_agent=FIREFOX, session="t1")
    detector.learn_one(login, Verdict.ALLOW)


def test_a_session_from_someone_elses_device_carries_its_tightening() -> None:
    """A login from a network and a browser both new, with nothing before it, carries
    ``new_network`` x ``new_device`` to its session's reads, which are not challenged."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    _someone_elses_login(detector, _at_day(), after_reset=False)
    read = _context(_at_day() + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1")
    finding = detector.score_one(read)
    assert finding is not None
    assert finding.verdict is Verdict.ALLOW
    assert finding.tighten == pytest.approx(TAKEOVER.new_network * TAKEOVER.new_device)
    assert finding.context == "session opened from a new network and a new browser"


def test_after_a_reset_such_a_session_is_suspect() -> None:
    """After a password reset, that session's unexplained reads are challenged as
    ``suspect_session``, naming the reset; its explained reads are only tightened."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    _someone_elses_login(detector, _at_day(), after_reset=True)
    read = _context(_at_day() + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1")
    finding = detector.score_one(read)
    assert finding is not None
    assert finding.verdict is Verdict.CHALLENGE
    assert finding.reason is not None
    assert finding.reason.code == "suspect_session"
    assert "after a password reset" in finding.reason.message
    explained = _context(
        _at_day() + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1", explained=True
    )
    quiet = detector.score_one(explained)
    assert quiet is not None
    assert quiet.verdict is Verdict.ALLOW


def test_a_vouched_session_carries_nothing() -> None:
    """Once the session passed step-up, what its login revealed no longer holds."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    _someone_elses_login(detector, _at_day(), after_reset=True)
    read = _context(_at_day() + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1")
    read.vouched_since = read.t - 30
    detector.on_step_up(read)
    finding = detector.score_one(read)
    assert finding is None or finding.verdict is Verdict.ALLOW


# Shared infrastructure and surges.


def _site_context(
    site: str,
    t: float = 0.0,
    *,
    kind: str = "login_success",
    ip: str = "51.75.3.4",
    network: NetworkRange | None = None,
    explained: bool = False,
) -> EventContext:
    account = f"A{site}"
    context = _context(t, kind=kind, ip=ip, network=network, account=account, explained=explained)
    context.account = Account(account=account, profession=Profession.PHARMACIST, site=site)
    return context


def test_a_hosting_operator_serving_sites_per_hosting_network_sites() -> None:
    """Accounts of ``population.sites_per_hosting_network`` sites reading through one hosting
    AS in a day tighten by ``population.tighten`` with an alert; one site fewer, or the same
    site again, does not."""
    policy = POLICY.population
    detector = SharedInfrastructure(MemoryStore(), POLICY)
    hosting = _network("51.75.3.4", NetworkKind.HOSTING, asn=16276)
    for n in range(policy.sites_per_hosting_network - 1):
        context = _site_context(f"S{n}", 60.0 * n, kind="record_view", network=hosting)
        assert detector.score_one(context) is None
        detector.learn_one(context, Verdict.ALLOW)
    assert (
        detector.score_one(_site_context("S0", 500.0, kind="record_view", network=hosting)) is None
    )
    finding = detector.score_one(_site_context("S9", 600.0, kind="record_view", network=hosting))
    assert finding is not None
    assert finding.tighten == policy.tighten
    assert finding.reason is not None
    assert finding.reason.code == "shared_infrastructure"
    assert finding.reason.figures == {"sites": float(policy.sites_per_hosting_network)}
    assert [(a.kind, a.target) for a in finding.actions] == [(ActionKind.ALERT, "AS16276")]


def test_a_new_prefix_shared_by_sites_per_new_prefix_sites() -> None:
    """Accounts of ``population.sites_per_new_prefix`` sites logging in through one /24 new to
    each, in a day, tighten with an alert naming the prefix; one fewer does not; a labelled
    VPN range never counts."""
    policy = POLICY.population
    detector = SharedInfrastructure(MemoryStore(), POLICY)
    for n in range(policy.sites_per_new_prefix - 1):
        context = _site_context(f"S{n}", 60.0 * n, ip=f"82.64.9.{n + 1}")
        assert detector.score_one(context) is None
        detector.learn_one(context, Verdict.ALLOW)
    finding = detector.score_one(_site_context("S9", 600.0, ip="82.64.9.99"))
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.code == "shared_new_network"
    assert finding.tighten == policy.tighten
    assert [(a.kind, a.target) for a in finding.actions] == [(ActionKind.ALERT, "82.64.9.0/24")]
    vpn = _network("82.64.9.99", NetworkKind.VPN)
    assert detector.score_one(_site_context("S9", 600.0, ip="82.64.9.99", network=vpn)) is None


_HOUR_WINDOW = (Window(3_600, 60),)


def _surge_store(reads: float) -> tuple[MemoryStore, float]:
    store = MemoryStore()
    now = _context().t
    store.add_counts(PopulationKeys.PORTAL_UNEXPLAINED, now - 60, _HOUR_WINDOW, reads)
    return store, now


def test_a_surge_starts_at_surge_min_hour() -> None:
    """The ``population.surge_min_hour``-th unexplained read portal-wide in an hour raises one
    alert; the read before does not; an explained read never does."""
    policy = POLICY.population
    store, _ = _surge_store(policy.surge_min_hour - 1)
    finding = SharedInfrastructure(store, POLICY).score_one(_context())
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.code == "unexplained_surge"
    assert finding.reason.figures == {
        "unexplained_hour": float(policy.surge_min_hour),
        "threshold": float(policy.surge_min_hour),
    }
    assert finding.tighten == 1.0  # this read had no other sign: it is not feeding the surge
    quiet, _ = _surge_store(policy.surge_min_hour - 2)
    assert SharedInfrastructure(quiet, POLICY).score_one(_context()) is None
    assert SharedInfrastructure(store, POLICY).score_one(_context(explained=True)) is None


def test_a_surge_is_a_multiple_of_the_hours_usual_level() -> None:
    """Above the floor, a surge is ``population.surge_multiple`` times the same hour's daily
    average over the past week."""
    policy = POLICY.population
    usual = 7 * 2 * policy.surge_min_hour  # twice the floor each day at this hour
    threshold = policy.surge_multiple * usual / 7
    store, now = _surge_store(threshold - 1)
    hour = int(now // 3_600) % 24
    week = (Window(7 * DAY, 3_600),)
    store.add_counts(PopulationKeys.portal_unexplained_at(hour), now - 2 * DAY, week, usual)
    finding = SharedInfrastructure(store, POLICY).score_one(_context())
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.figures["threshold"] == threshold
    lower, now = _surge_store(threshold - 2)
    lower.add_counts(PopulationKeys.portal_unexplained_at(hour), now - 2 * DAY, week, usual)
    assert SharedInfrastructure(lower, POLICY).score_one(_context()) is None


def test_the_read_that_crosses_the_surge_says_so_and_feeds_it() -> None:
    """The surge alert names the count and the threshold, alerts on the portal, and the read
    that crossed it, if a stranger's, is tightened by ``surge_tighten``."""
    policy = POLICY.population
    store, _ = _surge_store(policy.surge_min_hour - 1)
    crossing = _context()
    crossing.stranger = True
    finding = SharedInfrastructure(store, POLICY).score_one(crossing)
    assert finding is not None
    assert finding.detector == "population"
    assert finding.reason is not None
    assert finding.reason.detector == "population"
    assert finding.reason.message == (
        f"{policy.surge_min_hour} unexplained reads portal-wide in the last hour; threshold "
        f"{policy.surge_min_hour} ({policy.surge_multiple:g}x this hour's daily average over "
        "the past week); budgets of the accounts feeding it tightened for an hour"
    )
    assert [(a.kind, a.target) for a in finding.actions] == [(ActionKind.ALERT, "portal")]
    assert (finding.tighten, finding.context) == (
        policy.surge_tighten,
        "portal-wide surge of unexplained reads",
    )


def test_a_surge_tightens_the_reads_feeding_it_for_an_hour() -> None:
    """Once the surge was raised, an unexplained read from someone else's device (a stranger,
    `EventContext.stranger`) is tightened by ``population.surge_tighten`` for the hour after;
    an owner's read, even tightened by another sign, or a stranger's after the hour, is not."""
    policy = POLICY.population
    detector = SharedInfrastructure(MemoryStore(), POLICY)
    crossing = _context()
    detector.store.add_counts(
        PopulationKeys.PORTAL_UNEXPLAINED, crossing.t - 60, _HOUR_WINDOW, policy.surge_min_hour
    )
    detector.learn_one(crossing, Verdict.ALLOW)
    feeding = _context(60.0)
    feeding.stranger = True
    finding = detector.score_one(feeding)
    assert finding is not None
    assert (finding.tighten, finding.context) == (
        policy.surge_tighten,
        "portal-wide surge of unexplained reads",
    )
    assert detector.score_one(_context(120.0)) is None
    owner = _context(150.0)
    owner.tighten = 0.5  # a reset, say: the owner's own account, not a stranger's device
    assert detector.score_one(owner) is None
    later = _context(HOUR + 0.5)
    later.stranger = True
    assert detector.score_one(later) is None


def test_a_read_feeding_a_surge_through_shared_infrastructure_takes_both() -> None:
    """A read feeding the surge through a hosting AS that serves several sites is tightened by
    both, and keeps the shared infrastructure's reason and alert."""
    policy = POLICY.population
    detector = SharedInfrastructure(MemoryStore(), POLICY)
    hosting = _network("51.75.3.4", NetworkKind.HOSTING, asn=16276)
    for n in range(policy.sites_per_hosting_network - 1):
        detector.learn_one(
            _site_context(f"S{n}", 60.0 * n, kind="record_view", network=hosting), Verdict.ALLOW
        )
    crossing = _context(300.0, subject=pseudonym_for(77))
    detector.store.add_counts(
        PopulationKeys.PORTAL_UNEXPLAINED, crossing.t - 60, _HOUR_WINDOW, policy.surge_min_hour
    )
    detector.learn_one(crossing, Verdict.ALLOW)
    feeding = _site_context("S9", 600.0, kind="record_view", network=hosting)
    feeding.stranger = True
    finding = detector.score_one(feeding)
    assert finding is not None
    assert finding.tighten == pytest.approx(policy.tighten * policy.surge_tighten)
    assert finding.detector == "population"
    assert finding.context == (
        f"Op (AS16276) serves accounts of {policy.sites_per_hosting_network} sites today, "
        "portal-wide surge of unexplained reads"
    )
    assert finding.reason is not None
    assert finding.reason.code == "shared_infrastructure"
    assert [(a.kind, a.target) for a in finding.actions] == [(ActionKind.ALERT, "AS16276")]


# Unanswered challenges.


def _challenged(detector: UnansweredChallenges, t: float, number: int) -> Finding | None:
    """Score a read of patient ``number`` at ``t``, then learn it as challenged (by the
    budget, say) unless the detector itself denied it."""
    context = _context(t, subject=pseudonym_for(number))
    finding = detector.score_one(context)
    detector.learn_one(context, finding.verdict if finding else Verdict.CHALLENGE)
    return finding


def test_the_first_challenge_holds_nothing_the_unanswered_one_does() -> None:
    """A first challenge is outstanding, not yet unanswered: the next read is free of this
    detector; reading on past it holds the account (``challenge_unanswered``)."""
    detector = UnansweredChallenges(MemoryStore(), POLICY)
    assert _challenged(detector, 0.0, 1) is None
    assert _challenged(detector, 60.0, 2) is None  # the first challenge is now unanswered
    held = detector.score_one(_context(120.0, subject=pseudonym_for(3)))
    assert held is not None
    assert held.verdict is Verdict.CHALLENGE
    assert held.reason is not None
    assert held.reason.code == "challenge_unanswered"
    assert held.reason.figures == {
        "unanswered": 2.0,
        "lock_at": float(POLICY.response.unanswered_to_lock),
    }
    assert held.reason.message.startswith("a challenge was left unanswered 1 min ago (2 so far")


def test_a_hold_lasts_hold_hours() -> None:
    """A held account's unexplained reads are challenged for ``response.hold_hours``, then
    not; explained reads and vouched sessions never are."""
    hold = POLICY.response.hold_hours * HOUR
    detector = UnansweredChallenges(MemoryStore(), POLICY)
    _challenged(detector, 0.0, 1)
    _challenged(detector, 60.0, 2)  # held from here
    inside = _context(60.0 + hold - 60, subject=pseudonym_for(3))
    assert detector.score_one(inside) is not None
    assert detector.score_one(_context(60.0 + hold + 60, subject=pseudonym_for(4))) is None
    explained = _context(120.0, subject=pseudonym_for(5), explained=True)
    assert detector.score_one(explained) is None
    vouched = _context(120.0, subject=pseudonym_for(6))
    vouched.vouched_since = 90.0
    assert detector.score_one(vouched) is None


def test_a_step_up_answers_the_outstanding_challenge() -> None:
    """A passed step-up answers the outstanding challenge: the next challenge is a first one
    again, and nothing is held."""
    detector = UnansweredChallenges(MemoryStore(), POLICY)
    _challenged(detector, 0.0, 1)
    detector.on_step_up(_context(30.0))
    assert _challenged(detector, 60.0, 2) is None
    assert detector.score_one(_context(120.0, subject=pseudonym_for(3))) is None


def test_unanswered_challenges_lock_at_unanswered_to_lock_within_the_window() -> None:
    """The read that leaves ``response.unanswered_to_lock`` challenges unanswered within
    ``response.unanswered_window_hours`` is denied with a revoke, a lock, the owner told and
    an alert; unanswered ones older than the window no longer count."""
    to_lock = POLICY.response.unanswered_to_lock
    window = POLICY.response.unanswered_window_hours * HOUR
    detector = UnansweredChallenges(MemoryStore(), POLICY)
    findings = [_challenged(detector, 60.0 * n, n) for n in range(to_lock + 1)]
    assert [f.verdict if f else None for f in findings[:-1]] == [None, None] + [
        Verdict.CHALLENGE
    ] * (to_lock - 2)
    locked = findings[-1]
    assert locked is not None
    assert locked.verdict is Verdict.DENY
    assert locked.reason is not None
    assert locked.reason.code == "challenges_unanswered"
    assert [(a.kind, a.target) for a in locked.actions] == [
        (ActionKind.REVOKE_SESSION, "s0001"),
        (ActionKind.LOCK_ACCOUNT, "A00001"),
        (ActionKind.NOTIFY_OWNER, "A00001"),
        (ActionKind.ALERT, "A00001"),
    ]
    slow = UnansweredChallenges(MemoryStore(), POLICY)
    spaced = [_challenged(slow, (window / 2 + 60) * n, n) for n in range(to_lock + 1)]
    assert all(f is None or f.verdict is Verdict.CHALLENGE for f in spaced)


def test_without_a_session_id_the_lock_revokes_nothing() -> None:
    """A locking read without a portal session locks without a revoke action."""
    policy = msgspec.structs.replace(
        POLICY, response=msgspec.structs.replace(POLICY.response, unanswered_to_lock=1)
    )
    detector = UnansweredChallenges(MemoryStore(), policy)
    for n in range(2):
        context = _context(60.0 * n, subject=pseudonym_for(n), session=None)
        detector.learn_one(context, Verdict.CHALLENGE)
    finding = detector.score_one(_context(120.0, subject=pseudonym_for(9), session=None))
    assert finding is not None
    assert [a.kind for a in finding.actions] == [
        ActionKind.LOCK_ACCOUNT,
        ActionKind.NOTIFY_OWNER,
        ActionKind.ALERT,
    ]


def test_a_passed_step_up_on_a_login_opens_its_session() -> None:
    """A login let through by a passed step-up opens its session like an allowed login: its
    reads are not ``unknown_session``; a step-up on a read opens nothing."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    detector.on_step_up(_context(kind="login_success", session="s1"))
    assert detector.score_one(_context(60.0, session="s1")) is None
    detector.on_step_up(_context(120.0, session="s2"))
    finding = detector.score_one(_context(180.0, session="s2"))
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.code == "unknown_session"


def test_a_site_in_a_department_the_table_lacks_is_its_own_only_neighbour() -> None:
    """For a site whose department the table does not list, only its own department is
    near: a patient from there raises nothing, one from Paris is far."""
    from rempart.detectors import Enumeration
    from rempart.directory import OpeningInterval, Site, SiteKind

    site = Site(
        site="S0",
        kind=SiteKind.PHARMACY,
        department="00",
        commune="00000",
        timezone="Europe/Paris",
        hours=(OpeningInterval(weekday=0, opens=420, closes=1320),),
    )
    detector = Enumeration(MemoryStore(), POLICY, frozenset())
    for n, department in enumerate(("00", "00", "75")):
        context = _context(60.0 * n, subject=pseudonym_for(n), subject_department=department)
        context.site = site
        finding = detector.score_one(context)
        if department == "00":
            assert finding is None
        else:
            assert finding is not None
            assert finding.reason is not None
            assert finding.reason.code == "far_patient"
            assert finding.reason.message == (
                "unexplained read of a patient from department 75, far from the site's 00"
            )


def test_a_hold_runs_from_the_first_unanswered_challenge() -> None:
    """Later unanswered challenges neither restart the hold nor its clock: it ends
    ``response.hold_hours`` after the first, and its reason counts minutes from then."""
    hold = POLICY.response.hold_hours * HOUR
    patient = msgspec.structs.replace(POLICY.response, unanswered_to_lock=10)
    detector = UnansweredChallenges(
        MemoryStore(), msgspec.structs.replace(POLICY, response=patient)
    )
    _challenged(detector, 0.0, 1)
    _challenged(detector, 60.0, 2)  # the first unanswered: held from here
    _challenged(detector, 3_660.0, 3)  # another, an hour later
    later = detector.score_one(_context(7_260.0, subject=pseudonym_for(4)))
    assert later is not None
    assert later.reason is not None
    assert later.reason.message.startswith("a challenge was left unanswered 120 min ago")
    assert detector.score_one(_context(60.0 + hold + 30, subject=pseudonym_for(5))) is None


def test_a_failure_from_the_accounts_own_network_is_not_stuffing() -> None:
    """A failed login from a network its account already used (by /24 or by AS: a colleague's
    typo on the pharmacy's shared line) does not count the address as failing on others."""
    from rempart.detectors import LoginAttacks
    from rempart.stores.keys import TakeoverKeys

    line = _network(ELSEWHERE, NetworkKind.FIXED, asn=12322)
    for known_by in ("prefix", "asn"):
        store = MemoryStore()
        detector = LoginAttacks(store, POLICY)
        failure = _context(kind="login_failure", ip=ELSEWHERE, network=line, account="B1")
        if known_by == "prefix":
            store.add_member(TakeoverKeys.networks("B1"), failure.prefix, failure.t, DAY)
        else:
            store.add_member(TakeoverKeys.autonomous_systems("B1"), "12322", failure.t, DAY)
        detector.learn_one(failure, Verdict.ALLOW)
        assert detector.score_one(_context(60.0, kind="login_success", ip=ELSEWHERE)) is None
    stranger = MemoryStore()
    detector = LoginAttacks(stranger, POLICY)
    failure = _context(kind="login_failure", ip=ELSEWHERE, network=line, account="B1")
    detector.learn_one(failure, Verdict.ALLOW)
    assert detector.score_one(_context(60.0, kind="login_success", ip=ELSEWHERE)) is not None


def test_a_prefix_of_an_autonomous_system_the_account_knows_is_not_new_to_it() -> None:
    """A login through a /24 new to the account but of an AS it already used does not count
    its site towards a shared new prefix."""
    from rempart.stores.keys import TakeoverKeys

    policy = POLICY.population
    store = MemoryStore()
    detector = SharedInfrastructure(store, POLICY)
    line = _network("82.64.9.1", NetworkKind.FIXED, asn=12322)
    for n in range(policy.sites_per_new_prefix - 1):
        context = _site_context(f"S{n}", 60.0 * n, ip=f"82.64.9.{n + 1}", network=line)
        detector.learn_one(context, Verdict.ALLOW)
    known = _site_context("S9", 600.0, ip="82.64.9.99", network=line)
    store.add_member(TakeoverKeys.autonomous_systems("AS9"), "12322", known.t, DAY)
    assert detector.score_one(known) is None
    stranger = _site_context("S8", 600.0, ip="82.64.9.98", network=line)
    assert detector.score_one(stranger) is not None


# Takeover: what a login teaches, and what it carries to its session.


def _hopping_policy(days: int) -> Policy:
    return msgspec.structs.replace(
        POLICY, takeover=msgspec.structs.replace(TAKEOVER, new_networks_day=days)
    )


def _login_from(
    detector: TakeoverContext, t: float, ip: str, session: str, **fields: object
) -> EventContext:
    login = _context(t, kind="login_success", ip=ip, session=session, **fields)
    detector.learn_one(login, Verdict.ALLOW)
    return login


def test_new_networks_in_new_networks_day_blocks_tighten_that_session() -> None:
    """An established account logging in, in a day, from networks new to it in
    ``takeover.new_networks_day`` address blocks (/16) has that session's reads tightened by
    ``network_hopping``, as a stranger's; the session before it, at one block fewer, is not,
    and a second network in a block already counted adds nothing."""
    days = TAKEOVER.new_networks_day
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    start = _at_day()
    for n in range(days - 1):
        _login_from(detector, start + n, f"8{n}.10.1.1", f"h{n}")
    _login_from(detector, start + 10, "80.10.2.1", "same-block")  # the first block again
    before = detector.score_one(_context(start + 20, ip="80.10.2.1", session="same-block"))
    assert before is None or "address blocks" not in (before.context or "")
    _login_from(detector, start + 30, "89.10.1.1", "hop")
    finding = detector.score_one(_context(start + 40, ip="89.10.1.1", session="hop"))
    assert finding is not None
    assert finding.stranger is True
    assert f"new networks in {days} address blocks that day" in (finding.context or "")
    # The read's own network is new too (it is never learned from a hopping session).
    assert finding.tighten == pytest.approx(TAKEOVER.new_network * TAKEOVER.network_hopping)


def test_ipv6_blocks_are_slash_32() -> None:
    """Two IPv6 networks in one /32 are one block; in another /32, two."""
    detector = TakeoverContext(MemoryStore(), _hopping_policy(2))
    _established(detector)
    start = _at_day()
    _login_from(detector, start, "2a01:cb00:1:1::1", "v1")
    _login_from(detector, start + 1, "2a01:cb00:2:1::1", "v2")
    same = detector.score_one(_context(start + 2, ip="2a01:cb00:2:1::1", session="v2"))
    assert same is None or "address blocks" not in (same.context or "")
    _login_from(detector, start + 3, "2a02:8400:1:1::1", "v3")
    other = detector.score_one(_context(start + 4, ip="2a02:8400:1:1::1", session="v3"))
    assert other is not None
    assert "new networks in 2 address blocks that day" in (other.context or "")


def test_a_usual_network_is_never_a_hop() -> None:
    """Even at one block a day, a login from the account's own line (known by its /24, or by
    its AS) is no hop; a new account's networks are not counted at all."""
    detector = TakeoverContext(MemoryStore(), _hopping_policy(1))
    for day in range(TAKEOVER.established_days):
        usual = _context(
            day * DAY,
            kind="login_success",
            session="s0",
            network=_network(HOME, NetworkKind.FIXED, asn=3215),
        )
        detector.learn_one(usual, Verdict.ALLOW)
    start = _at_day()
    _login_from(detector, start, HOME, "own-line")
    assert detector.score_one(_context(start + 1, session="own-line")) is None
    same_as = _network(ELSEWHERE, NetworkKind.FIXED, asn=3215)
    _login_from(detector, start + 2, ELSEWHERE, "own-as", network=same_as)
    read = _context(start + 3, ip=ELSEWHERE, session="own-as", network=same_as)
    assert detector.score_one(read) is None
    newcomer = TakeoverContext(MemoryStore(), _hopping_policy(1))
    _login_from(newcomer, 0.0, ELSEWHERE, "n1")
    assert newcomer.score_one(_context(1.0, ip=ELSEWHERE, session="n1")) is None


def test_a_new_browser_on_the_usual_line_is_not_someone_elses_device() -> None:
    """A new browser on a network the account knows (by /24 or by AS) carries nothing to the
    session: the login teaches the browser, and the session's reads are plain."""
    same_as = _network(ELSEWHERE, NetworkKind.FIXED, asn=3215)
    for session, ip, network in (("line", HOME, None), ("as", ELSEWHERE, same_as)):
        detector = TakeoverContext(MemoryStore(), POLICY)
        for day in range(TAKEOVER.established_days):
            usual = _context(
                day * DAY,
                kind="login_success",
                session="s0",
                network=_network(HOME, NetworkKind.FIXED, asn=3215),
            )
            detector.learn_one(usual, Verdict.ALLOW)
        start = _at_day()
        _login_from(detector, start, ip, session, user_agent=FIREFOX, network=network)
        read = _context(start + 1, ip=ip, session=session, user_agent=FIREFOX, network=network)
        assert detector.score_one(read) is None


def test_a_login_names_everything_before_it_that_a_thief_does() -> None:
    """A suspect session's reason names the credential change first, then the login's
    warnings, in the policy's words."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    start = _at_day()
    detector.learn_one(_context(start - 600, kind="mfa_change", session=None), Verdict.ALLOW)
    login = _context(start, kind="login_success", ip=ELSEWHERE, user_agent=FIREFOX, session="t1")
    login.login_warnings = ["3 failed logins on the account in 24 h", "a stuffing wave"]
    detector.learn_one(login, Verdict.ALLOW)
    read = _context(start + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1")
    finding = detector.score_one(read)
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.message == (
        "session t1… opened from a network and a browser both new to the account, after a mfa "
        "change, 3 failed logins on the account in 24 h, a stuffing wave: its unexplained "
        "reads need step-up"
    )
    assert finding.stranger is True


def test_a_session_from_someone_elses_device_with_warnings_alone_is_suspect() -> None:
    """Failed logins before it, with no credential change, make such a session suspect."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    start = _at_day()
    login = _context(start, kind="login_success", ip=ELSEWHERE, user_agent=FIREFOX, session="t1")
    login.login_warnings = ["a stuffing wave"]
    detector.learn_one(login, Verdict.ALLOW)
    read = _context(start + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1")
    finding = detector.score_one(read)
    assert finding is not None
    assert finding.verdict is Verdict.CHALLENGE
    assert finding.reason is not None
    assert "after a stuffing wave:" in finding.reason.message
    found_nobody = _context(
        start + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1", outcome=Outcome.NOT_FOUND
    )
    quiet = detector.score_one(found_nobody)
    assert quiet is not None
    assert quiet.verdict is Verdict.ALLOW


def test_suspect_session_is_a_policy_key() -> None:
    """With ``takeover.suspect_session = "allow"``, a suspect session is only tightened."""
    policy = Policy.from_toml_text('[takeover]\nsuspect_session = "allow"\n')
    detector = TakeoverContext(MemoryStore(), policy)
    _established(detector)
    _someone_elses_login(detector, _at_day(), after_reset=True)
    read = _context(_at_day() + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1")
    finding = detector.score_one(read)
    assert finding is not None
    assert finding.verdict is Verdict.ALLOW
    assert finding.stranger is True


def test_a_practice_patient_read_in_the_session_teaches_its_device() -> None:
    """An explained read in a session from someone else's device proves it the owner's: the
    session carries nothing more and its network is the account's own."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    start = _at_day()
    _someone_elses_login(detector, start, after_reset=False)
    known = _context(start + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1", explained=True)
    detector.learn_one(known, Verdict.ALLOW)
    assert (
        detector.score_one(_context(start + 120, ip=ELSEWHERE, user_agent=FIREFOX, session="t1"))
        is None
    )
    again = _context(start + 180, kind="login_success", ip=ELSEWHERE, user_agent=FIREFOX)
    assert detector.score_one(again) is None


def test_another_accounts_explained_read_in_the_session_teaches_nothing() -> None:
    """An explained read by another account in the session does not vouch for the device."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    start = _at_day()
    _someone_elses_login(detector, start, after_reset=False)
    other = _context(
        start + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1", explained=True, account="B1"
    )
    detector.learn_one(other, Verdict.ALLOW)
    read = _context(start + 120, ip=ELSEWHERE, user_agent=FIREFOX, session="t1")
    finding = detector.score_one(read)
    assert finding is not None
    assert finding.context == "session opened from a new network and a new browser"


@pytest.mark.parametrize(("hours", "known"), [(11.9, True), (12.1, False)])
def test_a_session_is_remembered_for_twelve_hours(hours: float, known: bool) -> None:
    """A login's session is known to its reads for twelve hours after it."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    detector.learn_one(_context(kind="login_success", session="s1"), Verdict.ALLOW)
    finding = detector.score_one(_context(hours * HOUR, session="s1"))
    assert (finding is None) is known


@pytest.mark.parametrize(("idle_days", "established"), [(29.5, True), (30.5, False)])
def test_an_account_stays_established_thirty_days(idle_days: float, established: bool) -> None:
    """An account idle for thirty days is no longer established: nothing is new to it."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    last = (TAKEOVER.established_days - 1) * DAY
    login = _context(last + idle_days * DAY, kind="login_success", ip=ELSEWHERE)
    finding = detector.score_one(login)
    assert (finding is not None) is established


# Signs together, and the words of every finding.


def test_signs_multiply() -> None:
    """A rented server abroad, new to an established account, with a new browser, tightens
    by the product of the four multipliers, naming each sign in order."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    abroad = _network(ELSEWHERE, NetworkKind.HOSTING, asn=16276, country="DE")
    login = _context(_at_day(), kind="login_success", ip=ELSEWHERE, network=abroad)
    login.event = msgspec.structs.replace(login.event, user_agent=FIREFOX)
    finding = detector.score_one(login)
    assert finding is not None
    assert finding.tighten == pytest.approx(
        TAKEOVER.hosting_network
        * TAKEOVER.foreign_network
        * TAKEOVER.new_network
        * TAKEOVER.new_device
    )
    assert finding.context == (
        "rented server (Op), connection from DE, new network 82.64.1.0/24 (Op), new browser"
    )
    assert finding.stranger is False


def test_a_carried_session_abroad_takes_both() -> None:
    """A session from someone else's device, reading from abroad, is tightened by the
    country and by what its login carried."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    _someone_elses_login(detector, _at_day(), after_reset=False)
    abroad = _network(ELSEWHERE, NetworkKind.FIXED, country="BE")
    read = _context(_at_day() + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1", network=abroad)
    finding = detector.score_one(read)
    assert finding is not None
    assert finding.tighten == pytest.approx(
        TAKEOVER.foreign_network * TAKEOVER.new_network * TAKEOVER.new_device
    )
    assert finding.context == (
        "connection from BE, session opened from a new network and a new browser"
    )


def test_an_unknown_session_names_its_signs_and_a_long_id_is_cut() -> None:
    """An unknown session keeps the event's tightening and signs; its id is cut to eight
    characters in the reason; without a sign its context is empty."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    hosting = _network(HOME, NetworkKind.HOSTING)
    finding = detector.score_one(_context(session="stolen-cookie-1", network=hosting))
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.message.startswith("session stolen-c… reads patients")
    assert (finding.tighten, finding.context) == (TAKEOVER.hosting_network, "rented server (Op)")
    plain = detector.score_one(_context(session="stolen-cookie-1"))
    assert plain is not None
    assert (plain.tighten, plain.context) == (1.0, None)


def test_a_long_session_id_is_cut_in_every_reason() -> None:
    """The mismatch and suspect reasons cut the session id to eight characters too."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    detector.learn_one(
        _context(kind="login_success", session="session-12345", account="B1"), Verdict.ALLOW
    )
    mismatch = detector.score_one(_context(60.0, session="session-12345"))
    assert mismatch is not None
    assert mismatch.reason is not None
    assert mismatch.reason.message == "session session-… opened by B1 used by A00001"
    assert mismatch.reason.detector == "takeover"


def test_a_suspect_sessions_finding_keeps_its_tightening_and_signs() -> None:
    """The suspect-session challenge carries the session's tightening and signs."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    _someone_elses_login(detector, _at_day(), after_reset=True)
    read = _context(_at_day() + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1")
    finding = detector.score_one(read)
    assert finding is not None
    assert finding.detector == "takeover"
    assert finding.reason is not None
    assert finding.reason.detector == "takeover"
    assert finding.tighten == pytest.approx(
        TAKEOVER.new_network * TAKEOVER.new_device * TAKEOVER.credential_change
    )
    assert finding.context is not None
    assert finding.context.startswith("password reset 11 min earlier, session opened from")


@pytest.mark.parametrize("key", ["suspect_session", "session_moved"])
def test_allow_turns_a_session_rule_off(key: str) -> None:
    """With a session rule set to ``allow``, it gives no reason at all."""
    policy = Policy.from_toml_text(f'[takeover]\n{key} = "allow"\n')
    detector = TakeoverContext(MemoryStore(), policy)
    _established(detector)
    if key == "suspect_session":
        _someone_elses_login(detector, _at_day(), after_reset=True)
        read = _context(_at_day() + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="t1")
    else:
        login = _context(
            _at_day(),
            kind="login_success",
            session="m1",
            network=_network(HOME, NetworkKind.FIXED, asn=3215),
        )
        detector.learn_one(login, Verdict.ALLOW)
        moved = _network(ELSEWHERE, NetworkKind.FIXED, asn=12322)
        read = _context(_at_day() + 60, ip=ELSEWHERE, session="m1", network=moved)
    finding = detector.score_one(read)
    assert finding is None or finding.reason is None


def test_a_moved_session_keeps_its_tightening() -> None:
    """A moved session's challenge carries the event's tightening."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    login = _context(
        kind="login_success", session="m1", network=_network(HOME, NetworkKind.FIXED, asn=3215)
    )
    detector.learn_one(login, Verdict.ALLOW)
    moved = _network(ELSEWHERE, NetworkKind.HOSTING, asn=12322)
    finding = detector.score_one(_context(60.0, ip=ELSEWHERE, session="m1", network=moved))
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.code == "session_moved"
    assert finding.tighten == TAKEOVER.hosting_network


def test_an_explained_read_keeps_the_sessions_network_and_ends_its_hopping() -> None:
    """After an explained read vouches for a session from someone else's device, the session
    still belongs to its login's /24 and AS (another /24 of the AS, or another AS on the
    /24, is no move), and a hopping session hops no more."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    start = _at_day()
    login_network = _network(ELSEWHERE, NetworkKind.FIXED, asn=12322)
    login = _context(
        start,
        kind="login_success",
        ip=ELSEWHERE,
        user_agent=FIREFOX,
        session="t1",
        network=login_network,
    )
    detector.learn_one(login, Verdict.ALLOW)
    known = _context(
        start + 60,
        ip=ELSEWHERE,
        user_agent=FIREFOX,
        session="t1",
        explained=True,
        network=login_network,
    )
    detector.learn_one(known, Verdict.ALLOW)
    same_as = _network("82.64.7.1", NetworkKind.FIXED, asn=12322)
    other_as = _network(ELSEWHERE, NetworkKind.FIXED, asn=5410)
    for ip, network in (("82.64.7.1", same_as), (ELSEWHERE, other_as)):
        read = _context(start + 120, ip=ip, user_agent=FIREFOX, session="t1", network=network)
        finding = detector.score_one(read)
        assert finding is None or finding.reason is None
    hopper = TakeoverContext(MemoryStore(), POLICY)
    _established(hopper)
    for n in range(TAKEOVER.new_networks_day):
        _login_from(hopper, start + n, f"8{n}.10.1.1", "hop")
    hopper.learn_one(
        _context(start + 30, ip="82.10.1.1", session="hop", explained=True), Verdict.ALLOW
    )
    after = hopper.score_one(_context(start + 60, ip="82.10.1.1", session="hop"))
    assert after is None or "address blocks" not in (after.context or "")


def test_one_block_a_day_makes_every_new_network_a_hop_until_vouched() -> None:
    """With ``new_networks_day = 1``, a session whose explained read vouched for it hops no
    more."""
    detector = TakeoverContext(MemoryStore(), _hopping_policy(1))
    _established(detector)
    start = _at_day()
    _login_from(detector, start, ELSEWHERE, "h1")
    hop = detector.score_one(_context(start + 1, ip=ELSEWHERE, session="h1"))
    assert hop is not None
    assert "address blocks" in (hop.context or "")
    detector.learn_one(
        _context(start + 2, ip=ELSEWHERE, session="h1", explained=True), Verdict.ALLOW
    )
    after = detector.score_one(_context(start + 3, ip=ELSEWHERE, session="h1"))
    assert after is None


def test_active_days_count_for_thirty_days() -> None:
    """Active days older than thirty days do not make an account established."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    for day in (0.0, 1.0, 30.5):
        detector.learn_one(_context(day * DAY, kind="login_success", session="s0"), Verdict.ALLOW)
    login = _context(30.6 * DAY, kind="login_success", ip=ELSEWHERE)
    assert detector.score_one(login) is None


# Unanswered challenges: words and windows.


def test_the_hold_and_the_lock_say_so() -> None:
    """The hold's and the lock's reasons, word for word, from the challenges detector."""
    detector = UnansweredChallenges(MemoryStore(), POLICY)
    findings = [_challenged(detector, 60.0 * n, n) for n in range(4)]
    held, locked = findings[2], findings[3]
    assert held is not None
    assert held.detector == "challenges"
    assert held.reason is not None
    assert held.reason.detector == "challenges"
    assert held.reason.message == (
        "a challenge was left unanswered 1 min ago (2 so far, lock at 3); this session has not "
        "passed step-up since"
    )
    assert locked is not None
    assert locked.detector == "challenges"
    assert locked.reason is not None
    assert locked.reason.detector == "challenges"
    assert locked.reason.message == (
        "3 challenges left unanswered, reads going on regardless: account locked pending an "
        "out-of-band reset, owner told"
    )
    assert locked.reason.figures == {"unanswered": 3.0, "lock_at": 3.0}


def test_a_held_account_with_no_outstanding_challenge_counts_only_the_unanswered() -> None:
    """Once a step-up answered the outstanding challenge, another session's read is still
    held, counting the unanswered challenges only; the account's logins are not held."""
    detector = UnansweredChallenges(MemoryStore(), POLICY)
    _challenged(detector, 0.0, 1)
    _challenged(detector, 60.0, 2)
    detector.on_step_up(_context(90.0, session="owner"))
    held = detector.score_one(_context(120.0, subject=pseudonym_for(3), session="thief"))
    assert held is not None
    assert held.reason is not None
    assert held.reason.figures["unanswered"] == 1.0
    assert detector.score_one(_context(150.0, kind="login_success")) is None


def test_a_challenge_is_outstanding_for_unanswered_window_hours() -> None:
    """A challenge left more than ``response.unanswered_window_hours`` ago is no longer
    outstanding: reading on then is not leaving it unanswered."""
    window = POLICY.response.unanswered_window_hours * HOUR
    detector = UnansweredChallenges(MemoryStore(), POLICY)
    _challenged(detector, 0.0, 1)
    _challenged(detector, window + 10.0, 2)
    assert detector.score_one(_context(window + 20.0, subject=pseudonym_for(3))) is None


def test_a_site_counts_once_towards_a_shared_new_prefix() -> None:
    """A site already counted for a prefix does not count again on another login; a read by
    a site counted among enough sites keeps the prefix shared."""
    policy = POLICY.population
    detector = SharedInfrastructure(MemoryStore(), POLICY)
    for n in range(policy.sites_per_new_prefix - 1):
        detector.learn_one(_site_context(f"S{n}", 60.0 * n, ip=f"82.64.9.{n + 1}"), Verdict.ALLOW)
    again = _site_context("S0", 300.0, ip="82.64.9.50")
    assert detector.score_one(again) is None
    third = _site_context("S9", 400.0, ip="82.64.9.60")
    detector.learn_one(third, Verdict.ALLOW)
    read = _site_context("S0", 500.0, kind="record_view", ip="82.64.9.50")
    finding = detector.score_one(read)
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.figures == {"sites": float(policy.sites_per_new_prefix)}
    assert finding.reason.message == (
        f"accounts of {policy.sites_per_new_prefix} different sites came through "
        "82.64.9.0/24 (unknown), a network new to each, within a day"
    )
    assert (
        finding.context
        == f"82.64.9.0/24 new to accounts of {policy.sites_per_new_prefix} sites today"
    )


def test_a_hosting_as_counts_only_its_hosting_ranges() -> None:
    """A read through a range of the same AS that the table does not label hosting is not
    shared hosting infrastructure."""
    policy = POLICY.population
    detector = SharedInfrastructure(MemoryStore(), POLICY)
    hosting = _network("51.75.3.4", NetworkKind.HOSTING, asn=16276)
    for n in range(policy.sites_per_hosting_network):
        detector.learn_one(
            _site_context(f"S{n}", 60.0 * n, kind="record_view", network=hosting), Verdict.ALLOW
        )
    fixed = _network("51.76.3.4", NetworkKind.FIXED, asn=16276)
    read = _site_context("S9", 600.0, kind="record_view", ip="51.76.3.4", network=fixed)
    assert detector.score_one(read) is None
    finding = detector.score_one(_site_context("S9", 600.0, kind="record_view", network=hosting))
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.message == (
        f"accounts of {policy.sites_per_hosting_network + 1} different sites used Op (AS16276) "
        "within a day"
    )


def test_only_unexplained_reads_let_through_or_challenged_feed_the_surge_counts() -> None:
    """Explained reads and denied reads are not counted portal-wide; the others count in
    the hour and in their hour of the day."""
    detector = SharedInfrastructure(MemoryStore(), POLICY)
    detector.learn_one(_context(0.0, explained=True), Verdict.ALLOW)
    detector.learn_one(_context(1.0), Verdict.DENY)
    detector.learn_one(_context(2.0, kind="login_success"), Verdict.ALLOW)
    detector.learn_one(_context(3.0), Verdict.CHALLENGE)
    now = _context(4.0).t
    assert detector.store.counts(PopulationKeys.PORTAL_UNEXPLAINED, now, _HOUR_WINDOW) == (1.0,)
    hour = int(now // 3_600) % 24
    week = (Window(7 * DAY, 3_600),)
    assert detector.store.counts(PopulationKeys.portal_unexplained_at(hour), now, week) == (1.0,)


def test_a_feeding_read_is_the_populations_finding() -> None:
    """A stranger's read feeding a surge is tightened by the population detector."""
    policy = POLICY.population
    detector = SharedInfrastructure(MemoryStore(), POLICY)
    crossing = _context()
    detector.store.add_counts(
        PopulationKeys.PORTAL_UNEXPLAINED, crossing.t - 60, _HOUR_WINDOW, policy.surge_min_hour
    )
    detector.learn_one(crossing, Verdict.ALLOW)
    feeding = _site_context("S1", 60.0, kind="record_view", ip="90.1.1.1")
    feeding.stranger = True
    finding = detector.score_one(feeding)
    assert finding is not None
    assert finding.detector == "population"


def test_ipv6_network_keys_are_slash_48() -> None:
    """An IPv6 address's network is its /48; an IPv4 address's its /24."""
    from rempart.detectors.context import network_key

    assert network_key("2a01:cb00:1234:5678::1") == "2a01:cb00:1234::/48"
    assert network_key("90.12.34.56") == "90.12.34.0/24"


def test_an_unknown_session_abroad_on_a_server_names_both_signs() -> None:
    """An unknown session's signs are joined in the words of each."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    abroad = _network(HOME, NetworkKind.HOSTING, country="DE")
    finding = detector.score_one(_context(session="s1", network=abroad))
    assert finding is not None
    assert finding.context == "rented server (Op), connection from DE"


def test_a_suspect_sessions_long_id_is_cut() -> None:
    """The suspect-session reason cuts the session id to eight characters."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    _established(detector)
    start = _at_day()
    detector.learn_one(_context(start - 600, kind="password_reset", session=None), Verdict.ALLOW)
    login = _context(
        start, kind="login_success", ip=ELSEWHERE, user_agent=FIREFOX, session="session-12345"
    )
    detector.learn_one(login, Verdict.ALLOW)
    read = _context(start + 60, ip=ELSEWHERE, user_agent=FIREFOX, session="session-12345")
    finding = detector.score_one(read)
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.message.startswith("session session-… opened from a network")


def test_an_explained_read_in_a_plain_session_leaves_it_as_its_login_made_it() -> None:
    """An explained read in a session from the account's own device does not renew the
    session: twelve hours after its login, it is unknown all the same."""
    detector = TakeoverContext(MemoryStore(), POLICY)
    detector.learn_one(_context(kind="login_success", session="s1"), Verdict.ALLOW)
    detector.learn_one(_context(6 * HOUR, session="s1", explained=True), Verdict.ALLOW)
    finding = detector.score_one(_context(12 * HOUR + 60, session="s1"))
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.code == "unknown_session"
