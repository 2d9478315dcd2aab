"""The checks a SOC's pipeline would run, written from the specifications, not from our code.

- ECS 8.17 (``schemas/event.yml`` of elastic/ecs v8.17.0): the allowed values of
  ``event.kind``, ``event.category``, ``event.type``, ``event.outcome``, and
  the types each category expects (``expected_event_types``).
- OCSF 1.4.0 (ocsf/ocsf-schema tag 1.4.0): each class's required attributes,
  the attributes it may carry at all (base event, its category and class,
  the Security Control profile), its activity ids, the enumerations used, and
  ``type_uid = class_uid * 100 + activity_id``.
- RFC 5424 §6: the ABNF of a SYSLOG-MSG as one strict regular expression.

Each ``check_*`` raises AssertionError (or `jsonschema.ValidationError`) naming
what is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final

from jsonschema import Draft202012Validator

# --- ECS --------------------------------------------------------------------------

ECS_EXPECTED_TYPES: Final[dict[str, frozenset[str]]] = {
    "api": frozenset(
        {"access", "admin", "allowed", "change", "creation", "deletion", "denied", "end"}
        | {"info", "start", "user"}
    ),
    "authentication": frozenset({"start", "end", "info"}),
    "configuration": frozenset({"access", "change", "creation", "deletion", "info"}),
    "database": frozenset({"access", "change", "info", "error"}),
    "driver": frozenset({"change", "end", "info", "start"}),
    "email": frozenset({"info"}),
    "file": frozenset({"access", "change", "creation", "deletion", "info"}),
    "host": frozenset({"access", "change", "end", "info", "start"}),
    "iam": frozenset({"admin", "change", "creation", "deletion", "group", "info", "user"}),
    "intrusion_detection": frozenset({"allowed", "denied", "info"}),
    "library": frozenset({"start"}),
    "malware": frozenset({"info"}),
    "network": frozenset(
        {"access", "allowed", "connection", "denied", "end", "info", "protocol", "start"}
    ),
    "package": frozenset({"access", "change", "deletion", "info", "installation", "start"}),
    "process": frozenset({"access", "change", "end", "info", "start"}),
    "registry": frozenset({"access", "change", "creation", "deletion"}),
    "session": frozenset({"start", "end", "info"}),
    "threat": frozenset({"indicator"}),
    "vulnerability": frozenset({"info"}),
    "web": frozenset({"access", "error", "info"}),
}
ECS_TYPES: Final = sorted(
    {"access", "admin", "allowed", "change", "connection", "creation", "deletion", "denied"}
    | {"end", "error", "group", "indicator", "info", "installation", "protocol", "start", "user"}
)
_STRINGS: Final = {"type": "array", "items": {"type": "string"}}
_KEYWORD: Final = {"anyOf": [{"type": "string"}, _STRINGS]}
_IP: Final = {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
_RFC3339_UTC: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$"

ECS_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ECS 8.x document, the subset Rempart fills",
    "type": "object",
    "required": ["@timestamp", "ecs", "event", "message"],
    "properties": {
        "@timestamp": {"type": "string", "pattern": _RFC3339_UTC},
        "ecs": {
            "type": "object",
            "required": ["version"],
            "properties": {"version": {"type": "string", "pattern": r"^8\.\d+\.\d+$"}},
        },
        "message": {"type": "string"},
        "event": {
            "type": "object",
            "required": ["kind", "id", "outcome"],
            "properties": {
                "kind": {
                    "enum": [
                        "alert",
                        "asset",
                        "enrichment",
                        "event",
                        "metric",
                        "state",
                        "pipeline_error",
                        "signal",
                    ]
                },
                "category": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"enum": sorted(ECS_EXPECTED_TYPES)},
                },
                "type": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"enum": ECS_TYPES},
                },
                "action": {"type": "string"},
                "outcome": {"enum": ["failure", "success", "unknown"]},
                "reason": {"type": "string"},
                "id": {"type": "string"},
                "severity": {"type": "integer"},
                "risk_score": {"type": "number"},
                "module": {"type": "string"},
                "dataset": {"type": "string"},
            },
            "dependentRequired": {"category": ["type"], "type": ["category"]},
        },
        "source": {
            "type": "object",
            "required": ["ip"],
            "properties": {"ip": _IP},
        },
        "user": {"type": "object", "properties": {"name": {"type": "string"}}},
        "user_agent": {"type": "object", "properties": {"original": {"type": "string"}}},
        "rule": {"type": "object", "properties": {"name": _KEYWORD, "id": _KEYWORD}},
        "observer": {
            "type": "object",
            "properties": {key: {"type": "string"} for key in ("vendor", "product", "type")},
        },
        # ECS: labels are flat key/value pairs of keywords.
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "rempart": {
            "type": "object",
            "required": ["verdict"],
            "properties": {
                "verdict": {"enum": ["allow", "challenge", "deny"]},
                "subject": {"type": "string", "pattern": "^ps_[a-z2-7]{24}$"},
                "actions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kind", "target"],
                        "properties": {"kind": {"type": "string"}, "target": {"type": "string"}},
                    },
                },
            },
        },
    },
}
_ECS: Final = Draft202012Validator(ECS_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_ecs(document: dict[str, Any]) -> None:
    """``document`` fits the ECS subset schema, and each event type is one its categories expect."""
    _ECS.validate(document)
    event = document["event"]
    expected = set().union(*(ECS_EXPECTED_TYPES[c] for c in event.get("category", [])))
    unexpected = set(event.get("type", [])) - expected
    assert not unexpected, f"event.type {unexpected} expected by none of {event['category']}"


# --- OCSF -------------------------------------------------------------------------

_BASE_ATTRIBUTES: Final = frozenset(
    {"action", "action_id", "activity_id", "activity_name", "actor", "api", "attacks"}
    | {"authorizations", "category_name", "category_uid", "class_name", "class_uid", "cloud"}
    | {"confidence", "confidence_id", "confidence_score", "count", "device", "disposition"}
    | {"disposition_id", "duration", "end_time", "enrichments", "firewall_rule", "is_alert"}
    | {"malware", "message", "metadata", "observables", "osint", "policy", "raw_data"}
    | {"risk_details", "risk_level", "risk_level_id", "risk_score", "severity", "severity_id"}
    | {"start_time", "status", "status_code", "status_detail", "status_id", "time"}
    | {"timezone_offset", "type_name", "type_uid", "unmapped"}
)
"""The Base Event's attributes, its profiles' included (cloud, host, osint, security_control)."""
_IAM: Final = frozenset({"actor", "http_request", "http_response", "src_endpoint"})
_FINDING: Final = frozenset(
    {"assignee", "assignee_group", "comment", "device", "end_time", "finding_info", "impact"}
    | {"impact_id", "impact_score", "is_suspected_breach", "priority", "priority_id", "src_url"}
    | {"start_time", "ticket", "vendor_attributes", "verdict", "verdict_id"}
)
OCSF_CLASSES: Final[dict[int, dict[str, Any]]] = {
    0: {"category": 0, "activities": {0, 99}, "required": set(), "allowed": set()},
    3001: {
        "category": 3,
        "activities": {0, *range(1, 13), 99},
        "required": {"user"},
        "allowed": _IAM | {"policies", "policy", "user", "user_result"},
    },
    3002: {
        "category": 3,
        "activities": {0, 1, 2, 3, 4, 5, 6, 99},
        "required": {"user"},
        "allowed": _IAM
        | {"auth_factors", "auth_protocol", "auth_protocol_id", "certificate", "dst_endpoint"}
        | {"is_cleartext", "is_mfa", "is_new_logon", "is_remote", "logon_process", "logon_type"}
        | {"logon_type_id", "service", "session", "user"},
    },
    6003: {
        "category": 6,
        "activities": {0, 1, 2, 3, 4, 99},
        "required": {"actor", "api", "src_endpoint"},
        "allowed": {"actor", "api", "dst_endpoint", "http_request", "http_response"}
        | {"resources", "src_endpoint", "trace"},
    },
    2004: {
        "category": 2,
        "activities": {0, 1, 2, 3, 99},
        "required": {"finding_info"},
        "allowed": _FINDING
        | {"evidences", "remediation", "resources", "vulnerabilities", "is_alert"},
    },
}
_ENDPOINT: Final = {
    "type": "object",
    "minProperties": 1,
    "properties": {"ip": _IP, "uid": {"type": "string"}, "name": {"type": "string"}},
}
_USER: Final = {
    "type": "object",
    "anyOf": [{"required": ["name"]}, {"required": ["uid"]}, {"required": ["account"]}],
    "properties": {"name": {"type": "string"}, "uid": {"type": "string"}},
}
_ACTOR: Final = {
    "type": "object",
    "anyOf": [{"required": [key]} for key in ("process", "user", "session", "app_name")],
    "properties": {"user": _USER},
}
_HTTP_REQUEST: Final = {"type": "object", "properties": {"user_agent": {"type": "string"}}}
_ANALYTIC: Final = {
    "type": "object",
    "required": ["type_id"],
    "anyOf": [{"required": ["name"]}, {"required": ["uid"]}],
    "properties": {"type_id": {"enum": [0, *range(1, 12), 99]}, "name": {"type": "string"}},
}
OCSF_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "OCSF 1.4.0 event, the subset Rempart fills",
    "type": "object",
    "required": [
        "activity_id",
        "category_uid",
        "class_uid",
        "metadata",
        "severity_id",
        "time",
        "type_uid",
    ],
    "properties": {
        "activity_id": {"type": "integer"},
        "category_uid": {"enum": [0, 1, 2, 3, 4, 5, 6, 7, 8]},
        "class_uid": {"type": "integer"},
        "type_uid": {"type": "integer"},
        "severity_id": {"enum": [0, 1, 2, 3, 4, 5, 6, 99]},
        "time": {"type": "integer", "minimum": 0},
        "message": {"type": "string"},
        "status_id": {"type": "integer"},
        "status_detail": {"type": "string"},
        "action_id": {"enum": [0, 1, 2, 3, 4, 99]},
        "disposition_id": {"enum": [*range(28), 99]},
        "is_alert": {"type": "boolean"},
        "is_mfa": {"type": "boolean"},
        "metadata": {
            "type": "object",
            "required": ["product", "version"],
            "properties": {
                "version": {"type": "string", "pattern": r"^1\.\d+\.\d+$"},
                "uid": {"type": "string"},
                "profiles": _STRINGS,
                "product": {
                    "type": "object",
                    "anyOf": [{"required": ["name"]}, {"required": ["uid"]}],
                    "properties": {
                        "name": {"type": "string"},
                        "vendor_name": {"type": "string"},
                        "version": {"type": "string"},
                    },
                },
            },
        },
        "src_endpoint": _ENDPOINT,
        "actor": _ACTOR,
        "user": _USER,
        "http_request": _HTTP_REQUEST,
        "session": {"type": "object", "properties": {"uid": {"type": "string"}}},
        "api": {
            "type": "object",
            "required": ["operation"],
            "properties": {"operation": {"type": "string"}},
        },
        "resources": {
            "type": "array",
            "items": {"type": "object", "anyOf": [{"required": ["name"]}, {"required": ["uid"]}]},
        },
        "finding_info": {
            "type": "object",
            "required": ["uid"],
            "properties": {
                "uid": {"type": "string"},
                "title": {"type": "string"},
                "desc": {"type": "string"},
                "types": _STRINGS,
                "analytic": _ANALYTIC,
                "related_analytics": {"type": "array", "items": _ANALYTIC},
                "related_events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["uid"],
                        "properties": {
                            "uid": {"type": "string"},
                            "type_uid": {"type": "integer"},
                            "severity_id": {"type": "integer"},
                        },
                    },
                },
            },
        },
        "evidences": {
            "type": "array",
            "items": {
                "type": "object",
                "anyOf": [{"required": [key]} for key in ("actor", "src_endpoint", "user")],
                "properties": {
                    "actor": _ACTOR,
                    "src_endpoint": _ENDPOINT,
                    "http_request": _HTTP_REQUEST,
                },
            },
        },
        "unmapped": {"type": "object"},
    },
}
_OCSF: Final = Draft202012Validator(OCSF_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
_STATUSES: Final = {2: {0, 1, 2, 3, 4, 5, 99}}
"""``status_id`` values by category: a finding's status is its workflow, New to Archived."""


def check_ocsf(document: dict[str, Any]) -> None:
    """``document`` is a valid event of its OCSF 1.4 class, for the subset Rempart fills."""
    _OCSF.validate(document)
    spec = OCSF_CLASSES[document["class_uid"]]
    assert document["category_uid"] == spec["category"]
    assert document["activity_id"] in spec["activities"]
    assert document["type_uid"] == document["class_uid"] * 100 + document["activity_id"]
    missing = spec["required"] - document.keys()
    assert not missing, f"class {document['class_uid']} requires {missing}"
    unknown = document.keys() - _BASE_ATTRIBUTES - spec["allowed"]
    assert not unknown, f"class {document['class_uid']} has no attribute {unknown}"
    statuses = _STATUSES.get(document["category_uid"], {0, 1, 2, 99})
    assert document.get("status_id", 0) in statuses


# --- RFC 5424 ---------------------------------------------------------------------

_SD_NAME: Final = rb"[\x21\x23-\x3c\x3e-\x5c\x5e-\x7e]{1,32}"  # PRINTUSASCII but = ] " and SP
_PARAM_VALUE: Final = rb'(?:[^"\\\]]|\\["\\\]])*'  # the three specials only escaped
SYSLOG_MSG: Final = re.compile(
    rb"<(?P<prival>\d{1,3})>1 "
    rb"(?P<timestamp>-|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})) "
    rb"(?P<hostname>[\x21-\x7e]{1,255}) "
    rb"(?P<app_name>[\x21-\x7e]{1,48}) "
    rb"(?P<procid>[\x21-\x7e]{1,128}) "
    rb"(?P<msgid>[\x21-\x7e]{1,32}) "
    rb"(?P<sd>-|(?:\[" + _SD_NAME + rb"(?: " + _SD_NAME + rb'="' + _PARAM_VALUE + rb'")*\])+)'
    rb"(?: (?P<msg>\xef\xbb\xbf[^\n]*|[^\xef\n][^\n]*))?",
    re.DOTALL,
)
"""RFC 5424's SYSLOG-MSG, with a UTF-8 MSG that never holds a line end."""
_ELEMENT: Final = re.compile(
    rb"\[(" + _SD_NAME + rb")((?: " + _SD_NAME + rb'="' + _PARAM_VALUE + rb'")*)\]'
)
_PARAM: Final = re.compile(rb" (" + _SD_NAME + rb')="(' + _PARAM_VALUE + rb')"')
_UNESCAPE: Final = re.compile(rb'\\(["\\\]])')


def parse_syslog(message: bytes) -> dict[str, Any]:
    """The parts of a strict RFC 5424 message: header fields, SD elements, MSG text.

    ``elements`` maps each SD-ID to its parameters, a list of (name, value)
    pairs in order, values unescaped.
    """
    found = SYSLOG_MSG.fullmatch(message)
    assert found is not None, f"not an RFC 5424 message: {message[:200]!r}"
    prival = int(found["prival"])
    assert 0 <= prival <= 191, prival
    assert found["timestamp"] == b"-" or re.fullmatch(rb".*Z", found["timestamp"])
    elements: dict[str, list[tuple[str, str]]] = {}
    if found["sd"] != b"-":
        for sd_id, params in _ELEMENT.findall(found["sd"]):
            assert sd_id.decode() not in elements, f"SD-ID {sd_id!r} twice"
            elements[sd_id.decode()] = [
                (name.decode(), _UNESCAPE.sub(rb"\1", value).decode("utf-8"))
                for name, value in _PARAM.findall(params)
            ]
    msg = found["msg"]
    return {
        "facility": prival // 8,
        "severity": prival % 8,
        "timestamp": found["timestamp"].decode(),
        "hostname": found["hostname"].decode(),
        "app_name": found["app_name"].decode(),
        "procid": found["procid"].decode(),
        "msgid": found["msgid"].decode(),
        "elements": elements,
        "msg": None if msg is None else msg.removeprefix(b"\xef\xbb\xbf").decode("utf-8"),
        "bom": msg is not None and msg.startswith(b"\xef\xbb\xbf"),
    }


def check_syslog(message: bytes, *, max_length: int = 2048) -> dict[str, Any]:
    """``message`` is one line of strict RFC 5424, within ``max_length``; returns its parts."""
    assert len(message) <= max_length, len(message)
    assert b"\n" not in message
    assert b"\r" not in message
    parts = parse_syslog(message)
    assert parts["msg"] is None or parts["bom"], "a UTF-8 MSG starts with the BOM"
    for name, value in parts["elements"].get("rempart@32473") or []:
        if name == "ip":
            ipaddress.ip_address(value)
    return parts
