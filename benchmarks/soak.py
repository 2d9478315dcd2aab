"""A soak: `rempart serve` under wrk at a steady rate for minutes: is memory flat, any errors?

Starts ``rempart serve`` (the memory store by default, the embedded set-up; or
``--store redis`` with a throwaway ``redis-server``) on a free loopback port
over a world of ``--sites`` pharmacies with ``--per-site`` pharmacists each
(``throwaway.write_world``). Each site's ``--patients`` regulars get a card
read through ``POST /v1/evidence`` (untimed, before the run). Then Debian's
``wrk`` drives ``POST /v1/decide`` for ``--minutes`` minutes from
``--connections`` connections, each paced by wrk's ``delay()`` to ``--rate``
requests a second in all (wrk 4 has no open-loop mode: a slow answer lowers
the rate, so the achieved rate is printed).

Event time runs ``--speed`` times faster than the wall clock (8,640 by
default: ten minutes are two months), so that within the soak every window
and lifetime the guard keeps for an active account (an hour, a day, a week,
30 active days) fills up and rolls over, and keys and set members expire and
are swept, as they would over months in production; the server's event-time
check is off for that (``--max-clock-skew 0``). Each account's first request
of an eight-hour shift (of event time) is a login opening the shift's
session (the guard forgets a session 12 hours after its login); the others
are record views by the account in its session, from its site's line: one
of its site's regulars (explained) or, one time in ``1 / --unexplained``, a
patient it never saw. At the defaults an account reads two or three patients
a day, and has read most of its site's regulars within a month.

The state the workload builds is bounded (fixed accounts and patients, one
session a shift, windows that roll over), so once event time has passed the
longest of them (30 days: the first half of the default run) the server's
memory should stay flat. Its resident size (``/proc/PID/status``
``VmRSS``) is sampled every ``--sample`` seconds and, with Redis,
``used_memory`` as well. The report gives the samples minute by minute, the
growth after the first minute and over the second half, and every answer
that was not a 200 (wrk's socket errors, timeouts and statuses, counted in
wrk's own ``response()``).

Loopback only, bounded in time; nothing asserts: the figures go to
``docs/benchmarks.md``::

    scripts/bench soak                      # 10 minutes at 300 decisions a second, 60 days
    scripts/bench soak --minutes 1          # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import redis

from api import make_key, served
from generation import machine_facts
from rempart.evidence import CareEvidence, EvidenceKind
from rempart.testing import pseudonym_for
from throwaway import RedisServer, write_world

USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
"""Every account's browser."""

BATCH = 1_000
"""Pieces of evidence per ``POST /v1/evidence`` (the service's default limit)."""

UNKNOWN_PATIENTS = 1_000_000_000
"""Pseudonym numbers from here on are patients no site has seen."""

UNKNOWN_POOL = 5_000
"""How many such patients the unexplained reads draw from."""

# The wrk script: ``{...}`` fields are filled by ``lua_script``. Each wrk thread
# has its own Lua state; ``done`` sums the threads' counters (thread:get).
LUA = r"""
local accounts = {accounts}
local sites = {sites}
local regulars = {regulars}
local unknown = {unknown}
local unexplained_every = {unexplained_every}
local delay_ms = {delay_ms}
local start = {start}
local step = {step}
local threads = {{}}
local counter = 0
local logged_in = {{}}
counts = {{}}

function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    math.randomseed(id * 7919)
end

function delay()
    return delay_ms
end

local function body(kind, account, subject, moment, shift)
    local parts = {{
        '{{"time":"', os.date("!%Y-%m-%dT%H:%M:%SZ", moment), '","event_id":"soak-', id, '-',
        counter, '","kind":"', kind, '","ip":"90.', 12 + math.floor(sites[account] / 250), '.',
        sites[account] % 250, '.', 1 + account % 200,
        '","account":"A', account, '","session":"soak-A', account, '-', shift,
        '","user_agent":"{user_agent}"'
    }}
    if subject then
        table.insert(parts, ',"subject":"' .. subject ..
            '","lookup":"typed_nir","categories":["identity","rights"]')
    end
    table.insert(parts, "}}")
    return table.concat(parts)
end

local verified = false

function request()
    -- wrk calls the first thread's request() once before the run, to check what it
    -- returns, and throws that away: a login made there would never be sent.
    if id == 1 and not verified then
        verified = true
        return wrk.format("GET", "/health")
    end
    counter = counter + 1
    local moment = math.floor(start + counter * step)
    local shift = math.floor((moment - start) / 28800)
    local account = accounts[math.random(#accounts)]
    local payload
    if logged_in[account] ~= shift then  -- the shift's first request: a login, a session
        logged_in[account] = shift
        payload = body("login_success", account, nil, moment, shift)
    elseif counter % unexplained_every == 0 then
        payload = body("record_view", account, unknown[math.random(#unknown)], moment, shift)
    else
        local pool = regulars[sites[account]]
        payload = body("record_view", account, pool[math.random(#pool)], moment, shift)
    end
    return wrk.format("POST", "/v1/decide", {{
        ["Authorization"] = "Bearer {key}",
        ["Content-Type"] = "application/json",
    }}, payload)
end

function response(status, headers, text)
    local key = tostring(status)
    if status == 200 then
        key = text:match('"verdict":"(%a+)"') or "200"
        if key ~= "allow" then  -- why, by reason code
            for code in text:gmatch('"code":"([%w_]+)"') do
                counts["reason " .. code] = (counts["reason " .. code] or 0) + 1
            end
        end
    end
    counts[key] = (counts[key] or 0) + 1
end

function done(summary, latency, requests)
    local total = {{}}
    for _, thread in ipairs(threads) do
        for key, value in pairs(thread:get("counts")) do
            total[key] = (total[key] or 0) + value
        end
    end
    local parts = {{}}
    for key, value in pairs(total) do
        table.insert(parts, string.format('"%s":%d', key, value))
    end
    local errors = summary.errors
    io.write(string.format(
        'SOAK {{"requests":%d,"seconds":%.3f,"connect":%d,"read":%d,"write":%d,' ..
        '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,' ..
        '"answers":{{%s}}}}\n',
        summary.requests, summary.duration / 1e6, errors.connect, errors.read,
        errors.write, errors.status, errors.timeout, latency:percentile(50),
        latency:percentile(99), latency:percentile(99.9), latency.max,
        table.concat(parts, ",")))
end
"""


def lua_list(values: list[str] | list[int]) -> str:
    """A Lua table literal of strings or integers."""
    return "{" + ",".join(json.dumps(value) for value in values) + "}"


def lua_script(
    key: str, sites: int, per_site: int, patients: int, start: float, arguments: Namespace
) -> str:
    """The wrk script for this world, key and pacing; event time from ``start`` on."""
    accounts = list(range(1, sites * per_site + 1))
    regulars = (
        "{" + ",".join(lua_list(site_patients(site, patients)) for site in range(sites)) + "}"
    )
    return LUA.format(
        accounts=lua_list(accounts),
        sites=lua_list([1 + (account - 1) // per_site for account in accounts]),
        regulars=regulars,
        unexplained_every=max(2, round(1 / arguments.unexplained)),
        delay_ms=max(1, round(arguments.connections * 1000 / arguments.rate)),
        unknown=lua_list([pseudonym_for(UNKNOWN_PATIENTS + n) for n in range(UNKNOWN_POOL)]),
        key=key,
        user_agent=USER_AGENT,
        start=round(start),
        step=arguments.speed * arguments.threads / arguments.rate,
    )


def site_patients(site: int, patients: int) -> list[str]:
    """The pseudonyms of site ``site``'s regulars (0-based)."""
    return [pseudonym_for(site * patients + number) for number in range(patients)]


def observe(base_url: str, key: str, sites: int, patients: int) -> int:
    """A card read a day ago at each site for each of its regulars; how many were observed."""
    yesterday = datetime.now(UTC) - timedelta(days=1)
    pieces = [
        CareEvidence(
            time=yesterday, kind=EvidenceKind.CARD_READ, subject=subject, site=f"S{site + 1}"
        )
        for site in range(sites)
        for subject in site_patients(site, patients)
    ]
    observed = 0
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base_url, trust_env=False, timeout=30.0) as client:
        for start in range(0, len(pieces), BATCH):
            answer = client.post(
                "/v1/evidence",
                content=msgspec.json.encode(pieces[start : start + BATCH]),
                headers=headers,
            )
            answer.raise_for_status()
            observed += int(answer.json()["observed"])
    return observed


def resident_mb(pid: int) -> float:
    """The process's resident set size in MB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass
class Sampler:
    """Samples the server's memory (and Redis's) every ``every`` seconds until stopped."""

    pid: int
    every: float
    redis_url: str | None
    samples: list[tuple[float, float, float | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        client = None if self.redis_url is None else redis.Redis.from_url(self.redis_url)
        start = time.monotonic()
        try:
            while not self._stop.is_set():
                used = None
                if client is not None:
                    used = int(client.info("memory")["used_memory"]) / 2**20
                self.samples.append((time.monotonic() - start, resident_mb(self.pid), used))
                self._stop.wait(self.every)
        finally:
            if client is not None:
                client.close()

    def stop(self) -> None:
        self._stop.set()


def wrk(base_url: str, script: Path, arguments: Namespace) -> dict[str, object]:
    """Run wrk for the soak's duration and return its ``SOAK`` summary line, parsed."""
    executable = shutil.which("wrk")
    if executable is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    seconds = round(arguments.minutes * 60)
    command = [
        executable,
        *("-t", str(arguments.threads), "-c", str(arguments.connections)),
        *("-d", f"{seconds}s", "--timeout", "5s", "-s", str(script), base_url),
    ]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    for line in finished.stdout.splitlines():
        if line.startswith("SOAK "):
            result: dict[str, object] = json.loads(line.removeprefix("SOAK "))
            return result
    raise SystemExit(f"wrk gave no summary (exit {finished.returncode}):\n{finished.stderr}")


def minute_rows(samples: list[tuple[float, float, float | None]]) -> list[str]:
    """A markdown row for the first sample at or after each whole minute."""
    rows = []
    minute = 0
    for moment, rss, used in samples:
        if moment >= 60 * minute:
            redis_cell = "—" if used is None else f"{used:,.1f}"
            rows.append(f"| {moment:,.0f} | {rss:,.1f} | {redis_cell} |")
            minute = int(moment // 60) + 1
    return rows


Namespace = argparse.Namespace


def main(argv: list[str] | None = None) -> int:
    """Parse options, set up the world and server, soak it, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak")
    parser.add_argument("--rate", type=float, default=300.0, help="decisions a second, in all")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--sites", type=int, default=250, help="pharmacies in the world")
    parser.add_argument("--per-site", type=int, default=4, help="pharmacists per pharmacy")
    parser.add_argument("--patients", type=int, default=20, help="regulars per pharmacy")
    parser.add_argument(
        "--unexplained", type=float, default=0.01, help="share of reads of unknown patients"
    )
    parser.add_argument(
        "--speed", type=float, default=8640.0, help="event time's pace against the wall clock"
    )
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--store", choices=("memory", "redis"), default="memory")
    arguments = parser.parse_args(argv)
    if min(arguments.minutes, arguments.rate, arguments.sample, arguments.unexplained) <= 0:
        parser.error("--minutes, --rate, --sample and --unexplained must be positive")
    if arguments.speed <= 0:
        parser.error("--speed must be positive")
    if min(arguments.connections, arguments.threads, arguments.sites, arguments.per_site) < 1:
        parser.error("--connections, --threads, --sites and --per-site must be at least 1")
    facts = machine_facts()
    print("# Soak benchmark")
    print(f"date: {date.today().isoformat()}")
    print(f"machine: nproc {facts['nproc']}, CPU {facts['cpu']}, {facts['platform']}")
    print(f"python: {facts['python']}; load average {os.getloadavg()[0]:.2f} (1 min)")
    print(
        f"load: wrk, {arguments.connections} connections paced to {arguments.rate:g} "
        f"decisions/s for {arguments.minutes:g} min; {arguments.store} store; "
        f"{arguments.sites} sites x {arguments.per_site} accounts, "
        f"{arguments.patients} regulars each, {arguments.unexplained:.0%} unknown patients; "
        f"event time {arguments.speed:g}x the wall clock "
        f"({arguments.minutes * arguments.speed / 1440:,.1f} days)"
    )
    print(f"command: {' '.join(['benchmarks/soak.py', *sys.argv[1:]])}", flush=True)
    with tempfile.TemporaryDirectory(prefix="rempart-bench-soak-") as scratch:
        directory = Path(scratch)
        world = write_world(directory, arguments.sites, arguments.per_site)
        keys_path = directory / "keys.toml"
        key = make_key(keys_path)
        redis_server = None
        if arguments.store == "redis":
            redis_server = RedisServer(directory / "redis")
            redis_server.start()
        try:
            with (
                (directory / "serve.log").open("wb") as log,
                served(world, keys_path, redis_server and redis_server.url, log) as (
                    base_url,
                    pid,
                ),
            ):
                observed = observe(base_url, key, arguments.sites, arguments.patients)
                print(f"evidence observed: {observed:,}; resident {resident_mb(pid):,.1f} MB")
                script = directory / "soak.lua"
                script.write_text(
                    lua_script(
                        key,
                        arguments.sites,
                        arguments.per_site,
                        arguments.patients,
                        time.time(),
                        arguments,
                    )
                )
                sampler = Sampler(pid, arguments.sample, redis_server and redis_server.url)
                watcher = threading.Thread(target=sampler.run, daemon=True)
                watcher.start()
                try:
                    result = wrk(base_url, script, arguments)
                finally:
                    sampler.stop()
                    watcher.join()
        finally:
            if redis_server is not None:
                redis_server.stop()
    report(result, sampler.samples)
    return 0


def report(result: dict[str, object], samples: list[tuple[float, float, float | None]]) -> None:
    """Print the answers, the latency and the memory minute by minute."""
    answers = result["answers"]
    assert isinstance(answers, dict)
    requests = int(str(result["requests"]))
    seconds = float(str(result["seconds"]))
    socket_errors = sum(int(str(result[name])) for name in ("connect", "read", "write", "timeout"))
    not_200 = sum(count for answer, count in answers.items() if answer.isdigit())
    reasons = {answer: answers.pop(answer) for answer in list(answers) if " " in answer}
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")
    print()
    print(
        f"{requests:,} decisions in {seconds:,.0f} s ({requests / seconds:,.0f}/s achieved); "
        f"errors: {socket_errors} socket, {not_200} not 200"
    )
    print(
        "answers: " + ", ".join(f"{count:,} {answer}" for answer, count in sorted(answers.items()))
    )
    if reasons:
        print(
            "reasons for the challenges and denials: "
            + ", ".join(f"{count:,} {reason[7:]}" for reason, count in sorted(reasons.items()))
        )
    print(
        "latency (ms): "
        + ", ".join(
            f"{name} {int(str(result[key])) / 1000:,.2f}"
            for name, key in (
                ("p50", "p50_us"),
                ("p99", "p99_us"),
                ("p99.9", "p999_us"),
                ("max", "max_us"),
            )
        )
    )
    print()
    print("| Seconds | Server resident (MB) | Redis used_memory (MB) |")
    print("|---:|---:|---:|")
    for row in minute_rows(samples):
        print(row)
    end = samples[-1][0]
    for label, since in (("after the first minute", 60.0), ("over the second half", end / 2)):
        later = [sample for sample in samples if sample[0] >= since]
        if len(later) < 2:
            continue
        first, last = later[0], later[-1]
        growth = last[1] - first[1]
        line = (
            f"server resident {label} ({first[0]:.0f} s to {last[0]:.0f} s): "
            f"{first[1]:,.1f} -> {last[1]:,.1f} MB ({growth:+,.1f} MB, {growth / first[1]:+.1%})"
        )
        if first[2] is not None and last[2] is not None:
            line += f"; redis used_memory {first[2]:,.1f} -> {last[2]:,.1f} MB"
        print(line)


if __name__ == "__main__":
    sys.exit(main())
