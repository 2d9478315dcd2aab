"""What every log parser promises, checked on any output: the oracle of the fuzzers and tests.

`check` takes one thing a parser yielded and raises AssertionError unless it
keeps the contract of `rempart.ingestion.logs.base`: an `Event` that validates
(``Event.from_dict(e.to_dict()) == e``), a located `Rejected`, or a `Skipped`;
and no clear NIR in an event (the ``event_id`` hash and pseudonyms aside), a
reject's message or field, or a skip's reason. `Harness` runs the parsers of
one registry format on lines built from fuzz input (`fuzz_parsers`).

To add a format, add a `Format` to `FORMATS`: the `ParserOptions` it is
fuzzed with (one per configuration worth covering) and the sample files whose
lines seed the inputs (the fuzzer's bytes are spliced into a seed line, so that
inputs get past the first syntax check).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stdnum.fr import nir as stdnum_nir

from rempart.events import Event
from rempart.ingestion.logs import LogLine, LogParser, ParserOptions, ParserRegistry, Skipped
from rempart.ingestion.logs import default_parsers as _default_parsers
from rempart.ingestion.logs.access import register as register_access
from rempart.ingestion.logs.routes import RouteTable
from rempart.ingestion.logs.tabular import ColumnMapping
from rempart.ingestion.rejected import Rejected
from rempart.pseudonym import Pseudonymizer
from rempart.secret import Secret

SAMPLES = Path(__file__).parent / "samples"
_CSV_HEADER = (SAMPLES / "csv" / "portal-export.csv").read_text().splitlines()[0]
PORTAL_ROUTES = Path(__file__).parents[3] / "src" / "rempart" / "data" / "routes-portal.toml"
KEY = Pseudonymizer(Secret(b"fuzzing-key-0123456789"))
MAX_LINES = 8


@dataclass(frozen=True)
class Format:
    """How to fuzz one registry format: its configurations and its seed lines.

    ``prelude``: lines every input starts with (a CSV header). ``per_line``: whether each
    line gives at least one outcome (a FHIR Bundle spans many lines and gives one a
    resource).
    """

    options: Callable[[], list[ParserOptions]]
    samples: tuple[str, ...]
    prelude: tuple[str, ...] = ()
    per_line: bool = True


def _routes(path: Path) -> ParserOptions:
    return ParserOptions(
        pseudonymizer=KEY, config=RouteTable.from_toml(path), config_path=str(path)
    )


FORMATS: dict[str, Format] = {
    "nginx": Format(
        options=lambda: [
            _routes(SAMPLES / "access" / "nginx-combined.toml"),
            _routes(SAMPLES / "access" / "apache-combined.toml"),
            _routes(PORTAL_ROUTES),
        ],
        samples=(
            "access/nginx-combined.log",
            "access/apache-combined.log",
            "access/nginx-json.log",
        ),
    ),
    "apache": Format(
        options=lambda: [_routes(SAMPLES / "access" / "apache-combined.toml")],
        samples=("access/apache-combined.log",),
    ),
    "fhir": Format(
        options=lambda: [ParserOptions(pseudonymizer=KEY)],
        samples=("fhir/r4-examples.ndjson", "fhir/r5-examples.ndjson", "fhir/r4-bundle.json"),
        per_line=False,
    ),
    "csv": Format(
        options=lambda: [
            ParserOptions(
                pseudonymizer=KEY,
                config=ColumnMapping.from_toml(SAMPLES / "csv" / "portal-export.toml"),
            )
        ],
        samples=("csv/portal-export.csv",),
        prelude=(_CSV_HEADER,),
    ),
}


def registry() -> ParserRegistry:
    """The built-in formats, with the access logs registered if the default set lacks them."""
    parsers = _default_parsers()
    if "nginx" not in parsers:
        register_access(parsers)
    return parsers


# The oracle, written apart from the parsers' own checks: a run of digits (2A/2B allowed)
# and separators holding 15 characters that python-stdnum accepts as a NIR.
_RUN = re.compile(r"[0-9ABab .+\-]{15,}")
_SEPARATOR = re.compile(r"[ .+\-]")


def holds_clear_nir(text: str) -> bool:
    """Whether ``text`` contains a valid NIR, written with or without separators."""
    for run in _RUN.findall(text):
        compact = _SEPARATOR.sub("", run).upper()
        if any(stdnum_nir.is_valid(compact[i : i + 15]) for i in range(len(compact) - 14)):
            return True
    return False


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


_HASHED_OR_PSEUDONYMS = ("event_id", "subject", "results")


def check(outcome: object) -> None:
    """Raise AssertionError unless ``outcome`` keeps the parser contract."""
    if isinstance(outcome, Event):
        record = outcome.to_dict()
        if Event.from_dict(record) != outcome:
            raise AssertionError(f"event does not round-trip: {record}")
        for name, value in record.items():
            if name not in _HASHED_OR_PSEUDONYMS and any(map(holds_clear_nir, _strings(value))):
                raise AssertionError(f"clear NIR in the event's {name}")
    elif isinstance(outcome, Rejected):
        if outcome.line < 1 or holds_clear_nir(outcome.message + (outcome.field or "")):
            raise AssertionError(f"bad reject: {outcome!r}")
    elif isinstance(outcome, Skipped):
        if holds_clear_nir(outcome.reason):
            raise AssertionError(f"clear NIR in a skip reason: {outcome.reason}")
    else:
        raise AssertionError(f"not an Event, Rejected or Skipped: {outcome!r}")


class Harness:
    """Runs the parsers of registry format ``name`` on lines built from fuzz input."""

    def __init__(self, name: str) -> None:
        chosen = FORMATS[name]
        self.format = chosen
        parsers = registry()
        self.parsers: list[LogParser] = [parsers.create(name, o) for o in chosen.options()]
        self.seeds = [
            line
            for sample in chosen.samples
            for line in (SAMPLES / sample).read_bytes().decode("utf-8", "replace").splitlines()
        ]

    def lines(self, data: bytes) -> list[LogLine]:
        """Lines from ``data``: its text alone, or spliced into a seed line (first bytes say)."""
        prelude = list(self.format.prelude)
        if len(data) < 4:
            pieces = [*prelude, data.decode("utf-8", "replace")]
        else:
            text = data[4:].decode("utf-8", "replace")
            if data[1] % 2:
                seed = self.seeds[data[2] % len(self.seeds)]
                start = data[3] * len(seed) // 256
                text = seed[:start] + text + seed[start + data[1] % 32 :]
            pieces = [*prelude, *text.split("\n")[:MAX_LINES]]
        return [LogLine("fuzz", number, piece) for number, piece in enumerate(pieces, 1)]

    def __call__(self, data: bytes) -> None:
        parser = self.parsers[data[0] % len(self.parsers)] if data else self.parsers[0]
        lines = self.lines(data)
        outcomes = list(parser.parse(lines))
        for outcome in outcomes:
            check(outcome)
        if self.format.per_line and len(outcomes) < len(lines) - len(self.format.prelude):
            raise AssertionError("a line gave no outcome")
