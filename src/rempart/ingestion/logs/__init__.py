"""Log parsers: the logs a portal already has (access logs, FHIR AuditEvent, CSV) as events.

Each format is one module with a ``register(registry)`` function;
`default_parsers` builds a `ParserRegistry` holding them all, the same way a
third party adds its own. See `rempart.ingestion.logs.base` for the seam.
"""

from rempart.ingestion.logs.base import (
    LINE_LIMIT,
    LineIds,
    LogLine,
    LogParser,
    ParsedLine,
    ParserFactory,
    ParserOptions,
    ParserRegistry,
    Skipped,
    iter_log_lines,
    reject,
)

__all__ = [
    "LINE_LIMIT",
    "LineIds",
    "LogLine",
    "LogParser",
    "ParsedLine",
    "ParserFactory",
    "ParserOptions",
    "ParserRegistry",
    "Skipped",
    "default_parsers",
    "iter_log_lines",
    "reject",
]


def default_parsers() -> ParserRegistry:
    """A registry with the built-in formats."""
    from rempart.ingestion.logs import access, fhir, tabular

    registry = ParserRegistry()
    access.register(registry)
    fhir.register(registry)
    tabular.register(registry)
    return registry
