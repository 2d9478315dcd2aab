"""How many decisions a second the guard makes on one core, next to the baselines.

Loads a simulated directory's events and care evidence into memory first
(``--dir``, or a fresh `rempart.testbed.simulate.simulate` run in a temporary
directory), pins the process to one core where the platform allows it, then:

- *replay throughput*: ``rempart.replay.replay(events, evidence, defence)``
  consumed to the end, best wall time of ``--repeat`` runs, for Rempart's
  `Guard` (built fresh, untimed, for every run) and, in the same run, for the
  peers `NoDefence`, `AddressLeakyBucket` and `AccountRateLimit`, and for a
  *floor*: the same merge of events and evidence with a defence that does
  nothing and returns one prebuilt decision;
- *latency per call*: one more replay with a fresh guard, timing every
  ``guard.decide(event)`` with ``time.perf_counter_ns()`` (observing evidence
  between calls, untimed), reported as percentiles for reads
  (``record_view``) and for every other kind.

Rempart's decisions per second are reported as a ratio to each peer's:
``rempart = 0.05x no-defence`` means the guard decides at a twentieth of the
rate of a defence that allows everything, over the same merged stream.
Nothing here asserts on time::

    scripts/bench decisions --preset small --repeat 3
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from generation import machine_facts
from rempart.events import Event, EventKind
from rempart.evidence import CareEvidence
from rempart.guard import Guard, Knowledge
from rempart.guard.decision import Decision, Verdict
from rempart.ingestion import read_events, read_records
from rempart.replay import AccountRateLimit, AddressLeakyBucket, Defence, NoDefence, replay
from rempart.testbed.presets import PRESETS, preset
from rempart.testbed.simulate import simulate

AIM = 100_000
"""Decisions per second on one core the guard issue aims for."""

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


class Floor:
    """A defence that does nothing: what replay's merge and call costs on their own."""

    name = "floor"

    def __init__(self) -> None:
        self._decision = Decision(event_id="floor", verdict=Verdict.ALLOW)

    def decide(self, event: Event) -> Decision:
        return self._decision

    def step_up(self, event: Event, passed: bool) -> Decision:
        return self._decision

    def observe(self, evidence: CareEvidence) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Throughput:
    """The best of several replays that each decided ``decisions`` events."""

    name: str
    seconds: float
    decisions: int
    detail: str

    @property
    def rate(self) -> float:
        """Decisions per second at the best time."""
        return self.decisions / self.seconds


@dataclass(frozen=True, slots=True)
class Latency:
    """Percentiles of the time one ``decide`` call took, in microseconds."""

    name: str
    calls: int
    percentiles: tuple[float, ...]
    maximum: float


@dataclass(frozen=True, slots=True)
class Loaded:
    """A simulated directory's events and evidence, in memory and in time order."""

    world: Path
    events: list[Event]
    evidence: list[CareEvidence]


def record_file(directory: Path, stem: str) -> Path:
    """``stem.parquet`` or ``stem.jsonl`` in ``directory``, whichever the simulation wrote."""
    for suffix in ("parquet", "jsonl"):
        path = directory / f"{stem}.{suffix}"
        if path.exists():
            return path
    raise SystemExit(f"{directory}: no {stem}.parquet or {stem}.jsonl")


def load(directory: Path) -> Loaded:
    """Read the events and evidence of ``directory``; any rejected record stops the benchmark."""
    events = read_events(record_file(directory, "events"))
    evidence = read_records(record_file(directory, "evidence"), CareEvidence)
    for result in (events, evidence):
        if result.rejected:
            raise SystemExit(f"{result.source}: {result.rejected_count:,} rejected records")
    return Loaded(directory / "world", events.records, evidence.records)


def pin_to_one_core() -> str:
    """Pin this process to CPU 0 where the platform allows it; say what was done."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no os.sched_setaffinity on this platform); one thread"
    os.sched_setaffinity(0, {0})
    return f"pinned to CPU {sorted(os.sched_getaffinity(0))} with os.sched_setaffinity"


def throughput(loaded: Loaded, repeat: int) -> list[Throughput]:
    """Best replay time of Rempart and each peer; every run builds its defence afresh, untimed.

    Defences take turns within each repeat so that drift in the machine's
    speed touches all of them alike.
    """
    builders: list[tuple[str, Callable[[], Defence]]] = [
        ("rempart (Guard)", lambda: Guard(Knowledge.from_world(loaded.world))),
        ("no-defence", NoDefence),
        ("crowdsec-crawl (AddressLeakyBucket)", AddressLeakyBucket),
        ("account-rate-limit (AccountRateLimit)", AccountRateLimit),
        ("floor (merge only, no-op defence)", Floor),
    ]
    best = {name: float("inf") for name, _ in builders}
    for run in range(1, repeat + 1):
        for name, build in builders:
            defence = build()
            gc.collect()
            start = time.perf_counter()
            deque(replay(loaded.events, loaded.evidence, defence), maxlen=0)
            seconds = time.perf_counter() - start
            best[name] = min(best[name], seconds)
            print(f"run {run}/{repeat} {name}: {seconds:.3f} s", flush=True)
            del defence
    detail = f"{len(loaded.evidence):,} evidence observed"
    return [Throughput(name, best[name], len(loaded.events), detail) for name, _ in builders]


def timed_decisions(loaded: Loaded, guard: Guard) -> Iterator[tuple[Event, Decision, int]]:
    """Each event with the nanoseconds its ``decide`` took; evidence observed between, untimed.

    The same merge as `rempart.replay.replay`: evidence at or before an
    event's time is observed first.
    """
    clock = time.perf_counter_ns
    decide = guard.decide
    pending = iter(loaded.evidence)
    upcoming = next(pending, None)
    for event in loaded.events:
        while upcoming is not None and upcoming.time <= event.time:
            guard.observe(upcoming)
            upcoming = next(pending, None)
        start = clock()
        decision = decide(event)
        yield event, decision, clock() - start


def percentile(ordered: list[int], share: float) -> int:
    """The nearest-rank percentile ``share`` (0-100, to a tenth) of an ascending list."""
    tenths = round(share * 10)
    rank = -(-len(ordered) * tenths // 1_000)  # integer ceiling: 99.9 % of 1,000 is rank 999
    return ordered[max(1, rank) - 1]


def summarise(name: str, nanoseconds: list[int]) -> Latency:
    """Percentiles and maximum of ``nanoseconds``, in microseconds."""
    ordered = sorted(nanoseconds)
    if not ordered:
        return Latency(name, 0, tuple(float("nan") for _ in PERCENTILES), float("nan"))
    return Latency(
        name,
        len(ordered),
        tuple(percentile(ordered, share) / 1_000 for share in PERCENTILES),
        ordered[-1] / 1_000,
    )


@dataclass(frozen=True, slots=True)
class Timed:
    """What the replay with every ``decide`` timed found."""

    rows: list[Latency]
    timer_us: float
    decide_seconds: float
    verdicts: dict[str, int]


def latency(loaded: Loaded) -> Timed:
    """Per-call latency of ``decide`` over one whole replay, with the timer's own cost,
    the summed time of the calls, and the count of each verdict the guard gave."""
    guard = Guard(Knowledge.from_world(loaded.world))
    reads: list[int] = []
    others: list[int] = []
    verdicts: dict[str, int] = {}
    gc.collect()
    for event, decision, elapsed in timed_decisions(loaded, guard):
        (reads if event.kind is EventKind.RECORD_VIEW else others).append(elapsed)
        verdict = decision.verdict.value
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    clock = time.perf_counter_ns
    empty = []
    for _ in range(100_000):
        start = clock()
        empty.append(clock() - start)
    overhead = summarise("timer", empty).percentiles[0]
    rows = [
        summarise("reads (record_view)", reads),
        summarise("other events", others),
        summarise("all events", reads + others),
    ]
    return Timed(rows, overhead, sum(reads) / 1e9 + sum(others) / 1e9, verdicts)


def render_throughput(measures: list[Throughput]) -> str:
    """A markdown table of the replays, Rempart first, with its ratio to each peer."""
    rempart = measures[0]
    lines = [
        "| Defence | Best wall time (s) | Decisions | Decisions/s | Rempart vs this | Note |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for item in measures:
        ratio = "—" if item is rempart else f"{rempart.rate / item.rate:.3g}x"
        lines.append(
            f"| {item.name} | {item.seconds:.3f} | {item.decisions:,} | {item.rate:,.0f} "
            f"| {ratio} | {item.detail} |"
        )
    return "\n".join(lines)


def render_latency(rows: list[Latency]) -> str:
    """A markdown table of ``decide`` latency percentiles in microseconds."""
    heads = " | ".join(f"p{share:g} (µs)" for share in PERCENTILES)
    lines = [
        f"| Events | Calls | {heads} | max (µs) |",
        "|---|---:|" + "---:|" * (len(PERCENTILES) + 1),
    ]
    for row in rows:
        cells = " | ".join(f"{value:,.1f}" for value in row.percentiles)
        lines.append(f"| {row.name} | {row.calls:,} | {cells} | {row.maximum:,.1f} |")
    return "\n".join(lines)


def run(directory: Path, repeat: int) -> None:
    """Load, pin, measure and print the ratios and the tables."""
    start = time.perf_counter()
    loaded = load(directory)
    print(
        f"loaded {len(loaded.events):,} events and {len(loaded.evidence):,} evidence records "
        f"in {time.perf_counter() - start:.1f} s",
        flush=True,
    )
    # The online guard does not hold the event log; without this, every full
    # collection would walk millions of loaded records and charge the pause to decide().
    gc.collect()
    gc.freeze()
    print(
        "input frozen out of the garbage collector (gc.freeze); collections still run on "
        "what the defences allocate",
        flush=True,
    )
    print(f"core: {pin_to_one_core()}", flush=True)

    measures = throughput(loaded, repeat)
    print("latency: one more replay with a fresh guard, every decide() timed", flush=True)
    timed = latency(loaded)

    rempart = measures[0]
    print()
    for peer in measures[1:]:
        print(f"rempart = {rempart.rate / peer.rate:.3g}x {peer.name.split(' (')[0]}")
    reached = "reached" if rempart.rate >= AIM else "not reached"
    print(
        f"aim {AIM:,} decisions/s on one core: {reached} "
        f"({rempart.rate:,.0f}/s, {rempart.rate / AIM:.0%} of the aim)"
    )
    print()
    print(render_throughput(measures))
    print()
    print(render_latency(timed.rows))
    print()
    print(
        f"Latency includes the timer's own cost (median {timed.timer_us:.2f} µs per pair of "
        "perf_counter_ns calls); garbage collection stays on, so its pauses land in the tail."
    )
    calls = len(loaded.events) / timed.decide_seconds
    print(
        f"decide() alone took {timed.decide_seconds:.2f} s summed over the timed replay "
        f"({calls:,.0f} calls/s); the rest of a replay is the merge and observing the evidence."
    )
    summary = ", ".join(f"{count:,} {verdict}" for verdict, count in sorted(timed.verdicts.items()))
    print(f"Rempart's verdicts in the timed replay: {summary}.")


def main(argv: list[str] | None = None) -> int:
    """Parse options, print the header, then simulate (unless ``--dir``) and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", choices=sorted(PRESETS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="replays per defence; best is kept")
    parser.add_argument(
        "--dir",
        dest="directory",
        type=Path,
        help="an existing simulated directory (default: simulate --preset into a temporary one)",
    )
    options = parser.parse_args(argv)
    if options.repeat < 1:
        parser.error("--repeat must be at least 1")

    facts = machine_facts()  # before pinning, so nproc counts the machine's cores
    chosen = preset(options.preset)
    print("# Guard decisions benchmark")
    print(f"date: {date.today().isoformat()}")
    print(f"machine: nproc {facts['nproc']}, CPU {facts['cpu']}, {facts['platform']}")
    print(f"python: {facts['python']}")
    if options.directory is not None:
        print(f"data: {options.directory} (existing), repeat {options.repeat}")
    else:
        print(
            f"data: preset {chosen.name} ({chosen.subjects:,} subjects, {chosen.days} days), "
            f"seed {options.seed}, repeat {options.repeat}"
        )
    print(f"command: {' '.join(['benchmarks/decisions.py', *sys.argv[1:]])}", flush=True)

    if options.directory is not None:
        run(options.directory, options.repeat)
        return 0
    with tempfile.TemporaryDirectory(prefix="rempart-bench-") as folder:
        start = time.perf_counter()
        simulation = simulate(chosen, Path(folder), seed=options.seed)
        print(
            f"simulated {simulation.events:,} events, {simulation.evidence:,} evidence "
            f"in {time.perf_counter() - start:.1f} s (not part of the measures)",
            flush=True,
        )
        run(Path(folder), options.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
