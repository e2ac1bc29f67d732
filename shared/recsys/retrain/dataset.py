"""The training table of a retraining: the history files and the event log as one interactions table.

An event counts as an interaction like a history row: its user, item and time (`sentAt`, in seconds), and
its `eventValue` as the rating when the history has ratings, clipped to the history's range (an event
without one counts as the history's top rating, a full interaction). Only the event types the overlay
counts are read (TrendEventTypes), so the live trends between trainings and the next training agree on
what an interaction is.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from recsys import columns as C
from recsys.data.schemas import load_interactions
from recsys.errors import InputDataError
from recsys.events.log import parse_log_objects
from recsys.retrain.inputs import StoredObject, TrainingInputs
from recsys.store.s3 import S3ModelStore

#: log objects are small (a Firehose buffer each) and many: read several at once
DOWNLOAD_THREADS = 16


@dataclass(frozen=True)
class LocalInputs:
    interactions: tuple[Path, ...]
    items: Path | None
    config: Path | None
    events: pd.DataFrame


def _pinned_bytes(store: S3ModelStore, stored: StoredObject) -> bytes:
    """The object as the gather step listed it; an object replaced since then fails the run."""
    try:
        return store.client.get_object(Bucket=store.bucket, Key=stored.key, IfMatch=stored.etag)["Body"].read()
    except store.client.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "NoSuchKey", "404"):
            raise InputDataError(
                f"s3://{store.bucket}/{stored.key} changed or went away since this run listed it; start a new run"
            ) from None
        raise


def _download(store: S3ModelStore, stored: StoredObject, folder: Path, position: int) -> Path:
    # the position keeps two files of one name apart; the name keeps its suffix (the reader goes by it)
    path = folder / f"{position:05d}-{PurePosixPath(stored.key).name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_pinned_bytes(store, stored))
    return path


def download_inputs(store: S3ModelStore, inputs: TrainingInputs, work_dir: Path) -> LocalInputs:
    history = tuple(_download(store, o, work_dir / "history", i) for i, o in enumerate(inputs.interactions))
    with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:  # boto3 clients are safe to share between threads
        bodies = list(pool.map(lambda o: _pinned_bytes(store, o), inputs.events))
    return LocalInputs(
        interactions=history,
        items=_download(store, inputs.items, work_dir / "items", 0) if inputs.items else None,
        config=_download(store, inputs.config, work_dir / "config", 0) if inputs.config else None,
        events=parse_log_objects(bodies),
    )


def events_as_interactions(
    events: pd.DataFrame, history: pd.DataFrame, event_types: frozenset[str] | None
) -> pd.DataFrame:
    """Log events (one row per event) as rows with the history's columns."""
    if event_types is not None:
        events = events[events["event_type"].isin(sorted(event_types))]
    rows = pd.DataFrame(
        {
            C.USER_ID: events[C.USER_ID].astype("string"),
            C.ITEM_ID: events[C.ITEM_ID].astype("string"),
            C.TIMESTAMP: events["sent_at_ms"].to_numpy(np.int64) // 1000,
        }
    )
    if C.RATING in history:
        top = float(history[C.RATING].max()) if len(history) else 1.0
        values = events["event_value"] if "event_value" in events else pd.Series(np.nan, index=events.index)
        # within the history's range: one event valued 249 (a price) must not shrink every rating's weight
        rows[C.RATING] = pd.to_numeric(values, errors="coerce").fillna(top).clip(0, top).to_numpy(np.float64)
    if C.WEIGHT in history:
        rows[C.WEIGHT] = 1.0
    return rows


def training_table(
    history_files: Sequence[Path], events: pd.DataFrame, event_types: frozenset[str] | None
) -> pd.DataFrame:
    """Every history file (validated as `recsys train` validates one) and the events, oldest first."""
    frames = [load_interactions(path) for path in history_files]
    columns = {tuple(sorted(frame.columns)) for frame in frames}
    if len(columns) > 1:
        raise InputDataError(f"the history files have different columns: {sorted(columns)}")
    history = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    from_events = events_as_interactions(events, history, event_types)
    table = pd.concat([history, from_events], ignore_index=True) if frames else from_events
    if table.empty:
        raise InputDataError("the history and the event log hold no interactions of the counted event types")
    return table.sort_values(C.TIMESTAMP, kind="stable").reset_index(drop=True)
