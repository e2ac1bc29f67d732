"""The registry of candidate sources: one module per source, one line each in `BUILTIN`.

Training fits the sources named in `[candidates] sources`; a model's manifest records them, and
serving loads each by name from here. A source this code does not know makes the model
incompatible (refused at publish and at load), never a half-working one.
"""

from __future__ import annotations

from typing import Any

from recsys.candidates.base import CandidateSource
from recsys.errors import ModelIntegrityError
from recsys.sources.als import AlsSource
from recsys.sources.chart import ChartSource
from recsys.sources.covisit import CoVisitationSource
from recsys.sources.popularity import PopularitySource

Source = CandidateSource[Any]

BUILTIN: tuple[Source, ...] = (
    AlsSource(),
    CoVisitationSource(),
    PopularitySource(),
    ChartSource(days=1),
    ChartSource(days=3),
    ChartSource(days=7),
    ChartSource(days=30),
)

_registry: dict[str, Source] = {source.name: source for source in BUILTIN}


def register(source: Source) -> None:
    """Make a source known by its name (a plug-in, or a test's toy source); a name is taken once."""
    if source.name in _registry and _registry[source.name] is not source:
        raise ValueError(f"a candidate source named {source.name!r} is already registered")
    taken = {name for other in _registry.values() if other is not source for name in other.files}
    if taken & set(source.files):
        raise ValueError(
            f"source {source.name!r} reuses file names of another source: {sorted(taken & set(source.files))}"
        )
    _registry[source.name] = source


def unregister(name: str) -> None:
    _registry.pop(name, None)


def registered() -> tuple[str, ...]:
    return tuple(_registry)


def get(name: str) -> Source:
    try:
        return _registry[name]
    except KeyError:
        raise ModelIntegrityError(
            f"unknown candidate source {name!r}; this code knows {', '.join(_registry)}"
        ) from None


def resolve(names: tuple[str, ...] | list[str]) -> tuple[Source, ...]:
    return tuple(get(name) for name in names)
