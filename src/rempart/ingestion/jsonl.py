"""JSON Lines: one record per line, decoded and validated by msgspec, bad lines located.

Reading keeps every good record and turns every bad line into a `Rejected`
with its 1-based line number; lines holding only JSON whitespace are
skipped. Writing gives, for each record, exactly the text of
``msgspec.json.encode(record)`` (defaults omitted as the struct says)
followed by ``\\n``; a gzip stream carries no name and no time, so the same
records always give the same bytes.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Final, TypeVar

import msgspec

from rempart.errors import InputError
from rempart.ingestion.rejected import RAW_LIMIT, Rejected, rejected_from_error
from rempart.progress import Progress, silent

__all__ = ["ENCODE_BATCH", "READ_CHUNK", "iter_jsonl", "write_lines"]

_RecordT = TypeVar("_RecordT", bound=msgspec.Struct)

ENCODE_BATCH: Final = 4096
"""Records encoded per write: large enough to amortise the call, small enough for memory."""

READ_CHUNK: Final = 1 << 20
"""Bytes of whole lines read at a time; progress is reported once per chunk."""

_JSON_WHITESPACE: Final = b" \t\r\n"
_BYTE_ORDER_MARK: Final = b"\xef\xbb\xbf"
# UTF-8 takes at most 4 bytes a character: decoding this many bytes yields RAW_LIMIT characters.
_RAW_BYTES: Final = 4 * RAW_LIMIT


def _raw_text(line: bytes) -> str:
    return line[:_RAW_BYTES].decode("utf-8", "replace").rstrip("\r\n")[:RAW_LIMIT]


def iter_jsonl(
    path: Path,
    record_type: type[_RecordT],
    rejected: list[Rejected],
    *,
    source: str,
    compressed: bool = False,
    progress: Progress = silent,
) -> Iterator[_RecordT]:
    """Yield each valid record of a JSON Lines file; append each bad line to ``rejected``.

    ``compressed`` reads a gzip stream. ``progress`` hears the bytes of the
    file consumed (compressed bytes for gzip) of its size, once per
    `READ_CHUNK` of lines. A file that cannot be opened, or a gzip stream
    that breaks part-way, raises `rempart.errors.InputError` (records yielded
    before that stay valid).
    """
    decoder = msgspec.json.Decoder(record_type)
    try:
        with ExitStack() as stack:
            raw = stack.enter_context(path.open("rb"))
            lines: BinaryIO | gzip.GzipFile = raw
            if compressed:
                lines = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
            total = os.fstat(raw.fileno()).st_size
            progress(0, total)
            done = 0
            number = 0
            while chunk := lines.readlines(READ_CHUNK):
                for line in chunk:
                    number += 1
                    text = line.removeprefix(_BYTE_ORDER_MARK) if number == 1 else line
                    if not text.strip(_JSON_WHITESPACE):
                        continue
                    try:
                        record = decoder.decode(text)
                    # msgspec reports invalid UTF-8 inside a string as UnicodeDecodeError.
                    except (msgspec.DecodeError, UnicodeDecodeError) as error:
                        rejected.append(
                            rejected_from_error(
                                error, source=source, line=number, raw=_raw_text(text)
                            )
                        )
                        continue
                    yield record
                done = raw.tell()
                progress(done, total)
            if done != total:  # whatever the readers buffered, the last report is the total
                progress(total, total)
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(f"{source}: cannot read: {error}") from error


def write_lines(output: BinaryIO, items: Iterable[object], *, compress: bool = False) -> int:
    """Encode ``items`` as JSON Lines into ``output``; returns how many were written.

    ``compress`` wraps the output in a gzip stream with no name and time zero
    (byte-deterministic).
    """
    encoder = msgspec.json.Encoder()
    count = 0
    with ExitStack() as stack:
        sink: BinaryIO | gzip.GzipFile = output
        if compress:
            sink = stack.enter_context(
                gzip.GzipFile(filename="", mode="wb", fileobj=output, mtime=0)
            )
        iterator = iter(items)
        while chunk := list(islice(iterator, ENCODE_BATCH)):
            sink.write(encoder.encode_lines(chunk))
            count += len(chunk)
    return count
