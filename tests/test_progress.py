"""Progress of long jobs: counts that climb to the total, a bar only on a terminal."""

from __future__ import annotations

import io
import itertools
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rempart.cli import main
from rempart.events import Event
from rempart.ingestion import iter_records, jsonl, parquet, write_records
from rempart.progress import Steps, TerminalBar, for_terminal, silent
from rempart.replay import NoDefence, evaluate
from rempart.testbed.presets import preset
from rempart.testbed.simulate import simulate
from rempart.testing import make_event

LONG_COMMANDS = ("simulate", "validate", "replay", "eval")


class Recorder:
    """A reporter that keeps every report."""

    def __init__(self) -> None:
        self.reports: list[tuple[int, int, str]] = []

    def __call__(self, done: int, total: int, step: str = "") -> None:
        self.reports.append((done, total, step))

    @property
    def counts(self) -> list[int]:
        """The ``done`` of each report, in order."""
        return [done for done, _, _ in self.reports]

    @property
    def totals(self) -> set[int]:
        """Every ``total`` reported."""
        return {total for _, total, _ in self.reports}


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def climbs_to(counts: list[int], total: int) -> bool:
    """Whether ``counts`` never go down, start at 0 and end at ``total``."""
    return counts[0] == 0 and counts[-1] == total and counts == sorted(counts)


@pytest.fixture(scope="module")
def simulation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recorder]:
    """The small preset, seed 1, simulated with a recording reporter."""
    out = tmp_path_factory.mktemp("progress-small")
    recorder = Recorder()
    simulate(preset("small"), out, seed=1, progress=recorder)
    return out, recorder


def events_file(tmp_path: Path, name: str, count: int) -> Path:
    """``count`` distinct events written to ``tmp_path / name``."""
    path = tmp_path / name
    write_records(path, [make_event(event_id=f"ev{i:09d}") for i in range(count)])
    return path


def test_steps_report_each_beginning_then_the_total() -> None:
    """`Steps` reports the steps done as each begins, with its name, then all of them done."""
    recorder = Recorder()
    steps = Steps(recorder, 3)
    for name in ("a", "b", "c"):
        steps.begin(name)
    steps.finish()
    assert recorder.reports == [(0, 3, "a"), (1, 3, "b"), (2, 3, "c"), (3, 3, "")]


def test_for_terminal_is_silent_off_a_terminal() -> None:
    """Off a terminal `for_terminal` gives `silent` and writes nothing, not even the label."""
    stream = io.StringIO()
    with for_terminal("validate", stream=stream) as progress:
        progress(1, 2, "step")
    assert progress is silent
    assert stream.getvalue() == ""


def test_for_terminal_is_silent_when_quiet() -> None:
    """With ``quiet`` `for_terminal` gives `silent` even on a terminal."""
    stream = FakeTerminal()
    with for_terminal("validate", quiet=True, stream=stream) as progress:
        progress(1, 2)
    assert progress is silent
    assert stream.getvalue() == ""


def test_for_terminal_draws_a_bar_on_a_terminal() -> None:
    """On a terminal the bar shows the label, the step and 100 % at the end, then a newline."""
    stream = FakeTerminal()
    with for_terminal("simulate", stream=stream) as progress:
        progress(0, 4, "world: NIRs")
        progress(4, 4)
    assert isinstance(progress, TerminalBar)
    drawn = stream.getvalue()
    assert "simulate" in drawn
    assert "world: NIRs" in drawn
    assert "100%" in drawn
    assert drawn.endswith("\n")


def test_parquet_reader_reports_rows_up_to_the_row_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading Parquet reports rows consumed once per batch, climbing to the row count."""
    monkeypatch.setattr(parquet, "ARROW_BATCH", 4)
    path = events_file(tmp_path, "events.parquet", 10)
    recorder = Recorder()
    assert len(list(iter_records(path, Event, [], progress=recorder))) == 10
    assert recorder.counts == [0, 4, 8, 10]
    assert recorder.totals == {10}


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz"])
def test_jsonl_reader_reports_bytes_up_to_the_file_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Reading JSON Lines (plain or gzip) reports bytes consumed per chunk, up to the file size."""
    monkeypatch.setattr(jsonl, "READ_CHUNK", 1)
    path = events_file(tmp_path, name, 500)
    recorder = Recorder()
    assert len(list(iter_records(path, Event, [], progress=recorder))) == 500
    size = path.stat().st_size
    assert climbs_to(recorder.counts, size)
    assert recorder.totals == {size}
    if name.endswith(".jsonl"):
        assert len(recorder.reports) == 501  # one line a chunk: a report after each line


def test_empty_file_reports_zero_of_zero(tmp_path: Path) -> None:
    """An empty file reports 0 of 0: done, and nothing to do."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"")
    recorder = Recorder()
    assert list(iter_records(path, Event, [], progress=recorder)) == []
    assert recorder.reports == [(0, 0, "")]


def test_simulate_reports_every_step_once(simulation: tuple[Path, Recorder]) -> None:
    """`simulate` reports each step as it begins, one after the other, then the total."""
    _, recorder = simulation
    (total,) = recorder.totals
    assert recorder.counts == list(range(total + 1))
    steps = [step for _, _, step in recorder.reports]
    assert steps[0] == "world: subjects"
    assert "legitimate traffic" in steps
    assert {f"attack: {name}" for name in preset("small").attacks} <= set(steps)


def test_evaluate_reports_events_up_to_the_total(simulation: tuple[Path, Recorder]) -> None:
    """`evaluate` reports the events replayed, climbing to the directory's event count."""
    directory, _ = simulation
    recorder = Recorder()
    report = evaluate(directory, defences=lambda _: [("none", NoDefence())], progress=recorder)
    assert climbs_to(recorder.counts, report.events)
    assert recorder.totals == {report.events}


def test_cli_prints_no_progress_off_a_terminal(tmp_path: Path) -> None:
    """Under CliRunner (not a terminal) `simulate` prints its summary line and nothing else."""
    result = CliRunner().invoke(main, ["simulate", "--preset", "small", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith(f"{tmp_path}: ")


@pytest.mark.parametrize("quiet", [[], ["--quiet"], ["-q"]])
def test_validate_output_is_only_the_counts(tmp_path: Path, quiet: list[str]) -> None:
    """`validate`, quiet or not, prints the counts line only: no progress text anywhere."""
    path = events_file(tmp_path, "events.jsonl", 3)
    result = CliRunner().invoke(main, ["validate", str(path), *quiet])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: 3 good, 0 rejected\n"
    assert result.stderr == ""


def test_replay_quiet_writes_only_its_summary(
    simulation: tuple[Path, Recorder], tmp_path: Path
) -> None:
    """`replay -q` prints its summary line only."""
    directory, _ = simulation
    events = itertools.islice(iter_records(directory / "events.parquet", Event, []), 500)
    source = tmp_path / "events.jsonl"
    write_records(source, events)
    out = tmp_path / "decisions.jsonl"
    arguments = ["replay", str(source), "--world", str(directory / "world"), "--out", str(out)]
    result = CliRunner().invoke(main, [*arguments, "-q"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.startswith(f"{out}: 500 decisions")


@pytest.mark.parametrize("command", LONG_COMMANDS)
def test_long_commands_take_quiet(command: str) -> None:
    """Each long command documents ``-q, --quiet``."""
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "-q, --quiet" in result.stdout


def run_on_terminal(*arguments: str) -> tuple[bytes, bytes, int]:
    """Run ``rempart ARGUMENTS`` with stderr on a pseudo-terminal; its stderr, stdout, exit code."""
    script = Path(sys.executable).with_name("rempart")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import rempart.cli as c; c.main()"]
    )
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [*command, *arguments], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal
    ) as process:
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            drawn += chunk
        assert process.stdout is not None
        printed = process.stdout.read()
        code = process.wait()
    os.close(controller)
    return drawn, printed, code


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_simulate_draws_a_bar_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal `simulate` draws its bar on stderr, and stdout still holds only the summary."""
    drawn, printed, code = run_on_terminal("simulate", "--preset", "small", "--out", str(tmp_path))
    assert code == 0, drawn
    assert b"simulate" in drawn
    assert b"100%" in drawn
    assert b"attack: incident-2022" in drawn
    assert printed.decode().count("\n") == 1
    assert b"%" not in printed
    assert json.loads((tmp_path / "manifest.json").read_text())["preset"] == "small"


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_validate_draws_a_bar_on_a_terminal_unless_quiet(tmp_path: Path) -> None:
    """On a terminal `validate` draws its bar; with ``--quiet`` it draws nothing at all."""
    path = events_file(tmp_path, "events.parquet", 3)
    drawn, printed, code = run_on_terminal("validate", str(path))
    assert code == 0
    assert b"validate" in drawn
    assert b"100%" in drawn
    assert printed == f"{path}: 3 good, 0 rejected\n".encode()
    drawn, printed, code = run_on_terminal("validate", str(path), "--quiet")
    assert code == 0
    assert drawn == b""
    assert printed == f"{path}: 3 good, 0 rejected\n".encode()
