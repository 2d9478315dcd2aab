"""Practice profiles of each profession and the calibration targets they must meet.

Every figure here is documented with its public source in ``docs/testbed.md``.
Figures marked *assumption* have no public source (for instance, which share
of visits leads to a portal read) and are stated so that a user can change
them. `rempart stats` prints the generated figures next to `TARGETS`, and the
tests pin them inside the ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rempart.directory import Profession, SiteKind

__all__ = ["PROFILES", "TARGETS", "PracticeProfile", "Target"]


@dataclass(frozen=True, slots=True)
class PracticeProfile:
    """How one profession works, per account unless stated.

    - ``sites_per_100k``: sites per 100,000 inhabitants.
    - ``staff``: (min, max) accounts per site.
    - ``visits_per_day``: patients seen per working day and account.
    - ``read_share``: share of visits that lead to a portal read (*assumption*).
    - ``panel``: distinct patients a site sees in a year, per account.
    - ``history_share``: share of the panel with a claim in the past year.
    - ``card_share``, ``appointment_share``, ``prescription_share``: share of
      reads with that evidence at the time of the read.
    - ``new_share``: share of reads of patients outside the panel.
    - ``dark_share``: share of reads with no evidence at all (phone requests,
      first visits without a card; hospital audits leave ~6 % unexplained).
    - ``days``: the weekdays the site opens (0 = Monday).
    - ``workdays_per_week``: days an individual account works.
    """

    site_kind: SiteKind
    sites_per_100k: float
    staff: tuple[int, int]
    visits_per_day: float
    read_share: float
    panel: int
    history_share: float
    card_share: float
    appointment_share: float
    prescription_share: float
    new_share: float
    dark_share: float
    days: tuple[int, ...]
    workdays_per_week: float
    mobile_share: float = 0.0


PROFILES: Final[dict[Profession, PracticeProfile]] = {
    Profession.PHARMACIST: PracticeProfile(
        site_kind=SiteKind.PHARMACY,
        sites_per_100k=30.0,
        staff=(1, 4),
        visits_per_day=75.0,
        read_share=0.12,
        panel=1_400,
        history_share=0.85,
        card_share=0.62,
        appointment_share=0.0,
        prescription_share=0.15,
        new_share=0.08,
        dark_share=0.06,
        days=(0, 1, 2, 3, 4, 5),
        workdays_per_week=5.0,
    ),
    Profession.GP: PracticeProfile(
        site_kind=SiteKind.GP_PRACTICE,
        sites_per_100k=40.0,
        staff=(1, 3),
        visits_per_day=22.0,
        read_share=0.25,
        panel=1_600,
        history_share=0.8,
        card_share=0.55,
        appointment_share=0.7,
        prescription_share=0.0,
        new_share=0.05,
        dark_share=0.065,
        days=(0, 1, 2, 3, 4, 5),
        workdays_per_week=4.6,
        mobile_share=0.04,
    ),
    Profession.NURSE: PracticeProfile(
        site_kind=SiteKind.NURSING_PRACTICE,
        sites_per_100k=70.0,
        staff=(1, 3),
        visits_per_day=20.0,
        read_share=0.08,
        panel=150,
        history_share=0.75,
        card_share=0.6,
        appointment_share=0.0,
        prescription_share=0.3,
        new_share=0.1,
        dark_share=0.075,
        days=(0, 1, 2, 3, 4, 5, 6),
        workdays_per_week=5.0,
        mobile_share=0.7,
    ),
    Profession.PHYSIOTHERAPIST: PracticeProfile(
        site_kind=SiteKind.PHYSIO_PRACTICE,
        sites_per_100k=55.0,
        staff=(1, 3),
        visits_per_day=18.0,
        read_share=0.08,
        panel=300,
        history_share=0.7,
        card_share=0.5,
        appointment_share=0.85,
        prescription_share=0.0,
        new_share=0.15,
        dark_share=0.065,
        days=(0, 1, 2, 3, 4),
        workdays_per_week=4.6,
    ),
    Profession.SPECIALIST: PracticeProfile(
        site_kind=SiteKind.SPECIALIST_PRACTICE,
        sites_per_100k=45.0,
        staff=(1, 3),
        visits_per_day=20.0,
        read_share=0.2,
        panel=2_500,
        history_share=0.6,
        card_share=0.5,
        appointment_share=0.9,
        prescription_share=0.0,
        new_share=0.3,
        dark_share=0.065,
        days=(0, 1, 2, 3, 4),
        workdays_per_week=4.5,
    ),
    Profession.BILLING: PracticeProfile(
        site_kind=SiteKind.BILLING_OFFICE,
        sites_per_100k=1.0,
        staff=(2, 5),
        visits_per_day=25.0,
        read_share=1.0,
        panel=20_000,
        history_share=0.97,
        card_share=0.0,
        appointment_share=0.0,
        prescription_share=0.0,
        new_share=0.0,
        dark_share=0.04,
        days=(0, 1, 2, 3, 4),
        workdays_per_week=4.8,
    ),
}


@dataclass(frozen=True, slots=True)
class Target:
    """A documented range for one generated figure."""

    low: float
    high: float
    source: str

    def holds(self, value: float) -> bool:
        """Whether ``value`` lies in the closed range."""
        return self.low <= value <= self.high


# Reads per active account-day, by profession: (median range, p99 range).
TARGETS: Final[dict[str, Target]] = {
    "pharmacist.reads_per_day.median": Target(4, 16, "170-200 visits/day per pharmacy"),
    "pharmacist.reads_per_day.p99": Target(10, 60, "vaccination days reach 3-5x"),
    "gp.reads_per_day.median": Target(3, 9, "~22 consultations per working day"),
    "gp.reads_per_day.p99": Target(7, 25, "a long Monday"),
    "nurse.reads_per_day.median": Target(1, 4, "~20 patients a day on rounds"),
    "nurse.reads_per_day.p99": Target(3, 12, "new prescriptions"),
    "physiotherapist.reads_per_day.median": Target(1, 4, "~18 sessions a day"),
    "physiotherapist.reads_per_day.p99": Target(3, 12, "new series of sessions"),
    "specialist.reads_per_day.median": Target(2, 8, "~20 consultations a day"),
    "specialist.reads_per_day.p99": Target(6, 20, "a full clinic"),
    "billing.reads_per_day.median": Target(10, 45, "claim reconciliation"),
    "billing.reads_per_day.p99": Target(100, 800, "month-end reconciliation"),
    "gp.treating_adults": Target(600, 1_300, "~960 adults per treating doctor"),
    "gp.distinct_patients_per_year": Target(1_000, 2_200, "~1,600 distinct patients a year"),
    "legitimate.unexplained_share": Target(0.05, 0.12, "hospital audits explain ~94 %"),
    "attack.unexplained_share": Target(0.9, 1.0, "a robot has no care evidence"),
}
