"""The legitimate situations that look like attacks, planned into the world.

Each is labelled legitimate in the ground truth, with its ``hard_case`` tag:

- ``vaccination`` — a pharmacy's vaccination-campaign days, 3-5x the usual reads;
- ``locum`` — a locum GP replacing a practice's doctor for weeks: every patient
  is new to that account (the practice's evidence still explains them);
- ``month_end`` — billing staff reconciling hundreds of files on the last
  working days of the month;
- ``travel`` — a professional working from abroad for a few days;
- ``shared_counter`` — a pharmacy's shared account used from two counters at once;
- ``new_practice`` — a practice opened during the period, with no history;
- ``night_duty`` — a pharmacy open at night.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import msgspec
import numpy as np

from rempart.directory import Account, OpeningInterval, Profession, Site, SiteKind
from rempart.testbed.presets import Preset

__all__ = ["HARD_CASES", "HardCasePlan", "plan_hard_cases"]

HARD_CASES = (
    "vaccination",
    "locum",
    "month_end",
    "travel",
    "shared_counter",
    "new_practice",
    "night_duty",
)


@dataclass(slots=True)
class HardCasePlan:
    """Which sites, accounts and days each hard case affects (days count from the start)."""

    vaccination: dict[str, list[int]] = field(default_factory=dict)
    locums: dict[str, tuple[str, int, int]] = field(
        default_factory=dict
    )  # locum -> (replaced, from, to)
    travel: dict[str, tuple[int, int]] = field(default_factory=dict)
    shared_counter: dict[str, list[int]] = field(default_factory=dict)  # shared account -> days
    new_sites: dict[str, int] = field(default_factory=dict)  # site -> opening day
    night_duty: set[str] = field(default_factory=set)

    def tag(self, account: Account, site: Site, day: int) -> str | None:
        """The hard case an account-day belongs to, if any."""
        if day in self.vaccination.get(site.site, ()):
            return "vaccination"
        if account.account in self.locums:
            return "locum"
        window = self.travel.get(account.account)
        if window and window[0] <= day < window[1]:
            return "travel"
        if day in self.shared_counter.get(account.account, ()):
            return "shared_counter"
        if site.site in self.new_sites:
            return "new_practice"
        if site.site in self.night_duty:
            return "night_duty"
        return None


def plan_hard_cases(
    preset: Preset, sites: list[Site], accounts: list[Account], rng: np.random.Generator
) -> HardCasePlan:
    """Pick the affected sites and accounts; adds the locums, shared accounts and new sites."""
    plan = HardCasePlan()
    days = preset.days
    per_dept = max(1, len(preset.focus_departments) // 2)
    by_kind: dict[SiteKind, list[Site]] = {}
    for site in sites:
        by_kind.setdefault(site.kind, []).append(site)
    pharmacies = by_kind[SiteKind.PHARMACY]
    gp_practices = by_kind[SiteKind.GP_PRACTICE]
    picks = rng.permutation(len(pharmacies))
    cursor = 0

    for _ in range(per_dept):
        site = pharmacies[picks[cursor % len(pharmacies)]]
        cursor += 1
        first = int(rng.integers(2, days - 5))
        plan.vaccination[site.site] = [
            d for d in range(first, first + 3) if _weekday(preset, d) < 6
        ]

    for _ in range(per_dept):
        index = picks[cursor % len(pharmacies)]
        cursor += 1
        site = pharmacies[index]
        night = tuple(OpeningInterval(weekday=d, opens=0, closes=1440) for d in range(7))
        pharmacies[index] = sites[sites.index(site)] = _replace(site, hours=night, night_duty=True)
        plan.night_duty.add(site.site)

    for _ in range(per_dept):
        site = pharmacies[picks[cursor % len(pharmacies)]]
        cursor += 1
        shared = Account(
            account=f"A{len(accounts) + 1:06d}",
            profession=Profession.PHARMACIST,
            site=site.site,
            shared=True,
            created=site.opened,
        )
        accounts.append(shared)
        plan.shared_counter[shared.account] = [
            d for d in range(days) if _weekday(preset, d) < 6 and rng.random() < 0.5
        ]

    gps = [a for a in accounts if a.profession is Profession.GP]
    for _ in range(per_dept):
        replaced = gps[int(rng.integers(0, len(gps)))]
        start = int(rng.integers(0, days // 2))
        end = min(days, start + 14 + int(rng.integers(0, 14)))
        locum = Account(
            account=f"A{len(accounts) + 1:06d}",
            profession=Profession.GP,
            site=replaced.site,
            created=preset.start + timedelta(days=start),
        )
        accounts.append(locum)
        plan.locums[locum.account] = (replaced.account, start, end)

    travellers = [a for a in accounts if a.profession in (Profession.GP, Profession.SPECIALIST)]
    for _ in range(per_dept):
        traveller = travellers[int(rng.integers(0, len(travellers)))]
        start = int(rng.integers(0, days - 5))
        plan.travel[traveller.account] = (start, start + 4)

    for _ in range(per_dept):
        model = gp_practices[int(rng.integers(0, len(gp_practices)))]
        opening = int(rng.integers(3, days // 2))
        opened = preset.start + timedelta(days=opening)
        site = _replace(model, site=f"S{len(sites) + 1:05d}", opened=opened)
        sites.append(site)
        for _ in range(2):
            accounts.append(
                Account(
                    account=f"A{len(accounts) + 1:06d}",
                    profession=Profession.GP,
                    site=site.site,
                    created=opened,
                )
            )
        plan.new_sites[site.site] = opening
    return plan


def _weekday(preset: Preset, day: int) -> int:
    return (preset.start + timedelta(days=day)).weekday()


def _replace(original: Site, **changes: object) -> Site:
    return msgspec.structs.replace(original, **changes)


def is_month_end(day: date) -> bool:
    """The last three working days of a month, when billing staff reconcile."""
    last = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    working_left = sum(
        1 for k in range(1, (last - day).days + 1) if (day + timedelta(days=k)).weekday() < 5
    )
    return day.weekday() < 5 and working_left < 3
