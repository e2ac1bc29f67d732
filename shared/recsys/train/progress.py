"""What a training step tells the person waiting: parts done, and what a long part is doing now."""

from __future__ import annotations

import time
from typing import Final, Protocol

from tqdm import tqdm

REDRAW_SECONDS: Final = 0.5


class Progress(Protocol):
    def advance(self) -> None:
        """One of the step's parts is done."""

    def note(self, text: str) -> None:
        """What the current part is doing (a boosting round and its metric, the system being evaluated)."""


class Silent:
    """For tests and library callers: no output."""

    def advance(self) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class StepBar:
    """A tqdm bar per step; notes go to its postfix, so a part that runs for a minute still moves."""

    def __init__(self, name: str, total: int) -> None:
        self._bar = tqdm(total=total, desc=f"{name:<9}", unit="part", dynamic_ncols=True)
        self._drawn = 0.0

    def advance(self) -> None:
        self._bar.set_postfix_str("", refresh=False)
        self._bar.update()
        self._drawn = 0.0  # the next part's first note is always shown

    def note(self, text: str) -> None:
        # redrawn at most twice a second: a CI log with -v gets a line per redraw, not per boosting round
        now = time.monotonic()
        redraw = now - self._drawn >= REDRAW_SECONDS
        self._bar.set_postfix_str(text, refresh=redraw)
        self._drawn = now if redraw else self._drawn

    def close(self) -> None:
        self._bar.close()
