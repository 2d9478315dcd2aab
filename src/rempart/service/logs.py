"""Structured JSON logs of the decision API, one line per event, never a clear NIR.

The guard only ever sees pseudonyms, but a caller can put anything in a
field that reaches a log line (an event id, an account, a rejected value
echoed by a validation message). `mask_nir` replaces anything shaped like a
NIR, anywhere in the event dict, before it is rendered.

>>> import io
>>> stream = io.StringIO()
>>> make_logger(stream).info("rejected", message="bad event_id '253072B07300470'")
>>> "253072B07300470" in stream.getvalue(), "'[NIR]'" in stream.getvalue()
(False, True)
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, Final, TextIO

import structlog
from structlog.typing import EventDict, FilteringBoundLogger, WrappedLogger

__all__ = ["NIR_LIKE", "make_logger", "mask_nir"]

NIR_LIKE: Final = re.compile(
    r"(?<![0-9])[1-478][ .-]?[0-9]{2}[ .-]?[0-9]{2}[ .-]?(?:[0-9]{2}|2[ABab])"
    r"[ .-]?[0-9]{3}[ .-]?[0-9]{3}(?:[ .-]?[0-9]{2})?(?![0-9])"
)
"""A NIR with or without its key, compact or grouped (``1 53 07 2B 073 004 70``): sex digit
(temporary numbers included), year, month, department (Corsica's 2A/2B), commune, serial.
Errs on the side of masking: any 13 or 15 digits starting with 1, 2, 3, 4, 7 or 8 match."""

_MASK: Final = "[NIR]"


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return NIR_LIKE.sub(_MASK, value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(item) for item in value]
    return value


def mask_nir(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: replace every NIR-shaped substring of every value with ``[NIR]``."""
    return {key: _masked(value) for key, value in event_dict.items()}


def make_logger(stream: TextIO | None = None, level: int = logging.INFO) -> FilteringBoundLogger:
    """A logger writing JSON lines to ``stream`` (standard error by default).

    Built with `structlog.wrap_logger`, so it leaves structlog's global
    configuration alone: each app has its own.
    """
    logger: FilteringBoundLogger = structlog.wrap_logger(
        structlog.WriteLogger(stream if stream is not None else sys.stderr),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            mask_nir,  # last before rendering: nothing added after it escapes the mask
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    return logger
