"""The follow state file: how far a log was decided, and the actions still owed for it.

`rempart.follow.runner` commits a `Checkpoint` after deciding each batch of
lines and *before* carrying out their actions: the position after the
batch, the decisions whose actions are owed (``pending``), and the ledger's
length then (``ledger_mark``). Once the actions are carried out, the same
checkpoint is written again without them. The file is small JSON, written
to a temporary file, flushed to disk and renamed over the old one (then the
directory is flushed too), so that a crash at any moment leaves either the
previous checkpoint or the new one, never half of one. It names accounts
and addresses, so it is readable by its owner only.

>>> import pathlib, tempfile
>>> state = pathlib.Path(tempfile.mkdtemp()) / "access.log.follow"
>>> read_checkpoint(state) is None
True
>>> write_checkpoint(state, Checkpoint(log="/var/log/nginx/access.log"))
>>> read_checkpoint(state).log
'/var/log/nginx/access.log'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import msgspec

from rempart.decision import Decision
from rempart.errors import InputError
from rempart.follow.tailer import Position
from rempart.ingestion.atomic import atomic_output

__all__ = ["CHECKPOINT_VERSION", "Checkpoint", "read_checkpoint", "write_checkpoint"]

CHECKPOINT_VERSION: Final = 1


class Checkpoint(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """What is committed of a followed log.

    ``log``: the followed path, absolute (a state file is for one log). ``position``:
    where the next line to decide starts (None: at the beginning of the
    log). ``pending``: decisions taken on lines before ``position`` whose
    actions may not all have been recorded and carried out yet, in the order
    taken. ``ledger_mark``: the action ledger's length when they were
    committed; records past it are theirs.
    """

    log: str
    position: Position | None = None
    pending: tuple[Decision, ...] = ()
    ledger_mark: int = 0
    version: int = CHECKPOINT_VERSION


_DECODER: Final = msgspec.json.Decoder(Checkpoint)
_ENCODER: Final = msgspec.json.Encoder()


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint | None:
    """The checkpoint in ``path``; None when there is no such file yet.

    A file that is not a checkpoint (or one of a later version) is an
    `InputError`: it is never overwritten, since deleting it is the one way
    to start the log over.
    """
    source = Path(path)
    try:
        content = source.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InputError(f"{source}: cannot read the follow state: {error}") from error
    try:
        checkpoint = _DECODER.decode(content)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{source}: not a follow state file: {error}") from None
    if checkpoint.version != CHECKPOINT_VERSION:
        raise InputError(
            f"{source}: follow state version {checkpoint.version}; "
            f"this Rempart reads version {CHECKPOINT_VERSION}"
        )
    return checkpoint


def write_checkpoint(path: str | os.PathLike[str], checkpoint: Checkpoint) -> None:
    """Replace ``path`` with ``checkpoint``, durably: the old one or the new, never half."""
    target = Path(path)
    with atomic_output(target, private=True) as output:
        output.write(_ENCODER.encode(checkpoint) + b"\n")
        output.flush()
        os.fsync(output.fileno())
    # The rename itself reaches the disk with the directory.
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
