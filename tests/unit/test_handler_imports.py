"""Each function imports only what it uses: checked in a fresh interpreter per handler.

The Lambda layer has no pandas; LightGBM would import it if it were there, so the probe blocks
it: a function that needed pandas would fail to answer, not silently pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from recsys.train.pipeline import TrainJob

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("fastapi", "starlette", "mangum", "pandas", "lightgbm", "scipy", "implicit", "pandera", "boto3")

PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[3])

class NoPandas:  # the layer has none: any import of it fails as it would there
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoPandas())
module, event = sys.argv[1], json.loads(sys.argv[2])
heavy = json.loads(sys.argv[4])
handler = __import__(module).handler
at_import = sorted(m for m in heavy if m in sys.modules)

class Context:
    function_name = module; memory_limit_in_mb = 2048; aws_request_id = "import-probe"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + module
    def get_remaining_time_in_millis(self): return 60000

import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    answer = handler(event, Context())
after_answer = sorted(m for m in heavy if m in sys.modules)
print(json.dumps({"at_import": at_import, "after_answer": after_answer, "answer": answer}))
"""

HTTP = {"fastapi", "starlette", "mangum"}
CASES = {
    # function folder, module, a direct-invoke event, what it may load at import, and after its first answer
    "rerank": (
        "rerank_handler",
        {"user_id": "u00001", "k": 3},
        {"fastapi", "starlette", "mangum"},
        {"lightgbm", "scipy"},
    ),
    "candidates": ("candidates_handler", {"user_id": "u00001", "k": 3}, {"fastapi", "starlette", "mangum"}, set()),
    "batch_scoring": ("batch_scoring_handler", {"Event": "s3:TestEvent"}, set(), set()),
    # refused by validation (dated 2100) before any AWS call: the probe has no AWS
    "ingest": (
        "ingest_handler",
        {
            "userId": "u1",
            "sessionId": "s1",
            "eventList": [{"eventType": "click", "itemId": "i1", "sentAt": 4102444800}],
        },
        {"fastapi", "starlette", "mangum"},
        set(),
    ),
}
EXPECTED_ERROR = {"ingest": "invalid_request"}
EXTRA_ENV = {"ingest": {"USER_EVENTS_TABLE": "probe-events", "EVENTS_STREAM": "probe-log"}}


@pytest.mark.parametrize("function", sorted(CASES))
def test_each_handler_loads_only_what_it_uses(function: str, synthetic_run: TrainJob, tmp_path: Path) -> None:
    module, event, at_import, later = CASES[function]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MODEL_", "PYTHON"))},
        "MODEL_DIR": str(synthetic_run.out),
        "POWERTOOLS_TRACE_DISABLED": "true",
        **EXTRA_ENV.get(function, {}),
    }
    folder = str(ROOT / "functions" / function)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, json.dumps(event), folder, json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["answer"].get("error", {}).get("code") == EXPECTED_ERROR.get(function), result["answer"]
    assert set(result["at_import"]) == at_import
    assert set(result["after_answer"]) == at_import | later


#: the head of a probe that must run without pandas: any import of it fails
NO_PANDAS = r"""
import json, sys
from pathlib import Path

class NoPandas:
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoPandas())
"""

OVERLAY_PROBE = (
    NO_PANDAS
    + r"""import overlay_handler  # noqa: F401  (the function's own import chain)
from recsys.trends.activity import ItemActivity
from recsys.trends.overlay import build_overlay

model, out = Path(sys.argv[1]), Path(sys.argv[2])
now = ItemActivity.read(model).now
events = [{"user_id": "u1", "item_id": "new-1", "event_type": "click", "sent_at_ms": int(now * 1000) + 5}]
print(json.dumps({"new_items": build_overlay(model, events, now + 60, out).new_items}))
"""
)


def test_the_overlay_function_builds_an_overlay_without_pandas(synthetic_run: TrainJob, tmp_path: Path) -> None:
    """The overlay refresh runs on the serving layer, which has no pandas."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MODEL_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "functions" / "overlay"), str(ROOT / "shared")])
    probe = subprocess.run(
        [sys.executable, "-c", OVERLAY_PROBE, str(synthetic_run.out), str(tmp_path / "overlay")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout.strip().splitlines()[-1]) == {"new_items": 1}


RETRAIN_PROBE = (
    NO_PANDAS
    + r"""import retrain_handler  # noqa: F401  (the function's own import chain)
from recsys.retrain.inputs import TrainingInputs  # the gather step
from recsys.store.lifecycle import check_servable  # what the promote step runs on the candidate

check_servable(Path(sys.argv[1]), "probe")
print(json.dumps({"servable": True}))
"""
)


def test_the_retrain_function_gathers_and_promotes_without_pandas(synthetic_run: TrainJob) -> None:
    """Gather and promote run on the serving layer (no pandas); only the training image has it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MODEL_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "functions" / "retrain"), str(ROOT / "shared")])
    probe = subprocess.run(
        [sys.executable, "-c", RETRAIN_PROBE, str(synthetic_run.out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout.strip().splitlines()[-1]) == {"servable": True}
