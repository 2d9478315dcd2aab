"""The published JSON Schema."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import msgspec
import pytest
from click.testing import CliRunner

from rempart.cli import main
from rempart.events import RESULTS_MAX
from rempart.schema import document, dumps, generate, record_schema
from rempart.testing import make_event, pseudonym_for


def test_shipped_schema_matches_types() -> None:
    """The schema file shipped in the package is exactly the one generated from the types."""
    assert document() == json.loads(dumps())
    assert document() == json.loads(json.dumps(generate()))


def test_cli_prints_schema() -> None:
    """`rempart schema` prints the shipped schema."""
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == document()


def test_schema_accepts_event_and_refuses_clear_nir() -> None:
    """An independent validator accepts a good event and refuses a clear NIR as subject."""
    validator = jsonschema.Draft202012Validator(record_schema("Event"))
    record = json.loads(json.dumps(make_event().to_dict(), default=str))
    assert not list(validator.iter_errors(record))
    record["subject"] = "253072B07300470"
    assert list(validator.iter_errors(record))


def test_schema_does_not_depend_on_msgspec_docstring_cleaning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A msgspec keeping docstrings indented (as before 0.23) still generates the shipped file."""
    original = msgspec.json.schema_components

    def indented(*args: Any, **kwargs: Any) -> Any:
        schemas, components = original(*args, **kwargs)
        for component in components.values():
            if "description" in component:
                lines = component["description"].split("\n")
                component["description"] = "\n".join(
                    [lines[0], *("    " + line if line else line for line in lines[1:])]
                )
        return schemas, components

    monkeypatch.setattr(msgspec.json, "schema_components", indented)
    assert json.loads(json.dumps(generate())) == document()


def test_schema_bounds_search_results() -> None:
    """An independent validator accepts a page of listed pseudonyms and refuses a longer list."""
    validator = jsonschema.Draft202012Validator(record_schema("Event"))
    people = [pseudonym_for(i) for i in range(RESULTS_MAX)]
    event = make_event(kind="search", result_count=300, results=tuple(people))
    record = json.loads(json.dumps(event.to_dict(), default=str))
    assert not list(validator.iter_errors(record))
    record["results"] = [*people, pseudonym_for(RESULTS_MAX)]
    assert [list(error.path) for error in validator.iter_errors(record)] == [["results"]]
