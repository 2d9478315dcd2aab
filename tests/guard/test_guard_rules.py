"""The guard's own rules, each alone: how findings combine into a verdict, what is remembered
as seen (only allowed reads), how long evidence and seen patients explain, locks and bans
with their wording, and the step-up outcomes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from rempart.decision import Action, ActionKind, Reason, Verdict
from rempart.detectors import Finding
from rempart.detectors.context import EventContext
from rempart.events import Lookup, Outcome
from rempart.evidence import CareEvidence, EvidenceKind
from rempart.guard import Guard, Policy
from rempart.stores.memory import MemoryStore
from rempart.testing import make_event, pseudonym_for

from .test_guard import CANARY, T0, Portal, codes, knowledge

DAY = 86_400.0


@dataclass
class Fixed:
    """A detector that always answers ``finding`` and records what it saw and learned."""

    name: str
    finding: Finding | None = None
    saw: list[tuple[float, list[str], list[str]]] = field(default_factory=list)
    learned: list[Verdict] = field(default_factory=list)

    def score_one(self, context: EventContext) -> Finding | None:
        self.saw.append(
            (context.tighten, list(context.tighten_reasons), list(context.login_warnings))
        )
        return self.finding

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        self.learned.append(verdict)


def _guard(*detectors: Fixed, policy: Policy | None = None) -> Guard:
    return Guard(knowledge(), MemoryStore(), policy=policy, detectors=list(detectors))


def _reason(code: str) -> Reason:
    return Reason(detector="fixed", code=code, message=code)


# How findings combine.


@pytest.mark.parametrize("deny_first", [True, False])
def test_the_strictest_verdict_wins_whatever_the_order(deny_first: bool) -> None:
    """A deny and a challenge make a deny, in either order, with both reasons in order."""
    deny = Fixed("d", Finding(detector="d", verdict=Verdict.DENY, reason=_reason("no")))
    challenge = Finding(detector="c", verdict=Verdict.CHALLENGE, reason=_reason("maybe"))
    ask = Fixed("c", challenge)
    detectors = (deny, ask) if deny_first else (ask, deny)
    decision = _guard(*detectors).decide(make_event(time=T0))
    assert decision.verdict is Verdict.DENY
    assert codes(decision) == (["no", "maybe"] if deny_first else ["maybe", "no"])
    assert deny.learned == ask.learned == [Verdict.DENY]


def test_a_challenge_beats_an_allow() -> None:
    """An allow and a challenge make a challenge, whichever comes first."""
    challenge = Finding(detector="c", verdict=Verdict.CHALLENGE, reason=_reason("maybe"))
    decision = _guard(Fixed("c", challenge), Fixed("a", Finding(detector="a"))).decide(
        make_event(time=T0)
    )
    assert decision.verdict is Verdict.CHALLENGE


def test_an_allowing_finding_gives_its_reason_only_with_an_action() -> None:
    """A finding that allows is silent unless it acts (an alert): then its reason is given
    and its actions taken."""
    silent = Fixed("s", Finding(detector="s", reason=_reason("quiet")))
    alert = Action(kind=ActionKind.ALERT, target="A1")
    loud = Fixed("l", Finding(detector="l", reason=_reason("loud"), actions=(alert,)))
    decision = _guard(silent, loud).decide(make_event(time=T0))
    assert decision.verdict is Verdict.ALLOW
    assert codes(decision) == ["loud"]
    assert decision.actions == (alert,)


def test_each_detector_sees_the_tightening_and_warnings_of_those_before_it() -> None:
    """A tightening finding multiplies the context's tightening, named by its context or else
    by its detector; warnings reach the detectors after it; a finding of 1 adds nothing."""
    first = Fixed("first", Finding(detector="first", tighten=0.5, context="new network"))
    second = Fixed("second", Finding(detector="second", tighten=0.5, warnings=("a wave",)))
    third = Fixed("third", Finding(detector="third", tighten=1.0, context="nothing"))
    last = Fixed("last")
    _guard(first, second, third, last).decide(make_event(time=T0))
    assert first.saw == [(1.0, [], [])]
    assert second.saw == [(0.5, ["new network"], [])]
    assert last.saw == [(0.25, ["new network", "second"], ["a wave"])]


def test_decisions_carry_the_event_id_and_time() -> None:
    """A decision names its event and its time."""
    event = make_event(time=T0, event_id="ev123")
    decision = _guard().decide(event)
    assert (decision.event_id, decision.time, decision.verdict) == ("ev123", T0, Verdict.ALLOW)


# What an allowed read leaves behind.


def test_a_challenged_read_is_not_seen() -> None:
    """A read the guard challenged (and nobody stepped up for) does not make its patient seen
    by the account: reading them later is still unexplained; an allowed read's patient is."""
    portal = Portal()
    portal.login()
    allowed = portal.read()
    assert portal.guard.decide(allowed).verdict is Verdict.ALLOW
    portal.reads_until_challenged()
    challenged = portal.read()
    assert portal.guard.decide(challenged).verdict is Verdict.CHALLENGE
    portal.now += timedelta(hours=2)
    again = portal.read(subject=challenged.subject)
    assert portal.guard.context(again).explained is False
    assert portal.guard.context(portal.read(subject=allowed.subject)).explained is True


def test_a_denied_search_lists_nobody_as_seen() -> None:
    """The people a refused search listed are not seen; an allowed search's are."""
    portal = Portal()
    portal.login()
    portal.reads_until_challenged()
    people = [pseudonym_for(90_000 + n) for n in range(3)]
    search = portal.event(kind="search", session="s1", lookup=Lookup.SEARCH, results=people)
    assert portal.guard.decide(search).verdict is Verdict.CHALLENGE
    assert portal.guard.context(portal.read(subject=people[0])).explained is False


def test_a_passed_step_up_makes_the_read_seen() -> None:
    """A read let through by a passed step-up is seen: reading the patient again is free."""
    portal = Portal()
    portal.login()
    portal.reads_until_challenged()
    challenged = portal.read()
    portal.guard.decide(challenged)
    portal.guard.step_up(challenged, passed=True)
    assert portal.guard.context(portal.read(subject=challenged.subject)).explained is True


@pytest.mark.parametrize(("days", "explained"), [(399.9, True), (400.1, False)])
def test_an_allowed_read_explains_the_patient_for_400_days(days: float, explained: bool) -> None:
    """An allowed read explains its patient to the account for 400 days, not a day more."""
    portal = Portal()
    portal.login()
    first = portal.read()
    portal.guard.decide(first)
    portal.now += timedelta(days=days)
    assert portal.guard.context(portal.read(subject=first.subject)).explained is explained


@pytest.mark.parametrize(("days", "explained"), [(399.9, True), (400.1, False)])
def test_dated_evidence_explains_for_400_days(days: float, explained: bool) -> None:
    """A card read at the site explains reads of its patient for 400 days, not a day more."""
    portal = Portal()
    subject = pseudonym_for(91_000)
    portal.evidence(subject)
    portal.now += timedelta(days=days)
    assert portal.guard.context(portal.read(subject=subject)).explained is explained


def test_account_evidence_explains_for_that_account_only() -> None:
    """Evidence tied to an account explains its reads, not its colleague's at the same site."""
    portal = Portal()
    subject = pseudonym_for(92_000)
    portal.guard.observe(
        CareEvidence(time=portal.now, kind=EvidenceKind.CLAIM, subject=subject, account="A1")
    )
    assert portal.guard.context(portal.read(subject=subject)).explained is True
    assert portal.guard.context(portal.read(subject=subject, account="A2")).explained is False


# The context the detectors read.


def test_the_context_of_an_unknown_account_has_no_site() -> None:
    """An account the directory does not know has no account record, no site and an open
    site; a known one has its site's local time."""
    guard = _guard()
    unknown = guard.context(make_event(time=T0, account="Z9"))
    assert (unknown.account, unknown.site, unknown.site_open, unknown.minute) == (
        None,
        None,
        True,
        -1,
    )
    known = guard.context(make_event(time=T0, account="A1"))
    assert known.account is not None
    assert known.site is not None
    assert (known.weekday, known.minute) == (1, 600)  # a Tuesday, 10:00 in Paris
    late = guard.context(make_event(time=T0 + timedelta(hours=13), account="A1"))
    assert late.site_open is False


def test_a_session_without_id_is_its_address_and_browser() -> None:
    """Without a portal session id, the session is the account, address and browser."""
    from rempart.stores.keys import session_identity

    guard = _guard()
    with_id = guard.context(make_event(time=T0, account="A1", session="s9"))
    without = guard.context(make_event(time=T0, account="A1", session=None, ip="90.1.2.3"))
    other = guard.context(make_event(time=T0, account="A1", session=None, ip="90.1.2.4"))
    assert with_id.session != without.session != other.session
    assert "s9" in with_id.session
    assert without.session == session_identity(
        "A1", "90.1.2.3 Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    )


# Step-up.


def test_a_passed_step_up_vouches_for_the_session_during_the_grace() -> None:
    """After a passed step-up, that session's look-ups are vouched for since then during
    ``response.step_up_grace_hours``; another session's are not; after the grace, none."""
    portal = Portal()
    portal.login()
    event = portal.read()
    outcome = portal.guard.step_up(event, passed=True)
    assert (outcome.verdict, codes(outcome), outcome.actions) == (
        Verdict.ALLOW,
        ["step_up_passed"],
        (),
    )
    assert (outcome.event_id, outcome.time) == (event.event_id, event.time)
    (passed,) = outcome.reasons
    assert (passed.detector, passed.message) == ("guard", "step-up passed")
    grace = Policy.default().response.step_up_grace_hours
    portal.now += timedelta(hours=grace) - timedelta(minutes=5)  # each read is a minute on
    inside = portal.guard.context(portal.read())
    assert inside.vouched_since == event.time.timestamp()
    assert portal.guard.context(portal.read(session="s2")).vouched_since is None
    portal.now = event.time + timedelta(hours=grace, seconds=10)
    assert portal.guard.context(portal.read(gap=0)).vouched_since is None


def test_a_login_is_never_weighed_as_vouched() -> None:
    """Only look-ups read whether their session is vouched for."""
    portal = Portal()
    portal.login()
    portal.guard.step_up(portal.read(), passed=True)
    login = portal.event(kind="login_success", session="s1")
    assert portal.guard.context(login).vouched_since is None


def test_a_failed_step_up_revokes_locks_and_alerts() -> None:
    """A failed step-up denies with the session revoked, the account locked and an alert."""
    portal = Portal()
    portal.login()
    event = portal.read()
    outcome = portal.guard.step_up(event, passed=False)
    assert outcome.verdict is Verdict.DENY
    assert [(a.kind, a.target) for a in outcome.actions] == [
        (ActionKind.REVOKE_SESSION, "s1"),
        (ActionKind.LOCK_ACCOUNT, "A1"),
        (ActionKind.ALERT, "A1"),
    ]
    (reason,) = outcome.reasons
    assert (reason.detector, reason.code) == ("guard", "step_up_failed")
    assert reason.message == (
        "step-up failed: session revoked, account locked until an out-of-band reset"
    )
    assert (outcome.event_id, outcome.time) == (event.event_id, event.time)
    later = portal.guard.decide(portal.read())
    assert codes(later) == ["account_locked"]
    assert later.reasons[0].message == (
        f"account locked since {portal.now - timedelta(seconds=60):%Y-%m-%d %H:%M} UTC "
        "(failed step-up); awaiting an out-of-band reset"
    )


def test_without_lock_on_failed_step_up_the_account_reads_on() -> None:
    """With ``response.lock_on_failed_step_up`` off, a failed step-up revokes and alerts but
    does not lock; without a session there is nothing to revoke."""
    policy = Policy.from_toml_text("[response]\nlock_on_failed_step_up = false\n")
    portal = Portal(Guard(knowledge(), MemoryStore(), policy=policy))
    portal.login()
    outcome = portal.guard.step_up(portal.read(session=None), passed=False)
    assert [(a.kind, a.target) for a in outcome.actions] == [(ActionKind.ALERT, "A1")]
    assert portal.guard.decide(portal.read()).verdict is Verdict.ALLOW


# Locks and bans.


def test_a_lock_names_its_time_and_cause() -> None:
    """A lock's refusal says since when and why (the reasons' codes), with the time as its
    figure; the lock holds until lifted, then the account works again."""
    portal = Portal()
    portal.login()
    canary_read = portal.guard.decide(portal.read(subject=CANARY))
    assert canary_read.verdict is Verdict.DENY
    locked_at = portal.now
    later = portal.guard.decide(portal.read(gap=30 * DAY))
    (reason,) = later.reasons
    assert (reason.detector, reason.code) == ("guard", "account_locked")
    assert reason.message == (
        f"account locked since {locked_at:%Y-%m-%d %H:%M} UTC (canary); "
        "awaiting an out-of-band reset"
    )
    assert reason.figures == {"locked_since": locked_at.timestamp()}
    assert (later.event_id, later.time) == (f"ev{portal.count:06d}", portal.now)
    portal.guard.lift_lock("A1", now=portal.now)
    assert portal.login(session="s2").verdict is Verdict.ALLOW


def test_lifting_without_a_time_takes_the_wall_clock() -> None:
    """``lift_lock`` and ``lift_ban`` without ``now`` lift at the current time."""
    portal = Portal()
    portal.login()
    portal.guard.decide(portal.read(subject=CANARY))
    portal.guard.lift_lock("A1")
    portal.guard.lift_ban("51.75.3.4")
    assert portal.login(session="s2").verdict is Verdict.ALLOW


def test_a_ban_without_an_end_lasts_an_hour() -> None:
    """A ban action with no end bans the address for an hour; its refusal names the end."""
    ban = Action(kind=ActionKind.BAN_ADDRESS, target="51.75.3.4")
    guard = _guard(Fixed("b", Finding(detector="b", verdict=Verdict.DENY, actions=(ban,))))
    guard.decide(make_event(time=T0, ip="51.75.3.4"))
    guard.detectors.clear()
    inside = guard.decide(make_event(time=T0 + timedelta(seconds=3_599), ip="51.75.3.4"))
    assert codes(inside) == ["address_banned"]
    assert inside.reasons[0].detector == "guard"
    assert inside.reasons[0].message == (
        "address banned until 2022-03-01 10:00 UTC (password guessing)"
    )
    assert inside.reasons[0].figures == {"banned_until": T0.timestamp() + 3_600}
    after = guard.decide(make_event(time=T0 + timedelta(seconds=3_601), ip="51.75.3.4"))
    assert after.verdict is Verdict.ALLOW


def test_a_ban_ends_when_it_says_or_when_lifted() -> None:
    """A ban until a time refuses the address until then; lifting it ends it at once."""
    until = T0 + timedelta(minutes=10)
    ban = Action(kind=ActionKind.BAN_ADDRESS, target="51.75.3.4", until=until)
    guard = _guard(Fixed("b", Finding(detector="b", verdict=Verdict.DENY, actions=(ban,))))
    guard.decide(make_event(time=T0, ip="51.75.3.4"))
    guard.detectors.clear()
    assert guard.decide(make_event(time=until - timedelta(seconds=1), ip="51.75.3.4")).verdict is (
        Verdict.DENY
    )
    assert guard.decide(make_event(time=until + timedelta(seconds=1), ip="51.75.3.4")).verdict is (
        Verdict.ALLOW
    )
    guard.lift_ban("51.75.3.4", now=T0 + timedelta(seconds=1))
    assert guard.decide(make_event(time=T0 + timedelta(seconds=2), ip="51.75.3.4")).verdict is (
        Verdict.ALLOW
    )


def test_a_lock_of_a_year_9999_event_holds() -> None:
    """A lock outlives any event time a datetime can hold."""
    late = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    portal = Portal()
    portal.now = late - timedelta(minutes=10)
    portal.login()
    portal.guard.decide(portal.read(subject=CANARY))
    assert codes(portal.guard.decide(portal.read())) == ["account_locked"]


def test_refusals_give_times_in_utc_whatever_the_machines_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a machine set to New York time, a lock's refusal still gives its time in UTC."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        portal = Portal()
        portal.login()
        portal.guard.decide(portal.read(subject=CANARY))
        later = portal.guard.decide(portal.read())
        assert later.reasons[0].message.startswith("account locked since 2022-03-01 09:02 UTC")
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_ban_lasts_at_least_a_second_and_no_more_than_it_says() -> None:
    """A ban ending 1.5 s later is over 1.8 s later; one ending in the past still holds for a
    second."""
    soon = Action(
        kind=ActionKind.BAN_ADDRESS, target="51.75.3.4", until=T0 + timedelta(seconds=1.5)
    )
    guard = _guard(Fixed("b", Finding(detector="b", verdict=Verdict.DENY, actions=(soon,))))
    guard.decide(make_event(time=T0, ip="51.75.3.4"))
    guard.detectors.clear()
    after = guard.decide(make_event(time=T0 + timedelta(seconds=1.8), ip="51.75.3.4"))
    assert after.verdict is Verdict.ALLOW
    past = Action(kind=ActionKind.BAN_ADDRESS, target="51.75.3.5", until=T0 - timedelta(hours=1))
    guard = _guard(Fixed("b", Finding(detector="b", verdict=Verdict.DENY, actions=(past,))))
    guard.decide(make_event(time=T0, ip="51.75.3.5"))
    guard.detectors.clear()
    held = guard.decide(make_event(time=T0 + timedelta(seconds=0.5), ip="51.75.3.5"))
    assert codes(held) == ["address_banned"]


def test_a_lock_names_every_reason_or_else_the_guard() -> None:
    """A lock's cause is the codes of the decision's reasons, joined; with none, ``guard``."""
    lock = Action(kind=ActionKind.LOCK_ACCOUNT, target="A1")
    two = _guard(
        Fixed("x", Finding(detector="x", verdict=Verdict.DENY, reason=_reason("first"))),
        Fixed(
            "y",
            Finding(detector="y", verdict=Verdict.DENY, reason=_reason("second"), actions=(lock,)),
        ),
    )
    two.decide(make_event(time=T0, account="A1"))
    two.detectors.clear()
    message = two.decide(make_event(time=T0 + timedelta(minutes=1), account="A1")).reasons[0]
    assert "(first, second);" in message.message
    bare = _guard(Fixed("z", Finding(detector="z", verdict=Verdict.DENY, actions=(lock,))))
    bare.decide(make_event(time=T0, account="A1"))
    bare.detectors.clear()
    message = bare.decide(make_event(time=T0 + timedelta(minutes=1), account="A1")).reasons[0]
    assert "(guard);" in message.message


def test_a_step_up_on_a_look_up_that_found_nobody_sees_nobody() -> None:
    """A passed step-up on a record view that found nobody does not make its subject seen."""
    portal = Portal()
    portal.login()
    missing = portal.read(outcome=Outcome.NOT_FOUND)
    portal.guard.step_up(missing, passed=True)
    assert portal.guard.context(portal.read(subject=missing.subject)).explained is False


def test_a_look_up_that_found_nobody_is_not_seen() -> None:
    """An allowed record view that found nobody does not make its subject seen."""
    portal = Portal()
    portal.login()
    missing = portal.read(outcome=Outcome.NOT_FOUND)
    assert portal.guard.decide(missing).verdict is Verdict.ALLOW
    assert portal.guard.context(portal.read(subject=missing.subject)).explained is False


def test_a_stranger_finding_marks_the_context_for_the_detectors_after_it() -> None:
    """A finding that says the session is a stranger's makes ``context.stranger`` true for
    every detector after it, not before."""

    @dataclass
    class Stranger(Fixed):
        strangers: list[bool] = field(default_factory=list)

        def score_one(self, context: EventContext) -> Finding | None:
            self.strangers.append(context.stranger)
            return self.finding

    before = Stranger("before")
    marks = Stranger("marks", Finding(detector="marks", stranger=True))
    after = Stranger("after")
    _guard(before, marks, after).decide(make_event(time=T0))
    assert (before.strangers, marks.strangers, after.strangers) == ([False], [False], [True])


def test_an_unknown_accounts_search_lists_people_nothing_explains() -> None:
    """A search by an account the directory does not know counts everyone it listed."""
    guard = _guard()
    people = tuple(pseudonym_for(94_000 + n) for n in range(3))
    search = make_event(time=T0, kind="search", account="Z9", lookup=Lookup.SEARCH, results=people)
    assert guard.context(search).unexplained_results == people


def test_a_session_without_id_or_browser_is_its_address() -> None:
    """Without a session id or a browser, the session is the account and the address."""
    from rempart.stores.keys import session_identity

    context = _guard().context(make_event(time=T0, account="A1", session=None, user_agent=""))
    assert context.session == session_identity("A1", "90.12.34.56 ")


def test_the_guard_keeps_its_state_in_the_store_it_is_given() -> None:
    """A guard given a store writes its state there."""
    store = MemoryStore()
    guard = Guard(knowledge(), store)
    guard.decide(make_event(time=T0, account="A1", kind="login_success"))
    assert len(store) > 0


def test_an_allowed_read_within_a_tightened_budget_names_every_sign() -> None:
    """An allowed unexplained read under tightening gets the guard's ``budget_tightened``
    reason naming every sign and the multiplier, to four places in its figure."""
    first = Fixed("first", Finding(detector="first", tighten=0.5, context="new network"))
    second = Fixed("second", Finding(detector="second", tighten=2 / 3, context="new browser"))
    decision = _guard(first, second).decide(make_event(time=T0, account="A1"))
    (reason,) = decision.reasons
    assert (reason.detector, reason.code) == ("guard", "budget_tightened")
    assert reason.message == ("allowed within a budget tightened x0.333: new network, new browser")
    assert reason.figures == {"tighten": 0.3333}
