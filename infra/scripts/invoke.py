"""`make invoke FUNCTION=rerank EVENT=tests/events/rerank_direct.json`: a handler on an event, in-process.

What `sam local invoke -e EVENT Function` does in a container, minus the container: the same
handler module, the same event file, a Lambda-shaped context. The model comes from MODEL_DIR
(default models/demo) unless MODEL_BUCKET is set.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = {
    "rerank": "rerank_handler",
    "candidates": "candidates_handler",
    "batch_scoring": "batch_scoring_handler",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--function", required=True, choices=sorted(MODULES))
    parser.add_argument("--event", required=True, type=Path)
    args = parser.parse_args()
    if not os.environ.get("MODEL_BUCKET"):
        os.environ.setdefault("MODEL_DIR", str(ROOT / "models" / "demo"))
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT / "functions" / args.function))  # what Lambda does with /var/task
    handler = importlib.import_module(MODULES[args.function]).handler
    event = json.loads(args.event.read_text(encoding="utf-8"))
    from recsys.runtime.local_context import LocalLambdaContext

    response = handler(event, LocalLambdaContext(function_name=f"{args.function}-local"))
    if isinstance(response, dict) and "body" in response and isinstance(response["body"], str):
        response = {**response, "body": json.loads(response["body"])}
    print(json.dumps(response, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
