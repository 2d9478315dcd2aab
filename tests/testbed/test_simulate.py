"""The simulated directory: identities, schema, labels, privacy and determinism."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import jsonschema
import msgspec
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from stdnum.fr import nir as stdnum_nir

from rempart.directory import Account, Site
from rempart.evidence import CareEvidence
from rempart.ingestion import read_events, read_records
from rempart.nir import nir_agrees
from rempart.schema import record_schema
from rempart.testbed.attacks import default_registry
from rempart.testbed.hard_cases import HARD_CASES
from rempart.testbed.presets import preset
from rempart.testbed.simulate import simulate
from rempart.truth import LEGITIMATE, Truth


def test_every_nir_valid_and_consistent(small_dir: Path) -> None:
    """Every NIR validates with python-stdnum and encodes the subject's sex, birth date, place."""
    identities = pq.read_table(small_dir / "identities" / "identities.parquet").to_pylist()
    assert len(identities) == preset("small").subjects + preset("small").canaries
    for person in identities:
        assert stdnum_nir.is_valid(person["nir"])
        assert nir_agrees(
            person["nir"],
            sex=person["sex"],
            birth_date=person["birth_date"],
            birth_place=person["birth_place"],
        )
    nirs = [p["nir"] for p in identities]
    assert len(set(nirs)) == len(nirs)


def test_identities_cover_corsica_overseas_and_abroad(small_dir: Path) -> None:
    """Birth places include Corsica (2A/2B, and 20 before 1976), overseas and abroad."""
    places = pq.read_table(small_dir / "identities" / "identities.parquet")
    rows = places.select(["birth_place", "birth_date"]).to_pylist()
    prefixes = {row["birth_place"][:2] for row in rows}
    assert {"2A", "2B", "20", "97", "99"} <= prefixes
    for row in rows:
        if row["birth_place"].startswith("20"):
            assert row["birth_date"] < date(1976, 1, 1)
        if row["birth_place"][:2] in ("2A", "2B"):
            assert row["birth_date"] >= date(1975, 1, 1)


def test_outputs_validate(small_dir: Path) -> None:
    """Every event, evidence, site and account record reads back with no rejection."""
    events = read_events(small_dir / "events.parquet")
    assert events.rejected == []
    assert events.ok_count > 10_000
    evidence = read_records(small_dir / "evidence.parquet", CareEvidence)
    assert evidence.rejected == []
    for name, kind in (("sites", Site), ("accounts", Account)):
        result = read_records(small_dir / "world" / f"{name}.jsonl", kind)
        assert result.rejected == []
        assert result.ok_count > 0


@pytest.mark.slow
def test_jsonl_outputs_validate_against_published_schema(tmp_path: Path) -> None:
    """An independent JSON Schema validator accepts every JSONL record the simulator writes."""
    simulate(preset("small"), tmp_path, seed=5, output_format="jsonl")
    for file, name in (
        (tmp_path / "events.jsonl", "Event"),
        (tmp_path / "evidence.jsonl", "CareEvidence"),
        (tmp_path / "world" / "sites.jsonl", "Site"),
        (tmp_path / "world" / "accounts.jsonl", "Account"),
    ):
        validator = jsonschema.Draft202012Validator(record_schema(name))
        with file.open("rb") as lines:
            count = 0
            for line in lines:
                errors = list(validator.iter_errors(json.loads(line)))
                assert errors == [], (file.name, count + 1, errors[0].message)
                count += 1
        assert count > 0


def test_truth_rows_validate(small_dir: Path) -> None:
    """Every ground-truth row is a valid `Truth` record, checked by msgspec and by jsonschema."""
    validator = jsonschema.Draft202012Validator(record_schema("Truth"))
    rows = pq.read_table(small_dir / "truth.parquet").to_pylist()
    for row in rows:
        record = {key: value for key, value in row.items() if value is not None}
        msgspec.convert(record, Truth)
        assert not list(validator.iter_errors(record))


def test_every_scenario_and_hard_case_labelled(small_dir: Path) -> None:
    """Truth labels every scenario of the registry and every hard case, with attacker ids."""
    truth = pq.read_table(small_dir / "truth.parquet")
    labels = set(truth.column("label").to_pylist())
    assert labels == {LEGITIMATE, *default_registry().names()}
    hard = set(pc.unique(truth.column("hard_case")).to_pylist()) - {None}
    assert hard == set(HARD_CASES)
    for row in truth.to_pylist():
        assert (row["attacker"] is None) == (row["label"] == LEGITIMATE)
        if row["hard_case"] is not None:
            assert row["label"] == LEGITIMATE


def test_events_sorted_unique_and_free_of_truth(small_dir: Path) -> None:
    """Events are sorted by time with unique ids, and carry no ground-truth column."""
    events = pq.read_table(small_dir / "events.parquet")
    times = events.column("time").cast("int64").to_numpy()
    assert np.all(np.diff(times) >= 0)
    ids = events.column("event_id").to_pylist()
    assert len(set(ids)) == len(ids)
    assert not {"label", "attacker", "hard_case"} & set(events.column_names)
    truth = pq.read_table(small_dir / "truth.parquet")
    assert truth.column("event_id").to_pylist() == ids


def test_no_clear_nir_outside_identities(small_dir: Path) -> None:
    """No file outside identities/ contains a clear NIR of the world."""
    nirs = set(
        pq.read_table(small_dir / "identities" / "identities.parquet").column("nir").to_pylist()
    )
    pattern = re.compile(rb"[12][0-9]{4}[0-9AB][0-9]{9}")
    for path in small_dir.rglob("*"):
        if path.is_file() and "identities" not in path.parts:
            data = path.read_bytes()
            if path.suffix == ".parquet":
                data = json.dumps(pq.read_table(path).to_pylist(), default=str).encode()
            found = {match.decode() for match in pattern.findall(data)}
            assert not found & nirs, path


def test_canaries_untouched_by_legitimate_traffic(small_dir: Path) -> None:
    """No legitimate event ever names a canary subject, nor lists one among a search's results."""
    canaries = set((small_dir / "world" / "canaries.txt").read_text().split())
    assert len(canaries) == preset("small").canaries
    events = pq.read_table(small_dir / "events.parquet", columns=["subject", "results"])
    truth = pq.read_table(small_dir / "truth.parquet", columns=["label"])
    for subject, listed, label in zip(
        events.column("subject").to_pylist(),
        events.column("results").to_pylist(),
        truth.column("label").to_pylist(),
        strict=True,
    ):
        if label == LEGITIMATE:
            assert subject not in canaries
            assert not canaries.intersection(listed)


def test_legitimate_searches_list_the_patient_then_read(small_dir: Path) -> None:
    """A professional's search lists the patient whose record the session opens next by
    search, and now and then a namesake too."""
    events = pq.read_table(small_dir / "events.parquet")
    truth = pq.read_table(small_dir / "truth.parquet", columns=["label"])
    rows = [
        row
        for row, label in zip(events.to_pylist(), truth.column("label").to_pylist(), strict=True)
        if label == LEGITIMATE and row["kind"] in ("search", "record_view")
    ]
    pending: dict[str, list[str]] = {}
    checked = 0
    for row in rows:
        if row["kind"] == "search":
            assert 1 <= len(row["results"]) <= row["result_count"]
            pending[row["session"]] = row["results"]
        elif row["lookup"] == "search" and row["session"] in pending:
            assert row["subject"] in pending.pop(row["session"])
            checked += 1
    searches = [row for row in rows if row["kind"] == "search"]
    assert checked > 0.9 * len(searches) > 500
    assert 0.1 < sum(len(row["results"]) > 1 for row in searches) / len(searches) < 0.5


def _digest(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.mark.slow
def test_same_seed_same_bytes_other_seed_differs(small_dir: Path, tmp_path: Path) -> None:
    """The same seed gives byte-identical files; another seed gives different events."""
    again = tmp_path / "again"
    simulate(preset("small"), again, seed=1)
    assert _digest(again) == _digest(small_dir)
    other = tmp_path / "other"
    simulate(preset("small"), other, seed=2)
    assert _digest(other)["events.parquet"] != _digest(small_dir)["events.parquet"]


def test_sessions_open_with_login_and_close_with_logout(small_dir: Path) -> None:
    """In every session, a login comes before its first other action and a logout after its last."""
    db = duckdb.connect()
    db.read_parquet((small_dir / "events.parquet").as_posix()).create_view("events")
    rows = db.execute(
        """
        SELECT session,
               min(time) FILTER (WHERE kind = 'login_success') AS login,
               min(time) FILTER (WHERE kind NOT IN ('login_success', 'logout')) AS first_action,
               max(time) FILTER (WHERE kind NOT IN ('login_success', 'logout')) AS last_action,
               max(time) FILTER (WHERE kind = 'logout') AS logout
        FROM events WHERE session IS NOT NULL GROUP BY session
        """
    ).fetchall()
    assert len(rows) > 1_000
    for session, login, first_action, last_action, logout in rows:
        if login is not None and first_action is not None:
            assert login < first_action, session
        if logout is not None and last_action is not None:
            assert logout > last_action, session


def test_treating_doctors_are_standing_and_a_few_change_in_the_period(small_dir: Path) -> None:
    """Every declared adult's world doctor is declared once, never ended; a few patients
    change doctor in the period: another doctor's declaration ends then and the world's
    doctor is declared at that moment."""
    db = duckdb.connect()
    db.read_parquet((small_dir / "evidence.parquet").as_posix()).create_view("evidence")
    db.read_parquet((small_dir / "world" / "subjects.parquet").as_posix()).create_view("subjects")
    (current, declared) = db.execute(
        """
        SELECT count(*) FILTER (WHERE e.ended IS NULL), count(DISTINCT s.subject)
        FROM subjects s JOIN evidence e
          ON e.subject = s.subject AND e.account = s.treating_doctor
             AND e.kind = 'treating_doctor'
        """
    ).fetchone() or (0, 0)
    (with_doctor,) = db.execute(
        "SELECT count(*) FROM subjects WHERE treating_doctor IS NOT NULL"
    ).fetchone() or (0,)
    assert current == declared == with_doctor
    start = preset("small").start
    changes = db.execute(
        """
        SELECT e.time = e.ended, CAST(e.ended AS DATE), e.account <> s.treating_doctor,
               (SELECT count(*) FROM evidence d WHERE d.subject = e.subject
                  AND d.account = e.account AND d.ended IS NULL AND d.time < e.time),
               (SELECT count(*) FROM evidence n WHERE n.subject = e.subject
                  AND n.account = s.treating_doctor AND n.ended IS NULL AND n.time = e.time)
        FROM evidence e JOIN subjects s USING (subject)
        WHERE e.ended IS NOT NULL
        """
    ).fetchall()
    assert 20 <= len(changes) <= with_doctor // 100
    for at_once, day, other_doctor, before, after in changes:
        assert (at_once, other_doctor, before, after) == (True, True, 1, 1)
        assert 0 <= (day - start).days < preset("small").days
