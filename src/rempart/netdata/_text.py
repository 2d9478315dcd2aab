"""Bounded line reading for the text formats (gzip-compressed or plain), with line numbers.

A line longer than the limit is an error at that line rather than a
memory blow-up; undecodable bytes are an error at their line.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rempart.errors import InputError, RecordError

__all__ = ["text_lines"]

_GZIP_MAGIC = b"\x1f\x8b"


def text_lines(path: Path, max_line_bytes: int) -> Iterator[tuple[int, str]]:
    """``(line number, text without its line ending)`` for each line of ``path``."""
    try:
        raw: BinaryIO = path.open("rb")
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
    with raw:
        try:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream: BinaryIO | gzip.GzipFile = (
                gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            )
            number = 0
            while line := stream.readline(max_line_bytes + 1):
                number += 1
                if len(line) > max_line_bytes and not line.endswith(b"\n"):
                    message = f"line longer than {max_line_bytes} bytes"
                    raise RecordError(str(path), number, None, message)
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError:
                    raise RecordError(str(path), number, None, "not UTF-8 text") from None
                if number == 1:
                    text = text.removeprefix("\ufeff")
                yield number, text.rstrip("\r\n")
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            raise InputError(f"{path}: corrupt or truncated gzip data ({error})") from None
        except OSError as error:
            raise InputError(f"{path}: cannot read ({error})") from None
