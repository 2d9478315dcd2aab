"""A real nginx in front of the reference portal: its access log gives the portal's own scope,
and `follow` on that live log contains the robot.

The demo's script (professionals at a human pace, the 2022 robot through the mailbox) runs
against the live portal behind Debian's nginx, which logs in the JSON ``log_format`` that
``rempart/data/routes-portal.toml`` declares.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from rempart.decision import ActionKind
from rempart.events import Event, EventKind
from rempart.follow import follow
from rempart.forensics import investigate
from rempart.guard import Guard, Knowledge
from rempart.ingestion import write_records
from rempart.ingestion.archive import EventArchive
from rempart.ingestion.ingest import ingest
from rempart.ingestion.logs import ParserOptions, default_parsers
from rempart.ingestion.logs.routes import RouteTable
from rempart.pseudonym import Pseudonymizer
from rempart.response import EnforcerRegistry, MemoryLedger
from rempart.response.webhook import WebhookEnforcer
from rempart.secret import Secret
from rempart.testbed.demo import run_attack
from rempart.testbed.portal.webhook import WEBHOOK_PATH
from rempart.testbed.simulate import key_for_seed

from ..nginx_server import Nginx

pytestmark = pytest.mark.slow

SEED = 1
ROUTES = resources.files("rempart") / "data" / "routes-portal.toml"


def _log_format() -> str:
    """The ``log_format`` line the route table's header comment gives, as nginx reads it."""
    for line in ROUTES.read_text().splitlines():
        if line.startswith("# log_format "):
            return line.removeprefix("# ")
    raise AssertionError("routes-portal.toml gives no log_format line")


def _options() -> ParserOptions:
    table = RouteTable.from_toml(Path(str(ROUTES)))
    return ParserOptions(pseudonymizer=Pseudonymizer(key_for_seed(SEED)), config=table)


def _behind_nginx(root: Path, extra: Callable[[int, Nginx], AbstractContextManager[None]] | None):
    """A ``front`` for `run_attack`: nginx before the portal, and ``extra`` while it runs."""

    @contextmanager
    def front(port: int) -> Iterator[str]:
        with Nginx(root, upstream=port, log_format=_log_format(), format_name="rempart") as nginx:
            if extra is None:
                yield nginx.url
            else:
                with extra(port, nginx):
                    yield nginx.url

    return front


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small world the demo's script reads from (simulated by `run_attack`)."""
    return tmp_path_factory.mktemp("nginx-world")


def test_access_log_scope_equals_the_portals_own(world: Path, tmp_path: Path) -> None:
    """The 2022 robot's scope from nginx's access log is the one from the portal's audit
    events, person for person, and every patient the robot was served is in it."""
    audit: list[Event] = []
    outcome = run_attack(
        world,
        seed=SEED,
        run_s=4.0,
        robot_reads=40,
        professionals=4,
        audit=audit.append,
        front=_behind_nginx(tmp_path / "nginx", None),
    )
    assert outcome.patients_exposed > 0
    log = tmp_path / "nginx" / "access.log"
    from_log = EventArchive(tmp_path / "from-log")
    report = ingest([log], "nginx", from_log, options=_options(), rejects=tmp_path / "rej.jsonl")
    assert report.rejected == 0, report.first_rejects
    write_records(tmp_path / "audit.jsonl", audit)
    from_portal = EventArchive(tmp_path / "from-portal")
    ingest([tmp_path / "audit.jsonl"], "rempart", from_portal)
    resets = {e.account for e in audit if e.kind is EventKind.PASSWORD_RESET and e.account}
    robot = tuple(sorted(resets))
    assert len(robot) == outcome.robot_accounts
    scopes = [
        investigate(
            archive,
            evidence=world / "evidence.parquet",
            accounts_file=world / "world" / "accounts.jsonl",
            compromised=robot,
        ).scope_persons()
        for archive in (from_log, from_portal)
    ]
    assert scopes[0] == scopes[1]
    assert len(scopes[0]) == outcome.patients_exposed


def test_follow_on_the_live_log_locks_the_account_and_bans_the_robot(
    world: Path, tmp_path: Path
) -> None:
    """`follow` on nginx's live log, guarding nothing in the portal itself, locks the robot's
    accounts and bans its address through the portal's webhook while the robot runs."""
    webhook_secret = Secret(b"rempart-webhook-secret-for-the-nginx-test")
    ledger = MemoryLedger()
    stop = threading.Event()
    reports: list[object] = []

    @contextmanager
    def follower(port: int, nginx: Nginx) -> Iterator[None]:
        enforcers = EnforcerRegistry()
        webhook = WebhookEnforcer(
            f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
            webhook_secret,
            kinds=frozenset(
                {ActionKind.REVOKE_SESSION, ActionKind.LOCK_ACCOUNT, ActionKind.BAN_ADDRESS}
            ),
        )
        enforcers.register(webhook)
        parser = default_parsers().create("nginx", _options())
        guard = Guard(Knowledge.from_world(world / "world"))

        def run() -> None:
            reports.append(
                follow(
                    nginx.access_log,
                    parser,
                    guard,
                    state=tmp_path / "follow.state",
                    ledger=ledger,
                    enforcers=enforcers,
                    interval=0.05,
                    stop=stop,
                    ban_on_lock=timedelta(hours=1),
                )
            )

        thread = threading.Thread(target=run, name="rempart-follow")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)
            webhook.close()

    outcome = run_attack(
        world,
        seed=SEED,
        run_s=4.0,
        robot_reads=200,
        professionals=4,
        front=_behind_nginx(tmp_path / "nginx", follower),
        webhook_secret=webhook_secret,
        # The follower signs its posts with the time now; the portal checks them against its
        # own clock, here the same one.
        portal_clock=lambda: datetime.now(UTC),
    )
    assert reports, "the follower did not finish"
    records = ledger.records()
    banned = {r.target for r in records if r.kind is ActionKind.BAN_ADDRESS}
    locked = {r.target for r in records if r.kind is ActionKind.LOCK_ACCOUNT}
    assert banned
    assert all(address.startswith("51.75.") for address in banned), banned
    assert locked
    assert all(r.error is None for r in records), [r.error for r in records if r.error]
    assert outcome.accounts_contained == outcome.robot_accounts
    assert outcome.patients_exposed < outcome.robot_reads_attempted
