"""Batch scoring throughput and peak memory, against the online path one user at a time.

Each size runs in its own process (so peak RSS belongs to that size alone): a jsonl of user ids
is put into an embedded S3 (moto on 127.0.0.1) and scored by BatchJob.run, the code the S3 trigger
runs, with its default chunking. Serving's single-thread setting applies, so the figures are per
core. Two kinds of file: `random` (80% known users drawn at random, 20% unknown) and `heaviest`
(the 1,024 users with the longest histories, repeated to the size: the worst case for memory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import ROOT, embedded_s3

PROBE = r"""
import io, json, os, random, resource, sys, time
import recsys.runtime  # single-threaded numeric libraries, as on Lambda
import boto3
import pyarrow.parquet as pq
from pathlib import Path
from recsys.batch.events import InputObject
from recsys.batch.job import BatchJob
from recsys.loaded import LoadedModel
from recsys.batch.settings import BatchSettings

n, mode = int(sys.argv[1]), sys.argv[4]; model = LoadedModel.from_dir(Path(sys.argv[2]))
rng = random.Random(n)
known = model.arrays.users.ids
lengths = [int(x) for x in (model.arrays.seen.indptr[1:] - model.arrays.seen.indptr[:-1])]
if mode == "heaviest":
    heaviest = sorted(range(len(known)), key=lambda u: -lengths[u])[:1024]
    picked = [heaviest[i % len(heaviest)] for i in range(n)]
    lines = [json.dumps({"user_id": known[u]}) for u in picked]
else:
    picked = [rng.randrange(len(known)) if rng.random() < 0.8 else -1 for _ in range(n)]
    lines = [json.dumps({"user_id": known[u] if u >= 0 else f"new-{i}"}) for i, u in enumerate(picked)]
history = [lengths[u] if u >= 0 else 0 for u in picked]
s3 = boto3.client("s3"); s3.create_bucket(Bucket=f"bench-{mode}-{n}")
s3.put_object(Bucket=f"bench-{mode}-{n}", Key="input/users.jsonl", Body=("\n".join(lines) + "\n").encode())
etag = s3.head_object(Bucket=f"bench-{mode}-{n}", Key="input/users.jsonl")["ETag"].strip('"')
settings = BatchSettings(batch_work_dir=Path(sys.argv[3]))
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
summary = BatchJob(model, settings, s3).run(InputObject(bucket=f"bench-{mode}-{n}", key="input/users.jsonl", etag=etag))
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
pages = s3.get_paginator("list_objects_v2").paginate(Bucket=f"bench-{mode}-{n}", Prefix="output/")
listed = [o for page in pages for o in page.get("Contents", [])]
bodies = [s3.get_object(Bucket=f"bench-{mode}-{n}", Key=o["Key"])["Body"].read() for o in listed
          if o["Key"].endswith(".parquet")]
written = sum(pq.read_metadata(io.BytesIO(body)).num_rows for body in bodies)
print(json.dumps({"users": n, "mode": mode, "items": model.arrays.n_items, "max_history": max(history),
                  "mean_history": sum(history) / n, "seconds": seconds, "rows_scored": summary["rows_scored"],
                  "parts": len(summary["parts"]),
                  "rows_written": written, "rss_before_mb": rss_before / 1024, "peak_rss_mb": peak / 1024}))
"""

ONLINE = r"""
import json, random, sys, time
import numpy as np
import recsys.runtime
from pathlib import Path
from recsys.loaded import LoadedModel
from recsys.recommender import Request
model = LoadedModel.from_dir(Path(sys.argv[1]))
rng = random.Random(1)
users = [model.arrays.users.get(rng.choice(model.arrays.users.ids)) for _ in range(2000)]
started = time.perf_counter()
for u in users:
    model.recommender.recommend(Request(users=np.asarray([u], dtype=np.int32), k=np.asarray([10])))
print(json.dumps({"users": len(users), "seconds": time.perf_counter() - started}))
"""


def batch_rows(model_dir: Path, sizes: list[int], modes: tuple[str, ...]) -> list[dict[str, Any]]:
    """One BatchJob.run per (mode, size), each in a fresh process so that peak RSS is that run's alone."""
    rows = []
    with embedded_s3():
        for mode in modes:
            for n in sizes:
                out = subprocess.run(
                    [sys.executable, "-c", PROBE, str(n), str(model_dir), str(ROOT / ".bench" / "batch-work"), mode],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=os.environ.copy(),
                )
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def print_batch_table(rows: list[dict[str, Any]], online_rate: float | None = None) -> None:
    print(
        "| catalog | users in file | max / mean history | users | seconds | users/s | output rows/s | parts "
        "| RSS before job MB | peak RSS MB |" + (" vs online path |" if online_rate else "")
    )
    print("|---|---|---|---|---|---|---|---|---|---|" + ("---|" if online_rate else ""))
    for row in rows:
        rate = row["users"] / row["seconds"]
        print(
            f"| {row['items']:,} | {row['mode']} | {row['max_history']:,} / {row['mean_history']:,.0f} "
            f"| {row['users']:,} | {row['seconds']:.1f} | {rate:,.0f} | {row['rows_written'] / row['seconds']:,.0f} "
            f"| {row['parts']} | {row['rss_before_mb']:.0f} | {row['peak_rss_mb']:.0f} |"
            + (f" {rate / online_rate:.1f}x |" if online_rate else "")
        )


def main() -> None:
    model_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models" / "demo"
    sizes = [int(s) for s in os.environ.get("BENCH_BATCH_SIZES", "10000,100000").split(",")]
    rows = batch_rows(model_dir, sizes, ("random",))
    online = json.loads(
        subprocess.run(
            [sys.executable, "-c", ONLINE, str(model_dir)], capture_output=True, text=True, check=True
        ).stdout
    )
    online_rate = online["users"] / online["seconds"]
    print("## Batch scoring (BatchJob.run over an embedded S3; k=10; one thread)\n")
    print_batch_table(rows, online_rate)
    print(f"\nonline path, one user per call (in-process, no HTTP): {online_rate:,.0f} users/s")


if __name__ == "__main__":
    main()
