"""The guard's policy: a TOML file, validated, with a shipped default.

Each detector reads its own section and the guard the ``response`` one; the
shipped default is ``rempart/data/default_policy.toml``.

>>> policy = Policy.default()
>>> policy.budget.day, policy.takeover.hosting_network
(25, 0.25)
>>> Policy.from_toml_text("[budget]\\nday = 'many'")
Traceback (most recent call last):
  ...
rempart.errors.ConfigError: budget.day: expected int, got 'many'
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from rempart.errors import ConfigError
from rempart.tomlconfig import parse_toml, read_toml

__all__ = ["Policy"]

Multiplier = Annotated[float, msgspec.Meta(gt=0, le=1)]
Count = Annotated[int, msgspec.Meta(ge=1)]
Share = Annotated[float, msgspec.Meta(gt=0, le=1)]
Escalation = Literal["allow", "challenge", "deny"]


class Professions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pharmacist: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    gp: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    nurse: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    physiotherapist: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    specialist: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    billing: Annotated[float, msgspec.Meta(gt=0)] = 3.0


class Budget(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    hour: Count = 10
    day: Count = 25
    week: Count = 50
    floor: Count = 3
    strong_floor: Annotated[int, msgspec.Meta(ge=0)] = 1
    strong_tighten: Multiplier = 0.1
    shared: Annotated[float, msgspec.Meta(gt=0)] = 2.0
    profession: Professions = Professions()


CountryCode = Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")]


class Takeover(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    new_network: Multiplier = 0.5
    hosting_network: Multiplier = 0.25
    vpn_network: Multiplier = 0.5
    proxy_network: Multiplier = 0.25
    tor_network: Multiplier = 0.25
    foreign_network: Multiplier = 0.5
    home_countries: Annotated[tuple[CountryCode, ...], msgspec.Meta(min_length=1)] = ("FR",)
    new_device: Multiplier = 0.75
    credential_change: Multiplier = 0.5
    credential_change_hours: Annotated[float, msgspec.Meta(gt=0)] = 24
    established_days: Count = 3
    unknown_session: Escalation = "challenge"
    session_moved: Escalation = "challenge"
    suspect_session: Escalation = "challenge"
    new_networks_day: Count = 3
    network_hopping: Multiplier = 0.25


class Automation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reads_10min: Count = 30
    short_gap_s: Annotated[float, msgspec.Meta(gt=0)] = 4.0
    short_gap_share: Share = 0.8
    gaps: Count = 10
    robot: Multiplier = 0.25
    outside_hours: Multiplier = 0.5
    scripted_client: Multiplier = 0.1


class Enumeration(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    min_lookups: Count = 10
    not_found_share: Share = 0.5
    birth_date_mismatches: Count = 5
    far_departments: Count = 5
    spread: Multiplier = 0.5


class Login(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    account_failures_15min: Count = 5
    account_failures_day: Count = 20
    address_failures_10min: Count = 20
    address_accounts_hour: Count = 3
    ban_minutes: Annotated[float, msgspec.Meta(gt=0)] = 60
    wave_min_10min: Count = 100
    wave_multiple: Annotated[float, msgspec.Meta(ge=1)] = 5.0


class Volume(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    peer_multiple: Annotated[float, msgspec.Meta(ge=1)] = 3.0
    min_reads: Count = 50
    tighten: Multiplier = 0.5


class Population(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sites_per_hosting_network: Count = 3
    sites_per_new_prefix: Count = 3
    tighten: Multiplier = 0.5
    surge_min_hour: Count = 50
    surge_multiple: Annotated[float, msgspec.Meta(ge=1)] = 3.0
    surge_tighten: Multiplier = 0.2


class Response(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lock_on_failed_step_up: bool = True
    step_up_grace_hours: Annotated[float, msgspec.Meta(gt=0)] = 24
    unanswered_to_lock: Annotated[int, msgspec.Meta(ge=1)] = 3
    unanswered_window_hours: Annotated[float, msgspec.Meta(gt=0)] = 24
    hold_hours: Annotated[float, msgspec.Meta(gt=0)] = 168


class Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Every tunable of the guard; see ``docs/detection.md`` for each key."""

    budget: Budget = Budget()
    takeover: Takeover = Takeover()
    automation: Automation = Automation()
    enumeration: Enumeration = Enumeration()
    login: Login = Login()
    volume: Volume = Volume()
    population: Population = Population()
    response: Response = Response()

    @classmethod
    def default(cls) -> Policy:
        """The shipped ``default_policy.toml``."""
        shipped = resources.files("rempart").joinpath("data", "default_policy.toml")
        text = shipped.read_text(encoding="utf-8")
        return cls.from_toml_text(text, source="default_policy.toml")

    @classmethod
    def from_toml(cls, path: str | Path) -> Policy:
        """Load and validate a policy file; `ConfigError` names the bad key."""
        return cls.from_dict(read_toml(path, "policy"))

    @classmethod
    def from_toml_text(cls, text: str, source: str = "<policy>") -> Policy:
        """Validate TOML text; missing keys take their defaults."""
        return cls.from_dict(parse_toml(text, "policy", source))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        """Validate a nested mapping; `ConfigError` names the key and the expected form."""
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as error:
            raise _config_error(str(error), data) from None

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain nested dicts and lists (what its JSON form decodes to)."""
        result: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self))
        return result


_LOCATED = re.compile(r"^(?P<message>.*?)(?: - at `\$\.(?P<path>[^`]+)`)?$")
_EXPECTED = re.compile(r"Expected (?P<expected>.+)")


def _config_error(message: str, data: dict[str, Any]) -> ConfigError:
    match = _LOCATED.match(message)
    path = match.group("path") if match and match.group("path") else "policy"
    detail = match.group("message") if match else message
    expected_match = _EXPECTED.search(detail)
    expected = expected_match.group("expected").replace("`", "") if expected_match else detail
    expected = re.sub(r", got .*$", "", expected)
    unknown = re.search(r"unknown field `(?P<field>[^`]+)`", detail)
    if unknown:
        path = f"{path}.{unknown.group('field')}" if path != "policy" else unknown.group("field")
        return ConfigError(path, "a known policy key", unknown.group("field"))
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return ConfigError(path, expected, value)
