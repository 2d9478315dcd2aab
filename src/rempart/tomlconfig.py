"""TOML configuration files (the policy, route tables, column mappings): read and parsed alike.

A file that cannot be read, is not UTF-8 or is not TOML is a `ConfigError`
naming the configuration (``key``) and the file, the same way for all of them.

>>> parse_toml('a = 1', "policy", "<text>")
{'a': 1}
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from rempart.errors import ConfigError

__all__ = ["parse_toml", "read_toml"]


def parse_toml(text: str, key: str, source: str) -> dict[str, Any]:
    """The tables of TOML ``text``; `ConfigError` for ``key`` when it is not valid TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(key, f"valid TOML ({source})", str(error)) from None


def read_toml(path: str | Path, key: str) -> dict[str, Any]:
    """The tables of the TOML file ``path``; `ConfigError` for ``key`` when unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(key, "a readable UTF-8 TOML file", str(path)) from error
    return parse_toml(text, key, str(path))
