"""The reduced world the attack tests share, and the scenario runs they inspect."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

import pyarrow as pa

from rempart.pseudonym import Pseudonymizer
from rempart.testbed.attacks import AttackContext, Scenario
from rempart.testbed.columns import EventBuffer, EvidenceBuffer
from rempart.testbed.presets import PRESETS
from rempart.testbed.simulate import key_for_seed
from rempart.testbed.traffic import generate_history, generate_legitimate
from rempart.testbed.world import World, build_world

Rows = list[dict[str, Any]]


@cache
def reduced_world(seed: int = 1) -> tuple[World, pa.Table]:
    """The small preset cut to 20,000 subjects in one focus department, without attacks."""
    preset = dataclasses.replace(
        PRESETS["small"], subjects=20_000, focus_departments=("35",), attacks={}
    )
    return build_world(preset, seed, Pseudonymizer(key_for_seed(seed)))


def attack_table(
    scenario: Scenario[Any], world: World, identities: pa.Table, params: Any
) -> pa.Table:
    """The scenario's events alone, sorted, with their ``label`` and ``attacker`` columns."""
    context = AttackContext(world, EventBuffer(), identities)
    scenario.generate(context, params)
    events, truth = context.events.to_tables()
    return events.append_column("label", truth.column("label")).append_column(
        "attacker", truth.column("attacker")
    )


def with_traffic(
    scenario: Scenario[Any], world: World, identities: pa.Table, params: Any
) -> tuple[Rows, int, int]:
    """Legitimate history and traffic, then the scenario: rows with labels, and the evidence
    count before and after the scenario ran (an attacker never adds any)."""
    events, evidence = EventBuffer(), EvidenceBuffer()
    generate_history(world, evidence)
    generate_legitimate(world, events, evidence)
    before = len(evidence)
    scenario.generate(AttackContext(world, events, identities), params)
    table, truth = events.to_tables()
    rows = table.to_pylist()
    for row, label, attacker in zip(
        rows, truth.column("label").to_pylist(), truth.column("attacker").to_pylist(), strict=True
    ):
        row["label"], row["attacker"] = label, attacker
    return rows, before, len(evidence)
