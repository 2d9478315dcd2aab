"""Address bans as an nftables table: two timed interval sets and a drop rule, in ``nft -f`` syntax.

On every ban or lift the file is written again, atomically, from the
ledger's bans in force; ``nft -f PATH`` then replaces the table in one
transaction (``table …`` / ``delete table …`` / ``table … { … }``, the
atomic-reload idiom of nft(8), so the rule is never duplicated). Each element
carries ``timeout Ns``, the seconds left at the time of the ban or lift, so
the kernel expires it on its own; a ban without an expiry has no timeout.

nftables refuses overlapping elements in an interval set, so overlapping
bans (an address inside a banned prefix) are made disjoint without changing
what is banned when: each address gets the latest expiry of the bans that
cover it (a prefix is split around a longer ban inside it).

Dry run by default: the file is written and `command` says what to run.

>>> from datetime import UTC, datetime, timedelta
>>> from rempart.guard.decision import Action, ActionKind, Decision, Verdict
>>> from rempart.response.ledger import MemoryLedger
>>> t0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
>>> ledger = MemoryLedger()
>>> ban = Action(kind=ActionKind.BAN_ADDRESS, target="51.75.3.0/24", until=t0 + timedelta(hours=1))
>>> decision = Decision(event_id="e1", verdict=Verdict.DENY, actions=(ban,))
>>> _ = ledger.record(decision, "analyst:bob", t0)
>>> enforcer = NftablesEnforcer("/tmp/rempart-doctest.nft", ledger)
>>> enforcer.render(t0).splitlines()[9].strip()
'elements = { 51.75.3.0/24 timeout 3600s comment "rempart #1" }'
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from rempart.errors import ConfigError
from rempart.guard.decision import ActionKind
from rempart.ingestion.atomic import atomic_output
from rempart.response.enforcers import EnforcementError
from rempart.response.ledger import ActionLedger
from rempart.response.record import ActionRecord

__all__ = ["BannedRange", "NftablesEnforcer", "disjoint_bans"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_IDENTIFIER: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
_FAMILIES: Final = frozenset({"ip", "ip6", "inet", "bridge", "netdev", "arp"})
_COMMENT_LIMIT: Final = 120  # nftables keeps at most 128 bytes of an element comment
_RUN_TIMEOUT: Final = 30.0


@dataclass(slots=True)
class BannedRange:
    """One disjoint element: a network, its expiry (None: until lifted), the records behind it."""

    network: Network
    until: datetime | None
    record_ids: tuple[int, ...]


def disjoint_bans(records: Iterable[ActionRecord]) -> list[BannedRange]:
    """Non-overlapping networks covering exactly the banned addresses, each with its latest expiry.

    Records whose target is not an address or prefix are skipped (their own
    ``apply`` fails). Longest bans are placed first; a shorter ban keeps
    only the parts no longer ban covers.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2022, 3, 1, tzinfo=UTC)
    >>> records = [
    ...     ActionRecord(id=1, time=t, kind=ActionKind.BAN_ADDRESS, target="10.0.0.0/30",
    ...                  trigger="analyst:a", until=t.replace(hour=1)),
    ...     ActionRecord(id=2, time=t, kind=ActionKind.BAN_ADDRESS, target="10.0.0.1",
    ...                  trigger="guard:x", until=t.replace(hour=2))]
    >>> [str(r.network) for r in disjoint_bans(records)]
    ['10.0.0.0/32', '10.0.0.1/32', '10.0.0.2/31']
    """
    bans: list[tuple[Network, datetime | None, int]] = []
    for record in records:
        if record.kind is not ActionKind.BAN_ADDRESS:
            continue
        try:
            bans.append((record.network(), record.until, record.id))
        except ValueError:
            continue
    # Forever first, then latest expiry first; ties by id for a stable file.
    bans.sort(key=lambda ban: (ban[1] is not None, -(ban[1].timestamp() if ban[1] else 0), ban[2]))
    placed: list[BannedRange] = []
    for network, until, record_id in bans:
        pieces: list[Network] = [network]
        for existing in placed:
            if existing.network.version != network.version:
                continue
            remaining: list[Network] = []
            for piece in pieces:
                if not piece.overlaps(existing.network):
                    remaining.append(piece)
                elif piece.subnet_of(existing.network):  # type: ignore[arg-type]
                    # Covered by a ban that lasts at least as long (placed earlier).
                    if record_id not in existing.record_ids:
                        existing.record_ids = (*existing.record_ids, record_id)
                else:  # the placed network lies inside this piece: keep the rest
                    remaining.extend(piece.address_exclude(existing.network))  # type: ignore[arg-type]
            pieces = remaining
        placed.extend(BannedRange(piece, until, (record_id,)) for piece in pieces)
    placed.sort(key=lambda ban: (ban.network.version, ban.network))
    return placed


def _element(ban: BannedRange, now: datetime) -> str:
    network = ban.network
    text = (
        str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)
    )
    if ban.until is not None:
        seconds = max(1, math.ceil((ban.until - now).total_seconds()))
        text += f" timeout {seconds}s"
    comment = "rempart " + " ".join(f"#{record_id}" for record_id in sorted(ban.record_ids))
    if len(comment) > _COMMENT_LIMIT:
        comment = comment[: _COMMENT_LIMIT - 4].rsplit(" ", 1)[0] + " ..."
    return f'{text} comment "{comment}"'


class NftablesEnforcer:
    """Keeps an ``nft -f`` file of the ledger's address bans; runs ``nft -f`` unless dry run.

    ``path``: the file written. ``ledger``: where the bans in force are read.
    ``table``: ``"<family> <name>"``. ``set_v4``/``set_v6``: the set names.
    ``drop_chain``: also declare an input-hook chain dropping both sets
    (``inet`` family only); without it, reference the sets from your own
    rules. ``dry_run``: write the file but do not run ``nft``. ``nft``: the
    executable.
    """

    kinds: Final = frozenset({ActionKind.BAN_ADDRESS})

    def __init__(
        self,
        path: str | os.PathLike[str],
        ledger: ActionLedger,
        *,
        table: str = "inet rempart",
        set_v4: str = "banned_v4",
        set_v6: str = "banned_v6",
        drop_chain: bool = True,
        dry_run: bool = True,
        nft: str = "/usr/sbin/nft",
        name: str = "nftables",
    ) -> None:
        parts = table.split()
        if len(parts) != 2 or parts[0] not in _FAMILIES or not _IDENTIFIER.fullmatch(parts[1]):
            raise ConfigError(
                "nftables.table", f"'<family> <name>' with family in {sorted(_FAMILIES)}", table
            )
        for key, value in (("nftables.set_v4", set_v4), ("nftables.set_v6", set_v6)):
            if not _IDENTIFIER.fullmatch(value):
                raise ConfigError(key, "a name of letters, digits and _", value)
        if set_v4 == set_v6:
            raise ConfigError("nftables.set_v6", "a name other than set_v4", set_v6)
        if drop_chain and parts[0] != "inet":
            raise ConfigError("nftables.table", "an inet table when drop_chain is on", table)
        self.path = Path(path)
        self.ledger = ledger
        self.table = f"{parts[0]} {parts[1]}"
        self.set_v4 = set_v4
        self.set_v6 = set_v6
        self.drop_chain = drop_chain
        self.dry_run = dry_run
        self.nft = nft
        self.name = name

    def render(self, now: datetime) -> str:
        """The file's text for the bans in force at ``now``."""
        bans = disjoint_bans(self.ledger.active(now))
        lines = [
            f"#!{self.nft} -f",
            "# Written by rempart from its action ledger; do not edit (rewritten on each ban).",
            f"# Bans in force at {now.isoformat()}; timeouts count from then.",
            f"table {self.table}",
            f"delete table {self.table}",
            f"table {self.table} {{",
        ]
        for set_name, address_type, version in (
            (self.set_v4, "ipv4_addr", 4),
            (self.set_v6, "ipv6_addr", 6),
        ):
            elements = [_element(ban, now) for ban in bans if ban.network.version == version]
            lines += [
                f"\tset {set_name} {{",
                f"\t\ttype {address_type}",
                "\t\tflags interval, timeout",
            ]
            if elements:
                lines.append("\t\telements = { " + ", ".join(elements) + " }")
            lines.append("\t}")
        if self.drop_chain:
            lines += [
                "\tchain input {",
                "\t\ttype filter hook input priority filter - 10; policy accept;",
                f"\t\tip saddr @{self.set_v4} drop",
                f"\t\tip6 saddr @{self.set_v6} drop",
                "\t}",
            ]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def write(self, now: datetime) -> Path:
        """Write the file for ``now`` atomically; return its path."""
        text = self.render(now)
        with atomic_output(self.path) as output:
            output.write(text.encode("ascii"))
        return self.path

    def command(self) -> Sequence[str]:
        """The argv that loads the file: ``nft -f PATH``."""
        return (self.nft, "-f", str(self.path))

    def sync(self, now: datetime) -> None:
        """Write the file for ``now`` and, unless dry run, load it."""
        self.write(now)
        if self.dry_run:
            return
        try:
            # Our own fixed argv (configured executable, our file), never shell text.
            completed = subprocess.run(  # noqa: S603
                self.command(),
                capture_output=True,
                text=True,
                timeout=_RUN_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise EnforcementError(f"{' '.join(self.command())}: {error}") from error
        if completed.returncode != 0:
            detail = completed.stderr.strip().splitlines()[:3]
            raise EnforcementError(
                f"{' '.join(self.command())} exited {completed.returncode}: {' | '.join(detail)}"
            )

    def apply(self, record: ActionRecord) -> None:
        """Rewrite (and load) the file at the ban's time; a target that is no address fails."""
        try:
            record.network()
        except ValueError:
            raise EnforcementError("target: not an IPv4/IPv6 address or prefix") from None
        self.sync(record.time)

    def lift(self, record: ActionRecord) -> None:
        """Rewrite (and load) the file at the lift's time."""
        self.sync(record.time)
