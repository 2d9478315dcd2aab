"""How long the breach scope takes on an archive, and how much memory, next to a full scan.

Simulates a preset (or takes ``--dir``), ingests its events into a
day-partitioned archive (timed: ``rempart ingest``'s library call), then, for
the accounts the ``incident-2022`` scenario took over (as an analyst would be
given them), runs `rempart.forensics.investigate` and reads the scope and the
summary, best wall time of ``--repeat`` runs. Each step runs in a child
process of its own so that its peak resident set is its own
(``resource.getrusage(RUSAGE_CHILDREN)``). The peer, in the same run: a
DuckDB scan of the whole archive (``SELECT count(*), count(DISTINCT
subject)``), the least any scope query must do; the scope's time is given as
a ratio to it. Nothing here asserts on time::

    scripts/bench forensics --preset bench --repeat 1
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from generation import machine_facts, simulate_in_child

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
step, world, archive_dir, accounts = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
started = time.perf_counter()
figures = {}
if step == "ingest":
    from rempart.ingestion.archive import EventArchive
    from rempart.ingestion.ingest import ingest
    report = ingest([world / "events.parquet"], "rempart", EventArchive(archive_dir))
    figures = {"events": report.events, "added": report.added}
elif step == "scan":
    import duckdb
    row = duckdb.sql(
        "SELECT count(*), count(DISTINCT subject) "
        f"FROM read_parquet('{archive_dir}/day=*/*.parquet')"
    ).fetchall()[0]
    figures = {"events": row[0], "subjects": row[1]}
else:
    from rempart.forensics import investigate
    from rempart.ingestion.archive import EventArchive
    found = investigate(
        EventArchive(archive_dir), evidence=world / "evidence.parquet",
        accounts_file=world / "world" / "accounts.jsonl", compromised=tuple(accounts.split(",")),
    )
    summary = found.summary()
    figures = {"persons_exposed": summary["persons_exposed"],
               "attacker_sessions": summary["attacker_sessions"]}
figures["seconds"] = time.perf_counter() - started
figures["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(figures))
"""


def _step(step: str, world: Path, archive: Path, accounts: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, step, str(world), str(archive), accounts],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"{step} failed:\n{done.stderr}")
    output = done.stdout
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return figures


def _compromised(world: Path) -> str:
    import duckdb

    rows = duckdb.sql(
        f"""SELECT DISTINCT e.account FROM '{world}/events.parquet' e
        JOIN '{world}/truth.parquet' t USING (event_id)
        WHERE t.label = 'incident-2022' AND e.kind = 'record_view'"""
    ).fetchall()
    return ",".join(sorted(row[0] for row in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="An existing simulated directory.")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(machine_facts())
    with tempfile.TemporaryDirectory(prefix="rempart-forensics-") as scratch:
        world = args.dir
        if world is None:
            world = Path(scratch) / "world"
            elapsed = simulate_in_child(args.preset, args.seed, world)
            print(f"simulate {args.preset}: {elapsed:.1f} s (not timed below)")
        archive = Path(scratch) / "archive"
        accounts = _compromised(world)
        ingest = _step("ingest", world, archive, accounts)
        print(
            f"ingest: {ingest['events']:,.0f} events in {ingest['seconds']:.1f} s "
            f"({ingest['events'] / ingest['seconds']:,.0f}/s), peak {ingest['peak_mb']:,.0f} MB"
        )
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.repeat):
            for step in ("scan", "scope"):
                figures = _step(step, world, archive, accounts)
                if step not in best or figures["seconds"] < best[step]["seconds"]:
                    best[step] = figures
        scan, scope = best["scan"], best["scope"]
        print("| Measure | Best wall time (s) | Peak RSS (MB) | Result |")
        print("|---|---:|---:|---|")
        print(
            f"| full scan (peer) | {scan['seconds']:.2f} | {scan['peak_mb']:,.0f} | "
            f"{scan['events']:,.0f} events, {scan['subjects']:,.0f} subjects |"
        )
        print(
            f"| scope of {len(accounts.split(','))} accounts | {scope['seconds']:.2f} | "
            f"{scope['peak_mb']:,.0f} | {scope['persons_exposed']:,.0f} persons exposed, "
            f"{scope['attacker_sessions']:,.0f} attacker sessions |"
        )
        print(f"scope = {scope['seconds'] / scan['seconds']:.1f}x the full scan's time")
        print(
            "children's peak RSS: "
            f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:,.0f} MB"
        )


if __name__ == "__main__":
    main()
