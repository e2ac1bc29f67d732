"""OverlayFunction: EventBridge Scheduler's every-30-minutes call -> a new live-trends overlay in S3.

It imports no HTTP stack and no ranker: the model store, settings and telemetry only.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from recsys.runtime.container import get_model_settings, get_model_store
from recsys.runtime.lambda_handler import Event, Handler, instrumented
from recsys.runtime.telemetry import logger, metrics
from recsys.trends.refresh import refresh_overlay
from recsys.trends.settings import get_trend_settings


def handle(event: Event, context: LambdaContext) -> dict[str, Any]:
    store = get_model_store("the overlay refresh")
    types = get_trend_settings().trend_event_types
    result = refresh_overlay(store, get_model_settings().model_cache_dir, event_types=types)
    if result.status in ("published", "unchanged"):
        metrics.add_metric(name="overlay_published", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="overlay_events", unit=MetricUnit.Count, value=result.events)
        metrics.add_metric(name="overlay_new_items", unit=MetricUnit.Count, value=result.new_items)
    logger.info("overlay refresh", extra=result.summary())
    return result.summary()


def make_handler() -> Handler:
    return instrumented(handle)
