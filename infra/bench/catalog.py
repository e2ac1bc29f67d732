"""Batch and online serving at catalog scale, on a model trained from `recsys synth` data.

1. The model: `recsys synth` (users, items, interactions from BENCH_CATALOG, default 50,000 x 100,000
   x 1,000,000, seed 1), trained with the default settings and one backtest fold. Kept under
   .bench/catalog/ and reused while its data spec is the same (training takes minutes).
2. Batch: BatchJob.run over an embedded S3 with the default chunking, for a file of random users
   and a file of the heaviest users (batch.py's probe, each run in its own process for its peak RSS).
3. Online: GET /recommendations through the real rerank handler (Mangum + FastAPI), for random
   known users, the 20 heaviest users and the heaviest alone, after warm-up; peak RSS of that process.
4. The ALS top-n over the whole catalog against the length-order prefixes (`als.PRUNE_MIN_ITEMS`), in
   one process, alternating (each first in every other round), so that the VM's drift hits both alike:
   users/s of 1,024-user chunks, and whether every round's answers were the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from batch import batch_rows, print_batch_table
from common import ROOT

ONLINE = r"""
import io, json, random, resource, sys, time
from contextlib import redirect_stdout
sys.path.insert(0, sys.argv[1])
import rerank_handler
from recsys.runtime.container import get_provider
from recsys.runtime.local_context import LocalLambdaContext
sys.path.insert(0, sys.argv[2])
from common import for_user, percentiles_ms

model = get_provider().get()
lengths = model.arrays.seen.indptr[1:] - model.arrays.seen.indptr[:-1]
ids = model.arrays.users.ids
heaviest = [ids[int(u)] for u in lengths.argsort()[::-1][:20]]
rng = random.Random(3)
known = [ids[int(u)] for u in (lengths > 0).nonzero()[0]]
event = json.loads(open(sys.argv[3]).read())
context = LocalLambdaContext(function_name="bench")

def call(user):
    for_user(event, user)
    started = time.perf_counter()
    response = rerank_handler.handler(event, context)
    assert response["statusCode"] == 200, response
    return time.perf_counter() - started

rows = {}
with redirect_stdout(io.StringIO()):
    for name, users in (("random known users", known), ("the 20 heaviest users", heaviest),
                        ("the heaviest user alone", heaviest[:1])):
        for _ in range(50):
            call(rng.choice(users))
        rows[name] = percentiles_ms([call(rng.choice(users)) for _ in range(int(sys.argv[4]))])
rows["max_history"] = int(lengths.max())
rows["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(rows))
"""


PAIRED = r"""
import json, random, sys, time
import numpy as np
import recsys.runtime
from pathlib import Path
from recsys.loaded import LoadedModel
from recsys.recommender import Request
from recsys.sources import als
model = LoadedModel.from_dir(Path(sys.argv[1]))
rng = random.Random(1)
known = len(model.arrays.users.ids)
picked = [rng.randrange(known) if rng.random() < 0.8 else -1 for _ in range(int(sys.argv[3]))]
users = np.asarray(picked, dtype=np.int32)

def run():
    ranked = []
    started = time.perf_counter()
    for start in range(0, len(users), 1024):
        chunk = users[start : start + 1024]
        ranked.append(model.recommender.recommend(Request(users=chunk, k=np.full(len(chunk), 10))))
    return len(users) / (time.perf_counter() - started), ranked

arms = {"whole catalog": 10**12, "length-order prefixes": 0}  # als.PRUNE_MIN_ITEMS, read at each request
rates = {name: [] for name in arms}
same = True
for name, limit in arms.items():  # warm-up, the length order built
    als.PRUNE_MIN_ITEMS = limit
    run()
for round_ in range(int(sys.argv[2])):
    answers = {}
    for name in sorted(arms, reverse=bool(round_ % 2)):  # each arm goes first in every other round
        als.PRUNE_MIN_ITEMS = arms[name]
        rate, answers[name] = run()
        rates[name].append(rate)
    same &= all(np.array_equal(a.row, b.row) and np.array_equal(a.item, b.item)
                for a, b in zip(answers["whole catalog"], answers["length-order prefixes"]))
print(json.dumps({"rates": rates, "same": same}))
"""


def catalog_model(users: int, items: int, interactions: int) -> Path:
    """The synthetic model of this size, trained once and reused."""
    root = ROOT / ".bench" / "catalog" / f"{users}x{items}x{interactions}"
    model = root / "model"
    if (model / "manifest.json").is_file():
        return model
    recsys = [sys.executable, "-m", "recsys.cli"]
    started = time.perf_counter()
    subprocess.run(
        [
            *recsys,
            "synth",
            "--out",
            str(root / "data"),
            "--users",
            str(users),
            "--items",
            str(items),
            "--interactions",
            str(interactions),
            "--seed",
            "1",
        ],
        check=True,
    )
    synth_s = time.perf_counter() - started
    subprocess.run(
        [
            *recsys,
            "train",
            "--interactions",
            str(root / "data" / "interactions.parquet"),
            "--items",
            str(root / "data" / "items.parquet"),
            "--out",
            str(model),
            "--set",
            "split.folds=1",
            "--quiet",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"(built the model: synth {synth_s:.0f} s, train {time.perf_counter() - started - synth_s:.0f} s)\n")
    return model


def main() -> None:
    """`catalog.py [MODEL_DIR]`: the synthetic model of BENCH_CATALOG, or a model directory you name."""
    users, items, interactions = (int(v) for v in os.environ.get("BENCH_CATALOG", "50000,100000,1000000").split(","))
    sizes = [int(s) for s in os.environ.get("BENCH_CATALOG_BATCH_SIZES", "20000").split(",")]
    repeat = int(os.environ.get("BENCH_REPEAT", "500"))
    if len(sys.argv) > 1:
        model = Path(sys.argv[1])
        print(f"## Serving model {model} at catalog scale\n")
    else:
        model = catalog_model(users, items, interactions)
        print(f"## Serving a {items:,}-item catalog (`recsys synth`: {users:,} users, {interactions:,} interactions)\n")
    print("Batch: BatchJob.run over an embedded S3, default chunking, k=10, one thread.\n")
    print_batch_table(batch_rows(model, sizes, ("random", "heaviest")))
    env = {
        **os.environ,
        "MODEL_DIR": str(model),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    event = ROOT / "tests" / "events" / "rerank_http_api_recommendations.json"
    probe = [sys.executable, "-c", ONLINE, str(ROOT / "functions" / "rerank"), str(Path(__file__).parent)]
    out = subprocess.run([*probe, str(event), str(repeat)], env=env, capture_output=True, text=True, check=True)
    online = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\nOnline: GET /recommendations through the rerank handler, {repeat} calls each, one thread.\n")
    print("| users | p50 ms | p90 ms | p99 ms | mean ms |")
    print("|---|---|---|---|---|")
    for name in ("random known users", "the 20 heaviest users", "the heaviest user alone"):
        row = online[name]
        print(f"| {name} | {row['p50']:.2f} | {row['p90']:.2f} | {row['p99']:.2f} | {row['mean']:.2f} |")
    print(
        f"\nlongest history {online['max_history']:,} items; peak RSS of the serving process "
        f"{online['peak_rss_mb']:.0f} MB (p99 budget 15 ms)"
    )
    rounds, paired_users = os.environ.get("BENCH_PAIRED_ROUNDS", "6"), int(os.environ.get("BENCH_PAIRED_USERS", "8192"))
    paired = [sys.executable, "-c", PAIRED, str(model), rounds, str(paired_users)]
    result = json.loads(subprocess.run(paired, env=env, capture_output=True, text=True, check=True).stdout)
    rates = result["rates"]
    print(
        f"\nALS top-n, paired: {paired_users:,} users in 1,024-user chunks, {rounds} rounds alternating, one thread.\n"
    )
    print("| ALS top-n | users/s, each round | mean |")
    print("|---|---|---|")
    for name, values in rates.items():
        print(f"| {name} | {', '.join(f'{v:,.0f}' for v in values)} | {sum(values) / len(values):,.0f} |")
    wins = sum(p > w for p, w in zip(rates["length-order prefixes"], rates["whole catalog"], strict=True))
    ratio = sum(rates["length-order prefixes"]) / sum(rates["whole catalog"])
    print(
        f"\nprefixes / whole: {ratio:.2f}x, faster in {wins} of {len(rates['whole catalog'])} rounds; "
        f"same answers: {result['same']}"
    )


if __name__ == "__main__":
    main()
