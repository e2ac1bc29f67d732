"""`make demo` and `make invoke` as a new user runs them: their output, not only their exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..conftest import ROOT

if TYPE_CHECKING:
    from recsys.train.pipeline import TrainJob

SCRIPTS = ROOT / "infra" / "scripts"


def run(script: str, *args: str, model: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MODEL_"))}
    env.update(MODEL_DIR=str(model), **extra_env)
    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args], env=env, capture_output=True, text=True, check=False
    )


def test_the_demo_tells_its_story_in_100_columns(demo_model_dir: Path) -> None:
    done = run("demo.py", "--model", str(demo_model_dir), model=demo_model_dir)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    headings = [line for line in lines if line.startswith("=== ")]
    expected = [
        "the backtest",
        "users with history",
        "never seen",
        "Lambda functions",
        "events",
        "live trends",
        "batch",
        "where to look",
    ]
    assert len(headings) == len(expected)
    for heading, words in zip(headings, expected, strict=True):
        assert words in heading
    # users with history: their latest titles, then recommendations with a reason and the chart's rank
    users = [line for line in lines if line.startswith("user ") and " seen; latest: " in line]
    assert len(users) == 3
    first = lines.index(users[0])
    rows = lines[first + 2 : first + 7]
    assert [row.split(".")[0].strip() for row in rows] == ["1", "2", "3", "4", "5"]
    assert all(row.split()[-1].isdigit() or row.endswith("not in top 50") for row in rows)
    # events: stored once, the visitor served from its session without the titles it watched, 185's #1 gone
    assert '  -> {"accepted": 3, "duplicates": 0}' in lines
    assert '  the same events again -> {"accepted": 0, "duplicates": 3}' in lines
    watched_line = next(line for line in lines if line.startswith("POST /events, watched: "))
    watched = watched_line.removeprefix("POST /events, watched: ").split("; ")
    after = lines.index(next(line for line in lines if line.startswith('the next request: fallback "session"')))
    listed = lines[after + 1 : after + 11]
    assert [row[3:].split(".")[0].strip() for row in listed] == [str(rank) for rank in range(1, 11)]
    assert not any(title in row for title in watched for row in listed)
    assert any(line.endswith("and the watched title is gone: True") for line in lines)
    # live trends: after the overlay refresh, the title 25 visitors watched and the new one lead a new visitor's list
    assert "  the serving container re-checks: swapped" in lines
    assert "events since training folded in, 1 new item(s)" in done.stdout
    burst = next(line for line in lines if line.startswith("POST /events/batch: 25 visitors watch "))
    rising = burst.removeprefix("POST /events/batch: 25 visitors watch ").split(" and ")[0]
    table = lines.index("a new visitor's top 5, before -> after the refresh:")
    after = [row.split("-> ")[1].split(" via ")[0].strip() for row in lines[table + 1 : table + 6]]
    assert after[:2] == [rising, "demo-new-release"]
    assert rising not in lines[table + 1].split("-> ")[0]  # it was not the chart's #1 before
    assert "rows read 5, scored 3, failed 2" in done.stdout
    assert "already scored (same input ETag)" in done.stdout
    report = demo_model_dir.with_name(demo_model_dir.name + ".report.html")
    assert report.is_file() and report.stat().st_size > 10_000


def test_invoke_prints_only_the_answer_on_stdout(demo_model_dir: Path) -> None:
    done = run("invoke.py", "--function", "rerank", model=demo_model_dir)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)  # nothing but the JSON answer: no EMF metric line before it
    assert answer["user_id"] == "185" and len(answer["items"]) == 10
    assert '"_aws"' not in done.stderr  # CloudWatch's metric lines only with --verbose
    verbose = run("invoke.py", "--function", "rerank", "--verbose", model=demo_model_dir, POWERTOOLS_LOG_LEVEL="INFO")
    assert '"_aws"' in verbose.stderr and '"level":"INFO"' in verbose.stderr  # logs and metrics, on stderr
    assert json.loads(verbose.stdout)["user_id"] == "185"


def test_invoke_batch_with_no_event_runs_against_an_embedded_s3(demo_model_dir: Path) -> None:
    done = run("invoke.py", "--function", "batch_scoring", model=demo_model_dir)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["results"][0]
    assert (result["rows_read"], result["rows_scored"], result["rows_failed"]) == (3, 2, 1)
    assert "errors.jsonl" in done.stderr and "line 3: malformed line" in done.stderr


def test_invoke_batch_on_an_s3_test_event_answers_without_staging(demo_model_dir: Path) -> None:
    done = run(
        "invoke.py",
        "--function",
        "batch_scoring",
        "--event",
        "tests/events/batch_s3_test_event.json",
        model=demo_model_dir,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"skipped": "s3:TestEvent"}


def test_invoke_ingest_stores_the_direct_event_in_an_embedded_table_and_log(demo_model_dir: Path) -> None:
    done = run("invoke.py", "--function", "ingest", model=demo_model_dir)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"accepted": 2, "duplicates": 0}
    assert "table recsys-user-events: 2 events" in done.stderr
    assert "user 185  1795434600000#watch#1300854  item 1300854" in done.stderr
    assert "log s3://recsys-local-events/recsys/events/" in done.stderr


def test_invoke_overlay_refreshes_the_overlay_of_a_model_in_an_embedded_s3(demo_model_dir: Path) -> None:
    done = run("invoke.py", "--function", "overlay", model=demo_model_dir)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["status"], answer["events"], answer["log_objects_read"]) == ("published", 0, 0)
    assert answer["model_version"] in done.stderr  # what was published, then refreshed


def test_invoke_with_a_missing_event_file_says_so_in_one_line(demo_model_dir: Path) -> None:
    done = run("invoke.py", "--function", "rerank", "--event", "nope.json", model=demo_model_dir)
    assert done.returncode == 1
    assert done.stderr.strip() == "invoke: error: nope.json: no such event file (the events are in tests/events/)"


def test_the_embedded_s3_removes_its_cache_and_restores_the_environment() -> None:
    sys.path.insert(0, str(SCRIPTS))
    from local_s3 import embedded_s3

    before = dict(os.environ)
    with embedded_s3() as endpoint:
        assert os.environ["AWS_ENDPOINT_URL"] == endpoint
        cache = Path(os.environ["MODEL_CACHE_DIR"])
        (cache / "model.bin").write_bytes(b"cached")
    assert not cache.exists()
    assert dict(os.environ) == before


def test_the_catalog_benchmark_runs_at_a_tiny_size(synthetic_run: TrainJob) -> None:
    """`make bench`'s catalog rows (infra/bench/catalog.py) on the small synthetic model, so the code
    cannot rot between benchmark runs; what it prints is checked, how fast is not."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MODEL_"))}
    env.update(BENCH_CATALOG_BATCH_SIZES="300", BENCH_REPEAT="20", BENCH_PAIRED_ROUNDS="1", BENCH_PAIRED_USERS="1024")
    done = subprocess.run(
        [sys.executable, "catalog.py", str(synthetic_run.out)],
        cwd=ROOT / "infra" / "bench",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split("|") for line in done.stdout.splitlines() if line.startswith("| 300 | ")]
    assert [row[2].strip() for row in rows] == ["random", "heaviest"]
    assert all(row[4].strip() == "300" and float(row[6].replace(",", "")) > 0 for row in rows)  # users, users/s
    lines = done.stdout.splitlines()
    online = [line for line in lines if line.startswith(("| random known", "| the 20 ", "| the heav"))]
    assert len(online) == 3 and "peak RSS of the serving process" in done.stdout
    # the length-order prefixes (forced on at this size) answer as the whole catalog does
    assert "faster in " in done.stdout and "same answers: True" in done.stdout
