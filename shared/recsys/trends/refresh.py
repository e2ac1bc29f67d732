"""The scheduled refresh: fold the event log since the live model's cutoff into a new overlay, publish it.

Each run reads the live version, its current overlay's events and the list of log objects that
overlay already folded in, reads only the other log objects (from a day before the cutoff on, so
an object Firehose finished late is still found), builds the overlay at the time of the run,
uploads it with its manifest last (its state, the events, apart under `overlay-state/`), and then
moves the version's overlay pointer, conditional on the pointer being as it was read: of two runs at
once, one publishes and the other stands down.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from recsys import artifacts as A
from recsys.errors import CurrentChangedError, RecsysError
from recsys.events.log import log_lines
from recsys.runtime.telemetry import logger
from recsys.store.provider import S3Source
from recsys.store.s3 import EVENT_LOG, S3ModelStore
from recsys.trends.activity import ItemActivity
from recsys.trends.manifest import OVERLAY_MANIFEST
from recsys.trends.overlay import OVERLAY_EVENTS, OVERLAY_LOG_OBJECTS, build_overlay, event_table, model_files_read

#: Firehose writes under YYYY/MM/DD/HH/ of the arrival of an object's oldest record; objects from this long
#: before the cutoff are read (a day: far beyond the clock skew allowed and Firehose's buffering)
ARRIVAL_MARGIN_SECONDS = 86_400


@dataclass(frozen=True)
class Refreshed:
    status: str  # published, unchanged, superseded, no-model, unsupported-model
    model_version: str | None = None
    overlay_id: str | None = None
    events: int = 0
    new_items: int = 0
    log_objects_read: int = 0

    def summary(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if value is not None}


def _new_log_objects(store: S3ModelStore, since: float, done: set[str]) -> list[str]:
    prefix = store.folder(EVENT_LOG)
    start = datetime.fromtimestamp(since - ARRIVAL_MARGIN_SECONDS, UTC)
    listed = store.objects(prefix, start_after=f"{prefix}{start:%Y/%m/%d/%H}")
    return [entry["Key"] for entry in listed if entry["Key"] not in done]


def refresh_overlay(
    store: S3ModelStore,
    work_dir: Path,
    now: float | None = None,
    keep_seconds: float = 7200.0,
    event_types: frozenset[str] | None = None,
) -> Refreshed:
    """One refresh of the live version's overlay at `now` (default: the current time), counting the events
    of `event_types` (None: every type). Overlays other than the live one and the one it replaces are
    deleted once they are `keep_seconds` old."""
    now = time.time() if now is None else now
    version = store.current_version()
    if version is None:
        return Refreshed("no-model")
    manifest = store.manifest(version)
    if not set(A.TREND_FILES) <= {entry.name for entry in manifest.files}:
        logger.warning("model has no item activity: retrain it to get live trends", extra={"version": version})
        return Refreshed("unsupported-model", version)
    cache = S3Source(store, work_dir / "models")
    cache.prune(version, None)  # /tmp is small: other versions and earlier state go
    wanted = set(model_files_read(manifest))
    model_dir = cache.fetch_files(manifest, tuple(e for e in manifest.files if e.name in wanted))

    previous_id, read_etag = store.read_current_overlay(version)
    events, done = _previous_state(store, cache, version, previous_id)
    new_keys = _new_log_objects(store, ItemActivity.read(model_dir).now, done)
    lines = [line for key in new_keys for line in log_lines(store.get_bytes(key) or b"")]
    events = pa.concat_tables([events, event_table(lines)])

    with tempfile.TemporaryDirectory(dir=work_dir, prefix="overlay-") as folder:
        out = Path(folder)
        overlay = build_overlay(model_dir, events, now, out, log_objects=[*done, *new_keys], event_types=event_types)
        for entry in overlay.state:
            key = store.overlay_state_key(version, overlay.overlay_id, entry.name)
            store.upload_to_key(out / entry.name, key, entry.sha256)
        for entry in overlay.files:
            key = store.overlay_key(version, overlay.overlay_id, entry.name)
            store.upload_to_key(out / entry.name, key, entry.sha256)
        manifest_path = out / OVERLAY_MANIFEST  # last: an overlay without it is not one
        manifest_key = store.overlay_key(version, overlay.overlay_id, OVERLAY_MANIFEST)
        store.upload_to_key(manifest_path, manifest_key, A.sha256_of(manifest_path))
    counts = (overlay.events, overlay.new_items, len(new_keys))
    if overlay.overlay_id == previous_id:
        return Refreshed("unchanged", version, overlay.overlay_id, *counts)  # same moment, same events
    try:
        store.write_current_overlay(version, overlay.overlay_id, read_etag)
    except CurrentChangedError:
        store.delete_overlay(version, overlay.overlay_id)  # another run published meanwhile; it stays live
        return Refreshed("superseded", version, None, *counts)
    for old in store.overlays(version):
        # a container may still be loading an overlay it read the pointer to a while ago, so what was replaced
        # (or never published: a run that died) goes once it is `keep_seconds` old
        if old not in (overlay.overlay_id, previous_id) and now - _time_of(old) > keep_seconds:
            store.delete_overlay(version, old)
    return Refreshed("published", version, overlay.overlay_id, *counts)


def _time_of(overlay_id: str) -> float:
    """The time an overlay id starts with (`build_overlay` names them so); 0 for a name that does not parse."""
    try:
        return datetime.strptime(overlay_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


def _previous_state(
    store: S3ModelStore, cache: S3Source, version: str, previous_id: str | None
) -> tuple[pa.Table, set[str]]:
    """The events the live overlay folded in and the log objects it read; nothing if it has none or they
    cannot be read: the overlay is a function of (model, events), so starting over costs a longer read only."""
    if previous_id is None:
        return event_table([]), set()
    try:
        previous = store.overlay_manifest(version, previous_id)
        folder = cache.fetch_overlay_files(previous, previous.state, state=True)
        events = event_table(pq.read_table(folder / OVERLAY_EVENTS))
        done = {str(key) for key in json.loads((folder / OVERLAY_LOG_OBJECTS).read_text(encoding="utf-8"))}
    except (RecsysError, BotoCoreError, ClientError, OSError, ValueError, pa.ArrowException) as exc:
        logger.warning("overlay state unreadable: folding the whole log again", extra={"reason": str(exc)})
        return event_table([]), set()
    return events, done
