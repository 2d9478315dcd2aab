"""The package's layers point one way: core, then detectors, then the guard; never the testbed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import rempart

SRC = Path(rempart.__file__).resolve().parent
CORE = (
    "decision.py",
    "policy.py",
    "geography.py",
    "events.py",
    "evidence.py",
    "networks.py",
    "useragent.py",
)
# The command line offers the testbed's commands (simulate, stats, demo): it sits above every plane.
MAY_USE_TESTBED = {"cli.py"}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import sits (functions, TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _importing(paths: list[Path], package: str) -> list[str]:
    return sorted(
        str(path.relative_to(SRC))
        for path in paths
        if any(name == package or name.startswith(package + ".") for name in _imports(path))
    )


def test_importing_the_detectors_imports_neither_the_guard_nor_the_testbed() -> None:
    """``import rempart.detectors`` in a fresh interpreter loads no guard or testbed module."""
    probe = (
        "import sys, rempart.detectors\n"
        "layers = ('rempart.guard', 'rempart.testbed')\n"
        "print(sorted(m for m in sys.modules if m.startswith(layers)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_no_production_module_imports_the_testbed() -> None:
    """Outside ``rempart.testbed`` (and the command line), nothing imports the testbed."""
    production = [
        path
        for path in _modules(SRC)
        if "testbed" not in path.relative_to(SRC).parts
        and str(path.relative_to(SRC)) not in MAY_USE_TESTBED
    ]
    assert _importing(production, "rempart.testbed") == []


def test_detectors_never_import_the_guard() -> None:
    """No detector module imports ``rempart.guard``, even for type checking."""
    assert _importing(_modules(SRC / "detectors"), "rempart.guard") == []


def test_core_and_stores_import_neither_detectors_nor_guard() -> None:
    """The core values and the stores sit below the detectors and the guard."""
    below = [SRC / name for name in CORE] + _modules(SRC / "stores")
    assert _importing(below, "rempart.detectors") == []
    assert _importing(below, "rempart.guard") == []
