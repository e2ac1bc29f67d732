"""Cold load and warm latency of the serving path, on the demo model (10,506-item catalog).

- cold: a fresh Python process imports the handler, reads CURRENT from an S3 endpoint (moto
  server on 127.0.0.1), downloads, verifies every sha256 and loads; then again with /tmp warm.
- warm: each route through the real Lambda handler (Mangum + FastAPI) with real-shaped events,
  users drawn from the model (and 10% unknown), after warm-up.
- stages: candidates, features and the ranker in-process for one user; the ranker both as served
  (shortlist: two passes) and in one pass over every candidate, on the same feature matrix.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, embedded_s3, event_file, for_user, latency_table, percentiles_ms, timed

COLD_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
if len(sys.argv) > 2:  # as on Lambda: function code, the built layer, the runtime's boto3, nothing else
    sys.path[:] = sys.argv[1:] + [p for p in sys.path if "site-packages" not in p]
else:
    sys.path.insert(0, sys.argv[1])
import rerank_handler
t1 = time.perf_counter()
from recsys.runtime.container import get_provider
provider = get_provider()
model = provider.get()
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "version": model.version,
                  "downloaded": provider.source.stats.downloaded, "reused": provider.source.stats.reused}))
"""


LAYER = ROOT / ".aws-sam" / "build" / "SharedLayer" / "python"
RUNTIME_BOTO3 = ROOT / ".aws-sam" / "runtime-boto3"


def cold_start(model_dir: Path) -> list[dict[str, Any]]:
    """In the built layer with `python -I` when `make build` has run (Lambda's view), else in .venv."""
    import boto3
    from recsys.store.lifecycle import publish
    from recsys.store.s3 import S3ModelStore

    results = []
    with embedded_s3():
        boto3.client("s3").create_bucket(Bucket="bench-models")
        publish(model_dir, S3ModelStore("bench-models", "recsys"))
        cache = tempfile.mkdtemp(prefix="bench-cache-")
        env = {
            **os.environ,
            "MODEL_BUCKET": "bench-models",
            "MODEL_PREFIX": "recsys",
            "MODEL_CACHE_DIR": cache,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        env.pop("MODEL_DIR", None)
        in_layer = LAYER.is_dir() and RUNTIME_BOTO3.is_dir()
        command = [sys.executable, *(["-I"] if in_layer else []), "-c", COLD_PROBE, str(ROOT / "functions" / "rerank")]
        if in_layer:
            command += [str(LAYER), str(RUNTIME_BOTO3)]
        where = "built layer, python -I" if in_layer else ".venv"
        for label in ("cold (empty /tmp)", "cold (/tmp reused)", "cold (/tmp reused)"):
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["label"] = f"{label}, {where}"
            results.append(row)
    return results


def warm_latency(model_dir: Path, repeat: int) -> dict[str, dict[str, float]]:
    os.environ.update(
        {
            "MODEL_DIR": str(model_dir),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    sys.path[:0] = [str(ROOT / "functions" / "rerank"), str(ROOT / "functions" / "candidates")]
    import io
    from contextlib import redirect_stdout

    import candidates_handler
    import rerank_handler
    from recsys.runtime.container import get_provider

    model = get_provider().get()
    rng = random.Random(7)
    users = [
        u
        for u in model.arrays.users.ids
        if model.arrays.seen.indptr[model.arrays.users.get(u) + 1] > model.arrays.seen.indptr[model.arrays.users.get(u)]
    ]
    from recsys.runtime.local_context import LocalLambdaContext

    context = LocalLambdaContext(function_name="bench")
    rec_event = event_file("rerank_http_api_recommendations.json")

    def recommendations() -> None:
        user = rng.choice(users) if rng.random() > 0.1 else f"unknown-{rng.randrange(10**6)}"
        response = rerank_handler.handler(for_user(rec_event, user), context)
        assert response["statusCode"] == 200, response

    def simple(handler: Any, event: dict[str, Any]) -> Any:
        def call() -> None:
            response = handler(event, context)
            assert response.get("statusCode", 200) == 200 and "error" not in response, response

        return call

    routes = {
        "GET /recommendations (HTTP API v2)": recommendations,
        "GET /recommendations (REST v1)": simple(
            rerank_handler.handler, event_file("rerank_rest_api_recommendations.json")
        ),
        "direct invoke recommend": simple(rerank_handler.handler, event_file("rerank_direct.json")),
        "POST /rerank (5 ids)": simple(rerank_handler.handler, event_file("rerank_http_api_rerank.json")),
        "POST /candidates (k=20)": simple(candidates_handler.handler, event_file("candidates_http_api.json")),
        "GET /items/{id}/similar": simple(candidates_handler.handler, event_file("candidates_http_api_similar.json")),
    }
    results = {}
    with redirect_stdout(io.StringIO()):  # EMF lines
        for name, fn in routes.items():
            results[name] = percentiles_ms(timed(fn, repeat))
    results.update(stage_breakdown(model, users, repeat))
    return results


def stage_breakdown(model: Any, users: list[str], repeat: int) -> dict[str, dict[str, float]]:
    """In-process stage costs for one known user; the ranker as served and in one pass."""
    from recsys.features.assemble import assemble
    from recsys.recommender import Request

    user = model.arrays.users.get(users[0])
    request = Request(users=np.asarray([user], dtype=np.int32), k=np.asarray([10]))
    batch, candidates = model.recommender.candidates(request)
    matrix = assemble(model.arrays, batch, candidates)
    scorer = model.recommender.scorer
    return {
        f"stage 1: candidates ({len(candidates)} pairs)": percentiles_ms(
            timed(lambda: model.recommender.candidates(request), repeat)
        ),
        f"features: assemble ({matrix.shape[0]}x{matrix.shape[1]} float32)": percentiles_ms(
            timed(lambda: assemble(model.arrays, batch, candidates), repeat)
        ),
        "stage 2: ranker as served (features + shortlist)": percentiles_ms(
            timed(lambda: scorer.score(model.arrays, batch, candidates, request.k), repeat)
        ),
        "stage 2: LightGBM one pass over every candidate": percentiles_ms(
            timed(lambda: scorer.booster.predict(matrix), repeat)
        ),
        "both stages in-process (no HTTP)": percentiles_ms(timed(lambda: model.recommender.recommend(request), repeat)),
    }


def main() -> None:
    model_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models" / "demo"
    repeat = int(os.environ.get("BENCH_REPEAT", "2000"))
    print(f"## Serving (model {json.loads((model_dir / 'manifest.json').read_text())['version']})\n")
    print("| cold start, fresh process | imports s | CURRENT+download+verify+load s | total s | files downloaded |")
    print("|---|---|---|---|---|")
    for row in cold_start(model_dir):
        print(
            f"| {row['label']} | {row['import_s']:.3f} | {row['load_s']:.3f} | "
            f"{row['import_s'] + row['load_s']:.3f} | {row['downloaded']} (reused {row['reused']}) |"
        )
    started = time.perf_counter()
    warm = warm_latency(model_dir, repeat)
    print("\n" + latency_table(f"warm, {repeat} calls each", warm))
    rec = warm["GET /recommendations (HTTP API v2)"]
    core = warm["both stages in-process (no HTTP)"]
    print(
        f"\nGET /recommendations p50 {rec['p50']:.2f} ms (budget 5), p99 {rec['p99']:.2f} ms (budget 15); "
        f"p50 is {rec['p50'] / core['p50']:.1f}x both stages in-process, the rest is the HTTP layer. "
        f"({time.perf_counter() - started:.0f}s)"
    )


if __name__ == "__main__":
    main()
