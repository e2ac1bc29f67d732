"""What one retraining reads, fixed when it starts: every object's key and ETag.

    <prefix>/history/interactions/<any name>   the interactions the first model was trained on (any
                                               format `recsys train` reads; several files are one table)
    <prefix>/history/items/<one file>           optional item metadata, as `recsys train --items`
    <prefix>/history/train.toml                 optional training settings over the defaults
    <prefix>/events/...                         the event log (Firehose)
    <prefix>/retraining/<run>/inputs.json        this list, written by the gather step
    <prefix>/retraining/LAST                     the inputs' fingerprint of the last run that reached the gate

Pinning ETags makes a run reproducible and lets the training step refuse an input that changed under it.
The fingerprint lets a scheduled run with nothing new stand down instead of training the same model again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from recsys.errors import InputDataError
from recsys.store.s3 import EVENT_LOG, S3ModelStore

HISTORY: Final = "history"
RETRAINING: Final = "retraining"
#: Step Functions execution names (1-80 of these characters), used as the run's folder
RUN_PATTERN: Final = r"^[A-Za-z0-9_.-]{1,80}$"


class StoredObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    etag: str
    size: int


class TrainingInputs(BaseModel):
    model_config = ConfigDict(frozen=True)

    run: str = Field(pattern=RUN_PATTERN)
    gathered_at: str
    interactions: tuple[StoredObject, ...]
    items: StoredObject | None
    config: StoredObject | None
    events: tuple[StoredObject, ...]
    #: the event types that count as interactions (TrendEventTypes; None: every type), fixed for the run
    event_types: tuple[str, ...] | None = None

    @property
    def fingerprint(self) -> str:
        """The same objects in the same versions, counted the same way, give the same fingerprint, whatever the
        run. (The code is not in it: a new training image with nothing new to read stands down too.)"""
        listed = self.model_dump(include={"interactions", "items", "config", "events", "event_types"})
        return hashlib.sha256(json.dumps(listed, sort_keys=True).encode()).hexdigest()

    @property
    def size(self) -> int:
        return sum(o.size for o in (*self.interactions, *self.events, self.items, self.config) if o is not None)


def inputs_key(store: S3ModelStore, run: str) -> str:
    return f"{store.folder(RETRAINING)}{run}/inputs.json"


def last_run_key(store: S3ModelStore) -> str:
    return f"{store.folder(RETRAINING)}LAST"


def _listed(store: S3ModelStore, prefix: str) -> tuple[StoredObject, ...]:
    return tuple(
        StoredObject(key=entry["Key"], etag=entry["ETag"], size=entry["Size"])
        for entry in store.objects(prefix)
        if not entry["Key"].endswith("/")  # console-made "folders"
    )


def gather(
    store: S3ModelStore, run: str, event_types: frozenset[str] | None = None, now: datetime | None = None
) -> TrainingInputs:
    """List the history and the event log, write the list as the run's inputs, and return it."""
    history = store.folder(HISTORY)
    items = _listed(store, f"{history}items/")
    if len(items) > 1:
        raise InputDataError(
            f"s3://{store.bucket}/{history}items/ holds {len(items)} objects; put one item table there"
        )
    config = [o for o in _listed(store, f"{history}train.toml") if o.key == f"{history}train.toml"]
    inputs = TrainingInputs(
        run=run,
        gathered_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        interactions=_listed(store, f"{history}interactions/"),
        items=items[0] if items else None,
        config=config[0] if config else None,
        events=_listed(store, store.folder(EVENT_LOG)),
        event_types=tuple(sorted(event_types)) if event_types is not None else None,
    )
    if not inputs.interactions and not inputs.events:
        raise InputDataError(
            f"nothing to train on: no objects under s3://{store.bucket}/{history}interactions/ "
            f"and none under s3://{store.bucket}/{store.folder(EVENT_LOG)}"
        )
    store.put_json(inputs_key(store, run), inputs.model_dump(mode="json"))
    return inputs


def read_inputs(store: S3ModelStore, run: str) -> TrainingInputs:
    key = inputs_key(store, run)
    body = store.get_bytes(key)
    if body is None:
        raise InputDataError(f"no s3://{store.bucket}/{key}: run the gather step of run {run} first")
    return TrainingInputs.model_validate_json(body)


def last_fingerprint(store: S3ModelStore) -> str | None:
    body = store.get_bytes(last_run_key(store))
    if body is None:
        return None
    try:
        return str(json.loads(body)["fingerprint"])
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: train again rather than skip on a guess


def record_last_run(store: S3ModelStore, inputs: TrainingInputs, outcome: dict[str, Any]) -> None:
    """What the gate decided on these inputs: the next run with the same inputs has nothing new to try."""
    store.put_json(last_run_key(store), {"run": inputs.run, "fingerprint": inputs.fingerprint, **outcome})
