"""The traffic of `infra/bench/load.py`: locust users that call every serving route as clients would.

Mix per 100 requests: 50 GET /recommendations, 15 each of POST /rerank, POST /candidates and GET
/items/{id}/similar, 5 malformed. User and item ids come from the model's own id maps, so most
requests take the full two-stage path; 10% of users are unknown, as in `serving.py`, so the
popularity fallback is exercised too; k is drawn from 5..20.

Outcomes: a well-formed request must get 200; a malformed one (bad k, bad id, unknown item,
non-JSON or broken JSON body) must get a 4xx, which counts as a success, since answering it is
the API's job. Everything else is a failure, and a 5xx or a connection error (status 0) is an
error: load.py tells the two apart by status.

With LOAD_SAMPLES set (load.py sets it), every request's route, start (epoch s), latency in ms
(float, not locust's rounded buckets: these routes take a few ms), outcome and status are written
there as JSON when the test stops. Without it this file runs on its own: `locust -f infra/bench/locustfile.py`.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, between, events, task
from locust.contrib.fasthttp import ResponseContextManager
from recsys import artifacts as A
from recsys import columns as C
from recsys.idmap import IdMap

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = Path(os.environ.get("LOAD_MODEL_DIR", ROOT / "models" / "demo"))
USERS = IdMap.load(MODEL_DIR / A.USER_IDS, C.USER_ID).ids
ITEMS = IdMap.load(MODEL_DIR / A.ITEM_IDS, C.ITEM_ID).ids
# gevent's loop still holds the clock it read when locust was imported: without this, the time spent
# above (importing pyarrow, reading the ids: ~2 s on a busy machine) comes off --run-time
gevent.get_hub().loop.update_now()
UNKNOWN_USER_SHARE = 0.1
K_RANGE = (5, 20)
THINK_SECONDS = (0.05, 0.15)
SEEDS = itertools.count(7)

_samples: list[tuple[str, float, float, str, int]] = []
_messages: list[str] = []


class RecsysUser(FastHttpUser):
    """One client: a short think time between requests (50-150 ms), so 8 users offer at most
    ~80 requests/s and the latencies measure service, not a queue of our own making."""

    wait_time = between(*THINK_SECONDS)

    def on_start(self) -> None:
        """Its own seeded generator: each user sends the same sequence of requests in every run."""
        self.rng = random.Random(next(SEEDS))

    def user_id(self) -> str:
        if self.rng.random() < UNKNOWN_USER_SHARE:
            return f"unknown-{self.rng.randrange(10**6)}"
        return self.rng.choice(USERS)

    def items(self, low: int, high: int) -> list[str]:
        return self.rng.sample(ITEMS, self.rng.randint(low, high))

    def k(self) -> int:
        return self.rng.randint(*K_RANGE)

    @task(50)
    def recommendations(self) -> None:
        with self.client.get(
            f"/recommendations/{self.user_id()}?k={self.k()}",
            name="GET /recommendations/{user_id}",
            catch_response=True,
        ) as response:
            expect_ok(response)

    @task(15)
    def rerank(self) -> None:
        body = {"user_id": self.user_id(), "item_ids": self.items(2, 8), "k": self.k()}
        with self.client.post("/rerank", json=body, name="POST /rerank", catch_response=True) as response:
            expect_ok(response)

    @task(15)
    def candidates(self) -> None:
        body = {"user_id": self.user_id(), "k": self.k(), "recent_items": self.items(0, 2)}
        with self.client.post("/candidates", json=body, name="POST /candidates", catch_response=True) as response:
            expect_ok(response)

    @task(15)
    def similar(self) -> None:
        item = self.rng.choice(ITEMS)
        with self.client.get(
            f"/items/{item}/similar?k={self.k()}", name="GET /items/{item_id}/similar", catch_response=True
        ) as response:
            expect_ok(response)

    @task(5)
    def malformed(self) -> None:
        """One of five mistakes clients make; each has its own row, so its 4xx latency stays apart."""
        kind = self.rng.randrange(5)
        if kind == 0:
            k = self.rng.choice(["0", "101", "-3", "abc", "true"])
            call = self.client.get(
                f"/recommendations/{self.rng.choice(USERS)}?k={k}", name="malformed: bad k", catch_response=True
            )
        elif kind == 1:
            call = self.client.get("/recommendations/bad%20id%21", name="malformed: bad user id", catch_response=True)
        elif kind == 2:
            call = self.client.get(
                f"/items/no-such-item-{self.rng.randrange(10**6)}/similar",
                name="malformed: unknown item",
                catch_response=True,
            )
        elif kind == 3:
            call = self.client.post(
                "/rerank",
                data=json.dumps({"user_id": self.user_id(), "item_ids": self.items(2, 4)}),
                headers={"Content-Type": "text/plain"},
                name="malformed: non-JSON content type",
                catch_response=True,
            )
        else:
            call = self.client.post(
                "/candidates",
                data='{"user_id": "185", "k": ',
                headers={"Content-Type": "application/json"},
                name="malformed: broken JSON body",
                catch_response=True,
            )
        with call as response:
            if 400 <= response.status_code < 500:
                response.success()
            else:
                fail(response, "a 4xx")


def expect_ok(response: ResponseContextManager) -> None:
    if response.status_code == 200:
        response.success()
    else:
        fail(response, "200")


def fail(response: ResponseContextManager, expected: str) -> None:
    """The failure's message says which kind it is; the status decides whether it is an error."""
    body = (response.text or "")[:200] if response.status_code else ""
    if response.status_code == 0:
        response.failure(f"connection error: {response.error}")
    elif response.status_code >= 500:
        response.failure(f"server error {response.status_code}: {body}")
    else:
        response.failure(f"unexpected status {response.status_code} (expected {expected}): {body}")


if os.environ.get("LOAD_SAMPLES"):

    @events.request.add_listener
    def _on_request(
        name: str, start_time: float, response_time: float, response: Any, exception: BaseException | None, **_: Any
    ) -> None:
        status = getattr(response, "status_code", 0) or 0
        if exception is None:
            outcome = "ok"
        elif status == 0 or status >= 500:
            outcome = "error"
        else:
            outcome = "unexpected"
        _samples.append((name, start_time, response_time, outcome, status))
        if exception is not None:
            _messages.append(str(exception))

    @events.test_stop.add_listener
    def _on_test_stop(**_: Any) -> None:
        """Written here, not at exit: test_stop runs once the users are stopped, before locust quits."""
        Path(os.environ["LOAD_SAMPLES"]).write_text(
            json.dumps({"samples": _samples, "messages": _messages, "think_seconds": THINK_SECONDS})
        )
