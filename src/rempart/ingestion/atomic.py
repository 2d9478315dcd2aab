"""Atomic output files: a reader never sees a half-written archive.

Data goes to a hidden temporary file beside the target, which replaces the
target only once everything is written; on error the temporary file is
removed and the previous target, if any, is left as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_output"]

_PRIVATE_MODE = 0o600
_DEFAULT_MODE = 0o666  # narrowed by the process umask, as for any new file


@contextmanager
def atomic_output(path: str | os.PathLike[str], *, private: bool = False) -> Iterator[BinaryIO]:
    """Open a binary stream whose content becomes ``path`` when the block ends without error.

    ``private`` creates the file readable by its owner only (rejects files
    hold raw input records, which may contain clear personal data).
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    # A stale temporary file from a crashed run would keep its old permissions: start afresh.
    temporary.unlink(missing_ok=True)
    descriptor = os.open(
        temporary,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL,
        _PRIVATE_MODE if private else _DEFAULT_MODE,
    )
    try:
        with os.fdopen(descriptor, "wb") as output:
            yield output
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
