"""File formats of record files, chosen by suffix: ``.jsonl``, ``.jsonl.gz``, ``.parquet``.

>>> format_of("out/events.jsonl.gz")
<RecordFormat.JSONL_GZ: '.jsonl.gz'>
"""

from __future__ import annotations

import os
from enum import StrEnum

from rempart.errors import InputError

__all__ = ["RecordFormat", "format_of"]


class RecordFormat(StrEnum):
    """A record file format, named by its suffix."""

    JSONL = ".jsonl"
    JSONL_GZ = ".jsonl.gz"
    PARQUET = ".parquet"


def format_of(path: str | os.PathLike[str]) -> RecordFormat:
    """The format of ``path`` by its suffix (case-insensitive); `InputError` if unknown."""
    name = os.fspath(path).lower()
    # Longest suffix first, so that ``.jsonl.gz`` is not taken for something else.
    for record_format in sorted(RecordFormat, key=len, reverse=True):
        if name.endswith(record_format.value):
            return record_format
    known = ", ".join(f.value for f in RecordFormat)
    raise InputError(f"{os.fspath(path)}: unknown record file format (expected {known})")
