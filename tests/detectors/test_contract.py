"""The contract every detector honours, run over each of `default_detectors` (river's
``check_estimator``): a new detector is covered without editing this file.

Each detector is fed the seeded stream of `tests.detectors.stream` on its own:
``score_one`` then ``learn_one`` with the verdict it asked for.
"""

from __future__ import annotations

import copy
import inspect
import pickle
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
import pytest

from rempart.decision import Verdict
from rempart.detectors import Detector, Finding, StepUpHook, default_detectors
from rempart.detectors.context import EventContext
from rempart.policy import Policy
from rempart.stores.base import StateStore, Window
from rempart.stores.memory import MemoryStore
from tests.wall_clock import forbid_wall_clock

from .stream import Stream, build_stream, copy_context, knowledge

POLICY = Policy.default()
CANARIES = knowledge().canaries
DETECTORS = default_detectors(MemoryStore(), POLICY, CANARIES)
INDICES = [pytest.param(index, id=detector.name) for index, detector in enumerate(DETECTORS)]


def make_detector(index: int, store: StateStore) -> Detector:
    """A fresh instance of the ``index``-th default detector, keeping its state in ``store``."""
    detector = default_detectors(store, POLICY, CANARIES)[index]
    assert type(detector) is type(DETECTORS[index])
    return detector


@pytest.fixture(scope="module")
def stream() -> Stream:
    """The seeded stream, built once."""
    return build_stream(seed=1)


def step(detector: Detector, context: EventContext) -> Finding | None:
    """Score one event, then learn from the verdict the detector asked for."""
    finding = detector.score_one(context)
    detector.learn_one(context, finding.verdict if finding is not None else Verdict.ALLOW)
    return finding


def feed(detector: Detector, contexts: tuple[EventContext, ...]) -> list[Finding | None]:
    """Every finding of ``detector`` over fresh copies of ``contexts``."""
    return [step(detector, copy_context(context)) for context in contexts]


class ReadOnlyStore:
    """A `StateStore` forwarding to a `MemoryStore` that refuses writes while ``frozen``."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.frozen = False

    def _write(self, name: str) -> Callable[..., Any]:
        if self.frozen:
            raise AssertionError(f"score_one called the store's {name}: it must be a pure query")
        method: Callable[..., Any] = getattr(self.inner, name)
        return method

    def add_counts(
        self, key: str, now: float, windows: tuple[Window, ...], amount: float = 1.0
    ) -> tuple[float, ...]:
        result: tuple[float, ...] = self._write("add_counts")(key, now, windows, amount)
        return result

    def counts(self, key: str, now: float, windows: tuple[Window, ...]) -> tuple[float, ...]:
        return self.inner.counts(key, now, windows)

    def add_member(self, key: str, member: str, now: float, ttl: float) -> bool:
        result: bool = self._write("add_member")(key, member, now, ttl)
        return result

    def remove_member(self, key: str, member: str, now: float) -> bool:
        result: bool = self._write("remove_member")(key, member, now)
        return result

    def has_member(self, key: str, member: str, now: float) -> bool:
        return self.inner.has_member(key, member, now)

    def member_count(self, key: str, now: float) -> int:
        return self.inner.member_count(key, now)

    def get(self, key: str, now: float) -> Any:
        # Not a copy: a detector mutating what get returns in place changes the live state.
        return self.inner.get(key, now)

    def put(self, key: str, value: Any, now: float, ttl: float) -> None:
        self._write("put")(key, value, now, ttl)

    def snapshot(self) -> bytes:
        return self.inner.snapshot()

    def restore(self, data: bytes) -> None:
        self._write("restore")(data)


def live_state(snapshot: bytes, now: float) -> list[Any]:
    """A `MemoryStore` snapshot without what has expired at ``now``.

    Reads may drop expired keys, members and buckets lazily: that changes the
    bytes but nothing any later call can observe, so it is not a mutation.
    """
    entries = msgspec.msgpack.decode(snapshot)["entries"]
    live: list[Any] = []
    for key, expiry, kind, payload in entries:
        if expiry <= now:
            continue
        if kind == "s":
            payload = {member: until for member, until in payload.items() if until > now}
        elif kind == "w":
            payload = [
                [
                    bucket
                    for bucket in window["buckets"]
                    if bucket[0] + window["resolution"] > now - window["period"]
                ]
                for window in payload
            ]
        live.append([key, expiry, kind, payload])
    return live


def private_state(detector: Detector) -> bytes:
    """Whatever the detector holds outside its store (and its policy), pickled."""
    names = [*getattr(detector, "__dict__", {}), *getattr(type(detector), "__slots__", ())]
    held = {
        name: getattr(detector, name)
        for name in names
        if name not in ("store", "policy") and hasattr(detector, name)
    }
    return pickle.dumps(held)


_RANK = {Verdict.ALLOW: 0, Verdict.CHALLENGE: 1, Verdict.DENY: 2}


@pytest.fixture(scope="module")
def guard_verdicts(stream: Stream) -> list[Verdict]:
    """The verdict all default detectors reach together on each context, as the guard does."""
    detectors = default_detectors(MemoryStore(), POLICY, CANARIES)
    verdicts = []
    for original in stream.contexts:
        context = copy_context(original)
        verdict = Verdict.ALLOW
        for detector in detectors:
            finding = detector.score_one(context)
            if finding is None:
                continue
            if finding.tighten < 1.0:
                context.tighten_by(finding.tighten, finding.context or detector.name)
            verdict = max(verdict, finding.verdict, key=_RANK.__getitem__)
        for detector in detectors:
            detector.learn_one(context, verdict)
        verdicts.append(verdict)
    return verdicts


@pytest.mark.parametrize("index", INDICES)
def test_stream_exercises_the_detector(
    index: int, stream: Stream, guard_verdicts: list[Verdict]
) -> None:
    """The stream draws at least one finding from every detector: on its own, or, for one that
    acts on the guard's verdicts (unanswered challenges), learning from the verdict the
    detectors reach together (else the contract is vacuous; extend ``tests/detectors/stream.py``
    for a new detector)."""
    if any(
        finding is not None
        for finding in feed(make_detector(index, MemoryStore()), stream.contexts)
    ):
        return
    detector = make_detector(index, MemoryStore())
    findings = []
    for original, together in zip(stream.contexts, guard_verdicts, strict=True):
        context = copy_context(original)
        finding = detector.score_one(context)
        own = finding.verdict if finding is not None else Verdict.ALLOW
        detector.learn_one(context, max(own, together, key=_RANK.__getitem__))
        findings.append(finding)
    assert any(finding is not None for finding in findings)


@pytest.mark.parametrize("index", INDICES)
def test_deterministic(index: int, stream: Stream) -> None:
    """Two fresh instances fed the same stream give identical findings and identical state."""
    first_store, second_store = MemoryStore(), MemoryStore()
    first = feed(make_detector(index, first_store), stream.contexts)
    second = feed(make_detector(index, second_store), stream.contexts)
    assert first == second
    assert first_store.snapshot() == second_store.snapshot()


@pytest.mark.parametrize("index", INDICES)
def test_finding_names_its_detector(index: int, stream: Stream) -> None:
    """Every finding, and every reason in one, is signed with the detector's name."""
    detector = make_detector(index, MemoryStore())
    for finding in feed(detector, stream.contexts):
        if finding is not None:
            assert finding.detector == detector.name
            assert 0.0 < finding.tighten <= 1.0
            if finding.reason is not None:
                assert finding.reason.detector == detector.name


@pytest.mark.parametrize("index", INDICES)
def test_score_one_is_a_pure_query(index: int, stream: Stream) -> None:
    """score_one writes nothing to the store and leaves its live state and the context as
    they were."""
    inner = MemoryStore()
    store = ReadOnlyStore(inner)
    detector = make_detector(index, store)
    for original in stream.contexts:
        context = copy_context(original)
        before_context = copy.deepcopy(context)
        before = live_state(inner.snapshot(), context.t)
        store.frozen = True
        finding = detector.score_one(context)
        store.frozen = False
        assert live_state(inner.snapshot(), context.t) == before, context.event.event_id
        assert context == before_context
        detector.learn_one(context, finding.verdict if finding is not None else Verdict.ALLOW)
        assert context.event == original.event


@pytest.mark.parametrize("index", INDICES)
@pytest.mark.parametrize("cut", [0.25, 0.5, 0.8])
def test_state_round_trips(index: int, cut: float, stream: Stream) -> None:
    """A fresh instance on a store restored from a mid-stream snapshot continues identically."""
    split = int(len(stream.contexts) * cut)
    store = MemoryStore()
    detector = make_detector(index, store)
    feed(detector, stream.contexts[:split])
    restored_store = MemoryStore()
    restored_store.restore(store.snapshot())
    restored = make_detector(index, restored_store)
    rest = stream.contexts[split:]
    assert feed(restored, rest) == feed(detector, rest)
    now = stream.contexts[-1].t
    assert live_state(restored_store.snapshot(), now) == live_state(store.snapshot(), now)


@pytest.mark.parametrize("index", INDICES)
@pytest.mark.parametrize("max_keys", [1, 7, 40])
def test_memory_is_bounded(index: int, max_keys: int, stream: Stream) -> None:
    """With a bounded store the detector runs, and the store never exceeds its bound."""
    store = MemoryStore(max_keys=max_keys)
    detector = make_detector(index, store)
    for context in stream.contexts:
        step(detector, copy_context(context))
        assert len(store) <= max_keys


@pytest.mark.parametrize("index", INDICES)
def test_no_state_outside_the_store_grows(index: int, stream: Stream) -> None:
    """A second stream of new accounts' traffic, a month later, grows no state held outside
    the store."""
    detector = make_detector(index, MemoryStore())
    feed(detector, stream.contexts)
    held = len(private_state(detector))
    later = build_stream(seed=2, offset=timedelta(days=30))
    feed(detector, later.contexts)
    assert len(private_state(detector)) <= held


@pytest.mark.parametrize("index", INDICES)
def test_never_reads_the_wall_clock(
    index: int, stream: Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring and learning work with the clock functions patched to raise."""

    detector = make_detector(index, MemoryStore())
    forbid_wall_clock(monkeypatch, "a detector must use the event time in its context")
    feed(detector, stream.contexts)


@pytest.mark.parametrize("index", INDICES)
def test_documented(index: int) -> None:
    """The detector's class and module have docstrings, and its name is a non-empty str."""
    detector = make_detector(index, MemoryStore())
    cls = type(detector)
    module = inspect.getmodule(cls)
    assert module is not None
    assert (module.__doc__ or "").strip(), f"{module.__name__} has no docstring"
    assert (cls.__doc__ or "").strip(), f"{cls.__name__} has no docstring"
    assert isinstance(detector.name, str)
    assert detector.name.strip()
    assert detector.name == cls.name  # a class attribute: known without an instance


def test_names_are_unique() -> None:
    """No two default detectors share a name (reasons are attributed by name)."""
    names = [detector.name for detector in DETECTORS]
    assert len(names) == len(set(names))


def test_every_detector_is_a_detector() -> None:
    """Every default detector has the protocol's name, score_one and learn_one."""
    for detector in DETECTORS:
        assert callable(detector.score_one)
        assert callable(detector.learn_one)
        assert isinstance(detector.name, str)


class KeyRecorder(MemoryStore):
    """A `MemoryStore` remembering every key written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.written: set[str] = set()

    def add_counts(
        self, key: str, now: float, windows: tuple[Window, ...], amount: float = 1.0
    ) -> tuple[float, ...]:
        self.written.add(key)
        return super().add_counts(key, now, windows, amount)

    def add_member(self, key: str, member: str, now: float, ttl: float) -> bool:
        self.written.add(key)
        return super().add_member(key, member, now, ttl)

    def put(self, key: str, value: Any, now: float, ttl: float) -> None:
        self.written.add(key)
        super().put(key, value, now, ttl)


@pytest.mark.parametrize("index", INDICES)
def test_writes_only_in_its_own_namespace(index: int, stream: Stream) -> None:
    """Every key the detector writes, learning or on step-up, is in the namespace of its name
    (`rempart.stores.keys`), so no two detectors can write each other's state."""
    store = KeyRecorder()
    detector = make_detector(index, store)
    for number, context in enumerate(stream.contexts):
        step(detector, copy_context(context))
        if number % 50 == 0 and isinstance(detector, StepUpHook):
            detector.on_step_up(copy_context(context))
    assert store.written
    assert sorted(key for key in store.written if not key.startswith(detector.name + ".")) == []
