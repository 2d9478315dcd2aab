"""Following a growing log file through rotation, one poll at a time, never a partial line.

A `LogTailer` reads the whole lines a file gained since its last poll
(`LogTailer.poll_once`), each with the `Position` reached after it: the file
(device, inode and a hash of its first bytes) and the byte offset and line
number after that line. It reads the clock it is given (for ``rotate_wait``
only), never sleeps, and reads at most ``read_limit`` bytes a poll; the caller decides
when to poll again and when a position is safe to record
(`rempart.follow.runner`).

What it copes with:

- **Rotation by rename** (logrotate's default, ``create``): the path now
  names another file, or none. The old file is read to its end first, for
  as long as it keeps growing (a server writes to it until it reopens its
  logs) and then ``rotate_wait`` seconds more; then the file that took its
  place (opened when the rotation was noticed, so that a second rotation
  meanwhile skips nothing) from its first byte.
- **copytruncate**: the file is cut short in place (or rewritten: its first
  bytes changed). What had not been read yet is in the copy, so a rotated
  file (``LOG.1``...) starting with the same bytes is read from the old
  offset to its end first; then the truncated file from its first byte.
- **Restarts**: given the position recorded last time, reading resumes at
  its offset in the file it names, found by device and inode under the
  path or under a rotated name (`rotated_names`), its first bytes checked.
  Compressed rotations (``LOG.2.gz``) are left alone: the position cannot be
  in one that is still open for reading. When the file is gone, reading
  starts at the beginning of the current file, and `LogTailer.start` says why.
- **Partial and overlong lines**: a last line without its newline is not read
  until the newline comes (except at the end of a rotated file, which no one
  will complete); a line longer than ``line_limit`` bytes is skipped, in
  bounded reads, and handed back as a located `Rejected`, as is a line that
  is not UTF-8. Blank lines are passed over.

>>> import os, tempfile
>>> log = os.path.join(tempfile.mkdtemp(), "access.log")
>>> with open(log, "w") as file:
...     _ = file.write("first\\nsecond\\nthird, still being writ")
>>> tailer = LogTailer(log)
>>> [tailed.record.text for tailed in tailer.poll_once()]
['first', 'second']
>>> with open(log, "a") as file:
...     _ = file.write("ten\\n")
>>> [(tailed.record.line, tailed.record.text) for tailed in tailer.poll_once()]
[(3, 'third, still being written')]
>>> resumed = LogTailer(log, start=tailer.position)
>>> resumed.start.startswith("resumed at line 3 (byte 40) of"), resumed.poll_once()
(True, [])
>>> tailer.close(); resumed.close()
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final

import msgspec

from rempart.errors import ConfigError
from rempart.ingestion.logs.base import LINE_LIMIT, LogLine
from rempart.ingestion.rejected import RAW_LIMIT, Rejected

__all__ = ["HEAD_BYTES", "LogTailer", "Position", "TailedLine", "rotated_names"]

HEAD_BYTES: Final = 1024
"""Bytes at the start of a file whose hash identifies it along with its device and inode."""

_DEFAULT_READ_LIMIT: Final = 1 << 20
_CHUNK: Final = 1 << 18
# logrotate's names for a rotated LOG: LOG.1 (LOG.0 for savelog), LOG-20240131 or
# LOG-2024-01-31 (dateext). Compressed ones (LOG.2.gz) end in letters and never match.
_ROTATED_SUFFIX: Final = re.compile(r"[.-][0-9][0-9._-]*")


class Position(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where reading stands in one file, after the last whole line consumed.

    The file is ``device`` and ``inode`` and ``head``, the BLAKE2b-128 hex
    digest of its first ``head_length`` bytes (``min(offset, HEAD_BYTES)``:
    bytes already read, which a writer appending to the file never changes);
    an inode number reused by a new file after the old one was deleted gives
    another head. ``offset`` is the byte just after the line, ``line`` its
    1-based number (0 at the start of a file).
    """

    device: int
    inode: int
    head: str
    head_length: int
    offset: int
    line: int


@dataclass(frozen=True, slots=True)
class TailedLine:
    """One line read: the line (or its located reject) and the position just after it."""

    record: LogLine | Rejected
    after: Position


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def rotated_names(path: str | os.PathLike[str]) -> list[Path]:
    """The rotated siblings of ``path`` that may hold a file being read, newest first.

    ``LOG.1``, ``LOG.0``, ``LOG-20240131``, ``LOG.2``...: regular files named
    ``path`` plus a numeric suffix, never a compressed one (``LOG.2.gz``).
    """
    log = Path(path)
    found: list[tuple[float, Path]] = []
    try:
        entries = list(os.scandir(log.parent))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(log.name):
            continue
        if not _ROTATED_SUFFIX.fullmatch(entry.name[len(log.name) :]):
            continue
        try:
            info = entry.stat()
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.append((info.st_mtime, Path(entry.path)))
    found.sort(key=lambda pair: (-pair[0], str(pair[1])))
    return [name for _, name in found]


@dataclass(slots=True)
class _Reading:
    """An open file being read: where, and what is known of its head."""

    fd: int
    device: int
    inode: int
    source: str
    offset: int = 0
    line: int = 0
    skip_to: int | None = None  # reading past an overlong line: where to look for its end
    head_length: int = 0
    head: str = _digest(b"")
    size_seen: int = -1

    def close(self) -> None:
        os.close(self.fd)


def _open(path: Path, source: str) -> _Reading | None:
    """``path`` opened for reading, or None when it does not exist (or is no regular file)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None
    return _Reading(fd, info.st_dev, info.st_ino, source)


def _head_matches(reading: _Reading, length: int, digest: str) -> bool:
    return length == 0 or _digest(os.pread(reading.fd, length, 0)) == digest


class LogTailer:
    """Reads the whole lines a log file gains, across rotations and restarts.

    ``path``: the log, as the server names it. ``start``: the position
    recorded by an earlier run (None: from the beginning). ``source``: the
    name lines of the current file are located by (default: ``path``);
    lines of a rotated file carry its own name. ``read_limit``: bytes read
    at most per poll (at least ``line_limit + 1``). ``line_limit``: the
    longest line kept, in bytes, newline excluded. ``rotate_wait``: seconds
    a rotated-away file must stay unchanged before the new file is read.
    ``clock``: seconds, for that wait only (monotonic by default).
    ``notice`` hears a sentence when reading starts and at each rotation,
    truncation or switch of file (for a log).

    Not thread-safe; `close` (or ``with``) releases the open file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        start: Position | None = None,
        source: str | None = None,
        read_limit: int = _DEFAULT_READ_LIMIT,
        line_limit: int = LINE_LIMIT,
        rotate_wait: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        notice: Callable[[str], None] = lambda message: None,
    ) -> None:
        if line_limit < 1:
            raise ConfigError("line_limit", "a positive number of bytes", line_limit)
        if read_limit <= line_limit:
            raise ConfigError(
                "read_limit", f"more bytes than line_limit ({line_limit})", read_limit
            )
        if rotate_wait < 0:
            raise ConfigError("rotate_wait", "a number of seconds, 0 or more", rotate_wait)
        self.path = Path(path)
        self.source = source if source is not None else os.fspath(path)
        self._read_limit = read_limit
        self._line_limit = line_limit
        self._rotate_wait = rotate_wait
        self._clock = clock
        self._notice = notice
        self._reading: _Reading | None = None
        self._next: _Reading | None = None  # what follows a rotated-away file, when known
        self._closed = False
        # The file being read is no longer the one the path names: read it to its end,
        # then move to the path's. ``_finished``: it will not grow (a copytruncate copy).
        self._rotated = False
        self._finished = False
        self._idle_since = 0.0
        self.start = self._locate(start)
        """How reading started: where it resumed, or why it starts at the beginning."""
        notice(self.start)

    # -- starting ------------------------------------------------------------------------

    def _locate(self, start: Position | None) -> str:
        """Open the file ``start`` names, at its offset, else the path at its beginning."""
        if start is None:
            self._reading = _open(self.path, self.source)
            if self._reading is None:
                return f"waiting for {self.source} to appear"
            return f"started at the beginning of {self.source} (no recorded position)"
        candidates = [self.path, *rotated_names(self.path)]
        for candidate in candidates:
            reading = self._at(candidate, start, same_file=True)
            if reading is not None:
                return self._resume(reading, start, candidate)
        if start.head_length > 0:
            for candidate in candidates[1:]:
                reading = self._at(candidate, start, same_file=False)
                if reading is not None:  # the copy copytruncate left of the recorded file
                    self._finished = True
                    return self._resume(reading, start, candidate)
        self._reading = _open(self.path, self.source)
        why = (
            f"its recorded file (device {start.device}, inode {start.inode}, line "
            f"{start.line}) is gone, compressed or rewritten"
        )
        if self._reading is None:
            return f"waiting for {self.source} to appear: {why}"
        return f"started at the beginning of {self.source}: {why}"

    def _at(self, candidate: Path, start: Position, *, same_file: bool) -> _Reading | None:
        """``candidate`` opened at ``start`` if it holds the recorded file (or a copy of it)."""
        source = self.source if candidate == self.path else os.fspath(candidate)
        reading = _open(candidate, source)
        if reading is None:
            return None
        identical = (reading.device, reading.inode) == (start.device, start.inode)
        if (
            identical == same_file
            and os.fstat(reading.fd).st_size >= start.offset
            and _head_matches(reading, start.head_length, start.head)
        ):
            reading.offset, reading.line = start.offset, start.line
            reading.head_length, reading.head = start.head_length, start.head
            return reading
        reading.close()
        return None

    def _resume(self, reading: _Reading, start: Position, candidate: Path) -> str:
        self._reading = reading
        if candidate != self.path:
            self._rotated = True
            self._idle_since = self._clock()
        return f"resumed at line {start.line} (byte {start.offset}) of {reading.source}"

    # -- reading -------------------------------------------------------------------------

    @property
    def position(self) -> Position | None:
        """Where reading stands now (None: at the beginning of a path that does not exist yet)."""
        return None if self._reading is None else self._position(self._reading)

    def _position(self, reading: _Reading) -> Position:
        length = min(reading.offset, HEAD_BYTES)
        if length != reading.head_length:
            reading.head = _digest(os.pread(reading.fd, length, 0))
            reading.head_length = length
        return Position(
            reading.device, reading.inode, reading.head, length, reading.offset, reading.line
        )

    def poll_once(self) -> list[TailedLine]:
        """The whole lines written since the last poll (at most ``read_limit`` bytes of them)."""
        if self._closed:
            raise ValueError("poll_once: the tailer is closed")
        lines: list[TailedLine] = []
        budget = self._read_limit
        while budget > 0:
            if self._reading is None:
                self._reading = _open(self.path, self.source)
                if self._reading is None:
                    break
                self._notice(f"{self.source} appeared")
            reading = self._reading
            if not self._rotated:
                self._check_path(reading)
                if self._reading is not reading:  # cut short, and its copy is read first
                    continue
            budget, at_end = self._read(reading, budget, lines)
            if not (self._rotated and at_end and self._drained(reading)):
                break
            if not self._finish(reading, lines):
                break
        return lines

    def _check_path(self, reading: _Reading) -> None:
        """Notice a rotation (the path names another file, or none) or a truncation."""
        try:
            info = self.path.stat()
            renamed = (info.st_dev, info.st_ino) != (reading.device, reading.inode)
        except FileNotFoundError:
            renamed = True
        if renamed:
            reading.source = self._name_of(reading)
            self._rotated, self._finished = True, False
            # The file the path names now is read next, even if it is rotated in turn meanwhile.
            self._next = _open(self.path, self.source)
            self._idle_since = self._clock()
            self._notice(f"{self.source} rotated: reading {reading.source} to its end first")
            return
        size = os.fstat(reading.fd).st_size
        if size >= (reading.skip_to or reading.offset) and _head_matches(
            reading, reading.head_length, reading.head
        ):
            return
        copy = self._copy_of(reading)
        self._notice(
            f"{self.source} cut short after line {reading.line}: "
            + ("starting again at its first byte" if copy is None else f"reading {copy.source} on")
        )
        reading.close()
        if copy is None:
            self._reading = _open(self.path, self.source)
            return
        self._reading = copy
        self._rotated, self._finished = True, True

    def _name_of(self, reading: _Reading) -> str:
        """The name a rotated-away file has now, for locating its lines."""
        for candidate in rotated_names(self.path):
            try:
                info = candidate.stat()
            except OSError:
                continue
            if (info.st_dev, info.st_ino) == (reading.device, reading.inode):
                return os.fspath(candidate)
        return f"{self.source} (rotated)"

    def _copy_of(self, reading: _Reading) -> _Reading | None:
        """The rotated copy of a file cut short in place, opened where reading stood."""
        if reading.head_length == 0:
            return None
        for candidate in rotated_names(self.path):
            copy = _open(candidate, os.fspath(candidate))
            if copy is None:
                continue
            if (
                (copy.device, copy.inode) != (reading.device, reading.inode)
                and os.fstat(copy.fd).st_size >= reading.offset
                and _head_matches(copy, reading.head_length, reading.head)
            ):
                copy.offset, copy.line = reading.offset, reading.line
                copy.head_length, copy.head = reading.head_length, reading.head
                return copy
            copy.close()
        return None

    def _drained(self, reading: _Reading) -> bool:
        """Whether a rotated-away file at its end is done: it will not grow, or has not lately."""
        size = os.fstat(reading.fd).st_size
        now = self._clock()
        if size != reading.size_seen or now < self._idle_since:  # grew, or the clock went back
            reading.size_seen = size
            self._idle_since = now
        return self._finished or now - self._idle_since >= self._rotate_wait

    def _finish(self, reading: _Reading, lines: list[TailedLine]) -> bool:
        """Hand back a rotated file's unterminated last line, then leave it for the path's file.

        False (nothing done) when the file grew a whole line meanwhile: the next poll reads it.
        """
        if reading.skip_to is not None:
            self._emit_overlong(reading, os.fstat(reading.fd).st_size, lines)
        else:
            tail = os.pread(reading.fd, self._line_limit + 1, reading.offset)
            if b"\n" in tail:
                return False
            if tail:
                self._emit(reading, tail, reading.offset + len(tail), lines)
        self._notice(f"{reading.source} read to its end (line {reading.line}): on to {self.source}")
        reading.close()
        self._reading, self._next = self._next, None
        self._rotated = self._finished = False
        return True

    def _read(self, reading: _Reading, budget: int, lines: list[TailedLine]) -> tuple[int, bool]:
        """Read whole lines into ``lines`` within ``budget`` bytes; (budget left, at the end)."""
        chunk_size = max(_CHUNK, self._line_limit + 1)
        while budget > 0:
            start = reading.offset if reading.skip_to is None else reading.skip_to
            wanted = min(budget, chunk_size)
            data = os.pread(reading.fd, wanted, start)
            if not data:
                return budget, True
            budget -= len(data)
            if reading.skip_to is not None:
                newline = data.find(b"\n")
                if newline < 0:
                    reading.skip_to = start + len(data)
                    continue
                self._emit_overlong(reading, start + newline + 1, lines)
                continue
            cursor = 0
            while (newline := data.find(b"\n", cursor)) >= 0:
                self._emit(reading, data[cursor:newline], start + newline + 1, lines)
                cursor = newline + 1
            rest = len(data) - cursor
            if rest > self._line_limit:  # no newline in sight: skip the line, bounded
                reading.skip_to = start + len(data)
            elif len(data) < wanted:
                return budget, True  # at the end, before a partial line (or none)
            elif cursor == 0:
                break  # too little budget left for a whole line: next poll
        return budget, False

    def _emit(self, reading: _Reading, raw: bytes, end: int, lines: list[TailedLine]) -> None:
        """One line's bytes (without its newline), ending at byte ``end``, handed back."""
        reading.line += 1
        reading.offset = end
        record: LogLine | Rejected
        if len(raw) > self._line_limit:
            record = self._overlong(reading)
        else:
            try:
                text = raw.decode("utf-8").removesuffix("\r")
            except UnicodeDecodeError as error:
                shown = raw[: 4 * RAW_LIMIT].decode("utf-8", "replace")[:RAW_LIMIT]
                message = f"invalid UTF-8: {error.reason}"
                record = Rejected(reading.source, reading.line, None, message, shown)
            else:
                if not text.strip():
                    return
                record = LogLine(reading.source, reading.line, text)
        lines.append(TailedLine(record, self._position(reading)))

    def _emit_overlong(self, reading: _Reading, end: int, lines: list[TailedLine]) -> None:
        reading.line += 1
        reading.offset = end
        reading.skip_to = None
        lines.append(TailedLine(self._overlong(reading), self._position(reading)))

    def _overlong(self, reading: _Reading) -> Rejected:
        message = f"line longer than {self._line_limit} bytes"
        return Rejected(reading.source, reading.line, None, message, "")

    # -- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file being read (reading can no longer go on)."""
        self._closed = True
        for reading in (self._reading, self._next):
            if reading is not None:
                reading.close()
        self._reading = self._next = None

    def __enter__(self) -> LogTailer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
