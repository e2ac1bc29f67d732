"""Each handler's import time in a fresh interpreter, beside `import boto3` alone (the floor).

Median, min and max of several fresh processes per handler, and which heavy modules each import
left loaded. Only the function's folder and the project environment are on the path.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from common import ROOT

RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "5"))
HEAVY = ("fastapi", "starlette", "mangum", "pandas", "lightgbm", "scipy", "pyarrow", "numpy", "pydantic")
PROBE = """
import json, sys, time
started = time.perf_counter()
__import__(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - started, "heavy": [m for m in sys.argv[2:] if m in sys.modules]}))
"""


def fresh(args: list[str], folder: str = "") -> dict[str, object]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": folder,
        "MODEL_DIR": "/nonexistent",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    done = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    floor = statistics.median(float(fresh(["boto3"])["seconds"]) for _ in range(RUNS))  # type: ignore[arg-type]
    print(f"## Handler imports (fresh interpreter, {RUNS} runs each)\n")
    print(f"`import boto3` alone (the floor): median {floor:.3f} s\n")
    print("| handler | median s | min s | max s | x floor | heavy modules loaded |")
    print("|---|---|---|---|---|---|")
    for function in ("rerank", "candidates", "batch_scoring"):
        runs = [fresh([f"{function}_handler", *HEAVY], str(ROOT / "functions" / function)) for _ in range(RUNS)]
        seconds = [float(r["seconds"]) for r in runs]  # type: ignore[arg-type]
        median = statistics.median(seconds)
        print(
            f"| {function} | {median:.3f} | {min(seconds):.3f} | {max(seconds):.3f} | {median / floor:.1f}x "
            f"| {', '.join(runs[-1]['heavy']) or 'none'} |"
        )  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
