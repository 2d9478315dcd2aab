"""``rempart simulate``: build a world, its legitimate traffic and its attacks, and write them.

Output directory layout::

    DIR/manifest.json             preset, seed, period, counts, schema version
    DIR/events.parquet|jsonl      portal events sorted by time (what the guard sees)
    DIR/evidence.parquet|jsonl    care evidence sorted by time (what explains reads)
    DIR/truth.parquet             per event: label, attacker, hard case (never shown to the guard)
    DIR/world/sites.jsonl         the account directory: sites ...
    DIR/world/accounts.jsonl      ... and accounts
    DIR/world/subjects.parquet    pseudonymised subjects (department, rights, canary flag)
    DIR/world/canaries.txt        canary pseudonyms, one per line (guard configuration)
    DIR/world/networks.csv        the address-to-operator table (an ASN database)
    DIR/identities/identities.parquet   clear identities (NIR, names, address): notices only

The same preset, seed and key give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from rempart.ingestion import EVIDENCE_ARROW_SCHEMA, write_event_table, write_records
from rempart.ingestion.atomic import atomic_output
from rempart.ingestion.parquet import parquet_writer
from rempart.progress import Progress, Steps, silent
from rempart.pseudonym import Pseudonymizer
from rempart.schema import SCHEMA_VERSION
from rempart.secret import Secret
from rempart.testbed.attacks import AttackContext, ScenarioRegistry, default_registry
from rempart.testbed.columns import EventBuffer, EvidenceBuffer
from rempart.testbed.presets import Preset
from rempart.testbed.traffic import generate_history, generate_legitimate
from rempart.testbed.world import WORLD_STEPS, build_world

__all__ = ["Simulation", "key_for_seed", "simulate"]

Format = Literal["parquet", "jsonl"]
_GENERATOR_VERSION: Final = "1"


def key_for_seed(seed: int) -> Secret:
    """The pseudonym key of a simulated world when none is given. For the testbed only."""
    return Secret(hashlib.sha256(f"rempart-testbed-key:{seed}".encode()).digest())


@dataclass(frozen=True, slots=True)
class Simulation:
    """What `simulate` wrote."""

    out: Path
    events: int
    evidence: int
    subjects: int
    accounts: int
    manifest: dict[str, Any]


def simulate(
    preset: Preset,
    out: Path,
    *,
    seed: int = 1,
    key: Secret | None = None,
    output_format: Format = "parquet",
    registry: ScenarioRegistry | None = None,
    progress: Progress = silent,
) -> Simulation:
    """Generate ``preset`` from ``seed`` into ``out`` (replacing what a previous run left).

    ``progress`` (`rempart.progress`) hears the generation steps as they
    begin: the world's, history, legitimate traffic, each attack, the tables
    and the files.
    """
    registry = registry or default_registry()
    # The world's steps, history, legitimate traffic, one per attack, tables, files.
    steps = Steps(progress, WORLD_STEPS + 2 + len(preset.attacks) + 2)
    pseudonymizer = Pseudonymizer(key or key_for_seed(seed))
    world, identities = build_world(preset, seed, pseudonymizer, steps=steps)
    events = EventBuffer()
    evidence = EvidenceBuffer()
    steps.begin("history")
    generate_history(world, evidence)
    steps.begin("legitimate traffic")
    generate_legitimate(world, events, evidence)
    context = AttackContext(world, events, identities)
    for name, overrides in preset.attacks.items():
        steps.begin(f"attack: {name}")
        registry.run(name, context, overrides)
    steps.begin("tables")
    event_table, truth = events.to_tables()
    evidence_table = evidence.to_table()

    steps.begin("files")
    for stale in ("world", "identities"):
        shutil.rmtree(out / stale, ignore_errors=True)
    (out / "world").mkdir(parents=True)
    (out / "identities").mkdir()
    suffix = "parquet" if output_format == "parquet" else "jsonl"
    for other in ("parquet", "jsonl"):
        for name in ("events", "evidence"):
            (out / f"{name}.{other}").unlink(missing_ok=True)
    write_event_table(out / f"events.{suffix}", event_table, validate=False)
    _write_evidence(out / f"evidence.{suffix}", evidence_table)
    _write_parquet(out / "truth.parquet", truth)
    write_records(out / "world" / "sites.jsonl", world.sites)
    write_records(out / "world" / "accounts.jsonl", world.accounts)
    _write_parquet(out / "world" / "subjects.parquet", world.subjects.to_table())
    canaries = world.subjects.pseudonym[world.subjects.canary]
    (out / "world" / "canaries.txt").write_text("".join(f"{c}\n" for c in sorted(canaries)))
    networks = resources.files("rempart.testbed").joinpath("data", "networks.csv").read_bytes()
    (out / "world" / "networks.csv").write_bytes(networks)
    _write_parquet(out / "identities" / "identities.parquet", identities)

    manifest: dict[str, Any] = {
        "generator": f"rempart-testbed/{_GENERATOR_VERSION}",
        "schema_version": SCHEMA_VERSION,
        "preset": preset.name,
        "seed": seed,
        "start": preset.start.isoformat(),
        "end": (preset.start + timedelta(days=preset.days)).isoformat(),
        "format": output_format,
        "counts": {
            "events": event_table.num_rows,
            "evidence": evidence_table.num_rows,
            "subjects": len(world.subjects),
            "canaries": int(world.subjects.canary.sum()),
            "sites": len(world.sites),
            "accounts": len(world.accounts),
        },
        "scenarios": {name: dict(overrides) for name, overrides in preset.attacks.items()},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    steps.finish()
    return Simulation(
        out=out,
        events=event_table.num_rows,
        evidence=evidence_table.num_rows,
        subjects=len(world.subjects),
        accounts=len(world.accounts),
        manifest=manifest,
    )


def _write_evidence(path: Path, table: pa.Table) -> None:
    if path.suffix == ".parquet":
        with atomic_output(path) as output, parquet_writer(output, EVIDENCE_ARROW_SCHEMA) as writer:
            writer.write_table(table)
        return
    from rempart.evidence import CareEvidence
    from rempart.ingestion import table_to_records

    write_records(path, table_to_records(table, CareEvidence))


def _write_parquet(path: Path, table: pa.Table) -> None:
    with atomic_output(path) as output:
        pq.write_table(table, output, compression="zstd", write_statistics=True)
