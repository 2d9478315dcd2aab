"""The guard: ``decide(event) -> Decision`` before the portal returns patient data.

The same object serves the online guard, replay and evaluation: it reads
time from the event, keeps its state in a `StateStore`, and learns only what
its detectors choose to learn from the verdict.

>>> from rempart.testing import make_event
>>> guard = Guard(Knowledge(accounts={}, sites={}))
>>> guard.decide(make_event(kind="login_success")).verdict.value
'allow'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from rempart.decision import Action, ActionKind, Decision, Reason, Verdict
from rempart.detectors import Detector, Finding, RefusalHook, StepUpHook, default_detectors
from rempart.detectors.context import EventContext, local_minute, network_key
from rempart.events import Event, EventKind
from rempart.evidence import STANDING_KINDS, CareEvidence
from rempart.guard.knowledge import Knowledge
from rempart.policy import Policy
from rempart.stores.base import StateStore
from rempart.stores.batching import batching_for
from rempart.stores.keys import GuardKeys, session_identity
from rempart.stores.memory import MemoryStore

__all__ = ["Guard"]

_EVIDENCE_TTL = 400 * 86_400.0  # a year of claims, and some
# A standing relationship holds until a record ends it. Every store entry carries an
# expiry, so "no end yet" is a century: longer than any relationship, and finite
# (Redis keeps expiries as numbers it can hand to EXPIRE).
_STANDING_TTL = 100 * 365 * 86_400.0
_SEEN_TTL = 400 * 86_400.0
# A lock ends when it is lifted, never by time: its entry outlives any event time a
# datetime can hold (an event dated 9999-12-31 once read a lock as expired and, with
# the store's lazy expiry, deleted it). Finite, so that Redis can EXPIRE it.
_LOCK_TTL = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
_LOOKUPS = frozenset({EventKind.RECORD_VIEW, EventKind.SEARCH})
_RANK = {Verdict.ALLOW: 0, Verdict.CHALLENGE: 1, Verdict.DENY: 2}


def _refusal(event: Event, code: str, message: str, figures: dict[str, float]) -> Decision:
    """The guard's own denial of an event (a standing lock or ban), with its figure."""
    reason = Reason(detector="guard", code=code, message=message, figures=figures)
    return Decision(
        event_id=event.event_id, verdict=Verdict.DENY, reasons=(reason,), time=event.time
    )


def _tightened(context: EventContext) -> Reason:
    """Why an allowed unexplained read's budget was tighter than the account's own."""
    return Reason(
        detector="guard",
        code="budget_tightened",
        message=(
            f"allowed within a budget tightened x{context.tighten:.3g}: "
            + ", ".join(context.tighten_reasons)
        ),
        figures={"tighten": round(context.tighten, 4)},
    )


def _clock(seconds: float) -> str:
    """An event time as ``2022-02-21 08:13 UTC`` for a reason."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


class Guard:
    """Decides on portal events, observes care evidence, and handles step-up outcomes."""

    def __init__(
        self,
        knowledge: Knowledge,
        store: StateStore | None = None,
        policy: Policy | None = None,
        detectors: Sequence[Detector] | None = None,
    ) -> None:
        self.knowledge = knowledge
        # Detectors read the store as it stands; each decision's updates reach it together
        # (one batch per thread over a thread-safe store such as Redis).
        self.store = batching_for(store if store is not None else MemoryStore())
        self.policy = policy or Policy.default()
        self.detectors: list[Detector] = list(
            detectors
            if detectors is not None
            else default_detectors(self.store, self.policy, knowledge.canaries)
        )
        # Whatever their class: a third party's detector takes part in step-up like ours.
        self._step_up_hooks = [d for d in self.detectors if isinstance(d, StepUpHook)]
        self._refusal_hooks = [d for d in self.detectors if isinstance(d, RefusalHook)]

    # -- care evidence -------------------------------------------------------------

    def observe(self, evidence: CareEvidence) -> None:
        """Remember that ``evidence`` explains reads of its subject by its account or site.

        Dated evidence explains them for 400 days. A standing relationship
        (`rempart.evidence.STANDING_KINDS`) is kept apart and explains them
        until it ends: a record with ``ended`` holds it until then, or takes
        it out at once when ``ended`` is not after the record's time.
        """
        now = evidence.time.timestamp()
        if evidence.kind in STANDING_KINDS:
            self._hold(evidence, now)
            return
        if evidence.account is not None:
            self.store.add_member(
                GuardKeys.account_evidence(evidence.account), evidence.subject, now, _EVIDENCE_TTL
            )
        if evidence.site is not None:
            self.store.add_member(
                GuardKeys.site_evidence(evidence.site), evidence.subject, now, _EVIDENCE_TTL
            )

    def _hold(self, relationship: CareEvidence, now: float) -> None:
        """Keep a standing relationship until it ends, or end it."""
        ended = relationship.ended
        until = now + _STANDING_TTL if ended is None else ended.timestamp()
        keys = []
        if relationship.account is not None:
            keys.append(GuardKeys.account_standing(relationship.account))
        if relationship.site is not None:
            keys.append(GuardKeys.site_standing(relationship.site))
        for key in keys:
            if until > now:
                # Re-adding restarts the member's expiry: an end moves it to ``ended``.
                self.store.add_member(key, relationship.subject, now, until - now)
            else:
                self.store.remove_member(key, relationship.subject, now)

    def _explained(self, event: Event, site: str | None, now: float) -> bool:
        subject = event.subject
        account = event.account
        if subject is None or account is None:
            return False
        return self._explains(account, site, subject, now)

    def _explains(self, account: str, site: str | None, subject: str, now: float) -> bool:
        """Whether care evidence or an earlier allowed read by ``account`` explains ``subject``."""
        store = self.store
        # Most explained reads stop at the first checks; standing relationships come last,
        # the site's (a pharmacy's regular patients) after the account's (a treating doctor).
        return (
            store.has_member(GuardKeys.account_evidence(account), subject, now)
            or (site is not None and store.has_member(GuardKeys.site_evidence(site), subject, now))
            or store.has_member(GuardKeys.seen(account), subject, now)
            or store.has_member(GuardKeys.account_standing(account), subject, now)
            or (site is not None and store.has_member(GuardKeys.site_standing(site), subject, now))
        )

    def _unexplained_results(self, event: Event, site: str | None, now: float) -> tuple[str, ...]:
        """The people a search listed whom nothing explains, each once (at most 20,
        `rempart.events.RESULTS_MAX`)."""
        account = event.account
        if account is None:
            return ()
        return tuple(
            subject
            for subject in dict.fromkeys(event.results)
            if not self._explains(account, site, subject, now)
        )

    # -- decisions ------------------------------------------------------------------

    def context(self, event: Event) -> EventContext:
        """The facts every detector reads about ``event``."""
        now = event.time.timestamp()
        knowledge = self.knowledge
        account = knowledge.accounts.get(event.account) if event.account else None
        site = knowledge.sites.get(account.site) if account else None
        is_read = event.is_read
        network = knowledge.networks.lookup(event.ip)
        context = EventContext(
            event=event,
            t=now,
            account=account,
            site=site,
            network=network,
            broad_asn=network is not None and knowledge.networks.is_broad(network.asn),
            prefix=network_key(event.ip),
            is_read=is_read,
            explained=is_read and self._explained(event, account.site if account else None, now),
        )
        if event.results:  # only a successful search lists people (`Event`)
            context.unexplained_results = self._unexplained_results(
                event, account.site if account else None, now
            )
        if event.account is not None:
            # No session id (an API client): the address and browser stand for the device.
            context.session = session_identity(
                event.account, event.session or f"{event.ip} {event.user_agent or ''}"
            )
            if event.kind in _LOOKUPS:  # only look-ups are weighed by whether it is vouched
                vouched = self.store.get(GuardKeys.vouched(context.session), now)
                context.vouched_since = None if vouched is None else float(vouched)
        if site is not None:
            context.weekday, context.minute = local_minute(now, site.timezone)
            context.site_open = site.is_open(weekday=context.weekday, minute=context.minute)
        return context

    def decide(self, event: Event) -> Decision:
        """Allow, challenge or deny ``event``, with the actions to take and the reasons."""
        context = self.context(event)
        blocked = self._enforced(context)
        if blocked is not None:
            if self._refusal_hooks:
                self.store.begin()
                try:
                    for hook in self._refusal_hooks:
                        hook.on_refused(context)
                finally:
                    self.store.commit()
            return blocked
        findings: list[Finding] = []
        # In order: each detector sees the tightening of those before it (the budget comes last).
        for detector in self.detectors:
            finding = detector.score_one(context)
            if finding is not None:
                findings.append(finding)
                if finding.tighten < 1.0:
                    context.tighten_by(finding.tighten, finding.context or detector.name)
                if finding.warnings:
                    context.login_warnings.extend(finding.warnings)
                if finding.stranger:
                    context.stranger = True
        verdict = Verdict.ALLOW
        actions: list[Action] = []
        reasons: list[Reason] = []
        for finding in findings:
            if _RANK[finding.verdict] > _RANK[verdict]:
                verdict = finding.verdict
            actions.extend(finding.actions)
            if finding.reason is not None and (
                finding.verdict is not Verdict.ALLOW or finding.actions
            ):
                reasons.append(finding.reason)
        if verdict is Verdict.ALLOW and context.tighten < 1.0 and context.unexplained:
            # Let through, but within a budget the context tightened: say why, for the analyst.
            reasons.append(_tightened(context))
        self.store.begin()
        try:
            if actions:
                self._apply(actions, context, reasons)
            for detector in self.detectors:
                detector.learn_one(context, verdict)
            if verdict is Verdict.ALLOW and event.account:
                if context.is_read and event.subject:
                    self.store.add_member(
                        GuardKeys.seen(event.account), event.subject, context.t, _SEEN_TTL
                    )
                elif event.results:
                    self._remember_listed(event.account, context)
        finally:
            self.store.commit()
        return Decision(
            event_id=event.event_id,
            verdict=verdict,
            actions=tuple(actions),
            reasons=tuple(reasons),
            time=event.time,
        )

    def _remember_listed(self, account: str, context: EventContext) -> None:
        """The people an allowed search listed are seen by the account, as a read's subject is.

        The unexplained ones were counted once in the budget: reading one afterwards is free.
        """
        for subject in dict.fromkeys(context.event.results):
            self.store.add_member(GuardKeys.seen(account), subject, context.t, _SEEN_TTL)

    def _enforced(self, context: EventContext) -> Decision | None:
        """A standing lock on the account or ban on the address refuses the event."""
        event, store, now = context.event, self.store, context.t
        lock = store.get(GuardKeys.lock(event.account), now) if event.account is not None else None
        if lock is not None:
            return _refusal(
                event,
                "account_locked",
                f"account locked since {_clock(lock[0])} ({lock[1]}); "
                "awaiting an out-of-band reset",
                {"locked_since": float(lock[0])},
            )
        ban = store.get(GuardKeys.ban(event.ip), now)
        if ban is not None:
            return _refusal(
                event,
                "address_banned",
                f"address banned until {_clock(ban[0])} ({ban[1]})",
                {"banned_until": float(ban[0])},
            )
        return None

    def _apply(self, actions: list[Action], context: EventContext, reasons: list[Reason]) -> None:
        """Keep the enforcement state the actions call for (locks and bans)."""
        now = context.t
        for action in actions:
            if action.kind is ActionKind.LOCK_ACCOUNT:
                cause = ", ".join(reason.code for reason in reasons) or "guard"
                self.store.put(GuardKeys.lock(action.target), [now, cause], now, _LOCK_TTL)
            elif action.kind is ActionKind.BAN_ADDRESS:
                until = action.until.timestamp() if action.until else now + 3_600
                self.store.put(
                    GuardKeys.ban(action.target),
                    [until, "password guessing"],
                    now,
                    max(1.0, until - now),
                )

    # -- step-up ----------------------------------------------------------------------

    def step_up(self, event: Event, passed: bool) -> Decision:
        """The outcome of the step-up a challenge asked for on ``event``.

        Passed: the owner is at the keyboard; the event goes through, the
        session that passed is vouched for during the grace period (a fresh
        budget of its own; other sessions of the account keep theirs) and
        every detector with an ``on_step_up`` hook hears of it (the takeover
        detector learns the network and browser, an outstanding challenge is
        answered).
        Failed: the session is revoked and the account locked until an
        out-of-band reset.
        """
        context = self.context(event)
        account = event.account
        now = context.t
        if passed:
            if account is not None:
                grace = self.policy.response.step_up_grace_hours * 3_600
                self.store.put(GuardKeys.vouched(context.session), now, now, grace)
            for detector in self._step_up_hooks:
                detector.on_step_up(context)
            if context.is_read and account and event.subject:
                self.store.add_member(GuardKeys.seen(account), event.subject, now, _SEEN_TTL)
            if account and event.results:
                self._remember_listed(account, context)
            return Decision(
                event_id=event.event_id,
                verdict=Verdict.ALLOW,
                reasons=(
                    Reason(detector="guard", code="step_up_passed", message="step-up passed"),
                ),
                time=event.time,
            )
        actions: list[Action] = []
        if event.session:
            actions.append(Action(kind=ActionKind.REVOKE_SESSION, target=event.session))
        if account is not None and self.policy.response.lock_on_failed_step_up:
            actions.append(Action(kind=ActionKind.LOCK_ACCOUNT, target=account))
            self.store.put(GuardKeys.lock(account), [now, "failed step-up"], now, _LOCK_TTL)
        actions.append(Action(kind=ActionKind.ALERT, target=account or event.ip))
        return Decision(
            event_id=event.event_id,
            verdict=Verdict.DENY,
            actions=tuple(actions),
            reasons=(
                Reason(
                    detector="guard",
                    code="step_up_failed",
                    message=(
                        "step-up failed: session revoked, account locked until an out-of-band reset"
                    ),
                ),
            ),
            time=event.time,
        )

    def lift_lock(self, account: str, now: datetime | None = None) -> None:
        """Lift an account's lock (after the out-of-band reset)."""
        when = (now or datetime.now(UTC)).timestamp()
        self.store.put(GuardKeys.lock(account), None, when, 1e-9)

    def lift_ban(self, address: str, now: datetime | None = None) -> None:
        """Lift an address's ban (an analyst's word, or the end of an incident)."""
        when = (now or datetime.now(UTC)).timestamp()
        self.store.put(GuardKeys.ban(address), None, when, 1e-9)
