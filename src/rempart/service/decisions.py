"""The guard behind the API: metrics, a log line per action, enforcement, store-error fallbacks.

`DecisionService` is the HTTP-free half of the decision API, and the API
answers from a thread pool. Over a `MemoryStore` (not thread-safe) every
call into the guard or its store holds one lock: a guard call takes
microseconds in-process, so the lock is not a bottleneck before the GIL is.
Over a shared store that is safe to call from many threads (Redis, see
`rempart.stores.redis`), no lock is held at all: a decision waiting on the
network never holds another one up (the guard then keeps one batch of
updates per thread, `rempart.stores.batching.ConcurrentBatchingStore`).

When the store fails (Redis down, a timeout), the guard raises. The
``on_store_error`` policy picks the answer: ``error`` (HTTP 503, the
portal's own policy applies), ``open`` (allow, reason ``store_unavailable``)
or ``closed`` (deny, same reason). Either way the failure is counted in
``rempart_store_errors_total`` and logged.

The locks and bans decided, and their lifts, go to an action ledger; the
CrowdSec decision stream (`rempart.response.crowdsec.DecisionStream`) reads
the bans from it, one cursor per bouncer key. The ledger is also what keeps
them in force (`rempart.service.enforcement`): over the service's own memory
store it is asked first, on every event, so that a restart (the ledger
replayed) or an eviction loses no lock; over a shared store it is asked
while the store is away, in every outage mode, and the locks and bans
in force are written to it once it is back (and at start): a Redis
restarted empty, or one that missed the locks decided in fail-open mode,
gets them again. Until that write is done, the ledger keeps the say. A lock
lifted through another instance sharing the store, but held in force in
this instance's ledger, is written back too: it fails safe, a second lift
ends it.

Every log line of an action names the key that asked for it (``key``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any, Final, Literal

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
from rempart.service.enforcement import Enforcement
from rempart.service.metrics import ServiceMetrics
from rempart.service.recent import RecentDecisions
from rempart.stores.keys import BudgetKeys, GuardKeys, ServiceKeys

__all__ = ["DecisionService", "StoreErrorPolicy"]

StoreErrorPolicy = Literal["error", "open", "closed"]


_LIFT_TTL: Final = 1e-9  # as Guard.lift_lock: an entry that is gone at once
# As the guard's own locks: an entry no event time can see expire (`Guard`).
_LOCK_TTL: Final = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


class DecisionService:
    """Calls into ``guard`` and records each decision (metrics, log, recent ring, ledger).

    ``store_errors`` are the exception types that mean "the store did not
    answer"; any other exception is a bug and propagates. ``clock`` gives the
    time for operations that carry none (lifting a lock, reading an
    account, a bouncer's poll) and for the locks and bans in force; the
    guard decides in the event's own time. ``ledger``: where locks, bans and
    lifts are recorded (in memory by default); those in force at start are
    enforced from the first request.
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
        self.enforcement = Enforcement(self.ledger.active(self.clock()))
        store: Any = guard.store.store
        # Chosen once: a shared, thread-safe store takes no lock and is the authority
        # while it answers; the service's own memory store defers to the ledger.
        self.shared: bool = bool(getattr(store, "concurrent", False))
        self._lock: AbstractContextManager[Any] = nullcontext() if self.shared else threading.Lock()
        self._degraded: Callable[[], bool] = (
            (lambda: bool(store.degraded)) if hasattr(store, "degraded") else (lambda: False)
        )
        self._books = threading.Lock()  # the recent ring
        # Set when the shared store may lack what the ledger holds in force: at start,
        # and each time it comes back (its hook is chained below).
        self._resync = threading.Event()
        self._writing = threading.Lock()  # held by the one thread writing back
        if self.shared:
            self._resync.set()
            if hasattr(store, "on_change"):
                previous: Callable[[bool, str | None], None] | None = store.on_change

                def on_change(degraded: bool, error: str | None) -> None:
                    if previous is not None:
                        previous(degraded, error)
                    if not degraded:
                        self._resync.set()

                store.on_change = on_change

    # -- decisions ------------------------------------------------------------------

    def decide(self, event: Event, key: str | None = None) -> Decision:
        """The guard's decision on ``event`` (or the store-error fallback), asked by ``key``."""
        with self._lock:
            decision, seconds = self._decide(event)
        self._record(event, decision, seconds, key)
        return decision

    def decide_batch(self, events: Sequence[Event], key: str | None = None) -> list[Decision]:
        """Decisions on ``events``, in order, as if each had been sent alone."""
        timed: list[tuple[Decision, float | None]] = []
        with self._lock:
            for event in events:
                timed.append(self._decide(event))
        for event, (decision, seconds) in zip(events, timed, strict=True):
            self._record(event, decision, seconds, key)
        return [decision for decision, _ in timed]

    def step_up(self, event: Event, passed: bool, key: str | None = None) -> Decision:
        """The guard's answer to a step-up outcome on ``event``."""
        with self._lock:
            start = time.perf_counter()
            try:
                decision = self.guard.step_up(event, passed)
                seconds: float | None = time.perf_counter() - start
            except self.store_errors as error:
                self._store_failed(error, "step_up")
                if not passed and self.on_store_error == "error":
                    # The answer is a 503, but the lock needs no store: the ledger keeps it.
                    self._contain(self._failed_step_up_lock(event))
                decision, seconds = self._fallback(event, refuse=not passed), None
            self._remember(event, decision)
            self._contain(decision)
        self._record(event, decision, seconds, key)
        return decision

    def _decide(self, event: Event) -> tuple[Decision, float | None]:
        start = time.perf_counter()
        now = self.clock()
        seconds: float | None
        refusal = self._standing(event, now, before=True)
        if refusal is not None:
            decision, seconds = refusal, time.perf_counter() - start
        else:
            try:
                decision = self.guard.decide(event)
                seconds = time.perf_counter() - start
            except self.store_errors as error:
                self._store_failed(error, "decide")
                refusal = self.enforcement.refusal(event, now)
                decision = refusal if refusal is not None else self._fallback(event)
                seconds = None
            else:
                # The store may have gone away during the decision (fail-open then
                # decided on local state): what the ledger holds still stands.
                refusal = self._standing(event, now, before=False)
                if refusal is not None:
                    decision = refusal
        self._remember(event, decision)
        self._contain(decision)
        if self._resync.is_set():
            self._start_write_back()
        return decision, seconds

    def _standing(self, event: Event, now: datetime, *, before: bool) -> Decision | None:
        """A lock or ban the ledger holds on ``event``, when the ledger has the say now."""
        if not self.shared:
            return self.enforcement.refusal(event, now) if before else None
        if self._degraded() or self._resync.is_set() or self._writing.locked():
            return self.enforcement.refusal(event, now)
        return None

    def _remember(self, event: Event, decision: Decision) -> None:
        if event.account is not None:
            with self._books:
                self.recent.add(event.account, decision)

    def _failed_step_up_lock(self, event: Event) -> Decision:
        """The lock a failed step-up calls for, as a decision the ledger records."""
        actions: tuple[Action, ...] = ()
        if event.account is not None and self.guard.policy.response.lock_on_failed_step_up:
            actions = (Action(kind=ActionKind.LOCK_ACCOUNT, target=event.account),)
        reason = Reason(detector="guard", code="step_up_failed", message="step-up failed")
        return Decision(
            event_id=event.event_id,
            verdict=Verdict.DENY,
            actions=actions,
            reasons=(reason,),
            time=event.time,
        )

    def _contain(self, decision: Decision) -> None:
        """Record the decision's locks and bans (what stays in force) in the ledger."""
        lasting = tuple(action for action in decision.actions if action.kind in LIFTABLE)
        if not lasting:
            return
        try:
            records = self.ledger.record(
                msgspec.structs.replace(decision, actions=lasting), guard_trigger(decision)
            )
        except ValueError as error:  # a target the ledger refuses (a clear NIR): never logged
            self.logger.error("ledger_refused", event_id=decision.event_id, error=str(error))
            return
        self.enforcement.add(records, self.clock())

    def _start_write_back(self) -> None:
        """Write what the ledger holds in force into the shared store, on a thread of its own."""
        if self._degraded() or not self._writing.acquire(blocking=False):
            return
        self._resync.clear()
        writer = threading.Thread(target=self._write_back_held, name="rempart-write-back")
        writer.daemon = True
        writer.start()

    def _write_back_held(self) -> None:
        try:
            self._write_all()
        finally:
            self._writing.release()

    def write_back(self) -> None:
        """Put every lock and ban in force (the ledger's) into the shared store, now.

        On a store failure the write is due again at the store's next recovery.
        """
        with self._writing:
            self._write_all()

    def _write_all(self) -> None:
        store = self.guard.store.store  # past the batching layer: these are not a decision's
        moment = self.clock()
        now = moment.timestamp()
        written = 0
        try:
            for account, lock in self.enforcement.locks().items():
                value = [lock.since.timestamp(), lock.cause]
                store.put(GuardKeys.lock(account), value, now, _LOCK_TTL)
                written += 1
            for address, ban in self.enforcement.bans(moment).items():
                until = ban.until.timestamp() if ban.until is not None else _LOCK_TTL
                store.put(GuardKeys.ban(address), [until, ban.cause], now, until - now)
                written += 1
            if self._degraded():  # it fell back to local state meanwhile
                self._resync.set()
            else:
                self.logger.info("enforcement_written_back", records=written)
        except self.store_errors as error:
            self._store_failed(error, "write_back")
            self._resync.set()

    def _fallback(self, event: Event, *, refuse: bool = False) -> Decision:
        """The answer when the store fails: raise (policy ``error``), allow or deny.

        ``refuse``: a failed step-up, denied (its session revoked, its account
        locked as the policy says) whatever the outage mode, since the caller
        just failed to prove they own the account.
        """
        policy = self.on_store_error
        if policy == "error":
            raise StoreUnavailableError("the guard's state store did not answer")
        deny = refuse or policy == "closed"
        actions: tuple[Action, ...] = ()
        if refuse:
            actions = self._failed_step_up_lock(event).actions
            if event.session is not None:
                revoke = Action(kind=ActionKind.REVOKE_SESSION, target=event.session)
                actions = (revoke, *actions)
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

    def _record(
        self, event: Event, decision: Decision, seconds: float | None, key: str | None
    ) -> None:
        self.metrics.decided(decision.verdict.value, seconds)
        self.logger.info(
            "decision",
            key=key,
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

    def observe(self, evidence: Sequence[CareEvidence], key: str | None = None) -> int:
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
        self.logger.info("evidence", key=key, observed=len(evidence))
        return len(evidence)

    def account_state(self, account: str, key: str | None = None) -> AccountState:
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
        with self._books:
            recent = self.recent.of(account)
        self.logger.info("account_read", key=key, account=account)
        since: datetime | None = None
        reason: str | None = None
        if isinstance(lock, list | tuple) and len(lock) == 2:
            since = datetime.fromtimestamp(float(lock[0]), tz=UTC)
            reason = str(lock[1])
        elif (standing := self.enforcement.lock(account)) is not None:
            lock, since, reason = standing, standing.since, standing.cause
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

    def lift_lock(self, account: str, by: str = "api:service", key: str | None = None) -> None:
        """Lift ``account``'s lock (after its out-of-band reset), on ``by``'s word."""
        now = self.clock()
        with self._lock:
            try:
                self.guard.lift_lock(account, now=now)
            except self.store_errors as error:
                self._store_failed(error, "lift_lock")
                raise StoreUnavailableError("the guard's state store did not answer") from None
            self.ledger.lift(account, ActionKind.LOCK_ACCOUNT, by, now)
            self.enforcement.lift(ActionKind.LOCK_ACCOUNT, account)
        self.logger.info("lock_lifted", key=key, account=account, by=by)

    def lift_ban(self, address: str, by: str = "api:service", key: str | None = None) -> None:
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
            self.enforcement.lift(ActionKind.BAN_ADDRESS, address)
        self.logger.info("ban_lifted", key=key, address=address, by=by)

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
