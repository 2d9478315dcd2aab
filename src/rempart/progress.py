"""Progress of long jobs: a callable reporter, silent unless a person is watching.

A long job (`rempart.testbed.simulate.simulate`, `rempart.replay.evaluate`,
reading a record file with `rempart.ingestion.iter_records`) takes a
``progress`` argument, a `Progress`. The job calls it with how much is done
and the total, in the job's own unit (steps, records, bytes), once per step or
batch and never per record, so reporting costs nothing measurable. Counts
never go down, and the last call reports ``done == total``.

Library callers get `silent` by default. The command line builds its reporter
with `for_terminal`, which decides once, at construction, between a bar on the
terminal and `silent`: when the stream is not a terminal or ``quiet`` is set
nothing is printed at all, not even the label (``click.progressbar`` would
still echo its label to a pipe).

>>> seen = []
>>> def record(done: int, total: int, step: str = "") -> None:
...     seen.append((done, total, step))
>>> steps = Steps(record, total=2)
>>> steps.begin("world")
>>> steps.begin("traffic")
>>> steps.finish()
>>> seen
[(0, 2, 'world'), (1, 2, 'traffic'), (2, 2, '')]
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Protocol, TextIO

__all__ = ["Progress", "Steps", "TerminalBar", "for_terminal", "silent"]


class Progress(Protocol):
    """Receives how far a long job has got."""

    def __call__(self, done: int, total: int, step: str = "") -> None:
        """``done`` of ``total`` units are done; ``step`` names what runs now (or ``""``)."""


def silent(done: int, total: int, step: str = "") -> None:
    """The reporter that reports nowhere: the default of every long job."""


class Steps:
    """A job made of a known number of named steps, reported as they begin.

    ``begin(name)`` reports the steps already done and names the one starting;
    ``finish()`` reports them all done.
    """

    __slots__ = ("_begun", "_progress", "_total")

    def __init__(self, progress: Progress, total: int) -> None:
        self._progress = progress
        self._total = total
        self._begun = 0

    def begin(self, name: str) -> None:
        """Start step ``name``: every step begun before it is done."""
        self._progress(self._begun, self._total, name)
        self._begun += 1

    def finish(self) -> None:
        """Every step is done."""
        self._progress(self._total, self._total)


class TerminalBar:
    """A ``click`` progress bar on ``stream``, drawn from the first report until `close`.

    The bar shows the percentage, the time left and the current step's name.
    """

    __slots__ = ("_done", "_label", "_stack", "_stream", "_update")

    def __init__(self, label: str, stream: TextIO) -> None:
        self._label = label
        self._stream = stream
        self._stack = ExitStack()
        self._update: Callable[[int, str | None], None] | None = None
        self._done = 0

    def __call__(self, done: int, total: int, step: str = "") -> None:
        """Move the bar to ``done`` of ``total`` and show ``step`` beside it."""
        update = self._update
        if update is None:
            update = self._update = self._open(total)
        update(done - self._done, step)
        self._done = done

    def close(self) -> None:
        """End the bar's line, so that what is printed next starts on a fresh one."""
        self._stack.close()
        self._update = None
        self._done = 0

    def _open(self, total: int) -> Callable[[int, str | None], None]:
        import click

        # update_min_steps=0: draw on every report, so a new step's name shows at once.
        bar = click.progressbar(
            length=total,
            label=self._label,
            file=self._stream,
            item_show_func=_show_step,
            update_min_steps=0,
        )
        return self._stack.enter_context(bar).update


def _show_step(step: str | None) -> str | None:
    return step


@contextmanager
def for_terminal(
    label: str, *, quiet: bool = False, stream: TextIO | None = None
) -> Iterator[Progress]:
    """A bar labelled ``label`` on ``stream`` (standard error) if it is a terminal, else `silent`.

    ``quiet`` always gives `silent`. The bar is closed when the block ends,
    even on an error.
    """
    stream = sys.stderr if stream is None else stream
    if quiet or not stream.isatty():
        yield silent
        return
    bar = TerminalBar(label, stream)
    try:
        yield bar
    finally:
        bar.close()
