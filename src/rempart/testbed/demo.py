"""``rempart demo``: the 2022 attack, live over HTTP, against the portal with and without Rempart.

One call, nothing to install: it simulates the `small` world (once), starts a
real SMTP server and the reference portal under uvicorn on loopback, and runs
the same scripted traffic twice, once with the guard and once with it
switched off (`NoDefence`):

- a handful of professionals (pharmacists and GPs) log in from their site's
  usual address and read the patients their simulated traffic read, at a
  human pace; a challenged professional passes the step-up with the real TOTP;
- the robot takes over a few pharmacists' accounts through the mailbox
  (password reset, token from the e-mail, new password), logs in from a rented
  OVH server and reads patients by typed NIR and birth date as fast as it can.
  It does not hold the TOTP secret, so it never answers a challenge: it moves
  on to the next patient, and logs in again when its session is revoked.

The portal's clock runs `TIME_SCALE` times faster than the wall clock from a
Tuesday morning just after the simulated month, so that a minute of demo is
half an hour of portal time and the professionals' pace is a human one. The
guard is first warmed with the simulated month (legitimate events and all care
evidence), as a deployed guard would have been.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any, Final, cast

import httpx
import pyarrow.parquet as pq
import pyotp
import uvicorn
from aiosmtpd.controller import Controller

from rempart.events import Event, EventKind, Lookup, Outcome
from rempart.evidence import CareEvidence
from rempart.guard import Guard, Knowledge
from rempart.ingestion import read_records
from rempart.replay.baselines import NoDefence
from rempart.replay.replay import replay
from rempart.secret import Secret
from rempart.testbed.portal import (
    Portal,
    account_email,
    create_portal,
    testbed_password,
    testbed_totp_secret,
)
from rempart.testbed.presets import preset
from rempart.testbed.simulate import simulate

__all__ = ["TIME_SCALE", "DemoReport", "RunOutcome", "run_attack", "run_demo"]

TIME_SCALE: Final = 30.0
"""Portal seconds per wall-clock second."""
_PORTAL_START: Final = datetime(2022, 3, 8, 9, 0, tzinfo=UTC)  # Tuesday, 10:00 in Rennes
_ROBOT_AGENT: Final = "python-requests/2.27.1"
_ROBOT_PASSWORD: Final = "robot-chosen-passphrase-2022"  # noqa: S105 (the thief's, not a secret)
_TOKEN: Final = re.compile(r"^([A-Za-z0-9_-]{32})\s*$", re.MULTILINE)
_READS_PER_PROFESSIONAL: Final = 6
_ROBOT_START: Final = 0.15  # share of a run before the robot strikes
_MAX_RELOGINS: Final = 3


# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What one run (guard on or off) let through, from the clients' side."""

    defence: str
    patients_exposed: int
    robot_reads_attempted: int
    robot_accounts: int
    accounts_contained: int
    containment_s: tuple[float, ...]
    """Wall seconds from each contained account's first read attempt to the first refusal
    after which it was served nothing more."""
    legitimate_users: int
    legitimate_challenged: int
    legitimate_locked: int
    legitimate_reads: int
    legitimate_reads_served: int
    wall_s: float

    @property
    def max_containment_s(self) -> float | None:
        """The slowest containment, None when no account was contained."""
        return max(self.containment_s) if self.containment_s else None


@dataclass(frozen=True, slots=True)
class DemoReport:
    """Both runs of the same scripted traffic, side by side."""

    url: str
    seed: int
    duration_s: float
    guarded: RunOutcome
    unguarded: RunOutcome

    @property
    def exposure_ratio(self) -> float:
        """Patients exposed with Rempart over patients exposed without it (0 if none were)."""
        if self.unguarded.patients_exposed == 0:
            return 0.0
        return self.guarded.patients_exposed / self.unguarded.patients_exposed

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "url": self.url,
            "seed": self.seed,
            "duration_s": self.duration_s,
            "time_scale": TIME_SCALE,
            "exposure_ratio": self.exposure_ratio,
            "rempart": asdict(self.guarded),
            "off": asdict(self.unguarded),
        }

    def render(self) -> str:
        """The outcome as a side-by-side table."""
        on, off = self.guarded, self.unguarded

        def containment(run: RunOutcome) -> str:
            slowest = run.max_containment_s
            return "—" if slowest is None else f"{slowest:.1f} s (max)"

        rows = [
            ("patients exposed to the robot", on.patients_exposed, off.patients_exposed),
            ("robot reads attempted", on.robot_reads_attempted, off.robot_reads_attempted),
            (
                "robot accounts contained",
                f"{on.accounts_contained}/{on.robot_accounts}",
                f"{off.accounts_contained}/{off.robot_accounts}",
            ),
            ("time to containment", containment(on), containment(off)),
            (
                "legitimate users challenged",
                f"{on.legitimate_challenged}/{on.legitimate_users}",
                f"{off.legitimate_challenged}/{off.legitimate_users}",
            ),
            ("legitimate users locked", on.legitimate_locked, off.legitimate_locked),
            (
                "legitimate reads served",
                f"{on.legitimate_reads_served}/{on.legitimate_reads}",
                f"{off.legitimate_reads_served}/{off.legitimate_reads}",
            ),
        ]
        lines = [
            f"Rempart demo: the 2022 attack, live on {self.url} (seed {self.seed}, "
            f"portal clock x{TIME_SCALE:g})",
            "",
            f"{'':32}{'Rempart':>14}{'guard off':>14}",
        ]
        lines += [f"{label:32}{a!s:>14}{b!s:>14}" for label, a, b in rows]
        lines += [
            "",
            f"exposure with Rempart: {self.exposure_ratio:.2%} of the exposure without it "
            f"({on.patients_exposed} vs {off.patients_exposed} patients)",
        ]
        return "\n".join(lines)


# -- the scripted traffic ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Read:
    lookup: Lookup
    nir: str
    birth_date: str


@dataclass(frozen=True, slots=True)
class _Professional:
    account: str
    ip: str
    user_agent: str
    reads: tuple[_Read, ...]


@dataclass(frozen=True, slots=True)
class _Script:
    professionals: tuple[_Professional, ...]
    robot_accounts: tuple[str, ...]
    robot_targets: tuple[tuple[_Read, ...], ...]  # one slice of patients per robot account
    robot_ips: tuple[str, ...]


def _ensure_world(world_dir: Path, seed: int) -> None:
    manifest = world_dir / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("seed") == seed:
        return
    world_dir.mkdir(parents=True, exist_ok=True)
    simulate(preset("small"), world_dir, seed=seed)


def _script(
    world_dir: Path, events: list[Event], *, seed: int, professionals: int, robot_reads: int
) -> _Script:
    rng = random.Random(seed)
    identities = pq.read_table(
        world_dir / "identities" / "identities.parquet", columns=["subject", "nir", "birth_date"]
    ).to_pydict()
    clear = {
        subject: (nir, born.isoformat())
        for subject, nir, born in zip(
            identities["subject"], identities["nir"], identities["birth_date"], strict=True
        )
    }
    knowledge = Knowledge.from_world(world_dir / "world")
    first_login: dict[str, Event] = {}
    reads: dict[str, list[_Read]] = {}
    for event in events:
        account = event.account
        if account is None:
            continue
        if event.kind is EventKind.LOGIN_SUCCESS:
            first_login.setdefault(account, event)
        elif (
            event.kind is EventKind.RECORD_VIEW
            and event.outcome is Outcome.SUCCESS
            and event.subject in clear
        ):
            nir, born = clear[event.subject]
            lookup = Lookup.TYPED_NIR if event.lookup is Lookup.TYPED_NIR else Lookup.CARD
            reads.setdefault(account, []).append(_Read(lookup, nir, born))
    by_profession: dict[str, list[str]] = {"pharmacist": [], "gp": []}
    for account in sorted(first_login):
        profession = knowledge.profession(account)
        if profession in by_profession and len(reads.get(account, ())) >= _READS_PER_PROFESSIONAL:
            by_profession[profession].append(account)
    chosen: list[str] = []
    for index in range(professionals):
        pool = by_profession["pharmacist" if index % 2 == 0 else "gp"]
        if pool:
            chosen.append(pool.pop(rng.randrange(len(pool))))
    team = tuple(
        _Professional(
            account=account,
            ip=first_login[account].ip,
            user_agent=first_login[account].user_agent,
            # Their latest reads: patients their site has care evidence for.
            reads=tuple(reads[account][-_READS_PER_PROFESSIONAL:]),
        )
        for account in chosen
    )
    robots = tuple(rng.sample(sorted(by_profession["pharmacist"]), 3))
    patients = rng.sample(sorted(clear.values()), robot_reads * len(robots))
    targets = tuple(
        tuple(_Read(Lookup.TYPED_NIR, nir, born) for nir, born in patients[i :: len(robots)])
        for i in range(len(robots))
    )
    ips = tuple(f"51.75.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in robots)
    return _Script(team, robots, targets, ips)


# -- live servers ------------------------------------------------------------------------


class _Mailbox:
    """An aiosmtpd handler keeping every message, for the robot that reads the victim's mail."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def token_for(self, address: str) -> str | None:
        """The reset token in the latest message to ``address``."""
        with self._lock:
            mails = [m for m in self.messages if m["To"] == address]
        if not mails:
            return None
        body = mails[-1].get_payload(decode=True)
        found = _TOKEN.search(body.decode()) if isinstance(body, bytes) else None
        return found[1] if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _PortalClock:
    """The portal's clock: `_PORTAL_START` plus `TIME_SCALE` times the wall time since start."""

    def __init__(self) -> None:
        self._origin = time.monotonic()

    def __call__(self) -> datetime:
        return _PORTAL_START + timedelta(seconds=(time.monotonic() - self._origin) * TIME_SCALE)


class _LiveServer:
    """Uvicorn serving an ASGI app on loopback, in a background thread."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            proxy_headers=False,  # the portal decides whose X-Forwarded-For it believes
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="rempart-demo-portal")

    def __enter__(self) -> _LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the demo portal did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


# -- one run -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    exposed: set[str] = field(default_factory=set)
    robot_attempts: int = 0
    contained: list[float] = field(default_factory=list)
    challenged: set[str] = field(default_factory=set)
    locked: set[str] = field(default_factory=set)
    reads_served: int = 0


def _read_request(read: _Read, portal: Portal) -> tuple[str, dict[str, str]]:
    if read.lookup is Lookup.CARD:
        card = portal.patients.card_of(read.nir)
        if card is not None:
            return f"/patients/by-card/{card}", {}
    return "/patients", {"nir": read.nir, "birth_date": read.birth_date}


def _step_up_required(response: httpx.Response) -> bool:
    return response.status_code == 401 and "step_up_required" in response.text


async def _professional(
    who: _Professional,
    url: str,
    portal: Portal,
    clock: Callable[[], datetime],
    secret: Secret,
    run_s: float,
    rng: random.Random,
    tally: _Tally,
) -> None:
    headers = {"X-Forwarded-For": who.ip, "User-Agent": who.user_agent}
    totp = pyotp.TOTP(testbed_totp_secret(secret, who.account))
    started = time.monotonic()
    # Human pace: reads spread over the run, each at its own moment.
    moments = sorted(rng.uniform(0.05, 0.95) * run_s for _ in who.reads)

    async with httpx.AsyncClient(base_url=url, headers=headers, trust_env=False) as client:

        async def passes_step_up() -> bool:
            tally.challenged.add(who.account)
            answer = await client.post("/step-up", json={"code": totp.at(clock())})
            if answer.status_code != 200:
                tally.locked.add(who.account)
                return False
            return True

        login = await client.post(
            "/login",
            json={"account": who.account, "password": testbed_password(secret, who.account)},
        )
        if login.status_code == 403 or (_step_up_required(login) and not await passes_step_up()):
            tally.locked.add(who.account)
            return
        for read, moment in zip(who.reads, moments, strict=True):
            await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
            path, params = _read_request(read, portal)
            response = await client.get(path, params=params)
            if _step_up_required(response):
                if not await passes_step_up():
                    return
                response = await client.get(path, params=params)
            if response.status_code == 403:
                tally.locked.add(who.account)
                return
            if response.status_code == 200:
                tally.reads_served += 1


async def _robot(
    account: str,
    ip: str,
    targets: tuple[_Read, ...],
    url: str,
    mailbox: _Mailbox,
    delay_s: float,
    tally: _Tally,
) -> None:
    await asyncio.sleep(delay_s)
    headers = {"X-Forwarded-For": ip, "User-Agent": _ROBOT_AGENT}
    async with httpx.AsyncClient(base_url=url, headers=headers, trust_env=False) as client:
        requested = await client.post("/password-reset", json={"account": account})
        if requested.status_code != 202:
            return
        token = None
        for _ in range(100):
            token = mailbox.token_for(account_email(account))
            if token is not None:
                break
            await asyncio.sleep(0.05)
        if token is None:
            return
        await client.post(
            "/password-reset/confirm", json={"token": token, "password": _ROBOT_PASSWORD}
        )
        first_attempt: float | None = None
        refused_since: float | None = None  # first refusal after the last read served

        async def logs_in() -> bool:
            login = await client.post(
                "/login", json={"account": account, "password": _ROBOT_PASSWORD}
            )
            return login.status_code == 200  # a challenged login is never answered

        def refused() -> None:
            nonlocal refused_since
            if refused_since is None:
                refused_since = time.monotonic()

        def finish() -> None:
            if refused_since is not None:  # nothing served since: contained
                start = first_attempt if first_attempt is not None else refused_since
                tally.contained.append(refused_since - start)

        if not await logs_in():
            refused()
            finish()
            return
        relogins = 0
        for read in targets:
            if first_attempt is None:
                first_attempt = time.monotonic()
            tally.robot_attempts += 1
            response = await client.get(
                "/patients", params={"nir": read.nir, "birth_date": read.birth_date}
            )
            if response.status_code == 200:
                tally.exposed.add(read.nir)
                refused_since = None
            elif _step_up_required(response):
                refused()  # never answered: on to the next patient
            elif response.status_code == 403:
                refused()  # the account is locked: nothing more to take
                break
            elif response.status_code == 401:  # session revoked: try to log in again
                refused()
                relogins += 1
                if relogins > _MAX_RELOGINS or not await logs_in():
                    break
        finish()


async def _traffic(
    script: _Script,
    url: str,
    portal: Portal,
    clock: Callable[[], datetime],
    secret: Secret,
    mailbox: _Mailbox,
    run_s: float,
    seed: int,
) -> _Tally:
    tally = _Tally()
    rng = random.Random(seed)
    tasks = [
        _professional(who, url, portal, clock, secret, run_s, random.Random(rng.random()), tally)
        for who in script.professionals
    ]
    tasks += [
        _robot(account, ip, targets, url, mailbox, _ROBOT_START * run_s, tally)
        for account, ip, targets in zip(
            script.robot_accounts, script.robot_ips, script.robot_targets, strict=True
        )
    ]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=run_s + 120)
    return tally


def _run(
    name: str,
    defence: Guard,
    world_dir: Path,
    script: _Script,
    *,
    secret: Secret,
    seed: int,
    run_s: float,
    port: int,
    audit: Callable[[Event], None] | None = None,
    front: Callable[[int], AbstractContextManager[str]] | None = None,
    webhook_secret: Secret | None = None,
    portal_clock: Callable[[], datetime] | None = None,
) -> tuple[RunOutcome, str]:
    """One run of the script against the portal guarded by ``defence``.

    ``audit`` receives the portal's own audit events; ``front``, given the
    portal's port, enters a reverse proxy in front of it and yields the URL
    the clients use instead (the access-log tests put a real nginx there);
    ``webhook_secret`` opens the portal's webhook for Rempart's actions;
    ``portal_clock`` replaces the portal's accelerated clock (`_PortalClock`).
    """
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        clock = portal_clock if portal_clock is not None else _PortalClock()
        app = create_portal(
            world_dir,
            guard=defence,
            smtp_host="127.0.0.1",
            smtp_port=controller.port,
            secret=secret,
            clock=clock,
            # The demo's clients stand for addresses across France: loopback is their proxy.
            trusted_proxies=("127.0.0.1",),
            audit=audit,
            webhook_secret=webhook_secret,
        )
        portal: Portal = app.app.state.portal  # type: ignore[attr-defined]
        live_port = port or _free_port()
        url = f"http://127.0.0.1:{live_port}"
        started = time.monotonic()
        with _LiveServer(app, live_port), ExitStack() as proxies:
            if front is not None:
                url = proxies.enter_context(front(live_port))
            tally = asyncio.run(_traffic(script, url, portal, clock, secret, mailbox, run_s, seed))
        wall = time.monotonic() - started
    finally:
        controller.stop()
    outcome = RunOutcome(
        defence=name,
        patients_exposed=len(tally.exposed),
        robot_reads_attempted=tally.robot_attempts,
        robot_accounts=len(script.robot_accounts),
        accounts_contained=len(tally.contained),
        containment_s=tuple(sorted(round(s, 3) for s in tally.contained)),
        legitimate_users=len(script.professionals),
        legitimate_challenged=len(tally.challenged),
        legitimate_locked=len(tally.locked),
        legitimate_reads=sum(len(p.reads) for p in script.professionals),
        legitimate_reads_served=tally.reads_served,
        wall_s=round(wall, 2),
    )
    return outcome, url


def _warmed_guard(world_dir: Path, events: list[Event]) -> Guard:
    """A guard that has seen the simulated month: its legitimate events and all care evidence."""
    truth = pq.read_table(world_dir / "truth.parquet", columns=["event_id", "label"]).to_pydict()
    legitimate = {
        event_id
        for event_id, label in zip(truth["event_id"], truth["label"], strict=True)
        if label == "legitimate"
    }
    evidence = read_records(world_dir / "evidence.parquet", CareEvidence).records
    guard = Guard(Knowledge.from_world(world_dir / "world"))
    history = [event for event in events if event.event_id in legitimate]
    for _ in replay(history, evidence, guard):
        pass
    last = history[-1].time if history else _PORTAL_START
    for piece in evidence:
        if piece.time > last:  # what replay did not reach yet
            guard.observe(piece)
    return guard


def run_attack(
    world_dir: Path,
    *,
    seed: int = 1,
    run_s: float = 5.0,
    robot_reads: int = 60,
    professionals: int = 4,
    defence: Guard | None = None,
    audit: Callable[[Event], None] | None = None,
    front: Callable[[int], AbstractContextManager[str]] | None = None,
    webhook_secret: Secret | None = None,
    portal_clock: Callable[[], datetime] | None = None,
) -> RunOutcome:
    """One run of the demo's script (professionals and the robot) against the live portal.

    ``world_dir`` is simulated first if it does not hold seed ``seed``.
    ``defence`` guards the portal (default: none at all, `NoDefence`, so the
    robot reads everything it asks for). ``audit`` and ``front`` are as for
    the runs of `run_demo`: the portal's audit events, and a reverse proxy in
    front of it; ``webhook_secret`` opens the portal's webhook
    (`rempart.testbed.portal.webhook`) to Rempart's actions; ``portal_clock``
    replaces the portal's accelerated clock (the wall clock, for a follower that
    stamps its webhook posts with it).
    """
    _ensure_world(world_dir, seed)
    events = read_records(world_dir / "events.parquet", Event).records
    events.sort(key=lambda event: event.time)
    script = _script(
        world_dir, events, seed=seed, professionals=professionals, robot_reads=robot_reads
    )
    outcome, _ = _run(
        "rempart" if defence is not None else "off",
        defence if defence is not None else cast(Guard, NoDefence()),
        world_dir,
        script,
        secret=Secret(f"rempart-demo-portal:{seed}".encode()),
        seed=seed,
        run_s=run_s,
        port=0,
        audit=audit,
        front=front,
        webhook_secret=webhook_secret,
        portal_clock=portal_clock,
    )
    return outcome


def run_demo(
    out: Path,
    *,
    seed: int = 1,
    duration_s: float = 60.0,
    robot_reads: int = 300,
    professionals: int = 8,
    port: int = 0,
) -> DemoReport:
    """Run the 2022 attack live against the portal, with Rempart and with the guard off.

    ``out`` holds the simulated world (``out/world-dir``, simulated once per
    seed); ``duration_s`` is the wall time of the two runs together;
    ``robot_reads`` bounds the robot's reads per stolen account (three
    accounts); ``professionals`` is how many legitimate users read meanwhile;
    ``port`` is the portal's loopback port (0: a free one).
    """
    world_dir = out / "world-dir"
    _ensure_world(world_dir, seed)
    events = read_records(world_dir / "events.parquet", Event).records
    events.sort(key=lambda event: event.time)
    script = _script(
        world_dir, events, seed=seed, professionals=professionals, robot_reads=robot_reads
    )
    secret = Secret(f"rempart-demo-portal:{seed}".encode())
    run_s = duration_s / 2
    common: dict[str, Any] = {"secret": secret, "seed": seed, "run_s": run_s, "port": port}
    guarded, url = _run("rempart", _warmed_guard(world_dir, events), world_dir, script, **common)
    # create_portal is typed for a Guard but only calls decide and step_up: the Defence protocol.
    unguarded, _ = _run("off", cast(Guard, NoDefence()), world_dir, script, **common)
    return DemoReport(
        url=url, seed=seed, duration_s=duration_s, guarded=guarded, unguarded=unguarded
    )
