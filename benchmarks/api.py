"""How the decision API answers over HTTP at a fixed offered load, with the memory and Redis store.

Simulates the preset into a temporary directory (or reuses ``--dir``) and
takes its first events in time order, ``rate x seconds`` of them for each
``--rate``. For each store it then starts ``rempart serve`` in a separate
process on 127.0.0.1 and a free port, with a key made by ``rempart keys add``
in a temporary key file, waits for ``GET /health``, and observes the care
evidence up to the last event it will replay (``POST /v1/evidence`` in
batches of 1,000, untimed; evidence older than the guard's 400-day memory
before the first event is left out, since it would already have expired).
Then, for each rate:

- *HTTP floor*: ``GET /health`` (no key, no guard) at the offered rate;
- *decide*: ``POST /v1/decide`` with each event in turn at the same rate.

The load is *open-loop*: request ``i`` is due at ``t0 + i / rate`` whether or
not earlier ones have been answered, with at most ``--concurrency`` requests
in flight (one `httpx.AsyncClient`, one connection per slot). A request due
while every slot is busy waits for one, so latency is counted from the time
it was due (no coordinated omission); it is also reported from the moment it
was actually sent, and the gap between the two (the *send lag*) shows when
the server, or the load generator itself, fell behind (even on an idle
server it is about a millisecond: asyncio sleeps to the millisecond, and
creating the task and building the request take their share). Requests still
unanswered ``max(10, seconds)`` after the last one was due are cancelled and
counted as errors, so the run always stops by itself.

Decide latency is reported as a ratio to the health latency measured on the
same server in the same run: ``decide p50 = 1.8x health`` means deciding
costs 0.8 of an empty HTTP round trip on top of it. With ``--store redis`` or
``both``, the server runs ``rempart serve --redis URL``; the URL's database
(15 by default, away from the tests' database 0) is flushed before and after.
Nothing here asserts on time::

    scripts/bench api --preset small --rate 300 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO

import httpx
import msgspec

from decisions import Loaded, load, percentile
from generation import machine_facts
from rempart.testbed.presets import PRESETS, preset
from rempart.testbed.simulate import simulate

PERCENTILES = (50.0, 90.0, 99.0)
EVIDENCE_MEMORY = timedelta(days=400)
"""How long the guard remembers a piece of care evidence (``_EVIDENCE_TTL`` in the guard)."""

EVIDENCE_BATCH = 1_000
STARTUP_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Request:
    """One request to send: its method, path and body (pre-encoded, outside the timing)."""

    method: str
    path: str
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one request: perf_counter seconds when due, sent and answered."""

    due: float
    sent: float
    answered: float
    status: int
    content: bytes


@dataclass(frozen=True, slots=True)
class Run:
    """One kind of request driven at one offered rate against one server."""

    store: str
    name: str
    rate: float
    planned: int
    outcomes: list[Outcome]
    unfinished: int
    started: float
    cpu: dict[str, float]
    """CPU seconds each process spent during the run: client, server, and Redis if used."""

    @property
    def ok(self) -> list[Outcome]:
        """Requests answered 200 (202 for evidence is never timed)."""
        return [outcome for outcome in self.outcomes if outcome.status == 200]

    @property
    def errors(self) -> int:
        """Requests answered with another status, failed in transport, or never answered."""
        return self.planned - len(self.ok)

    @property
    def achieved(self) -> float:
        """Successful answers per second, from the first due time to the last answer."""
        ok = self.ok
        if not ok:
            return 0.0
        return len(ok) / (max(outcome.answered for outcome in ok) - self.started)

    def latencies(self, since: str) -> list[int]:
        """Nanoseconds from ``due`` or ``sent`` to the answer, of the successful requests."""
        return [round((o.answered - getattr(o, since)) * 1e9) for o in self.ok]

    def lags(self) -> list[int]:
        """Nanoseconds each successful request waited between its due time and its sending."""
        return [round((o.sent - o.due) * 1e9) for o in self.ok]


def summary(nanoseconds: list[int]) -> tuple[float, ...]:
    """Nearest-rank percentiles then the maximum, in milliseconds (nan when empty)."""
    ordered = sorted(nanoseconds)
    if not ordered:
        return tuple(float("nan") for _ in (*PERCENTILES, 0))
    return (*(percentile(ordered, share) / 1e6 for share in PERCENTILES), ordered[-1] / 1e6)


async def drive(
    base_url: str,
    headers: dict[str, str],
    requests: list[Request],
    rate: float,
    concurrency: int,
    drain_seconds: float,
) -> tuple[list[Outcome], int, float]:
    """Send ``requests`` open-loop at ``rate`` per second; the outcomes, the unfinished, t0."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    outcomes: list[Outcome] = []
    slots = asyncio.Semaphore(concurrency)
    clock = time.perf_counter
    # trust_env=False: no proxy from the environment may come between us and loopback.
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=30.0, trust_env=False
    ) as client:

        async def send(request: Request, due: float) -> None:
            async with slots:
                sent = clock()
                try:
                    response = await client.request(
                        request.method, request.path, content=request.body
                    )
                except httpx.HTTPError:
                    outcomes.append(Outcome(due, sent, clock(), 0, b""))
                    return
                outcomes.append(Outcome(due, sent, clock(), response.status_code, response.content))

        tasks: list[asyncio.Task[None]] = []
        start = clock() + 0.05
        for index, request in enumerate(requests):
            due = start + index / rate
            delay = due - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(request, due)))
        _, pending = await asyncio.wait(tasks, timeout=drain_seconds) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return outcomes, len(pending), start


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rempart_command() -> list[str]:
    """The ``rempart`` console script beside this interpreter (the venv's), or on PATH."""
    beside = Path(sys.executable).parent / "rempart"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("rempart")
    if found is None:
        raise SystemExit("no rempart command beside the interpreter or on PATH")
    return [found]


def make_key(keys_path: Path) -> str:
    """Create a key with ``rempart keys add`` and return it in clear (its last output line)."""
    added = subprocess.run(
        [*rempart_command(), "keys", "add", "benchmark", "--keys", str(keys_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return added.stdout.strip().splitlines()[-1]


@contextmanager
def served(
    world: Path,
    keys_path: Path,
    redis_url: str | None,
    log: IO[bytes],
    options: Sequence[str] = ("--max-clock-skew", "0"),
) -> Iterator[tuple[str, int]]:
    """Run ``rempart serve`` on a free loopback port until the block ends.

    ``options`` go to the command (by default the event-time check is off: simulated
    events are dated in the simulation's past). Yields its base URL and process id.
    """
    port = free_port()
    command = [*rempart_command(), "serve", "--world", str(world), "--keys", str(keys_path)]
    command += ["--host", "127.0.0.1", "--port", str(port), *options]
    if redis_url is not None:
        command += ["--redis", redis_url]
    server = subprocess.Popen(command, stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        with httpx.Client(base_url=base_url, trust_env=False, timeout=2.0) as client:
            while True:
                if server.poll() is not None:
                    raise SystemExit(
                        f"rempart serve exited with {server.returncode}; see {log.name}"
                    )
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"rempart serve did not answer /health in {STARTUP_SECONDS} s")
                time.sleep(0.1)
        yield base_url, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def observe_evidence(base_url: str, headers: dict[str, str], loaded: Loaded, until: int) -> int:
    """POST the evidence the guard still remembers up to event ``until``; the count sent."""
    first = loaded.events[0].time - EVIDENCE_MEMORY
    last = loaded.events[until - 1].time
    pieces = [piece for piece in loaded.evidence if first <= piece.time <= last]
    encoder = msgspec.json.Encoder()
    with httpx.Client(base_url=base_url, headers=headers, trust_env=False, timeout=120.0) as client:
        for start in range(0, len(pieces), EVIDENCE_BATCH):
            body = encoder.encode(pieces[start : start + EVIDENCE_BATCH])
            answer = client.post("/v1/evidence", content=body)
            if answer.status_code != 202:
                raise SystemExit(f"POST /v1/evidence: {answer.status_code} {answer.text[:200]}")
        # Warm the keyed path (the key's one argon2 check is done by now) and the floor.
        for _ in range(20):
            client.get("/ready")
            client.get("/health")
    return len(pieces)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far; nan off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    # utime and stime are fields 14 and 15 of proc(5); the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_cpu(redis_url: str) -> float:
    """CPU seconds the Redis server has used so far (INFO cpu: all its clients' work)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def cpu_now(server: int, redis_url: str | None) -> dict[str, float]:
    """CPU seconds so far of this process (the client), the server and Redis."""
    used = {"client": time.process_time(), "server": process_cpu(server)}
    if redis_url is not None:
        used["redis"] = redis_cpu(redis_url)
    return used


def flush(redis_url: str) -> None:
    """Empty the benchmark's Redis database (``FLUSHDB`` on the URL's database only)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def measure_store(
    store: str,
    loaded: Loaded,
    rates: list[float],
    seconds: float,
    concurrency: int,
    redis_url: str | None,
    folder: Path,
) -> list[Run]:
    """Start a server with ``store``, feed it evidence, then drive health and decide per rate."""
    counts = [round(rate * seconds) for rate in rates]
    total = sum(counts)
    if total > len(loaded.events):
        raise SystemExit(
            f"{total:,} events needed ({' + '.join(map(str, counts))}), "
            f"only {len(loaded.events):,} simulated: lower --rate or --seconds"
        )
    keys_path = folder / f"keys-{store}.json"
    key = make_key(keys_path)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    encoder = msgspec.json.Encoder()
    drain = max(10.0, seconds)
    runs: list[Run] = []
    log_path = folder / f"serve-{store}.log"
    if redis_url is not None:
        flush(redis_url)
    try:
        with log_path.open("wb") as log, served(loaded.world, keys_path, redis_url, log) as live:
            url, pid = live
            start = time.perf_counter()
            observed = observe_evidence(url, headers, loaded, total)
            print(
                f"{store}: server up at {url}; {observed:,} evidence observed in "
                f"{time.perf_counter() - start:.1f} s (untimed)",
                flush=True,
            )
            offset = 0
            for rate, count in zip(rates, counts, strict=True):
                events = loaded.events[offset : offset + count]
                offset += count
                plans = [
                    ("GET /health", [Request("GET", "/health")] * count),
                    (
                        "POST /v1/decide",
                        [Request("POST", "/v1/decide", encoder.encode(e)) for e in events],
                    ),
                ]
                for name, requests in plans:
                    gc.collect()
                    before = cpu_now(pid, redis_url)
                    outcomes, unfinished, started = asyncio.run(
                        drive(url, headers, requests, rate, concurrency, drain)
                    )
                    after = cpu_now(pid, redis_url)
                    cpu = {part: after[part] - before[part] for part in before}
                    run = Run(store, name, rate, count, outcomes, unfinished, started, cpu)
                    runs.append(run)
                    p99 = summary(run.latencies("due"))[2]
                    print(
                        f"{store} {name} at {rate:g}/s: {len(run.ok):,}/{count:,} ok, "
                        f"{run.achieved:,.0f}/s achieved, p99 {p99:.1f} ms",
                        flush=True,
                    )
    finally:
        if redis_url is not None:
            flush(redis_url)
    return runs


def verdicts(run: Run) -> str:
    """The count of each verdict in a decide run's answers."""
    counted: dict[str, int] = {}
    for outcome in run.ok:
        verdict = msgspec.json.decode(outcome.content)["verdict"]
        counted[verdict] = counted.get(verdict, 0) + 1
    return ", ".join(f"{count:,} {verdict}" for verdict, count in sorted(counted.items()))


def cpu_per_request(run: Run) -> str:
    """CPU milliseconds per request planned, for the client, the server and Redis."""
    parts = ("client", "server", "redis")
    return ", ".join(
        f"{run.cpu[part] * 1e3 / run.planned:.2f}" if part in run.cpu else "—" for part in parts
    )


def render(runs: list[Run]) -> str:
    """Two markdown tables: latency from the due time with ratios, then from the send time."""
    heads = " | ".join(f"p{share:g} (ms)" for share in PERCENTILES)
    lines = [
        f"| Store | Request | Offered (req/s) | Requests | Errors | Achieved (req/s) | {heads} "
        "| max (ms) | p50 vs health | p99 vs health |",
        "|---|---|---:|---:|---:|---:|" + "---:|" * (len(PERCENTILES) + 3),
    ]
    floors: dict[tuple[str, float], tuple[float, ...]] = {}
    for run in runs:
        figures = summary(run.latencies("due"))
        if run.name == "GET /health":
            floors[(run.store, run.rate)] = figures
            ratios = "— | —"
        else:
            floor = floors[(run.store, run.rate)]
            ratios = f"{figures[0] / floor[0]:.3g}x | {figures[2] / floor[2]:.3g}x"
        cells = " | ".join(f"{value:,.2f}" for value in figures)
        lines.append(
            f"| {run.store} | `{run.name}` | {run.rate:,.0f} | {run.planned:,} | {run.errors:,} "
            f"| {run.achieved:,.0f} | {cells} | {ratios} |"
        )
    lines += [
        "",
        f"| Store | Request | Offered (req/s) | {heads.replace('(ms)', 'from send (ms)')} "
        "| max from send (ms) | send lag p50 (ms) | send lag p99 (ms) "
        "| CPU per request: client, server, Redis (ms) |",
        "|---|---|---:|" + "---:|" * (len(PERCENTILES) + 3) + "---|",
    ]
    for run in runs:
        cells = " | ".join(f"{value:,.2f}" for value in summary(run.latencies("sent")))
        lag = summary(run.lags())
        lines.append(
            f"| {run.store} | `{run.name}` | {run.rate:,.0f} | {cells} "
            f"| {lag[0]:,.2f} | {lag[2]:,.2f} | {cpu_per_request(run)} |"
        )
    return "\n".join(lines)


def report(runs: list[Run]) -> None:
    """Print the ratios, the verdicts and errors, then the tables."""
    print()
    floors = {
        (r.store, r.rate): summary(r.latencies("due")) for r in runs if r.name == "GET /health"
    }
    for run in runs:
        if run.name == "GET /health":
            continue
        mine = summary(run.latencies("due"))
        floor = floors[(run.store, run.rate)]
        print(
            f"{run.store} at {run.rate:g}/s: decide p50 = {mine[0] / floor[0]:.3g}x health, "
            f"p99 = {mine[2] / floor[2]:.3g}x health; verdicts: {verdicts(run) or 'none'}"
        )
    for run in runs:
        if run.errors:
            statuses: dict[int, int] = {}
            for outcome in run.outcomes:
                if outcome.status != 200:
                    statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
            detail = ", ".join(f"{count} x status {status}" for status, count in statuses.items())
            print(
                f"{run.store} {run.name} at {run.rate:g}/s: {run.errors} errors "
                f"({detail or 'none answered'}; {run.unfinished} unanswered, cancelled; "
                "status 0 is a transport error)"
            )
    print()
    print(render(runs))
    print()
    print(
        "Latency runs from the time each request was due (t0 + i/rate), so a server that falls "
        "behind is charged for the wait; the second table counts from the actual send."
    )


def main(argv: list[str] | None = None) -> int:
    """Parse options, print the header, then simulate (unless ``--dir``) and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dir",
        dest="directory",
        type=Path,
        help="an existing simulated directory (default: simulate --preset into a temporary one)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        nargs="+",
        default=[500.0],
        help="offered requests per second; several values sweep, each on the next events",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of load per rate")
    parser.add_argument("--concurrency", type=int, default=8, help="most requests in flight")
    parser.add_argument("--store", default="both", choices=("memory", "redis", "both"))
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/15",
        help="Redis for --store redis (its database is FLUSHDB'd before and after)",
    )
    options = parser.parse_args(argv)
    if min(options.rate) <= 0 or options.seconds <= 0 or options.concurrency < 1:
        parser.error("--rate and --seconds must be positive, --concurrency at least 1")

    facts = machine_facts()
    chosen = preset(options.preset)
    print("# Decision API over HTTP benchmark")
    print(f"date: {date.today().isoformat()}")
    print(f"machine: nproc {facts['nproc']}, CPU {facts['cpu']}, {facts['platform']}")
    print(f"python: {facts['python']}; load average {os.getloadavg()[0]:.2f} (1 min)")
    source = (
        f"{options.directory} (existing)"
        if options.directory is not None
        else f"preset {chosen.name} ({chosen.subjects:,} subjects, {chosen.days} days), "
        f"seed {options.seed}"
    )
    print(f"data: {source}")
    rates = ", ".join(f"{rate:g}" for rate in options.rate)
    print(
        f"load: {rates} req/s offered for {options.seconds:g} s each, open-loop, "
        f"{options.concurrency} in flight at most; store {options.store}"
    )
    print(f"command: {' '.join(['benchmarks/api.py', *sys.argv[1:]])}", flush=True)

    stores = ["memory", "redis"] if options.store == "both" else [options.store]
    with tempfile.TemporaryDirectory(prefix="rempart-bench-api-") as scratch:
        folder = Path(scratch)
        directory = options.directory
        if directory is None:
            directory = folder / "simulated"
            start = time.perf_counter()
            simulation = simulate(chosen, directory, seed=options.seed)
            print(
                f"simulated {simulation.events:,} events, {simulation.evidence:,} evidence "
                f"in {time.perf_counter() - start:.1f} s (not part of the measures)",
                flush=True,
            )
        loaded = load(directory)
        runs: list[Run] = []
        for store in stores:
            redis_url = options.redis_url if store == "redis" else None
            runs += measure_store(
                store, loaded, options.rate, options.seconds, options.concurrency, redis_url, folder
            )
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")
    report(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
