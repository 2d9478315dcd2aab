"""The per-bouncer decision stream: what each poll adds and deletes, as CrowdSec's Local API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rempart.guard.decision import ActionKind
from rempart.response import MemoryLedger
from rempart.response.crowdsec import CrowdSecDecisions, DecisionStream, StreamFilter

from .actions import HOUR, T0, ban
from .test_crowdsec import _check


def _stream() -> tuple[MemoryLedger, DecisionStream]:
    ledger = MemoryLedger()
    return ledger, DecisionStream(CrowdSecDecisions(ledger))


def _told(answer: dict[str, list[dict[str, Any]]]) -> tuple[list[Any], list[Any]]:
    """(id, value) of each new and deleted decision, after checking the swagger shape."""
    _check(answer)
    return (
        [(d["id"], d["value"]) for d in answer["new"]],
        [(d["id"], d["value"]) for d in answer["deleted"]],
    )


def test_startup_sends_every_ban_in_force_and_resets_the_cursor() -> None:
    """``startup`` answers the whole picture, even for a bouncer told before, deleting nothing."""
    ledger, stream = _stream()
    ledger.record(ban("51.75.3.7", T0 + HOUR), "guard:login")
    ledger.record(ban("2001:db8:42::/48", T0 + HOUR), "analyst:alice")
    assert _told(stream.poll("fw", T0, startup=True)) == (
        [(1, "51.75.3.7"), (2, "2001:db8:42::/48")],
        [],
    )
    assert _told(stream.poll("fw", T0, startup=True))[0] == [
        (1, "51.75.3.7"),
        (2, "2001:db8:42::/48"),
    ]
    assert _told(stream.poll("fw", T0)) == ([], [])


def test_a_ban_recorded_late_is_still_sent() -> None:
    """A ban timed before the bouncer's last poll (a slow event) reaches it at the next one."""
    ledger, stream = _stream()
    stream.poll("fw", T0 + timedelta(minutes=5), startup=True)
    ledger.record(ban("51.75.3.7", T0 + HOUR), "guard:login")  # timed at T0, before the poll
    assert _told(stream.poll("fw", T0 + timedelta(minutes=6))) == ([(1, "51.75.3.7")], [])


def test_a_longer_ban_on_an_address_is_new_again_and_the_address_stays_banned() -> None:
    """Of two bans on one address the bouncer holds the longest; the shorter one's expiry
    deletes nothing while the longer one runs."""
    ledger, stream = _stream()
    ledger.record(ban("51.75.3.7", T0 + HOUR), "guard:login")
    stream.poll("fw", T0, startup=True)
    ledger.record(ban("51.75.3.7", T0 + 3 * HOUR), "analyst:alice")
    assert _told(stream.poll("fw", T0 + timedelta(minutes=1))) == ([(2, "51.75.3.7")], [])
    assert _told(stream.poll("fw", T0 + 2 * HOUR)) == ([], [])
    assert _told(stream.poll("fw", T0 + 3 * HOUR)) == ([], [(2, "51.75.3.7")])


def test_a_lift_deletes_the_address_once_and_an_expiry_deletes_it_too() -> None:
    """Lifted or expired, a ban the bouncer holds is deleted at its next poll, and only then."""
    ledger, stream = _stream()
    ledger.record(ban("51.75.3.7", T0 + HOUR), "guard:login")
    ledger.record(ban("90.80.70.60", T0 + 2 * HOUR), "guard:login")
    stream.poll("fw", T0, startup=True)
    ledger.lift("51.75.3.7", ActionKind.BAN_ADDRESS, "analyst:bob", T0 + timedelta(minutes=1))
    deleted = stream.poll("fw", T0 + timedelta(minutes=2))
    assert _told(deleted) == ([], [(1, "51.75.3.7")])
    assert deleted["deleted"][0]["duration"] == "58m0s"
    assert _told(stream.poll("fw", T0 + 90 * timedelta(minutes=1))) == ([], [])
    assert _told(stream.poll("fw", T0 + 2 * HOUR)) == ([], [(2, "90.80.70.60")])
    assert _told(stream.poll("fw", T0 + 3 * HOUR)) == ([], [])


def test_cursors_are_per_bouncer_and_forgetting_one_starts_it_afresh() -> None:
    """Each bouncer is told each change once; a forgotten bouncer's next poll is a full one."""
    ledger, stream = _stream()
    stream.poll("fw", T0, startup=True)
    stream.poll("nginx", T0, startup=True)
    ledger.record(ban("51.75.3.7", T0 + HOUR), "guard:login")
    assert _told(stream.poll("fw", T0))[0] == [(1, "51.75.3.7")]
    assert _told(stream.poll("fw", T0))[0] == []
    assert _told(stream.poll("nginx", T0))[0] == [(1, "51.75.3.7")]
    stream.forget("fw")
    assert _told(stream.poll("fw", T0))[0] == [(1, "51.75.3.7")]


def test_an_unknown_bouncer_is_told_of_lifts_it_may_hold() -> None:
    """A first poll without startup carries the early lifts still worth deleting, except an
    address another ban still covers."""
    ledger, stream = _stream()
    ledger.record(ban("51.75.3.7", T0 + HOUR), "guard:login")
    ledger.record(ban("90.80.70.60", T0 + HOUR), "guard:login")
    ledger.lift("51.75.3.7", ActionKind.BAN_ADDRESS, "analyst:bob", T0)
    ledger.lift("90.80.70.60", ActionKind.BAN_ADDRESS, "analyst:bob", T0)
    ledger.record(ban("90.80.70.60", T0 + HOUR), "guard:login")  # banned again
    assert _told(stream.poll("fw", T0)) == ([(5, "90.80.70.60")], [(1, "51.75.3.7")])


def test_filters_select_by_scope_origin_and_scenario_words() -> None:
    """The Local API's filters: scopes any case, origins exact, scenario words any case."""
    ledger, stream = _stream()
    ledger.record(ban("51.75.3.7", T0 + HOUR), "guard:login")
    ledger.record(ban("51.75.4.0/24", T0 + HOUR, code="stuffing"), "guard:login")

    def values(**query: str) -> list[str]:
        chosen = StreamFilter.from_query(**query)
        return [d["value"] for d in stream.poll("fw", T0, startup=True, selection=chosen)["new"]]

    assert values() == ["51.75.3.7", "51.75.4.0/24"]
    assert values(scopes="RANGE") == ["51.75.4.0/24"]
    assert values(scopes="ip, range") == ["51.75.3.7", "51.75.4.0/24"]
    assert values(origins="crowdsec") == []
    assert values(origins="rempart") == ["51.75.3.7", "51.75.4.0/24"]
    assert values(scenarios_containing="Stuff,ssh") == ["51.75.4.0/24"]
    assert values(scenarios_not_containing="guessing") == ["51.75.4.0/24"]
    assert values(scenarios_containing="", scopes="") == ["51.75.3.7", "51.75.4.0/24"]
