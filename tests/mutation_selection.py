"""A pytest plugin for the mutation run (``scripts/mutation``): leaves out the tests that
simulate a whole preset.

mutmut runs each mutant's tests in a fresh forked process, so a session fixture that
simulates the small preset (half a minute to a minute on a busy machine) would be built
again for every mutant that reaches it. Those tests still run in the ordinary suite; the
mutation run counts on the fast tests that drive the guard, the detectors and the
evaluation directly. Loaded only by ``[tool.mutmut] pytest_add_cli_args``.
"""

from __future__ import annotations

import pytest

SIMULATED = frozenset({"small", "small_dir", "evaluation_report"})
"""The session fixtures that simulate a preset (``tests/guard/conftest.py``,
``tests/replay/conftest.py``)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect every test whose fixtures, directly or through another, simulate a preset."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        (dropped if SIMULATED.intersection(fixtures) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
