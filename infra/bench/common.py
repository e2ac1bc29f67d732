"""Shared pieces of the benchmarks: timing statistics, and the scripts' embedded S3."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra" / "scripts"))
from local_s3 import embedded_s3  # noqa: E402  (the demo's and invoke's, for the benchmarks too)

__all__ = ["ROOT", "embedded_s3", "event_file", "for_user", "latency_table", "percentiles_ms", "timed"]


def percentiles_ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "mean": statistics.fmean(ordered) * 1000}


def timed(fn: Callable[[], object], repeat: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def for_user(event: dict[str, Any], user: str) -> dict[str, Any]:
    """The HTTP API GET /recommendations/{user_id} event (tests/events) pointed at another user, in place."""
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/recommendations/{user}"
    event["pathParameters"] = {"user_id": user}
    return event


def latency_table(first_column: str, results: dict[str, dict[str, float]]) -> str:
    """The markdown table every latency benchmark prints: one row per measured thing."""
    rows = [f"| {first_column} | p50 ms | p90 ms | p99 ms | mean ms |", "|---|---|---|---|---|"]
    rows += [
        f"| {name} | {stats['p50']:.2f} | {stats['p90']:.2f} | {stats['p99']:.2f} | {stats['mean']:.2f} |"
        for name, stats in results.items()
    ]
    return "\n".join(rows)


def event_file(name: str) -> dict[str, Any]:
    """One of tests/events/, as sam local invoke would send it."""
    import json

    return json.loads((ROOT / "tests" / "events" / name).read_text())
