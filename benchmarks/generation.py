"""How fast the testbed generator writes a simulated directory, next to two peers.

Runs `rempart.testbed.simulate.simulate` ``--repeat`` times and keeps the best
wall time. On the events file that run wrote, it then measures two peers the
same number of times:

- *validated read*: `rempart.ingestion.read_events`, every record checked
  against `rempart.events.Event` (what ``rempart validate`` and replay pay);
- *msgspec JSONL encode*: ``msgspec.json.Encoder().encode_lines`` over the
  same events already in memory (a floor for turning events into bytes).

The generator's events per second is reported as a ratio to each peer's:
``generation = 2.0x validated read`` means the generator produces events
(with their evidence, truth and world tables) twice as fast as the package
can read them back and validate them. Nothing here asserts on time::

    scripts/bench --preset small --repeat 3
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

import msgspec

from rempart.ingestion import read_events
from rempart.testbed.presets import PRESETS, preset
from rempart.testbed.simulate import simulate

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Measure:
    """The best of several timed runs that each handled ``records`` records."""

    name: str
    seconds: float
    records: int
    detail: str

    @property
    def rate(self) -> float:
        """Records per second at the best time."""
        return self.records / self.seconds


def simulate_in_child(preset_name: str, seed: int, out: Path) -> float:
    """Simulate ``preset_name`` into ``out`` with `rempart simulate` in a child process, so
    that its memory is not the caller's; returns the wall time in seconds (never reported
    as a measure)."""
    import subprocess

    started = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).with_name("rempart")),
            *("simulate", "--preset", preset_name, "--out", str(out)),
            *("--seed", str(seed), "-q"),
        ],
        check=True,
    )
    return time.perf_counter() - started


def machine_facts() -> dict[str, str]:
    """Cores this process may use, CPU model and Python, for the report header."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 0
    model = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": str(cores),
        "cpu": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(terse=True),
    }


def best_of(repeat: int, run: Callable[[], T]) -> tuple[float, T]:
    """The shortest wall time of ``repeat`` calls of ``run``, and the last call's result."""
    best = float("inf")
    result: T | None = None
    for _ in range(repeat):
        result = None  # free the previous result before timing the next run
        gc.collect()
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    if result is None:
        raise ValueError("repeat must be at least 1")
    return best, result


def measure(
    preset_name: str, repeat: int, output_format: str, out: Path, seed: int
) -> list[Measure]:
    """Time generation, then the two peers on the events file it wrote."""
    chosen = preset(preset_name)
    seconds, simulation = best_of(
        repeat, lambda: simulate(chosen, out, seed=seed, output_format=output_format)
    )
    records = simulation.events + simulation.evidence
    generation = Measure(
        "generation (simulate)",
        seconds,
        simulation.events,
        f"{records:,} events + evidence ({records / seconds:,.0f}/s)",
    )
    print(f"generation: best {seconds:.2f} s over {repeat}", flush=True)

    events_path = out / f"events.{output_format}"
    seconds, result = best_of(repeat, lambda: read_events(events_path))
    read = Measure(
        "validated read (read_events)",
        seconds,
        result.ok_count,
        f"{result.rejected_count} rejected",
    )
    print(f"validated read: best {seconds:.2f} s over {repeat}", flush=True)

    events = result.records
    encoder = msgspec.json.Encoder()
    seconds, encoded = best_of(repeat, lambda: encoder.encode_lines(events))
    encode = Measure(
        "msgspec JSONL encode",
        seconds,
        len(events),
        f"{len(encoded) / 1e6:,.1f} MB of JSON Lines",
    )
    print(f"msgspec encode: best {seconds:.2f} s over {repeat}", flush=True)
    return [generation, read, encode]


def render_table(measures: list[Measure]) -> str:
    """A markdown table of the measures, generation first, with its ratio to each peer."""
    generation = measures[0]
    lines = [
        "| Measure | Best wall time (s) | Events | Events/s | Generation vs this | Note |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for item in measures:
        ratio = "—" if item is generation else f"{generation.rate / item.rate:.3g}x"
        lines.append(
            f"| {item.name} | {item.seconds:.2f} | {item.records:,} | {item.rate:,.0f} "
            f"| {ratio} | {item.detail} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse options, print the header, measure, print the ratios and the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", choices=sorted(PRESETS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure; best is kept")
    parser.add_argument(
        "--format", dest="output_format", default="parquet", choices=("parquet", "jsonl")
    )
    parser.add_argument("--out", type=Path, help="output directory (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)
    if options.repeat < 1:
        parser.error("--repeat must be at least 1")

    facts = machine_facts()
    chosen = preset(options.preset)
    print("# Testbed generation benchmark")
    print(f"date: {date.today().isoformat()}")
    print(f"machine: nproc {facts['nproc']}, CPU {facts['cpu']}, {facts['platform']}")
    print(f"python: {facts['python']}")
    print(
        f"preset: {chosen.name} ({chosen.subjects:,} subjects, {chosen.days} days), "
        f"format {options.output_format}, seed {options.seed}, repeat {options.repeat}"
    )
    print(f"command: {' '.join(['benchmarks/generation.py', *sys.argv[1:]])}", flush=True)

    if options.out is not None:
        measures = measure(
            options.preset, options.repeat, options.output_format, options.out, options.seed
        )
    else:
        with tempfile.TemporaryDirectory(prefix="rempart-bench-") as folder:
            measures = measure(
                options.preset, options.repeat, options.output_format, Path(folder), options.seed
            )

    generation = measures[0]
    print()
    for peer in measures[1:]:
        print(f"generation = {generation.rate / peer.rate:.3g}x {peer.name.split(' (')[0]}")
    print()
    print(render_table(measures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
