"""Per-container singletons (settings, the model provider), behind factories a test can reset.

A Lambda container runs one function; a local process (tests, `recsys serve`) may run several,
so the provider is cached per kind: with the ranker (rerank, batch) or stage 1 only (candidates).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from recsys import aws
from recsys.runtime.settings import ModelSettings
from recsys.store.provider import LocalSource, ModelProvider, ModelSource, S3Source
from recsys.store.s3 import S3ModelStore

_caches: list[Callable[[], None]] = []


def per_container[T](factory: Callable[[], T]) -> Callable[[], T]:
    """Build once per container; `reset()` forgets it."""
    cached = lru_cache(maxsize=1)(factory)
    _caches.append(cached.cache_clear)
    return cached


@per_container
def get_model_settings() -> ModelSettings:
    return ModelSettings()


def get_model_store(needed_by: str) -> S3ModelStore:
    """The model bucket, for the functions that write to it (the overlay refresh, the retraining steps):
    they have no use for a local MODEL_DIR."""
    settings = get_model_settings()
    if settings.model_bucket is None:
        raise ValueError(f"{needed_by} needs MODEL_BUCKET")
    return S3ModelStore(settings.model_bucket, settings.model_prefix)


def source_for(settings: ModelSettings) -> ModelSource:
    if settings.model_dir is not None:
        return LocalSource(settings.model_dir)
    assert settings.model_bucket is not None  # the settings validator guarantees one of the two
    return S3Source(S3ModelStore(settings.model_bucket, settings.model_prefix), settings.model_cache_dir)


def get_provider(with_ranker: bool = True) -> ModelProvider:
    # one cache key however it is called: lru_cache would keep get_provider() and get_provider(True) apart
    return _provider(with_ranker)


@lru_cache(maxsize=2)
def _provider(with_ranker: bool) -> ModelProvider:
    settings = get_model_settings()
    return ModelProvider(
        source_for(settings),
        refresh_seconds=settings.model_refresh_seconds,
        retry_failed_seconds=settings.model_retry_failed_seconds,
        pinned_version=settings.model_version,
        with_ranker=with_ranker,
    )


def reset() -> None:
    """Forget settings, loaded models and AWS clients (a new container, as far as code can tell)."""
    _provider.cache_clear()
    for clear in _caches:
        clear()
    aws.reset()
