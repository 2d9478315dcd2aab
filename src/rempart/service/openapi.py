"""The JSON Schema components of the decision API's OpenAPI document.

They are generated from the msgspec types (`rempart.service.bodies`), as
the published record schema is (`rempart.schema`). Two components say more
than the types' field list: `Event` and `CareEvidence` also check fields
against each other in ``__post_init__`` (an account for a login, a subject
and categories for a successful record view, people listed only by a
successful search and never more than its ``result_count``, an IP
address…), and an API spec that left those rules out would call requests
valid that the API refuses. `components` spells those rules as ``anyOf`` branches, one per
shape of valid record; the schemathesis suite checks that the API accepts
every request the spec calls valid and refuses every other.

>>> schemas = components()
>>> len(schemas["Event"]["anyOf"]), schemas["StepUp"]["properties"]["event"]
(4, {'$ref': '#/components/schemas/Event'})
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, Final

import msgspec

from rempart.events import RESULTS_MAX, EventKind, Outcome
from rempart.evidence import STANDING_KINDS, EvidenceKind
from rempart.service.bodies import REQUEST_TYPES, RESPONSE_TYPES

__all__ = ["IP_ADDRESS", "components", "ref"]

_REF: Final = "#/components/schemas/{name}"
IP_ADDRESS: Final[dict[str, Any]] = {
    "type": "string",
    "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
    "description": "IPv4 or IPv6 address.",
}
_IDENTIFIER: Final[dict[str, Any]] = {"type": "string", "minLength": 1, "maxLength": 128}
_READS: Final = (EventKind.SEARCH, EventKind.RECORD_VIEW)
_ACCOUNT_KINDS: Final = tuple(kind.value for kind in EventKind if kind not in _READS)
_UNSUCCESSFUL: Final = tuple(outcome.value for outcome in Outcome if outcome is not Outcome.SUCCESS)
_STANDING: Final = tuple(kind.value for kind in EvidenceKind if kind in STANDING_KINDS)
_DATED: Final = tuple(kind.value for kind in EvidenceKind if kind not in STANDING_KINDS)


def ref(name: str) -> dict[str, str]:
    """A reference to the component ``name``."""
    return {"$ref": _REF.format(name=name)}


@cache
def components() -> dict[str, Any]:
    """Every schema the decision API's requests and responses refer to."""
    _, schemas = msgspec.json.schema_components(
        [*REQUEST_TYPES, *RESPONSE_TYPES], ref_template=_REF
    )
    schemas["Event"] = _event(schemas["Event"])
    schemas["CareEvidence"] = _care_evidence(schemas["CareEvidence"])
    return schemas


def _branch(
    base: dict[str, Any], required: tuple[str, ...], **properties: dict[str, Any]
) -> dict[str, Any]:
    branch = {key: copy.deepcopy(value) for key, value in base.items() if key != "description"}
    branch.pop("title", None)
    branch["properties"].update(properties)
    branch["required"] = [*base["required"], *required]
    return branch


def _event(base: dict[str, Any]) -> dict[str, Any]:
    """`Event` with ``__post_init__``'s rules: one branch per shape of valid event."""
    base = copy.deepcopy(base)
    base["properties"]["ip"] = IP_ADDRESS
    enum = {"type": "string", "enum": None}
    lookup = ref("Lookup")
    pseudonym = base["properties"]["subject"]["anyOf"][0]
    nobody = {"type": "array", "maxItems": 0}
    return {
        "title": base["title"],
        "description": base["description"],
        "anyOf": [
            # Account events: an account, no subject.
            _branch(
                base,
                ("account",),
                kind={**enum, "enum": list(_ACCOUNT_KINDS)},
                account=_IDENTIFIER,
                subject={"type": "null"},
                results=nobody,
            ),
            # A search: an account and a look-up; the people listed, if any, as `_results` says.
            {
                **_branch(
                    base,
                    ("account", "lookup"),
                    kind={**enum, "enum": [EventKind.SEARCH.value]},
                    account=_IDENTIFIER,
                    lookup=lookup,
                ),
                "allOf": _results(nobody),
            },
            # A record view that returned nothing.
            _branch(
                base,
                ("account", "lookup", "outcome"),
                kind={**enum, "enum": [EventKind.RECORD_VIEW.value]},
                account=_IDENTIFIER,
                lookup=lookup,
                outcome={**enum, "enum": list(_UNSUCCESSFUL)},
                results=nobody,
            ),
            # A successful record view: whose data, and which categories.
            _branch(
                base,
                ("account", "lookup", "subject", "categories"),
                kind={**enum, "enum": [EventKind.RECORD_VIEW.value]},
                account=_IDENTIFIER,
                lookup=lookup,
                outcome={**enum, "enum": [Outcome.SUCCESS.value]},
                subject=pseudonym,
                categories={**base["properties"]["categories"], "minItems": 1},
                results=nobody,
            ),
        ],
    }


def _results(nobody: dict[str, Any]) -> list[dict[str, Any]]:
    """A search's rules on ``results``: listed only on success, never more than ``result_count``.

    A field absent from the request satisfies a ``properties`` rule, as the
    struct's defaults do (``outcome`` success, no ``result_count``). The count
    rule spells each ``result_count`` under `RESULTS_MAX` as its own branch.
    """
    counted: dict[str, Any] = {"anyOf": [{"type": "null"}, {"minimum": RESULTS_MAX}]}
    return [
        {
            "anyOf": [
                {"properties": {"results": nobody}},
                {"properties": {"outcome": {"const": Outcome.SUCCESS.value}}},
            ]
        },
        {
            "anyOf": [
                {"properties": {"result_count": counted}},
                *(
                    {
                        "properties": {
                            "result_count": {"const": count},
                            "results": {"maxItems": count},
                        }
                    }
                    for count in range(RESULTS_MAX)
                ),
            ]
        },
    ]


def _care_evidence(base: dict[str, Any]) -> dict[str, Any]:
    """`CareEvidence` with its rules: an account, a site, or both; ``ended`` on standing kinds."""
    kinds = {"type": "string", "enum": None}
    shapes: tuple[dict[str, Any], ...] = (
        {"kind": {**kinds, "enum": list(_DATED)}, "ended": {"type": "null"}},
        {"kind": {**kinds, "enum": list(_STANDING)}},
    )
    return {
        "title": base["title"],
        "description": base["description"],
        "anyOf": [
            _branch(base, (holder,), **{holder: _IDENTIFIER}, **shape)
            for holder in ("account", "site")
            for shape in shapes
        ],
    }
