"""The simulated world: subjects (patients), sites and accounts, panels and addresses.

`build_world` draws everything from the seed. Subjects carry valid NIRs
(consistent with sex, birth year and month, birth department and commune,
Corsica and births abroad included); the clear NIR and names go to the
separate identities table, and the world itself only holds keyed pseudonyms.

Each site has a *panel*: the patients it sees over a year, drawn from the
residents of its department. General practitioners are the declared
treating doctor of most adults of their panel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from faker import Faker
from faker.providers.person.fr_FR import Provider as PersonProvider

from rempart.directory import Account, OpeningInterval, Profession, Site, SiteKind
from rempart.nir import make_nir
from rempart.progress import Steps, silent
from rempart.pseudonym import Pseudonymizer
from rempart.testbed.browsers import update_days, user_agent_after
from rempart.testbed.calibration import PROFILES
from rempart.testbed.geography import (
    NetworkKind,
    NetworkTable,
    birth_countries,
    browser_user_agents,
    department,
    departments,
    network_ranges,
)
from rempart.testbed.hard_cases import HardCasePlan, plan_hard_cases
from rempart.testbed.presets import Preset
from rempart.testbed.seeds import stream

__all__ = ["WORLD_STEPS", "Subjects", "World", "build_world"]

Indices = npt.NDArray[np.int64]

# INSEE age pyramid, 1 January 2022: (lowest age, highest age, share of the population).
_AGE_BANDS: Final = (
    (0, 14, 0.173),
    (15, 29, 0.170),
    (30, 44, 0.183),
    (45, 59, 0.196),
    (60, 74, 0.176),
    (75, 99, 0.102),
)
_FEMALE_SHARE: Final = 0.516
_BORN_ABROAD_SHARE: Final = 0.125  # immigrants (10.3 %) and French people born abroad
_BORN_OVERSEAS_SHARE: Final = 0.015
_BORN_NEAR_HOME_SHARE: Final = 0.6
_CORSICA_SPLIT_YEAR: Final = 1976  # before it, Corsica's NIRs use department 20
_TREATING_DOCTOR_SHARE: Final = 0.89  # adults with a declared treating doctor
_C2S_SHARE: Final = 0.11
_SHARED_COUNTER_SHARE: Final = 0.25  # pharmacies that also keep a shared counter login
_EMAIL_DOMAINS: Final = ("example.org", "example.net", "example.com")

WORLD_STEPS: Final = 5
"""Steps `build_world` begins on its ``steps`` (each a few seconds at ``incident-2022``)."""


@dataclass(slots=True)
class Subjects:
    """Patients of the world, pseudonymised side (one array entry per subject)."""

    pseudonym: npt.NDArray[np.object_]
    sex: npt.NDArray[np.int8]
    birth_date: npt.NDArray[np.datetime64]
    department: npt.NDArray[np.object_]
    treating_doctor: npt.NDArray[np.object_]
    ald: npt.NDArray[np.bool_]
    c2s: npt.NDArray[np.bool_]
    canary: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.pseudonym)

    def to_table(self) -> pa.Table:
        """The subjects table written to ``world/subjects.parquet``."""
        return pa.table(
            {
                "subject": pa.array(self.pseudonym, type=pa.string()),
                "sex": pa.array(self.sex, type=pa.int8()),
                "birth_year": pa.array(
                    self.birth_date.astype("datetime64[Y]").astype(np.int64) + 1970,
                    type=pa.int16(),
                ),
                "department": pa.array(self.department, type=pa.string()),
                "treating_doctor": pa.array(self.treating_doctor, type=pa.string()),
                "ald": pa.array(self.ald),
                "c2s": pa.array(self.c2s),
                "canary": pa.array(self.canary),
            }
        )


@dataclass(slots=True)
class World:
    """Everything generated before traffic: who exists, where, and who treats whom."""

    preset: Preset
    seed: int
    subjects: Subjects
    sites: list[Site]
    accounts: list[Account]
    panels: dict[str, Indices]
    site_address: dict[str, str]
    account_user_agent: dict[str, str]
    """Each account's own browser as it is on the period's first day."""
    residents: dict[str, Indices]
    network: NetworkTable
    hard_cases: HardCasePlan
    browser_updates: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """The period days on which each account's own browser moves up a major version."""
    accounts_by_site: dict[str, list[Account]] = field(default_factory=dict)
    site_by_id: dict[str, Site] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.site_by_id = {site.site: site for site in self.sites}
        for account in self.accounts:
            self.accounts_by_site.setdefault(account.site, []).append(account)

    @property
    def end(self) -> date:
        """The first day after the simulated period."""
        return self.preset.start + timedelta(days=self.preset.days)

    def user_agent_on(self, account: str, day: int) -> str:
        """The user agent of ``account``'s own browser on period day ``day``, updates included."""
        return user_agent_after(
            self.account_user_agent[account], self.browser_updates.get(account, ()), day
        )

    def open_weekdays(self, account: Account) -> frozenset[int]:
        """Weekdays when the account's site opens and its profession works (0 = Monday)."""
        site = self.site_by_id[account.site]
        if site.night_duty:
            return frozenset(range(7))
        return frozenset(i.weekday for i in site.hours) & frozenset(
            PROFILES[account.profession].days
        )

    def open_days(self, account: Account, first: int, stop: int) -> list[int]:
        """Days in ``[first, stop)`` (counted from the start) of `open_weekdays`."""
        weekdays = self.open_weekdays(account)
        start = self.preset.start.weekday()
        return [day for day in range(first, stop) if (start + day) % 7 in weekdays]


def build_world(
    preset: Preset, seed: int, pseudonymizer: Pseudonymizer, *, steps: Steps | None = None
) -> tuple[World, pa.Table]:
    """Draw the world of ``preset`` from ``seed``; returns it with the clear identities table.

    ``steps`` hears the `WORLD_STEPS` steps begin (`rempart.progress`).
    """
    steps = steps or Steps(silent, WORLD_STEPS)
    steps.begin("world: subjects")
    rng = stream(seed, "world")
    network = NetworkTable(network_ranges())
    residence = _draw_residence(preset, rng)
    real = len(residence)
    sex = np.where(rng.random(real) < _FEMALE_SHARE, 2, 1).astype(np.int8)
    birth_date = _draw_birth_dates(preset.start, real, rng)
    birth_place = _draw_birth_places(residence, birth_date, rng)
    # Canary records are planted next to real ones in NIR space (same sex, birth month and
    # place, a nearby serial), where someone walking NIRs around a leaked one will touch them.
    hosts = rng.choice(real, size=preset.canaries, replace=False)
    month_start = birth_date[hosts].astype("datetime64[M]").astype("datetime64[D]")
    residence = np.concatenate([residence, residence[hosts]])
    sex = np.concatenate([sex, sex[hosts]])
    birth_date = np.concatenate(
        [birth_date, month_start + rng.integers(0, 28, size=len(hosts)).astype("timedelta64[D]")]
    )
    birth_place = np.concatenate([birth_place, birth_place[hosts]])
    neighbour_of = np.concatenate([np.full(real, -1, dtype=np.int64), hosts])
    steps.begin("world: NIRs")
    nirs = _draw_nirs(sex, birth_date, birth_place, neighbour_of, rng)
    n = len(nirs)
    steps.begin("world: pseudonyms")
    pseudonyms = pseudonymizer.pseudonyms_of_valid(nirs)
    age = _age_at(birth_date, preset.start)
    ald_probability = np.select([age < 40, age < 60, age < 75], [0.05, 0.15, 0.33], 0.55)
    canary = neighbour_of >= 0
    subjects = Subjects(
        pseudonym=pseudonyms,
        sex=sex,
        birth_date=birth_date,
        department=residence,
        treating_doctor=np.full(n, None, dtype=object),
        ald=rng.random(n) < ald_probability,
        c2s=rng.random(n) < _C2S_SHARE,
        canary=canary,
    )
    residents = {
        code: np.flatnonzero((residence == code) & ~canary) for code in preset.focus_departments
    }
    steps.begin("world: sites and panels")
    sites, accounts = _draw_directory(preset, residents, rng)
    hard_cases = plan_hard_cases(preset, sites, accounts, rng)
    new_sites = set(hard_cases.new_sites)
    panels = _draw_panels(preset, sites, accounts, residents, subjects, age, new_sites, rng)
    site_address = _draw_site_addresses(sites, network, rng)
    agents = browser_user_agents()
    weights = np.array([w for _, w in agents])
    picks = rng.choice(len(agents), size=len(accounts), p=weights / weights.sum())
    account_user_agent = {a.account: agents[i][0] for a, i in zip(accounts, picks, strict=True)}
    # Its own stream: drawing the updates shifts nothing else the world draws.
    updates = stream(seed, "browser-updates")
    browser_updates = {
        account: update_days(agent, preset.days, updates)
        for account, agent in account_user_agent.items()
    }
    world = World(
        preset=preset,
        seed=seed,
        subjects=subjects,
        sites=sites,
        accounts=accounts,
        panels=panels,
        site_address=site_address,
        account_user_agent=account_user_agent,
        residents=residents,
        network=network,
        hard_cases=hard_cases,
        browser_updates=browser_updates,
    )
    steps.begin("world: identities")
    identities = _draw_identities(subjects, nirs, birth_place, seed)
    return world, identities


def _draw_residence(preset: Preset, rng: np.random.Generator) -> npt.NDArray[np.object_]:
    everywhere = departments()
    codes = np.array([d.code for d in everywhere], dtype=object)
    weights = np.array([d.population for d in everywhere], dtype=float)
    focus = np.array(preset.focus_departments, dtype=object)
    focus_weights = np.array([department(c).population for c in focus], dtype=float)
    n = preset.subjects
    in_focus = rng.random(n) < preset.focus_share
    residence = np.empty(n, dtype=object)
    k = int(in_focus.sum())
    residence[in_focus] = focus[
        rng.choice(len(focus), size=k, p=focus_weights / focus_weights.sum())
    ]
    residence[~in_focus] = codes[rng.choice(len(codes), size=n - k, p=weights / weights.sum())]
    return residence


def _draw_birth_dates(start: date, n: int, rng: np.random.Generator) -> npt.NDArray[np.datetime64]:
    shares = np.array([band[2] for band in _AGE_BANDS])
    band = rng.choice(len(_AGE_BANDS), size=n, p=shares / shares.sum())
    low = np.array([b[0] for b in _AGE_BANDS])[band]
    high = np.array([b[1] for b in _AGE_BANDS])[band]
    age_days = ((low + rng.random(n) * (high - low + 1)) * 365.25).astype(np.int64)
    births: npt.NDArray[np.datetime64] = np.datetime64(start, "D") - age_days.astype(
        "timedelta64[D]"
    )
    return births


def _age_at(birth_date: npt.NDArray[np.datetime64], when: date) -> npt.NDArray[np.int64]:
    days: npt.NDArray[np.int64] = (np.datetime64(when, "D") - birth_date).astype(np.int64)
    return days // 365


def _draw_birth_places(
    residence: npt.NDArray[np.object_],
    birth_date: npt.NDArray[np.datetime64],
    rng: np.random.Generator,
) -> npt.NDArray[np.object_]:
    """Five-character INSEE birth place: department + commune, or 99 + country code."""
    n = len(residence)
    everywhere = departments()
    metro = [d for d in everywhere if len(d.code) == 2]
    overseas = [d for d in everywhere if len(d.code) == 3]
    weights = np.array([d.population for d in metro], dtype=float)
    countries = birth_countries()
    country_weights = np.array([c.weight for c in countries], dtype=float)
    draw = rng.random(n)
    place = np.empty(n, dtype=object)
    abroad = draw < _BORN_ABROAD_SHARE
    place[abroad] = np.array([c.code for c in countries], dtype=object)[
        rng.choice(
            len(countries), size=int(abroad.sum()), p=country_weights / country_weights.sum()
        )
    ]
    born_overseas = (draw >= _BORN_ABROAD_SHARE) & (
        (draw < _BORN_ABROAD_SHARE + _BORN_OVERSEAS_SHARE)
        | np.array([len(code) == 3 for code in residence])
    )
    home_draw = rng.random(n)
    metro_choice = rng.choice(len(metro), size=n, p=weights / weights.sum())
    overseas_choice = rng.integers(0, len(overseas), size=n)
    commune_draw = rng.random(n)
    birth_year = birth_date.astype("datetime64[Y]").astype(np.int64) + 1970
    for i in np.flatnonzero(~abroad):
        if born_overseas[i]:
            home = residence[i] if len(residence[i]) == 3 else None
            dept = department(home) if home else overseas[overseas_choice[i]]
            commune = 1 + int(commune_draw[i] * min(dept.communes, 99))
            place[i] = f"{dept.code}{commune:02d}"
            continue
        near_home = home_draw[i] < _BORN_NEAR_HOME_SHARE and len(residence[i]) == 2
        dept = department(residence[i]) if near_home else metro[metro_choice[i]]
        commune = 1 + int(commune_draw[i] * dept.communes)
        code = dept.code
        if code in ("2A", "2B") and birth_year[i] < _CORSICA_SPLIT_YEAR:
            code = "20"
        place[i] = f"{code}{commune:03d}"
    return place


def _draw_nirs(
    sex: npt.NDArray[np.int8],
    birth_date: npt.NDArray[np.datetime64],
    birth_place: npt.NDArray[np.object_],
    neighbour_of: Indices,
    rng: np.random.Generator,
) -> list[str]:
    """Valid, unique NIRs; a serial collision within a place and month is redrawn.

    Entry i with ``neighbour_of[i] = j >= 0`` gets a serial within 3 of entry j's.
    """
    year = birth_date.astype("datetime64[Y]").astype(np.int64) + 1970
    month = birth_date.astype("datetime64[M]").astype(np.int64) % 12 + 1
    serial = rng.integers(1, 1000, size=len(sex))
    seen: set[str] = set()
    nirs: list[str] = []
    for i in range(len(sex)):
        host = int(neighbour_of[i])
        for attempt in range(1_000):
            if host >= 0:
                step = int(rng.integers(1, 4)) * (1 if rng.random() < 0.5 else -1)
                serial[i] = min(999, max(1, int(serial[host]) + step + attempt // 6))
            nir = make_nir(int(sex[i]), int(year[i]), int(month[i]), birth_place[i], int(serial[i]))
            if nir[:13] not in seen:
                break
            serial[i] = rng.integers(1, 1000)
        seen.add(nir[:13])
        nirs.append(nir)
    return nirs


def _hours(kind: SiteKind, rng: np.random.Generator) -> tuple[OpeningInterval, ...]:
    """Opening hours in local minutes, with the usual shapes of each kind of site."""

    def week(days: Sequence[int], *spans: tuple[int, int]) -> list[OpeningInterval]:
        return [OpeningInterval(weekday=d, opens=o, closes=c) for d in days for o, c in spans]

    weekdays = range(5)
    if kind is SiteKind.PHARMACY:
        if rng.random() < 0.5:
            hours = week(weekdays, (510, 1170))
        else:
            hours = week(weekdays, (540, 750), (840, 1170))
        hours += week([5], (540, 1140))
    elif kind is SiteKind.GP_PRACTICE:
        hours = week(weekdays, (480, 720), (840, 1140))
        if rng.random() < 0.5:
            hours += week([5], (510, 720))
    elif kind is SiteKind.NURSING_PRACTICE:
        hours = week(range(7), (390, 750), (990, 1200))
    elif kind is SiteKind.PHYSIO_PRACTICE:
        hours = week(weekdays, (480, 1200))
    elif kind is SiteKind.SPECIALIST_PRACTICE:
        hours = week(weekdays, (540, 1080))
    else:
        hours = week(weekdays, (510, 1050))
    return tuple(hours)


def _draw_directory(
    preset: Preset, residents: dict[str, Indices], rng: np.random.Generator
) -> tuple[list[Site], list[Account]]:
    """Sites in the focus departments at public per-inhabitant densities, and their accounts."""
    sites: list[Site] = []
    accounts: list[Account] = []
    opened_long_ago = preset.start - timedelta(days=3 * 365)
    for code in preset.focus_departments:
        dept = department(code)
        population = len(residents[code])
        for profession, profile in PROFILES.items():
            # Every department has at least one site of each kind, billing offices included.
            count = max(1, round(population * profile.sites_per_100k / 100_000))
            for _ in range(count):
                site_id = f"S{len(sites) + 1:05d}"
                if len(code) == 3:  # overseas: three-digit department, two-digit commune
                    commune = f"{code}{1 + int(rng.integers(0, 99)):02d}"
                else:
                    commune = f"{code}{1 + int(rng.integers(0, dept.communes)):03d}"
                sites.append(
                    Site(
                        site=site_id,
                        kind=profile.site_kind,
                        department=code,
                        commune=commune,
                        timezone=dept.timezone,
                        hours=_hours(profile.site_kind, rng),
                        opened=opened_long_ago,
                    )
                )
                low, high = profile.staff
                staff = int(rng.integers(low, high + 1))
                shared = (
                    profession is Profession.PHARMACIST and rng.random() < _SHARED_COUNTER_SHARE
                )
                for member in range(staff + shared):
                    accounts.append(
                        Account(
                            account=f"A{len(accounts) + 1:06d}",
                            profession=profession,
                            site=site_id,
                            shared=member == staff,
                            created=opened_long_ago,
                        )
                    )
    return sites, accounts


def _draw_panels(
    preset: Preset,
    sites: list[Site],
    accounts: list[Account],
    residents: dict[str, Indices],
    subjects: Subjects,
    age: npt.NDArray[np.int64],
    new_sites: set[str],
    rng: np.random.Generator,
) -> dict[str, Indices]:
    """Each site's yearly patients; GPs become treating doctor of most adults near them."""
    staff: dict[str, list[Account]] = {}
    for account in accounts:
        staff.setdefault(account.site, []).append(account)
    department_of = {site.site: site.department for site in sites}
    panels: dict[str, Indices] = {}
    for code in preset.focus_departments:
        local = residents[code]
        gps = [
            a
            for a in accounts
            if a.profession is Profession.GP
            and department_of[a.site] == code
            and a.site not in new_sites
            and a.created is not None
            and a.created <= preset.start
        ]
        adults = local[age[local] >= 16]
        declared = adults[rng.random(len(adults)) < _TREATING_DOCTOR_SHARE]
        if gps:
            doctor = rng.integers(0, len(gps), size=len(declared))
            subjects.treating_doctor[declared] = np.array([a.account for a in gps], dtype=object)[
                doctor
            ]
        for site in (s for s in sites if s.department == code):
            members = staff.get(site.site, [])
            profile = PROFILES[members[0].profession]
            size = min(len(local), profile.panel * len(members))
            if site.kind is SiteKind.GP_PRACTICE and site.site not in new_sites:
                ids = {a.account for a in members}
                treated = local[np.isin(subjects.treating_doctor[local], list(ids))]
                others = rng.choice(local, size=max(0, size - len(treated)), replace=False)
                panels[site.site] = np.unique(np.concatenate([treated, others]))
            else:
                panels[site.site] = np.sort(rng.choice(local, size=size, replace=False))
    return panels


def _draw_site_addresses(
    sites: list[Site], network: NetworkTable, rng: np.random.Generator
) -> dict[str, str]:
    """One fixed business line per site, from a French fixed-line operator."""
    fixed = [r for r in network.ranges_of(NetworkKind.FIXED) if r.country == "FR"]
    picks = rng.integers(0, len(fixed), size=len(sites))
    return {
        site.site: network.sample_address(rng, fixed[i])
        for site, i in zip(sites, picks, strict=True)
    }


def _draw_identities(
    subjects: Subjects,
    nirs: list[str],
    birth_place: npt.NDArray[np.object_],
    seed: int,
) -> pa.Table:
    """Clear identities for the notice plane: names from Faker's fr_FR vocabulary."""
    rng = stream(seed, "identities")
    n = len(subjects)
    faker = Faker("fr_FR")
    faker.seed_instance(seed)
    cities = np.array([faker.city() for _ in range(2_000)], dtype=object)
    streets = np.array([faker.street_name() for _ in range(5_000)], dtype=object)
    surnames = np.array(PersonProvider.last_names, dtype=object)
    female = np.array(PersonProvider.first_names_female, dtype=object)
    male = np.array(PersonProvider.first_names_male, dtype=object)
    first_f = female[rng.integers(0, len(female), size=n)]
    first_m = male[rng.integers(0, len(male), size=n)]
    first = np.where(subjects.sex == 2, first_f, first_m)
    second_f = female[rng.integers(0, len(female), size=n)]
    second_m = male[rng.integers(0, len(male), size=n)]
    second = np.where(subjects.sex == 2, second_f, second_m)
    has_second = rng.random(n) < 0.6
    first_names = np.where(has_second, first + " " + second, first)
    surname = surnames[rng.integers(0, len(surnames), size=n)]
    number = rng.integers(1, 120, size=n).astype(str).astype(object)
    street = streets[rng.integers(0, len(streets), size=n)]
    city = cities[rng.integers(0, len(cities), size=n)]
    postcode = np.array(
        [
            _postcode(dep, int(code))
            for dep, code in zip(subjects.department, rng.integers(0, 1000, size=n), strict=True)
        ],
        dtype=object,
    )
    domain = np.array(_EMAIL_DOMAINS, dtype=object)[rng.integers(0, 3, size=n)]
    local = np.char.lower(
        np.char.replace(
            (np.char.partition(first.astype(str), " ")[:, 0] + "." + surname.astype(str)), " ", "-"
        )
    )
    suffix = rng.integers(1, 100, size=n).astype(str)
    email = (local.astype(object) + suffix.astype(object) + "@" + domain).astype(object)
    return pa.table(
        {
            "subject": pa.array(subjects.pseudonym, type=pa.string()),
            "nir": pa.array(nirs, type=pa.string()),
            "sex": pa.array(subjects.sex, type=pa.int8()),
            "surname": pa.array(surname.astype(str).astype(object), type=pa.string()),
            "first_names": pa.array(first_names, type=pa.string()),
            "birth_date": pa.array(subjects.birth_date.astype("datetime64[D]"), type=pa.date32()),
            "birth_place": pa.array(birth_place, type=pa.string()),
            "address": pa.array(number + " " + street, type=pa.string()),
            "postcode": pa.array(postcode, type=pa.string()),
            "city": pa.array(city, type=pa.string()),
            "department": pa.array(subjects.department, type=pa.string()),
            "email": pa.array(email, type=pa.string()),
            "canary": pa.array(subjects.canary),
        }
    )


def _postcode(department_code: str, draw: int) -> str:
    """A postcode in the department (Corsica's start with 20, overseas ones with 97x)."""
    prefix = "20" if department_code in ("2A", "2B") else department_code
    return f"{prefix}{draw % 10 ** (5 - len(prefix)):0{5 - len(prefix)}d}"
