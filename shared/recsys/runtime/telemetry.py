"""Powertools Logger, Metrics and Tracer: one instance each per container, shared by all modules."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "serverless-recsys")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ServerlessRecsys")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)


@contextmanager
def untraced() -> Iterator[None]:
    """X-Ray off for work outside any invocation (SnapStart's hooks): there is no segment to attach
    subsegments to, and the SDK would only log that it discarded them."""
    from aws_xray_sdk import global_sdk_config

    enabled = global_sdk_config.sdk_enabled()
    global_sdk_config.set_sdk_enabled(False)
    try:
        yield
    finally:
        global_sdk_config.set_sdk_enabled(enabled)
