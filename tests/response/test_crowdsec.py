"""The CrowdSec exporter: a decision stream a bouncer reads, checked against CrowdSec's own model.

The schema below is transcribed from CrowdSec's Local API swagger,
``pkg/models/localapi_swagger.yaml`` in github.com/crowdsecurity/crowdsec
(definitions ``DecisionsStreamResponse``, ``GetDecisionsResponse`` and
``Decision``): ``Decision`` requires ``origin``, ``type``, ``scope``,
``value``, ``duration`` and ``scenario`` (strings); ``id`` is an integer,
``until`` a string, ``simulated`` a boolean. Swagger 2.0 schemas are JSON
Schema draft 4, so draft 4 validates them. Beyond the swagger, the tests pin
what bouncers parse: ``duration`` is Go's ``time.ParseDuration`` text, ``scope``
is ``Ip`` or ``Range`` and ``value`` an address or a CIDR prefix to match.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, ValidationError

from rempart.errors import ConfigError
from rempart.guard.decision import ActionKind
from rempart.response import CrowdSecExporter, EnforcerRegistry, MemoryLedger, dispatch, lift
from rempart.response.crowdsec import go_duration

from .actions import HOUR, T0, ban, lock

DECISION = {
    "title": "Decision",
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "origin": {"type": "string"},
        "type": {"type": "string"},
        "scope": {"type": "string"},
        "value": {"type": "string"},
        "duration": {"type": "string"},
        "until": {"type": "string"},
        "scenario": {"type": "string"},
        "simulated": {"type": "boolean"},
    },
    "required": ["origin", "type", "scope", "value", "duration", "scenario"],
}
STREAM = {
    "title": "DecisionsStreamResponse",
    "type": "object",
    "properties": {
        "new": {"$ref": "#/definitions/GetDecisionsResponse"},
        "deleted": {"$ref": "#/definitions/GetDecisionsResponse"},
    },
    "definitions": {
        "GetDecisionsResponse": {
            "title": "GetDecisionsResponse",
            "type": "array",
            "items": {"$ref": "#/definitions/Decision"},
        },
        "Decision": DECISION,
    },
}
# Go's time.ParseDuration: an optional sign and one or more decimal numbers with a unit.
GO_DURATION = re.compile(r"-?(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+")


def _check(stream: dict[str, Any]) -> None:
    """Validate ``stream`` against the swagger schema and what bouncers parse."""
    Draft4Validator.check_schema(STREAM)
    Draft4Validator(STREAM).validate(stream)
    assert set(stream) == {"new", "deleted"}
    for decision in stream["new"] + stream["deleted"]:
        assert GO_DURATION.fullmatch(decision["duration"]), decision["duration"]
        assert decision["type"] == "ban"
        assert decision["origin"] == "rempart"
        assert re.fullmatch(r"rempart/[A-Za-z0-9_.-]+", decision["scenario"])
        if decision["scope"] == "Ip":
            ipaddress.ip_address(decision["value"])
        else:
            assert decision["scope"] == "Range"
            assert "/" in decision["value"]
            ipaddress.ip_network(decision["value"], strict=True)


def _exporter(tmp_path: Path) -> tuple[MemoryLedger, EnforcerRegistry, CrowdSecExporter]:
    ledger = MemoryLedger()
    exporter = CrowdSecExporter(tmp_path / "decisions.json", ledger)
    registry = EnforcerRegistry()
    registry.register(exporter)
    return ledger, registry, exporter


def test_bans_are_decisions_in_the_stream_format(tmp_path: Path) -> None:
    """Single addresses are ``Ip``, prefixes ``Range``, with the time left as a Go duration."""
    ledger, registry, exporter = _exporter(tmp_path)
    dispatch(ledger, registry, ban("51.75.3.7", T0 + 4 * HOUR), "guard:login_attacks", T0)
    dispatch(ledger, registry, ban("2001:db8:42::/48"), "analyst:alice", T0)
    stream = json.loads(exporter.path.read_text())
    _check(stream)
    assert stream == {
        "new": [
            {
                "id": 1,
                "origin": "rempart",
                "type": "ban",
                "scope": "Ip",
                "value": "51.75.3.7",
                "duration": "4h0m0s",
                "until": "2022-03-01T13:00:00Z",
                "scenario": "rempart/password_guessing",
            },
            {
                "id": 2,
                "origin": "rempart",
                "type": "ban",
                "scope": "Range",
                "value": "2001:db8:42::/48",
                "duration": "8760h0m0s",
                "until": "2023-03-01T09:00:00Z",
                "scenario": "rempart/password_guessing",
            },
        ],
        "deleted": [],
    }


def test_duration_counts_down_and_expired_bans_leave(tmp_path: Path) -> None:
    """The duration is the time left at export; an expired ban is in neither list."""
    ledger, _, exporter = _exporter(tmp_path)
    ledger.record(ban("51.75.3.7", T0 + 4 * HOUR), "guard:login_attacks")
    later = exporter.stream(T0 + timedelta(seconds=2))
    _check(later)
    assert later["new"][0]["duration"] == "3h59m58s"
    assert exporter.stream(T0 + 4 * HOUR) == {"new": [], "deleted": []}


def test_lifting_moves_the_decision_to_deleted(tmp_path: Path) -> None:
    """A lifted ban's decision, same id, moves to ``deleted`` until it would have expired."""
    ledger, registry, exporter = _exporter(tmp_path)
    dispatch(ledger, registry, ban("51.75.3.0/24", T0 + HOUR), "analyst:alice", T0)
    dispatch(ledger, registry, ban("90.12.34.56", T0 + HOUR), "guard:login_attacks", T0)
    lift(ledger, registry, "51.75.3.0/24", ActionKind.BAN_ADDRESS, "analyst:bob", T0 + HOUR / 2)
    stream = json.loads(exporter.path.read_text())
    _check(stream)
    assert [(d["id"], d["value"]) for d in stream["new"]] == [(2, "90.12.34.56")]
    assert [(d["id"], d["value"], d["scope"], d["duration"]) for d in stream["deleted"]] == [
        (1, "51.75.3.0/24", "Range", "30m0s")
    ]
    assert exporter.stream(T0 + HOUR)["deleted"] == []


def test_only_address_bans_are_exported(tmp_path: Path) -> None:
    """Locks and session revocations never reach CrowdSec."""
    ledger, registry, exporter = _exporter(tmp_path)
    dispatch(ledger, registry, lock("A00042"), "guard:canary", T0)
    assert not exporter.path.exists()
    assert exporter.stream(T0) == {"new": [], "deleted": []}


def test_a_schema_violation_would_be_caught(tmp_path: Path) -> None:
    """The check is a real one: a decision without a scenario fails the swagger schema."""
    ledger, _, exporter = _exporter(tmp_path)
    ledger.record(ban("51.75.3.7", T0 + HOUR), "guard:login_attacks")
    stream = exporter.stream(T0)
    del stream["new"][0]["scenario"]
    with pytest.raises(ValidationError, match="'scenario' is a required property"):
        Draft4Validator(STREAM).validate(stream)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (60, "1m0s"), (3600, "1h0m0s"), (14398, "3h59m58s"), (-61, "-1m1s")],
)
def test_go_duration_matches_go(seconds: int, text: str) -> None:
    """Durations read like Go's ``time.Duration.String()`` for whole seconds."""
    assert go_duration(seconds) == text


def test_invalid_options_are_config_errors(tmp_path: Path) -> None:
    """An origin with spaces or a non-positive open-ended duration is refused."""
    with pytest.raises(ConfigError, match=r"crowdsec\.origin"):
        CrowdSecExporter(tmp_path / "d.json", MemoryLedger(), origin="my origin")
    with pytest.raises(ConfigError, match=r"crowdsec\.open_ended"):
        CrowdSecExporter(tmp_path / "d.json", MemoryLedger(), open_ended=timedelta(0))
