"""``rempart investigate``: the breach scope and the attacker's activity, on DuckDB.

`investigate` opens an in-memory DuckDB database, declares the prelude
views over the Parquet archive, the care evidence and the account directory
(the only engine-specific SQL: reading files and flattening list columns),
then runs the plain-SQL statements of `rempart.forensics.queries`, which
Spark runs unchanged (docs/forensics.md). Nothing is loaded into Python but
the results asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import duckdb

from rempart.decision import ActionKind, Decision
from rempart.errors import InputError
from rempart.forensics.queries import (
    SCOPE_BY_CATEGORY,
    SCOPE_BY_DEPARTMENT,
    STATEMENTS,
)
from rempart.ingestion import Rejected, iter_records
from rempart.ingestion.archive import EventArchive

__all__ = [
    "Investigation",
    "SessionFinding",
    "accounts_from_addresses",
    "accounts_from_alerts",
    "investigate",
]

_READ_PERSONS: Final = """
CREATE OR REPLACE TEMPORARY VIEW read_persons AS
SELECT event_id, subject AS person, 'read' AS via FROM events
WHERE kind = 'record_view' AND outcome = 'success' AND subject IS NOT NULL
UNION ALL
SELECT event_id, UNNEST(results) AS person, 'search' AS via FROM events
WHERE kind = 'search' AND outcome = 'success' AND len(results) > 0
"""

_READ_CATEGORIES: Final = """
CREATE OR REPLACE TEMPORARY VIEW read_categories AS
SELECT event_id, UNNEST(categories) AS category FROM events
WHERE outcome = 'success' AND ((kind = 'record_view' AND subject IS NOT NULL) OR kind = 'search')
"""


def _quoted(path: Path) -> str:
    return "'" + os.fspath(path).replace("'", "''") + "'"


def _reader(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return f"read_parquet({_quoted(path)})"
    if name.endswith((".jsonl", ".jsonl.gz")):
        return f"read_json({_quoted(path)}, format = 'newline_delimited')"
    raise InputError(f"{path}: expected a .parquet or .jsonl file")


@dataclass(frozen=True, slots=True)
class SessionFinding:
    """One session of a compromised account, with its side and the evidence for it."""

    account: str
    session: str
    side: str
    first_time: datetime
    last_time: datetime
    ip: str
    addresses: int
    user_agent: str
    persons_read: int
    explained: int
    card_reads: int
    owner_device: bool

    @property
    def evidence(self) -> str:
        """Why this side, in a sentence an analyst can check."""
        device = "one of the owner's devices" if self.owner_device else "a device never seen "
        if not self.owner_device:
            device += "reading a patient's card on this account"
        reads = f"{self.persons_read} persons read, {self.explained} explained by care evidence"
        if self.card_reads:
            reads += f", {self.card_reads} by card"
        return f"{device}; {reads}"


@dataclass
class Investigation:
    """What `investigate` found; ``connection`` keeps the views for further queries."""

    accounts: tuple[str, ...]
    connection: duckdb.DuckDBPyConnection = field(repr=False)

    def sessions(self, side: str | None = None) -> list[SessionFinding]:
        """The sessions of the compromised accounts, by account and time; one side or all."""
        where = "" if side is None else "WHERE side = ?"
        rows = self.connection.execute(
            "SELECT account, session_key, side, first_time, last_time, ip, addresses, "
            "user_agent, persons_read, explained, card_reads, owner_device "
            f"FROM sessions {where} ORDER BY account, first_time, session_key",
            [] if side is None else [side],
        ).fetchall()
        return [
            SessionFinding(
                account=row[0],
                session=row[1],
                side=row[2],
                first_time=row[3],
                last_time=row[4],
                ip=row[5],
                addresses=int(row[6]),
                user_agent=row[7] or "",
                persons_read=int(row[8]),
                explained=int(row[9]),
                card_reads=int(row[10]),
                owner_device=bool(row[11]),
            )
            for row in rows
        ]

    def scope_persons(self) -> set[str]:
        """The pseudonyms of every person exposed to the attacker (reads and search results)."""
        return {row[0] for row in self.connection.execute("SELECT person FROM scope").fetchall()}

    def undetermined_persons(self) -> set[str]:
        """Persons read only in undetermined sessions: for the data-protection officer to decide."""
        rows = self.connection.execute("SELECT person FROM undetermined").fetchall()
        return {row[0] for row in rows}

    def by_category(self) -> list[tuple[str, int]]:
        """Persons exposed per data category."""
        rows = self.connection.execute(SCOPE_BY_CATEGORY).fetchall()
        return [(str(row[0]), int(row[1])) for row in rows]

    def by_department(self) -> list[tuple[str, int]]:
        """Persons exposed per residence department (``unknown`` where the log did not say)."""
        rows = self.connection.execute(SCOPE_BY_DEPARTMENT).fetchall()
        return [(str(row[0]), int(row[1])) for row in rows]

    def summary(self) -> dict[str, Any]:
        """The figures of the incident file, JSON-ready."""
        sides = dict(
            self.connection.execute("SELECT side, COUNT(*) FROM sessions GROUP BY side").fetchall()
        )
        window = self.connection.execute(
            "SELECT MIN(first_read), MAX(last_read), COUNT(DISTINCT ip) "
            "FROM sessions WHERE side = 'attacker'"
        ).fetchone()
        first, last, addresses = window if window else (None, None, 0)
        return {
            "accounts": list(self.accounts),
            "persons_exposed": len(self.scope_persons()),
            "persons_undetermined": len(self.undetermined_persons()),
            "attacker_sessions": int(sides.get("attacker", 0)),
            "owner_sessions": int(sides.get("owner", 0)),
            "undetermined_sessions": int(sides.get("undetermined", 0)),
            "attacker_addresses": int(addresses or 0),
            "first_abusive_read": first.isoformat() if first else None,
            "last_abusive_read": last.isoformat() if last else None,
            "by_category": dict(self.by_category()),
            "by_department": dict(self.by_department()),
        }

    def export_scope(self, path: str | os.PathLike[str]) -> int:
        """Write the scope (one row per person) as ``.parquet`` or ``.csv``; returns the rows."""
        target = Path(path)
        kind = target.suffix.lower()
        if kind not in {".parquet", ".csv"}:
            raise InputError(f"{target}: the scope is exported as .parquet or .csv")
        options = "(FORMAT parquet)" if kind == ".parquet" else "(FORMAT csv, HEADER true)"
        # The categories of each person as one sorted, comma-separated field: DuckDB's own
        # aggregate, at export time only (the portable view has one row per category).
        self.connection.execute(
            "COPY (SELECT s.*, c.categories FROM scope s LEFT JOIN ("
            "SELECT person, string_agg(category, ',' ORDER BY category) AS categories "
            "FROM scope_categories GROUP BY person) c USING (person) ORDER BY s.person) "
            f"TO {_quoted(target)} {options}"
        )
        row = self.connection.execute("SELECT COUNT(*) FROM scope").fetchone()
        return int(row[0]) if row else 0


def investigate(
    archive: EventArchive,
    *,
    evidence: Path,
    accounts_file: Path,
    compromised: tuple[str, ...],
    threads: int | None = None,
) -> Investigation:
    """Attribute the sessions of ``compromised`` accounts and compute the breach scope.

    ``evidence`` is the care-evidence file and ``accounts_file`` the account
    directory (``.parquet`` or ``.jsonl``), as `rempart simulate` writes them
    and an insurer exports them. Raises `InputError` when the archive is empty.
    """
    if not archive.parts():
        raise InputError(f"{archive.root}: the archive holds no events")
    connection = duckdb.connect(config={"threads": threads} if threads else {})
    connection.execute(
        "CREATE OR REPLACE TEMPORARY VIEW events AS SELECT * FROM "
        f"read_parquet({_quoted(Path(archive.pattern))}, hive_partitioning = false)"
    )
    connection.execute(_READ_PERSONS)
    connection.execute(_READ_CATEGORIES)
    connection.execute(
        "CREATE OR REPLACE TEMPORARY VIEW evidence AS "
        f"SELECT subject, account, site, time FROM {_reader(evidence)}"
    )
    connection.execute(
        "CREATE OR REPLACE TEMPORARY VIEW directory AS "
        f"SELECT account, site FROM {_reader(accounts_file)}"
    )
    connection.execute("CREATE OR REPLACE TEMPORARY TABLE compromised (account VARCHAR)")
    connection.executemany(
        "INSERT INTO compromised VALUES (?)", [(account,) for account in compromised]
    )
    for statement in STATEMENTS:
        # Each result is read several times (the scope, the summary, the exports): DuckDB
        # keeps it as a table rather than recomputing a view at every use. The query is the
        # same text Spark runs as a view.
        connection.execute(statement.replace("TEMPORARY VIEW", "TEMPORARY TABLE", 1))
    return Investigation(accounts=compromised, connection=connection)


def accounts_from_addresses(archive: EventArchive, addresses: tuple[str, ...]) -> tuple[str, ...]:
    """The accounts that signed in or read a patient from one of ``addresses`` (exact).

    What an analyst starts from when the alert names the attacker's machines, not its
    victims: every account those addresses got into is under investigation.
    """
    if not addresses or not archive.parts():
        return ()
    connection = duckdb.connect()
    rows = connection.execute(
        "SELECT DISTINCT account FROM read_parquet(?, hive_partitioning = false) "
        "WHERE account IS NOT NULL AND outcome = 'success' "
        "AND kind IN ('login_success', 'record_view', 'search') AND list_contains(?, ip) "
        "ORDER BY account",
        [archive.pattern, list(addresses)],
    ).fetchall()
    return tuple(str(row[0]) for row in rows)


def accounts_from_alerts(decisions: Path) -> tuple[str, ...]:
    """The accounts the guard's decisions locked or asked to warn (``rempart replay``'s file).

    Read with Rempart's own reader: a bad line is skipped here (``rempart validate`` locates
    it); only ``lock_account`` and ``notify_owner`` targets are accounts for sure.
    """
    rejected: list[Rejected] = []
    accounts: set[str] = set()
    for decision in iter_records(decisions, Decision, rejected):
        for action in decision.actions:
            if action.kind in (ActionKind.LOCK_ACCOUNT, ActionKind.NOTIFY_OWNER):
                accounts.add(action.target)
    return tuple(sorted(accounts))
