"""Ground truth of the breach scope, from the testbed's labels (never read by the code tested)."""

from __future__ import annotations

from pathlib import Path

import duckdb


def compromised_accounts(world: Path, label: str) -> tuple[str, ...]:
    """The accounts a scenario got into: those with an attacker's successful login or read."""
    rows = duckdb.sql(
        f"""SELECT DISTINCT e.account FROM '{world}/events.parquet' e
        JOIN '{world}/truth.parquet' t USING (event_id)
        WHERE t.label = '{label}' AND e.account IS NOT NULL
          AND e.kind IN ('record_view', 'search', 'login_success')"""
    ).fetchall()
    return tuple(sorted(row[0] for row in rows))


def exposed(world: Path, label: str) -> set[str]:
    """Every person whose data reached the scenario's attacker: reads and search results."""
    rows = duckdb.sql(
        f"""SELECT e.subject FROM '{world}/events.parquet' e
        JOIN '{world}/truth.parquet' t USING (event_id)
        WHERE t.label = '{label}' AND e.kind = 'record_view' AND e.outcome = 'success'
          AND e.subject IS NOT NULL
        UNION
        SELECT UNNEST(e.results) FROM '{world}/events.parquet' e
        JOIN '{world}/truth.parquet' t USING (event_id)
        WHERE t.label = '{label}' AND e.kind = 'search' AND e.outcome = 'success'"""
    ).fetchall()
    return {row[0] for row in rows}


def scenarios(world: Path) -> list[str]:
    """The attack scenarios in the world."""
    rows = duckdb.sql(
        f"SELECT DISTINCT label FROM '{world}/truth.parquet' WHERE label <> 'legitimate'"
    ).fetchall()
    return sorted(row[0] for row in rows)
