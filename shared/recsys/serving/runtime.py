"""Per-container singletons: settings and the model provider, behind factories tests can reset."""

from __future__ import annotations

from functools import lru_cache

from recsys import aws
from recsys.serving.settings import ServingSettings
from recsys.store.provider import LocalSource, ModelProvider, ModelSource, S3Source
from recsys.store.s3 import S3ModelStore


@lru_cache(maxsize=1)
def get_settings() -> ServingSettings:
    return ServingSettings()


def source_for(settings: ServingSettings) -> ModelSource:
    if settings.model_dir is not None:
        return LocalSource(settings.model_dir)
    assert settings.model_bucket is not None  # the settings validator guarantees one of the two
    return S3Source(S3ModelStore(settings.model_bucket, settings.model_prefix), settings.model_cache_dir)


@lru_cache(maxsize=1)
def get_provider() -> ModelProvider:
    settings = get_settings()
    return ModelProvider(
        source_for(settings),
        refresh_seconds=settings.model_refresh_seconds,
        pinned_version=settings.model_version,
    )


def reset() -> None:
    """Forget the settings, the loaded model and the AWS clients (a new container, as far as code can tell)."""
    get_provider.cache_clear()
    get_settings.cache_clear()
    aws.reset()
