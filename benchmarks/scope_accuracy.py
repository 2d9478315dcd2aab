"""How exact the breach scope is: each attack scenario's scope against the testbed's truth.

For every attack scenario of a simulated directory, the accounts it took over
(those with an attacker's successful login or read) are handed to
`rempart.forensics.investigate`, as an analyst would be given them; the scope
found is compared with the persons the scenario's events truly exposed
(record reads and search results). Prints, per scenario: persons truly
exposed, found, missed, added, and the undetermined persons (reads from the
owner's own device, set apart) with how many of them are true. Not a timing::

    scripts/bench scope_accuracy --preset incident-2022 --seed 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from generation import simulate_in_child
from rempart.forensics import investigate
from rempart.ingestion.archive import EventArchive
from rempart.ingestion.ingest import ingest


def _truth(world: Path, label: str) -> tuple[tuple[str, ...], set[str]]:
    events, truth = world / "events.parquet", world / "truth.parquet"
    accounts = duckdb.sql(
        f"""SELECT DISTINCT e.account FROM '{events}' e JOIN '{truth}' t USING (event_id)
        WHERE t.label = '{label}' AND e.account IS NOT NULL
          AND e.kind IN ('record_view', 'search', 'login_success')"""
    ).fetchall()
    exposed = duckdb.sql(
        f"""SELECT e.subject FROM '{events}' e JOIN '{truth}' t USING (event_id)
        WHERE t.label = '{label}' AND e.kind = 'record_view' AND e.outcome = 'success'
          AND e.subject IS NOT NULL
        UNION SELECT UNNEST(e.results) FROM '{events}' e JOIN '{truth}' t USING (event_id)
        WHERE t.label = '{label}' AND e.kind = 'search' AND e.outcome = 'success'"""
    ).fetchall()
    return tuple(sorted(a[0] for a in accounts)), {p[0] for p in exposed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="An existing simulated directory.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rempart-scope-") as scratch:
        world = args.dir
        if world is None:
            world = Path(scratch) / "world"
            simulate_in_child(args.preset, args.seed, world)
        archive = EventArchive(Path(scratch) / "archive")
        started = time.perf_counter()
        report = ingest([world / "events.parquet"], "rempart", archive)
        print(f"ingest: {report.added:,} events in {time.perf_counter() - started:.1f} s")
        labels = duckdb.sql(
            f"SELECT DISTINCT label FROM '{world}/truth.parquet' WHERE label <> 'legitimate'"
        ).fetchall()
        print(
            "| scenario | accounts | truly exposed | scope | missed | added | "
            "undetermined (of which true) | seconds |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for (label,) in sorted(labels):
            accounts, truth = _truth(world, label)
            started = time.perf_counter()
            found = investigate(
                archive,
                evidence=world / "evidence.parquet",
                accounts_file=world / "world" / "accounts.jsonl",
                compromised=accounts,
            )
            scope, undetermined = found.scope_persons(), found.undetermined_persons()
            print(
                f"| {label} | {len(accounts)} | {len(truth):,} | {len(scope):,} | "
                f"{len(truth - scope):,} | {len(scope - truth):,} | "
                f"{len(undetermined):,} ({len(undetermined & truth):,}) | "
                f"{time.perf_counter() - started:.1f} |"
            )


if __name__ == "__main__":
    main()
