"""ECS documents: the fields a SIEM reads, with ECS's allowed values, for every kind of decision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator

from rempart.decision import Action, ActionKind, Decision, Verdict
from rempart.events import Event, EventKind
from rempart.soc.ecs import ECS_VERSION, EcsFormat, ecs_document
from rempart.testing import make_event

from .cases import SCENARIOS, T0, allowed_read, challenged_login, denied_read
from .specs import ECS_SCHEMA, OCSF_SCHEMA, check_ecs


@pytest.mark.parametrize("schema", [ECS_SCHEMA, OCSF_SCHEMA], ids=["ecs", "ocsf"])
def test_the_test_schemas_are_valid_json_schemas(schema: dict[str, Any]) -> None:
    """The ECS and OCSF subset schemas the tests validate against are themselves valid."""
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_every_scenario_is_a_valid_ecs_document(
    scenario: Callable[[], tuple[Decision, Event]],
) -> None:
    """Each scenario's document fits the ECS subset schema and carries the required fields."""
    decision, event = scenario()
    document = ecs_document(decision, event)
    check_ecs(document)
    assert document["ecs"]["version"] == ECS_VERSION
    assert document["event"]["id"] == event.event_id
    assert document["event"]["action"] == event.kind.value
    assert document["source"]["ip"] == event.ip
    assert document["user"]["name"] == event.account
    assert document["user_agent"]["original"] == event.user_agent
    assert document["labels"] == {"verdict": decision.verdict.value}


def test_a_challenged_login_is_an_authentication_alert_awaiting_its_outcome() -> None:
    """A challenged login is an alert in authentication and intrusion detection, outcome unknown."""
    document = ecs_document(*challenged_login())
    event = document["event"]
    assert event["kind"] == "alert"
    assert event["category"] == ["authentication", "intrusion_detection"]
    assert event["type"] == ["start", "denied"]
    assert event["outcome"] == "unknown"
    assert event["severity"] == 3
    assert event["reason"] == "login from a network and a browser both new to the account"
    assert document["rule"] == {"name": ["takeover"], "id": ["new_network_and_browser"]}
    assert document["@timestamp"] == "2022-03-01T09:00:00.000000Z"


def test_a_denied_read_carries_its_actions_reasons_and_pseudonym() -> None:
    """A refused read lists every action (with its expiry), both detectors and the pseudonym."""
    decision, event = denied_read()
    document = ecs_document(decision, event)
    assert document["event"]["kind"] == "alert"
    assert document["event"]["category"] == ["web", "intrusion_detection"]
    assert document["event"]["type"] == ["access", "denied"]
    assert document["event"]["outcome"] == "failure"
    assert document["event"]["severity"] == 4
    assert document["@timestamp"] == "2022-03-01T09:20:00.250000Z"
    assert document["rule"]["name"] == ["budget", "enumeration"]
    assert document["rempart"]["actions"] == [
        {"kind": "revoke_session", "target": "s-9f2"},
        {"kind": "lock_account", "target": "A00042", "until": "2022-03-02T09:00:00Z"},
        {"kind": "alert", "target": "A00042"},
    ]
    assert document["rempart"]["subject"] == event.subject
    assert document["rempart"]["categories"] == ["identity", "nir"]
    assert document["rempart"]["reasons"][0]["figures"] == {
        "unexplained_24h": 41.0,
        "budget_24h": 40.0,
    }


def test_an_allowed_read_is_a_plain_web_access_event() -> None:
    """An allowed read is an ``event`` of category web, type access, outcome success, no rule."""
    document = ecs_document(*allowed_read())
    assert document["event"]["kind"] == "event"
    assert document["event"]["category"] == ["web"]
    assert document["event"]["type"] == ["access"]
    assert document["event"]["outcome"] == "success"
    assert document["event"]["severity"] == 1
    assert "rule" not in document
    assert "reason" not in document["event"]


def test_an_allowed_decision_with_an_alert_action_is_an_allowed_alert() -> None:
    """An allow that raises an alert action is an ``alert`` of type ``allowed``."""
    event = make_event(event_id="ev1", kind=EventKind.SEARCH)
    decision = Decision(
        event_id="ev1",
        verdict=Verdict.ALLOW,
        actions=(Action(kind=ActionKind.ALERT, target="AS16276"),),
    )
    document = ecs_document(decision, event)
    check_ecs(document)
    assert document["event"]["kind"] == "alert"
    assert document["event"]["type"] == ["access", "allowed"]
    assert document["event"]["severity"] == 2


@pytest.mark.parametrize("kind", list(EventKind))
@pytest.mark.parametrize("verdict", list(Verdict))
def test_every_event_kind_and_verdict_gives_allowed_category_and_type_pairs(
    kind: EventKind, verdict: Verdict
) -> None:
    """Every portal event kind, under every verdict, maps to categories and types ECS expects."""
    document = ecs_document(
        Decision(event_id="ev1", verdict=verdict), make_event(event_id="ev1", kind=kind)
    )
    check_ecs(document)
    assert document["event"]["category"]


def test_without_its_event_a_decision_still_makes_a_valid_document() -> None:
    """Exported without its event, a refusal is still a dated, valid alert document."""
    document = ecs_document(Decision(event_id="ev1", verdict=Verdict.DENY, time=T0))
    check_ecs(document)
    assert document["event"]["category"] == ["intrusion_detection"]
    assert "source" not in document
    assert "user" not in document


def test_a_decision_without_time_or_event_is_refused() -> None:
    """Neither the decision nor an event gives a time: ValueError, not a document without one."""
    with pytest.raises(ValueError, match="no time"):
        ecs_document(Decision(event_id="ev1", verdict=Verdict.ALLOW))


def test_the_format_renders_the_document_as_one_json_line() -> None:
    """`EcsFormat` renders exactly `ecs_document` as JSON, on one line."""
    decision, event = denied_read()
    (line,) = EcsFormat().render(decision, event)
    assert b"\n" not in line
    parsed: dict[str, Any] = msgspec.json.decode(line)
    assert parsed == ecs_document(decision, event)
