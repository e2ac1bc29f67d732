"""Lambda SnapStart: the slow work once, before the snapshot; almost nothing after a restore.

Lambda says how an environment starts in AWS_LAMBDA_INITIALIZATION_TYPE:

- `snap-start`: init runs once, when a version is published. Before the snapshot the model is
  resolved from CURRENT (or MODEL_VERSION), downloaded, verified, loaded and warmed with a request
  per route. After each restore: random re-seeded, AWS session and clients renewed, CURRENT read
  in the background (a newer version swaps in there, as the hot swap does).
- `provisioned-concurrency`: init also runs ahead of traffic, so the same preparation runs then.
- `on-demand`, `sam local`, tests, scripts: nothing changes; the first request loads the model.

The hooks come from the Snapshot Restore for Python library that the managed runtime ships
(`snapshot_restore_py`); the layer does not carry it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from recsys import aws
from recsys.errors import NoModelPublishedError
from recsys.loaded import LoadedModel
from recsys.runtime.telemetry import logger, untraced
from recsys.store.provider import ModelProvider

INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"


@dataclass(frozen=True)
class Preparation:
    """What a serving function does before its snapshot and after each restore."""

    provider: Callable[[], ModelProvider]
    warm_up: Callable[[LoadedModel], Mapping[str, int]]  # route -> HTTP status of its warm-up request

    def before_snapshot(self) -> None:
        """Load and warm. Only "nothing published yet" still makes a snapshot (its requests answer 503
        until a model is published); an unreadable bucket, a model that fails to load or a route that
        fails its warm-up fail the init, so the version is not published and the deploy says why."""
        started = time.perf_counter()
        with untraced():
            try:
                model = self.provider().get()
            except NoModelPublishedError as exc:
                logger.warning("snapshot without a model", extra={"reason": exc.message})
                return
            statuses = dict(self.warm_up(model))
            self.provider().wait()  # no refresh thread may be frozen mid-request into the snapshot
        failed = {route: status for route, status in statuses.items() if status >= 500}
        if failed:
            raise RuntimeError(f"warm-up requests failed before the snapshot: {failed}")
        logger.info(
            "ready for the snapshot",
            extra={"version": model.version, "warm_up": statuses, "seconds": round(time.perf_counter() - started, 3)},
        )

    def after_restore(self) -> None:
        """Cheap and never blocking on the network: Lambda allows the hooks 10 s, requests are waiting."""
        started = time.perf_counter()
        with untraced():
            random.seed()  # the snapshot froze the generator: every restored container would draw the same numbers
            aws.renew()  # credentials and connections in the snapshot may be stale
            current = self.provider().recheck()  # CURRENT read in the background; a newer model swaps in there
        logger.info("restored", extra={"current": current, "seconds": round(time.perf_counter() - started, 3)})


def prepare(preparation: Preparation) -> None:
    """Schedule or run the preparation as this environment's start requires."""
    kind = os.environ.get(INITIALIZATION_TYPE, "on-demand")
    if kind == "snap-start":
        try:
            from snapshot_restore_py import register_after_restore, register_before_snapshot
        except ImportError:  # not a managed runtime: do the work now, it is in the snapshot all the same
            preparation.before_snapshot()
            return
        register_before_snapshot(preparation.before_snapshot)
        register_after_restore(preparation.after_restore)
    elif kind == "provisioned-concurrency":
        preparation.before_snapshot()
