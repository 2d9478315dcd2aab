"""Every threshold of the policy at its boundary: one short of it the detector is quiet, at
it the detector fires. Values are read from ``Policy.default()``, so a policy change moves
the boundary with it rather than silently passing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rempart.decision import ActionKind, Verdict
from rempart.detectors import (
    Automation,
    Enumeration,
    LoginAttacks,
    PeerVolume,
    TakeoverContext,
    UnexplainedBudget,
)
from rempart.detectors.base import Finding
from rempart.detectors.context import EventContext
from rempart.detectors.testing import context_for
from rempart.detectors.volume import _bucket
from rempart.directory import Account, OpeningInterval, Profession, Site, SiteKind
from rempart.events import Lookup, Outcome
from rempart.geography import departments, neighbourhood
from rempart.policy import Policy
from rempart.stores.base import Window
from rempart.stores.keys import LoginKeys, VolumeKeys
from rempart.stores.memory import MemoryStore
from rempart.testing import make_event, pseudonym_for

POLICY = Policy.default()
HOUR = 3_600.0
DAY = 86_400.0
SITE = Site(
    site="S1",
    kind=SiteKind.PHARMACY,
    department="75",
    commune="75056",
    timezone="Europe/Paris",
    hours=tuple(OpeningInterval(weekday=day, opens=420, closes=1320) for day in range(7)),
)
PHARMACIST = Account(account="A00001", profession=Profession.PHARMACIST, site="S1")


def _read(t: float, number: int = 1, **fields: object) -> EventContext:
    """A read of patient ``number`` by A00001, ``t`` seconds after the default time."""
    return context_for(make_event(subject=pseudonym_for(number), **fields), t=t)


def _step(
    detector: object, context: EventContext, verdict: Verdict = Verdict.ALLOW
) -> Finding | None:
    """Score ``context``, then let the detector learn it with ``verdict``."""
    finding: Finding | None = detector.score_one(context)  # type: ignore[attr-defined]
    detector.learn_one(context, verdict)  # type: ignore[attr-defined]
    return finding


# Automation.


def test_robot_pace_fires_at_the_reads_10min_th_read() -> None:
    """The read that makes ``automation.reads_10min`` in ten minutes is tightened by
    ``automation.robot``; every read before it is not (gaps long enough not to be short)."""
    policy = POLICY.automation
    detector = Automation(MemoryStore(), POLICY)
    gap = policy.short_gap_s + 1
    findings = [_step(detector, _read(gap * n, n)) for n in range(policy.reads_10min)]
    assert findings[:-1] == [None] * (policy.reads_10min - 1)
    last = findings[-1]
    assert last is not None
    assert last.tighten == policy.robot
    assert last.context == f"{policy.reads_10min} look-ups in 10 min"


def test_robot_pace_counts_only_the_last_ten_minutes() -> None:
    """Reads older than ten minutes do not count towards ``automation.reads_10min``."""
    policy = POLICY.automation
    detector = Automation(MemoryStore(), POLICY)
    for n in range(policy.reads_10min - 1):
        _step(detector, _read(60.0 * n, n))  # one a minute: never more than ten in ten minutes
    assert detector.score_one(_read(60.0 * policy.reads_10min, 999)) is None


def _paced(gaps: list[float]) -> Finding | None:
    """The finding on the read that follows reads separated by ``gaps`` seconds."""
    detector = Automation(MemoryStore(), POLICY)
    t = 0.0
    _step(detector, _read(t, 0))
    for n, gap in enumerate(gaps, start=1):
        t += gap
        _step(detector, _read(t, n))
    return detector.score_one(_read(t + 60.0, 999))


def test_short_gaps_fire_at_their_share_of_the_last_gaps() -> None:
    """Of the last ``automation.gaps`` gaps, ``short_gap_share`` of them under
    ``short_gap_s`` tighten by ``robot``; one short gap fewer does not."""
    policy = POLICY.automation
    short = round(policy.short_gap_share * policy.gaps)
    fast = policy.short_gap_s - 1
    slow = policy.short_gap_s + 60
    at = _paced([fast] * short + [slow] * (policy.gaps - short))
    assert at is not None
    assert at.tighten == policy.robot
    assert at.context == f"{short} of the last {policy.gaps} gaps under {policy.short_gap_s:g} s"
    assert _paced([fast] * (short - 1) + [slow] * (policy.gaps - short + 1)) is None


def test_short_gaps_need_gaps_many_gaps() -> None:
    """One gap fewer than ``automation.gaps``, all short, is not yet robot timing."""
    policy = POLICY.automation
    assert _paced([policy.short_gap_s - 1] * (policy.gaps - 1)) is None


def test_a_gap_of_exactly_short_gap_s_is_not_short() -> None:
    """``automation.short_gap_s`` itself is a human gap; a hair under it is a robot's."""
    policy = POLICY.automation
    assert _paced([policy.short_gap_s] * policy.gaps) is None
    just_under = _paced([policy.short_gap_s - 0.01] * policy.gaps)
    assert just_under is not None
    assert just_under.tighten == policy.robot


def test_only_the_last_gaps_count() -> None:
    """Short gaps older than the last ``automation.gaps`` are forgotten."""
    policy = POLICY.automation
    slow = policy.short_gap_s + 60
    assert _paced([1.0] * policy.gaps + [slow] * policy.gaps) is None


def test_robot_pace_and_a_closed_site_multiply() -> None:
    """A robot's pace at a closed site tightens by both multipliers, naming both signs."""
    policy = POLICY.automation
    detector = Automation(MemoryStore(), POLICY)
    for n in range(policy.reads_10min - 1):
        _step(detector, _read(10.0 * n, n))
    last = _read(10.0 * policy.reads_10min, 999)
    last.site, last.site_open, last.minute = SITE, False, 23 * 60 + 5
    finding = detector.score_one(last)
    assert finding is not None
    assert finding.tighten == pytest.approx(policy.robot * policy.outside_hours)
    assert finding.context == (
        f"{policy.reads_10min} look-ups in 10 min, site closed at 23:05 local"
    )


def test_short_gaps_and_a_closed_site_multiply() -> None:
    """Robot gaps at a closed site tighten by both multipliers."""
    policy = POLICY.automation
    detector = Automation(MemoryStore(), POLICY)
    for n in range(policy.gaps + 1):
        _step(detector, _read(1.0 * n, n))
    last = _read(float(policy.gaps + 60), 999)
    last.site, last.site_open, last.minute = SITE, False, 23 * 60 + 5
    finding = detector.score_one(last)
    assert finding is not None
    assert finding.tighten == pytest.approx(policy.robot * policy.outside_hours)


def test_the_pace_is_forgotten_after_an_idle_hour() -> None:
    """An hour without reads forgets the gaps: robot gaps before the pause count no more."""
    policy = POLICY.automation
    detector = Automation(MemoryStore(), POLICY)
    for n in range(policy.gaps + 1):
        _step(detector, _read(1.0 * n, n))
    assert detector.score_one(_read(policy.gaps + 3_599.5, 999)) is not None
    assert detector.score_one(_read(policy.gaps + 3_600.5, 999)) is None


def test_the_last_gaps_are_exactly_gaps_many() -> None:
    """Two slow gaps just before the last ``automation.gaps`` no longer count against them."""
    policy = POLICY.automation
    short = round(policy.short_gap_share * policy.gaps)
    slow = policy.short_gap_s + 60
    fast = policy.short_gap_s - 1
    finding = _paced([slow, slow] + [fast] * short + [slow] * (policy.gaps - short))
    assert finding is not None


def test_a_read_while_the_site_is_closed_tightens_by_outside_hours() -> None:
    """A read at 23:30 local at a site open 07:00-22:00 is tightened by
    ``automation.outside_hours``, and says the local time; an open site's read is not."""
    detector = Automation(MemoryStore(), POLICY)
    closed = _read(0.0)
    closed.site, closed.site_open, closed.minute = SITE, False, 5 * 60 + 3
    finding = detector.score_one(closed)
    assert finding is not None
    assert finding.tighten == POLICY.automation.outside_hours
    assert finding.context == "site closed at 05:03 local"
    opened = _read(0.0)
    opened.site, opened.site_open = SITE, True
    assert detector.score_one(opened) is None


@pytest.mark.parametrize(
    ("user_agent", "named"),
    [
        ("python-requests/2.19.1", "python-requests"),
        ("Go-http-client/2.0", "Go-http-client"),
        ("", "no user agent"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/120.0.0.0 Safari/537.36",
            "HeadlessChrome",
        ),
    ],
)
def test_a_scripted_client_tightens_by_scripted_client_on_its_own(
    user_agent: str, named: str
) -> None:
    """A read by a script (no browser named nor claimed, headless, or no user agent) is
    tightened by ``automation.scripted_client`` from its first read, naming the tool; at
    the default it is strong alone (``budget.strong_tighten``)."""
    detector = Automation(MemoryStore(), POLICY)
    finding = detector.score_one(_read(0.0, user_agent=user_agent))
    assert finding is not None
    assert finding.tighten == POLICY.automation.scripted_client
    assert finding.context == f"scripted client ({named})"
    assert POLICY.automation.scripted_client <= POLICY.budget.strong_tighten


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 16_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148",
    ],
)
def test_a_person_s_browser_or_web_view_is_no_scripted_client(user_agent: str) -> None:
    """A browser, and an app's web view that names no browser but claims ``Mozilla/``, are
    people: nothing to say on an open site's first read."""
    detector = Automation(MemoryStore(), POLICY)
    assert detector.score_one(_read(0.0, user_agent=user_agent)) is None


def test_automation_ignores_other_events() -> None:
    """Only record views are paced: thirty logins in a minute are not robot reads, nor is a
    login at a closed site."""
    detector = Automation(MemoryStore(), POLICY)
    for n in range(POLICY.automation.reads_10min + 1):
        login = context_for(make_event(kind="login_success"), t=float(n))
        login.site, login.site_open = SITE, False
        assert _step(detector, login) is None
    assert detector.score_one(_read(100.0)) is None


# Enumeration.


def _lookup(t: float, number: int, **fields: object) -> EventContext:
    """A typed-NIR look-up by A00001 (found unless ``outcome`` says otherwise)."""
    return _read(t, number, **fields)


def _enumeration() -> Enumeration:
    return Enumeration(MemoryStore(), POLICY, frozenset())


def test_not_found_share_fires_at_min_lookups_with_its_share_learned() -> None:
    """``min_lookups`` typed look-ups in an hour, ``not_found_share`` of them finding nobody,
    are challenged; the misses counted are the ones learned before, not only the current."""
    policy = POLICY.enumeration
    misses = round(policy.not_found_share * policy.min_lookups)
    detector = _enumeration()
    for n in range(misses):
        assert _step(detector, _lookup(60.0 * n, n, outcome=Outcome.NOT_FOUND)) is None
    for n in range(misses, policy.min_lookups - 1):
        assert _step(detector, _lookup(60.0 * n, n)) is None
    finding = detector.score_one(_lookup(60.0 * policy.min_lookups, 99))
    assert finding is not None
    assert finding.verdict is Verdict.CHALLENGE
    assert finding.reason is not None
    assert finding.reason.code == "not_found_share"
    assert (finding.reason.detector, finding.reason.message) == (
        "enumeration",
        f"{misses} of {policy.min_lookups} typed NIRs found nobody in an hour",
    )
    assert finding.reason.figures == {
        "lookups": float(policy.min_lookups),
        "not_found": float(misses),
    }


def test_not_found_share_one_miss_short_is_quiet() -> None:
    """One miss fewer than ``not_found_share`` of ``min_lookups`` is not challenged."""
    policy = POLICY.enumeration
    misses = round(policy.not_found_share * policy.min_lookups) - 1
    detector = _enumeration()
    for n in range(policy.min_lookups - 1):
        outcome = Outcome.NOT_FOUND if n < misses else Outcome.SUCCESS
        _step(detector, _lookup(60.0 * n, n, outcome=outcome))
    assert detector.score_one(_lookup(3_000.0, 99)) is None


def test_the_current_look_up_counts_among_the_misses() -> None:
    """One miss short of the share among the learned look-ups, the current look-up finding
    nobody makes the share."""
    policy = POLICY.enumeration
    misses = round(policy.not_found_share * policy.min_lookups) - 1
    detector = _enumeration()
    for n in range(policy.min_lookups - 1):
        outcome = Outcome.NOT_FOUND if n < misses else Outcome.SUCCESS
        _step(detector, _lookup(60.0 * n, n, outcome=outcome))
    finding = detector.score_one(_lookup(3_000.0, 99, outcome=Outcome.NOT_FOUND))
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.code == "not_found_share"


def test_not_found_share_needs_min_lookups() -> None:
    """Every look-up finding nobody, one short of ``min_lookups``, is not yet challenged."""
    policy = POLICY.enumeration
    detector = _enumeration()
    findings = [
        _step(detector, _lookup(60.0 * n, n, outcome=Outcome.NOT_FOUND))
        for n in range(policy.min_lookups - 1)
    ]
    assert findings == [None] * (policy.min_lookups - 1)
    last = detector.score_one(_lookup(3_000.0, 99, outcome=Outcome.NOT_FOUND))
    assert last is not None
    assert last.reason is not None
    assert last.reason.code == "not_found_share"


def test_birth_date_mismatches_fire_at_their_count() -> None:
    """The ``birth_date_mismatches``-th typed look-up with a wrong birth date in an hour is
    challenged with its count; the one before is not."""
    policy = POLICY.enumeration
    detector = _enumeration()
    findings = [
        _step(detector, _lookup(60.0 * n, n, birth_date_match=False))
        for n in range(policy.birth_date_mismatches)
    ]
    assert findings[:-1] == [None] * (policy.birth_date_mismatches - 1)
    last = findings[-1]
    assert last is not None
    assert last.reason is not None
    assert last.reason.code == "birth_date_mismatch"
    assert last.reason.message == (
        f"{policy.birth_date_mismatches} typed NIRs with a wrong birth date in an hour"
    )
    assert last.reason.figures == {"mismatches": float(policy.birth_date_mismatches)}


def test_matching_birth_dates_are_not_mismatches() -> None:
    """Look-ups whose birth date matches (or was not checked) never count as mismatches."""
    detector = _enumeration()
    for n in range(POLICY.enumeration.birth_date_mismatches + 2):
        match = True if n % 2 else None
        assert _step(detector, _lookup(60.0 * n, n, birth_date_match=match)) is None


def test_enumeration_counts_typed_look_ups_only() -> None:
    """Look-ups by card or search, even not found, never make a not-found share."""
    detector = _enumeration()
    for n in range(POLICY.enumeration.min_lookups + 2):
        card = _lookup(60.0 * n, n, outcome=Outcome.NOT_FOUND, lookup=Lookup.CARD)
        assert _step(detector, card) is None


def _far_codes() -> list[str]:
    """Departments far from Paris's (not it nor a neighbour), in table order."""
    near = neighbourhood(SITE.department)
    return [record.code for record in departments() if record.code not in near]


def _far_read(t: float, number: int, department: str, explained: bool = False) -> EventContext:
    context = _read(t, number, subject_department=department)
    context.site = SITE
    context.explained = explained
    return context


def test_far_spread_tightens_at_far_departments() -> None:
    """Unexplained patients from ``far_departments`` distinct far departments in a day tighten
    by ``spread``; one department fewer only raises a far-patient alert."""
    policy = POLICY.enumeration
    far = _far_codes()
    detector = _enumeration()
    findings = [
        _step(detector, _far_read(60.0 * n, n, far[n])) for n in range(policy.far_departments)
    ]
    for finding in findings[:-1]:
        assert finding is not None
        assert finding.tighten == 1.0
        assert finding.reason is not None
        assert finding.reason.code == "far_patient"
        assert [(a.kind, a.target) for a in finding.actions] == [(ActionKind.ALERT, "A00001")]
    last = findings[-1]
    assert last is not None
    assert last.tighten == policy.spread
    assert last.context == (
        f"unexplained patients from {policy.far_departments} distant departments in a day"
    )


def test_far_spread_counts_each_department_once() -> None:
    """A patient from a far department already read today does not widen the spread."""
    policy = POLICY.enumeration
    far = _far_codes()
    detector = _enumeration()
    for n in range(policy.far_departments - 1):
        _step(detector, _far_read(60.0 * n, n, far[n]))
    again = detector.score_one(_far_read(600.0, 50, far[0]))
    assert again is not None
    assert again.tighten == 1.0


@pytest.mark.parametrize(("after", "tightened"), [(DAY - 0.5, True), (DAY + 0.5, False)])
def test_far_spread_forgets_after_a_day(after: float, tightened: bool) -> None:
    """Far departments read a day ago, to the second, no longer count."""
    policy = POLICY.enumeration
    far = _far_codes()
    detector = _enumeration()
    for n in range(policy.far_departments - 1):
        _step(detector, _far_read(0.0, n, far[n]))
    later = detector.score_one(_far_read(after, 50, far[policy.far_departments]))
    assert later is not None
    assert (later.tighten < 1.0) is tightened


def test_only_unexplained_far_reads_at_a_site_widen_the_spread() -> None:
    """Explained reads, reads of near patients and reads by an account without a site are
    not learned as far departments."""
    policy = POLICY.enumeration
    far = _far_codes()
    detector = _enumeration()
    for n in range(policy.far_departments):
        _step(detector, _far_read(60.0 * n, n, far[n], explained=True))
    for n, department in enumerate(sorted(neighbourhood(SITE.department))):
        _step(detector, _far_read(600.0 + n, 100 + n, department))
    for n in range(policy.far_departments):
        siteless = _read(700.0 + n, 200 + n, subject_department=far[n])
        assert _step(detector, siteless) is None
    first = detector.score_one(_far_read(900.0, 300, far[policy.far_departments]))
    assert first is not None
    assert first.tighten == 1.0
    assert first.reason is not None
    assert first.reason.code == "far_patient"


def test_near_or_explained_patients_are_not_far() -> None:
    """A patient from the site's own or a neighbouring department, or one care evidence
    explains, raises nothing."""
    detector = _enumeration()
    near = sorted(neighbourhood(SITE.department))
    for n, department in enumerate(near):
        assert _step(detector, _far_read(60.0 * n, n, department)) is None
    far = _far_codes()
    for n, department in enumerate(far[: POLICY.enumeration.far_departments + 1]):
        assert _step(detector, _far_read(600.0 + n, 100 + n, department, explained=True)) is None


def test_a_canary_read_is_denied_and_locks_even_explained() -> None:
    """A read of a canary is denied with a lock and an alert, its reason naming the count."""
    canary = pseudonym_for(4_242)
    detector = Enumeration(MemoryStore(), POLICY, frozenset({canary, pseudonym_for(4_243)}))
    context = context_for(make_event(subject=canary), explained=True)
    finding = detector.score_one(context)
    assert finding is not None
    assert finding.verdict is Verdict.DENY
    assert finding.reason is not None
    assert finding.reason.code == "canary"
    assert finding.reason.figures == {"canaries": 2.0}
    assert finding.reason.message == (
        "a canary record was looked up (one of 2 planted; no real care ever reads them)"
    )
    assert [(a.kind, a.target) for a in finding.actions] == [
        (ActionKind.LOCK_ACCOUNT, "A00001"),
        (ActionKind.ALERT, "A00001"),
    ]


# Login attacks.


def _failure(t: float, account: str = "A00001", ip: str = "51.75.3.4") -> EventContext:
    return context_for(make_event(kind="login_failure", account=account, ip=ip, session=None), t=t)


def _login(t: float, account: str = "A00001", ip: str = "51.75.3.4") -> EventContext:
    return context_for(make_event(kind="login_success", account=account, ip=ip), t=t)


def _login_after(failures: list[float], at: float) -> Finding | None:
    """The login finding at ``at`` after failures on A00001 at the times given."""
    detector = LoginAttacks(MemoryStore(), POLICY)
    for t in failures:
        detector.learn_one(_failure(t), Verdict.ALLOW)
    return detector.score_one(_login(at))


def test_login_after_account_failures_15min() -> None:
    """A login after ``login.account_failures_15min`` failures in 15 minutes is challenged;
    after one fewer it only carries a warning."""
    policy = POLICY.login
    count = policy.account_failures_15min
    at = _login_after([30.0 * n for n in range(count)], 30.0 * count)
    assert at is not None
    assert at.verdict is Verdict.CHALLENGE
    assert at.reason is not None
    assert at.reason.code == "login_after_failures"
    assert (at.reason.detector, at.reason.message) == (
        "login",
        f"login after {count} failures in 15 min ({count} in a day)",
    )
    assert at.reason.figures == {"failures_15min": float(count), "failures_day": float(count)}
    below = _login_after([30.0 * n for n in range(count - 1)], 30.0 * count)
    assert below is not None
    assert below.verdict is Verdict.ALLOW
    assert below.warnings == (f"{count - 1} failed logins on the account in 24 h",)


def test_failures_before_a_read_are_not_a_login_after_failures() -> None:
    """Only a successful login is weighed against the account's failures: a read after
    them is not."""
    detector = LoginAttacks(MemoryStore(), POLICY)
    for n in range(POLICY.login.account_failures_15min + 1):
        detector.learn_one(_failure(30.0 * n), Verdict.ALLOW)
    assert detector.score_one(_read(300.0)) is None


def test_login_after_account_failures_day() -> None:
    """Failures spread over the day, never many in 15 minutes, challenge the login at
    ``login.account_failures_day``; one fewer does not."""
    policy = POLICY.login
    count = policy.account_failures_day
    spread = [1_200.0 * n for n in range(count)]  # one every 20 minutes
    at = _login_after(spread, 1_200.0 * count)
    assert at is not None
    assert at.verdict is Verdict.CHALLENGE
    assert at.reason is not None
    assert at.reason.figures["failures_day"] == float(count)
    below = _login_after(spread[:-1], 1_200.0 * count)
    assert below is not None
    assert below.verdict is Verdict.ALLOW


def test_address_failures_10min_bans_at_its_count() -> None:
    """The ``login.address_failures_10min``-th failure from one address in ten minutes bans
    it for ``login.ban_minutes``; the failure before does not."""
    policy = POLICY.login
    detector = LoginAttacks(MemoryStore(), POLICY)
    count = policy.address_failures_10min
    findings = [_step(detector, _failure(10.0 * n)) for n in range(count)]
    assert findings[:-1] == [None] * (count - 1)
    ban = findings[-1]
    assert ban is not None
    assert ban.verdict is Verdict.DENY
    assert ban.reason is not None
    assert ban.reason.code == "address_guessing"
    assert ban.reason.message == f"{count} failed logins in 10 min"
    banned, alert = ban.actions
    assert (banned.kind, banned.target) == (ActionKind.BAN_ADDRESS, "51.75.3.4")
    expected = _failure(10.0 * (count - 1)).t + policy.ban_minutes * 60
    assert banned.until == datetime.fromtimestamp(expected, tz=UTC)
    assert (alert.kind, alert.target) == (ActionKind.ALERT, "51.75.3.4")


def test_address_accounts_hour_counts_distinct_accounts() -> None:
    """Failures on ``login.address_accounts_hour`` distinct accounts from one address ban it;
    more failures on the accounts already tried do not."""
    policy = POLICY.login
    detector = LoginAttacks(MemoryStore(), POLICY)
    count = policy.address_accounts_hour
    for n in range(count - 1):
        assert _step(detector, _failure(10.0 * n, account=f"B{n}")) is None
    assert _step(detector, _failure(100.0, account="B0")) is None
    ban = detector.score_one(_failure(110.0, account="Z9"))
    assert ban is not None
    assert ban.reason is not None
    assert ban.reason.message == f"failed logins on {count} accounts in an hour"


def test_login_from_an_address_that_failed_on_two_other_accounts() -> None:
    """A login from an address that failed on two other accounts is challenged; on one other
    account it only carries a warning."""
    detector = LoginAttacks(MemoryStore(), POLICY)
    detector.learn_one(_failure(0.0, account="B1"), Verdict.ALLOW)
    one = detector.score_one(_login(10.0))
    assert one is not None
    assert one.verdict is Verdict.ALLOW
    assert one.warnings == ("an address that failed on 1 other accounts this hour",)
    detector.learn_one(_failure(20.0, account="B2"), Verdict.ALLOW)
    two = detector.score_one(_login(30.0))
    assert two is not None
    assert two.verdict is Verdict.CHALLENGE
    assert two.reason is not None
    assert two.reason.code == "login_from_stuffing_address"
    assert two.reason.figures == {"other_accounts": 2.0}
    assert two.reason.detector == "login"
    assert two.reason.message == "login from an address that failed on 2 other accounts this hour"


def test_own_failures_from_an_address_are_not_other_accounts() -> None:
    """The account's own failures from the address do not count as stuffing other accounts."""
    detector = LoginAttacks(MemoryStore(), POLICY)
    detector.learn_one(_failure(0.0), Verdict.ALLOW)
    detector.learn_one(_failure(5.0, account="B1"), Verdict.ALLOW)
    finding = detector.score_one(_login(10.0))
    assert finding is not None
    assert finding.verdict is Verdict.ALLOW
    assert "an address that failed on 1 other accounts this hour" in finding.warnings


_PORTAL = (Window(600, 30), Window(86_400, 900))


def _wave(earlier: float, recent: float) -> Finding | None:
    """A clean login after ``earlier`` portal-wide failures two hours ago and ``recent`` in
    the last minutes."""
    store = MemoryStore()
    now = _login(0.0, ip="82.64.1.2").t
    if earlier:
        store.add_counts(LoginKeys.PORTAL_FAILURES, now - 2 * HOUR, _PORTAL, earlier)
    store.add_counts(LoginKeys.PORTAL_FAILURES, now - 60.0, _PORTAL, recent)
    return LoginAttacks(store, POLICY).score_one(_login(0.0, ip="82.64.1.2"))


def test_a_stuffing_wave_starts_at_wave_min_10min() -> None:
    """``login.wave_min_10min`` failures portal-wide in ten minutes make a wave (a warning on
    every login); one fewer does not."""
    floor = float(POLICY.login.wave_min_10min)
    at = _wave(0.0, floor)
    assert at is not None
    assert at.warnings == ("a stuffing wave",)
    assert _wave(0.0, floor - 1) is None


def test_a_stuffing_wave_is_a_multiple_of_the_days_average() -> None:
    """Above the floor, a wave is ``login.wave_multiple`` times the day's average per ten
    minutes (the day's failures / 144): exactly that is a wave, one failure fewer is not."""
    multiple = POLICY.login.wave_multiple
    recent = 5.0 * POLICY.login.wave_min_10min
    day = 144 * recent / multiple  # the day's failures, the recent ones included
    assert _wave(day - recent, recent) is not None
    assert _wave(day - recent + 1, recent - 1) is None


# Volume.


def _volume_context(t: float = 0.0) -> EventContext:
    context = _read(t)
    context.account = PHARMACIST
    return context


def _volume(reads_today: float, histogram: list[int]) -> Finding | None:
    store = MemoryStore()
    context = _volume_context()
    store.put(VolumeKeys.peers("pharmacist"), histogram, context.t, 86_400.0)
    if reads_today:
        store.add_counts(
            VolumeKeys.reads("A00001"), context.t - 60.0, (Window(86_400, 900),), reads_today
        )
    return PeerVolume(store, POLICY).score_one(context)


def _peers(bucket: int, accounts: int = 20) -> list[int]:
    histogram = [0] * 24
    histogram[bucket] = accounts
    return histogram


def test_volume_needs_min_reads() -> None:
    """With peers reading 4-7 a day, the ``volume.min_reads``-th read of the day tightens by
    ``volume.tighten``; the read before it does not."""
    policy = POLICY.volume
    at = _volume(policy.min_reads - 1, _peers(3))
    assert at is not None
    assert at.tighten == policy.tighten
    assert at.context == f"{policy.min_reads} patients read in 24 h; peers' p99 is 8"
    assert _volume(policy.min_reads - 2, _peers(3)) is None


def test_volume_fires_above_peer_multiple_times_p99() -> None:
    """Reads beyond ``volume.peer_multiple`` times the peers' p99 tighten; exactly that many
    do not."""
    policy = POLICY.volume
    p99 = 2**6
    limit = int(policy.peer_multiple * p99)
    assert _volume(limit - 1, _peers(6)) is None  # the read makes exactly the limit
    assert _volume(limit, _peers(6)) is not None


def test_volume_weighs_only_reads_of_known_accounts() -> None:
    """A look-up that found nobody, or an account the directory does not know, is never
    weighed against peers, however many reads the day holds."""
    store = MemoryStore()
    context = _volume_context()
    store.put(VolumeKeys.peers("pharmacist"), _peers(1), context.t, DAY)
    store.add_counts(VolumeKeys.reads("A00001"), context.t - 60, (Window(86_400, 900),), 500)
    detector = PeerVolume(store, POLICY)
    assert detector.score_one(context) is not None
    missing = _read(0.0, outcome=Outcome.NOT_FOUND)
    missing.account = PHARMACIST
    assert detector.score_one(missing) is None
    assert detector.score_one(_read(0.0)) is None  # no directory record


def test_volume_learns_only_allowed_reads_of_known_accounts() -> None:
    """Neither a look-up that found nobody nor an unknown account's read counts."""
    detector = PeerVolume(MemoryStore(), POLICY)
    missing = _read(0.0, outcome=Outcome.NOT_FOUND)
    missing.account = PHARMACIST
    _step(detector, missing)
    _step(detector, _read(1.0))
    assert detector.store.get(VolumeKeys.day("A00001"), missing.t) is None


def test_volume_days_are_utc_days() -> None:
    """A read a minute after midnight UTC closes the day of the read a minute before it;
    a day of one read goes to the one-read bucket."""
    detector = PeerVolume(MemoryStore(), POLICY)
    midnight = (int(_volume_context().t // DAY) + 1) * DAY - _volume_context().t
    _step(detector, _volume_context(midnight - 60))
    after = _volume_context(midnight + 60)
    _step(detector, after)
    assert detector.store.get(VolumeKeys.peers("pharmacist"), after.t) == _peers(1, accounts=1)


def test_an_idle_accounts_old_day_is_forgotten() -> None:
    """An account's day is kept two days: after longer idle, it never joins the histogram."""
    detector = PeerVolume(MemoryStore(), POLICY)
    _step(detector, _volume_context())
    later = _volume_context(2 * DAY + 1.0)
    _step(detector, later)
    assert detector.store.get(VolumeKeys.peers("pharmacist"), later.t) is None


def test_volume_needs_twenty_peer_days() -> None:
    """A peer histogram of fewer than twenty account-days says nothing."""
    detector = PeerVolume(MemoryStore(), POLICY)
    now = _volume_context().t
    detector.store.put(VolumeKeys.peers("pharmacist"), _peers(2, accounts=19), now, DAY)
    assert detector.peer_p99("pharmacist", now) is None
    detector.store.put(VolumeKeys.peers("pharmacist"), _peers(2, accounts=20), now, DAY)
    assert detector.peer_p99("pharmacist", now) == 4.0


def test_peer_p99_is_the_bucket_holding_the_99th_percentile() -> None:
    """With 99 account-days at 1 read and one at 100, the p99 is the 1-read bucket's edge;
    with two at 100 it is theirs."""
    detector = PeerVolume(MemoryStore(), POLICY)
    now = _volume_context().t
    histogram = [0] * 24
    histogram[1], histogram[7] = 99, 1
    detector.store.put(VolumeKeys.peers("pharmacist"), histogram, now, DAY)
    assert detector.peer_p99("pharmacist", now) == 2.0
    histogram[1], histogram[7] = 98, 2
    detector.store.put(VolumeKeys.peers("pharmacist"), histogram, now, DAY)
    assert detector.peer_p99("pharmacist", now) == 128.0


@pytest.mark.parametrize(
    ("count", "bucket"),
    [(0, 0), (0.5, 0), (1, 1), (2, 2), (3, 2), (4, 3), (7, 3), (8, 4), (2**40, 23)],
)
def test_volume_buckets_are_powers_of_two(count: float, bucket: int) -> None:
    """Daily reads fall in log2 buckets: 0, 1, 2-3, 4-7, ..., the last one open."""
    assert _bucket(count) == bucket


def test_volume_learns_a_finished_day_into_the_peer_histogram() -> None:
    """An account's allowed reads of a day join its peers' histogram when its next day begins;
    challenged reads are not counted."""
    detector = PeerVolume(MemoryStore(), POLICY)
    for n in range(7):
        _step(detector, _volume_context(60.0 * n))
    _step(detector, _volume_context(500.0), Verdict.CHALLENGE)
    next_day = _volume_context(DAY)
    _step(detector, next_day)
    histogram = detector.store.get(VolumeKeys.peers("pharmacist"), next_day.t)
    assert histogram == _peers(3, accounts=1)  # seven reads: the 4-7 bucket (eight: 8-15)


# Takeover.


def _takeover_login(day: float, ip: str = "90.12.34.56", session: str = "s1") -> EventContext:
    return context_for(make_event(kind="login_success", ip=ip, session=session), t=day * DAY)


def _signs(detector: TakeoverContext, context: EventContext) -> str:
    finding = detector.score_one(context)
    return (finding.context or "") if finding is not None else ""


def test_an_account_is_established_after_established_days_active_days() -> None:
    """A network new to the account is a sign only once the account was active on
    ``takeover.established_days`` distinct days; a day short, it is not."""
    days = POLICY.takeover.established_days
    detector = TakeoverContext(MemoryStore(), POLICY)
    for day in range(days - 1):
        detector.learn_one(_takeover_login(day), Verdict.ALLOW)
        detector.learn_one(_takeover_login(day + 0.1), Verdict.ALLOW)  # the same day twice
    assert "new network" not in _signs(detector, _takeover_login(days - 1, ip="82.64.1.2"))
    detector.learn_one(_takeover_login(days - 1), Verdict.ALLOW)
    assert "new network" in _signs(detector, _takeover_login(days, ip="82.64.1.2"))


@pytest.mark.parametrize("kind", ["password_reset", "email_change", "mfa_change"])
def test_a_credential_change_tightens_for_credential_change_hours(kind: str) -> None:
    """A credential change tightens the account by ``takeover.credential_change`` for
    ``takeover.credential_change_hours`` (hours, not minutes), then no more."""
    policy = POLICY.takeover
    hours = policy.credential_change_hours
    detector = TakeoverContext(MemoryStore(), POLICY)
    detector.learn_one(context_for(make_event(kind=kind, session=None), t=0.0), Verdict.ALLOW)
    inside = detector.score_one(_takeover_login((hours * HOUR - 60.0) / DAY))
    assert inside is not None
    assert inside.tighten == policy.credential_change
    minutes = hours * 60 - 1
    assert inside.context == f"{kind.replace('_', ' ')} {minutes:.0f} min earlier"
    assert detector.score_one(_takeover_login((hours * HOUR + 10.0) / DAY)) is None


# The budget.


def _budget_context(account: Account | None = None, t: float = 0.0) -> EventContext:
    context = _read(t)
    context.account = account
    return context


@pytest.mark.parametrize(
    ("account", "scale"),
    [
        (PHARMACIST, POLICY.budget.profession.pharmacist),
        (
            Account(account="A00001", profession=Profession.BILLING, site="S1"),
            POLICY.budget.profession.billing,
        ),
        (
            Account(account="A00001", profession=Profession.PHARMACIST, site="S1", shared=True),
            POLICY.budget.shared,
        ),
        (
            Account(account="A00001", profession=Profession.BILLING, site="S1", shared=True),
            POLICY.budget.shared * POLICY.budget.profession.billing,
        ),
        (None, 1.0),
    ],
)
def test_limits_scale_by_profession_and_shared_login(account: Account | None, scale: float) -> None:
    """Each window's limit is the policy's, times the profession's multiplier, times
    ``budget.shared`` for a shared counter login."""
    budget = UnexplainedBudget(MemoryStore(), POLICY)
    expected = tuple(
        limit * scale for limit in (POLICY.budget.hour, POLICY.budget.day, POLICY.budget.week)
    )
    assert budget.limits(_budget_context(account)) == pytest.approx(expected)


def test_a_shared_login_reads_its_doubled_hour() -> None:
    """A shared counter login's hour holds ``budget.hour`` x ``budget.shared`` unexplained
    reads; the next is challenged."""
    shared = Account(account="A00001", profession=Profession.PHARMACIST, site="S1", shared=True)
    budget = UnexplainedBudget(MemoryStore(), POLICY)
    allowed = int(POLICY.budget.hour * POLICY.budget.shared)
    for n in range(allowed):
        context = _read(30.0 * n, n)
        context.account = shared
        assert _step(budget, context) is None
    over = _read(30.0 * allowed, 999)
    over.account = shared
    assert _step(budget, over) is not None


def _spent(amounts: list[tuple[float, float]]) -> UnexplainedBudget:
    """A budget whose account read ``amount`` unexplained patients ``ago`` seconds before."""
    from rempart.detectors.budget import BUDGET_WINDOWS
    from rempart.stores.keys import BudgetKeys

    store = MemoryStore()
    now = _read(0.0).t
    for ago, amount in amounts:
        store.add_counts(BudgetKeys.unexplained("A00001"), now - ago, BUDGET_WINDOWS, amount)
    return UnexplainedBudget(store, POLICY)


@pytest.mark.parametrize(
    ("window", "ago", "limit"),
    [
        ("an hour", 60.0, POLICY.budget.hour),
        ("24 h", 2 * HOUR, POLICY.budget.day),
        ("7 days", 2 * DAY, POLICY.budget.week),
    ],
)
def test_each_window_allows_its_limit_and_challenges_the_next(
    window: str, ago: float, limit: int
) -> None:
    """With ``limit - 1`` unexplained reads in the window, one more is allowed; with
    ``limit``, the next is challenged naming the window, the count and the budget."""
    assert _spent([(ago, limit - 1)]).score_one(_read(0.0)) is None
    finding = _spent([(ago, limit)]).score_one(_read(0.0))
    assert finding is not None
    assert finding.verdict is Verdict.CHALLENGE
    assert finding.reason is not None
    assert finding.reason.message == (
        f"{limit + 1} patients read in {window} with no care evidence; budget {limit}"
    )
    assert finding.reason.figures == {
        "unexplained": float(limit + 1),
        "budget": float(limit),
        "tighten": 1.0,
    }


def test_the_budget_learns_challenged_reads_but_not_denied_ones() -> None:
    """A challenged unexplained read still counts (its identity was asked for); a denied one
    does not, and an explained one costs nothing."""
    from rempart.detectors.budget import BUDGET_WINDOWS
    from rempart.stores.keys import BudgetKeys

    budget = UnexplainedBudget(MemoryStore(), POLICY)
    budget.learn_one(_read(0.0, 1), Verdict.CHALLENGE)
    budget.learn_one(_read(1.0, 2), Verdict.DENY)
    explained = _read(2.0, 3)
    explained.explained = True
    budget.learn_one(explained, Verdict.ALLOW)
    counts = budget.store.counts(BudgetKeys.unexplained("A00001"), _read(3.0).t, BUDGET_WINDOWS)
    assert counts == (1.0, 1.0, 1.0)


def test_a_vouched_session_is_measured_on_its_own_reads() -> None:
    """A session vouched for since a step-up is measured against its own unexplained reads
    since then, which also count for the account."""
    from rempart.detectors.budget import BUDGET_WINDOWS
    from rempart.stores.keys import BudgetKeys

    budget = _spent([(60.0, POLICY.budget.hour)])
    vouched = _read(0.0)
    vouched.session, vouched.vouched_since = "A00001 s1", vouched.t - 30.0
    assert budget.score_one(vouched) is None
    budget.learn_one(vouched, Verdict.ALLOW)
    account = budget.store.counts(BudgetKeys.unexplained("A00001"), vouched.t, BUDGET_WINDOWS)
    assert account[0] == POLICY.budget.hour + 1
    assert budget.score_one(_read(1.0)) is not None  # any other session: over the hour


def test_a_tightened_challenge_gives_its_signs_and_the_tightening_to_four_places() -> None:
    """The budget's challenge under a tightened context says why, and its ``tighten`` figure
    is the multiplier rounded to four places."""
    budget = _spent([(60.0, 3)])
    context = _read(0.0)
    context.tighten = 1 / 3
    context.tighten_reasons = ["new network 82.64.1.0/24 (Free)", "new browser"]
    finding = budget.score_one(context)
    assert finding is not None
    assert finding.reason is not None
    assert finding.reason.figures["tighten"] == 0.3333
    assert finding.reason.message == (
        "4 patients read in an hour with no care evidence; budget 3.33333 (tightened: new network "
        "82.64.1.0/24 (Free), new browser)"
    )


def test_a_vouched_sessions_search_costs_its_own_count_every_person() -> None:
    """A vouched session's search adds every unexplained person it listed to the session's
    own count, as to the account's."""
    from rempart.detectors.budget import BUDGET_WINDOWS
    from rempart.stores.keys import BudgetKeys, vouch_identity

    budget = UnexplainedBudget(MemoryStore(), POLICY)
    people = tuple(pseudonym_for(500 + n) for n in range(5))
    search = context_for(
        make_event(kind="search", lookup=Lookup.SEARCH, results=people, subject=None)
    )
    search.unexplained_results = people
    search.session, search.vouched_since = "A00001 s1", search.t - 30
    budget.learn_one(search, Verdict.ALLOW)
    own = BudgetKeys.vouched_unexplained(vouch_identity("A00001", "A00001 s1", search.t - 30))
    assert budget.store.counts(own, search.t, BUDGET_WINDOWS) == (5.0, 5.0, 5.0)
