"""The guard behind the API: one lock, metrics, a log line per decision, store-error fallbacks.

`DecisionService` is the HTTP-free half of the decision API. The guard and
`MemoryStore` are not thread-safe and the API answers from a thread pool, so
every call into the guard or its store holds one lock; a guard call takes
microseconds in-process, so the lock is not a bottleneck before the GIL is.

When the store fails (Redis down, a timeout), the guard raises. The
``on_store_error`` policy picks the answer: ``error`` (HTTP 503, the
portal's own policy applies), ``open`` (allow, reason ``store_unavailable``)
or ``closed`` (deny, same reason). Either way the failure is counted in
``rempart_store_errors_total`` and logged.

The locks and bans decided, and their lifts, go to an action ledger; the
CrowdSec decision stream (`rempart.response.crowdsec.DecisionStream`) reads
the bans from it, one cursor per bouncer key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final, Literal

import msgspec
from structlog.typing import FilteringBoundLogger

from rempart.detectors.budget import BUDGET_WINDOWS
from rempart.errors import StoreUnavailableError
from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.guard.decision import Action, ActionKind, Decision, Reason, Verdict
from rempart.guard.guard import Guard
from rempart.response.crowdsec import (
    CrowdSecDecision,
    CrowdSecDecisions,
    DecisionStream,
    StreamFilter,
)
from rempart.response.dispatch import guard_trigger
from rempart.response.ledger import ActionLedger, MemoryLedger
from rempart.response.record import LIFTABLE
from rempart.service.bodies import AccountState, UnexplainedReads
from rempart.service.metrics import ServiceMetrics
from rempart.service.recent import RecentDecisions
from rempart.stores.keys import BudgetKeys, GuardKeys, ServiceKeys

__all__ = ["DecisionService", "StoreErrorPolicy"]

StoreErrorPolicy = Literal["error", "open", "closed"]


_LIFT_TTL: Final = 1e-9  # as Guard.lift_lock: an entry that is gone at once


class DecisionService:
    """Serialises calls into ``guard`` and records each decision (metrics, log, recent ring).

    ``store_errors`` are the exception types that mean "the store did not
    answer"; any other exception is a bug and propagates. ``clock`` gives the
    time for operations that carry none (lifting a lock, reading an
    account, a bouncer's poll); decisions always use the event's own time.
    ``ledger``: where locks, bans and lifts are recorded (in memory by
    default).
    """

    def __init__(
        self,
        guard: Guard,
        *,
        metrics: ServiceMetrics,
        logger: FilteringBoundLogger,
        on_store_error: StoreErrorPolicy = "error",
        store_errors: tuple[type[BaseException], ...] = (),
        clock: Callable[[], datetime] | None = None,
        recent: RecentDecisions | None = None,
        ledger: ActionLedger | None = None,
    ) -> None:
        self.guard = guard
        self.metrics = metrics
        self.logger = logger
        self.on_store_error = on_store_error
        self.store_errors = store_errors
        self.clock = clock or (lambda: datetime.now(UTC))
        self.recent = recent or RecentDecisions()
        self.ledger = ledger if ledger is not None else MemoryLedger()
        self.bouncers = DecisionStream(CrowdSecDecisions(self.ledger))
        self._lock = threading.Lock()

    # -- decisions ------------------------------------------------------------------

    def decide(self, event: Event) -> Decision:
        """The guard's decision on ``event`` (or the store-error fallback)."""
        with self._lock:
            decision, seconds = self._decide(event)
        self._record(event, decision, seconds)
        return decision

    def decide_batch(self, events: Sequence[Event]) -> list[Decision]:
        """Decisions on ``events``, in order, as if each had been sent alone."""
        timed: list[tuple[Decision, float | None]] = []
        with self._lock:
            for event in events:
                timed.append(self._decide(event))
        for event, (decision, seconds) in zip(events, timed, strict=True):
            self._record(event, decision, seconds)
        return [decision for decision, _ in timed]

    def step_up(self, event: Event, passed: bool) -> Decision:
        """The guard's answer to a step-up outcome on ``event``."""
        with self._lock:
            start = time.perf_counter()
            try:
                decision = self.guard.step_up(event, passed)
                seconds: float | None = time.perf_counter() - start
            except self.store_errors as error:
                self._store_failed(error, "step_up")
                decision, seconds = self._fallback(event, refuse=not passed), None
            if event.account is not None:
                self.recent.add(event.account, decision)
            self._contain(decision)
        self._record(event, decision, seconds)
        return decision

    def _decide(self, event: Event) -> tuple[Decision, float | None]:
        start = time.perf_counter()
        try:
            decision = self.guard.decide(event)
            seconds: float | None = time.perf_counter() - start
        except self.store_errors as error:
            self._store_failed(error, "decide")
            decision, seconds = self._fallback(event), None
        if event.account is not None:
            self.recent.add(event.account, decision)
        self._contain(decision)
        return decision, seconds

    def _contain(self, decision: Decision) -> None:
        """Record the decision's locks and bans (what stays in force) in the ledger."""
        lasting = tuple(action for action in decision.actions if action.kind in LIFTABLE)
        if not lasting:
            return
        try:
            self.ledger.record(
                msgspec.structs.replace(decision, actions=lasting), guard_trigger(decision)
            )
        except ValueError as error:  # a target the ledger refuses (a clear NIR): never logged
            self.logger.error("ledger_refused", event_id=decision.event_id, error=str(error))

    def _fallback(self, event: Event, *, refuse: bool = False) -> Decision:
        """The answer when the store fails: raise (policy ``error``), allow or deny.

        ``refuse``: a failed step-up, denied (and its session revoked) whatever
        the policy, since the caller just failed to prove they own the account.
        """
        policy = self.on_store_error
        if policy == "error":
            raise StoreUnavailableError("the guard's state store did not answer")
        deny = refuse or policy == "closed"
        actions: tuple[Action, ...] = ()
        if refuse and event.session is not None:
            actions = (Action(kind=ActionKind.REVOKE_SESSION, target=event.session),)
        return Decision(
            event_id=event.event_id,
            verdict=Verdict.DENY if deny else Verdict.ALLOW,
            actions=actions,
            reasons=(
                Reason(
                    detector="service",
                    code="store_unavailable",
                    message=f"state store unavailable: failing {'closed' if deny else 'open'}",
                ),
            ),
            time=event.time,
        )

    def _record(self, event: Event, decision: Decision, seconds: float | None) -> None:
        self.metrics.decided(decision.verdict.value, seconds)
        self.logger.info(
            "decision",
            event_id=event.event_id,
            kind=event.kind.value,
            account=event.account,
            verdict=decision.verdict.value,
            reasons=[reason.code for reason in decision.reasons],
            actions=[action.kind.value for action in decision.actions],
            latency_us=round(seconds * 1e6, 1) if seconds is not None else None,
        )

    def _store_failed(self, error: BaseException, operation: str) -> None:
        self.metrics.store_errors.inc()
        self.logger.error(
            "store_error",
            operation=operation,
            error=type(error).__name__,
            detail=str(error),
            policy=self.on_store_error,
        )

    # -- evidence, state, enforcement -----------------------------------------------

    def observe(self, evidence: Sequence[CareEvidence]) -> int:
        """Give the guard ``evidence``; how many pieces it took (all, or the store failed)."""
        with self._lock:
            for count, piece in enumerate(evidence):
                try:
                    self.guard.observe(piece)
                except self.store_errors as error:
                    self._store_failed(error, "observe")
                    raise StoreUnavailableError(
                        f"the guard's state store did not answer; {count} of "
                        f"{len(evidence)} pieces of evidence observed"
                    ) from None
        self.logger.info("evidence", observed=len(evidence))
        return len(evidence)

    def account_state(self, account: str) -> AccountState:
        """``account``'s lock, unexplained reads and recent decisions, now."""
        now = self.clock().timestamp()
        with self._lock:
            try:
                lock = self.guard.store.get(GuardKeys.lock(account), now)
                counts = self.guard.store.counts(
                    BudgetKeys.unexplained(account), now, BUDGET_WINDOWS
                )
            except self.store_errors as error:
                self._store_failed(error, "account_state")
                raise StoreUnavailableError("the guard's state store did not answer") from None
            recent = self.recent.of(account)
        since: datetime | None = None
        reason: str | None = None
        if isinstance(lock, list | tuple) and len(lock) == 2:
            since = datetime.fromtimestamp(float(lock[0]), tz=UTC)
            reason = str(lock[1])
        hour, day, week = counts
        return AccountState(
            account=account,
            known=account in self.guard.knowledge.accounts,
            locked=lock is not None,
            locked_since=since,
            lock_reason=reason,
            unexplained_reads=UnexplainedReads(hour=hour, day=day, week=week),
            recent_decisions=recent,
        )

    def lift_lock(self, account: str, by: str = "api:service") -> None:
        """Lift ``account``'s lock (after its out-of-band reset), on ``by``'s word."""
        now = self.clock()
        with self._lock:
            try:
                self.guard.lift_lock(account, now=now)
            except self.store_errors as error:
                self._store_failed(error, "lift_lock")
                raise StoreUnavailableError("the guard's state store did not answer") from None
            self.ledger.lift(account, ActionKind.LOCK_ACCOUNT, by, now)
        self.logger.info("lock_lifted", account=account, by=by)

    def lift_ban(self, address: str, by: str = "api:service") -> None:
        """Lift the ban on ``address``, as `Guard.lift_lock` lifts a lock, on ``by``'s word.

        Bouncers are told at their next poll (the ban is ``deleted``).
        """
        now = self.clock()
        with self._lock:
            try:
                self.guard.lift_ban(address, now)
            except self.store_errors as error:
                self._store_failed(error, "lift_ban")
                raise StoreUnavailableError("the guard's state store did not answer") from None
            self.ledger.lift(address, ActionKind.BAN_ADDRESS, by, now)
        self.logger.info("ban_lifted", address=address, by=by)

    def decisions_stream(
        self, bouncer: str, *, startup: bool, selection: StreamFilter
    ) -> dict[str, list[CrowdSecDecision]]:
        """The bans ``bouncer`` must add and delete now (`DecisionStream.poll`)."""
        answer = self.bouncers.poll(bouncer, self.clock(), startup=startup, selection=selection)
        if startup or answer["new"] or answer["deleted"]:
            self.logger.info(
                "decisions_streamed",
                bouncer=bouncer,
                startup=startup,
                new=len(answer["new"]),
                deleted=len(answer["deleted"]),
            )
        return answer

    def ready(self) -> None:
        """Return when the store answers; raise `StoreUnavailableError` when it does not."""
        now = self.clock().timestamp()
        with self._lock:
            try:
                self.guard.store.get(ServiceKeys.READY, now)
            except self.store_errors as error:
                self._store_failed(error, "ready")
                raise StoreUnavailableError("the guard's state store did not answer") from None
