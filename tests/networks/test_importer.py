"""Tests of the import as a whole: source specs, the registry, bounds on hostile input."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rempart.errors import ConfigError, InputError
from rempart.netdata import (
    ImportLimits,
    Labels,
    NetworkSource,
    SourceRegistry,
    default_registry,
    import_networks,
)
from rempart.netdata.source import Network
from rempart.networks import NetworkKind


def test_a_source_is_given_as_format_and_path() -> None:
    """``FORMAT:PATH`` splits at the first colon; anything else is refused."""
    assert NetworkSource.parse("hosting:/etc/a:b.txt") == NetworkSource(
        "hosting", Path("/etc/a:b.txt")
    )
    for spec in ("hosting.txt", ":x", "vpn:"):
        with pytest.raises(InputError, match="expected FORMAT:PATH"):
            NetworkSource.parse(spec)


def test_an_unknown_format_is_refused_before_reading(tmp_path: Path) -> None:
    """A misspelt format fails, listing the known ones, even when the file exists."""
    listing = tmp_path / "vpn.txt"
    listing.write_text("192.0.2.0/24\n")
    with pytest.raises(
        InputError, match=r"unknown network data format 'vnp' \(known: geolite2-asn"
    ):
        import_networks([NetworkSource("vnp", listing)])


def test_no_source_is_an_error() -> None:
    """An import from nothing is refused rather than writing an empty table."""
    with pytest.raises(InputError, match="no network data source"):
        import_networks([])


def test_too_many_ranges_are_refused_naming_the_source(tmp_path: Path) -> None:
    """A source past ``max_ranges`` stops the import with its name."""
    listing = tmp_path / "hosting.txt"
    listing.write_text("".join(f"10.0.{i}.0/24\n" for i in range(20)))
    with pytest.raises(InputError, match=r"hosting\.txt: more than 10 ranges"):
        import_networks([NetworkSource("hosting", listing)], limits=ImportLimits(max_ranges=10))


def test_limits_are_validated() -> None:
    """A zero or negative bound is a `ConfigError` naming it."""
    with pytest.raises(ConfigError, match="max_ranges"):
        ImportLimits(max_ranges=0)


@dataclass(frozen=True)
class Fixed:
    """A third-party format: every line of the file is a fixed-line prefix."""

    name: str = "fixed-lines"
    summary: str = "test format"

    def read(self, path: Path, limits: ImportLimits) -> Iterator[tuple[Network, Labels]]:
        """One fixed range per line."""
        import ipaddress

        for line in path.read_text().split():
            yield ipaddress.ip_network(line), Labels(kind=NetworkKind.FIXED)


def test_a_third_party_format_registers_like_the_built_in_ones(tmp_path: Path) -> None:
    """A registry is constructed; a new format registers once and is used by name."""
    registry = default_registry()
    registry.register(Fixed())
    with pytest.raises(ConfigError, match="fixed-lines"):
        registry.register(Fixed())
    path = tmp_path / "lines.txt"
    path.write_text("192.0.2.0/24\n")
    table = import_networks([NetworkSource("fixed-lines", path)], registry=registry)
    assert table.lookup("192.0.2.1").kind is NetworkKind.FIXED  # type: ignore[union-attr]
    assert "fixed-lines" not in default_registry().names()
    assert len(SourceRegistry()) == 0
