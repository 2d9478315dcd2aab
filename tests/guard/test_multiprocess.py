"""Several guard processes sharing one Redis decide exactly as one process does.

The parent plays the load balancer: it sends each event of the detectors' attack
stream to one of three guard processes in turn and waits for the answer before
sending the next, so the order is global while every process sees only a third
of the traffic. Care evidence is observed once, into the shared store, by the
parent, before the events that follow it, as `rempart.replay.replay` does.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterator
from contextlib import suppress
from multiprocessing.connection import Connection

import pytest
import redis

from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.guard import Decision, Guard, Verdict
from rempart.replay import replay
from rempart.stores import MemoryStore, RedisStore
from tests.detectors.stream import build_stream, knowledge

pytestmark = [pytest.mark.service, pytest.mark.slow]

WORKERS = 3
START_TIMEOUT = 60.0
"""Seconds for a spawned process to import Rempart and say it is ready."""
ANSWER_TIMEOUT = 10.0
"""Seconds for one decision, far above the milliseconds it takes."""


def serve(redis_url: str, prefix: str, connection: Connection) -> None:
    """A guard process: decides every event it receives on the shared store, until None.

    An error is sent back as its traceback, so that the test fails with it.
    """
    client = redis.Redis.from_url(redis_url)
    try:
        guard = Guard(knowledge(), RedisStore(client, prefix=prefix))
        connection.send("ready")
        while (event := connection.recv()) is not None:
            try:
                connection.send(guard.decide(event))
            except Exception:
                connection.send(traceback.format_exc())
    finally:
        client.close()
        connection.close()


def _answer(connection: Connection, timeout: float, worker: int) -> object:
    """The next message from ``worker``, or a test failure once ``timeout`` has passed."""
    if not connection.poll(timeout):
        pytest.fail(f"guard process {worker} did not answer within {timeout} s")
    try:
        return connection.recv()
    except EOFError:
        pytest.fail(f"guard process {worker} exited")


@pytest.fixture
def client(redis_client: redis.Redis) -> redis.Redis:
    """The shared local Redis client (tests/conftest.py)."""
    return redis_client


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    """The test's own key prefix (tests/conftest.py)."""
    return redis_prefix


@pytest.fixture
def workers(redis_url: str, prefix: str) -> Iterator[list[Connection]]:
    """Three spawned guard processes on the shared prefix, ready; stopped afterwards."""
    context = multiprocessing.get_context("spawn")
    processes: list[multiprocessing.process.BaseProcess] = []
    connections: list[Connection] = []
    try:
        for number in range(WORKERS):
            ours, theirs = context.Pipe()
            spawned = context.Process(
                target=serve, args=(redis_url, prefix, theirs), name=f"guard-{number}", daemon=True
            )
            spawned.start()
            theirs.close()
            processes.append(spawned)
            connections.append(ours)
        for number, connection in enumerate(connections):
            assert _answer(connection, START_TIMEOUT, number) == "ready"
        yield connections
    finally:
        for connection in connections:
            with suppress(OSError):  # a process already gone needs no stop signal
                connection.send(None)
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        for connection in connections:
            connection.close()


def _round_robin(
    events: tuple[Event, ...],
    evidence: tuple[CareEvidence, ...],
    observe: Callable[[CareEvidence], None],
    guards: int,
) -> Iterator[tuple[int, Event]]:
    """Each event with the guard it goes to (event i to guard i % guards), once the
    evidence that precedes it has been observed."""
    pending = iter(evidence)
    upcoming = next(pending, None)
    for index, event in enumerate(events):
        while upcoming is not None and upcoming.time <= event.time:
            observe(upcoming)
            upcoming = next(pending, None)
        yield index % guards, event


def test_guard_processes_sharing_redis_decide_like_one(
    client: redis.Redis, prefix: str, workers: list[Connection]
) -> None:
    """Three processes deciding the attack stream in turn on one Redis give the decisions
    (verdicts, reasons, actions) of one in-memory guard that sees it all."""
    stream = build_stream(seed=3)
    reference = list(replay(stream.events, stream.evidence, Guard(knowledge(), MemoryStore())))

    observer = Guard(knowledge(), RedisStore(client, prefix=prefix))
    decisions: list[Decision] = []
    deciders: list[int] = []
    for worker, event in _round_robin(stream.events, stream.evidence, observer.observe, WORKERS):
        workers[worker].send(event)
        answer = _answer(workers[worker], ANSWER_TIMEOUT, worker)
        if not isinstance(answer, Decision):
            pytest.fail(f"guard process {worker} failed on {event.event_id}:\n{answer}")
        decisions.append(answer)
        deciders.append(worker)

    assert decisions == reference
    refused = [
        (worker, decision)
        for worker, decision in zip(deciders, decisions, strict=True)
        if decision.verdict is not Verdict.ALLOW
    ]
    assert {decision.verdict for _, decision in refused} == {Verdict.CHALLENGE, Verdict.DENY}
    assert {worker for worker, _ in refused} == set(range(WORKERS))


def test_unshared_guards_would_decide_otherwise() -> None:
    """The round robin has teeth: three guards each on its own memory (evidence given to
    all) decide differently from one guard, so the equality above comes from sharing."""
    stream = build_stream(seed=3)
    reference = list(replay(stream.events, stream.evidence, Guard(knowledge(), MemoryStore())))
    guards = [Guard(knowledge(), MemoryStore()) for _ in range(WORKERS)]

    def observe_everywhere(evidence: CareEvidence) -> None:
        for guard in guards:
            guard.observe(evidence)

    routed = _round_robin(stream.events, stream.evidence, observe_everywhere, WORKERS)
    unshared = [guards[worker].decide(event) for worker, event in routed]
    assert unshared != reference
