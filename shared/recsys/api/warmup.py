"""A request per route through the whole stack (Mangum, FastAPI, pydantic, both stages), before a
SnapStart snapshot: lazy imports, compiled validators and first-call caches end up in the snapshot,
not in a user's first request.

The events are the minimum API Gateway (HTTP API, payload 2.0) sends; ids come from the loaded
model: its user with the longest history, an id it does not know (the fallback), and that user's items.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import numpy as np

from recsys.loaded import LoadedModel
from recsys.runtime.local_context import LocalLambdaContext
from recsys.runtime.telemetry import metrics

UNKNOWN_USER = "warm-up-unknown-user"
Asgi = Callable[[dict[str, Any], Any], dict[str, Any]]


def http_event(method: str, route: str, path: str, query: str = "", body: Any = None) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event with only the fields Mangum reads."""
    http = {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "warm-up"}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": "localhost"},
        "requestContext": {"http": http, "routeKey": f"{method} {route}", "stage": "$default", "requestId": "warm-up"},
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def warm_up_events(function: str, model: LoadedModel) -> dict[str, dict[str, Any]]:
    """route -> its event, for the routes this function serves."""
    arrays = model.arrays
    heaviest = int(np.argmax(np.diff(arrays.seen.indptr)))
    user = arrays.users.ids[heaviest]
    latest = arrays.seen.values[arrays.seen.indptr[heaviest] : arrays.seen.indptr[heaviest + 1]][-5:]
    items = arrays.items.to_ids(latest).tolist() or list(arrays.items.ids[:5])
    if function == "rerank":
        return {
            "GET /recommendations (known user)": http_event(
                "GET", "/recommendations/{user_id}", f"/recommendations/{quote(user, safe='')}", "k=10"
            ),
            "GET /recommendations (unknown user)": http_event(
                "GET", "/recommendations/{user_id}", f"/recommendations/{UNKNOWN_USER}", "k=10"
            ),
            "POST /rerank": http_event("POST", "/rerank", "/rerank", body={"user_id": user, "item_ids": items, "k": 5}),
        }
    return {
        "POST /candidates": http_event(
            "POST", "/candidates", "/candidates", body={"user_id": user, "k": 20, "recent_items": items[-1:]}
        ),
        "GET /items/{item_id}/similar": http_event(
            "GET", "/items/{item_id}/similar", f"/items/{quote(items[-1], safe='')}/similar", "k=10"
        ),
    }


def warm_up(asgi: Asgi, function: str, model: LoadedModel) -> dict[str, int]:
    """Send each route's event through `asgi`; returns route -> status. Leaves no metrics behind."""
    statuses = {}
    for route, event in warm_up_events(function, model).items():
        statuses[route] = int(asgi(event, LocalLambdaContext(function_name=f"{function}-warm-up"))["statusCode"])
    metrics.clear_metrics()  # the warm-up is not traffic: its latencies must not reach the first real request's EMF
    return statuses
