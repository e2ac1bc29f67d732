"""Step `prepare`: validate the inputs, map ids to contiguous ints, write typed tables."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from recsys import artifacts as A
from recsys import columns as C
from recsys.data.schemas import load_interactions, load_items
from recsys.idmap import IdMap
from recsys.train.rundir import RunDir


def data_fingerprint(*paths: Path | None) -> str:
    digest = hashlib.sha256()
    for path in paths:
        if path is not None:
            digest.update(A.sha256_of(path).encode())
    return digest.hexdigest()


def _weights(frame: pd.DataFrame) -> pd.Series:
    """An explicit weight wins; else the rating scaled to [0, 1]; else 1 per interaction."""
    if C.WEIGHT in frame:
        return frame[C.WEIGHT].astype(np.float32)
    if C.RATING in frame:
        top = float(frame[C.RATING].max()) or 1.0
        return (frame[C.RATING] / top).astype(np.float32)
    return pd.Series(np.ones(len(frame), dtype=np.float32), index=frame.index)


def run_prepare(run: RunDir, interactions_path: Path, items_path: Path | None) -> dict[str, int]:
    interactions = load_interactions(interactions_path)
    items = load_items(items_path) if items_path is not None else None

    users = IdMap.from_values(interactions[C.USER_ID])
    item_values = set(interactions[C.ITEM_ID])
    if items is not None:
        item_values |= set(items[C.ITEM_ID])
    item_map = IdMap.from_values(item_values)

    out = run.step("prepare")
    users.save(out / A.USER_IDS, C.USER_ID)
    item_map.save(out / A.ITEM_IDS, C.ITEM_ID)
    table = pd.DataFrame(
        {
            C.USER_IDX: users.lookup(interactions[C.USER_ID].tolist()),
            C.ITEM_IDX: item_map.lookup(interactions[C.ITEM_ID].tolist()),
            C.TIMESTAMP: interactions[C.TIMESTAMP].to_numpy(np.int64),
            C.WEIGHT: _weights(interactions).to_numpy(np.float32),
        }
    )
    if C.RATING in interactions:
        table[C.RATING] = interactions[C.RATING].to_numpy(np.float32)
    table.to_parquet(out / "interactions.parquet", index=False)

    catalog = pd.DataFrame({C.ITEM_ID: list(item_map.ids)})
    if items is not None:
        catalog = catalog.merge(items, on=C.ITEM_ID, how="left")
    catalog.insert(0, C.ITEM_IDX, np.arange(len(item_map), dtype=np.int32))
    catalog.to_parquet(out / "items.parquet", index=False)
    display_columns = [
        c
        for c in catalog.columns
        if c not in (C.ITEM_IDX,)
        and (c == C.ITEM_ID or pd.api.types.is_string_dtype(catalog[c]))
        and not catalog[c].map(lambda v: isinstance(v, list)).any()
    ]
    catalog[display_columns].astype("string").to_parquet(out / A.ITEM_DISPLAY, index=False)

    summary = {
        "interactions": len(table),
        "users": len(users),
        "items": len(item_map),
        "items_with_metadata": 0 if items is None else int(catalog[C.ITEM_ID].isin(items[C.ITEM_ID]).sum()),
    }
    run.write_json(
        "prepare",
        "prepare.json",
        {
            **summary,
            "interactions_path": str(interactions_path),
            "items_path": str(items_path) if items_path else None,
            "data_fingerprint": data_fingerprint(interactions_path, items_path),
            "has_items": items is not None,
        },
    )
    return summary
