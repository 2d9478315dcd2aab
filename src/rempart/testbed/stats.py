"""``rempart stats``: the calibration figures of a simulated directory, next to their targets.

Figures are computed with DuckDB straight from the files `simulate` wrote, so
they check the output, not the generator's intentions. A read is *explained*
when care evidence for the same subject and the same account or site exists
at or before the read's time (the rule the guard applies online).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from rempart.errors import InputError
from rempart.testbed.calibration import TARGETS, Target
from rempart.truth import LEGITIMATE

__all__ = ["CalibrationFigures", "calibration", "render"]


@dataclass(frozen=True, slots=True)
class CalibrationFigures:
    """Measured figures (keyed like `TARGETS`) plus counts per scenario and hard case."""

    figures: dict[str, float]
    scenarios: dict[str, dict[str, int]]
    hard_cases: dict[str, int]
    totals: dict[str, int]
    targets: dict[str, Target] = field(default_factory=lambda: dict(TARGETS))

    @property
    def all_hold(self) -> bool:
        """Whether every figure with a target lies inside it."""
        return all(
            self.targets[name].holds(value)
            for name, value in self.figures.items()
            if name in self.targets
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures, targets and counts."""
        return {
            "figures": {
                name: {
                    "value": value,
                    "target": [self.targets[name].low, self.targets[name].high]
                    if name in self.targets
                    else None,
                    "holds": self.targets[name].holds(value) if name in self.targets else None,
                }
                for name, value in self.figures.items()
            },
            "scenarios": self.scenarios,
            "hard_cases": self.hard_cases,
            "totals": self.totals,
            "all_hold": self.all_hold,
        }


def _view(db: duckdb.DuckDBPyConnection, name: str, path: Path) -> None:
    """Expose a Parquet or JSON Lines file as view ``name``."""
    if not path.exists():
        raise InputError(f"{path}: missing (not a directory written by rempart simulate?)")
    reader = "read_parquet" if path.suffix == ".parquet" else "read_json_auto"
    quoted = path.as_posix().replace("'", "''")
    db.execute(f"CREATE VIEW {name} AS SELECT * FROM {reader}('{quoted}')")  # noqa: S608 (quoted path)


def _open(directory: Path) -> duckdb.DuckDBPyConnection:
    db = duckdb.connect()
    for stem in ("events", "evidence"):
        parquet = directory / f"{stem}.parquet"
        _view(db, stem, parquet if parquet.exists() else directory / f"{stem}.jsonl")
    _view(db, "truth", directory / "truth.parquet")
    _view(db, "accounts", directory / "world" / "accounts.jsonl")
    _view(db, "subjects", directory / "world" / "subjects.parquet")
    return db


def calibration(directory: Path) -> CalibrationFigures:
    """Compute the calibration figures of ``directory`` (written by ``rempart simulate``)."""
    db = _open(directory)
    legitimate = {"legitimate": LEGITIMATE}
    db.execute(
        """
        CREATE TABLE reads AS
        SELECT e.event_id, e.time, e.account, e.subject, a.profession, a.site,
               t.label, t.attacker, t.hard_case
        FROM events e JOIN truth t USING (event_id)
        LEFT JOIN accounts a ON a.account = e.account
        WHERE e.kind = 'record_view' AND e.outcome = 'success'
        """
    )
    db.execute(
        """
        CREATE TABLE explained AS
        WITH ev AS (SELECT * FROM evidence),
        by_site AS (SELECT subject, site, min(time) AS first FROM ev
                    WHERE site IS NOT NULL GROUP BY ALL),
        by_account AS (SELECT subject, account, min(time) AS first FROM ev
                       WHERE account IS NOT NULL GROUP BY ALL)
        SELECT r.event_id, r.label,
               coalesce(s.first <= r.time, false) OR coalesce(a.first <= r.time, false)
                   AS explained
        FROM reads r
        LEFT JOIN by_site s ON s.subject = r.subject AND s.site = r.site
        LEFT JOIN by_account a ON a.subject = r.subject AND a.account = r.account
        """
    )
    figures: dict[str, float] = {}
    per_day = db.execute(
        """
        WITH days AS (
            SELECT account, profession, CAST(time AS DATE) AS day, count(*) AS n FROM reads
            WHERE label = $legitimate GROUP BY ALL)
        SELECT profession, median(n), quantile_cont(n, 0.99) FROM days GROUP BY profession
        """,
        legitimate,
    ).fetchall()
    for profession, median, p99 in per_day:
        figures[f"{profession}.reads_per_day.median"] = float(median)
        figures[f"{profession}.reads_per_day.p99"] = float(p99)
    (treating,) = db.execute(
        """
        SELECT median(n) FROM (
            SELECT treating_doctor, count(*) AS n FROM subjects
            WHERE treating_doctor IS NOT NULL GROUP BY ALL)
        """
    ).fetchone() or (0,)
    figures["gp.treating_adults"] = float(treating or 0)
    (distinct,) = db.execute(
        """
        WITH gp_sites AS (
            SELECT site, count(*) AS gps FROM accounts WHERE profession = 'gp'
            GROUP BY ALL),
        seen AS (
            SELECT e.site, count(DISTINCT e.subject) AS n FROM evidence e
            JOIN gp_sites USING (site)
            WHERE e.time >= (SELECT max(time) FROM evidence) - INTERVAL 365 DAY
            GROUP BY ALL)
        SELECT median(n / gps) FROM seen JOIN gp_sites USING (site)
        """
    ).fetchone() or (0,)
    figures["gp.distinct_patients_per_year"] = float(distinct or 0)
    shares = db.execute(
        """
        SELECT avg(CASE WHEN explained THEN 0 ELSE 1 END) FILTER (WHERE label = $legitimate),
               avg(CASE WHEN explained THEN 0 ELSE 1 END) FILTER (WHERE label <> $legitimate)
        FROM explained
        """,
        legitimate,
    ).fetchone() or (None, None)
    for name, share in zip(("legitimate", "attack"), shares, strict=True):
        if share is not None:
            figures[f"{name}.unexplained_share"] = float(share)

    scenarios: dict[str, dict[str, int]] = {}
    for label, events_n, reads_n, exposed, unexplained, attackers, accounts_n in db.execute(
        """
        SELECT t.label, count(*),
               count(*) FILTER (WHERE e.kind = 'record_view' AND e.outcome = 'success'),
               count(DISTINCT e.subject) FILTER (WHERE e.kind = 'record_view'
                                                  AND e.outcome = 'success'),
               count(*) FILTER (WHERE x.explained = false),
               count(DISTINCT t.attacker), count(DISTINCT e.account)
        FROM events e JOIN truth t USING (event_id)
        LEFT JOIN explained x USING (event_id)
        GROUP BY t.label ORDER BY t.label
        """
    ).fetchall():
        scenarios[label] = {
            "events": events_n,
            "reads": reads_n,
            "distinct_subjects": exposed,
            "unexplained_reads": unexplained,
            "attackers": attackers,
            "accounts": accounts_n,
        }
    hard_cases = dict(
        db.execute(
            """SELECT hard_case, count(*) FROM truth
                WHERE hard_case IS NOT NULL GROUP BY ALL ORDER BY 1"""
        ).fetchall()
    )
    (professional_days,) = db.execute(
        """SELECT count(*) FROM (SELECT DISTINCT account, CAST(time AS DATE) FROM reads
            WHERE label = $legitimate)""",
        legitimate,
    ).fetchone() or (0,)
    totals = {"professional_days": int(professional_days)}
    return CalibrationFigures(figures, scenarios, hard_cases, totals)


def render(figures: CalibrationFigures) -> str:
    """A plain-text report: each figure, its target range and source, and whether it holds."""
    lines = [f"{'figure':42} {'value':>10}  {'target':>17}  ok  source"]
    for name, value in sorted(figures.figures.items()):
        target = figures.targets.get(name)
        if target is None:
            lines.append(f"{name:42} {value:10.3f}")
            continue
        mark = "yes" if target.holds(value) else "NO"
        span = f"{target.low:g}-{target.high:g}"
        lines.append(f"{name:42} {value:10.3f}  {span:>17}  {mark:3} {target.source}")
    lines.append("")
    lines.append(
        f"{'label':24} {'events':>9} {'reads':>9} {'subjects':>9} {'unexpl.':>9} "
        f"{'attackers':>9} {'accounts':>9}"
    )
    for label, row in figures.scenarios.items():
        lines.append(
            f"{label:24} {row['events']:9,} {row['reads']:9,} {row['distinct_subjects']:9,} "
            f"{row['unexplained_reads']:9,} {row['attackers']:9,} {row['accounts']:9,}"
        )
    lines.append("")
    lines.append(
        "hard cases (events): " + ", ".join(f"{k} {v:,}" for k, v in figures.hard_cases.items())
    )
    lines.append(f"legitimate professional-days: {figures.totals['professional_days']:,}")
    return "\n".join(lines)
