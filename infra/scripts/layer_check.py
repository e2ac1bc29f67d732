"""`make layer-check`: prove the built artifacts work and fit, as Lambda would load them.

1. Sizes of the layer and each function, unzipped and zipped, against Lambda's 250 MB limit
   (layer + function, unzipped); fails over it.
2. For each function, a clean `python3.12 -I` with only the function code (/var/task), the
   layer (/opt/python) and boto3 (which the runtime provides) on the path: import the handler,
   answer a direct-invoke event against the demo model, report the cold import time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

LIMIT = 262_144_000  # Lambda: 250 MB unzipped, function + layers
AIM = 150_000_000
FUNCTIONS = {
    "CandidatesFunction": ("candidates_handler", {"action": "candidates", "user_id": "185", "k": 5}),
    "RerankFunction": ("rerank_handler", {"user_id": "185", "k": 5}),
    "BatchScoringFunction": ("batch_scoring_handler", {"Service": "Amazon S3", "Event": "s3:TestEvent"}),
    # no AWS here: an event dated 2100 is refused by validation, before the table or the stream is called
    "IngestFunction": (
        "ingest_handler",
        {
            "userId": "185",
            "sessionId": "s1",
            "eventList": [{"eventType": "watch", "itemId": "1", "sentAt": 4102444800}],
        },
    ),
}
#: what a function answers that is not a success, and the settings it needs to get that far
EXPECTED_ERROR = {"IngestFunction": "invalid_request"}
EXTRA_ENV = {"IngestFunction": {"USER_EVENTS_TABLE": "layer-check-events", "EVENTS_STREAM": "layer-check-log"}}
#: SnapStart hooks each registers (batch runs without SnapStart; ingestion loads no model)
HOOKS = {"BatchScoringFunction": 0, "IngestFunction": 0}

PROBE = r"""
import json, sys, time
task, layer, runtime, module, event = sys.argv[1:6]
sys.path[:] = [task, layer, runtime] + [p for p in sys.path if "site-packages" not in p]
started = time.perf_counter()
handler = __import__(module).handler
imported = time.perf_counter()
import snapshot_restore_py as hooks  # from the runtime's side of the path, as on Lambda
snapshot_hooks = [hook for hook, _, _ in reversed(hooks.get_before_snapshot())]
restore_hooks = [hook for hook, _, _ in hooks.get_after_restore()]
for hook in snapshot_hooks + restore_hooks:  # SnapStart's order: publish (snapshot), then a restore
    hook()
prepared = time.perf_counter()

class Context:
    function_name = module; memory_limit_in_mb = 2048; aws_request_id = "layer-check"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + module
    def get_remaining_time_in_millis(self): return 60000

import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    answer = handler(json.loads(event), Context())
    # the batch path too: its vectorised scorer on the loaded model
    from recsys.bulk import score_users
    from recsys.runtime.container import get_provider
    import numpy as np
    scored = score_users(get_provider().get(), ["185", "someone-new"], np.asarray([3, 3]))
answered = time.perf_counter()
print(json.dumps({
    "import_s": imported - started, "hooks_s": prepared - imported, "first_answer_s": answered - prepared,
    "answer": answer,
    "scored_rows": scored.num_rows, "pandas_loaded": "pandas" in sys.modules,
    "hooks": len(snapshot_hooks) + len(restore_hooks),
    "from_layer": all(
        m.__file__.startswith(layer) for n, m in list(sys.modules.items())
        if n.split(".")[0] in ("numpy", "pyarrow", "lightgbm", "fastapi", "recsys") and getattr(m, "__file__", None)
    ),
}))
"""


#: the overlay refresh needs S3 to answer; in the isolated layer it builds an overlay of the model instead
OVERLAY_PROBE = r"""
import json, sys, time
task, layer, runtime, model, out = sys.argv[1:6]
sys.path[:] = [task, layer, runtime] + [p for p in sys.path if "site-packages" not in p]
started = time.perf_counter()
import overlay_handler  # the function's own import chain
from pathlib import Path
from recsys.trends.activity import ItemActivity
from recsys.trends.overlay import build_overlay
imported = time.perf_counter()
now = ItemActivity.read(Path(model)).now
event = {"user_id": "u", "item_id": "layer-check-new", "event_type": "watch", "sent_at_ms": int(now * 1000) + 1}
overlay = build_overlay(Path(model), [event, event], now + 60, Path(out))
print(json.dumps({
    "import_s": imported - started, "build_s": time.perf_counter() - imported,
    "events": overlay.events, "new_items": overlay.new_items, "pandas_loaded": "pandas" in sys.modules,
}))
"""


def probe_overlay(python: str, build_dir: Path, runtime_dir: Path, model: Path, env: dict[str, str]) -> bool:
    """OverlayFunction in the isolated layer: its imports, and an overlay built with one event sent twice."""
    with tempfile.TemporaryDirectory() as out:
        paths = [str((build_dir / name).resolve()) for name in ("OverlayFunction", "SharedLayer/python")]
        command = [python, "-I", "-c", OVERLAY_PROBE, *paths, str(runtime_dir.resolve()), str(model.resolve()), out]
        run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        print(f"  {'OverlayFunction':<22} FAILED\n{run.stderr[-2000:]}")
        return False
    result = json.loads(run.stdout.strip().splitlines()[-1])
    ok = (result["events"], result["new_items"], result["pandas_loaded"]) == (1, 1, False)
    print(
        f"  {'OverlayFunction':<22} import {result['import_s']:.2f}s, overlay built in {result['build_s']:.2f}s "
        f"(1 event sent twice: {result['events']} counted, {result['new_items']} new item; "
        f"pandas loaded: {result['pandas_loaded']}) {'ok' if ok else 'UNEXPECTED'}"
    )
    return ok


RETRAIN_PROBE = r"""
import json, sys, time
task, layer, runtime, model = sys.argv[1:5]
sys.path[:] = [task, layer, runtime] + [p for p in sys.path if "site-packages" not in p]
started = time.perf_counter()
import retrain_handler  # the function's own import chain
from pathlib import Path
from recsys.store.lifecycle import check_servable  # what its promote step runs on a candidate
imported = time.perf_counter()
check_servable(Path(model), "layer-check")
print(json.dumps({
    "import_s": imported - started, "check_s": time.perf_counter() - imported,
    "pandas_loaded": "pandas" in sys.modules,
}))
"""


def probe_retrain(python: str, build_dir: Path, runtime_dir: Path, model: Path, env: dict[str, str]) -> bool:
    """RetrainFunction in the isolated layer: its imports, and the promote step's check of a model."""
    paths = [str((build_dir / name).resolve()) for name in ("RetrainFunction", "SharedLayer/python")]
    run = subprocess.run(
        [python, "-I", "-c", RETRAIN_PROBE, *paths, str(runtime_dir.resolve()), str(model.resolve())],
        capture_output=True,
        text=True,
        env=env,
    )
    if run.returncode != 0:
        print(f"  {'RetrainFunction':<22} FAILED\n{run.stderr[-2000:]}")
        return False
    result = json.loads(run.stdout.strip().splitlines()[-1])
    good = not result["pandas_loaded"]
    print(
        f"  {'RetrainFunction':<22} import {result['import_s']:.2f}s, model checked in {result['check_s']:.2f}s "
        f"(pandas loaded: {result['pandas_loaded']}) {'ok' if good else 'FAILED'}"
    )
    return good


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def zipped_size(path: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            archive.write(file, file.relative_to(path))
    return buffer.tell()


def mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--runtime-dir", type=Path, required=True, help="boto3 as the runtime provides it")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()

    layer = args.build_dir / "SharedLayer"
    layer_size = tree_size(layer)
    print(f"{'artifact':<24}{'unzipped':>12}{'zipped':>12}")
    print(f"{'SharedLayer':<24}{mb(layer_size):>12}{mb(zipped_size(layer)):>12}")
    failed = False
    for name in (*FUNCTIONS, "OverlayFunction", "RetrainFunction"):
        size = tree_size(args.build_dir / name)
        total = size + layer_size
        verdict = "ok" if total <= LIMIT else "OVER THE 250 MB LIMIT"
        aim = "within the 150 MB aim" if total <= AIM else "above the 150 MB aim"
        zipped = mb(zipped_size(args.build_dir / name))
        print(f"{name:<24}{mb(size):>12}{zipped:>12}   with layer {mb(total)}: {verdict}, {aim}")
        failed |= total > LIMIT

    env = {
        **os.environ,
        "MODEL_DIR": str(args.model.resolve()),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",  # the template's default for the serving functions
    }
    env.pop("PYTHONPATH", None)
    print(
        f"\nisolated {args.python} -I, path = function code + layer/python + runtime boto3 only, SnapStart hooks run:"
    )
    for name, (module, event) in FUNCTIONS.items():
        run = subprocess.run(
            [
                args.python,
                "-I",
                "-c",
                PROBE,
                str((args.build_dir / name).resolve()),
                str((layer / "python").resolve()),
                str(args.runtime_dir.resolve()),
                module,
                json.dumps(event),
            ],
            capture_output=True,
            text=True,
            env={**env, **EXTRA_ENV.get(name, {})},
        )
        if run.returncode != 0:
            print(f"  {name}: FAILED\n{run.stderr[-3000:]}")
            failed = True
            continue
        result = json.loads(run.stdout.strip().splitlines()[-1])
        answer = result["answer"]
        good = (
            answer.get("error", {}).get("code") == EXPECTED_ERROR.get(name)
            and result["scored_rows"] == 6
            and result["from_layer"]
            and not result["pandas_loaded"]
            and result["hooks"] == HOOKS.get(name, 2)
        )
        summary = answer.get("model_version") or answer.get("skipped") or answer.get("error", {}).get("code")
        print(
            f"  {name:<22} import {result['import_s']:.2f}s, SnapStart hooks {result['hooks_s']:.2f}s, "
            f"first answer {result['first_answer_s']:.2f}s "
            f"({summary}; {result['hooks']} hooks; batch scorer rows {result['scored_rows']}; "
            f"pandas loaded: {result['pandas_loaded']})"
            f" {'ok' if good else 'FAILED'}"
        )
        failed |= not good
    failed |= not probe_overlay(args.python, args.build_dir, args.runtime_dir, args.model, env)
    failed |= not probe_retrain(args.python, args.build_dir, args.runtime_dir, args.model, env)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
