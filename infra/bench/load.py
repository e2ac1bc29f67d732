"""A local load test: `recsys serve` (as `make serve` runs it) under locust, headless.

Why a separate server process and locust as another: the numbers should be those of the server a
developer runs, with its own RSS and CPU, and locust's gevent monkey-patching must not reach this
script (which waits on the server, samples its memory and stops it).

Steps: start the server on a free port, wait for GET /health, note its RSS; load the model with
GET /model (health answers before any model is loaded) and note the RSS again: that is the start
of the run. Then locust runs `locustfile.py` for LOAD_SECONDS (default 60) with LOAD_USERS users
(default 8, all started in the first second), while the server's RSS is sampled every 0.5 s. At
the end: the RSS, the server's CPU time, and a Markdown table per route built from every
request's latency (float ms, see locustfile.py).

Exit 1 if any request ended in a 5xx or a connection error, or got a status it should not have
(a 4xx for a well-formed request, a 2xx for a malformed one); 0 otherwise.

Usage (from infra/bench, as `make load` runs it): ../../.venv/bin/python load.py ../../models/demo
"""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import psutil
from common import ROOT, percentiles_ms

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
BIN = Path(sys.executable).parent  # the virtualenv this runs in holds recsys and locust
MB = 1024 * 1024


@dataclass(frozen=True)
class Memory:
    """The server's RSS in MB at the moments that tell model loading apart from growth under load."""

    idle: float  # /health answers, no model loaded yet
    start: float  # model loaded, before the first locust request
    peak: float
    half: float  # halfway through the run: growth after it is not warm-up
    end: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(model_dir: Path, port: int, log: TextIO) -> subprocess.Popen[bytes]:
    """`make serve`'s command and environment, with Powertools' logs at WARNING (uvicorn's access
    log still goes to `log`: a pipe nobody reads would fill up and stall the server)."""
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    command = [str(BIN / "recsys"), "serve", "--model", str(model_dir), "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def get_json(url: str, timeout: float = 30.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def wait_for_health(base: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode} before answering /health")
        try:
            get_json(f"{base}/health", timeout=2.0)
        except OSError:
            time.sleep(0.2)
        else:
            return
    raise RuntimeError(f"no answer from {base}/health within {timeout:.0f} s")


def rss_mb(process: psutil.Process) -> float:
    rss: int = process.memory_info().rss
    return rss / MB


def sample_rss(process: psutil.Process, samples: list[float], stop: threading.Event) -> None:
    """Every 0.5 s until stopped: enough to see a peak and a trend in a 60 s run."""
    while not stop.wait(0.5):
        samples.append(rss_mb(process))


def tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:]


def run_locust(base: str, model_dir: Path, seconds: int, users: int, tmp: Path) -> dict[str, Any]:
    out, log = tmp / "samples.json", tmp / "locust.log"
    env = {**os.environ, "LOAD_SAMPLES": str(out), "LOAD_MODEL_DIR": str(model_dir)}
    command = [
        *(str(BIN / "python"), "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", base),
        *("--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s", "--only-summary"),
    ]
    with log.open("w") as output:
        # locust's exit code is 1 when a request failed: the samples say which, so only their absence matters
        subprocess.run(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, check=False)
    if not out.is_file():
        raise RuntimeError(f"locust wrote no samples; its output ends with:\n{tail(log)}")
    report: dict[str, Any] = json.loads(out.read_text())
    return report


@dataclass(frozen=True)
class Run:
    report: dict[str, Any]  # the locustfile's samples and failure messages
    memory: Memory
    cpu_seconds: float  # the server's, user + system, during the locust run
    tracebacks: int  # in the server's log: unhandled errors, even if a response hid them


def measure(model_dir: Path, version: str, seconds: int, users: int, tmp: Path) -> Run:
    """Server up, model loaded, locust run, server stopped; the server's log is shown if anything fails."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "server.log"
    with log.open("w") as output:
        server = start_server(model_dir, port, output)
    try:
        wait_for_health(base, server)
        process = psutil.Process(server.pid)
        idle = rss_mb(process)
        served = get_json(f"{base}/model", timeout=120.0)["model_version"]
        if served != version:
            raise RuntimeError(f"the server loaded model {served}, the ids come from {version}")
        rss = [rss_mb(process)]
        cpu_before = sum(process.cpu_times()[:2])
        stop = threading.Event()
        sampler = threading.Thread(target=sample_rss, args=(process, rss, stop), daemon=True)
        sampler.start()
        try:
            report = run_locust(base, model_dir, seconds, users, tmp)
        finally:
            stop.set()
            sampler.join()
        end = rss_mb(process)
        cpu_seconds = sum(process.cpu_times()[:2]) - cpu_before
    except Exception:
        print(f"the server's log ends with:\n{tail(log)}", file=sys.stderr)
        raise
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    memory = Memory(idle, rss[0], max([*rss, end]), rss[len(rss) // 2], end)
    return Run(report, memory, cpu_seconds, log.read_text(errors="replace").count("Traceback"))


def route_rows(samples: list[list[Any]], seconds: float) -> list[str]:
    """One Markdown row per route (well-formed first, then malformed), then a total."""
    by_route: dict[str, list[list[Any]]] = collections.defaultdict(list)
    for sample in samples:
        by_route[sample[0]].append(sample)
    order = sorted(by_route, key=lambda route: (route.startswith("malformed"), route))
    rows = []
    for route, route_samples in [*((r, by_route[r]) for r in order), ("all routes", samples)]:
        times = [s[2] / 1000 for s in route_samples]
        stats = percentiles_ms(times)
        failures = sum(s[3] != "ok" for s in route_samples)
        statuses = collections.Counter(s[4] for s in route_samples)
        shown = ", ".join(f"{status} x{n}" for status, n in sorted(statuses.items()))
        rows.append(
            f"| {route} | {len(route_samples)} | {failures} | {stats['p50']:.1f} | {stats['p90']:.1f} | "
            f"{stats['p99']:.1f} | {max(times) * 1000:.1f} | {len(route_samples) / seconds:.1f} | {shown} |"
        )
    return rows


def main() -> int:
    model_dir = (Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "models" / "demo").resolve()
    seconds = int(os.environ.get("LOAD_SECONDS", "60"))
    users = int(os.environ.get("LOAD_USERS", "8"))
    version = json.loads((model_dir / "manifest.json").read_text())["version"]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        run = measure(model_dir, version, seconds, users, Path(tmp))
    samples, memory, think = run.report["samples"], run.memory, run.report["think_seconds"]
    if not samples:
        raise RuntimeError("locust made no request")
    # the traffic's own window (first request sent to last answer), not locust's timer, which includes start-up
    run_seconds = max(s[1] + s[2] / 1000 for s in samples) - min(s[1] for s in samples)
    errors = sum(s[3] == "error" for s in samples)
    unexpected = sum(s[3] == "unexpected" for s in samples)
    print(f"## Load test (model {version})\n")
    print(
        f"`recsys serve` (uvicorn, one process) on 127.0.0.1 under locust, headless: {users} users started in "
        f"the first second, {think[0] * 1000:.0f}-{think[1] * 1000:.0f} ms between each user's requests, "
        f"{run_seconds:.1f} s; {os.cpu_count()} cores, load average {load_before[0]:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after. Malformed requests answered with a 4xx count as successes.\n"
    )
    print("| route | requests | failures | p50 ms | p90 ms | p99 ms | max ms | requests/s | statuses |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(route_rows(samples, run_seconds)))
    print(
        f"\nErrors (5xx or connection): **{errors}**; unexpected statuses: {unexpected}; "
        f"tracebacks in the server's log: {run.tracebacks}."
    )
    for message, count in collections.Counter(run.report["messages"]).most_common(5):
        print(f"- {count} x {message}")
    print(
        f"\nServer RSS: {memory.idle:.0f} MB idle (no model), {memory.start:.0f} MB at the start (model loaded), "
        f"{memory.end:.0f} MB at the end ({memory.end - memory.start:+.0f} MB; {memory.end - memory.half:+.0f} MB "
        f"over the second half), peak {memory.peak:.0f} MB. Server CPU: {run.cpu_seconds:.1f} s in {run_seconds:.0f} s "
        f"({100 * run.cpu_seconds / run_seconds:.0f}% of one core)."
    )
    return 1 if errors or unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
