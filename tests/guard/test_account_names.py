"""Accounts whose names look like the guard's own portal-wide state keep state of their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rempart.guard import Decision, Guard, Knowledge, Verdict
from rempart.testing import make_event

T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)


def _failures(guard: Guard, accounts: list[str]) -> None:
    """One failed login on each of ``accounts``, a minute apart, each from its own address."""
    for number, account in enumerate(accounts, 1):
        guard.decide(
            make_event(
                kind="login_failure",
                account=account,
                ip=f"90.12.{number}.10",
                time=T0 + timedelta(minutes=number),
                event_id=f"fail{number}",
            )
        )


def _login(guard: Guard, account: str) -> Decision:
    """A successful login on ``account`` from an address that never failed, after the failures."""
    return guard.decide(
        make_event(
            kind="login_success",
            account=account,
            ip="90.12.200.10",
            time=T0 + timedelta(minutes=10),
            event_id="login",
            session="s1",
        )
    )


def test_failures_on_other_accounts_never_count_against_an_account_named_portal() -> None:
    """Six failed logins on other accounts leave an account named ``portal`` unchallenged."""
    # Before `rempart.stores.keys`, ``lf:portal`` was both the portal-wide failure counter
    # and the failure counter of an account named ``portal``: it was challenged here.
    guard = Guard(Knowledge(accounts={}, sites={}))
    _failures(guard, [f"A{number}" for number in range(1, 7)])
    decision = _login(guard, "portal")
    assert decision.verdict is Verdict.ALLOW
    assert [reason.code for reason in decision.reasons] == []


def test_an_account_named_portal_is_still_challenged_after_its_own_failures() -> None:
    """Failures on ``portal`` itself still count: it logs in after five only through step-up."""
    guard = Guard(Knowledge(accounts={}, sites={}))
    _failures(guard, ["portal"] * 5)
    decision = _login(guard, "portal")
    assert decision.verdict is Verdict.CHALLENGE
    assert [reason.code for reason in decision.reasons] == ["login_after_failures"]
