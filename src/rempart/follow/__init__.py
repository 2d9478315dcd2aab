"""Following a live log: tail it through rotations, decide each event, carry out the actions.

- `LogTailer` (`rempart.follow.tailer`): the whole lines a log file gains,
  poll by poll, through rename and copytruncate rotations and restarts,
  each with the `Position` after it.
- `Checkpoint` (`rempart.follow.checkpoint`): the state file, the position
  committed and the actions still owed for the lines before it.
- `follow` (`rempart.follow.runner`): the loop of ``rempart follow``, tailer
  to parser to guard to ledger and enforcers, committing so that no line is
  decided twice and none is skipped.
"""

from rempart.follow.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from rempart.follow.runner import FollowReport, follow, with_ban_on_lock
from rempart.follow.tailer import HEAD_BYTES, LogTailer, Position, TailedLine, rotated_names

__all__ = [
    "HEAD_BYTES",
    "Checkpoint",
    "FollowReport",
    "LogTailer",
    "Position",
    "TailedLine",
    "follow",
    "read_checkpoint",
    "rotated_names",
    "with_ban_on_lock",
    "write_checkpoint",
]
