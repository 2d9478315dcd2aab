"""The nftables enforcer: the ``nft -f`` file, checked by nft itself, and loading it."""

from __future__ import annotations

import ipaddress
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rempart.errors import ConfigError
from rempart.guard.decision import ActionKind
from rempart.response import (
    ActionLedger,
    ActionRecord,
    EnforcerRegistry,
    MemoryLedger,
    NftablesEnforcer,
    RecordState,
    dispatch,
    lift,
)
from rempart.response.nftables import disjoint_bans
from tests.system_tools import require_program

from .actions import HOUR, T0, ban


@pytest.fixture
def nft() -> Path:
    """Debian's nft (skips on a developer machine without it, fails under CI)."""
    return require_program("nft", "nftables")


def _enforcer(tmp_path: Path, ledger: ActionLedger, **options: object) -> NftablesEnforcer:
    return NftablesEnforcer(tmp_path / "rempart.nft", ledger, **options)


def _nft_check(nft: Path, path: Path) -> None:
    """Fail with nft's own message unless ``nft --check --file path`` accepts the file."""
    completed = subprocess.run(
        [str(nft), "--check", "--file", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


def _populated(ledger: ActionLedger) -> None:
    """Bans of every shape: single v4, v4 prefix with a longer ban inside, v6, forever."""
    ledger.record(ban("51.75.3.0/24", T0 + HOUR), "analyst:alice")
    ledger.record(ban("51.75.3.77", T0 + 4 * HOUR), "guard:login_attacks")
    ledger.record(ban("90.12.34.56", T0 + timedelta(seconds=90)), "guard:login_attacks")
    ledger.record(ban("2001:db8:42::/48", T0 + 2 * HOUR), "analyst:alice")
    ledger.record(ban("2a01:e0a:1::7"), "guard:login_attacks")


def test_file_declares_the_table_sets_and_timed_elements(tmp_path: Path) -> None:
    """The file replaces the table whole and lists each ban with the seconds it has left."""
    ledger = MemoryLedger()
    ledger.record(ban("51.75.3.0/24", T0 + HOUR), "analyst:alice")
    ledger.record(ban("90.12.34.56", T0 + timedelta(seconds=90)), "guard:login_attacks")
    ledger.record(ban("2001:db8:42::/48"), "analyst:alice")
    enforcer = _enforcer(tmp_path, ledger)
    assert enforcer.render(T0).splitlines() == [
        "#!/usr/sbin/nft -f",
        "# Written by rempart from its action ledger; do not edit (rewritten on each ban).",
        "# Bans in force at 2022-03-01T09:00:00+00:00; timeouts count from then.",
        "table inet rempart",
        "delete table inet rempart",
        "table inet rempart {",
        "\tset banned_v4 {",
        "\t\ttype ipv4_addr",
        "\t\tflags interval, timeout",
        '\t\telements = { 51.75.3.0/24 timeout 3600s comment "rempart #1", '
        '90.12.34.56 timeout 90s comment "rempart #2" }',
        "\t}",
        "\tset banned_v6 {",
        "\t\ttype ipv6_addr",
        "\t\tflags interval, timeout",
        '\t\telements = { 2001:db8:42::/48 comment "rempart #3" }',
        "\t}",
        "\tchain input {",
        "\t\ttype filter hook input priority filter - 10; policy accept;",
        "\t\tip saddr @banned_v4 drop",
        "\t\tip6 saddr @banned_v6 drop",
        "\t}",
        "}",
    ]


def test_timeouts_count_from_the_time_of_the_change(tmp_path: Path) -> None:
    """Rendered later, a ban has fewer seconds left; once expired it is gone."""
    ledger = MemoryLedger()
    ledger.record(ban("90.12.34.56", T0 + HOUR), "guard:login_attacks")
    enforcer = _enforcer(tmp_path, ledger)
    assert "90.12.34.56 timeout 1800s" in enforcer.render(T0 + HOUR / 2)
    assert "90.12.34.56" not in enforcer.render(T0 + HOUR)


def test_nft_accepts_the_file(tmp_path: Path, nft: Path) -> None:
    """``nft --check`` accepts the file with bans of every shape, including overlapping ones."""
    ledger = MemoryLedger()
    _populated(ledger)
    enforcer = _enforcer(tmp_path, ledger)
    _nft_check(nft, enforcer.write(T0))


def test_nft_accepts_the_empty_file_and_custom_names(tmp_path: Path, nft: Path) -> None:
    """With no bans, other set names and no drop chain, nft still accepts the file."""
    enforcer = _enforcer(
        tmp_path,
        MemoryLedger(),
        table="ip6 edge",
        set_v4="v4",
        set_v6="v6",
        drop_chain=False,
    )
    text = enforcer.write(T0).read_text()
    assert "elements" not in text
    assert "chain" not in text
    _nft_check(nft, enforcer.path)


def test_nft_check_rejects_what_nftables_refuses(tmp_path: Path, nft: Path) -> None:
    """The check is a real one: overlapping elements, which nftables refuses, fail it."""
    bad = tmp_path / "overlap.nft"
    bad.write_text(
        "table inet t {\n\tset s {\n\t\ttype ipv4_addr\n\t\tflags interval, timeout\n"
        "\t\telements = { 10.0.0.0/24 timeout 60s, 10.0.0.1 timeout 60s }\n\t}\n}\n"
    )
    with pytest.raises(AssertionError, match="conflicting intervals"):
        _nft_check(nft, bad)


def test_overlapping_bans_become_disjoint_with_the_latest_expiry(tmp_path: Path) -> None:
    """A longer ban inside a prefix splits it; a shorter one inside a longer prefix disappears."""
    ledger = MemoryLedger()
    ledger.record(ban("10.0.0.0/30", T0 + HOUR), "analyst:alice")
    ledger.record(ban("10.0.0.1", T0 + 2 * HOUR), "guard:login_attacks")
    ledger.record(ban("10.0.0.2", T0 + HOUR / 2), "guard:login_attacks")
    elements = {str(b.network): (b.until, b.record_ids) for b in disjoint_bans(ledger.active(T0))}
    assert elements == {
        "10.0.0.0/32": (T0 + HOUR, (1,)),
        "10.0.0.1/32": (T0 + 2 * HOUR, (2,)),
        "10.0.0.2/31": (T0 + HOUR, (1, 3)),
    }


_NETWORKS = st.builds(
    lambda host, length: ipaddress.ip_network(f"10.0.0.{host}/{length}", strict=False),
    st.integers(0, 15),
    st.integers(28, 32),
)


@given(st.lists(st.tuples(_NETWORKS, st.one_of(st.none(), st.integers(1, 5))), max_size=8))
@settings(max_examples=200, deadline=None)
def test_disjoint_bans_keep_every_address_expiry(
    bans: list[tuple[ipaddress.IPv4Network, int | None]],
) -> None:
    """Every address is covered by exactly one element, carrying the latest expiry of its bans."""
    records = [
        ActionRecord(
            id=number,
            time=T0,
            kind=ActionKind.BAN_ADDRESS,
            target=str(network),
            trigger="guard:test",
            until=None if hours is None else T0 + hours * HOUR,
        )
        for number, (network, hours) in enumerate(bans, start=1)
    ]
    elements = disjoint_bans(records)
    for address in ipaddress.ip_network("10.0.0.0/28"):
        covering = [until for network, until in bans if address in network]
        holders = [element for element in elements if address in element.network]
        if not covering:
            assert holders == []
            continue
        assert len(holders) == 1
        expected = None if None in covering else T0 + max(h for h in covering if h) * HOUR
        assert holders[0].until == expected


def test_apply_and_lift_rewrite_the_file_atomically(tmp_path: Path) -> None:
    """Through dispatch, a ban appears in the file and a lift removes it; no temp file remains."""
    ledger = MemoryLedger()
    enforcer = _enforcer(tmp_path, ledger)
    registry = EnforcerRegistry()
    registry.register(enforcer)
    dispatch(ledger, registry, ban("90.12.34.56", T0 + HOUR), "guard:login_attacks", T0)
    assert "90.12.34.56 timeout 3600s" in enforcer.path.read_text()
    lifted = lift(
        ledger, registry, "90.12.34.56", ActionKind.BAN_ADDRESS, "analyst:a", T0 + HOUR / 4
    )
    assert lifted is not None
    assert lifted.state is RecordState.LIFTED
    assert "90.12.34.56" not in enforcer.path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rempart.nft"]


def test_a_target_that_is_no_address_fails(tmp_path: Path) -> None:
    """Banning something that is not an address fails that record and leaves it out of the file."""
    ledger = MemoryLedger()
    registry = EnforcerRegistry()
    registry.register(_enforcer(tmp_path, ledger))
    (record,) = dispatch(ledger, registry, ban("not-an-ip", T0 + HOUR), "guard:x", T0)
    assert record.state is RecordState.FAILED
    assert record.error == "nftables: EnforcementError: target: not an IPv4/IPv6 address or prefix"


def test_command_and_dry_run(tmp_path: Path) -> None:
    """``command`` is ``nft -f PATH``; dry run (the default) writes without running anything."""
    enforcer = _enforcer(tmp_path, MemoryLedger(), nft=str(tmp_path / "absent-nft"))
    assert list(enforcer.command()) == [str(tmp_path / "absent-nft"), "-f", str(enforcer.path)]
    assert enforcer.dry_run
    enforcer.sync(T0)  # the executable does not exist: nothing was run
    assert enforcer.path.exists()


def _fake_nft(tmp_path: Path, exit_code: int) -> Path:
    """A stand-in executable (not nft) that records its argv and exits with ``exit_code``."""
    script = tmp_path / "fake-nft"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, pathlib\n"
        f"pathlib.Path({str(tmp_path / 'argv')!r}).write_text(' '.join(sys.argv[1:]))\n"
        "sys.stderr.write('Error: syntax error\\n')\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_without_dry_run_the_command_runs(tmp_path: Path) -> None:
    """With dry run off, the configured executable is run as ``-f PATH``."""
    fake = _fake_nft(tmp_path, 0)
    enforcer = _enforcer(tmp_path, MemoryLedger(), nft=str(fake), dry_run=False)
    enforcer.sync(T0)
    assert (tmp_path / "argv").read_text() == f"-f {enforcer.path}"


def test_a_failing_command_fails_the_record(tmp_path: Path) -> None:
    """A non-zero exit marks the ban failed with nft's message; the ban stays in force."""
    fake = _fake_nft(tmp_path, 1)
    ledger = MemoryLedger()
    registry = EnforcerRegistry()
    registry.register(_enforcer(tmp_path, ledger, nft=str(fake), dry_run=False))
    (record,) = dispatch(ledger, registry, ban("90.12.34.56", T0 + HOUR), "guard:x", T0)
    assert record.state is RecordState.FAILED
    assert record.error is not None
    assert "exited 1: Error: syntax error" in record.error
    assert ledger.active(T0) == [record]


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"table": "rempart"}, "nftables.table"),
        ({"table": "inet rem part"}, "nftables.table"),
        ({"table": "ip rempart"}, "nftables.table"),  # the drop chain needs inet
        ({"set_v4": "bad name"}, "nftables.set_v4"),
        ({"set_v6": "banned_v4"}, "nftables.set_v6"),
    ],
)
def test_invalid_names_are_config_errors(tmp_path: Path, options: dict[str, str], key: str) -> None:
    """A table or set name nft would not parse is refused up front, naming the key."""
    with pytest.raises(ConfigError) as raised:
        _enforcer(tmp_path, MemoryLedger(), **options)
    assert raised.value.key == key
