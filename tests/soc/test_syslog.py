"""RFC 5424 messages: strict syntax, escaping of hostile values, bounded lengths, configuration."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rempart.decision import Action, ActionKind, Decision, Reason, Verdict
from rempart.errors import ConfigError
from rempart.events import Event, EventKind
from rempart.soc.syslog import DOCUMENTATION_PEN, Facility, SyslogFormat
from rempart.testing import make_event

from .cases import HOSTILE, SCENARIOS, T0, allowed_read, challenged_login, denied_read
from .specs import check_syslog

SD_ID = f"rempart@{DOCUMENTATION_PEN}"


def _params(message: bytes, *, max_length: int = 2048) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = check_syslog(message, max_length=max_length)["elements"][SD_ID]
    return params


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_every_scenario_is_a_strict_rfc5424_message(
    scenario: Callable[[], tuple[Decision, Event]],
) -> None:
    """Each scenario parses with the strict RFC 5424 expression and says who, where, what."""
    decision, event = scenario()
    parts = check_syslog(SyslogFormat(hostname="guard-1.example").message(decision, event))
    assert parts["facility"] == Facility.AUTHPRIV
    assert (parts["hostname"], parts["app_name"], parts["procid"]) == (
        "guard-1.example",
        "rempart",
        "-",
    )
    assert parts["msgid"] == decision.verdict.value
    params = dict(parts["elements"][SD_ID])
    assert params["event_id"] == event.event_id
    assert params["verdict"] == decision.verdict.value
    assert params["ip"] == event.ip
    assert params["account"] == event.account
    assert params["user_agent"] == event.user_agent
    assert parts["bom"]
    assert parts["msg"].startswith(f"{decision.verdict.value} {event.kind.value} by ")


@pytest.mark.parametrize(
    ("scenario", "severity"),
    [(allowed_read, 6), (challenged_login, 5), (denied_read, 4)],
)
def test_severity_follows_the_verdict(
    scenario: Callable[[], tuple[Decision, Event]], severity: int
) -> None:
    """Allow is informational (6), a challenge a notice (5), a refusal a warning (4)."""
    assert check_syslog(SyslogFormat().message(*scenario()))["severity"] == severity


def test_an_allowed_alert_is_a_notice() -> None:
    """An allow carrying an alert action is a notice, not routine information."""
    decision = Decision(
        event_id="ev1",
        verdict=Verdict.ALLOW,
        actions=(Action(kind=ActionKind.ALERT, target="portal"),),
        time=T0,
    )
    assert check_syslog(SyslogFormat().message(decision))["severity"] == 5


def test_a_denied_read_lists_each_action_detector_and_reason() -> None:
    """Lists become repeated parameters, in order: actions, detectors, reason codes."""
    params = _params(SyslogFormat().message(*denied_read()))
    repeated = [(name, value) for name, value in params if name in ("action", "detector", "reason")]
    assert repeated == [
        ("action", "revoke_session:s-9f2"),
        ("action", "lock_account:A00042"),
        ("action", "alert:A00042"),
        ("detector", "budget"),
        ("detector", "enumeration"),
        ("reason", "unexplained_budget"),
        ("reason", "far_away_patient"),
    ]
    assert ("subject", denied_read()[1].subject) in params
    assert ("alert", "true") in params


def test_the_timestamp_is_utc_with_microseconds() -> None:
    """TIMESTAMP is the event's time in UTC, with RFC 5424's six fraction digits at most."""
    parts = check_syslog(SyslogFormat().message(*denied_read()))
    assert parts["timestamp"] == "2022-03-01T09:20:00.250000Z"


def _visible(value: str) -> str:
    """What a hostile value becomes: control characters as ``\\uXXXX``, then cut to 256 octets."""
    shown = "".join(
        f"\\u{ord(char):04x}"
        if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F or char in "\u2028\u2029"
        else char
        for char in value
    )
    return shown.encode()[:256].decode("utf-8", "ignore")


@pytest.mark.parametrize(
    ("field", "hostile"),
    [
        (field, hostile)
        for field in ("user_agent", "account", "session", "event_id")
        for hostile in HOSTILE
        if field == "user_agent" or len(hostile) <= 128  # identifiers are 128 at most
    ],
)
def test_hostile_values_are_escaped_and_read_back(field: str, hostile: str) -> None:
    """``]``, ``"``, ``\\``, line ends and long values stay inside their parameter, one line."""
    event = make_event(**{field: hostile})
    decision = Decision(event_id=event.event_id, verdict=Verdict.DENY, time=event.time)
    message = SyslogFormat().message(decision, event)
    params = dict(_params(message))
    assert params[field] == _visible(hostile)
    assert params["ip"] == event.ip  # nothing after the hostile value was swallowed


def test_the_three_specials_are_backslash_escaped_on_the_wire() -> None:
    """On the wire a value's ``"``, ``\\`` and ``]`` are each preceded by a backslash."""
    event = make_event(user_agent='a"b\\c]d')
    message = SyslogFormat().message(
        Decision(event_id=event.event_id, verdict=Verdict.ALLOW), event
    )
    assert b'user_agent="a\\"b\\\\c\\]d"' in message


def test_a_very_long_user_agent_is_cut_and_the_message_stays_bounded() -> None:
    """A 1024-character user agent is cut to 256 octets; the message stays within 2048."""
    event = make_event(user_agent="Z" * 1024)
    decision = Decision(event_id=event.event_id, verdict=Verdict.CHALLENGE, time=event.time)
    params = dict(_params(SyslogFormat().message(decision, event)))
    assert params["user_agent"] == "Z" * 256
    assert "truncated" not in params


def test_what_does_not_fit_in_max_length_is_left_out_and_said_so() -> None:
    """Past ``max_length`` parameters are left out, ``truncated`` says so, MSG is cut or dropped."""
    event = make_event(user_agent="\u00e9" * 1024)
    actions = tuple(
        Action(kind=ActionKind.ALERT, target=f"target-{n:03d}-" + "t" * 100) for n in range(10)
    )
    reasons = tuple(Reason(detector=f"d{n}", code=f"code{n}", message="m" * 200) for n in range(10))
    decision = Decision(
        event_id=event.event_id, verdict=Verdict.DENY, actions=actions, reasons=reasons
    )
    message = SyslogFormat(max_length=480).message(decision, event)
    params = _params(message, max_length=480)
    assert params[-1] == ("truncated", "true")
    assert dict(params)["event_id"] == event.event_id
    assert len(message) <= 480


def test_the_facility_hostname_procid_and_enterprise_number_are_configurable() -> None:
    """local0, a host name, a process id and another enterprise number reach the header and SD."""
    syslog = SyslogFormat(
        facility=Facility.LOCAL0,
        hostname="guard",
        procid="4242",
        app_name="rempart-eu",
        enterprise=99999,
    )
    decision, event = denied_read()
    parts = check_syslog(syslog.message(decision, event))
    assert (parts["facility"], parts["severity"]) == (16, 4)
    assert (parts["hostname"], parts["app_name"], parts["procid"]) == (
        "guard",
        "rempart-eu",
        "4242",
    )
    assert list(parts["elements"]) == ["rempart@99999"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("hostname", "guard one"),
        ("hostname", "h" * 256),
        ("hostname", "g\u00fcard"),
        ("app_name", "a" * 49),
        ("procid", ""),
        ("enterprise", 0),
        ("max_length", 479),
        ("value_max", 8),
    ],
)
def test_invalid_options_are_refused_naming_the_option(option: str, value: object) -> None:
    """An option outside RFC 5424's forms raises ConfigError naming it."""
    with pytest.raises(ConfigError, match=f"^{option}: expected"):
        SyslogFormat(**{option: value})  # type: ignore[arg-type]


def test_a_long_header_needs_a_longer_max_length() -> None:
    """A header at the RFC's maximum lengths does not fit in 480 octets: ConfigError."""
    with pytest.raises(ConfigError, match="max_length"):
        SyslogFormat(hostname="h" * 255, procid="p" * 128, max_length=480)


def test_without_its_event_a_decision_is_still_a_valid_message() -> None:
    """Without its event a decision gives the id, verdict and reasons in a valid message."""
    decision = Decision(
        event_id="ev1",
        verdict=Verdict.CHALLENGE,
        reasons=(Reason(detector="budget", code="unexplained_budget", message="41 reads"),),
        time=T0,
    )
    parts = check_syslog(SyslogFormat().message(decision))
    assert parts["msg"] == "challenge event ev1: 41 reads"
    assert dict(parts["elements"][SD_ID])["detector"] == "budget"


def test_every_event_kind_gives_a_valid_message() -> None:
    """Every portal event kind is written as a valid message."""
    for kind in EventKind:
        event = make_event(kind=kind)
        check_syslog(SyslogFormat().message(Decision(event_id="e", verdict=Verdict.ALLOW), event))
