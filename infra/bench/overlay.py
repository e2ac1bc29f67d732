"""The live-trends overlay: how long a refresh takes to build, and what it adds to a model load.

The demo model, with a week of synthetic events after its cutoff (10k, 100k and 1M: Zipf-popular
items of the model's catalog and 1% new ones, 50k users), built at the week's end. Per size: the
build (`recsys.trends.overlay.build_overlay`: de-duplication, the activity moved forward, the trend
columns, the charts and popularity, new-item padding; files written, no S3), the overlay's bytes,
and loading the model with the overlay against the model alone (what a swap costs the serving
container's background thread). In-process, no S3: the refresh's S3 reads and writes come on top.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

SIZES = (10_000, 100_000, 1_000_000)
USERS = 50_000
NEW_ITEM_SHARE = 0.01
WEEK = 7 * 86_400.0


def events_after(model_dir: Path, n: int, seed: int = 0) -> tuple[pa.Table, float]:
    from recsys import artifacts as A
    from recsys import columns as C
    from recsys.idmap import IdMap
    from recsys.trends.activity import ItemActivity

    items = IdMap.load(model_dir / A.ITEM_IDS, C.ITEM_ID)
    cutoff = ItemActivity.read(model_dir).now
    rng = np.random.default_rng(seed)
    known = (rng.zipf(1.3, n) - 1) % len(items)
    ids = np.asarray(items.ids, dtype=object)[known]
    new = rng.random(n) < NEW_ITEM_SHARE
    ids[new] = [f"new-{i}" for i in rng.integers(0, 500, int(new.sum()))]
    sent = (cutoff + rng.uniform(0, WEEK, n)) * 1000
    table = pa.table(
        {
            "user_id": [f"u{u}" for u in rng.integers(0, USERS, n)],
            "item_id": ids.tolist(),
            "event_type": ["watch"] * n,
            "sent_at_ms": sent.astype(np.int64),
            "event_value": np.full(n, np.nan),
        }
    )
    return table, cutoff + WEEK


def median_seconds(fn: object, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    from recsys.loaded import LoadedModel
    from recsys.trends.overlay import build_overlay

    model_dir = Path(sys.argv[1]).resolve()
    alone = median_seconds(lambda: LoadedModel.from_dir(model_dir), 5)
    print(f"## Live-trends overlay (`infra/bench/overlay.py`, model {LoadedModel.from_dir(model_dir).version})\n")
    print(f"loading the model alone: {alone * 1000:.0f} ms (median of 5)\n")
    print("| events in the week | new items | build s | overlay MB | load with overlay ms | load ratio |")
    print("|---|---|---|---|---|---|")
    work = Path(tempfile.mkdtemp(prefix="overlay-bench-"))
    try:
        for n in SIZES:
            events, as_of = events_after(model_dir, n)
            out = work / str(n)
            repeat = 3 if n < 1_000_000 else 1

            def build(events: pa.Table = events, as_of: float = as_of, out: Path = out) -> None:
                shutil.rmtree(out, ignore_errors=True)
                build_overlay(model_dir, events, as_of, out)

            seconds = median_seconds(build, repeat)
            overlay = build_overlay(model_dir, events, as_of, out)
            size = sum(entry.size for entry in overlay.files) / 1e6
            loaded = median_seconds(lambda out=out: LoadedModel.from_dir(model_dir, overlay_dir=out), 5)
            print(
                f"| {n:,} | {overlay.new_items} | {seconds:.2f} | {size:.1f} | {loaded * 1000:.0f} | "
                f"{loaded / alone:.2f}x |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process (the model loaded, the largest build): {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
