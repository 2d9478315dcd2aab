"""What the guard knows before any event: the directory, the canaries, the network table.

>>> from rempart.directory import Account, Profession
>>> knowledge = Knowledge(accounts={"A1": Account(account="A1", profession=Profession.GP,
...                                                site="S1")}, sites={})
>>> knowledge.profession("A1"), knowledge.profession("unknown")
('gp', None)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rempart.directory import Account, Site
from rempart.errors import InputError
from rempart.ingestion import read_records
from rempart.networks import NetworkTable, read_networks

__all__ = ["Knowledge"]


@dataclass(slots=True)
class Knowledge:
    """The account directory, canary pseudonyms and network table the guard consults."""

    accounts: dict[str, Account]
    sites: dict[str, Site]
    canaries: frozenset[str] = frozenset()
    networks: NetworkTable = field(default_factory=lambda: NetworkTable(()))

    def profession(self, account: str) -> str | None:
        """The account's profession (its peer group), or None for an unknown login."""
        record = self.accounts.get(account)
        return record.profession.value if record else None

    @classmethod
    def from_world(cls, world: Path, networks: Path | NetworkTable | None = None) -> Knowledge:
        """Load ``sites.jsonl``, ``accounts.jsonl``, ``canaries.txt`` and ``networks.csv``.

        ``networks`` replaces the world's ``networks.csv``: a table file built
        by ``rempart networks import`` (a missing or bad file is an error), or a
        table (``NetworkTable(())`` for no network data at all).

        Any bad directory record is an `InputError` naming its location: the
        guard must not start on a half-read directory.
        """
        sites = read_records(world / "sites.jsonl", Site)
        accounts = read_records(world / "accounts.jsonl", Account)
        for result in (sites, accounts):
            if result.rejected:
                first = result.rejected[0].to_error()
                raise InputError(f"{result.rejected_count} bad directory records; first: {first}")
        canary_file = world / "canaries.txt"
        canaries = (
            frozenset(canary_file.read_text().split()) if canary_file.exists() else frozenset()
        )
        if isinstance(networks, Path):
            networks = read_networks(networks)
        elif networks is None:
            network_file = world / "networks.csv"
            networks = read_networks(network_file) if network_file.exists() else NetworkTable(())
        return cls(
            accounts={a.account: a for a in accounts.records},
            sites={s.site: s for s in sites.records},
            canaries=canaries,
            networks=networks,
        )
