"""The guard's quality bars on the small testbed, for several seeds (none tuned to one), for
both thieves (the one who fails step-up, the one who never answers), with the network
knowledge a real deployment has (a realistic import, not the simulator's own table)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rempart.networks import read_networks
from rempart.replay import Thief, evaluate
from rempart.replay.evaluation import DETECTION_HORIZON_S, SECOND_FACTOR_HOLDERS
from rempart.testbed.attacks import default_registry
from rempart.testbed.network_views import NetworkView, network_view
from rempart.testbed.presets import preset
from rempart.testbed.simulate import simulate

SEEDS = (1, 2, 3)


@pytest.fixture(scope="module", params=SEEDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, Path]:
    """The small preset for one seed: the seed and its directory."""
    out = tmp_path_factory.mktemp(f"bars-seed{request.param}")
    simulate(preset("small"), out, seed=request.param)
    return request.param, out


def realistic_report(world: Path, thief: Thief) -> dict[str, Any]:
    """The evaluation report of a simulated directory for one thief, at realistic knowledge."""
    networks = network_view(
        read_networks(world / "world" / "networks.csv"),
        NetworkView.REALISTIC,
        world / f"view-{thief}",
        seed=1,
    )
    defences: dict[str, Any] = evaluate(
        world, thief=thief, networks=networks, knowledge_level="realistic"
    ).to_dict()["defences"]
    return defences


@pytest.fixture(scope="module", params=list(Thief))
def report(request: pytest.FixtureRequest, world: tuple[int, Path]) -> Any:
    """The evaluation report of one seed's world for one thief, at realistic knowledge."""
    seed, directory = world
    return {"seed": seed, "thief": request.param} | realistic_report(directory, request.param)


@pytest.mark.slow
def test_incident_2022_contained(report: Any) -> None:
    """The 2022 replay exposes at most 500 patients; all 19 accounts contained within 5 minutes."""
    incident = report["rempart"]["scenarios"]["incident-2022"]
    assert incident["exposed"] <= 500
    assert incident["accounts"] == 19
    assert incident["accounts_contained"] == 19
    assert incident["containment_s"] is not None
    assert incident["containment_s"] <= 300
    undefended = report["no-defence"]["scenarios"]["incident-2022"]["exposed"]
    assert undefended > 20 * incident["exposed"]


@pytest.mark.slow
def test_slow_drip_bounded_per_account_week(report: Any) -> None:
    """A patient, human-paced attacker gets at most 50 patients per account per week."""
    assert report["rempart"]["scenarios"]["slow-drip"]["exposed_per_account_week_max"] <= 50


@pytest.mark.slow
def test_no_stolen_account_yields_more_than_50_patients_a_week(report: Any) -> None:
    """Whatever the scenario and the thief, no account taken over yields more than 50 patients
    in any 7 days (insiders, who hold their own second factor, apart)."""
    for name, row in report["rempart"]["scenarios"].items():
        if name not in SECOND_FACTOR_HOLDERS:
            assert row["exposed_per_account_week_max"] <= 50, name


SAME_DEVICE = frozenset({"owner-pc-malware"})
"""Scenarios reading from the owner's own device, line and browser, under the budget: held to
the week's budget (at most 50 patients), detected when they reach it, days later."""


@pytest.mark.slow
def test_every_attacker_detected_within_the_horizon(report: Any) -> None:
    """Every attacker of every scenario is detected (a non-allow decision or an alert) within
    a day of its first event; insiders, who hold their own second factor, and malware on the
    owner's own PC may be detected only later (reported as late, not as a detection)."""
    scenarios = report["rempart"]["scenarios"]
    assert set(scenarios) == set(default_registry().names())
    for name, row in scenarios.items():
        if name in SECOND_FACTOR_HOLDERS | SAME_DEVICE:
            assert row["attackers_detected"] + row["attackers_detected_late"] >= 1, name
            continue
        assert row["attackers_detected"] == row["attackers"], name
        assert row["detection_s_worst"] <= DETECTION_HORIZON_S, name


@pytest.mark.slow
def test_no_friction_for_professionals(report: Any) -> None:
    """At most 1 challenge per 1,000 professional-days, and no legitimate denial or lock."""
    legitimate = report["rempart"]["legitimate"]
    assert legitimate["professional_days"] > 1_000
    assert legitimate["challenges_per_1000_days"] <= 1.0
    assert legitimate["denied"] == 0
    assert legitimate["locked_accounts"] == 0
    assert set(legitimate["hard_cases"]) >= {"locum", "month_end", "vaccination", "travel"}


@pytest.mark.slow
def test_baselines_reported_beside_rempart(report: Any) -> None:
    """The report carries the three baselines, and none contains the 2022 robot as Rempart does."""
    assert set(report) - {"seed", "thief"} == {
        "rempart",
        "no-defence",
        "crowdsec-crawl",
        "account-rate-limit",
    }
    for baseline in ("no-defence", "crowdsec-crawl", "account-rate-limit"):
        row = report[baseline]["scenarios"]["incident-2022"]
        assert row["exposed"] > report["rempart"]["scenarios"]["incident-2022"]["exposed"]


GOLDEN = Path(__file__).with_name("golden_realistic.json")
"""Figures this version measured (``python -m tests.replay.golden`` rewrites them)."""


def _near(measured: float, golden: float, *, relative: float, absolute: float) -> bool:
    return abs(measured - golden) <= max(absolute, relative * golden)


@pytest.mark.slow
def test_figures_match_the_golden_ones(report: Any) -> None:
    """Each scenario's exposure, worst week per account, containment and detection time, and
    the professionals' challenges, stay near the figures recorded for this seed and thief: a
    change that moves them must rewrite the golden file, and say why in its commit."""
    golden = json.loads(GOLDEN.read_text())[f"{report['seed']}/{report['thief']}"]
    rempart = report["rempart"]
    assert set(rempart["scenarios"]) == set(golden["scenarios"])
    for name, expected in golden["scenarios"].items():
        row = rempart["scenarios"][name]
        assert _near(row["exposed"], expected["exposed"], relative=0.25, absolute=3), name
        assert _near(
            row["exposed_per_account_week_max"],
            expected["exposed_per_account_week_max"],
            relative=0.25,
            absolute=3,
        ), name
        assert row["accounts_contained"] == expected["accounts_contained"], name
        if expected["detection_s_worst"] is None:
            assert row["detection_s_worst"] is None, name
        else:  # the detection-time bound: never much slower than recorded
            assert row["detection_s_worst"] <= 1.5 * expected["detection_s_worst"] + 60, name
    challenges = rempart["legitimate"]["challenges"]
    assert _near(challenges, golden["challenges"], relative=0.25, absolute=2)
