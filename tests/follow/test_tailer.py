"""The tailer: whole lines only, through rename and copytruncate rotations, and restarts."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

from rempart.errors import ConfigError
from rempart.follow import HEAD_BYTES, LogTailer, Position, TailedLine, rotated_names
from rempart.ingestion.logs.base import LINE_LIMIT, LogLine
from rempart.ingestion.rejected import Rejected

from .stand_ins import Clock, append


def _texts(tailed: list[TailedLine]) -> list[str]:
    return [line.record.text for line in tailed if isinstance(line.record, LogLine)]


def _numbered(count: int, prefix: str = "line", start: int = 1) -> list[str]:
    return [f"{prefix} {number}\n" for number in range(start, start + count)]


class Tail:
    """A tailer over ``path`` with a clock the test moves, and the notices it gave."""

    def __init__(self, path: Path, start: Position | None = None, **options: object) -> None:
        self.clock = Clock()
        self.notices: list[str] = []
        self.tailer = LogTailer(
            path,
            start=start,
            clock=lambda: self.clock.now.timestamp(),
            notice=self.notices.append,
            **options,  # type: ignore[arg-type]
        )

    def poll(self) -> list[str]:
        """The texts of the lines the next poll gives."""
        return _texts(self.tailer.poll_once())


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """The path of a log file, not created yet."""
    return tmp_path / "access.log"


def test_only_whole_lines_are_read_and_a_partial_line_waits_for_its_newline(log: Path) -> None:
    """A last line without its newline is not read until the newline is written."""
    append(log, "one\ntwo\nthr")
    tail = Tail(log)
    assert tail.poll() == ["one", "two"]
    assert tail.poll() == []
    append(log, "ee")
    assert tail.poll() == []
    append(log, "\r\nfour\n")
    tailed = tail.tailer.poll_once()
    assert [(t.record.line, t.record.text) for t in tailed if isinstance(t.record, LogLine)] == [
        (3, "three"),
        (4, "four"),
    ]
    assert tailed[-1].after.offset == log.stat().st_size


def test_each_line_carries_the_position_after_it(log: Path) -> None:
    """A line's position names the file by device, inode and head, and the offset after it."""
    append(log, "alpha\n\n  \nbeta\n")
    tailed = Tail(log).tailer.poll_once()
    info = log.stat()
    assert [(t.after.line, t.after.offset) for t in tailed] == [(1, 6), (4, 15)]
    after = tailed[-1].after
    assert (after.device, after.inode, after.head_length) == (info.st_dev, info.st_ino, 15)


def test_blank_lines_are_passed_over_but_read_past(log: Path) -> None:
    """Blank lines give nothing, and the tailer's position still moves past them."""
    append(log, "alpha\n\n\n")
    tail = Tail(log)
    assert tail.poll() == ["alpha"]
    position = tail.tailer.position
    assert position is not None
    assert (position.line, position.offset) == (3, 8)


def test_a_missing_log_is_waited_for(log: Path) -> None:
    """A log that does not exist yet is read from its first line once it appears."""
    tail = Tail(log)
    assert tail.tailer.start == f"waiting for {log} to appear"
    assert tail.poll() == []
    assert tail.tailer.position is None
    append(log, "first\n")
    assert tail.poll() == ["first"]


def test_rotation_by_rename_reads_the_old_file_to_its_end_then_the_new(log: Path) -> None:
    """After a rename the old file is read to its end, late writes included, then the new one."""
    append(log, *_numbered(3))
    tail = Tail(log, rotate_wait=5.0)
    assert tail.poll() == ["line 1", "line 2", "line 3"]
    append(log, "line 4\n")
    log.rename(log.with_name("access.log.1"))
    append(log, "new 1\n")
    assert tail.poll() == ["line 4"]
    # The server still writes to the old file until it reopens its logs.
    append(log.with_name("access.log.1"), "line 5\n")
    tail.clock.advance(4)
    assert tail.poll() == ["line 5"]
    tail.clock.advance(4)
    assert tail.poll() == []  # unchanged for 4 s only
    tail.clock.advance(1)
    tailed = tail.tailer.poll_once()
    assert _texts(tailed) == ["new 1"]
    assert tailed[0].record.source == str(log)
    assert tailed[0].after.inode == log.stat().st_ino
    assert any("access.log.1 read to its end (line 5)" in notice for notice in tail.notices)


def test_a_second_rotation_before_the_switch_skips_no_file(log: Path) -> None:
    """Rotated twice while the first old file was still being read: each file is read in turn."""
    append(log, "a 1\n")
    tail = Tail(log, rotate_wait=1.0)
    assert tail.poll() == ["a 1"]
    append(log, "a 2\n")
    log.rename(log.with_name("access.log.1"))
    append(log, "b 1\n")
    assert tail.poll() == ["a 2"]
    log.with_name("access.log.1").rename(log.with_name("access.log.2"))
    log.rename(log.with_name("access.log.1"))
    append(log, "c 1\n")
    tail.clock.advance(1)
    assert tail.poll() == ["b 1"]
    tail.clock.advance(1)
    assert tail.poll() == ["c 1"]


def test_lines_of_a_rotated_file_are_located_by_its_new_name(log: Path) -> None:
    """A line read from the renamed file names that file, so a reject points at the right one."""
    append(log, "line 1\n")
    tail = Tail(log)
    tail.poll()
    append(log, "line 2\n")
    log.rename(log.with_name("access.log.1"))
    (line,) = tail.tailer.poll_once()
    assert isinstance(line.record, LogLine)
    assert line.record.source == str(log.with_name("access.log.1"))
    assert line.record.line == 2


def test_an_unterminated_last_line_of_a_rotated_file_is_read_at_the_switch(log: Path) -> None:
    """The old file's last line, never to be finished, is read when reading moves on."""
    append(log, "line 1\nline 2 cut")
    tail = Tail(log, rotate_wait=1.0)
    assert tail.poll() == ["line 1"]
    log.rename(log.with_name("access.log.1"))
    append(log, "new 1\n")
    assert tail.poll() == []
    tail.clock.advance(1)
    assert tail.poll() == ["line 2 cut", "new 1"]


def test_copytruncate_reads_the_unread_lines_from_the_copy_then_the_file_from_its_start(
    log: Path,
) -> None:
    """Lines written after the last poll and before the truncation are read from the copy."""
    append(log, *_numbered(3))
    tail = Tail(log)
    assert tail.poll() == ["line 1", "line 2", "line 3"]
    append(log, "line 4\n", "line 5\n")
    shutil.copyfile(log, log.with_name("access.log.1"))
    with log.open("r+") as truncated:
        truncated.truncate(0)
    append(log, "new 1\n")
    tailed = tail.tailer.poll_once()
    assert _texts(tailed) == ["line 4", "line 5", "new 1"]
    assert [t.record.line for t in tailed] == [4, 5, 1]
    assert tailed[-1].after.inode == log.stat().st_ino
    assert tailed[-1].after.offset == len("new 1\n")


def test_copytruncate_without_a_copy_starts_the_file_again_at_its_first_byte(log: Path) -> None:
    """A file cut short in place, with no copy to be found, is read again from its start."""
    append(log, *_numbered(3))
    tail = Tail(log)
    tail.poll()
    with log.open("r+") as truncated:
        truncated.truncate(0)
    append(log, "new 1\n")
    assert tail.poll() == ["new 1"]
    assert any("cut short after line 3" in notice for notice in tail.notices)


def test_a_truncated_file_that_grew_past_the_old_offset_is_noticed_by_its_head(
    log: Path,
) -> None:
    """Truncated and rewritten past where reading stood: its first bytes differ, so it restarts."""
    append(log, "line 1\n")
    tail = Tail(log)
    tail.poll()
    with log.open("r+") as truncated:
        truncated.truncate(0)
    append(log, "a much longer first line\n", "second\n")
    assert tail.poll() == ["a much longer first line", "second"]


def test_a_restart_resumes_at_the_recorded_position(log: Path) -> None:
    """A new tailer given the last position reads only what came after it."""
    append(log, *_numbered(3))
    first = Tail(log)
    first.poll()
    position = first.tailer.position
    first.tailer.close()
    append(log, "line 4\n")
    second = Tail(log, start=position)
    assert second.tailer.start == f"resumed at line 3 (byte 21) of {log}"
    tailed = second.tailer.poll_once()
    assert [(t.record.line, _texts([t])) for t in tailed] == [(4, ["line 4"])]


def test_a_restart_finds_the_recorded_file_under_its_rotated_name(log: Path) -> None:
    """Rotated while stopped: the rest of LOG.1 is read, then the new LOG from its start."""
    append(log, *_numbered(2))
    first = Tail(log)
    first.poll()
    position = first.tailer.position
    first.tailer.close()
    append(log, "line 3\n")
    log.rename(log.with_name("access.log.1"))
    append(log, "new 1\n")
    second = Tail(log, start=position, rotate_wait=2.0)
    assert second.tailer.start == f"resumed at line 2 (byte 14) of {log}.1"
    assert second.poll() == ["line 3"]
    second.clock.advance(2)
    assert second.poll() == ["new 1"]


def test_a_restart_finds_the_copy_left_by_copytruncate(log: Path) -> None:
    """Copied and truncated while stopped: the copy is read from the old offset, then LOG."""
    append(log, *_numbered(2))
    first = Tail(log)
    first.poll()
    position = first.tailer.position
    first.tailer.close()
    append(log, "line 3\n")
    shutil.copyfile(log, log.with_name("access.log.1"))
    with log.open("r+") as truncated:
        truncated.truncate(0)
    append(log, "new 1\n")
    second = Tail(log, start=position)
    assert second.tailer.start == f"resumed at line 2 (byte 14) of {log}.1"
    assert second.poll() == ["line 3", "new 1"]


def test_a_compressed_rotation_is_left_alone_and_reading_starts_at_the_beginning(
    log: Path,
) -> None:
    """The recorded file now exists only gzip'd: LOG is read from its first line, saying why."""
    append(log, *_numbered(2))
    first = Tail(log)
    first.poll()
    position = first.tailer.position
    first.tailer.close()
    compressed = log.with_name("access.log.1.gz")
    with log.open("rb") as plain, gzip.open(compressed, "wb") as packed:
        shutil.copyfileobj(plain, packed)
    log.unlink()
    append(log, "new 1\n", "new 2\n")
    before = (compressed.read_bytes(), compressed.stat().st_mtime_ns)
    second = Tail(log, start=position)
    assert second.tailer.start.startswith(f"started at the beginning of {log}: its recorded file")
    assert second.poll() == ["new 1", "new 2"]
    assert (compressed.read_bytes(), compressed.stat().st_mtime_ns) == before
    assert rotated_names(log) == []


def test_a_file_with_the_same_inode_but_other_first_bytes_is_not_resumed(log: Path) -> None:
    """An identity whose head hash differs is another file: reading starts at the beginning."""
    append(log, *_numbered(2))
    first = Tail(log)
    first.poll()
    position = first.tailer.position
    first.tailer.close()
    assert position is not None
    forged = Position(
        position.device, position.inode, "0" * 32, position.head_length, position.offset, 2
    )
    assert Tail(log, start=forged).poll() == ["line 1", "line 2"]


def test_a_line_longer_than_the_limit_is_rejected_and_reading_goes_on(log: Path) -> None:
    """A line over LINE_LIMIT bytes becomes a located reject; the lines around it are read."""
    append(log, "before\n", "x" * (LINE_LIMIT + 10) + "\n", "after\n")
    tailed = Tail(log).tailer.poll_once()
    rejected = [t.record for t in tailed if isinstance(t.record, Rejected)]
    assert [(r.source, r.line, r.message, r.raw) for r in rejected] == [
        (str(log), 2, f"line longer than {LINE_LIMIT} bytes", "")
    ]
    assert _texts(tailed) == ["before", "after"]
    assert [t.after.line for t in tailed] == [1, 2, 3]


def test_a_long_line_still_being_written_is_skipped_in_bounded_reads(log: Path) -> None:
    """An overlong line that spans several polls is never held whole, and rejected at its end."""
    tail = Tail(log, line_limit=10, read_limit=16)
    append(log, "ok\n", "y" * 40)
    assert tail.poll() == ["ok"]
    append(log, "y" * 40)
    assert tail.tailer.poll_once() == []
    append(log, "y\n", "fine\n")
    tailed = []
    for _ in range(8):
        tailed += tail.tailer.poll_once()
    assert [type(t.record).__name__ for t in tailed] == ["Rejected", "LogLine"]
    assert _texts(tailed) == ["fine"]
    assert tailed[0].after.offset == len("ok\n") + 81 + 1


def test_a_line_that_is_not_utf8_is_rejected(log: Path) -> None:
    """Bytes that are not UTF-8 make a located reject, not a crash."""
    log.write_bytes(b"good\n\xff\xfe bad\nfine\n")
    tailed = Tail(log).tailer.poll_once()
    assert _texts(tailed) == ["good", "fine"]
    (rejected,) = [t.record for t in tailed if isinstance(t.record, Rejected)]
    assert (rejected.line, rejected.message.startswith("invalid UTF-8")) == (2, True)


def test_a_poll_reads_at_most_its_limit(log: Path) -> None:
    """``read_limit`` bounds the bytes one poll reads; the next polls read on from there."""
    append(log, *_numbered(100))  # "line N\n": 7 to 9 bytes
    tail = Tail(log, line_limit=16, read_limit=64)
    seen: list[str] = []
    polls = 0
    while len(seen) < 100:
        batch = tail.poll()
        assert 0 < sum(len(text) + 1 for text in batch) <= 64
        seen += batch
        polls += 1
    assert seen == [f"line {n}" for n in range(1, 101)]
    assert polls > 10


def test_the_head_stops_growing_at_head_bytes(log: Path) -> None:
    """Past HEAD_BYTES, a position's head is the hash of the first HEAD_BYTES bytes."""
    append(log, *_numbered(300))
    tail = Tail(log)
    tail.poll()
    position = tail.tailer.position
    assert position is not None
    assert position.head_length == HEAD_BYTES < position.offset


def test_rotated_names_are_logrotate_s_and_newest_first(log: Path) -> None:
    """LOG.1, LOG.0 and dated names count, newest first; compressed and other files do not."""
    for name, age in (
        ("access.log.1", 10),
        ("access.log-20240131", 20),
        ("access.log.2.gz", 5),
        ("access.log.bak", 1),
        ("access.logger", 1),
    ):
        path = log.with_name(name)
        path.write_text("x\n")
        os.utime(path, (1_700_000_000 - age, 1_700_000_000 - age))
    assert [path.name for path in rotated_names(log)] == ["access.log.1", "access.log-20240131"]


def test_a_closed_tailer_reads_no_more(log: Path) -> None:
    """Polling after ``close`` is an error, not a silent restart from the first line."""
    append(log, "line\n")
    tail = Tail(log)
    tail.tailer.close()
    with pytest.raises(ValueError, match="closed"):
        tail.tailer.poll_once()


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"read_limit": 100, "line_limit": 100}, "read_limit"),
        ({"line_limit": 0}, "line_limit"),
        ({"rotate_wait": -1.0}, "rotate_wait"),
    ],
)
def test_bad_limits_are_config_errors(log: Path, options: dict[str, float], key: str) -> None:
    """A read limit not above the line limit, or a negative wait, is refused by name."""
    with pytest.raises(ConfigError, match=key):
        LogTailer(log, **options)  # type: ignore[arg-type]
