"""Guard: the budget of unexplained reads, step-up, locks and bans, takeover tightening,
and the policy file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rempart.cli import main
from rempart.directory import Account, OpeningInterval, Profession, Site, SiteKind
from rempart.errors import ConfigError
from rempart.events import Event, Lookup
from rempart.evidence import CareEvidence, EvidenceKind
from rempart.guard import ActionKind, Decision, Guard, Knowledge, Policy, Verdict
from rempart.stores.base import Window
from rempart.stores.keys import BudgetKeys
from rempart.stores.memory import MemoryStore
from rempart.testbed.geography import network_table
from rempart.testing import make_event, pseudonym_for

T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Paris
HOME = "90.12.34.56"  # Orange, a French fixed line
OVH = "51.75.3.4"  # OVH, hosting
CANARY = pseudonym_for(999_999)
BUDGET_WINDOWS = (Window(3_600, 60), Window(86_400, 900), Window(7 * 86_400, 3_600))
HOURS = tuple(OpeningInterval(weekday=day, opens=420, closes=1320) for day in range(7))


def knowledge() -> Knowledge:
    """Two pharmacists at one Paris pharmacy open 07:00-22:00 every day, a canary, the
    testbed's network table."""
    site = Site(
        site="S1",
        kind=SiteKind.PHARMACY,
        department="75",
        commune="75056",
        timezone="Europe/Paris",
        hours=HOURS,
    )
    accounts = {
        name: Account(account=name, profession=Profession.PHARMACIST, site="S1")
        for name in ("A1", "A2")
    }
    return Knowledge(
        accounts=accounts,
        sites={"S1": site},
        canaries=frozenset({CANARY}),
        networks=network_table(),
    )


class Portal:
    """Drives a guard with events at increasing times, one session per login."""

    def __init__(self, guard: Guard | None = None) -> None:
        self.guard = guard or Guard(knowledge(), MemoryStore())
        self.now = T0
        self.count = 0
        self.subjects = 0

    def event(self, gap: float = 60.0, **fields: Any) -> Event:
        """A new event ``gap`` seconds after the previous one."""
        self.now += timedelta(seconds=gap)
        self.count += 1
        fields.setdefault("account", "A1")
        fields.setdefault("ip", HOME)
        return make_event(time=self.now, event_id=f"ev{self.count:06d}", **fields)

    def decide(self, gap: float = 60.0, **fields: Any) -> Decision:
        """The guard's decision on a new event."""
        return self.guard.decide(self.event(gap, **fields))

    def login(self, session: str = "s1", **fields: Any) -> Decision:
        """A successful login opening ``session``."""
        return self.decide(kind="login_success", session=session, **fields)

    def read(self, session: str = "s1", subject: str | None = None, **fields: Any) -> Event:
        """A read of a new patient (or of ``subject``) in ``session``, not yet decided."""
        if subject is None:
            self.subjects += 1
            subject = pseudonym_for(self.subjects)
        return self.event(session=session, subject=subject, **fields)

    def evidence(self, subject: str, site: str = "S1") -> None:
        """Care evidence for ``subject`` at ``site``, observed now."""
        self.guard.observe(
            CareEvidence(time=self.now, kind=EvidenceKind.CARD_READ, subject=subject, site=site)
        )

    def reads_until_challenged(self, session: str = "s1", limit: int = 50, **fields: Any) -> int:
        """How many unexplained reads pass before the first challenge."""
        for allowed in range(limit):
            decision = self.guard.decide(self.read(session, **fields))
            if decision.verdict is not Verdict.ALLOW:
                assert decision.verdict is Verdict.CHALLENGE
                return allowed
        return limit


def codes(decision: Decision) -> list[str]:
    """The reason codes of ``decision``."""
    return [reason.code for reason in decision.reasons]


def unexplained_spent(guard: Guard, account: str, now: datetime) -> float:
    """The account's unexplained reads counted in the last hour."""
    return guard.store.counts(BudgetKeys.unexplained(account), now.timestamp(), BUDGET_WINDOWS)[0]


# The budget.


def test_explained_reads_never_spend_budget() -> None:
    """Forty reads of patients with care evidence at the site pass and count nothing; the
    budget of ten unexplained reads is then intact."""
    portal = Portal()
    subjects = [pseudonym_for(10_000 + n) for n in range(40)]
    for subject in subjects:
        portal.evidence(subject)
    assert portal.login().verdict is Verdict.ALLOW
    for subject in subjects:
        decision = portal.guard.decide(portal.read(subject=subject, lookup=Lookup.CARD))
        assert decision.verdict is Verdict.ALLOW
        assert decision.reasons == ()
    assert unexplained_spent(portal.guard, "A1", portal.now) == 0
    assert portal.reads_until_challenged() == 10


def test_account_evidence_explains_too() -> None:
    """Evidence tied to the account itself (not its site) explains the read."""
    portal = Portal()
    portal.login()
    for n in range(15):
        subject = pseudonym_for(20_000 + n)
        portal.guard.observe(
            CareEvidence(time=portal.now, kind=EvidenceKind.CLAIM, subject=subject, account="A1")
        )
        assert portal.guard.decide(portal.read(subject=subject)).verdict is Verdict.ALLOW
    assert unexplained_spent(portal.guard, "A1", portal.now) == 0


def test_evidence_of_another_site_explains_nothing() -> None:
    """Evidence at another site does not explain a read by this site's account."""
    portal = Portal()
    portal.login()
    subjects = [pseudonym_for(30_000 + n) for n in range(11)]
    for subject in subjects:
        portal.evidence(subject, site="S9")
    verdicts = [portal.guard.decide(portal.read(subject=s)).verdict for s in subjects]
    assert verdicts == [Verdict.ALLOW] * 10 + [Verdict.CHALLENGE]


def test_eleventh_unexplained_read_in_an_hour_is_challenged_with_its_figures() -> None:
    """Ten unexplained reads in an hour pass; the eleventh is challenged, with a reason
    naming the count and the budget in its message and its figures."""
    portal = Portal()
    portal.login()
    decisions = [portal.guard.decide(portal.read(gap=300)) for _ in range(11)]
    assert [d.verdict for d in decisions] == [Verdict.ALLOW] * 10 + [Verdict.CHALLENGE]
    (reason,) = decisions[-1].reasons
    assert reason.detector == "budget"
    assert reason.code == "unexplained_budget"
    assert "11 patients read in an hour" in reason.message
    assert "budget 10" in reason.message
    assert reason.figures["unexplained"] == 11
    assert reason.figures["budget"] == 10
    assert decisions[-1].actions == ()


def test_budget_recovers_after_the_hour() -> None:
    """Once the hour has passed, unexplained reads are allowed again (up to the day's budget)."""
    portal = Portal()
    portal.login()
    assert portal.reads_until_challenged() == 10
    portal.now += timedelta(hours=1, minutes=5)
    assert portal.reads_until_challenged() == 10


def test_day_budget_caps_reads_spread_over_hours() -> None:
    """Reads spread thinly over the day stop at the day's budget of 25."""
    portal = Portal()
    portal.login()
    assert portal.reads_until_challenged(gap=400) == 25


def _search(portal: Portal, people: list[str], session: str = "s1") -> Event:
    """A successful search in ``session`` listing ``people``, not yet decided."""
    return portal.event(kind="search", session=session, lookup=Lookup.SEARCH, results=people)


def test_search_listing_twelve_unexplained_people_is_challenged() -> None:
    """A search listing twelve people nothing explains goes over the hour's ten, like reads."""
    portal = Portal()
    portal.login()
    decision = portal.guard.decide(_search(portal, [pseudonym_for(40_000 + n) for n in range(12)]))
    assert decision.verdict is Verdict.CHALLENGE
    (reason,) = decision.reasons
    assert reason.code == "unexplained_budget"
    assert "12 patients read or listed by a search in an hour" in reason.message
    assert reason.figures["unexplained"] == 12


def test_search_listing_explained_people_is_free() -> None:
    """A search listing twelve patients with care evidence passes and spends nothing."""
    portal = Portal()
    portal.login()
    people = [pseudonym_for(41_000 + n) for n in range(12)]
    for subject in people:
        portal.evidence(subject)
    decision = portal.guard.decide(_search(portal, people))
    assert (decision.verdict, decision.reasons) == (Verdict.ALLOW, ())
    assert unexplained_spent(portal.guard, "A1", portal.now) == 0
    assert portal.reads_until_challenged() == 10


def test_allowed_search_spends_its_unexplained_people_once() -> None:
    """A search counts each unexplained person it lists once (repeats and explained people
    are free); reading one of them afterwards is free, and the budget's rest still holds."""
    portal = Portal()
    portal.login()
    known = pseudonym_for(42_000)
    portal.evidence(known)
    strangers = [pseudonym_for(42_001 + n) for n in range(4)]
    listed = [strangers[0], known, *strangers, strangers[1]]
    assert portal.guard.decide(_search(portal, listed)).verdict is Verdict.ALLOW
    assert unexplained_spent(portal.guard, "A1", portal.now) == 4
    decision = portal.guard.decide(portal.read(subject=strangers[2], lookup=Lookup.SEARCH))
    assert decision.verdict is Verdict.ALLOW
    assert unexplained_spent(portal.guard, "A1", portal.now) == 4
    assert portal.reads_until_challenged() == 6


def test_search_let_through_by_step_up_explains_its_people() -> None:
    """After a passed step-up on a listing search, reading someone it listed costs nothing."""
    portal = Portal()
    portal.login()
    people = [pseudonym_for(43_000 + n) for n in range(12)]
    search = _search(portal, people)
    assert portal.guard.decide(search).verdict is Verdict.CHALLENGE
    assert portal.guard.step_up(search, passed=True).verdict is Verdict.ALLOW
    spent = unexplained_spent(portal.guard, "A1", portal.now)
    assert portal.guard.decide(portal.read(subject=people[5])).verdict is Verdict.ALLOW
    assert unexplained_spent(portal.guard, "A1", portal.now) == spent


def test_search_without_results_costs_nothing() -> None:
    """A search that names nobody (only a count, as before the field existed) is free."""
    portal = Portal()
    portal.login()
    search = portal.event(kind="search", session="s1", lookup=Lookup.SEARCH, result_count=40)
    assert portal.guard.decide(search).verdict is Verdict.ALLOW
    assert portal.reads_until_challenged() == 10


def test_passed_step_up_lets_the_read_through_and_refreshes_the_budget() -> None:
    """After a passed step-up the challenged read is allowed and ten more unexplained reads
    pass before the next challenge."""
    portal = Portal()
    portal.login()
    assert portal.reads_until_challenged() == 10
    challenged = portal.read()
    assert portal.guard.decide(challenged).verdict is Verdict.CHALLENGE
    outcome = portal.guard.step_up(challenged, passed=True)
    assert outcome.verdict is Verdict.ALLOW
    assert codes(outcome) == ["step_up_passed"]
    assert outcome.actions == ()
    assert portal.reads_until_challenged() == 10


def test_failed_step_up_locks_the_account_for_every_later_event() -> None:
    """A failed step-up revokes the session and locks the account; every later event of the
    account, explained or not, even a new login days later, is denied as ``account_locked``."""
    portal = Portal()
    portal.login()
    portal.reads_until_challenged()
    challenged = portal.read()
    portal.guard.decide(challenged)
    outcome = portal.guard.step_up(challenged, passed=False)
    assert outcome.verdict is Verdict.DENY
    kinds = {(action.kind, action.target) for action in outcome.actions}
    assert (ActionKind.LOCK_ACCOUNT, "A1") in kinds
    assert (ActionKind.REVOKE_SESSION, "s1") in kinds
    assert codes(outcome) == ["step_up_failed"]
    explained = pseudonym_for(50_000)
    portal.evidence(explained)
    later = [
        portal.guard.decide(portal.read(subject=explained)),
        portal.login(session="s2"),
        portal.decide(kind="logout", session="s2"),
        portal.decide(gap=3 * 86_400, kind="login_success", session="s3"),
        portal.guard.decide(portal.read(session="s3")),
    ]
    for decision in later:
        assert decision.verdict is Verdict.DENY
        assert codes(decision) == ["account_locked"]
    # The other pharmacist of the site is untouched.
    assert portal.login(session="t1", account="A2").verdict is Verdict.ALLOW
    assert portal.guard.decide(portal.read(session="t1", account="A2")).verdict is Verdict.ALLOW


def test_lift_lock_restores_the_account() -> None:
    """After the out-of-band reset the lock is lifted and the account logs in again."""
    portal = Portal()
    portal.login()
    assert portal.guard.decide(portal.read(subject=CANARY)).verdict is Verdict.DENY
    assert portal.login(session="s2").verdict is Verdict.DENY
    portal.guard.lift_lock("A1", now=portal.now + timedelta(seconds=30))
    assert portal.login(session="s3").verdict is Verdict.ALLOW


def test_canary_read_is_denied_and_locks() -> None:
    """A read of a canary record is denied with a lock, even the first read of the day; the
    account's later events are denied as ``account_locked``."""
    portal = Portal()
    portal.login()
    decision = portal.guard.decide(portal.read(subject=CANARY))
    assert decision.verdict is Verdict.DENY
    assert "canary" in codes(decision)
    assert (ActionKind.LOCK_ACCOUNT, "A1") in {(a.kind, a.target) for a in decision.actions}
    after = portal.guard.decide(portal.read())
    assert after.verdict is Verdict.DENY
    assert codes(after) == ["account_locked"]


def test_read_in_a_session_that_never_logged_in_is_challenged() -> None:
    """A read in a session no login opened (a stolen cookie) is challenged as
    ``unknown_session``, even when care evidence explains it."""
    portal = Portal()
    portal.login(session="s1")
    subject = pseudonym_for(60_000)
    portal.evidence(subject)
    decision = portal.guard.decide(portal.read(session="stolen", subject=subject))
    assert decision.verdict is Verdict.CHALLENGE
    assert "unknown_session" in codes(decision)
    assert portal.guard.decide(portal.read(session="s1")).verdict is Verdict.ALLOW


def test_twenty_failures_in_ten_minutes_ban_the_address() -> None:
    """The twentieth failed login from one address in ten minutes is denied with a ban; every
    later event from that address is denied as ``address_banned``, other addresses are not,
    and the ban ends after an hour."""
    portal = Portal()
    decisions = [
        portal.decide(gap=20, kind="login_failure", ip=OVH, session=None) for _ in range(20)
    ]
    assert [d.verdict for d in decisions] == [Verdict.ALLOW] * 19 + [Verdict.DENY]
    banned = decisions[-1]
    assert (ActionKind.BAN_ADDRESS, OVH) in {(a.kind, a.target) for a in banned.actions}
    assert any(ch.isdigit() for ch in banned.reasons[0].message)
    for fields in (
        {"kind": "login_success", "account": "A2", "session": "x1"},
        {"kind": "login_failure", "account": "A2", "session": None},
        {"kind": "record_view", "account": "A2", "session": "x1"},
    ):
        decision = portal.decide(ip=OVH, **fields)
        assert decision.verdict is Verdict.DENY
        assert codes(decision) == ["address_banned"]
    assert portal.login(session="t1", account="A2").verdict is Verdict.ALLOW
    assert portal.login(gap=3_700, session="x2", account="A2", ip=OVH).verdict is Verdict.ALLOW


# Takeover context.


def _established(portal: Portal) -> None:
    """Three days of logins and explained reads from the account's usual line and browser."""
    for day in range(3):
        portal.now = T0 + timedelta(days=day)
        session = f"d{day}"
        portal.login(session=session)
        subject = pseudonym_for(70_000 + day)
        portal.evidence(subject)
        portal.guard.decide(portal.read(session=session, subject=subject))
    portal.now = T0 + timedelta(days=3)


def test_takeover_context_tightens_the_budget() -> None:
    """After a password reset and from a rented server, fewer unexplained reads pass before a
    challenge than from the account's usual network, and the reason says why."""
    usual = Portal()
    _established(usual)
    usual.login(session="u1")
    from_home = usual.reads_until_challenged(session="u1")

    taken = Portal()
    _established(taken)
    taken.decide(kind="password_reset", ip=OVH, session=None)
    taken.login(session="t1", ip=OVH)
    from_server = taken.reads_until_challenged(session="t1", ip=OVH)

    assert from_home == 10
    assert from_server < from_home
    # 10 x 0.25 (hosting) x 0.5 (reset) = 1.25, above budget.strong_tighten (0.1): the usual
    # floor of three (the browser is the usual one, so the login's novelty is not carried).
    assert from_server == 3
    challenged = taken.guard.decide(taken.read(session="t1", ip=OVH))
    (reason,) = [r for r in challenged.reasons if r.code == "unexplained_budget"]
    assert "OVH" in reason.message
    assert "password reset" in reason.message
    assert reason.figures["tighten"] < 1
    assert reason.figures["budget"] == 3


def test_each_takeover_sign_tightens_alone() -> None:
    """A reset alone, or a rented server alone, each allows fewer reads than neither."""
    reset = Portal()
    _established(reset)
    reset.decide(kind="password_reset", session=None)
    reset.login(session="r1")
    assert reset.reads_until_challenged(session="r1") == 5

    server = Portal()
    _established(server)
    server.login(session="h1", ip=OVH)
    assert server.reads_until_challenged(session="h1", ip=OVH) < 10


# Login attacks.


def test_login_after_a_burst_of_failures_is_challenged() -> None:
    """A successful login right after five failures on the account is challenged with the
    failure count."""
    portal = Portal()
    for _ in range(5):
        portal.decide(gap=30, kind="login_failure", ip=OVH, session=None)
    decision = portal.login(session="s1", ip=OVH)
    assert decision.verdict is Verdict.CHALLENGE
    (reason,) = [r for r in decision.reasons if r.code == "login_after_failures"]
    assert reason.figures["failures_15min"] == 5
    assert "5 failures" in reason.message


def test_login_from_a_stuffing_address_is_challenged() -> None:
    """A login from an address that just failed on two other accounts is challenged."""
    portal = Portal()
    for account in ("B1", "B2"):
        portal.decide(gap=30, kind="login_failure", account=account, ip=OVH, session=None)
    decision = portal.login(session="s1", ip=OVH)
    assert decision.verdict is Verdict.CHALLENGE
    assert "login_from_stuffing_address" in codes(decision)


def test_failures_on_three_accounts_ban_the_address() -> None:
    """Failed logins on three accounts from one address within the hour ban it."""
    portal = Portal()
    verdicts = [
        portal.decide(gap=30, kind="login_failure", account=account, ip=OVH, session=None).verdict
        for account in ("B1", "B2", "B3")
    ]
    assert verdicts == [Verdict.ALLOW, Verdict.ALLOW, Verdict.DENY]


FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:99.0) Gecko/20100101 Firefox/99.0"


def test_a_stuffing_wave_makes_a_session_from_someone_elses_device_suspect() -> None:
    """During a portal-wide wave of failures from many addresses, a session opened from a
    network and a browser both new to the account must pass step-up before its first
    unexplained read; a new network with the usual browser, or the usual line, reads on."""
    portal = Portal()
    _established(portal)
    for attempt in range(120):  # 120 logins, each from its own address, within 10 minutes
        address = f"51.75.{attempt // 200}.{attempt % 200 + 2}"
        portal.decide(gap=4, kind="login_failure", account=f"B{attempt}", ip=address, session=None)
    assert portal.login(session="w1", gap=5).verdict is Verdict.ALLOW
    assert portal.guard.decide(portal.read(session="w1", gap=5)).verdict is Verdict.ALLOW
    travelling = "37.160.1.2"  # a mobile network, new to A1
    assert portal.login(session="w2", ip=travelling, gap=5).verdict is Verdict.ALLOW
    read = portal.read(session="w2", ip=travelling, gap=5)
    assert portal.guard.decide(read).verdict is Verdict.ALLOW
    stranger = "82.64.9.9"  # Free, a home line
    login = portal.login(session="w3", ip=stranger, user_agent=FIREFOX_MAC, gap=5)
    assert login.verdict is Verdict.ALLOW  # the owner on a new laptop is not turned away
    read = portal.read(session="w3", ip=stranger, user_agent=FIREFOX_MAC, gap=5)
    decision = portal.guard.decide(read)
    assert decision.verdict is Verdict.CHALLENGE
    (reason,) = [r for r in decision.reasons if r.code == "suspect_session"]
    assert "stuffing wave" in reason.message


def test_a_reset_then_someone_elses_device_needs_step_up_from_the_first_read() -> None:
    """A password reset, then a login from a network and a browser both new to the account:
    the session's first unexplained read is challenged (the 2022 takeover, with no network
    labels at all); its explained reads go through, and once it passed step-up it reads on."""
    portal = Portal()
    _established(portal)
    stranger = "82.64.1.2"  # Free, a home line: no label says anything
    portal.decide(kind="password_reset", ip=stranger, user_agent=FIREFOX_MAC, session=None)
    assert portal.login(session="t1", ip=stranger, user_agent=FIREFOX_MAC).verdict is Verdict.ALLOW
    known = pseudonym_for(71_000)
    portal.evidence(known)
    explained = portal.read(session="t1", subject=known, ip=stranger, user_agent=FIREFOX_MAC)
    first = portal.read(session="t1", ip=stranger, user_agent=FIREFOX_MAC)
    assert portal.guard.decide(first).verdict is Verdict.CHALLENGE
    assert "suspect_session" in codes(portal.guard.decide(first))
    portal.guard.step_up(first, passed=True)
    again = portal.read(session="t1", ip=stranger, user_agent=FIREFOX_MAC)
    assert portal.guard.decide(again).verdict is Verdict.ALLOW
    assert portal.guard.decide(explained).verdict is Verdict.ALLOW


def test_without_a_sign_before_it_a_new_device_is_only_tightened() -> None:
    """A login from a network and a browser both new, with no reset, failure or wave before
    it (a locum's laptop): reads go on within a tightened budget, never challenged at once."""
    portal = Portal()
    _established(portal)
    stranger = "82.64.1.2"
    portal.login(session="l1", ip=stranger, user_agent=FIREFOX_MAC)
    allowed = portal.reads_until_challenged("l1", ip=stranger, user_agent=FIREFOX_MAC)
    assert allowed == 3  # the floor: 10 x 0.5 (network) x 0.75 (browser) = 3.75 -> 3


def test_someone_elses_device_is_learned_only_once_it_reads_a_known_patient() -> None:
    """The network and browser of a session from someone else's device stay new (the next
    session from them is tightened again) until that session reads the practice's own
    patient; then they are the account's own."""
    portal = Portal()
    _established(portal)
    stranger = "82.64.1.2"
    portal.login(session="n1", ip=stranger, user_agent=FIREFOX_MAC)
    portal.guard.decide(portal.read(session="n1", ip=stranger, user_agent=FIREFOX_MAC))
    portal.login(session="n2", ip=stranger, user_agent=FIREFOX_MAC)
    assert portal.reads_until_challenged("n2", ip=stranger, user_agent=FIREFOX_MAC) == 2
    known = pseudonym_for(72_000)
    portal.evidence(known)
    portal.login(session="n3", ip=stranger, user_agent=FIREFOX_MAC)
    read = portal.read(session="n3", subject=known, ip=stranger, user_agent=FIREFOX_MAC)
    assert portal.guard.decide(read).verdict is Verdict.ALLOW
    portal.now += timedelta(hours=2)
    portal.login(session="n4", ip=stranger, user_agent=FIREFOX_MAC)
    assert portal.reads_until_challenged("n4", ip=stranger, user_agent=FIREFOX_MAC) > 3


def test_surge_of_unexplained_reads_raises_one_alert() -> None:
    """Fifty unexplained reads portal-wide within an hour raise an alert naming the figure,
    without refusing anything, and only once that hour."""
    portal = Portal()
    alerts = []
    for index in range(60):
        account = f"A{index % 10 + 1}"  # many accounts, each well inside its budget
        session = f"s{account}"
        if index < 10:
            portal.login(session=session, account=account)
        decision = portal.guard.decide(portal.read(session=session, account=account, gap=20))
        alerts.extend(r for r in decision.reasons if r.code == "unexplained_surge")
    assert len(alerts) == 1
    assert alerts[0].figures["unexplained_hour"] >= 50


# The policy.


def test_shipped_default_policy_loads_and_matches_the_code_defaults() -> None:
    """The shipped TOML loads and says what the code's defaults say."""
    policy = Policy.default()
    assert policy == Policy()
    assert policy.budget.hour == 10
    assert policy.login.address_failures_10min == 20


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[budget]\nhour = 0", "budget.hour"),
        ("[budget]\nday = 'many'", "budget.day"),
        ("[takeover]\nhosting_network = 1.5", "takeover.hosting_network"),
        ("[takeover]\nunknown_session = 'maybe'", "takeover.unknown_session"),
        ("[budget.profession]\nbilling = -1", "budget.profession.billing"),
        ("[response]\nlock_on_failed_step_up = 'yes'", "response.lock_on_failed_step_up"),
    ],
)
def test_bad_value_names_its_key(text: str, key: str) -> None:
    """A bad value raises ConfigError naming ``section.key``."""
    with pytest.raises(ConfigError) as raised:
        Policy.from_toml_text(text)
    assert raised.value.key == key
    assert str(raised.value).startswith(f"{key}: expected ")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[budget]\nmonth = 3", "budget.month"),
        ("[budgets]\nhour = 3", "budgets"),
        ("[budget.profession]\nastronaut = 2.0", "budget.profession.astronaut"),
    ],
)
def test_unknown_key_is_refused(text: str, key: str) -> None:
    """An unknown section or key raises ConfigError naming it."""
    with pytest.raises(ConfigError) as raised:
        Policy.from_toml_text(text)
    assert raised.value.key == key
    assert "known policy key" in str(raised.value)


def test_invalid_toml_is_a_config_error() -> None:
    """Text that is not TOML raises ConfigError, not a parser exception."""
    with pytest.raises(ConfigError, match="policy"):
        Policy.from_toml_text("[budget\nhour = 3")


def test_partial_policy_keeps_the_other_defaults(tmp_path: Path) -> None:
    """A file giving one key changes that key only."""
    path = tmp_path / "policy.toml"
    path.write_text("[budget]\nhour = 4\n")
    policy = Policy.from_toml(path)
    assert policy.budget.hour == 4
    assert policy.budget.day == Policy().budget.day
    assert policy.takeover == Policy().takeover


def test_a_policy_changes_the_guard() -> None:
    """A guard built with a stricter policy challenges sooner."""
    strict = Policy.from_toml_text("[budget]\nhour = 4")
    portal = Portal(Guard(knowledge(), MemoryStore(), policy=strict))
    portal.login()
    assert portal.reads_until_challenged() == 4


def test_policy_cli_prints_the_policy(tmp_path: Path) -> None:
    """``rempart policy FILE`` prints the validated policy as JSON; without FILE, the default."""
    path = tmp_path / "policy.toml"
    path.write_text("[budget]\nhour = 4\n")
    result = CliRunner().invoke(main, ["policy", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == Policy.from_toml(path).to_dict()
    default = CliRunner().invoke(main, ["policy"])
    assert default.exit_code == 0
    assert json.loads(default.stdout) == Policy.default().to_dict()


@pytest.mark.parametrize(
    ("text", "key"),
    [("[budget]\nhour = 0\n", "budget.hour"), ("[login]\nretries = 3\n", "login.retries")],
)
def test_policy_cli_exits_2_on_a_bad_file(tmp_path: Path, text: str, key: str) -> None:
    """A bad policy file exits 2 with a one-line error naming the key, no traceback."""
    path = tmp_path / "policy.toml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["policy", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"rempart: error: {key}: expected")
    assert "Traceback" not in result.stderr


def test_policy_cli_exits_2_on_a_missing_file(tmp_path: Path) -> None:
    """A missing policy file exits 2 naming the path."""
    result = CliRunner().invoke(main, ["policy", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "nope.toml" in result.stderr


def test_an_allowed_read_within_a_tightened_budget_says_why() -> None:
    """A read let through within a budget the context tightened carries the tightening and its
    signs; a read at the account's own budget carries no reason."""
    portal = Portal()
    _established(portal)
    stranger = "82.64.1.2"
    portal.login(session="l1", ip=stranger, user_agent=FIREFOX_MAC)
    decision = portal.guard.decide(portal.read(session="l1", ip=stranger, user_agent=FIREFOX_MAC))
    assert decision.verdict is Verdict.ALLOW
    (reason,) = decision.reasons
    assert reason.code == "budget_tightened"
    assert reason.figures["tighten"] == 0.375
    assert "session opened from a new network and a new browser" in reason.message
    usual = Portal()
    _established(usual)
    usual.login(session="u1")
    plain = usual.guard.decide(usual.read(session="u1"))
    assert plain.verdict is Verdict.ALLOW
    assert plain.reasons == ()
