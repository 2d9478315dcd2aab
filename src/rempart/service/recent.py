"""The last decisions per account, in memory and bounded, for an analyst reading an account.

>>> from rempart.guard.decision import Decision, Verdict
>>> recent = RecentDecisions(per_account=2)
>>> for n in range(3):
...     recent.add("A1", Decision(event_id=f"ev{n}", verdict=Verdict.ALLOW))
>>> [d.event_id for d in recent.of("A1")]
['ev2', 'ev1']
"""

from __future__ import annotations

from collections import OrderedDict, deque

from rempart.errors import ConfigError
from rempart.guard.decision import Decision

__all__ = ["RecentDecisions"]


class RecentDecisions:
    """A ring of the last ``per_account`` decisions of each of at most ``max_accounts`` accounts.

    Accounts beyond the bound are forgotten least recently decided first, so
    a stuffing run over millions of made-up logins cannot exhaust memory.
    Not thread-safe: the API calls it under its guard lock.
    """

    def __init__(self, per_account: int = 50, max_accounts: int = 100_000) -> None:
        if per_account < 1:
            raise ConfigError("per_account", "a positive integer", per_account)
        if max_accounts < 1:
            raise ConfigError("max_accounts", "a positive integer", max_accounts)
        self.per_account = per_account
        self.max_accounts = max_accounts
        self._rings: OrderedDict[str, deque[Decision]] = OrderedDict()

    def add(self, account: str, decision: Decision) -> None:
        """Remember ``decision`` as ``account``'s latest."""
        ring = self._rings.get(account)
        if ring is None:
            ring = self._rings[account] = deque(maxlen=self.per_account)
            if len(self._rings) > self.max_accounts:
                self._rings.popitem(last=False)
        else:
            self._rings.move_to_end(account)
        ring.append(decision)

    def of(self, account: str) -> list[Decision]:
        """``account``'s remembered decisions, newest first."""
        ring = self._rings.get(account)
        return list(reversed(ring)) if ring is not None else []
