"""Rejected records: a bad input record, located, kept aside, never silently dropped.

A `Rejected` carries where the record was (``source``, 1-based ``line`` or
row), which field failed as a JSON path (``$.kind``, ``$.hours[0].closes``),
a message safe to log, and the ``raw`` text of the record. The raw text may
hold anything, a clear NIR included, so it is kept out of ``repr`` and goes
only to the rejects file (`rempart.ingestion.write_rejects`). The field and
message have every NIR-shaped number replaced by ``<redacted>``, because
msgspec and the records' own checks echo offending values (``Invalid enum
value '…'``).

>>> import msgspec
>>> from rempart.events import Event
>>> try:
...     msgspec.json.decode(b'{"kind": "login"}', type=Event)
... except msgspec.ValidationError as error:
...     rejected = rejected_from_error(error, source="e.jsonl", line=3, raw='{"kind": "login"}')
>>> str(rejected.to_error())
"e.jsonl:3: $.kind: Invalid enum value 'login'"
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Final

import msgspec

from rempart.errors import RecordError
from rempart.nir import redact_nirs

__all__ = ["RAW_LIMIT", "Rejected", "redact", "rejected_from_error"]

RAW_LIMIT: Final = 2000
"""Characters of the offending record kept in `Rejected.raw`."""

_REDACTED: Final = "<redacted>"
# A NIR is 13 digits and a 2-digit key, ``2A``/``2B`` for Corsica, often written with
# separators ("2 53 07 2B 073 004 70"). Any run of 13 or more such characters is
# redacted: over-redacting a long number in an error message costs nothing.
_NIR_SHAPED: Final = re.compile(r"[0-9](?:[ .\-]?[0-9ABab]){12,}")
_LOCATED: Final = re.compile(r"(?P<message>.*) - at `(?P<path>\$.*)`", re.DOTALL)
_FIELD_NAMED: Final = re.compile(
    r"Object (?:contains unknown|missing required) field `(?P<name>.*)`", re.DOTALL
)
# ``Event.__post_init__`` and its kin raise ``ValueError("subject: …")``: the prefix names
# the field, which msgspec cannot know.
_CHECK_NAMED: Final = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*): (?P<message>.*)", re.DOTALL)
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def redact(text: str) -> str:
    """``text`` with every NIR-shaped run of digits replaced by ``<redacted>``.

    First every run shaped like a NIR, valid or not; then, by
    `rempart.nir.redact_nirs`, any run that still holds a valid NIR however it is
    written (letters around it, several separators in a row), so that no valid NIR
    survives whatever the shape.

    >>> redact("ip: not an IPv4 or IPv6 address: '2 53 07 2B 073 004 70'")
    "ip: not an IPv4 or IPv6 address: '<redacted>'"
    >>> redact("bot/(2..53..07..2B..073..004..70)")
    'bot/(<redacted>)'
    """
    return redact_nirs(_NIR_SHAPED.sub(_REDACTED, text))


@dataclasses.dataclass(frozen=True, slots=True)
class Rejected:
    """One bad record, located like a compiler error, with its raw text kept aside.

    ``line`` is the 1-based line of a JSON Lines file or the 1-based row of a
    Parquet file. ``field`` is a JSON path (``$`` for the record as a whole)
    or ``None`` when the text is not JSON at all. ``message`` never contains a
    NIR-shaped number; ``raw`` (at most `RAW_LIMIT` characters) may, and so is
    left out of ``repr``: write it to the rejects file only, never to a log.
    """

    source: str
    line: int
    field: str | None
    message: str
    raw: str = dataclasses.field(repr=False)

    def to_error(self) -> RecordError:
        """The located error, safe to log or raise (it carries no raw text)."""
        return RecordError(self.source, self.line, self.field, self.message)


def _child_path(parent: str, name: str) -> str:
    if _IDENTIFIER.fullmatch(name):
        return f"{parent}.{name}"
    return f"{parent}[{json.dumps(name, ensure_ascii=False)}]"


def rejected_from_error(
    error: msgspec.DecodeError | UnicodeDecodeError, *, source: str, line: int, raw: str
) -> Rejected:
    """Locate a msgspec decoding or validation error as a `Rejected`.

    A `msgspec.ValidationError` gives the path from its ``- at `$.…``` suffix
    (``$`` when absent); an unknown or missing field, or a cross-field check
    whose message starts with ``fieldname:``, is pinned to that field. Any
    other `msgspec.DecodeError` (malformed or truncated JSON), or invalid
    UTF-8 inside a string (which msgspec reports as `UnicodeDecodeError`), has
    no field.
    """
    text = str(error)
    field_path: str | None = None
    if isinstance(error, UnicodeDecodeError):
        text = f"Invalid UTF-8 in a string: {error.reason}"
    elif isinstance(error, msgspec.ValidationError):
        located = _LOCATED.fullmatch(text)
        field_path = "$"
        if located:
            text, field_path = located["message"], located["path"]
        if named := _FIELD_NAMED.fullmatch(text):
            field_path = _child_path(field_path, named["name"])
        elif checked := _CHECK_NAMED.fullmatch(text):
            field_path = _child_path(field_path, checked["name"])
            text = checked["message"]
    return Rejected(
        source=source,
        line=line,
        field=None if field_path is None else redact(field_path),
        message=redact(text),
        raw=raw[:RAW_LIMIT],
    )
