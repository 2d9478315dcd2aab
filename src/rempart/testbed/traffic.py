"""Legitimate traffic: professionals reading their patients, with the evidence that explains it.

For every account, working days follow the site's opening days and the
profession's working week; reads per day follow the profession's visits and
read share with a Monday peak, a quieter Saturday and day-to-day noise; reads
fall inside opening hours (local time). Each read chooses a panel patient,
a new patient, or — for a ``dark_share`` of reads — a resident with no
evidence at all (a phone request, a first visit without a card). The evidence
that explains a read (card read, appointment, prescription) is emitted before
it; the claim a visit produces is emitted after it, and becomes history for
the next visit.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from rempart.directory import Account, Profession, Site
from rempart.events import RESULTS_MAX, EventKind, Lookup, Outcome
from rempart.evidence import EvidenceKind
from rempart.testbed.calibration import PROFILES, PracticeProfile
from rempart.testbed.clock import MICROS, day_start_us, draw_open_minutes
from rempart.testbed.columns import EventBuffer, EvidenceBuffer
from rempart.testbed.geography import NetworkKind, browser_user_agents
from rempart.testbed.hard_cases import is_month_end
from rempart.testbed.seeds import stream
from rempart.testbed.sessions import cut_sessions, emit_logins, session_ids
from rempart.testbed.world import World
from rempart.truth import LEGITIMATE

__all__ = ["generate_history", "generate_legitimate"]

DAY_US: Final = 86_400 * MICROS
_WEEKDAY_FACTOR: Final = np.array([1.15, 1.0, 0.95, 1.0, 1.0, 0.6, 0.5])
_DAY_NOISE_SHAPE: Final = 8.0
_TYPO_SHARE: Final = 0.04
_LOGOUT_SHARE: Final = 0.35
_VPN_SHARE: Final = 0.01
_NEW_DEVICE_SHARE: Final = 0.005
_RESET_SHARE: Final = 0.02  # accounts that reset their password once in the period
_NOT_FOUND_SHARE: Final = 0.03  # typed NIRs mistyped before the right one
_CLAIM_SHARE: Final = 0.9
_NAMESAKES: Final = 0.3  # others a surname and birth date search finds, on average
_MARGIN_US: Final = 3_600 * MICROS  # room for the login before and the logout after
_DOCTOR_CHANGES_PER_YEAR: Final = 0.05  # declared patients who change treating doctor


def generate_history(world: World, evidence: EvidenceBuffer) -> None:
    """Evidence from before the period: past claims of each panel, treating-doctor declarations.

    Declarations are standing relationships, 30 days to 8 years old. A few
    patients change doctor during the period (`_doctor_changes`).
    """
    rng = stream(world.seed, "history")
    start = day_start_us("UTC", world.preset.start)
    pseudonym = world.subjects.pseudonym
    for site in world.sites:
        if site.site in world.hard_cases.new_sites:
            continue
        panel = world.panels[site.site]
        profile = PROFILES[world.accounts_by_site[site.site][0].profession]
        seen = panel[rng.random(len(panel)) < profile.history_share]
        days = rng.integers(1, world.preset.history_days, size=len(seen))
        evidence.add(
            time_us=start - days * DAY_US - rng.integers(0, DAY_US, size=len(seen)),
            kind=EvidenceKind.CLAIM.value,
            subject=pseudonym[seen],
            account=None,
            site=site.site,
        )
    declared = np.flatnonzero(world.subjects.treating_doctor != None)  # noqa: E711
    days = rng.integers(30, 3_000, size=len(declared))
    since = _doctor_changes(world, declared, start - days * DAY_US, evidence)
    evidence.add(
        time_us=since,
        kind=EvidenceKind.TREATING_DOCTOR.value,
        subject=pseudonym[declared],
        account=world.subjects.treating_doctor[declared],
        site=None,
    )


def _doctor_changes(
    world: World,
    declared: npt.NDArray[np.int64],
    since: npt.NDArray[np.int64],
    evidence: EvidenceBuffer,
) -> npt.NDArray[np.int64]:
    """Patients who change treating doctor in the period; when each declared its world doctor.

    For a few declared patients the world's treating doctor is a new one:
    until a moment in the period another GP of their department was theirs,
    declared at the original time and ended by a record at the change, when
    the world's doctor is declared. Its own stream: the rest of the world's
    evidence is the same with or without the changes.
    """
    rng = stream(world.seed, "doctor-changes")
    subjects = world.subjects
    share = _DOCTOR_CHANGES_PER_YEAR * world.preset.days / 365
    changing = np.flatnonzero(rng.random(len(declared)) < share)
    department = subjects.department[declared]
    previous = np.empty(len(changing), dtype=object)
    for code in np.unique(department[changing]):
        here = department[changing] == code
        pool = declared[department == code]  # any doctor of the department, by list size
        previous[here] = subjects.treating_doctor[
            pool[rng.integers(0, len(pool), size=int(here.sum()))]
        ]
    moved = previous != subjects.treating_doctor[declared[changing]]
    changing, previous = changing[moved], previous[moved]
    change = (
        day_start_us("UTC", world.preset.start)
        + rng.integers(0, world.preset.days, size=len(changing)) * DAY_US
        + rng.integers(8 * 3_600, 18 * 3_600, size=len(changing)) * MICROS
    )
    pseudonym = subjects.pseudonym[declared[changing]]
    evidence.add(
        time_us=since[changing],
        kind=EvidenceKind.TREATING_DOCTOR.value,
        subject=pseudonym,
        account=previous,
        site=None,
    )
    evidence.add(
        time_us=change,
        kind=EvidenceKind.TREATING_DOCTOR.value,
        subject=pseudonym,
        account=previous,
        site=None,
        ended_us=change,
    )
    moved_since = since.copy()
    moved_since[changing] = change
    return moved_since


def generate_legitimate(world: World, events: EventBuffer, evidence: EvidenceBuffer) -> None:
    """Every account's reads, searches, sessions and evidence over the period."""
    for account in world.accounts:
        rng = stream(world.seed, "traffic", account.account)
        _account_traffic(world, account, events, evidence, rng)


def _working_days(
    world: World, account: Account, site: Site, rng: np.random.Generator
) -> list[int]:
    preset = world.preset
    profile = PROFILES[account.profession]
    plan = world.hard_cases
    open_days = world.open_weekdays(account)
    presence = 1.0 if account.shared else min(1.0, profile.workdays_per_week / len(open_days))
    first = 0
    if account.created is not None and account.created > preset.start:
        first = (account.created - preset.start).days
    first = max(first, plan.new_sites.get(site.site, 0))
    days = []
    replaced = {r: (a, b) for r, a, b in plan.locums.values()}
    for day in range(first, preset.days):
        weekday = (preset.start + timedelta(days=day)).weekday()
        if weekday not in open_days:
            continue
        window = plan.locums.get(account.account)
        if window and not window[1] <= day < window[2]:
            continue
        away = replaced.get(account.account)
        if away and away[0] <= day < away[1]:
            continue
        if rng.random() < presence:
            days.append(day)
    return days


def _reads_per_day(
    world: World, account: Account, site: Site, days: list[int], rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], list[str | None]]:
    profile = PROFILES[account.profession]
    plan = world.hard_cases
    rate = profile.visits_per_day * profile.read_share * (0.5 if account.shared else 1.0)
    counts = np.zeros(len(days), dtype=np.int64)
    tags: list[str | None] = []
    for k, day in enumerate(days):
        date = world.preset.start + timedelta(days=day)
        mean = rate * _WEEKDAY_FACTOR[date.weekday()]
        mean *= rng.gamma(_DAY_NOISE_SHAPE, 1 / _DAY_NOISE_SHAPE)
        tag = plan.tag(account, site, day)
        if tag == "vaccination":
            mean *= rng.uniform(3.0, 5.0)
        if account.profession is Profession.BILLING and is_month_end(date):
            mean *= rng.uniform(8.0, 15.0)
            tag = "month_end"
        counts[k] = rng.poisson(mean)
        tags.append(tag)
    return counts, tags


def _account_traffic(
    world: World,
    account: Account,
    events: EventBuffer,
    evidence: EvidenceBuffer,
    rng: np.random.Generator,
) -> None:
    site = world.site_by_id[account.site]
    profile = PROFILES[account.profession]
    days = _working_days(world, account, site, rng)
    if not days:
        return
    counts, day_tags = _reads_per_day(world, account, site, days, rng)
    total = int(counts.sum())
    if total == 0:
        return
    day_of_read = np.repeat(np.array(days, dtype=np.int64), counts)
    tag_of_read = np.repeat(np.array(day_tags, dtype=object), counts)
    weekday = (np.int64(world.preset.start.weekday()) + day_of_read) % 7
    minutes = draw_open_minutes(site, weekday, rng)
    midnight = np.array(
        [day_start_us(site.timezone, world.preset.start + timedelta(days=int(d))) for d in days],
        dtype=np.int64,
    )
    times = np.repeat(midnight, counts) + (minutes * 60 * MICROS).astype(np.int64)
    times += rng.integers(0, 60 * MICROS, size=total)
    # Local midnight is the evening before in UTC: keep every action inside the period.
    first_us = day_start_us("UTC", world.preset.start) + _MARGIN_US
    stop_us = day_start_us("UTC", world.end) - _MARGIN_US
    inside = np.flatnonzero((times >= first_us) & (times < stop_us))
    order = inside[np.argsort(times[inside], kind="stable")]
    times, tag_of_read = times[order], tag_of_read[order]
    total = len(times)
    if total == 0:
        return
    subjects, kind_of_read = _draw_patients(world, site, profile, total, rng)
    _emit_reads(
        world,
        account,
        site,
        profile,
        times,
        subjects,
        kind_of_read,
        tag_of_read,
        events,
        evidence,
        rng,
    )


def _draw_patients(
    world: World, site: Site, profile: PracticeProfile, n: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int8]]:
    """Patient of each read and its kind: 0 panel, 1 new, 2 dark (no evidence at all)."""
    panel = world.panels[site.site]
    residents = world.residents[site.department]
    ald = world.subjects.ald[panel]
    weights = np.where(ald, 3.0, 1.0)
    draw = rng.random(n)
    kind = np.zeros(n, dtype=np.int8)
    kind[draw < profile.new_share + profile.dark_share] = 1
    kind[draw < profile.dark_share] = 2
    subjects = panel[rng.choice(len(panel), size=n, p=weights / weights.sum())]
    outside = kind > 0
    strangers = residents[rng.integers(0, len(residents), size=int(outside.sum()))]
    # A stranger who turns out to be in the panel is drawn again once (panels are sparse).
    again = np.isin(strangers, panel)
    strangers[again] = residents[rng.integers(0, len(residents), size=int(again.sum()))]
    subjects[outside] = strangers
    return subjects, kind


def _emit_reads(
    world: World,
    account: Account,
    site: Site,
    profile: PracticeProfile,
    times: npt.NDArray[np.int64],
    subjects: npt.NDArray[np.int64],
    kind_of_read: npt.NDArray[np.int8],
    tags: npt.NDArray[np.object_],
    events: EventBuffer,
    evidence: EvidenceBuffer,
    rng: np.random.Generator,
) -> None:
    n = len(times)
    pseudonym = world.subjects.pseudonym[subjects]
    dark = kind_of_read == 2
    card = ~dark & (rng.random(n) < profile.card_share)
    appointment = ~dark & (rng.random(n) < profile.appointment_share)
    prescription = ~dark & ~card & (rng.random(n) < profile.prescription_share)
    reconciled = ~dark & (account.profession is Profession.BILLING)
    evidence.add(
        time_us=times[card] - rng.integers(5, 120, size=int(card.sum())) * MICROS,
        kind=EvidenceKind.CARD_READ.value,
        subject=pseudonym[card],
        account=account.account,
        site=site.site,
    )
    evidence.add(
        time_us=times[appointment] - rng.integers(1, 21, size=int(appointment.sum())) * DAY_US,
        kind=EvidenceKind.APPOINTMENT.value,
        subject=pseudonym[appointment],
        account=None,
        site=site.site,
    )
    evidence.add(
        time_us=times[prescription] - rng.integers(30, 600, size=int(prescription.sum())) * MICROS,
        kind=EvidenceKind.PRESCRIPTION.value,
        subject=pseudonym[prescription],
        account=None,
        site=site.site,
    )
    evidence.add(
        time_us=times[reconciled] - rng.integers(1, 30, size=int(reconciled.sum())) * DAY_US,
        kind=EvidenceKind.CLAIM.value,
        subject=pseudonym[reconciled],
        account=None,
        site=site.site,
    )
    billed = ~dark & ~reconciled & (rng.random(n) < _CLAIM_SHARE)
    evidence.add(
        time_us=times[billed] + rng.integers(60, 3 * 3_600, size=int(billed.sum())) * MICROS,
        kind=EvidenceKind.CLAIM.value,
        subject=pseudonym[billed],
        account=account.account,
        site=site.site,
    )

    lookup = np.full(n, Lookup.TYPED_NIR.value, dtype=object)
    lookup[rng.random(n) < 0.25] = Lookup.SEARCH.value
    lookup[(appointment | prescription) & (rng.random(n) < 0.5)] = Lookup.LINK.value
    lookup[card] = Lookup.CARD.value
    if account.profession is Profession.BILLING:
        lookup[~dark] = Lookup.LINK.value

    # Concurrent counters: on shared-counter days, reads alternate between two workstations.
    streams = np.zeros(n, dtype=np.int64)
    if account.shared:
        shared_days = world.hard_cases.shared_counter.get(account.account, [])
        day_of = (times - day_start_us("UTC", world.preset.start)) // DAY_US
        busy = np.isin(day_of, shared_days)
        streams[busy] = rng.integers(0, 2, size=int(busy.sum()))
        tags = np.where(busy, "shared_counter", tags)
    # A visit starts with its search or its mistyped NIR: sessions open before those.
    searched = lookup == Lookup.SEARCH.value
    typed = lookup == Lookup.TYPED_NIR.value
    mistyped = typed & (rng.random(n) < _NOT_FOUND_SHARE)
    lead = np.zeros(n, dtype=np.int64)
    lead[searched] = rng.integers(5, 30, size=int(searched.sum())) * MICROS
    lead[mistyped] = rng.integers(10, 40, size=int(mistyped.sum())) * MICROS
    sessions = cut_sessions(times - lead, streams)
    count = len(sessions)
    ids = session_ids(count, rng)
    ip, agent = _session_networks(
        world, account, site, profile, sessions.first_us, streams, sessions.index, rng
    )
    session_tag = np.empty(count, dtype=object)
    session_tag[sessions.index] = tags
    label: dict[str, Any] = {"label": LEGITIMATE, "account": account.account}

    result_count = 1 + rng.poisson(_NAMESAKES, size=int(searched.sum()))
    events.add(
        time_us=times[searched] - lead[searched],
        kind=EventKind.SEARCH,
        ip=ip[sessions.index[searched]],
        session=ids[sessions.index[searched]],
        user_agent=agent[sessions.index[searched]],
        lookup=Lookup.SEARCH,
        result_count=result_count,
        results=_listed(world, account, site, subjects[searched], result_count),
        hard_case=tags[searched],
        **label,
    )
    events.add(
        time_us=times[mistyped] - lead[mistyped],
        kind=EventKind.RECORD_VIEW,
        ip=ip[sessions.index[mistyped]],
        session=ids[sessions.index[mistyped]],
        user_agent=agent[sessions.index[mistyped]],
        lookup=Lookup.TYPED_NIR,
        outcome=Outcome.NOT_FOUND,
        hard_case=tags[mistyped],
        **label,
    )
    match = np.full(n, None, dtype=object)
    match[typed] = True
    events.add(
        time_us=times,
        kind=EventKind.RECORD_VIEW,
        ip=ip[sessions.index],
        session=ids[sessions.index],
        user_agent=agent[sessions.index],
        subject=pseudonym,
        lookup=lookup,
        subject_department=world.subjects.department[subjects],
        birth_date_match=match,
        hard_case=tags,
        **label,
    )
    emit_logins(
        events,
        account=account.account,
        sessions=sessions,
        ids=ids,
        ip=ip,
        user_agent=agent,
        label=LEGITIMATE,
        rng=rng,
        typo_share=_TYPO_SHARE,
        logout_share=_LOGOUT_SHARE,
        hard_case=session_tag,
    )
    if rng.random() < _RESET_SHARE:
        first = int(rng.integers(0, count))
        reset_at = sessions.first_us[first] - rng.integers(180, 1_800) * MICROS
        for kind, delay in ((EventKind.PASSWORD_RESET_REQUEST, 0), (EventKind.PASSWORD_RESET, 90)):
            events.add(
                time_us=np.array([reset_at + delay * MICROS], dtype=np.int64),
                kind=kind,
                ip=ip[first],
                user_agent=agent[first],
                hard_case=session_tag[first],
                **label,
            )


def _listed(
    world: World,
    account: Account,
    site: Site,
    patients: npt.NDArray[np.int64],
    result_count: npt.NDArray[np.int64],
) -> list[tuple[str, ...]]:
    """Whom each search listed: the patient then read, and any namesakes it found.

    Names are not modelled: a namesake is any resident of the site's department, drawn from
    a stream of its own so that the rest of the account's traffic never depends on them.
    """
    rng = stream(world.seed, "search-results", account.account)
    residents = world.residents[site.department]
    pseudonym = world.subjects.pseudonym
    shown = np.minimum(result_count, RESULTS_MAX)
    others = residents[rng.integers(0, len(residents), size=int((shown - 1).sum()))]
    starts = np.concatenate([[0], np.cumsum(shown - 1)])
    return [
        tuple(dict.fromkeys([pseudonym[patient], *pseudonym[others[begin:end]]]))
        for patient, begin, end in zip(patients, starts[:-1], starts[1:], strict=True)
    ]


def _session_networks(
    world: World,
    account: Account,
    site: Site,
    profile: PracticeProfile,
    first_us: npt.NDArray[np.int64],
    streams: npt.NDArray[np.int64],
    index: npt.NDArray[np.int64],
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Address and browser of each session: the site's line, else mobile, VPN or travel;
    the account's own browser at its version of the day, now and then a new device."""
    count = len(first_us)
    network = world.network
    ip = np.full(count, world.site_address[site.site], dtype=object)
    agent = np.full(count, world.account_user_agent[account.account], dtype=object)
    mobile_ranges = [r for r in network.ranges_of(NetworkKind.MOBILE) if r.country == "FR"]
    draw = rng.random(count)
    mobile = draw < profile.mobile_share
    vpn = ~mobile & (draw < profile.mobile_share + _VPN_SHARE)
    for k in np.flatnonzero(mobile):
        ip[k] = network.sample_address(rng, mobile_ranges[int(rng.integers(0, len(mobile_ranges)))])
    vpn_ranges = network.ranges_of(NetworkKind.VPN)
    for k in np.flatnonzero(vpn):
        ip[k] = network.sample_address(rng, vpn_ranges[int(rng.integers(0, len(vpn_ranges)))])
    trip = world.hard_cases.travel.get(account.account)
    if trip:
        abroad = network.ranges_of(NetworkKind.FOREIGN_FIXED)
        hotel = network.sample_address(rng, abroad[int(rng.integers(0, len(abroad)))])
        day = (first_us - day_start_us("UTC", world.preset.start)) // DAY_US
        ip[(day >= trip[0]) & (day < trip[1])] = hotel
    second_counter = np.zeros(count, dtype=bool)
    second_counter[index[streams == 1]] = True
    agents = browser_user_agents()
    if second_counter.any():
        other = agents[
            (agents.index(next(a for a in agents if a[0] == agent[0])) + 1) % len(agents)
        ]
        agent[second_counter] = other[0]
    new_device = rng.random(count) < _NEW_DEVICE_SHARE
    if new_device.any():
        agent[new_device] = agents[int(rng.integers(0, len(agents)))][0]
    # The account's own browser moves up a version on its update days (no draw: the
    # schedule is the world's, so the rest of the traffic is the same with or without it).
    updates = world.browser_updates.get(account.account, ())
    if updates:
        own = agent == world.account_user_agent[account.account]
        day = (first_us - day_start_us("UTC", world.preset.start)) // DAY_US
        taken = np.searchsorted(np.array(updates, dtype=np.int64), day, side="right")
        for steps in np.unique(taken[own & (taken > 0)]):
            agent[own & (taken == steps)] = world.user_agent_on(
                account.account, updates[int(steps) - 1]
            )
    return ip, agent
