"""SnapStart, per serving function: what runs before the snapshot, after a restore, and the first request.

Each row is several fresh processes against an S3 endpoint (moto server on 127.0.0.1) holding the
demo model. A process imports the handler with AWS_LAMBDA_INITIALIZATION_TYPE=snap-start, runs the
registered before-snapshot hooks as Lambda does when it publishes a version (model resolved,
downloaded, verified, loaded, warm-up requests), then the after-restore hooks (re-seed, new AWS
session, CURRENT re-read in a background thread), then the first request through the real handler.
Beside it: the same function started on demand (import, then a first request that loads the
model), and `import boto3`.

The restore is simulated in the same process, right after the snapshot hooks: memory is warm and
the endpoint is plain HTTP on 127.0.0.1. Lambda's own restore of the snapshot (memory paged in from
its cache, Restore Duration in the REPORT line) and TLS to S3 come on top and only show on Lambda.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import ROOT, embedded_s3
from imports import fresh

RUNS = int(os.environ.get("BENCH_SNAPSTART_RUNS", "5"))
LAYER = ROOT / ".aws-sam" / "build" / "SharedLayer" / "python"
RUNTIME = ROOT / ".aws-sam" / "runtime-boto3"  # what the managed runtime adds: boto3, snapshot_restore_py
FIRST_REQUEST = {"rerank": "rerank_http_api_recommendations.json", "candidates": "candidates_http_api.json"}

PROBE = r"""
import json, os, sys, time
t0 = time.perf_counter()
module_name, event_file, folder, *layer = sys.argv[1:]
if layer:  # as on Lambda: function code, the built layer, the runtime's libraries, nothing else
    sys.path[:] = [folder, *layer] + [p for p in sys.path if "site-packages" not in p]
else:
    sys.path.insert(0, folder)
module = __import__(module_name)
t1 = time.perf_counter()
timings = {"import_s": t1 - t0}
if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
    import snapshot_restore_py as hooks
    for hook, args, kwargs in reversed(hooks.get_before_snapshot()):  # Lambda's order: last registered first
        hook(*args, **kwargs)
    t2 = time.perf_counter()
    for hook, args, kwargs in hooks.get_after_restore():
        hook(*args, **kwargs)
    t3 = time.perf_counter()
    timings.update(init_s=t2 - t0, restore_s=t3 - t2)
    t1 = t3
from recsys.runtime.local_context import LocalLambdaContext
response = module.handler(json.loads(open(event_file).read()), LocalLambdaContext())
timings["first_s"] = time.perf_counter() - t1
assert response["statusCode"] == 200, response
print(json.dumps(timings))
"""


def in_built_layer() -> bool:
    """After `make build` and `make layer-check`: run as on Lambda. Else in .venv."""
    return LAYER.is_dir() and (RUNTIME / "snapshot_restore_py.py").is_file()


def run(function: str, start: str, env: dict[str, str]) -> list[dict[str, float]]:
    in_layer = in_built_layer()
    command = [sys.executable, *(["-I"] if in_layer else []), "-c", PROBE, f"{function}_handler"]
    command += [str(ROOT / "tests" / "events" / FIRST_REQUEST[function]), str(ROOT / "functions" / function)]
    if in_layer:
        command += [str(LAYER), str(RUNTIME)]
    rows = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory(prefix="bench-snapstart-") as cache:  # an empty /tmp each time
            run_env = {**env, "MODEL_CACHE_DIR": cache}
            if start != "on-demand":
                run_env["AWS_LAMBDA_INITIALIZATION_TYPE"] = start
            done = subprocess.run(command, env=run_env, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def spread(values: list[float], unit: float = 1.0) -> str:
    scaled = [v * unit for v in values]
    return f"{min(scaled):.0f} / {statistics.median(scaled):.0f} / {max(scaled):.0f}"


def main() -> None:
    import boto3
    from recsys.store.lifecycle import publish
    from recsys.store.s3 import S3ModelStore

    model_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models" / "demo"
    floor = statistics.median(float(fresh(["boto3"])["seconds"]) for _ in range(RUNS))  # type: ignore[arg-type]
    where = "built layer, python -I" if in_built_layer() else ".venv"
    print(f"## SnapStart, per serving function ({RUNS} fresh processes each, {where})\n")
    print(f"`import boto3` alone (the floor): median {floor * 1000:.0f} ms. Figures are min / median / max, ms.\n")
    print(
        "| function | start | import | init (before snapshot) | after-restore hooks | first request "
        "| hooks + first request (in-process) |"
    )
    print("|---|---|---|---|---|---|---|")
    with embedded_s3():
        boto3.client("s3").create_bucket(Bucket="bench-models")
        publish(model_dir, S3ModelStore("bench-models", "recsys"))
        env: dict[str, Any] = {
            **os.environ,
            "MODEL_BUCKET": "bench-models",
            "MODEL_PREFIX": "recsys",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        env.pop("MODEL_DIR", None)
        for function in ("rerank", "candidates"):
            snap = run(function, "snap-start", env)
            cold = run(function, "on-demand", env)
            served = [r["restore_s"] + r["first_s"] for r in snap]
            print(
                f"| {function} | SnapStart | {spread([r['import_s'] for r in snap], 1000)} "
                f"| {spread([r['init_s'] for r in snap], 1000)} | {spread([r['restore_s'] for r in snap], 1000)} "
                f"| {spread([r['first_s'] for r in snap], 1000)} | {spread(served, 1000)} |"
            )
            on_demand = [r["import_s"] + r["first_s"] for r in cold]
            print(
                f"| {function} | on demand | {spread([r['import_s'] for r in cold], 1000)} | | "
                f"| {spread([r['first_s'] for r in cold], 1000)} | {spread(on_demand, 1000)} (import + first) |"
            )
            print(
                f"| {function} | ratio | | | | | on demand / SnapStart (medians, before Lambda's own restore): "
                f"{statistics.median(on_demand) / statistics.median(served):.0f}x |"
            )
    print("\nTarget: after-restore work plus the first request under 100 ms locally.")


if __name__ == "__main__":
    main()
