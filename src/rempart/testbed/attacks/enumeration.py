"""``enumeration``: walking the NIR space around a few leaked patients.

The attacker holds a small leaked list of real patients — NIR and birth date,
as sold after earlier breaches — and a taken-over account (a pharmacist's or
a GP's, reset through the mailbox and logged into from rented servers, as in
``incident-2022``). The portal answers a typed NIR only together with the
right birth date, so the robot types each leaked birth date with NIRs
*near* the leaked one: same sex, birth year and month, and birth place, the
serial number stepped from ``-walk`` to ``+walk`` (the check key recomputed
each time). Most such NIRs belong to nobody ("not found", no subject); some
belong to someone born another day (the portal records whose record was
probed, returns nothing: ``birth_date_match`` false); a few belong to someone
born the very same day, whose data is returned. Canary records sit among the
neighbours of real patients, so the walk stumbles on some of them without
aiming at them.

It runs on one day in the last third of the period, at a fast, regular pace
(``min_gap_s`` to ``max_gap_s`` between attempts), ``attempts`` in total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rempart.directory import Profession
from rempart.events import EventKind, Lookup, Outcome
from rempart.nir import make_nir, parse_nir
from rempart.testbed.attacks import AttackContext, Scenario
from rempart.testbed.attacks.infrastructure import attacker_addresses, robot_user_agents
from rempart.testbed.attacks.playbook import reset_password
from rempart.testbed.clock import MICROS, day_start_us
from rempart.testbed.geography import NetworkKind
from rempart.testbed.sessions import cut_sessions, emit_logins, session_ids

__all__ = ["SCENARIO", "Enumeration", "candidate_nirs"]

NAME = "enumeration"


@dataclass(frozen=True, slots=True)
class Enumeration:
    """Parameters: ``attempts`` typed NIRs in total, ``walk`` serial steps tried on each
    side of every leaked NIR (the leaked NIR itself is tried first), and a pause drawn
    uniformly between ``min_gap_s`` and ``max_gap_s`` seconds between two attempts."""

    attempts: int = 20_000
    walk: int = 6
    min_gap_s: float = 0.4
    max_gap_s: float = 3.0


def candidate_nirs(seed_nir: str, walk: int) -> list[str]:
    """The leaked NIR, then its neighbours with serials ``-walk`` … ``+walk`` in order.

    >>> candidate_nirs("253072B07300470", 2)[:3]
    ['253072B07300470', '253072B07300272', '253072B07300371']
    """
    parts = parse_nir(seed_nir)
    nirs = [seed_nir]
    for serial in range(parts.serial - walk, parts.serial + walk + 1):
        if serial != parts.serial and 1 <= serial <= 999:
            nirs.append(
                make_nir(
                    parts.sex, parts.birth_year_2, parts.birth_month, parts.birth_place, serial
                )
            )
    return nirs


def generate(context: AttackContext, params: Enumeration) -> None:
    """Write the takeover and the walk into the context's buffer."""
    rng = context.rng(NAME)
    world = context.world
    identities = context.identities
    (victim,) = context.take_victims(rng, 1, (Profession.PHARMACIST, Profession.GP))
    attacker = f"{NAME}:0"

    # The leaked list: random real patients, never canaries (the attacker cannot know them).
    real = np.flatnonzero(~identities.column("canary").to_numpy(zero_copy_only=False))
    order = rng.permutation(real)
    nir_column = identities.column("nir")
    birth_column = identities.column("birth_date")
    typed: list[str] = []
    typed_birth: list[date] = []
    for leaked in order:
        if len(typed) >= params.attempts:
            break
        walk = candidate_nirs(nir_column[int(leaked)].as_py(), params.walk)
        typed += walk
        typed_birth += [birth_column[int(leaked)].as_py()] * len(walk)
    typed = typed[: params.attempts]
    typed_birth = typed_birth[: params.attempts]
    n = len(typed)

    row = pc.index_in(pa.array(typed, type=pa.string()), value_set=nir_column.combine_chunks())
    exists = row.is_valid().to_numpy(zero_copy_only=False)
    rows = row.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    actual_birth = identities.column("birth_date").take(rows)
    same_day = exists & pc.equal(actual_birth, pa.array(typed_birth, type=pa.date32())).to_numpy(
        zero_copy_only=False
    )
    subject = np.full(n, None, dtype=object)
    subject[exists] = identities.column("subject").take(rows[exists]).to_numpy(zero_copy_only=False)
    department = _departments(context, subject, exists)
    birth_date_match = np.full(n, None, dtype=object)
    birth_date_match[exists] = same_day[exists]
    outcome = np.full(n, Outcome.NOT_FOUND.value, dtype=object)
    outcome[same_day] = Outcome.SUCCESS.value

    servers = attacker_addresses(world.network, rng, 4, (NetworkKind.HOSTING,))
    tool = robot_user_agents()[int(rng.integers(0, len(robot_user_agents())))]
    last_third = world.preset.days - world.preset.days // 3
    day = int(rng.integers(last_third, world.preset.days - 1))
    period_end = day_start_us("UTC", world.end)
    takeover = day_start_us("UTC", world.preset.start) + day * 86_400 * MICROS
    takeover += int(rng.integers(0, 10 * 3_600)) * MICROS
    gaps = rng.uniform(params.min_gap_s, params.max_gap_s, size=n)
    times = takeover + 600 * MICROS + (np.cumsum(gaps) * MICROS).astype(np.int64)
    overrun = int(times[-1]) - (period_end - 3_600 * MICROS) if n else 0
    if overrun > 0:  # a long walk still ends inside the period
        times -= overrun
        takeover -= overrun

    address = servers[0]
    reset_password(
        context.events,
        account=victim.account,
        at_us=takeover,
        ip=address,
        user_agent=tool,
        label=NAME,
        attacker=attacker,
        rng=rng,
    )
    sessions = cut_sessions(times)
    ids = session_ids(len(sessions), rng)
    ips = servers[rng.integers(0, len(servers), size=len(sessions))]
    context.events.add(
        time_us=times,
        kind=EventKind.RECORD_VIEW,
        ip=ips[sessions.index],
        session=ids[sessions.index],
        user_agent=tool,
        subject=subject,
        lookup=Lookup.TYPED_NIR,
        outcome=outcome,
        subject_department=department,
        birth_date_match=birth_date_match,
        account=victim.account,
        label=NAME,
        attacker=attacker,
    )
    emit_logins(
        context.events,
        account=victim.account,
        sessions=sessions,
        ids=ids,
        ip=ips,
        user_agent=np.full(len(sessions), tool, dtype=object),
        label=NAME,
        attacker=attacker,
        rng=rng,
        typo_share=0.0,
        logout_share=0.0,
    )


def _departments(
    context: AttackContext, subject: npt.NDArray[np.object_], exists: npt.NDArray[np.bool_]
) -> npt.NDArray[np.object_]:
    """Residence department of each probed record (None where the NIR belongs to nobody)."""
    subjects = context.world.subjects
    department = np.full(len(subject), None, dtype=object)
    if exists.any():
        index = pc.index_in(
            pa.array(subject[exists], type=pa.string()),
            value_set=pa.array(subjects.pseudonym, type=pa.string()),
        )
        department[exists] = subjects.department[index.to_numpy(zero_copy_only=False)]
    return department


SCENARIO = Scenario(NAME, Enumeration, generate)
