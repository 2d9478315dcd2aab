"""The ``rempart`` command: a thin layer turning options into library calls.

Library errors (`rempart.errors.RempartError`) become a one-line message and
exit code 2; every command's work is callable from Python.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
import msgspec

from rempart import __version__
from rempart.errors import RempartError

if TYPE_CHECKING:
    from rempart.pseudonym import Pseudonymizer

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


def _clean_errors(command: F) -> F:
    """Report a `RempartError` as ``rempart: error: ...`` with exit code 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RempartError as error:
            click.echo(f"rempart: error: {error}", err=True)
            sys.exit(2)

    return cast(F, wrapper)


_quiet = click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress bar (none is drawn either when stderr is not a terminal).",
)


_networks = click.option(
    "--networks",
    "networks_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Network table built by `rempart networks import` (default: the world's networks.csv).",
)


@click.group()
@click.version_option(__version__, prog_name="rempart")
def main() -> None:
    """Rempart: stop stolen professional accounts from bulk-extracting patient data."""


@main.command()
def schema() -> None:
    """Print the published JSON Schema of events, evidence and the directory."""
    from rempart.schema import dumps

    click.echo(dumps(), nl=False)


@main.command()
@click.option(
    "--preset",
    "preset_name",
    default="small",
    show_default=True,
    help="World size: small, incident-2022 or bench.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Output directory (created; previous outputs replaced).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["parquet", "jsonl"]),
    default="parquet",
    show_default=True,
    help="Format of events and evidence.",
)
@_quiet
@_clean_errors
def simulate(preset_name: str, out: Path, seed: int, output_format: str, quiet: bool) -> None:
    """Generate a labelled testbed: world, legitimate traffic, hard cases and attacks.

    The pseudonym key is read from REMPART_PSEUDONYM_KEY when set; otherwise a
    testbed key is derived from the seed.
    """
    from rempart.progress import for_terminal
    from rempart.secret import Secret
    from rempart.testbed.presets import preset
    from rempart.testbed.simulate import simulate as run

    raw_key = os.environ.get("REMPART_PSEUDONYM_KEY")
    key = Secret(raw_key) if raw_key else None
    chosen = preset(preset_name)
    with for_terminal("simulate", quiet=quiet) as progress:
        result = run(
            chosen,
            out,
            seed=seed,
            key=key,
            output_format="jsonl" if output_format == "jsonl" else "parquet",
            progress=progress,
        )
    counts = result.manifest["counts"]
    click.echo(
        f"{out}: {counts['events']:,} events, {counts['evidence']:,} evidence records, "
        f"{counts['subjects']:,} subjects, {counts['accounts']:,} accounts "
        f"({preset_name}, seed {seed})"
    )


@main.command()
@click.argument("directory", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@_clean_errors
def stats(directory: Path, as_json: bool) -> None:
    """Print a simulated directory's calibration figures next to their documented targets."""
    from rempart.testbed.stats import calibration, render

    figures = calibration(directory)
    if as_json:
        click.echo(json.dumps(figures.to_dict(), indent=2, sort_keys=True))
    else:
        click.echo(render(figures))
    if not figures.all_hold:
        sys.exit(1)


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["events", "evidence", "sites", "accounts"]),
    default="events",
    show_default=True,
    help="Record type in the file.",
)
@click.option(
    "--rejects",
    type=click.Path(path_type=Path),
    help="Write bad records here (JSON Lines, with line and error).",
)
@_quiet
@_clean_errors
def validate(path: Path, kind: str, rejects: Path | None, quiet: bool) -> None:
    """Validate a record file: print each bad record's location and the counts.

    Exit code 1 when any record is bad; the good records are all counted.
    """

    from rempart.directory import Account, Site
    from rempart.events import Event
    from rempart.evidence import CareEvidence
    from rempart.ingestion import ReadResult, validate_file
    from rempart.progress import for_terminal

    record_types: dict[str, type[msgspec.Struct]] = {
        "events": Event,
        "evidence": CareEvidence,
        "sites": Site,
        "accounts": Account,
    }
    with for_terminal("validate", quiet=quiet) as progress:
        result: ReadResult[msgspec.Struct] = validate_file(
            path, record_types[kind], rejects_path=rejects, progress=progress
        )
    for bad in result.rejected:
        click.echo(str(bad.to_error()), err=True)
    click.echo(f"{path}: {result.ok_count:,} good, {result.rejected_count:,} rejected")
    if result.rejected_count:
        sys.exit(1)


def _pseudonymizer(key_file: Path | None) -> Pseudonymizer | None:
    """The pseudonymiser of the key in ``key_file`` (None: clear NIRs in raw logs are rejected)."""
    from rempart.pseudonym import Pseudonymizer
    from rempart.secret import Secret

    if key_file is None:
        return None
    return Pseudonymizer(Secret(key_file.read_bytes().strip()))


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    default="rempart",
    show_default=True,
    help="Log format: rempart (own .jsonl/.parquet), nginx, apache, fhir, csv.",
)
@click.option(
    "--archive",
    "archive_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The day-partitioned Parquet archive to add to (created if missing).",
)
@click.option(
    "--routes",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Route table (TOML) for nginx/apache logs; column mapping (TOML) for csv.",
)
@click.option(
    "--pseudonym-key",
    "key_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="File holding the key that pseudonymises clear NIRs met in raw logs.",
)
@click.option("--rejects", type=click.Path(path_type=Path), help="Write bad lines here.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@_quiet
@_clean_errors
def ingest(
    sources: tuple[Path, ...],
    fmt: str,
    archive_dir: Path,
    routes: Path | None,
    key_file: Path | None,
    rejects: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Add logs to the event archive, each event once; bad lines located in --rejects.

    Ingesting the same file twice adds nothing. Exit code 1 when a line was rejected.
    """
    from rempart.ingestion.archive import EventArchive
    from rempart.ingestion.ingest import ingest as run
    from rempart.ingestion.logs import ParserOptions
    from rempart.progress import for_terminal

    config: Any = None
    if routes is not None and fmt in {"nginx", "apache"}:
        from rempart.ingestion.logs.routes import RouteTable

        config = RouteTable.from_toml(routes)
    elif routes is not None and fmt == "csv":
        from rempart.ingestion.logs.tabular import ColumnMapping

        config = ColumnMapping.from_toml(routes)
    options = ParserOptions(
        pseudonymizer=_pseudonymizer(key_file), config=config, config_path=str(routes or "")
    )
    with for_terminal("ingest", quiet=quiet) as progress:
        report = run(
            sources,
            fmt,
            EventArchive(archive_dir),
            options=options,
            rejects=rejects,
            progress=progress,
        )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for message in report.first_rejects:
            click.echo(message, err=True)
        click.echo(
            f"{archive_dir}: {report.added:,} events added, {report.duplicates:,} already held, "
            f"{report.rejected:,} lines rejected, {report.skipped:,} skipped"
        )
    if report.rejected:
        sys.exit(1)


@main.command()
@click.option(
    "--archive",
    "archive_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    required=True,
    help="The event archive (rempart ingest).",
)
@click.option(
    "--world",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Folder holding accounts.jsonl; its parent's evidence.parquet is the care evidence.",
)
@click.option(
    "--evidence",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Care evidence (.parquet or .jsonl); default: WORLD/../evidence.parquet.",
)
@click.option(
    "--accounts",
    "accounts",
    multiple=True,
    help="A compromised account (repeat, or comma-separated).",
)
@click.option(
    "--addresses",
    multiple=True,
    help="An attacker's address: every account it signed in to or read through (repeatable).",
)
@click.option(
    "--alerts",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The guard's decisions (rempart replay): the accounts it locked or warned.",
)
@click.option(
    "--scope",
    "scope_out",
    type=click.Path(path_type=Path),
    help="Export the scope (.parquet or .csv) for the notification campaign.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--sessions", "show_sessions", is_flag=True, help="List every session and its side.")
@_clean_errors
def investigate(
    archive_dir: Path,
    world: Path | None,
    evidence: Path | None,
    accounts: tuple[str, ...],
    addresses: tuple[str, ...],
    alerts: Path | None,
    scope_out: Path | None,
    as_json: bool,
    show_sessions: bool,
) -> None:
    """The breach scope of compromised accounts: the attacker's sessions, the persons exposed.

    Sessions are told apart as the attacker's, the owner's, or undetermined (the owner's own
    device reading unexplained patients: malware or an insider look the same); see
    docs/forensics.md.
    """
    from rempart.errors import InputError
    from rempart.forensics import accounts_from_addresses, accounts_from_alerts
    from rempart.forensics import investigate as run
    from rempart.forensics.summary import render_summary
    from rempart.ingestion.archive import EventArchive

    if world is None:
        raise InputError("--world: the folder holding accounts.jsonl is required")
    archive = EventArchive(archive_dir)
    named = {a.strip() for value in accounts for a in value.split(",") if a.strip()}
    wanted = tuple(a.strip() for value in addresses for a in value.split(",") if a.strip())
    named.update(accounts_from_addresses(archive, wanted))
    if alerts is not None:
        named.update(accounts_from_alerts(alerts))
    if not named:
        raise InputError("no account to investigate: give --accounts, --addresses or --alerts")
    compromised = tuple(sorted(named))
    evidence_path = evidence or world.parent / "evidence.parquet"
    investigation = run(
        archive,
        evidence=evidence_path,
        accounts_file=world / "accounts.jsonl",
        compromised=compromised,
    )
    summary = investigation.summary()
    if scope_out is not None:
        summary["scope_file"] = str(scope_out)
        investigation.export_scope(scope_out)
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        click.echo(render_summary(summary, "en"))
        click.echo()
        click.echo(render_summary(summary, "fr"))
    if show_sessions:
        for found in investigation.sessions():
            started = found.first_time.strftime("%Y-%m-%d %H:%M")
            click.echo(
                f"{found.account}  {found.session}  {found.side:12}  {started}  {found.ip}  "
                f"{found.evidence}"
            )


@main.command()
@click.argument("log", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format", "fmt", default="nginx", show_default=True, help="Log format: nginx, apache, csv."
)
@click.option(
    "--routes",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True,
    help="Route table (TOML) turning the log's requests into events; a column mapping for csv.",
)
@click.option(
    "--world",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    required=True,
    help="Folder with accounts.jsonl and sites.jsonl (the account directory).",
)
@click.option(
    "--state",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Where the position reached is kept (resumed on restart: no line twice, none skipped).",
)
@click.option("--rejects", type=click.Path(path_type=Path), help="Append bad lines here.")
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Action ledger (JSON Lines): locks and bans survive a restart.",
)
@click.option("--webhook", "webhook_url", help="The portal's account webhook URL.")
@click.option(
    "--webhook-secret",
    "webhook_secret_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="File holding the webhook's HMAC secret (at least 32 bytes).",
)
@click.option(
    "--pseudonym-key",
    "key_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="File holding the key that pseudonymises clear NIRs met in the log.",
)
@click.option(
    "--ban-minutes",
    type=float,
    default=60.0,
    show_default=True,
    help="When the guard locks an account, ban the address it read from this long (0: never).",
)
@click.option(
    "--interval", type=float, default=1.0, show_default=True, help="Seconds between polls."
)
@click.option(
    "--max-polls", type=int, help="Stop after this many polls (default: on SIGINT/SIGTERM)."
)
@_networks
@_clean_errors
def follow(
    log: Path,
    fmt: str,
    routes: Path,
    world: Path,
    state: Path,
    rejects: Path | None,
    ledger_path: Path | None,
    webhook_url: str | None,
    webhook_secret_file: Path | None,
    key_file: Path | None,
    ban_minutes: float,
    interval: float,
    max_polls: int | None,
    networks_path: Path | None,
) -> None:
    """Follow a live access log: decide each event, lock, revoke and ban (like fail2ban).

    Survives rotation (rename or copytruncate) and restarts (it resumes where it stopped,
    recorded in --state). The portal's webhook gets session revocations, account locks and
    address bans.
    """
    from datetime import timedelta

    from rempart.decision import ActionKind
    from rempart.errors import ConfigError
    from rempart.follow import follow as run
    from rempart.guard import Guard, Knowledge
    from rempart.ingestion.logs import ParserOptions, default_parsers
    from rempart.response import EnforcerRegistry, JsonlLedger, MemoryLedger
    from rempart.response.webhook import WebhookEnforcer
    from rempart.secret import Secret

    config: Any
    if fmt == "csv":
        from rempart.ingestion.logs.tabular import ColumnMapping

        config = ColumnMapping.from_toml(routes)
    else:
        from rempart.ingestion.logs.routes import RouteTable

        config = RouteTable.from_toml(routes)
    parser = default_parsers().create(
        fmt,
        ParserOptions(
            pseudonymizer=_pseudonymizer(key_file), config=config, config_path=str(routes)
        ),
    )
    guard = Guard(Knowledge.from_world(world, networks=networks_path))
    enforcers = EnforcerRegistry()
    if webhook_url:
        if webhook_secret_file is None:
            raise ConfigError("--webhook-secret", "a file holding the secret", None)
        enforcers.register(
            WebhookEnforcer(
                webhook_url,
                Secret(webhook_secret_file.read_bytes().strip()),
                kinds=frozenset(
                    {ActionKind.REVOKE_SESSION, ActionKind.LOCK_ACCOUNT, ActionKind.BAN_ADDRESS}
                ),
            )
        )
    ledger = JsonlLedger(ledger_path) if ledger_path else MemoryLedger()
    try:
        report = run(
            log,
            parser,
            guard,
            state=state,
            ledger=ledger,
            enforcers=enforcers,
            rejects=rejects,
            interval=interval,
            max_polls=max_polls,
            ban_on_lock=timedelta(minutes=ban_minutes) if ban_minutes > 0 else None,
            notice=lambda message: click.echo(f"rempart: {message}", err=True),
        )
    finally:
        if isinstance(ledger, JsonlLedger):
            ledger.close()
    verdicts = ", ".join(f"{count:,} {name}" for name, count in sorted(report.verdicts.items()))
    click.echo(
        f"rempart: {report.lines:,} lines, {report.events:,} events ({verdicts}), "
        f"{report.rejects:,} rejected, {report.skipped:,} skipped, "
        f"{report.actions_applied:,} actions carried out, {report.actions_failed:,} failed "
        f"(stopped: {report.stopped})"
    )


@main.command(name="export")
@click.argument("decisions", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["ecs", "ocsf", "syslog"]),
    required=True,
    help="Elastic Common Schema, OCSF (JSON Lines), or RFC 5424 syslog lines.",
)
@click.option(
    "--events",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The events the replay read: each decision's address, account and browser.",
)
@click.option("--out", type=click.Path(path_type=Path), help="Write here (default: stdout).")
@click.option(
    "--syslog",
    "syslog_url",
    help="Send to a collector instead: udp://HOST:PORT or tcp://HOST:PORT (--format syslog).",
)
@click.option("--hostname", default="-", show_default=True, help="Syslog HOSTNAME field.")
@click.option("--rejects", type=click.Path(path_type=Path), help="Write bad input lines here.")
@_quiet
@_clean_errors
def export_command(
    decisions: Path,
    fmt: str,
    events: Path | None,
    out: Path | None,
    syslog_url: str | None,
    hostname: str,
    rejects: Path | None,
    quiet: bool,
) -> None:
    """Export decisions (rempart replay's file) for a SIEM: ECS, OCSF or syslog.

    Exit code 1 when an input line was rejected.
    """
    from contextlib import ExitStack

    from rempart.errors import ConfigError
    from rempart.ingestion import write_rejects
    from rempart.ingestion.atomic import atomic_output
    from rempart.progress import for_terminal
    from rempart.soc import ExportFormat, SyslogFormat, SyslogSender, export_decisions

    if syslog_url and fmt != "syslog":
        raise ConfigError("--syslog", "used with --format syslog", fmt)
    chosen: str | ExportFormat = (
        SyslogFormat(hostname=None if hostname == "-" else hostname) if fmt == "syslog" else fmt
    )
    with ExitStack() as stack, for_terminal("export", quiet=quiet) as progress:
        sink: Any
        if syslog_url:
            sink = stack.enter_context(SyslogSender.from_url(syslog_url))
        elif out is not None:
            sink = stack.enter_context(atomic_output(out))
        else:
            sink = sys.stdout.buffer
        summary = export_decisions(decisions, chosen, sink, events=events, progress=progress)
    if rejects is not None:
        write_rejects(rejects, summary.rejected)
    for bad in summary.rejected[:5]:
        click.echo(str(bad.to_error()), err=True)
    click.echo(
        f"rempart: {summary.decisions:,} decisions exported as {summary.records:,} {fmt} "
        f"records ({summary.unmatched:,} without their event)",
        err=True,
    )
    if summary.rejected:
        sys.exit(1)


@main.command()
@click.argument("events", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--world",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    required=True,
    help="Directory with sites.jsonl, accounts.jsonl (and canaries.txt, networks.csv).",
)
@click.option(
    "--evidence",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Care evidence file (default: evidence.* beside EVENTS, if any).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Decisions, one JSON line per event, keyed by event_id.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(path_type=Path, exists=True),
    help="Policy TOML (default: the shipped policy).",
)
@click.option("--rejects", type=click.Path(path_type=Path), help="Write bad input records here.")
@_networks
@click.option(
    "--reorder-window",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds a record may be older than one before it and still be replayed in time "
    "order; anything older stops the replay with its location (sort the input first).",
)
@_quiet
@_clean_errors
def replay(
    events: Path,
    world: Path,
    evidence: Path | None,
    out: Path,
    policy_path: Path | None,
    rejects: Path | None,
    networks_path: Path | None,
    reorder_window: float,
    quiet: bool,
) -> None:
    """Run the guard over any event file and write one decision per event.

    Events and evidence are replayed in time order; input out of order by
    more than --reorder-window is refused, never replayed wrongly.
    """
    from collections import Counter
    from collections.abc import Iterator

    from rempart.events import Event
    from rempart.evidence import CareEvidence
    from rempart.guard import Decision, Guard, Knowledge, Policy
    from rempart.ingestion import Rejected, iter_records, write_records, write_rejects
    from rempart.progress import for_terminal
    from rempart.replay import replay as run

    if evidence is None:
        for candidate in ("evidence.parquet", "evidence.jsonl"):
            if (events.parent / candidate).exists():
                evidence = events.parent / candidate
                break
    policy = Policy.from_toml(policy_path) if policy_path else Policy.default()
    guard = Guard(Knowledge.from_world(world, networks=networks_path), policy=policy)
    rejected: list[Rejected] = []
    verdicts: Counter[str] = Counter()

    def tallied(decisions: Iterator[Decision]) -> Iterator[Decision]:
        for decision in decisions:
            verdicts[decision.verdict.value] += 1
            yield decision

    with for_terminal("replay", quiet=quiet) as progress:
        stream = iter_records(events, Event, rejected, progress=progress)
        feed = iter_records(evidence, CareEvidence, rejected) if evidence else iter(())
        decisions = run(
            stream,
            feed,
            guard,
            reorder_window=reorder_window,
            events_source=str(events),
            evidence_source=str(evidence),
        )
        written = write_records(out, tallied(decisions))
    if rejects is not None:
        write_rejects(rejects, rejected)
    summary = ", ".join(f"{count:,} {verdict}" for verdict, count in sorted(verdicts.items()))
    click.echo(f"{out}: {written:,} decisions ({summary}); {len(rejected):,} bad records")
    if rejected:
        sys.exit(1)


@main.command(name="eval")
@click.argument("directory", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(path_type=Path, exists=True),
    help="Policy TOML (default: the shipped policy).",
)
@click.option(
    "--thief",
    type=click.Choice(["fails", "silent", "both"]),
    default="both",
    show_default=True,
    help="The thief who answers a challenge and fails, the one who never answers, or both.",
)
@click.option(
    "--knowledge",
    type=click.Choice(["full", "realistic", "none"]),
    default="realistic",
    show_default=True,
    help="What the guard knows of networks: the simulator's own table, a realistic import "
    "(AS and country; hosting only from cloud lists; 10% stale), or nothing.",
)
@_quiet
@_clean_errors
def evaluate(
    directory: Path,
    as_json: bool,
    policy_path: Path | None,
    thief: str,
    knowledge: str,
    quiet: bool,
) -> None:
    """Replay a simulated directory: Rempart and three baselines, with ground truth.

    With --thief both (the default) the replay runs once per thief; --json then
    prints {"fails": report, "silent": report}.
    """
    import tempfile

    from rempart.guard import Policy
    from rempart.networks import read_networks
    from rempart.progress import for_terminal
    from rempart.replay import Thief
    from rempart.replay import evaluate as run
    from rempart.testbed.network_views import NetworkView, network_view

    policy = Policy.from_toml(policy_path) if policy_path else Policy.default()
    thieves = list(Thief) if thief == "both" else [Thief(thief)]
    with tempfile.TemporaryDirectory(prefix="rempart-eval-") as scratch:
        networks = network_view(
            read_networks(directory / "world" / "networks.csv"),
            NetworkView(knowledge),
            Path(scratch),
            seed=1,
        )
    reports = []
    for chosen in thieves:
        with for_terminal(f"eval ({chosen.value} thief)", quiet=quiet) as progress:
            reports.append(
                run(
                    directory,
                    policy=policy,
                    thief=chosen,
                    networks=networks,
                    knowledge_level=knowledge,
                    progress=progress,
                )
            )
    if as_json:
        document = (
            reports[0].to_dict()
            if len(reports) == 1
            else {report.thief.value: report.to_dict() for report in reports}
        )
        click.echo(json.dumps(document, indent=2, sort_keys=True))
    else:
        click.echo("\n\n".join(report.render() for report in reports))


@main.command()
@click.argument("path", type=click.Path(path_type=Path), required=False)
@_clean_errors
def policy(path: Path | None) -> None:
    """Validate a policy file (or print the shipped default as TOML-ready JSON)."""
    from rempart.guard import Policy

    loaded = Policy.from_toml(path) if path else Policy.default()
    click.echo(json.dumps(loaded.to_dict(), indent=2, sort_keys=True))


@main.command()
@click.option(
    "--world",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    required=True,
    help="Directory with sites.jsonl, accounts.jsonl (and canaries.txt, networks.csv).",
)
@click.option(
    "--keys",
    "keys_path",
    type=click.Path(path_type=Path),
    required=True,
    help="API key file (hashes only; create keys with `rempart keys add`).",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(path_type=Path, exists=True),
    help="Policy TOML (default: the shipped policy).",
)
@click.option(
    "--redis",
    "redis_url",
    help="Share state through Redis (redis://host:port/db); default: in-process memory.",
)
@click.option(
    "--on-store-error",
    type=click.Choice(["error", "open", "closed"]),
    default="error",
    show_default=True,
    help="When Redis does not answer: 503; or fail-open (decide on local degraded state); "
    "or fail-closed (deny). It recovers by itself when Redis returns.",
)
@click.option(
    "--store-timeout",
    type=click.FloatRange(min=0.001),
    default=0.1,
    show_default=True,
    help="Seconds a call to Redis may take before it counts as failed (no retries); "
    "then the --on-store-error mode answers until Redis is back.",
)
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Keep the locks, bans and lifts in this JSON Lines ledger (default: in memory, "
    "lost on a restart). It is replayed at start: what is in force stays in force. "
    "CrowdSec bouncers read the bans from it at /v1/decisions/stream.",
)
@click.option(
    "--max-keys",
    type=click.IntRange(min=1),
    default=1_000_000,
    show_default=True,
    help="Most keys the in-process memory store holds (about 1 KB each); the least "
    "recently written go first.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=1_048_576,
    show_default=True,
    help="Largest request body (413 beyond).",
)
@click.option(
    "--max-batch",
    type=click.IntRange(min=1, max=1_000),
    default=1_000,
    show_default=True,
    help="Most events or pieces of evidence in one request.",
)
@click.option(
    "--max-categories",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Most data categories on one event.",
)
@click.option(
    "--max-depth",
    type=click.IntRange(min=3),
    default=16,
    show_default=True,
    help="Deepest JSON nesting accepted.",
)
@click.option(
    "--max-clock-skew",
    type=click.FloatRange(min=0.0),
    default=300.0,
    show_default=True,
    help="Seconds an event's time may be from the server's clock (0: no check).",
)
@click.option(
    "--max-auth-failures",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Wrong or missing keys a client address may send in a minute; then 429 with "
    "Retry-After for the rest of the minute (a right key still passes).",
)
@_networks
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@_clean_errors
def serve(
    world: Path,
    keys_path: Path,
    policy_path: Path | None,
    redis_url: str | None,
    on_store_error: str,
    store_timeout: float,
    ledger_path: Path | None,
    max_keys: int,
    max_body_bytes: int,
    max_batch: int,
    max_categories: int,
    max_depth: int,
    max_clock_skew: float,
    max_auth_failures: int,
    networks_path: Path | None,
    host: str,
    port: int,
) -> None:
    """Serve the decision API (OpenAPI at /openapi.json, key required).

    CrowdSec bouncers read the address bans at /v1/decisions/stream with a
    key from `rempart keys add NAME --role bouncer`. Limits and outage modes:
    docs/security.md.
    """
    from typing import Literal

    from rempart.guard import Guard, Knowledge, Policy
    from rempart.response import JsonlLedger, MemoryLedger
    from rempart.service import ApiKeys, create_app
    from rempart.service import serve as run
    from rempart.service.limits import RequestLimits
    from rempart.service.throttle import FailureThrottle
    from rempart.stores import MemoryStore, StateStore

    policy = Policy.from_toml(policy_path) if policy_path else Policy.default()
    mode: Literal["error", "open", "closed"] = (
        "open" if on_store_error == "open" else "closed" if on_store_error == "closed" else "error"
    )
    limits = RequestLimits(
        max_body_bytes=max_body_bytes,
        max_depth=max_depth,
        max_batch=max_batch,
        max_categories=max_categories,
        max_clock_skew=max_clock_skew or None,
    )
    store: StateStore = MemoryStore(max_keys=max_keys)
    apps: list[Any] = []
    store_errors: tuple[type[BaseException], ...] | None = None
    if redis_url:
        import redis

        from rempart.errors import StoreUnavailableError
        from rempart.stores import RedisStore, ResilientStore
        from rempart.stores.redis import bounded_client

        def on_change(degraded: bool, error: str | None) -> None:
            # Say so in metrics and logs; the store recovers by itself.
            service = apps[0].state.service
            if degraded:
                service.metrics.store_errors.inc()
                service.logger.error("store_degraded", mode=mode, error=error)
            else:
                service.logger.info("store_recovered", mode=mode)

        # A circuit breaker in every mode: once Redis fails, calls stop waiting on it
        # (mode error answers 503, as closed denies) and a PING a second, on a thread of
        # its own, brings it back: no request ever waits on a probe.
        client = bounded_client(redis_url, store_timeout)
        store = ResilientStore(
            RedisStore(client),
            mode="open" if mode == "open" else "closed",
            retry_after=1.0,
            on_change=on_change,
            probe=client.ping,
        )
        store_errors = (StoreUnavailableError, redis.RedisError, OSError)
    guard = Guard(Knowledge.from_world(world, networks=networks_path), store=store, policy=policy)
    ledger = JsonlLedger(ledger_path) if ledger_path else MemoryLedger()
    app = create_app(
        guard,
        ApiKeys.load(keys_path),
        on_store_error=mode,
        store_errors=store_errors,
        ledger=ledger,
        limits=limits,
        throttle=FailureThrottle(limit=max_auth_failures, window=60.0),
    )
    apps.append(app)
    if ledger_path is None:
        click.echo(
            "rempart: warning: no --ledger: locks and bans are kept in memory and lost on a "
            "restart",
            err=True,
        )
    click.echo(f"rempart: decision API on http://{host}:{port} (state: {redis_url or 'memory'})")
    try:
        run(app, host=host, port=port)
    finally:
        if isinstance(ledger, JsonlLedger):
            ledger.close()


@main.group()
def keys() -> None:
    """Manage the decision API's keys (portal keys hashed with argon2id, bouncer keys SHA-256)."""


@keys.command(name="add")
@click.argument("label")
@click.option(
    "--keys",
    "keys_path",
    type=click.Path(path_type=Path),
    required=True,
    help="API key file (created if missing).",
)
@click.option(
    "--role",
    type=click.Choice(["portal", "bouncer"]),
    default="portal",
    show_default=True,
    help="portal: the decision API (Authorization: Bearer); bouncer: a CrowdSec bouncer's "
    "X-Api-Key, for /v1/decisions/stream only.",
)
@click.option(
    "--scope",
    "scopes",
    type=click.Choice(["decide", "evidence", "read", "admin"]),
    multiple=True,
    help="What a portal key may do (repeat the option): decide (decisions, step-up), "
    "evidence, read (account state, metrics), admin (lift locks and bans). "
    "Default: decide and evidence, the portal's own needs.",
)
@_clean_errors
def keys_add(label: str, keys_path: Path, role: str, scopes: tuple[str, ...]) -> None:
    """Create a key for LABEL and print it once; only its SHA-256 digest is kept.

    A running `rempart serve` picks the new key up within a second.
    """
    from rempart.service import ApiKeys
    from rempart.service.keys import SCOPES

    if role == "bouncer" and scopes:
        raise click.UsageError("a bouncer key has no --scope: it reads the decision stream only")
    chosen = [scope for scope in SCOPES if scope in scopes] if scopes else None
    store = ApiKeys.load(keys_path)
    key_id, clear = store.generate(
        label, role="bouncer" if role == "bouncer" else "portal", scopes=chosen
    )
    store.save(keys_path)
    granted = f", scopes {' '.join(chosen or ('decide', 'evidence'))}" if role == "portal" else ""
    click.echo(f"key {key_id} for {label!r} ({role}{granted}, shown once):")
    click.echo(clear.reveal().decode())


@keys.command(name="revoke")
@click.argument("key_id")
@click.option("--keys", "keys_path", type=click.Path(path_type=Path, exists=True), required=True)
@_clean_errors
def keys_revoke(key_id: str, keys_path: Path) -> None:
    """Revoke a key by its id (a running `rempart serve` refuses it within a second)."""
    from rempart.service import ApiKeys

    store = ApiKeys.load(keys_path)
    if not store.revoke(key_id):
        click.echo(f"rempart: error: no key {key_id}", err=True)
        sys.exit(2)
    store.save(keys_path)
    click.echo(f"key {key_id} revoked")


@main.group()
def networks() -> None:
    """Build the guard's network table from the databases and range lists an operator has."""


@networks.command(name="import")
@click.argument("sources", nargs=-1, required=True, metavar="FORMAT:PATH...")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The table to write (CSV: prefix,asn,operator,country,kind).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_clean_errors
def networks_import(sources: tuple[str, ...], out: Path, as_json: bool) -> None:
    """Merge SOURCES into one table: AS and country from the databases (earlier ones win),
    kind from the range lists and flags (see `rempart networks formats`)."""
    from rempart.netdata import NetworkSource, import_networks, table_summary
    from rempart.networks import write_networks

    table = import_networks([NetworkSource.parse(spec) for spec in sources])
    write_networks(table.ranges, out)
    summary = table_summary(table)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    kinds = ", ".join(
        f"{kind} {count:,}" for kind, count in cast(dict[str, int], summary["kinds"]).items()
    )
    click.echo(
        f"{out}: {summary['ranges']:,} ranges "
        f"({summary['ipv4']:,} IPv4, {summary['ipv6']:,} IPv6), "
        f"{summary['with_asn']:,} with an AS, {summary['with_country']:,} with a country; {kinds}"
    )


@networks.command(name="formats")
def networks_formats() -> None:
    """List the source formats `rempart networks import` reads."""
    from rempart.netdata import default_registry

    for source_format in default_registry():
        click.echo(f"{source_format.name:24} {source_format.summary}")


@networks.command(name="lookup")
@click.argument("table", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("addresses", nargs=-1, required=True)
@_clean_errors
def networks_lookup(table: Path, addresses: tuple[str, ...]) -> None:
    """Print what TABLE says of each address (as the guard would see it)."""
    from rempart.networks import read_networks

    network_table = read_networks(table)
    for address in addresses:
        found = network_table.lookup(address)
        if found is None:
            click.echo(f"{address}\t-")
        else:
            asn = f"AS{found.asn}" if found.asn else "-"
            fields = (found.prefix, asn, found.operator or "-", found.country, found.kind.value)
            click.echo("\t".join(map(str, (address, *fields))))


@main.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("out/demo"),
    show_default=True,
    help="Where the simulated world is kept (reused on the next run).",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=4.0),
    default=60.0,
    show_default=True,
    help="Wall seconds for both runs together (each run gets half).",
)
@click.option(
    "--scale",
    type=click.IntRange(min=50),
    default=300,
    show_default=True,
    help="Robot reads per stolen account (three accounts).",
)
@click.option(
    "--professionals",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Simulated professionals using the portal during the attack.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option("--port", type=int, default=0, help="Loopback port for the portal (0: a free one).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_clean_errors
def demo(
    out: Path, duration: float, scale: int, professionals: int, seed: int, port: int, as_json: bool
) -> None:
    """Run the 2022 attack live against the reference portal, with Rempart and with it off.

    Everything runs on loopback: the portal, a real SMTP server for the
    password-reset e-mails the robot intercepts, the professionals and the robot.
    """
    from rempart.testbed.demo import run_demo

    report = run_demo(
        out,
        seed=seed,
        duration_s=duration,
        robot_reads=scale,
        professionals=professionals,
        port=port,
    )
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.render())
