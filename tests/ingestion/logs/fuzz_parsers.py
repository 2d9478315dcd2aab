"""Coverage-guided fuzzing (atheris) of a log format's parsers, by registry name.

    .venv/bin/python tests/ingestion/logs/fuzz_parsers.py FORMAT [libFuzzer flags]
    .venv/bin/python tests/ingestion/logs/fuzz_parsers.py nginx -atheris_runs=20000

``FORMAT`` is a name in `parser_contract.FORMATS` (add a format there). Each
input becomes a few lines that the format's parsers read; a parser that raises,
or an outcome that breaks `parser_contract.check`, is a crash: atheris prints
the input and exits non-zero.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))


def main(argv: Sequence[str]) -> None:
    """Fuzz the format named by ``argv[1]``; the other arguments go to libFuzzer."""
    import atheris  # only the fuzzing run needs it (and it is only built for Linux)

    # Imported here, under instrumentation: coverage is collected in Rempart's code only.
    with atheris.instrument_imports(include=["rempart"]):
        from tests.ingestion.logs.parser_contract import FORMATS, Harness

    arguments = list(argv)
    if len(arguments) < 2 or arguments[1] not in FORMATS:
        sys.exit(f"usage: {arguments[0]} FORMAT [libFuzzer flags]; FORMAT: {', '.join(FORMATS)}")
    harness = Harness(arguments.pop(1))
    atheris.Setup(arguments, harness)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
