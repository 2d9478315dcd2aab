"""Volume against the peer group: how many patients an account reads in a day.

Each profession's daily reads per account are learned from allowed traffic
into a histogram; an account reading far beyond its peers' 99th percentile
gets a tighter budget and a reason naming both figures ("412 patients read
in 24 h; peers' p99 is 23"). Volume alone never challenges: a billing clerk
at month end reads hundreds of explained files.
"""

from __future__ import annotations

import math

from rempart.decision import Verdict
from rempart.detectors.base import Finding
from rempart.detectors.context import EventContext
from rempart.events import EventKind
from rempart.policy import Policy
from rempart.stores.base import StateStore, Window
from rempart.stores.keys import VolumeKeys

__all__ = ["PeerVolume"]

_DAY = (Window(86_400, 900),)
_BINS = 24  # log2 buckets: 0, 1, 2-3, 4-7, ...
_YEAR = 366 * 86_400.0


def _bucket(count: float) -> int:
    return min(_BINS - 1, int(math.log2(count)) + 1) if count >= 1 else 0


class PeerVolume:
    """Tightens the budget of an account reading far more than its peer group's p99."""

    name = "volume"

    def __init__(self, store: StateStore, policy: Policy) -> None:
        self.store = store
        self.policy = policy.volume

    def peer_p99(self, profession: str, now: float) -> float | None:
        """The peer group's 99th percentile of daily reads (upper bucket edge), if known."""
        histogram = self.store.get(VolumeKeys.peers(profession), now)
        if not histogram or sum(histogram) < 20:
            return None
        target = 0.99 * sum(histogram)
        running = 0
        for index, count in enumerate(histogram):
            running += count
            if running >= target:
                return float(2**index)
        return float(2 ** (_BINS - 1))

    def score_one(self, context: EventContext) -> Finding | None:
        account = context.event.account
        if not context.is_read or context.account is None or account is None:
            return None
        (today,) = self.store.counts(VolumeKeys.reads(account), context.t, _DAY)
        today += 1
        if today < self.policy.min_reads:
            return None
        p99 = self.peer_p99(context.account.profession.value, context.t)
        if p99 is None or today <= self.policy.peer_multiple * p99:
            return None
        return Finding(
            detector=self.name,
            tighten=self.policy.tighten,
            context=f"{int(today)} patients read in 24 h; peers' p99 is {p99:g}",
        )

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        event = context.event
        account = event.account
        if (
            event.kind is not EventKind.RECORD_VIEW
            or not context.is_read
            or context.account is None
            or account is None
            or verdict is not Verdict.ALLOW
        ):
            return
        store, now = self.store, context.t
        day = int(now // 86_400)
        current = store.get(VolumeKeys.day(account), now)
        if current is not None and current[0] != day:
            # The account's previous day is complete: it joins its peers' histogram.
            key = VolumeKeys.peers(context.account.profession.value)
            histogram = store.get(key, now) or [0] * _BINS
            histogram[_bucket(current[1])] += 1
            store.put(key, histogram, now, _YEAR)
            current = None
        count = 1 if current is None else current[1] + 1
        store.put(VolumeKeys.day(account), [day, count], now, 2 * 86_400)
        store.add_counts(VolumeKeys.reads(account), now, _DAY)
