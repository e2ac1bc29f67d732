"""The live-trends overlay: a model's trend files recomputed at a later moment from the events since.

An overlay folder sits beside its model version and holds replacement files that serving reads
*before* the model's own (`ModelArrays.load` takes a search path):

- `item_features.parquet` with every time-window column recomputed at `as_of` (`item_trend_columns`);
- each trend source's vector (the charts, popularity) at `as_of`;
- for items seen in events but not in the model: `item_ids.parquet` with them appended, and
  the item-indexed files grown by a row each (tags empty, ALS factors zero, no co-visitation).

It is built from the model's item activity at its cutoff (`item_activity.parquet`) moved forward
by every distinct event since that cutoff, so a refresh is a pure function of (model, events):
folding the same log objects twice, or in two runs, gives the same files. The events themselves
are kept in the overlay (`overlay_events.parquet`) for the next refresh to add to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys import artifacts as A
from recsys import columns as C
from recsys import sources as registry
from recsys.candidates.base import ItemIndexedFiles, TrendSource
from recsys.config import TrainSettings
from recsys.errors import ModelIntegrityError
from recsys.events.log import IDENTITY
from recsys.features.arrays import read_matrix
from recsys.idmap import IdMap
from recsys.trends.activity import Interactions, ItemActivity
from recsys.trends.columns import item_trend_columns, years
from recsys.trends.manifest import OVERLAY_MANIFEST, OverlayManifest

#: every distinct event since the model's cutoff: the next refresh's starting point
OVERLAY_EVENTS: Final = "overlay_events.parquet"
#: the event log objects already folded in (the next refresh reads only others)
OVERLAY_LOG_OBJECTS: Final = "overlay_log_objects.json"
EVENT_SCHEMA: Final = pa.schema(
    [
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("event_type", pa.string()),
        ("sent_at_ms", pa.int64()),
        ("event_value", pa.float64()),
    ]
)


def event_table(rows: pa.Table | Sequence[dict[str, Any]]) -> pa.Table:
    """Events (log lines or a table with at least these columns) in `EVENT_SCHEMA`, each event once."""
    if not isinstance(rows, pa.Table):
        rows = pa.Table.from_pylist(
            [{name: row.get(name) for name in EVENT_SCHEMA.names} for row in rows], schema=EVENT_SCHEMA
        )
    table = pa.table([rows.column(f.name).cast(f.type) for f in EVENT_SCHEMA], EVENT_SCHEMA)
    if table.num_rows == 0:
        return table
    # one row per identity, the first of each (group_by keeps no order; a row number does)
    numbered = table.append_column("_row", pa.array(np.arange(table.num_rows)))
    first = numbered.group_by(IDENTITY, use_threads=False).aggregate([("_row", "min")])
    keep = np.sort(first.column("_row_min").to_numpy())
    return table.take(pa.array(keep))


def model_files_read(manifest: A.Manifest) -> tuple[str, ...]:
    """Every model file `build_overlay` reads, besides the manifest."""
    names = [A.ITEM_IDS, A.ITEM_FEATURES, A.ITEM_TAGS, *A.TREND_FILES]
    for source in registry.resolve(list(manifest.serving.sources)):
        if isinstance(source, ItemIndexedFiles):
            names += list(source.item_padding)
    return tuple(names)


def build_overlay(
    model_dir: Path,
    events: pa.Table | Sequence[dict[str, Any]],
    as_of: float,
    out: Path,
    log_objects: Sequence[str] = (),
    event_types: frozenset[str] | None = None,
) -> OverlayManifest:
    """The overlay of the model in `model_dir` at `as_of`, from `events` (any since the model's cutoff,
    repeats allowed), written to `out` with its manifest last. `log_objects` (the log objects the events
    came from) is kept for the next refresh. Only events of `event_types` count (None: every type); kept
    are all, so that a change of types applies to every event since the cutoff."""
    manifest = A.Manifest.read(model_dir)
    if not all((model_dir / name).is_file() for name in A.TREND_FILES):
        raise ModelIntegrityError(f"model {manifest.version} has no item activity (trained before live trends)")
    settings = TrainSettings.model_validate(manifest.training)
    activity = ItemActivity.read(model_dir)
    if as_of < activity.now:
        raise ModelIntegrityError(f"an overlay at {as_of} would predate model {manifest.version}'s cutoff")
    events = event_table(events)
    since = events.filter(pc.greater_equal(events.column("sent_at_ms"), int(np.ceil(activity.now * 1000))))
    items = IdMap.load(model_dir / A.ITEM_IDS, C.ITEM_ID)
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []

    counting = since
    if event_types is not None:
        counting = since.filter(pc.is_in(since.column("event_type"), pa.array(sorted(event_types), pa.string())))
    timestamps = counting.column("sent_at_ms").to_numpy().astype(np.float64) / 1000.0
    item_ids = counting.column("item_id").to_pylist()
    index = items.lookup(item_ids).astype(np.int64)
    counted = timestamps < as_of
    new_ids = sorted({item for item, i, c in zip(item_ids, index, counted, strict=True) if i < 0 and c})
    blockers = _sources_without_padding(manifest)
    if new_ids and blockers:
        notes.append(f"{len(new_ids)} new items left out: source(s) {', '.join(blockers)} cannot grow the catalog")
        new_ids = []
    grown = IdMap((*items.ids, *new_ids))
    if new_ids:
        index = grown.lookup(item_ids).astype(np.int64)
    known = index >= 0
    values = counting.column("event_value").to_numpy(zero_copy_only=False).astype(np.float64)
    new = Interactions.of(index[known], timestamps[known], values[known])
    moved = activity.advanced(new, as_of, len(grown))

    written = [_item_features(model_dir, moved, activity.now, settings, len(items), out)]
    for source in registry.resolve(list(manifest.serving.sources)):
        if isinstance(source, TrendSource):
            for name, array in source.from_activity(moved, settings.source(source.name)).items():
                np.save(out / name, np.asarray(array), allow_pickle=False)
                written.append(name)
    if new_ids:
        grown.save(out / A.ITEM_IDS, C.ITEM_ID)
        written.append(A.ITEM_IDS)
        written += _grown_item_files(model_dir, manifest, len(grown), out, skip=set(written))

    pq.write_table(since, out / OVERLAY_EVENTS)
    (out / OVERLAY_LOG_OBJECTS).write_text(json.dumps(sorted(set(log_objects))), encoding="utf-8")
    files = tuple(_entry(out / name) for name in sorted(written))
    digest = hashlib.sha256(f"{manifest.version}|{as_of!r}".encode())
    for entry in files:
        digest.update(entry.sha256.encode())
    overlay = OverlayManifest(
        model_version=manifest.version,
        overlay_id=f"{datetime.fromtimestamp(as_of, UTC):%Y%m%dT%H%M%SZ}-{digest.hexdigest()[:8]}",
        as_of=as_of,
        cutoff=activity.now,
        events=int((known & counted).sum()),
        new_items=len(new_ids),
        files=files,
        state=(_entry(out / OVERLAY_EVENTS), _entry(out / OVERLAY_LOG_OBJECTS)),
        notes=tuple(notes),
    )
    (out / OVERLAY_MANIFEST).write_text(overlay.to_json(), encoding="utf-8")
    return overlay


def _entry(path: Path) -> A.FileEntry:
    return A.FileEntry(path.name, path.stat().st_size, A.sha256_of(path))


def _sources_without_padding(manifest: A.Manifest) -> list[str]:
    """Serving sources that neither recompute from activity nor say how to grow their item rows."""
    return [
        source.name
        for source in registry.resolve(list(manifest.serving.sources))
        if not isinstance(source, TrendSource | ItemIndexedFiles)
    ]


def _item_features(
    model_dir: Path, activity: ItemActivity, cutoff: float, settings: TrainSettings, n_model_items: int, out: Path
) -> str:
    """The model's item table with its trend columns recomputed, and a row for each new item (no metadata)."""
    schema = pq.read_schema(model_dir / A.ITEM_FEATURES).remove_metadata()
    matrix, names = read_matrix(model_dir / A.ITEM_FEATURES, C.ITEM_IDX)
    released = np.full(activity.n_items, np.nan)
    if "item_year_gap" in names:  # the release year, back from the gap at the cutoff
        released[:n_model_items] = years(cutoff) - matrix[:, names.index("item_year_gap")]
    fresh = item_trend_columns(activity, settings.features, released)
    grown = np.full((activity.n_items, len(names)), np.nan, dtype=np.float32)
    grown[:n_model_items] = matrix
    for j, name in enumerate(names):
        if name in fresh:
            grown[:, j] = fresh[name]
    columns = [pa.array(np.arange(activity.n_items, dtype=np.int32))]
    columns += [pa.array(grown[:, j]).cast(schema.field(name).type) for j, name in enumerate(names)]
    pq.write_table(pa.table(columns, schema=schema), out / A.ITEM_FEATURES)
    return A.ITEM_FEATURES


def _grown_item_files(model_dir: Path, manifest: A.Manifest, n_items: int, out: Path, skip: set[str]) -> list[str]:
    """The item tags and every source's item-indexed files, with a padding row per new item."""
    written = []
    tags = pq.read_table(model_dir / A.ITEM_TAGS)
    extra = n_items - tags.num_rows
    padding = pa.table(
        [pa.array(np.arange(tags.num_rows, n_items, dtype=np.int32))]
        + [pa.array(np.zeros(extra, dtype=np.float32)).cast(f.type) for f in tags.schema if f.name != C.ITEM_IDX],
        schema=tags.schema,
    )
    pq.write_table(pa.concat_tables([tags, padding]), out / A.ITEM_TAGS)
    written.append(A.ITEM_TAGS)
    for source in registry.resolve(list(manifest.serving.sources)):
        if not isinstance(source, ItemIndexedFiles):
            continue
        for name, fill in source.item_padding.items():
            if name in skip:
                continue
            array = np.load(model_dir / name, allow_pickle=False)
            rows = np.full((n_items - array.shape[0], *array.shape[1:]), fill, dtype=array.dtype)
            np.save(out / name, np.concatenate([array, rows]), allow_pickle=False)
            written.append(name)
    return written
