"""`make replay`: what events are worth between trainings, measured on the demo data.

Train on everything before day D (the last `--days` days held out), then replay the held-out days
one at a time. At the start of each day d, every user active on day d gets 10 recommendations from:

- **the model alone**: trained at D and told nothing since (serving without events);
- **the model + the session path**: the same service, with the user's events from D up to the
  start of day d in a session reader (newest `SESSION_EVENTS` first, as the events table answers);
- **the 7-day chart, refreshed**: the most-watched of the 7 days before the start of day d, from the
  training data and the replayed events, minus what the user has seen (what a live-trends overlay
  would serve; items new since D included): the strongest simple baseline;
- **the 7-day chart, frozen at D**: what a model trained at D knows of the trend;
- **the model + the live-trends overlay** (with and without the session path): the same model served with
  an overlay built at the start of day d from the replayed events so far (`recsys.trends.overlay`), as
  the scheduled overlay function publishes it;
- with `--retrain-daily`, **a model retrained daily**: the same pipeline and settings trained anew at
  the start of each day d on everything before it (what the overlay stands in for; one training per
  day, so about 15 times as long).

Relevant: the user's items of day d that they had not seen before it. Metrics come from
`recsys.offline_metrics`, over user-days, in one item index covering every item of the data.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400
K = 10
SESSION_EVENTS = 50  # the default EventSettings.session_events
CHART_DAYS = 7


@dataclass(frozen=True)
class Replay:
    """The held-out days: the training part, the replayed events, and day boundaries."""

    train: pd.DataFrame
    events: pd.DataFrame
    starts: list[int]


def split(interactions: pd.DataFrame, days: int) -> Replay:
    end = int(interactions["timestamp"].max()) + 1
    cut = end - days * DAY
    ordered = interactions.sort_values("timestamp", kind="stable")
    return Replay(
        train=ordered[ordered["timestamp"] < cut],
        events=ordered[ordered["timestamp"] >= cut],
        starts=[cut + i * DAY for i in range(days)],
    )


def history_before(replay: Replay, start: int) -> pd.DataFrame:
    """Everything known at `start`: the training part and the replayed events before it (what the
    refreshed chart counts, what is seen, and what the model retrained that day learns from)."""
    return pd.concat([replay.train, replay.events[replay.events["timestamp"] < start]])


def session_before(events: pd.DataFrame, start: int) -> dict[str, list[str]]:
    """user -> items of their replayed events before `start`, newest first, each once, at most SESSION_EVENTS
    events read (as `UserEventsTable.recent_items` answers)."""
    earlier = events[events["timestamp"] < start]
    sessions: dict[str, list[str]] = {}
    for user, group in earlier.groupby("user_id", sort=False):
        newest = group["item_id"].to_numpy()[::-1][:SESSION_EVENTS]
        sessions[str(user)] = list(dict.fromkeys(str(item) for item in newest))
    return sessions


def train_model(history: pd.DataFrame, items: Path, out: Path) -> Path:
    from recsys.config import load_settings
    from recsys.train.pipeline import TrainJob, run_pipeline
    from recsys.train.rundir import RunDir

    out.mkdir(parents=True, exist_ok=True)
    interactions = out / "train.parquet"
    history.to_parquet(interactions, index=False)
    job = TrainJob(interactions, items, out / "model", RunDir(out / "run"), load_settings())
    run_pipeline(job, show_progress=False)
    return job.out


def chart_top(
    history: pd.DataFrame, index: pd.Index, now: int, seen: Sequence[set[int]], k: int
) -> npt.NDArray[np.int32]:
    """The CHART_DAYS chart at `now` (ties by all-time count, as `chart_counts` breaks them), minus each row's seen."""
    from recsys.sources.chart import chart_counts

    items = index.get_indexer(history["item_id"]).astype(np.int64)
    counts = chart_counts(items, history["timestamp"].to_numpy(np.float64), len(index), now, CHART_DAYS)
    order = np.argsort(-counts, kind="stable")
    top = np.full((len(seen), k), -1, dtype=np.int32)
    for row, excluded in enumerate(seen):
        picked = [int(i) for i in order[: k + len(excluded)] if int(i) not in excluded][:k]
        top[row, : len(picked)] = picked
    return top


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=Path, default=ROOT / "data" / "demo" / "ratings.dat")
    parser.add_argument("--items", type=Path, default=ROOT / "data" / "demo" / "movies.dat")
    parser.add_argument("--days", type=int, default=14, help="held-out days replayed as events")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "replay")
    parser.add_argument(
        "--retrain-daily", action="store_true", help="also train a model at the start of each day (the reference)"
    )
    args = parser.parse_args()
    os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"})
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

    from recsys.data.schemas import load_interactions
    from recsys.offline_metrics import ranking_metrics
    from recsys.ragged import Ragged

    interactions = load_interactions(args.interactions)
    replay = split(interactions, args.days)
    started = time.perf_counter()
    model_dir = train_model(replay.train, args.items, args.out)
    trained = time.perf_counter() - started
    services = Services(model_dir)
    index = pd.Index(pd.unique(interactions["item_id"]))

    modes = (
        "model alone",
        "model + session path",
        "model + overlay",
        "model + overlay + session path",
        f"{CHART_DAYS}-day chart, refreshed daily",
        f"{CHART_DAYS}-day chart, frozen at D",
    ) + (("model retrained daily",) if args.retrain_daily else ())
    recommended: dict[str, list[npt.NDArray[np.int32]]] = {mode: [] for mode in modes}
    relevant: list[list[int]] = []
    for start in replay.starts:
        before = history_before(replay, start)
        today = replay.events[(replay.events["timestamp"] >= start) & (replay.events["timestamp"] < start + DAY)]
        seen_by_user = before.groupby("user_id")["item_id"].agg(set).to_dict()
        users = [str(u) for u in pd.unique(today["user_id"])]
        wanted = today.groupby("user_id")["item_id"].agg(list).to_dict()
        seen_rows = [set(index.get_indexer(list(seen_by_user.get(u, set())))) for u in users]
        for user in users:
            new = [item for item in dict.fromkeys(wanted[user]) if item not in seen_by_user.get(user, set())]
            relevant.append([int(i) for i in index.get_indexer(new)])
        services.sessions.clear()
        services.sessions.update(session_before(replay.events, start))
        overlaid = Services(model_dir, overlay_at(model_dir, replay.events, start, args.out), services.sessions)
        for mode, service, session_path in (
            (modes[0], services, False),
            (modes[1], services, True),
            (modes[2], overlaid, False),
            (modes[3], overlaid, True),
        ):
            with contextlib.redirect_stdout(io.StringIO()):  # the service's EMF metric lines
                rows = [index.get_indexer(service.recommend(u, session_path)) for u in users]
            recommended[mode].append(np.asarray([pad(row, K) for row in rows], dtype=np.int32))
        recommended[modes[4]].append(chart_top(before, index, start, seen_rows, K))
        recommended[modes[5]].append(chart_top(replay.train, index, replay.starts[0], seen_rows, K))
        if args.retrain_daily:
            # Day D's retrained model is the model itself (same data, same settings, deterministic).
            daily = args.out / "daily" / str(start)
            retrained = Services(model_dir if start == replay.starts[0] else train_model(before, args.items, daily))
            with contextlib.redirect_stdout(io.StringIO()):
                rows = [index.get_indexer(retrained.recommend(u, False)) for u in users]
            recommended[modes[6]].append(np.asarray([pad(row, K) for row in rows], dtype=np.int32))

    truth = Ragged.from_lists(relevant)
    print(f"## Replay: trained before D, then {args.days} days of events (model {services.version})\n")
    print(
        f"{len(replay.train):,} interactions before D, {len(replay.events):,} replayed; "
        f"{sum(1 for r in relevant if r):,} user-days with a new item (trained in {trained:.0f} s)\n"
    )
    print("| at the start of each day, for the users active that day | nDCG@10 | recall@10 | hit rate@10 |")
    print("|---|---|---|---|")
    for mode in modes:
        metrics = ranking_metrics(np.concatenate(recommended[mode]), truth, K, len(index))
        print(f"| {mode} | {metrics['ndcg@10']:.4f} | {metrics['recall@10']:.4f} | {metrics['hit_rate@10']:.4f} |")
    return 0


def overlay_at(model_dir: Path, events: pd.DataFrame, start: int, out: Path) -> Path:
    """The overlay the scheduled function would publish at `start`, from the replayed events before it."""
    import pyarrow as pa
    from recsys.trends.overlay import build_overlay

    earlier = events[events["timestamp"] < start]
    table = pa.table(
        {
            "user_id": earlier["user_id"].astype(str),
            "item_id": earlier["item_id"].astype(str),
            "event_type": ["rating"] * len(earlier),
            "sent_at_ms": earlier["timestamp"].astype(np.int64) * 1000,
            "event_value": earlier["rating"].astype(np.float64) if "rating" in earlier else np.nan,
        }
    )
    folder = out / "overlays" / str(start)
    build_overlay(model_dir, table, float(start), folder)
    return folder


def pad(indices: npt.NDArray[np.intp], k: int) -> list[int]:
    row = [int(i) for i in indices[:k]]
    return row + [-1] * (k - len(row))


class Services:
    """GET /recommendations as served (`RecommendationService.recommend`), without a session reader
    and with one whose table is the replay's memory of the events so far."""

    def __init__(
        self, model_dir: Path, overlay_dir: Path | None = None, sessions: dict[str, list[str]] | None = None
    ) -> None:
        from local_events import MemoryEventsTable
        from recsys.api.service import RecommendationService
        from recsys.api.settings import ApiSettings
        from recsys.events.session import SessionReader
        from recsys.store.provider import LocalSource, ModelProvider

        provider = ModelProvider(LocalSource(model_dir, overlay_dir))
        self.version = provider.get().version
        self.sessions: dict[str, list[str]] = {} if sessions is None else sessions
        self.without = RecommendationService(provider, ApiSettings())
        reader = SessionReader(MemoryEventsTable("replay", 30 * DAY, self.sessions), SESSION_EVENTS, 10.0)
        self.with_sessions = RecommendationService(provider, ApiSettings(), reader)

    def recommend(self, user_id: str, session_path: bool) -> list[str]:
        from recsys.api.models import RecommendRequest

        service = self.with_sessions if session_path else self.without
        return [item.item_id for item in service.recommend(RecommendRequest(user_id=user_id, k=K)).items]


if __name__ == "__main__":
    sys.exit(main())
