"""OCSF events: the activity in its class, a Detection Finding per alert, valid for OCSF 1.4."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from rempart.decision import Decision, Verdict
from rempart.events import Event, EventKind
from rempart.soc.ocsf import OCSF_VERSION, OcsfFormat, ocsf_events
from rempart.testing import make_event

from .cases import SCENARIOS, T0, allowed_read, challenged_login, denied_read
from .specs import check_ocsf


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_every_scenario_gives_valid_events_with_the_required_attributes(
    scenario: Callable[[], tuple[Decision, Event]],
) -> None:
    """Each scenario's events are valid OCSF 1.4 and name the product, time and source."""
    decision, event = scenario()
    documents = ocsf_events(decision, event)
    for document in documents:
        check_ocsf(document)
        assert document["metadata"]["version"] == OCSF_VERSION
        assert document["metadata"]["product"]["name"] == "Rempart"
        assert document["metadata"]["product"]["vendor_name"] == "Rempart"
        assert document["time"] == int(event.time.timestamp() * 1000)
    activity = documents[0]
    assert activity["metadata"]["uid"] == event.event_id
    assert activity["src_endpoint"] == {"ip": event.ip}
    assert activity["actor"] == {"user": {"name": event.account}}
    assert activity["http_request"] == {"user_agent": event.user_agent}


def test_a_challenged_login_is_an_authentication_held_for_step_up_and_a_finding() -> None:
    """A challenged login: Authentication Logon, disposition Challenge, plus a Detection Finding."""
    activity, finding = ocsf_events(*challenged_login())
    assert (activity["class_uid"], activity["activity_id"], activity["type_uid"]) == (
        3002,
        1,
        300201,
    )
    assert activity["user"] == {"name": "A00042"}
    assert activity["is_mfa"] is False
    assert (activity["status_id"], activity["severity_id"]) == (0, 3)
    assert (activity["action_id"], activity["disposition_id"]) == (4, 23)
    assert "is_alert" not in activity
    assert finding["type_uid"] == 200401
    assert finding["is_alert"] is True
    assert finding["finding_info"]["analytic"] == {"name": "takeover", "type_id": 1, "type": "Rule"}
    assert finding["finding_info"]["types"] == ["new_network_and_browser"]
    assert finding["finding_info"]["related_events"] == [
        {"uid": "ev-login-1", "type_uid": 300201, "severity_id": 3}
    ]
    assert finding["evidences"] == [
        {
            "actor": {"user": {"name": "A00042"}},
            "src_endpoint": {"ip": "203.0.113.9"},
            "http_request": {"user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"},
        }
    ]


def test_a_denied_read_is_a_blocked_api_read_with_its_actions_and_a_finding() -> None:
    """A refused read: API Activity Read, Blocked, failure, its actions, and both detectors."""
    decision, event = denied_read()
    activity, finding = ocsf_events(decision, event)
    assert (activity["class_uid"], activity["category_uid"], activity["type_uid"]) == (
        6003,
        6,
        600302,
    )
    assert activity["api"] == {"operation": "record_view", "service": {"name": "portal"}}
    assert activity["resources"] == [{"type": "patient record", "uid": event.subject}]
    assert (activity["status_id"], activity["severity_id"], activity["severity"]) == (
        2,
        4,
        "High",
    )
    assert (activity["action_id"], activity["disposition_id"]) == (2, 2)
    assert [action["kind"] for action in activity["unmapped"]["rempart"]["actions"]] == [
        "revoke_session",
        "lock_account",
        "alert",
    ]
    assert finding["finding_info"]["title"] == decision.reasons[0].message
    assert finding["finding_info"]["analytic"]["name"] == "budget"
    assert [a["name"] for a in finding["finding_info"]["related_analytics"]] == ["enumeration"]


def test_an_allowed_read_is_one_allowed_api_activity_and_no_finding() -> None:
    """An allowed read gives the activity only: success, Informational, Allowed."""
    documents = ocsf_events(*allowed_read())
    assert [document["class_uid"] for document in documents] == [6003]
    (activity,) = documents
    assert (activity["status_id"], activity["severity_id"]) == (1, 1)
    assert (activity["action_id"], activity["disposition_id"]) == (1, 1)


@pytest.mark.parametrize("kind", list(EventKind))
@pytest.mark.parametrize("verdict", list(Verdict))
def test_every_event_kind_and_verdict_gives_valid_events(kind: EventKind, verdict: Verdict) -> None:
    """Every portal event kind, under every verdict, is valid in its class (and its finding)."""
    documents = ocsf_events(
        Decision(event_id="ev1", verdict=verdict), make_event(event_id="ev1", kind=kind)
    )
    assert len(documents) == (1 if verdict is Verdict.ALLOW else 2)
    for document in documents:
        check_ocsf(document)


def test_without_its_event_a_decision_is_a_base_event_and_a_finding() -> None:
    """Without its event, a refusal is a Base Event with its finding, both valid."""
    activity, finding = ocsf_events(Decision(event_id="ev1", verdict=Verdict.DENY, time=T0))
    check_ocsf(activity)
    check_ocsf(finding)
    assert (activity["class_uid"], activity["type_uid"]) == (0, 0)
    assert "evidences" not in finding
    assert finding["finding_info"]["title"] == "deny event"


def test_the_format_renders_each_event_as_one_json_line() -> None:
    """`OcsfFormat` renders exactly `ocsf_events`, one JSON line each."""
    decision, event = denied_read()
    lines = list(OcsfFormat().render(decision, event))
    parsed: list[dict[str, Any]] = [msgspec.json.decode(line) for line in lines]
    assert parsed == ocsf_events(decision, event)
    assert all(b"\n" not in line for line in lines)
