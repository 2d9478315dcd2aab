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
>>> full_width = "253072B07300470".translate({c: c + 0xFEE0 for c in range(0x30, 0x5B)})
>>> masked_text(f"id ev_2_53_07_2B_073_004_70, then {full_width} at 2022-03-01T09:00:00Z")
'id ev_[NIR], then [NIR] at 2022-03-01T09:00:00Z'
"""

from __future__ import annotations

import logging
import re
import sys
import unicodedata
from functools import lru_cache
from typing import Any, Final, TextIO

import structlog
from structlog.typing import EventDict, FilteringBoundLogger, WrappedLogger

__all__ = ["NIR_LIKE", "make_logger", "mask_nir", "masked_text"]

# Between any two characters of a NIR: up to three separators. ASCII ones are
# matched as they are; every other separator (no-break, thin or ideographic
# spaces, Unicode dashes and minus, division slash, middle dots, invisible
# format characters, combining marks) is folded to a space first, and every
# other form of a digit (full-width, other scripts) to its ASCII digit. ``:``
# is not a separator, so times never join into a NIR.
_SEP: Final = r"[\x00-\x20\x7f._/-]{0,3}"
_DIGIT: Final = "[0-9]"
_NIR_BODY: Final = (
    f"[1-478](?:{_SEP}{_DIGIT}){{4}}{_SEP}(?:{_DIGIT}{_SEP}{_DIGIT}|2{_SEP}[ABab])"
    f"(?:{_SEP}{_DIGIT}){{6}}(?:{_SEP}{_DIGIT}{_SEP}{_DIGIT})?"
)
NIR_LIKE: Final = re.compile(_NIR_BODY)
"""A NIR with or without its key, compact or with separators anywhere
(``1 53 07 2B 073 004 70``, ``1_53/07.2B-073004 70``): sex digit (temporary
numbers included), year, month, department (Corsica's 2A/2B), commune, serial.
Errs on the side of masking: any 13 or 15 digits starting with 1, 2, 3, 4, 7
or 8, separated by at most three of whitespace, ``.``, ``-``, ``_`` or ``/``,
match, even inside a longer number. Applies to ASCII text; `masked_text`
folds other text first."""

_EVERY_START: Final = re.compile(f"(?=({_NIR_BODY}))")
_MASK: Final = "[NIR]"
_SEPARATOR_CATEGORIES: Final = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Pd", "Mn", "Me"})
# Dashes, slashes and dots that Unicode files as maths or other punctuation.
_SEPARATOR_CHARS: Final = frozenset("\u2212\u2044\u2215\u29f8\u00b7\u2022\u2027\u30fb\u2219")


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    """The ASCII a non-ASCII character stands for here: digits as digits, separators as a space."""
    folded = []
    for part in unicodedata.normalize("NFKC", char):
        digit = unicodedata.decimal(part, None)
        if digit is not None:
            folded.append(str(digit))
        elif part.isascii():
            folded.append(part)
        elif part in _SEPARATOR_CHARS or unicodedata.category(part) in _SEPARATOR_CATEGORIES:
            folded.append(" ")
        else:
            folded.append("\ufffd")  # a character no NIR contains: it breaks a match
    return "".join(folded)


def _folded(text: str) -> tuple[str, list[int]]:
    """``text`` folded to ASCII, and for each folded character the index it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        replacement = char if char.isascii() else _fold(char)
        chars.append(replacement)
        origin.extend([index] * len(replacement))
    return "".join(chars), origin


def masked_text(text: str) -> str:
    """``text`` with every NIR-shaped run replaced by ``[NIR]``, whatever its digits and spaces.

    Every start position is tried (overlapping matches), so a NIR is masked
    whole even when digits before it begin a NIR-shaped match of their own.
    """
    folded, origin = (text, None) if text.isascii() else _folded(text)
    if NIR_LIKE.search(folded) is None:
        return text
    spans: list[list[int]] = []
    for found in _EVERY_START.finditer(folded):
        start, end = found.start(1), found.end(1)
        if origin is not None:
            start, end = origin[start], origin[end - 1] + 1
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    pieces: list[str] = []
    previous = 0
    for start, end in spans:
        pieces += [text[previous:start], _MASK]
        previous = end
    pieces.append(text[previous:])
    return "".join(pieces)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return masked_text(value)
    if isinstance(value, dict):
        return {_masked(key): _masked(item) for key, item in value.items()}
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
