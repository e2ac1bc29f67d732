"""`make demo`: show what the trained demo model does, end to end, without AWS.

Prints the metrics table and a few users' recommendations with titles.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from recsys import artifacts as A
from recsys.loaded import LoadedModel
from recsys.recommender import Request
from recsys.train.evaluate import metrics_table


def titles(model_dir: Path) -> dict[str, str]:
    table = pq.read_table(model_dir / A.ITEM_DISPLAY).to_pydict()
    return dict(zip(table["item_id"], table.get("title", table["item_id"]), strict=True))


def show_recommendations(model: LoadedModel, names: dict[str, str], user_ids: list[str], k: int = 5) -> None:
    users = model.arrays.users.lookup(user_ids)
    ranked = model.recommender.recommend(Request(users=users, k=np.full(len(users), k, dtype=np.int64)))
    reasons = ranked.reasons()
    for row, user_id in enumerate(user_ids):
        seen = model.arrays.seen.take_rows(users[row : row + 1]).values if users[row] >= 0 else []
        history = ", ".join(names.get(i, i) for i in model.arrays.items.to_ids(np.asarray(seen[-3:], dtype=int)))
        label = "unknown user: popularity fallback" if users[row] < 0 else f"{len(seen)} seen, latest: {history}"
        print(f"\nuser {user_id} ({label})")
        for j in np.flatnonzero(ranked.row == row):
            item_id = model.arrays.items.ids[ranked.item[j]]
            print(f"  {ranked.rank[j]:>2}. {names.get(item_id, item_id):<60} {ranked.score[j]:>8.3f}  via {reasons[j]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--items", type=Path, required=True)
    args = parser.parse_args()

    model = LoadedModel.from_dir(args.model)
    print(f"\n=== model {model.version}: test-window metrics (t >= t2) ===\n")
    print(metrics_table(model.manifest.metrics))
    names = titles(args.model)
    counts = np.diff(model.arrays.seen.indptr)
    active = [model.arrays.users.ids[i] for i in np.argsort(-counts, kind="stable")[[5, 50, 500]]]
    print("\n=== recommendations (two stages, seen items excluded) ===")
    show_recommendations(model, names, [*active, "no-such-user"])


if __name__ == "__main__":
    main()
