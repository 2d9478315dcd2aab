"""The published, versioned JSON Schema of every record Rempart reads or writes.

The schema is generated from the msgspec types (`Event`, `CareEvidence`,
`Site`, `Account`, `Truth`) and shipped as ``rempart/schemas/rempart-v1.json``; a test
pins the shipped file to the generated one, so the two cannot drift.
``rempart schema`` prints it.

Descriptions come from the types' docstrings. msgspec releases differ in how
they clean a docstring (0.23 dedents it, earlier ones kept the indentation), so
Rempart normalises every description itself with ``inspect.cleandoc``: the
generated document is the same whichever msgspec the range allows.

>>> document()["version"] == SCHEMA_VERSION
True
>>> sorted(document()["$defs"])[:2]
['Account', 'CareEvidence']
"""

from __future__ import annotations

import inspect
import json
from functools import cache
from importlib import resources
from typing import Any, Final

import msgspec

from rempart.directory import Account, Site
from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.truth import Truth

__all__ = ["RECORD_TYPES", "SCHEMA_VERSION", "document", "generate", "record_schema"]

SCHEMA_VERSION: Final = "1.1.0"
SCHEMA_FILE: Final = "rempart-v1.json"
RECORD_TYPES: Final[dict[str, type[msgspec.Struct]]] = {
    "Event": Event,
    "CareEvidence": CareEvidence,
    "Site": Site,
    "Account": Account,
    "Truth": Truth,
}


def generate() -> dict[str, Any]:
    """Build the schema document from the record types."""
    _, components = msgspec.json.schema_components(
        list(RECORD_TYPES.values()), ref_template="#/$defs/{name}"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:rempart:schema:{SCHEMA_VERSION}",
        "title": "Rempart records",
        "version": SCHEMA_VERSION,
        "description": (
            "Portal events (JSON Lines, one Event per line), care evidence, the account "
            "directory (sites and accounts), and the testbed's ground-truth labels. "
            "Subjects are keyed pseudonyms of the NIR."
        ),
        "$defs": _clean_descriptions(components),
    }


def _clean_descriptions(node: Any) -> Any:
    """``node`` with every ``description`` string dedented by ``inspect.cleandoc``.

    >>> _clean_descriptions({"a": [{"description": "One.\\n\\n    Two."}]})
    {'a': [{'description': 'One.\\n\\nTwo.'}]}
    """
    if isinstance(node, dict):
        return {
            key: inspect.cleandoc(value)
            if key == "description" and isinstance(value, str)
            else _clean_descriptions(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_clean_descriptions(item) for item in node]
    return node


@cache
def document() -> dict[str, Any]:
    """The shipped schema document."""
    text = resources.files("rempart").joinpath("schemas", SCHEMA_FILE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def record_schema(name: str) -> dict[str, Any]:
    """A standalone schema validating one record type (``Event``, ``CareEvidence``…)."""
    if name not in RECORD_TYPES:
        raise KeyError(name)
    return {**document(), "$ref": f"#/$defs/{name}"}


def dumps() -> str:
    """The schema as pretty JSON text (what ``rempart schema`` prints)."""
    return json.dumps(generate(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
