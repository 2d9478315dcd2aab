"""The decision API's `Event` component says of search results what the struct enforces."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import msgspec
import pytest

from rempart.events import RESULTS_MAX, Event
from rempart.service.openapi import components
from rempart.testing import make_event, pseudonym_for

PEOPLE = [pseudonym_for(n) for n in range(RESULTS_MAX + 1)]
SEARCH = json.loads(json.dumps(make_event(kind="search", lookup="search").to_dict(), default=str))
READ = json.loads(json.dumps(make_event().to_dict(), default=str))
LOGIN = json.loads(json.dumps(make_event(kind="login_success").to_dict(), default=str))


@pytest.mark.parametrize(
    "record",
    [
        SEARCH | {"results": PEOPLE[:2]},
        SEARCH | {"results": PEOPLE[:2], "result_count": 2},
        SEARCH | {"results": PEOPLE[:RESULTS_MAX], "result_count": 500},
        SEARCH | {"results": PEOPLE[:2], "result_count": 1},
        SEARCH | {"results": PEOPLE[:5], "result_count": 4},
        SEARCH | {"results": PEOPLE},
        SEARCH | {"results": PEOPLE[:2], "outcome": "failure"},
        SEARCH | {"results": [], "outcome": "failure"},
        READ | {"results": PEOPLE[:1]},
        LOGIN | {"results": PEOPLE[:1]},
    ],
)
def test_component_agrees_with_the_struct_on_results(record: dict[str, Any]) -> None:
    """A search listing people is valid to the API spec exactly when `Event` accepts it."""
    root = {"components": {"schemas": components()}, "$ref": "#/components/schemas/Event"}
    valid_to_spec = jsonschema.Draft202012Validator(root).is_valid(record)
    try:
        Event.from_dict(record)
    except msgspec.ValidationError:
        accepted = False
    else:
        accepted = True
    assert valid_to_spec is accepted
