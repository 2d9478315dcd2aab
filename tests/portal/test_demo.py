"""`rempart demo`: the 2022 attack live over HTTP, contained by Rempart, free without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rempart.testbed.demo import DemoReport, run_demo


@pytest.fixture(scope="module")
def report(world_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DemoReport:
    """One short demo over the shared small world (seed 1)."""
    out = tmp_path_factory.mktemp("demo")
    (out / "world-dir").symlink_to(world_dir, target_is_directory=True)
    return run_demo(out, seed=1, duration_s=12.0, robot_reads=300, professionals=4)


@pytest.mark.slow
def test_rempart_exposes_at_most_one_percent_of_the_unguarded_run(report: DemoReport) -> None:
    """With the guard the robot exposes at most 1 % of what it exposes on the same run without."""
    assert report.unguarded.patients_exposed > 0
    assert report.guarded.patients_exposed <= 0.01 * report.unguarded.patients_exposed
    assert report.exposure_ratio <= 0.01


@pytest.mark.slow
def test_robot_accounts_are_contained_and_nobody_legitimate_is_locked(
    report: DemoReport,
) -> None:
    """At least one stolen account is contained; no professional is locked, every read served."""
    on = report.guarded
    assert on.accounts_contained >= 1
    assert on.max_containment_s is not None
    assert on.legitimate_locked == 0
    assert on.legitimate_reads_served == on.legitimate_reads > 0


@pytest.mark.slow
def test_the_unguarded_run_exposes_every_robot_read(report: DemoReport) -> None:
    """With the guard off nothing is refused: every robot read returns a patient."""
    off = report.unguarded
    assert off.accounts_contained == 0
    assert off.robot_reads_attempted == 3 * 300
    assert off.patients_exposed == off.robot_reads_attempted
    assert off.legitimate_challenged == off.legitimate_locked == 0


@pytest.mark.slow
def test_report_renders_both_runs_side_by_side(report: DemoReport) -> None:
    """The rendered table names both columns and the exposure ratio; to_dict carries both runs."""
    text = report.render()
    assert "Rempart" in text
    assert "guard off" in text
    assert "of the exposure without it" in text
    data = report.to_dict()
    assert data["rempart"]["patients_exposed"] == report.guarded.patients_exposed
    assert data["off"]["patients_exposed"] == report.unguarded.patients_exposed
