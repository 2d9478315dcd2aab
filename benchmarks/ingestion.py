"""nginx access-log lines per second into events, next to fail2ban-regex on the same file.

Writes an nginx *combined* access log (``--lines`` lines, default 1,000,000)
rendered from a simulated `small` world's events: logins as ``POST /login``
with the account as ``$remote_user``, typed-NIR reads as
``GET /patients?nir=…&birth_date=…`` with the clear NIR of the world's
identities (as a real portal's log would hold it), searches, logouts, and a
share of static requests (style sheets, images) that are no portal action.
Then, in the same run:

- *Rempart, parse*: `rempart.ingestion.logs.iter_log_lines` and the nginx
  parser with a route table, every line turned into an event (NIR
  pseudonymised) or skipped, best of ``--repeat`` runs;
- *Rempart, ingest*: the same plus the archive (`rempart.ingestion.ingest`,
  Parquet by day, each event once), once;
- *fail2ban-regex*: Debian's ``fail2ban-regex`` on the same file with a
  filter matching typed-NIR reads per host (the closest fail2ban can do: it
  counts lines per address, and its ``<HOST>`` capture is all it keeps; it
  matches after cutting the date out of the line, hence the empty ``[]``), best
  of ``--repeat`` runs, timed from outside.

Lines per second and the ratio to fail2ban-regex are printed. Nothing here
asserts on time::

    scripts/bench ingestion --lines 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from generation import machine_facts
from rempart.ingestion.archive import EventArchive
from rempart.ingestion.ingest import ingest
from rempart.ingestion.logs import ParserOptions, Skipped, default_parsers, iter_log_lines
from rempart.ingestion.logs.routes import RouteTable
from rempart.pseudonym import Pseudonymizer
from rempart.secret import Secret
from rempart.testbed.presets import preset
from rempart.testbed.simulate import simulate

ROUTES = {
    "log_format": "combined",
    "time_format": "time_local",
    "account": "remote_user",
    "routes": [
        {"method": "POST", "path": "/login", "kind": "login", "success_status": [200, 302]},
        {"method": "POST", "path": "/logout", "kind": "logout"},
        {
            "method": "GET",
            "path": "/patients",
            "kind": "record_view",
            "lookup": "typed_nir",
            "subject": "query:nir",
            "categories": ["identity", "birth_date", "sex", "nir", "rights"],
        },
        {
            "method": "GET",
            "path": "/patients/search",
            "kind": "search",
            "lookup": "search",
            "categories": ["identity", "birth_date"],
        },
    ],
}

FAIL2BAN_FILTER = """[Definition]
failregex = ^<HOST> \\S+ \\S+ \\[\\] "GET /patients\\?nir=
ignoreregex =
"""

_STATIC = ("/static/app.css", "/static/logo.png", "/favicon.ico", "/static/app.js")


def write_log(path: Path, lines: int, seed: int) -> int:
    """Render ``lines`` combined-format lines from a small world; returns the count."""
    world = path.parent / "world"
    simulate(preset("small"), world, seed=seed)
    identities = pq.read_table(
        world / "identities" / "identities.parquet", columns=["subject", "nir", "birth_date"]
    ).to_pydict()
    clear = {
        s: (n, b.isoformat())
        for s, n, b in zip(
            identities["subject"], identities["nir"], identities["birth_date"], strict=True
        )
    }
    events = pq.read_table(
        world / "events.parquet",
        columns=["time", "kind", "account", "ip", "user_agent", "subject", "outcome"],
    ).to_pylist()
    rng = random.Random(seed)
    written = 0
    rounds = 0
    with path.open("w") as log:
        while written < lines:
            # Each pass over the world's events comes 35 days later: new lines, not repeats.
            shift = timedelta(days=35 * rounds)
            rounds += 1
            for event in events:
                if written >= lines:
                    break
                moment = (event["time"] + shift).astimezone(UTC)
                stamp = moment.strftime("%d/%b/%Y:%H:%M:%S +0000")
                user = event["account"] or "-"
                agent = event["user_agent"] or "-"
                kind = event["kind"]
                if kind in ("login_success", "login_failure"):
                    status = 200 if kind == "login_success" else 401
                    request = "POST /login HTTP/1.1"
                elif kind == "logout":
                    request, status = "POST /logout HTTP/1.1", 200
                elif kind == "record_view" and event["subject"] in clear:
                    nir, born = clear[event["subject"]]
                    request = f"GET /patients?nir={nir}&birth_date={born} HTTP/1.1"
                    status = 200 if event["outcome"] == "success" else 404
                elif kind == "search":
                    request, status = "GET /patients/search?surname=MARTIN HTTP/1.1", 200
                else:
                    continue
                log.write(
                    f'{event["ip"]} - {user} [{stamp}] "{request}" {status} 512 "-" "{agent}"\n'
                )
                written += 1
                if rng.random() < 0.2 and written < lines:
                    static = rng.choice(_STATIC)
                    log.write(
                        f'{event["ip"]} - - [{stamp}] "GET {static} HTTP/1.1" 200 2048 '
                        f'"-" "{agent}"\n'
                    )
                    written += 1
    return written


def rempart_parse(path: Path, options: ParserOptions) -> tuple[float, int, int, int]:
    """Seconds to parse the whole log, and the events, skipped and rejected lines."""
    parser = default_parsers().create("nginx", options)
    rejected: list[object] = []
    events = skipped = 0
    started = time.perf_counter()
    for outcome in parser.parse(iter_log_lines(path, rejected)):  # type: ignore[arg-type]
        if isinstance(outcome, Skipped):
            skipped += 1
        elif hasattr(outcome, "event_id"):
            events += 1
        else:
            rejected.append(outcome)
    return time.perf_counter() - started, events, skipped, len(rejected)


def fail2ban(path: Path, filter_file: Path) -> tuple[float, str]:
    """Seconds fail2ban-regex takes on the log, and its summary line."""
    program = shutil.which("fail2ban-regex")
    if program is None:
        raise SystemExit("fail2ban-regex is missing: scripts/setup --test-tools installs it")
    started = time.perf_counter()
    done = subprocess.run(
        [program, str(path), str(filter_file)], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - started
    summary = next(
        (line.strip() for line in done.stdout.splitlines() if line.startswith("Lines:")), ""
    )
    return seconds, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(machine_facts())
    with tempfile.TemporaryDirectory(prefix="rempart-ingestion-") as scratch:
        folder = Path(scratch)
        log = folder / "access.log"
        lines = write_log(log, args.lines, args.seed)
        size_mb = log.stat().st_size / 1e6
        print(f"log: {lines:,} combined lines, {size_mb:,.1f} MB")
        options = ParserOptions(
            pseudonymizer=Pseudonymizer(Secret(b"benchmark-pseudonym-key")),
            config=RouteTable.from_dict(ROUTES),
        )
        filter_file = folder / "rempart-reads.conf"
        filter_file.write_text(FAIL2BAN_FILTER)
        parse_best = f2b_best = float("inf")
        counts: tuple[int, int, int] = (0, 0, 0)
        summary = ""
        for _ in range(args.repeat):
            seconds, *found = rempart_parse(log, options)
            if seconds < parse_best:
                parse_best, counts = seconds, (found[0], found[1], found[2])
            seconds, summary = fail2ban(log, filter_file)
            f2b_best = min(f2b_best, seconds)
        started = time.perf_counter()
        report = ingest([log], "nginx", EventArchive(folder / "archive"), options=options)
        ingest_s = time.perf_counter() - started
        print("| Measure | Best wall time (s) | Lines/s | vs fail2ban-regex | Note |")
        print("|---|---:|---:|---:|---|")
        print(
            f"| fail2ban-regex (peer) | {f2b_best:.2f} | {lines / f2b_best:,.0f} | 1.00x | "
            f"{summary} |"
        )
        print(
            f"| Rempart parse | {parse_best:.2f} | {lines / parse_best:,.0f} | "
            f"{f2b_best / parse_best:.2f}x | {counts[0]:,} events, {counts[1]:,} skipped, "
            f"{counts[2]:,} rejected |"
        )
        print(
            f"| Rempart ingest (archive) | {ingest_s:.2f} | {lines / ingest_s:,.0f} | "
            f"{f2b_best / ingest_s:.2f}x | {report.added:,} events stored, one run |"
        )


if __name__ == "__main__":
    main()
