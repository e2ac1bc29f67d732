"""Schemathesis against the app's own OpenAPI document: every function's routes, a local synthetic model.

What README.md "Serving" promises, checked on generated requests (schema-valid and schema-breaking):
client input never causes a 5xx; every 4xx body is exactly {"error": {"code": str, "message": str}};
every 2xx body matches the response model the route documents (schemathesis's checks).

Generation is bounded and seeded, so CI sees the same requests on every run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import pytest
import schemathesis
from hypothesis import settings
from hypothesis import strategies as st
from recsys.api.app import create_app
from recsys.api.settings import ApiSettings
from recsys.loaded import LoadedModel
from recsys.train.pipeline import TrainJob

ApiCase = schemathesis.Case[Any]
Method = Literal["GET", "POST", "PUT", "DELETE", "TRACE"]
SEED = 20_240_601
EXAMPLES_PER_OPERATION = 40
#: No example database: a run replays nothing a previous one stored, so each run is the seed's alone.
#: one clock for the whole run: a strategy's bounds may not move between the cases hypothesis replays
NOW = int(time.time())
GENERATION = {"max-examples": EXAMPLES_PER_OPERATION, "database": "none"}

#: Checks left out, and why: the schema types ids as any string and k as any integer, while the app
#: also enforces its limits (the id pattern, 1 <= k <= MAX_K, a known genre, a non-empty `item_ids`)
#: and answers 422 for them, as documented; the 405 `Allow` header has its own test below.
DISABLED_CHECKS = {
    "positive_data_acceptance": {"enabled": False},
    "unsupported_method": {"enabled": False},
}

#: Every phase (explicit examples, the coverage phase's edge cases, fuzzing), schema-valid and invalid data.
FUZZ_SCHEMA = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(),
    config=schemathesis.Config.from_dict(
        {"seed": SEED, "generation": {**GENERATION, "mode": "all"}, "checks": DISABLED_CHECKS}
    ),
)
#: Schema-valid data only, into which the test puts ids the model knows, so that real answers get checked.
KNOWN_IDS_SCHEMA = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {**GENERATION, "mode": "positive"},
            "checks": DISABLED_CHECKS,
        }
    ),
).exclude(path=["/health", "/model"])


@dataclass(frozen=True)
class ServedIds:
    """What the served model knows: ids to steer generated requests towards answers with items."""

    users: tuple[str, ...]
    items: tuple[str, ...]
    genres: tuple[str, ...]


@pytest.fixture(scope="module")
def served_ids(synthetic_run: TrainJob) -> ServedIds:
    arrays = LoadedModel.from_dir(synthetic_run.out).arrays
    genres = tuple(name.split("=", 1)[1] for name in arrays.feature_tables().tag_names if name.startswith("genres="))
    assert arrays.users.ids and arrays.items.ids and genres
    return ServedIds(users=arrays.users.ids, items=arrays.items.ids, genres=genres)


@pytest.fixture(autouse=True)
def _serve_synthetic_model(monkeypatch: pytest.MonkeyPatch, synthetic_run: TrainJob, event_store: object) -> None:
    """The app serves the synthetic model from its directory (the container is reset around each test), and
    takes events into the events table and stream (moto)."""
    monkeypatch.setenv("MODEL_DIR", str(synthetic_run.out))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    for name in ("MODEL_BUCKET", "MODEL_VERSION", "DEFAULT_K", "MAX_K", "MAX_ITEM_IDS", "MAX_ID_LENGTH"):
        monkeypatch.delenv(name, raising=False)


def assert_error_shape_and_no_server_error(response: schemathesis.Response) -> None:
    """No 5xx; a 4xx body is exactly {"error": {"code": str, "message": str}} and nothing else."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        body = json.loads(response.content)
        assert isinstance(body, dict) and set(body) == {"error"}, body
        error = body["error"]
        assert isinstance(error, dict) and set(error) == {"code", "message"}, body
        assert isinstance(error["code"], str) and error["code"], body
        assert isinstance(error["message"], str) and error["message"], body


@FUZZ_SCHEMA.parametrize()
@settings(deadline=None)  # the first request of a test loads the model
def test_generated_requests_never_fail_the_server_and_errors_have_one_shape(case: ApiCase) -> None:
    """Any request the schema allows or breaks (wrong types, missing fields, other media types, methods):
    never a 5xx, each 4xx in the one error shape, each 2xx as documented (schemathesis's response checks)."""
    response = case.call_and_validate()
    assert_error_shape_and_no_server_error(response)


@KNOWN_IDS_SCHEMA.parametrize()
@KNOWN_IDS_SCHEMA.given(data=st.data())
@settings(deadline=None)  # the first request of a test loads the model
def test_requests_with_known_ids_get_documented_answers(
    case: ApiCase, data: st.DataObject, served_ids: ServedIds
) -> None:
    """Schema-valid requests whose ids, genre and k are often ones the model and limits accept: the answers
    (ranked items, candidates with every source's opinion, similar items) match their documented models."""
    steer_towards_known_ids(case, data, served_ids)
    response = case.call_and_validate()
    assert_error_shape_and_no_server_error(response)


def steer_towards_known_ids(case: ApiCase, data: st.DataObject, ids: ServedIds) -> None:
    """Replace, each with probability 3/4, a generated id, list of ids, genre or k by one the app accepts.

    Every replacement is schema-valid, so the case stays a schema-valid one.
    """
    max_k = ApiSettings().max_k
    users, items = st.sampled_from(ids.users), st.sampled_from(ids.items)
    item_lists = st.lists(items, max_size=8)

    def maybe[T](current: T, known: st.SearchStrategy[T]) -> T:
        return data.draw(known) if data.draw(st.integers(0, 3)) else current

    for name, known_value in (("user_id", users), ("item_id", items)):
        if name in case.path_parameters:
            case.path_parameters[name] = maybe(case.path_parameters[name], known_value)
    for name, strategy in (
        ("k", st.integers(1, max_k)),
        ("genre", st.sampled_from(ids.genres)),
        ("exclude", item_lists.map(",".join)),
        ("recent_items", item_lists.map(",".join)),
    ):
        if case.query and name in case.query:
            case.query[name] = maybe(case.query[name], strategy)
    body_fields: list[tuple[str, st.SearchStrategy[Any]]] = [
        ("user_id", users),
        ("k", st.integers(1, max_k)),
        ("item_ids", st.lists(items, min_size=1, max_size=12)),
        ("recent_items", item_lists),
        ("exclude", item_lists),
    ]
    if isinstance(case.body, dict):
        for name, known_values in body_fields:
            if name in case.body:
                case.body[name] = maybe(case.body[name], known_values)
        # events (POST /events, /events/batch): a known user and item, sent in the last hour
        event_fields = [("userId", users), ("itemId", items), ("sentAt", st.integers(NOW - 3600, NOW))]
        events = case.body.get("eventList", case.body.get("events"))
        for entry in [case.body, *(events if isinstance(events, list) else [])]:
            if isinstance(entry, dict):
                for name, known_values in event_fields:
                    if name in entry:
                        entry[name] = maybe(entry[name], known_values)


UNDECLARED_METHODS: list[tuple[Method, str, Method]] = [
    ("TRACE", "/health", "GET"),
    ("DELETE", "/model", "GET"),
    ("PUT", "/recommendations/{user_id}", "GET"),
    ("GET", "/rerank", "POST"),
    ("GET", "/candidates", "POST"),
    ("POST", "/items/{item_id}/similar", "GET"),
    ("GET", "/events", "POST"),
]


@pytest.mark.parametrize(("method", "path", "declared"), UNDECLARED_METHODS)
def test_a_method_a_route_does_not_declare_gets_405_naming_the_allowed_one(
    method: Method, path: str, declared: Method
) -> None:
    """405 for an undeclared method, in the error shape, with `Allow` naming the declared method."""
    operation = FUZZ_SCHEMA[path][declared]
    parameters = {name: "u00001" for name in ("user_id", "item_id") if "{" + name + "}" in path}
    response = operation.Case(method=method, path_parameters=parameters).call()
    assert response.status_code == 405
    assert_error_shape_and_no_server_error(response)
    allowed = [name.strip() for value in response.headers.get("allow", []) for name in value.split(",")]
    assert declared in allowed, response.headers
