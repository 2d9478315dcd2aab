"""Unanswered challenges: a thief who never answers a challenge does not get a fresh budget.

A challenge asks for step-up; the owner answers it (and passes). A thief
holding only a password or a cookie cannot pass, and the cheapest thing for
a robot is not to answer at all and simply read on. Without this detector
such a robot would be challenged once per budget window and read a fresh
budget's worth every hour.

A challenge is *unanswered* when the account is challenged again with no
step-up since the previous one. From the first unanswered challenge the
account is *held*: every unexplained read from a session that has not
passed step-up is challenged, whatever the budget says, for
``response.hold_hours``. A session that passes step-up is vouched for (see
`rempart.guard.Guard.step_up`) and is not held, so the owner keeps working
while a thief's session, on another network and browser, stays held. At
``response.unanswered_to_lock`` unanswered challenges within
``response.unanswered_window_hours`` the read is denied, the session
revoked, and the account locked pending an out-of-band reset, with its owner
told through a channel the thief does not hold.

>>> from rempart.policy import Policy
>>> from rempart.stores import MemoryStore
>>> from rempart.detectors.testing import context_for
>>> from rempart.testing import make_event, pseudonym_for
>>> detector = UnansweredChallenges(MemoryStore(), Policy.default())
>>> verdicts = []
>>> for i in range(4):  # each read was challenged (by the budget, say) and never answered
...     ctx = context_for(make_event(subject=pseudonym_for(i)), t=60.0 * i)
...     finding = detector.score_one(ctx)
...     verdict = finding.verdict if finding else Verdict.CHALLENGE
...     verdicts.append(verdict.value)
...     detector.learn_one(ctx, verdict)
>>> verdicts
['challenge', 'challenge', 'challenge', 'deny']
"""

from __future__ import annotations

from rempart.decision import Action, ActionKind, Reason, Verdict
from rempart.detectors.base import Finding
from rempart.detectors.context import EventContext
from rempart.policy import Policy
from rempart.stores.base import StateStore, Window
from rempart.stores.keys import ChallengeKeys

__all__ = ["UnansweredChallenges"]


class UnansweredChallenges:
    """Holds an account that left a challenge unanswered; locks it when that repeats."""

    name = "challenges"

    def __init__(self, store: StateStore, policy: Policy) -> None:
        self.store = store
        response = policy.response
        self._to_lock = response.unanswered_to_lock
        self._window = (Window(response.unanswered_window_hours * 3_600, 60.0),)
        self._hold_s = response.hold_hours * 3_600
        self._outstanding_s = response.unanswered_window_hours * 3_600

    def _unanswered(self, account: str, now: float) -> float:
        (count,) = self.store.counts(ChallengeKeys.unanswered(account), now, self._window)
        return count

    def score_one(self, context: EventContext) -> Finding | None:
        account = context.event.account
        if (
            account is None
            or not context.is_read
            or context.explained
            or context.vouched_since is not None
        ):
            return None
        store, now = self.store, context.t
        held = store.get(ChallengeKeys.held(account), now)
        if held is None:
            return None
        outstanding = store.get(ChallengeKeys.outstanding(account), now) is not None
        # Reading again while a challenge waits for its step-up leaves it unanswered.
        unanswered = self._unanswered(account, now) + (1 if outstanding else 0)
        minutes = (now - float(held)) / 60
        figures = {"unanswered": unanswered, "lock_at": float(self._to_lock)}
        if outstanding and unanswered >= self._to_lock:
            actions = [Action(kind=ActionKind.LOCK_ACCOUNT, target=account)]
            session = context.event.session
            if session:
                actions.insert(0, Action(kind=ActionKind.REVOKE_SESSION, target=session))
            actions += [
                Action(kind=ActionKind.NOTIFY_OWNER, target=account),
                Action(kind=ActionKind.ALERT, target=account),
            ]
            return Finding(
                detector=self.name,
                verdict=Verdict.DENY,
                actions=tuple(actions),
                reason=Reason(
                    detector=self.name,
                    code="challenges_unanswered",
                    message=(
                        f"{unanswered:g} challenges left unanswered, reads going on regardless: "
                        "account locked pending an out-of-band reset, owner told"
                    ),
                    figures=figures,
                ),
            )
        return Finding(
            detector=self.name,
            verdict=Verdict.CHALLENGE,
            reason=Reason(
                detector=self.name,
                code="challenge_unanswered",
                message=(
                    f"a challenge was left unanswered {minutes:.0f} min ago "
                    f"({unanswered:g} so far, lock at {self._to_lock}); this session has not "
                    "passed step-up since"
                ),
                figures=figures,
            ),
        )

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        account = context.event.account
        if account is None or verdict is not Verdict.CHALLENGE or not context.is_read:
            return
        store, now = self.store, context.t
        outstanding = ChallengeKeys.outstanding(account)
        if store.get(outstanding, now) is not None:
            store.add_counts(ChallengeKeys.unanswered(account), now, self._window)
            if store.get(ChallengeKeys.held(account), now) is None:
                store.put(ChallengeKeys.held(account), now, now, self._hold_s)
        store.put(outstanding, now, now, self._outstanding_s)

    def on_step_up(self, context: EventContext) -> None:
        """A step-up answered the account's outstanding challenge (the hold stays on)."""
        account = context.event.account
        if account is not None:
            self.store.put(ChallengeKeys.outstanding(account), None, context.t, 1e-9)
