"""Powertools Logger, Metrics and Tracer: one instance each per container, shared by all modules."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "serverless-recsys")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ServerlessRecsys")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)
