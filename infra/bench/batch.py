"""Batch scoring throughput and peak memory, against the online path one user at a time.

Each size runs in its own process (so peak RSS belongs to that size alone): a jsonl of user ids
(80% known users, 20% unknown) is put into an embedded S3 (moto on 127.0.0.1) and scored by
BatchJob.run, the code the S3 trigger runs. Serving's single-thread setting applies, so the
figures are per core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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

n = int(sys.argv[1]); model = LoadedModel.from_dir(Path(sys.argv[2]))
rng = random.Random(n)
known = model.arrays.users.ids
lines = [json.dumps({"user_id": rng.choice(known) if rng.random() < 0.8 else f"new-{i}"}) for i in range(n)]
s3 = boto3.client("s3"); s3.create_bucket(Bucket=f"bench-{n}")
s3.put_object(Bucket=f"bench-{n}", Key="input/users.jsonl", Body=("\n".join(lines) + "\n").encode())
etag = s3.head_object(Bucket=f"bench-{n}", Key="input/users.jsonl")["ETag"].strip('"')
settings = BatchSettings(batch_work_dir=Path(sys.argv[3]))
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
summary = BatchJob(model, settings, s3).run(InputObject(bucket=f"bench-{n}", key="input/users.jsonl", etag=etag))
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
pages = s3.get_paginator("list_objects_v2").paginate(Bucket=f"bench-{n}", Prefix="output/")
listed = [o for page in pages for o in page.get("Contents", [])]
written = sum(pq.read_metadata(io.BytesIO(s3.get_object(Bucket=f"bench-{n}", Key=o["Key"])["Body"].read())).num_rows
              for o in listed if o["Key"].endswith(".parquet"))
print(json.dumps({"users": n, "seconds": seconds, "rows_scored": summary["rows_scored"], "parts": summary["parts"],
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


def main() -> None:
    model_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models" / "demo"
    sizes = [int(s) for s in os.environ.get("BENCH_BATCH_SIZES", "10000,100000").split(",")]
    rows = []
    with embedded_s3():
        for n in sizes:
            out = subprocess.run(
                [sys.executable, "-c", PROBE, str(n), str(model_dir), str(ROOT / ".bench" / "batch-work")],
                capture_output=True,
                text=True,
                check=True,
                env=os.environ.copy(),
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    online = json.loads(
        subprocess.run(
            [sys.executable, "-c", ONLINE, str(model_dir)], capture_output=True, text=True, check=True
        ).stdout
    )
    online_rate = online["users"] / online["seconds"]
    print("## Batch scoring (BatchJob.run over an embedded S3; k=10; one thread)\n")
    print("| users | seconds | users/s | output rows/s | parts | RSS before job MB | peak RSS MB | vs online path |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        rate = row["users"] / row["seconds"]
        print(
            f"| {row['users']:,} | {row['seconds']:.1f} | {rate:,.0f} | {row['rows_written'] / row['seconds']:,.0f} | "
            f"{row['parts']} | {row['rss_before_mb']:.0f} | {row['peak_rss_mb']:.0f} | {rate / online_rate:.1f}x |"
        )
    print(f"\nonline path, one user per call (in-process, no HTTP): {online_rate:,.0f} users/s")


if __name__ == "__main__":
    main()
