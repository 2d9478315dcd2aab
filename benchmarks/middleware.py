"""What GuardMiddleware adds to a portal request: the guarded portal against the bare one.

Both are the reference portal (`rempart.testbed.portal`) over the small
simulated world, driven in-process through httpx's ASGI transport with the
same session cookie and the same typed-NIR look-up. The guarded one runs the
middleware (route matching, pseudonymising the NIR, building the event, the
guard's decision with all seven detectors, the audit event); the bare one is
the inner app alone. The same patient is read each time, so after the first
read the guard finds it explained and allows it: every request does the full
decision work and returns data. Calls alternate so that both see the same
machine. Nothing asserts on time.

    .venv/bin/python benchmarks/middleware.py [--requests 3000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow.parquet as pq
from argon2 import PasswordHasher

from generation import machine_facts
from rempart.directory import Account
from rempart.guard import Guard, Knowledge
from rempart.ingestion import read_records
from rempart.secret import Secret
from rempart.testbed.portal import create_portal
from rempart.testbed.portal.credentials import testbed_password
from rempart.testbed.presets import preset
from rempart.testbed.simulate import simulate

SECRET = Secret(b"benchmark-portal-secret-0123456789")
HOME = "90.12.34.56"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def measure(directory: Path, requests: int) -> dict[str, list[float]]:
    """Latency in µs of ``requests`` look-ups through the guarded and the bare portal."""
    clock_start = datetime(2022, 3, 8, 9, 0, tzinfo=UTC)
    ticks = iter(range(10**9))

    def clock() -> datetime:  # a second per call: a human pace, inside opening hours
        return clock_start + timedelta(seconds=next(ticks) % 3_600)

    guard = Guard(Knowledge.from_world(directory / "world"))
    guarded = create_portal(
        directory,
        guard=guard,
        smtp_host="127.0.0.1",
        smtp_port=1,  # never used: no password reset in this benchmark
        secret=SECRET,
        clock=clock,
        hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )
    bare = guarded.app
    account = read_records(directory / "world" / "accounts.jsonl", Account).records[0].account
    patient = pq.read_table(
        directory / "identities" / "identities.parquet", columns=["nir", "birth_date", "canary"]
    ).to_pylist()[0]
    params = {"nir": patient["nir"], "birth_date": patient["birth_date"].isoformat()}
    timings: dict[str, list[float]] = {"guarded": [], "bare": []}
    guarded_client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guarded, client=(HOME, 40_000)), base_url="http://portal"
    )
    bare_client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bare, client=(HOME, 40_000)), base_url="http://portal"
    )
    async with guarded_client, bare_client:
        login = await guarded_client.post(
            "/login", json={"account": account, "password": testbed_password(SECRET, account)}
        )
        login.raise_for_status()
        bare_client.cookies = guarded_client.cookies
        for _ in range(50):  # warm both paths
            await guarded_client.get("/patients", params=params)
            await bare_client.get("/patients", params=params)
        for _ in range(requests):
            for name, client in (("guarded", guarded_client), ("bare", bare_client)):
                start = time.perf_counter_ns()
                response = await client.get("/patients", params=params)
                timings[name].append((time.perf_counter_ns() - start) / 1_000)
                if response.status_code != 200:
                    raise SystemExit(f"{name}: HTTP {response.status_code}: {response.text[:200]}")
    return timings


def main() -> None:
    """Parse options, run, print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3_000)
    parser.add_argument("--dir", type=Path, help="an existing simulated small directory")
    options = parser.parse_args()
    for name, value in machine_facts().items():
        print(f"{name}: {value}")
    with tempfile.TemporaryDirectory() as scratch:
        directory = options.dir or Path(scratch)
        if options.dir is None:
            simulate(preset("small"), directory, seed=1)
        gc.collect()
        timings = asyncio.run(measure(directory, options.requests))
    print()
    print("| Portal | Requests | p50 (µs) | p90 (µs) | p99 (µs) | mean (µs) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in timings.items():
        row = [percentile(values, q) for q in (0.5, 0.9, 0.99)]
        mean = sum(values) / len(values)
        print(
            f"| {name} | {len(values):,} | {row[0]:,.0f} | {row[1]:,.0f} | {row[2]:,.0f} "
            f"| {mean:,.0f} |"
        )
    added = [
        percentile(timings["guarded"], q) - percentile(timings["bare"], q) for q in (0.5, 0.99)
    ]
    ratio = percentile(timings["guarded"], 0.5) / percentile(timings["bare"], 0.5)
    print()
    print(
        f"middleware adds {added[0]:,.0f} µs at p50 and {added[1]:,.0f} µs at p99 "
        f"(guarded = {ratio:.2f}x bare at p50)"
    )


if __name__ == "__main__":
    main()
