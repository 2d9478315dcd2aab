"""A columnar buffer of generated events and their ground truth.

Generators append whole numpy arrays at once (one call per account or per
attacker), which keeps the testbed at millions of events per second. At the
end the buffer sorts everything by time, numbers the events in that order,
and splits the ground truth away from what the guard may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from rempart.events import DataCategory, EventKind, Lookup, Outcome
from rempart.ingestion import EVENT_ARROW_SCHEMA, EVIDENCE_ARROW_SCHEMA

__all__ = ["TRUTH_ARROW_SCHEMA", "EventBuffer", "EvidenceBuffer"]


TRUTH_ARROW_SCHEMA: Final = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("attacker", pa.string()),
        pa.field("hard_case", pa.string()),
    ]
)

Strings = npt.NDArray[np.object_] | Sequence[str | None] | str | None
Int64s = npt.NDArray[np.int64]

_READ_CATEGORIES: Final = [c.value for c in DataCategory]
_NO_END: Final = np.iinfo(np.int64).min  # an evidence row that ends nothing (a null ``ended``)


def _listed(value: Sequence[tuple[str, ...]] | None, n: int) -> npt.NDArray[np.object_]:
    """One tuple of pseudonyms per event (empty where ``value`` is None)."""
    out = np.empty(n, dtype=object)
    if value is None:
        out.fill(())
        return out
    if len(value) != n:
        raise ValueError(f"expected {n} result lists, got {len(value)}")
    out[:] = [tuple(item) for item in value]
    return out


def _column(value: Strings, n: int) -> npt.NDArray[np.object_]:
    """Broadcast a scalar or take an array of ``n`` strings."""
    if value is None or isinstance(value, str):
        out = np.empty(n, dtype=object)
        out[:] = value
        return out
    array = np.asarray(value, dtype=object)
    if array.shape != (n,):
        raise ValueError(f"expected {n} values, got {array.shape}")
    return array


@dataclass
class EventBuffer:
    """Accumulates events column by column; `to_tables` sorts and labels them."""

    _chunks: list[dict[str, npt.NDArray[np.generic]]] = field(default_factory=list)

    def add(
        self,
        *,
        time_us: Int64s,
        kind: EventKind | npt.NDArray[np.object_],
        ip: Strings,
        account: Strings,
        label: str,
        session: Strings = None,
        user_agent: Strings = "",
        subject: Strings = None,
        lookup: Lookup | npt.NDArray[np.object_] | None = None,
        outcome: Outcome | npt.NDArray[np.object_] = Outcome.SUCCESS,
        result_count: npt.NDArray[np.int64] | None = None,
        subject_department: Strings = None,
        birth_date_match: npt.NDArray[np.object_] | None = None,
        results: Sequence[tuple[str, ...]] | None = None,
        attacker: Strings = None,
        hard_case: Strings = None,
    ) -> None:
        """Append ``len(time_us)`` events; scalars broadcast to every event.

        Successful ``record_view`` events get every data category the portal's
        patient page returns (identity, birth date, sex, NIR, treating doctor,
        rights, care), as in the 2022 incident. ``results`` gives each search
        event the pseudonyms it listed.
        """
        n = len(time_us)
        if n == 0:
            return
        kinds = _column(kind.value if isinstance(kind, EventKind) else kind, n)
        outcomes = _column(outcome.value if isinstance(outcome, Outcome) else outcome, n)
        lookups = _column(lookup.value if isinstance(lookup, Lookup) else lookup, n)
        counts = np.full(n, -1, dtype=np.int64) if result_count is None else result_count
        matches = _column(None, n) if birth_date_match is None else birth_date_match
        self._chunks.append(
            {
                "time": np.asarray(time_us, dtype=np.int64),
                "kind": kinds,
                "ip": _column(ip, n),
                "account": _column(account, n),
                "session": _column(session, n),
                "user_agent": _column(user_agent, n),
                "subject": _column(subject, n),
                "lookup": lookups,
                "outcome": outcomes,
                "result_count": np.asarray(counts, dtype=np.int64),
                "subject_department": _column(subject_department, n),
                "birth_date_match": matches,
                "results": _listed(results, n),
                "label": _column(label, n),
                "attacker": _column(attacker, n),
                "hard_case": _column(hard_case, n),
            }
        )

    def __len__(self) -> int:
        return sum(len(chunk["time"]) for chunk in self._chunks)

    def to_tables(self) -> tuple[pa.Table, pa.Table]:
        """Sort by time (ties keep insertion order), number the events, split off the truth."""
        columns = {
            name: np.concatenate([chunk[name] for chunk in self._chunks])
            for name in self._chunks[0]
        }
        order = np.argsort(columns["time"], kind="stable")
        columns = {name: values[order] for name, values in columns.items()}
        n = len(order)
        width = max(9, len(str(n)))
        event_ids = np.array([f"ev{i:0{width}d}" for i in range(n)], dtype=object)
        kinds = columns["kind"]
        outcomes = columns["outcome"]
        successful_read = (kinds == EventKind.RECORD_VIEW.value) & (
            outcomes == Outcome.SUCCESS.value
        )
        per_event = np.where(successful_read, len(_READ_CATEGORIES), 0)
        offsets = np.concatenate([[0], np.cumsum(per_event)]).astype(np.int32)
        values = pa.array(
            np.tile(np.array(_READ_CATEGORIES, dtype=object), int(successful_read.sum())),
            type=pa.string(),
        )
        categories = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), values)
        counts = columns["result_count"]
        listed = columns["results"]
        listed_offsets = np.concatenate(
            [[0], np.cumsum(np.fromiter(map(len, listed), dtype=np.int64, count=n))]
        ).astype(np.int32)
        results = pa.ListArray.from_arrays(
            pa.array(listed_offsets, type=pa.int32()),
            pa.array(list(chain.from_iterable(listed)), type=pa.string()),
        )
        events = pa.Table.from_arrays(
            [
                pa.array(columns["time"], type=pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                pa.array(event_ids, type=pa.string()),
                pa.array(kinds, type=pa.string()),
                pa.array(columns["ip"], type=pa.string()),
                pa.array(columns["account"], type=pa.string()),
                pa.array(columns["session"], type=pa.string()),
                pa.array(columns["user_agent"], type=pa.string()),
                pa.array(columns["subject"], type=pa.string()),
                pa.array(columns["lookup"], type=pa.string()),
                categories,
                pa.array(outcomes, type=pa.string()),
                pa.array(counts, type=pa.int32(), mask=counts < 0),
                pa.array(columns["subject_department"], type=pa.string()),
                pa.array(columns["birth_date_match"], type=pa.bool_()),
                results,
            ],
            schema=EVENT_ARROW_SCHEMA,
        )
        truth = pa.Table.from_arrays(
            [
                pa.array(event_ids, type=pa.string()),
                pa.array(columns["label"], type=pa.string()),
                pa.array(columns["attacker"], type=pa.string()),
                pa.array(columns["hard_case"], type=pa.string()),
            ],
            schema=TRUTH_ARROW_SCHEMA,
        )
        return events, truth


@dataclass
class EvidenceBuffer:
    """Accumulates care evidence column by column."""

    _chunks: list[dict[str, npt.NDArray[np.generic]]] = field(default_factory=list)

    def add(
        self,
        *,
        time_us: Int64s,
        kind: str,
        subject: Strings,
        account: Strings,
        site: Strings,
        ended_us: Int64s | None = None,
    ) -> None:
        """Append ``len(time_us)`` pieces of evidence; ``ended_us`` ends standing relationships."""
        n = len(time_us)
        if n == 0:
            return
        ended = np.full(n, _NO_END, dtype=np.int64)
        if ended_us is not None:
            ended[:] = ended_us
        self._chunks.append(
            {
                "time": np.asarray(time_us, dtype=np.int64),
                "kind": _column(kind, n),
                "subject": _column(subject, n),
                "account": _column(account, n),
                "site": _column(site, n),
                "ended": ended,
            }
        )

    def __len__(self) -> int:
        return sum(len(chunk["time"]) for chunk in self._chunks)

    def to_table(self) -> pa.Table:
        """All evidence sorted by time (ties keep insertion order)."""
        if not self._chunks:
            return EVIDENCE_ARROW_SCHEMA.empty_table()
        columns = {
            name: np.concatenate([chunk[name] for chunk in self._chunks])
            for name in self._chunks[0]
        }
        order = np.argsort(columns["time"], kind="stable")
        ended = columns["ended"][order]
        return pa.Table.from_arrays(
            [
                pa.array(columns["time"][order], type=pa.int64()).cast(
                    pa.timestamp("us", tz="UTC")
                ),
                pa.array(columns["kind"][order], type=pa.string()),
                pa.array(columns["subject"][order], type=pa.string()),
                pa.array(columns["account"][order], type=pa.string()),
                pa.array(columns["site"][order], type=pa.string()),
                pa.array(ended, type=pa.int64(), mask=ended == _NO_END).cast(
                    pa.timestamp("us", tz="UTC")
                ),
            ],
            schema=EVIDENCE_ARROW_SCHEMA,
        )
