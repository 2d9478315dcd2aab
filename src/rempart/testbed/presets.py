"""Named sizes of the testbed: `small` (seconds, for tests), `incident-2022`, `bench`.

Attack parameters scale with the preset; what each number means is documented
on the attack's own parameter class (`rempart.testbed.attacks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from rempart.errors import ConfigError

__all__ = ["PRESETS", "Preset", "preset"]


@dataclass(frozen=True, slots=True)
class Preset:
    """The size and shape of a simulated world.

    ``focus_departments`` hold every modelled site; ``focus_share`` of the
    subjects live there, the rest are spread over all departments by
    population (patients an attacker can reach but no modelled professional
    treats). ``start`` is a Monday; ``days`` the simulated period;
    ``attacks`` maps a scenario name to its parameter overrides.
    """

    name: str
    subjects: int
    focus_departments: tuple[str, ...]
    focus_share: float
    start: date
    days: int
    canaries: int
    attacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    history_days: int = 365

    def __post_init__(self) -> None:
        if self.start.weekday() != 0:
            raise ConfigError("start", "a Monday", self.start.isoformat())
        if not 0 < self.focus_share <= 1:
            raise ConfigError("focus_share", "a share in (0, 1]", self.focus_share)
        if self.days < 14:
            raise ConfigError("days", "at least 14 (two weekly cycles)", self.days)


PRESETS: Final[dict[str, Preset]] = {
    "small": Preset(
        name="small",
        subjects=60_000,
        focus_departments=("35", "22"),
        focus_share=0.6,
        start=date(2022, 2, 7),
        days=28,
        canaries=600,
        attacks={
            "incident-2022": {"accounts": 19, "pharmacists": 15, "target_reads": 19_000},
            "slow-drip": {"accounts": 2},
            "distributed": {"accounts": 30, "reads_per_account": 40},
            "credential-stuffing": {"attempts": 3_000, "successes": 3},
            "session-hijack": {"sessions": 2},
            "enumeration": {"attempts": 1_500},
            "insider-curiosity": {"insiders": 3},
            "phished": {"accounts": 3},
            "residential-proxies": {"accounts": 20},
            "owner-pc-malware": {"accounts": 2},
            "search-harvest": {"accounts": 3},
        },
    ),
    "incident-2022": Preset(
        name="incident-2022",
        subjects=1_200_000,
        focus_departments=("75", "92", "93", "94", "13", "69", "59", "33", "31", "35"),
        focus_share=0.3,
        start=date(2022, 2, 7),
        days=28,
        canaries=2_400,
        attacks={
            "incident-2022": {"accounts": 19, "pharmacists": 15, "target_reads": 510_000},
            "slow-drip": {"accounts": 5},
            "distributed": {"accounts": 300, "reads_per_account": 60},
            "credential-stuffing": {"attempts": 60_000, "successes": 10},
            "session-hijack": {"sessions": 5},
            "enumeration": {"attempts": 20_000},
            "insider-curiosity": {"insiders": 10},
            "phished": {"accounts": 5},
            "residential-proxies": {"accounts": 200},
            "owner-pc-malware": {"accounts": 5},
            "search-harvest": {"accounts": 10},
        },
    ),
    "bench": Preset(
        name="bench",
        subjects=5_000_000,
        focus_departments=("75", "92", "93", "94", "91", "95", "77", "78"),
        focus_share=0.9,
        start=date(2022, 1, 3),
        days=91,
        canaries=4_000,
        attacks={
            "incident-2022": {"accounts": 19, "pharmacists": 15, "target_reads": 510_000},
            "slow-drip": {"accounts": 10},
            "distributed": {"accounts": 500, "reads_per_account": 60},
            "credential-stuffing": {"attempts": 200_000, "successes": 20},
            "session-hijack": {"sessions": 10},
            "enumeration": {"attempts": 50_000},
            "insider-curiosity": {"insiders": 30},
            "phished": {"accounts": 10},
            "residential-proxies": {"accounts": 400},
            "owner-pc-malware": {"accounts": 10},
            "search-harvest": {"accounts": 20},
        },
    ),
}


def preset(name: str) -> Preset:
    """The preset called ``name``, or `ConfigError` listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError("preset", "one of " + ", ".join(PRESETS), name) from None
