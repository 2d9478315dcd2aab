"""Rempart's exceptions: one root, translated to exit codes or HTTP statuses only at the boundary.

The tree::

    RempartError
    ├── ConfigError          invalid configuration: names the key and the expected form
    │   └── LedgerInUseError   another writer holds the ledger file
    │                          (defined in `rempart.response.ledger`)
    ├── RecordError          one bad input record, with its location (source, line, field)
    ├── InputError           an input that cannot be read at all (missing file, unknown format)
    ├── NirError             a NIR that fails validation (carries no clear digits in its message)
    ├── StoreUnavailableError  the guard's state store does not answer (fail-closed, HTTP 503)
    ├── EnforcementError     an enforcer could not carry out or lift an action
    │                        (defined in `rempart.response.enforcers`)
    └── DeliveryError        a syslog collector could not be reached or fed
                             (defined in `rempart.soc.syslog`)

Bulk readers never raise `RecordError` for a bad record: they collect it (see
`rempart.ingestion.Rejected`) and keep every good record.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InputError",
    "NirError",
    "RecordError",
    "RempartError",
    "StoreUnavailableError",
]


class RempartError(Exception):
    """Root of every error Rempart raises on purpose."""


class ConfigError(RempartError):
    """An invalid configuration value.

    >>> str(ConfigError("preset", "one of small, incident-2022, bench", "huge"))
    "preset: expected one of small, incident-2022, bench, got 'huge'"
    """

    def __init__(self, key: str, expected: str, got: object) -> None:
        self.key = key
        self.expected = expected
        self.got = got
        super().__init__(f"{key}: expected {expected}, got {got!r}")


class InputError(RempartError):
    """An input that cannot be read at all."""


class RecordError(RempartError):
    """One bad record, located like a compiler error: ``source:line: field: message``.

    >>> str(RecordError("events.jsonl", 12, "$.kind", "Invalid enum value 'foo'"))
    "events.jsonl:12: $.kind: Invalid enum value 'foo'"
    """

    def __init__(self, source: str, line: int, field: str | None, message: str) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.message = message
        where = f"{source}:{line}"
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


class NirError(RempartError):
    """A NIR failed validation. The message never contains the number itself."""


class StoreUnavailableError(RempartError):
    """The guard's state store does not answer and the guard fails closed: refuse the request."""
