"""The unexplained-read budget: the core of Rempart.

Each account may read a bounded number of patients that no care evidence
explains, per hour, day and week. Explained reads are free. A search costs
each unexplained person it listed (`EventContext.unexplained`): their
identity left as surely as a read's. Takeover context (new network, rented
server, recent password reset, robot timing…) tightens the budget
multiplicatively, never below a floor (a lower one when the signs together
are strong: a reset, a new network and browser, at night). When the budget
is spent, the next unexplained read (or search) needs step-up authentication,
which a thief holding only a password and a mailbox cannot pass: this bounds
what any attacker strategy extracts per account, fast or slow.

A session that passes step-up is vouched for (`rempart.guard.Guard.step_up`):
for the grace period it is measured against its own reads since then, while
every other session of the account (a thief's on another network) is still
measured against all the account's unexplained reads, the vouched session's
included.

>>> from rempart.policy import Policy
>>> from rempart.stores import MemoryStore
>>> from rempart.detectors.testing import context_for
>>> from rempart.testing import make_event, pseudonym_for
>>> budget = UnexplainedBudget(MemoryStore(), Policy.default())
>>> verdicts = []
>>> for i in range(12):
...     ctx = context_for(make_event(subject=pseudonym_for(i)), t=60.0 * i)
...     finding = budget.score_one(ctx)
...     verdicts.append(finding.verdict.value if finding else "allow")
...     budget.learn_one(ctx, finding.verdict if finding else Verdict.ALLOW)
>>> verdicts.count("allow"), verdicts[-1]
(10, 'challenge')
"""

from __future__ import annotations

from rempart.decision import Reason, Verdict
from rempart.detectors.base import Finding
from rempart.detectors.context import EventContext
from rempart.policy import Policy
from rempart.stores.base import StateStore, Window
from rempart.stores.keys import BudgetKeys, vouch_identity

__all__ = ["BUDGET_WINDOWS", "UnexplainedBudget"]

BUDGET_WINDOWS = (Window(3_600, 60), Window(86_400, 900), Window(7 * 86_400, 3_600))
"""The hour, day and week an account's unexplained reads are counted in (`BudgetKeys`)."""
_NAMES = ("an hour", "24 h", "7 days")
_HOW = {True: "read", False: "read or listed by a search"}


class UnexplainedBudget:
    """Challenges an account's unexplained read beyond its (tightened) budget."""

    name = "budget"

    def __init__(self, store: StateStore, policy: Policy) -> None:
        self.store = store
        budget = policy.budget
        self._limits = (budget.hour, budget.day, budget.week)
        self._floor = float(budget.floor)
        self._strong_floor = float(budget.strong_floor)
        self._strong_tighten = budget.strong_tighten
        self._professions = budget.profession.__struct_fields__
        self._profession_factor = {
            name: getattr(budget.profession, name) for name in self._professions
        }
        self._shared = budget.shared

    def limits(self, context: EventContext) -> tuple[float, ...]:
        """The account's limits per window for this event, after tightening."""
        account = context.account
        scale = 1.0
        if account is not None:
            scale = self._profession_factor.get(account.profession.value, 1.0)
            if account.shared:
                scale *= self._shared
        floor = self._strong_floor if context.tighten <= self._strong_tighten else self._floor
        return tuple(max(floor, limit * scale * context.tighten) for limit in self._limits)

    def _spent(self, account: str, context: EventContext) -> tuple[float, ...]:
        return self.store.counts(self._counter(account, context), context.t, BUDGET_WINDOWS)

    @staticmethod
    def _counter(account: str, context: EventContext) -> str:
        """The account's count, or a vouched session's own count since it passed step-up."""
        if context.vouched_since is None:
            return BudgetKeys.unexplained(account)
        return BudgetKeys.vouched_unexplained(
            vouch_identity(account, context.session, context.vouched_since)
        )

    def score_one(self, context: EventContext) -> Finding | None:
        account = context.event.account
        # An unexplained read costs one; a search, each unexplained person it listed.
        cost = context.unexplained
        if not cost or account is None:
            return None
        spent = self._spent(account, context)
        limits = self.limits(context)
        for name, used, limit in zip(_NAMES, spent, limits, strict=True):
            if used + cost > limit:
                why = (
                    f" (tightened: {', '.join(context.tighten_reasons)})"
                    if context.tighten_reasons
                    else ""
                )
                return Finding(
                    detector=self.name,
                    verdict=Verdict.CHALLENGE,
                    reason=Reason(
                        detector=self.name,
                        code="unexplained_budget",
                        message=(
                            f"{int(used) + cost} patients {_HOW[context.is_read]} in {name} "
                            f"with no care evidence; budget {limit:g}{why}"
                        ),
                        figures={
                            "unexplained": used + cost,
                            "budget": limit,
                            "tighten": round(context.tighten, 4),
                        },
                    ),
                )
        return None

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        account = context.event.account
        cost = context.unexplained
        if cost and account is not None and verdict is not Verdict.DENY:
            # The account's count takes every session's reads, a vouched one's too: a thief's
            # session is measured against all that left the account.
            self.store.add_counts(BudgetKeys.unexplained(account), context.t, BUDGET_WINDOWS, cost)
            if context.vouched_since is not None:
                self.store.add_counts(
                    self._counter(account, context), context.t, BUDGET_WINDOWS, cost
                )
