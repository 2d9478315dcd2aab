"""The guard's quality bars on the small testbed, for several seeds (none tuned to one), for
both thieves (the one who fails step-up, the one who never answers), with the network
knowledge a real deployment has (a realistic import, not the simulator's own table)."""

from __future__ import annotations

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
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small preset for one seed."""
    out = tmp_path_factory.mktemp(f"bars-seed{request.param}")
    simulate(preset("small"), out, seed=request.param)
    return out


@pytest.fixture(scope="module", params=list(Thief))
def report(request: pytest.FixtureRequest, world: Path) -> Any:
    """The evaluation report of one seed's world for one thief, at realistic knowledge."""
    networks = network_view(
        read_networks(world / "world" / "networks.csv"),
        NetworkView.REALISTIC,
        world / f"view-{request.param}",
        seed=1,
    )
    return evaluate(
        world, thief=request.param, networks=networks, knowledge_level="realistic"
    ).to_dict()["defences"]


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


@pytest.mark.slow
def test_every_attacker_detected_within_the_horizon(report: Any) -> None:
    """Every attacker of every scenario is detected (a non-allow decision or an alert) within
    a day of its first event; insiders, who hold their own second factor, only by a later
    alert (reported as late, not as a detection)."""
    scenarios = report["rempart"]["scenarios"]
    assert set(scenarios) == set(default_registry().names())
    for name, row in scenarios.items():
        if name in SECOND_FACTOR_HOLDERS:
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
    assert set(report) == {"rempart", "no-defence", "crowdsec-crawl", "account-rate-limit"}
    for baseline in ("no-defence", "crowdsec-crawl", "account-rate-limit"):
        row = report[baseline]["scenarios"]["incident-2022"]
        assert row["exposed"] > report["rempart"]["scenarios"]["incident-2022"]["exposed"]
