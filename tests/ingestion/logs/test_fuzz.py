"""The parsers' fuzz harness: its oracle, a smoke run, and a coverage-guided run under atheris."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rempart.testing import make_event

from .fuzz_access import fuzz_one
from .parser_contract import FORMATS, Harness, check, holds_clear_nir

HERE = Path(__file__).parent

# libFuzzer measures memory with getrusage's maximum resident set, which Linux keeps
# across execve: launched from an xdist worker that once held gigabytes (a preset's
# evaluation), the fuzzer starts "out of memory" (CI, 2026-12-08). Its own limit is off;
# the test's timeout still bounds the run.
_NO_INHERITED_RSS_LIMIT = ("-rss_limit_mb=0",)


def test_the_oracle_finds_a_nir_however_written() -> None:
    """The harness's NIR oracle sees a valid NIR with any separator, and nothing else."""
    for written in ("253072B07300470", "2 53 07 2B 073 004 70", "x2.53.07.2b.073.004.70y"):
        assert holds_clear_nir(written)
    for other in ("253072B07300471", "90.12.34.56 - - 2022", "ps_aaaaaaaaaaaaaaaaaaaaaaab"):
        assert not holds_clear_nir(other)
    with pytest.raises(AssertionError, match="user_agent"):
        check(make_event(user_agent="bot 253072B07300470"))


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_the_harness_runs_each_format_on_its_seeds(name: str) -> None:
    """Each format's harness parses every seed line, whole and spliced, within the contract."""
    harness = Harness(name)
    for number, seed in enumerate(harness.seeds):
        harness(bytes([number % 256, 0, 0, 0]) + seed.encode())
        harness(bytes([number % 256, 1, number % 256, 128]) + b"\x00\xff\n" + seed.encode()[:40])


def test_fuzz_one_survives_odd_inputs() -> None:
    """The atheris entry point takes empty, short and binary inputs."""
    for data in (b"", b"\x00", b"\x01\x01\x01", bytes(range(256)), b"\x02\x00\x00\x00{}\n[]"):
        fuzz_one(data)


@pytest.mark.slow
def test_access_parser_survives_atheris(tmp_path: Path) -> None:
    """A hundred thousand atheris inputs: the access parser never raises nor lets a NIR out."""
    run = subprocess.run(
        [
            sys.executable,
            str(HERE / "fuzz_access.py"),
            "-atheris_runs=100000",
            "-seed=1",
            "-max_len=512",
            *_NO_INHERITED_RSS_LIMIT,
            f"-artifact_prefix={tmp_path}/",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert "Done 100000 runs" in run.stderr or "Done 100000 in" in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fhir", "csv"])
def test_fhir_and_csv_parsers_survive_atheris(tmp_path: Path, name: str) -> None:
    """Twenty thousand atheris inputs each: the FHIR and CSV parsers never raise nor let a NIR
    out."""
    run = subprocess.run(
        [
            sys.executable,
            str(HERE / "fuzz_parsers.py"),
            name,
            "-atheris_runs=20000",
            "-seed=1",
            "-max_len=1024",
            *_NO_INHERITED_RSS_LIMIT,
            f"-artifact_prefix={tmp_path}/",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert "Done 20000 runs" in run.stderr or "Done 20000 in" in run.stderr


@pytest.mark.parametrize(
    "found", sorted((HERE / "samples" / "fuzz").glob("access-*.bin")), ids=lambda p: p.stem
)
def test_inputs_the_fuzzer_once_broke_the_access_parser_with(found: Path) -> None:
    """Each input atheris found a fault with stays fixed (access-nir-in-user-agent: a valid
    NIR among letters in a user agent reached the event, 2026-12-08)."""
    fuzz_one(found.read_bytes())
