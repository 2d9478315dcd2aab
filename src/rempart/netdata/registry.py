"""The source formats an import can read, looked up by name.

A registry is an object you construct: `default_registry` builds one with
the built-in formats, registered through the same `SourceRegistry.register`
a third-party format would use.

>>> registry = default_registry()
>>> registry["iptoasn"].summary.split(" ")[0]
'iptoasn.com'
>>> "geolite2-asn" in registry.names()
True
"""

from __future__ import annotations

from collections.abc import Iterator

from rempart.errors import ConfigError, InputError
from rempart.netdata.cloud import CLOUD_FORMATS
from rempart.netdata.iptoasn import IPTOASN_FORMAT
from rempart.netdata.lists import LIST_FORMATS
from rempart.netdata.mmdb import MMDB_FORMATS
from rempart.netdata.source import SourceFormat

__all__ = ["SourceRegistry", "default_registry"]


class SourceRegistry:
    """Source formats by name, in registration order."""

    def __init__(self) -> None:
        self._formats: dict[str, SourceFormat] = {}

    def register(self, source_format: SourceFormat) -> None:
        """Add ``source_format``; its name must be new."""
        if source_format.name in self._formats:
            raise ConfigError("name", "a format name not yet registered", source_format.name)
        self._formats[source_format.name] = source_format

    def __getitem__(self, name: str) -> SourceFormat:
        try:
            return self._formats[name]
        except KeyError:
            known = ", ".join(self._formats)
            raise InputError(f"unknown network data format {name!r} (known: {known})") from None

    def __iter__(self) -> Iterator[SourceFormat]:
        return iter(tuple(self._formats.values()))

    def __len__(self) -> int:
        return len(self._formats)

    def names(self) -> tuple[str, ...]:
        """Every registered name, in registration order."""
        return tuple(self._formats)


def default_registry() -> SourceRegistry:
    """A new registry holding every built-in format."""
    registry = SourceRegistry()
    built_in: tuple[SourceFormat, ...] = (
        *MMDB_FORMATS,
        IPTOASN_FORMAT,
        *CLOUD_FORMATS,
        *LIST_FORMATS,
    )
    for source_format in built_in:
        registry.register(source_format)
    return registry
