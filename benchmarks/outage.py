"""Decision latency while Redis is paused (SIGSTOP) and killed, in each ``--on-store-error`` mode.

For each mode (``error``, ``open``, ``closed``) it starts a throwaway
``redis-server`` (``throwaway.py``) and ``rempart serve --redis URL
--on-store-error MODE --store-timeout T`` over the tiny world, then drives
``POST /v1/decide`` open-loop at ``--rate`` with at most ``--concurrency``
requests in flight (``api.py``'s driver: latency from each request's due
time) through five phases of ``--seconds`` each:

1. *healthy*: Redis answers;
2. *paused*: Redis stopped with SIGSTOP (it accepts connections, never answers);
3. *resumed*: SIGCONT, the service comes back to Redis by itself;
4. *killed*: SIGKILL, connections are refused;
5. *restarted*: a new, empty redis-server on the same port.

Each phase is reported apart: requests, answers by status and verdict, latency
percentiles and maximum. During an outage each mode answers at once by its
rule (``error``: 503, ``open``: the guard on local state, ``closed``: deny);
only the requests in flight when Redis hangs, and one probe a second, wait
for the store timeout. The aim: p99 under 50 ms in every phase. Nothing
asserts on time::

    scripts/bench outage --seconds 4 --rate 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import msgspec

from api import Outcome, Request, drive, make_key, served, summary
from generation import machine_facts
from throwaway import RedisServer, login, write_world

MODES = ("error", "open", "closed")
PHASES = ("healthy", "paused", "resumed", "killed", "restarted")


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase's outcomes, under one mode."""

    mode: str
    name: str
    outcomes: list[Outcome]


def answers(outcomes: list[Outcome]) -> str:
    """How many of each status and verdict: ``412 x 200 allow, 3 x 503``."""
    counted: dict[str, int] = {}
    for outcome in outcomes:
        label = str(outcome.status or "transport error")
        if outcome.status == 200:
            label += " " + msgspec.json.decode(outcome.content)["verdict"]
        counted[label] = counted.get(label, 0) + 1
    return ", ".join(f"{count:,} x {label}" for label, count in sorted(counted.items()))


def run_mode(mode: str, folder: Path, arguments: argparse.Namespace) -> list[Phase]:
    """One server over one Redis in ``mode``, driven through the five phases."""
    world = write_world(folder)
    keys_path = folder / f"keys-{mode}.json"
    key = make_key(keys_path)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    server = RedisServer(folder / f"redis-{mode}")
    server.start()
    options = [
        *("--redis", server.url, "--on-store-error", mode),
        *("--store-timeout", str(arguments.store_timeout)),
    ]
    count = round(arguments.rate * arguments.seconds)
    phases: list[Phase] = []
    try:
        with (
            (folder / f"serve-{mode}.log").open("wb") as log,
            served(world, keys_path, None, log, options) as live,
        ):
            url, _ = live
            for number, name in enumerate(PHASES):
                requests = [
                    Request("POST", "/v1/decide", login(number * 1_000_000 + n, f"B{n % 50}"))
                    for n in range(count)
                ]
                # The change happens a tenth of the way in: requests are in flight when it does.
                change = threading.Timer(arguments.seconds / 10, _change, (name, server))
                change.start()
                outcomes, _, _ = asyncio.run(
                    drive(url, headers, requests, arguments.rate, arguments.concurrency, 30.0)
                )
                change.join()
                phases.append(Phase(mode, name, outcomes))
                ok = [round((o.answered - o.due) * 1e9) for o in outcomes]
                print(
                    f"{mode} {name}: {answers(outcomes)}; p99 {summary(ok)[2]:.1f} ms",
                    flush=True,
                )
    finally:
        server.stop()
    return phases


def _change(phase: str, server: RedisServer) -> None:
    process = server.process
    assert process is not None
    if phase == "paused":
        os.kill(process.pid, signal.SIGSTOP)
    elif phase == "resumed":
        os.kill(process.pid, signal.SIGCONT)
    elif phase == "killed":
        process.kill()
        process.wait(timeout=10)
    elif phase == "restarted":
        server.start()


def render(phases: list[Phase]) -> str:
    """The markdown table of every mode's phases."""
    lines = [
        "| Mode | Phase | Requests | Answers | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for phase in phases:
        latencies = [round((o.answered - o.due) * 1e9) for o in phase.outcomes if o.status]
        cells = " | ".join(f"{value:,.2f}" for value in summary(latencies))
        lines.append(
            f"| {phase.mode} | {phase.name} | {len(phase.outcomes):,} "
            f"| {answers(phase.outcomes)} | {cells} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse options, print the header, run each mode, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds of each phase")
    parser.add_argument("--rate", type=float, default=50.0, help="decisions a second offered")
    parser.add_argument("--concurrency", type=int, default=8, help="most requests in flight")
    parser.add_argument(
        "--store-timeout", type=float, default=0.1, help="rempart serve --store-timeout"
    )
    parser.add_argument("--mode", choices=MODES, nargs="+", default=list(MODES))
    arguments = parser.parse_args(argv)
    if min(arguments.seconds, arguments.rate, arguments.store_timeout) <= 0:
        parser.error("--seconds, --rate and --store-timeout must be positive")
    facts = machine_facts()
    print("# Redis outage benchmark")
    print(f"date: {date.today().isoformat()}")
    print(f"machine: nproc {facts['nproc']}, CPU {facts['cpu']}, {facts['platform']}")
    print(f"python: {facts['python']}; load average {os.getloadavg()[0]:.2f} (1 min)")
    print(
        f"load: {arguments.rate:g} decisions/s open-loop, {arguments.concurrency} in flight at "
        f"most, {arguments.seconds:g} s per phase; store timeout {arguments.store_timeout:g} s"
    )
    print(f"command: {' '.join(['benchmarks/outage.py', *sys.argv[1:]])}", flush=True)
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="rempart-bench-outage-") as scratch:
        for mode in arguments.mode:
            phases += run_mode(mode, Path(scratch), arguments)
            time.sleep(0.5)
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")
    print()
    print(render(phases))
    print()
    print(
        "Latency from each request's due time (t0 + i/rate). The change (pause, resume, kill, "
        "restart) happens a tenth of the way into its phase."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
