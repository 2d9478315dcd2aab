"""Times and guard decisions the response tests share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rempart.guard.decision import Action, ActionKind, Decision, Reason, Verdict

T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def ban(target: str, until: datetime | None = None, *, code: str = "password_guessing") -> Decision:
    """A guard decision banning ``target`` until ``until``, timed at T0."""
    return Decision(
        event_id=f"ev-ban-{target}",
        verdict=Verdict.DENY,
        actions=(Action(kind=ActionKind.BAN_ADDRESS, target=target, until=until),),
        reasons=(Reason(detector="login_attacks", code=code, message="guessing"),),
        time=T0,
    )


def lock(account: str, session: str = "s0001") -> Decision:
    """A guard decision revoking ``session`` and locking ``account``, timed at T0."""
    return Decision(
        event_id=f"ev-lock-{account}",
        verdict=Verdict.DENY,
        actions=(
            Action(kind=ActionKind.REVOKE_SESSION, target=session),
            Action(kind=ActionKind.LOCK_ACCOUNT, target=account),
        ),
        reasons=(Reason(detector="canary", code="canary_read", message="canary record read"),),
        time=T0,
    )
