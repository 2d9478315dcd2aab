"""The Debian programs some tests drive (redis-server, nft, chromium, crowdsec-custom-bouncer).

``scripts/setup --test-tools`` installs them when it can (root with apt) and
otherwise prints the one ``apt-get install`` line needed. A test that needs a
missing program skips on a developer's machine, saying what to install, and
fails under CI (``CI`` set), where no test may skip for a missing tool.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

__all__ = ["require_program"]


def require_program(name: str, debian_package: str) -> Path:
    """The path of the program ``name``; skip (fail under CI) when it is not installed."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if found is not None:
        return Path(found)
    message = (
        f"{name} is not installed: apt-get install {debian_package} "
        "(scripts/setup --test-tools does it as root)"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
