"""What a training step tells the person waiting: parts done, and what a long part is doing now."""

from __future__ import annotations

from typing import Protocol

from tqdm import tqdm


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

    def advance(self) -> None:
        self._bar.set_postfix_str("", refresh=False)
        self._bar.update()

    def note(self, text: str) -> None:
        self._bar.set_postfix_str(text)

    def close(self) -> None:
        self._bar.close()
