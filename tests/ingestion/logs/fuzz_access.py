"""The access-log parser under atheris: combined (nginx, Apache) and JSON lines.

    .venv/bin/python tests/ingestion/logs/fuzz_access.py -atheris_runs=20000

`fuzz_one` runs `parser_contract.Harness` for the ``nginx`` format, over the
three sample route tables: nginx combined, Apache combined (the account from
``%u``, the session from the Cookie header, a clear NIR in the path) and the
reference portal's JSON table.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

if TYPE_CHECKING:
    from tests.ingestion.logs.parser_contract import Harness

_harness: Harness | None = None


def fuzz_one(data: bytes) -> None:
    """Parse lines built from ``data``; raise if the parser raises or breaks its contract."""
    global _harness  # built on the first input: it reads the samples
    if _harness is None:
        from tests.ingestion.logs.parser_contract import Harness

        _harness = Harness("nginx")
    _harness(data)


if __name__ == "__main__":
    import atheris

    # Imported under instrumentation: coverage is collected in Rempart's code only.
    with atheris.instrument_imports(include=["rempart"]):
        import tests.ingestion.logs.parser_contract  # noqa: F401
    atheris.Setup(sys.argv, fuzz_one)
    atheris.Fuzz()
