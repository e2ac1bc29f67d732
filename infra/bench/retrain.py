"""The retraining workflow's training step on the demo data, as the TrainingFunction runs it.

The bundled ratings and movies go to `history/` of an embedded S3; the gather step lists them, and
`train_candidate` downloads, trains with the default settings and uploads the version. Prints the
wall time and the peak RSS: what decides whether Lambda's 15 minutes and 10 GB fit.

    cd infra/bench && ../../.venv/bin/python retrain.py
"""

from __future__ import annotations

import resource
import time

import boto3
from common import ROOT, embedded_s3
from recsys.retrain.inputs import gather
from recsys.retrain.steps import train_candidate
from recsys.store.s3 import S3ModelStore

BUCKET, PREFIX = "recsys-bench-retrain", "recsys"


def main() -> int:
    with embedded_s3():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        demo = ROOT / "data" / "demo"
        s3.upload_file(str(demo / "ratings.dat"), BUCKET, f"{PREFIX}/history/interactions/ratings.dat")
        s3.upload_file(str(demo / "movies.dat"), BUCKET, f"{PREFIX}/history/items/movies.dat")
        store = S3ModelStore(BUCKET, PREFIX)
        started = time.perf_counter()
        gather(store, "bench-1")
        gathered = time.perf_counter()
        candidate = train_candidate(store, "bench-1")
        done = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"retraining on the demo data ({candidate.interactions:,} interactions, default settings)")
    print(f"  gather {gathered - started:.2f} s, train + upload {done - gathered:.1f} s, peak RSS {peak_mb:,.0f} MB")
    print(f"  version {candidate.version}, test nDCG@10 {candidate.ndcg_at_10:.4f}")
    print(f"  Lambda's limits: {(done - started) / 900:.0%} of 15 minutes, {peak_mb / 10240:.0%} of 10,240 MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
