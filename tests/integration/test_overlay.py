"""The live-trends overlay against moto S3: built from the event log by the scheduled function, published
beside the live version, hot-swapped by serving, and safe to run twice."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from recsys.idmap import IdMap
from recsys.recommender import Request
from recsys.store.lifecycle import publish
from recsys.store.provider import ModelProvider, S3Source
from recsys.store.s3 import S3ModelStore
from recsys.train.pipeline import TrainJob
from recsys.trends.activity import ItemActivity
from recsys.trends.refresh import refresh_overlay

from ..conftest import ROOT
from .conftest import BUCKET, PREFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NEW_ITEM = "brand-new-item"


def log_object(s3: S3Client, key: str, events: list[dict[str, object]]) -> None:
    lines = "".join(json.dumps(e) + "\n" for e in events).encode()
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/events/{key}", Body=gzip.compress(lines))


def watches(item: str, users: range, at: float) -> list[dict[str, object]]:
    return [
        {"user_id": f"visitor-{u}", "item_id": item, "event_type": "watch", "sent_at_ms": int((at + u) * 1000)}
        for u in users
    ]


@pytest.fixture
def live(s3: S3Client, serving_env: None, synthetic_run: TrainJob) -> tuple[S3ModelStore, float]:
    store = S3ModelStore(BUCKET, PREFIX)
    publish(synthetic_run.out, store)
    return store, ItemActivity.read(synthetic_run.out).now


def cold_user_top(provider: ModelProvider, k: int = 10) -> list[str]:
    model = provider.get()
    ranked = model.recommender.recommend(Request(users=np.array([-1], np.int32), k=np.array([k])))
    return [model.arrays.items.ids[i] for i in ranked.item]


def test_a_new_item_trending_in_the_log_is_served_after_the_overlay_swap(
    live: tuple[S3ModelStore, float], s3: S3Client, tmp_path: Path
) -> None:
    store, cutoff = live
    provider = ModelProvider(S3Source(store, tmp_path / "cache"), background=False)
    before = cold_user_top(provider)
    assert NEW_ITEM not in before and provider.get().overlay_id is None

    log_object(s3, "2030/01/01/00/a.gz", watches(NEW_ITEM, range(300), cutoff + 60))
    result = refresh_overlay(store, tmp_path / "work", now=cutoff + 3600)
    assert (result.status, result.events, result.new_items, result.log_objects_read) == ("published", 300, 1, 1)
    assert provider.refresh() == "swapped"
    model = provider.get()
    assert model.overlay_id == result.overlay_id and model.version == store.current_version()
    after = cold_user_top(provider)
    assert after[0] == NEW_ITEM  # 300 watches in the last hour top every chart
    assert model.arrays.items.get(NEW_ITEM) == model.arrays.n_items - 1
    features = model.arrays.feature_tables()
    column = features.item_feature_names.index("item_n_1d")
    assert features.item_features[model.arrays.items.get(NEW_ITEM), column] == 300
    assert provider.refresh() == "unchanged"

    from recsys.api.service import RecommendationService
    from recsys.api.settings import ApiSettings

    info = RecommendationService(provider, ApiSettings()).model_info()
    assert (info.overlay, info.items) == (result.overlay_id, model.arrays.n_items)
    assert info.trends_as_of is not None and info.trends_as_of.endswith("+00:00")


def test_refreshes_read_each_log_object_once_and_count_each_event_once(
    live: tuple[S3ModelStore, float], s3: S3Client, tmp_path: Path
) -> None:
    store, cutoff = live
    item = IdMap.load(_model_items(store, tmp_path), "item_id").ids[5]
    log_object(s3, "2030/01/01/00/a.gz", watches(item, range(10), cutoff + 60))
    first = refresh_overlay(store, tmp_path / "one", now=cutoff + 3600)
    # the same events again (Firehose's at-least-once), plus 5 new ones, in a second object
    again_and_more = watches(item, range(10), cutoff + 60) + watches(item, range(10, 15), cutoff + 70)
    log_object(s3, "2030/01/01/01/b.gz", again_and_more)
    second = refresh_overlay(store, tmp_path / "two", now=cutoff + 7200)
    assert (first.events, first.log_objects_read) == (10, 1)
    assert (second.events, second.log_objects_read) == (15, 1)
    third = refresh_overlay(store, tmp_path / "three", now=cutoff + 7200)
    assert (third.status, third.events, third.log_objects_read, third.overlay_id) == (
        "unchanged",  # same moment, same events: the same overlay
        15,
        0,
        second.overlay_id,
    )
    version = store.current_version() or ""
    assert store.overlays(version) == sorted([first.overlay_id or "", second.overlay_id or ""])
    later = cutoff + 7200 + 3 * 3600
    # a run that died a minute ago after uploading: young, so it stays (it may be a run still in progress)
    orphan = f"{datetime.fromtimestamp(later - 60, UTC):%Y%m%dT%H%M%SZ}-deadbeef"
    s3.put_object(Bucket=BUCKET, Key=store.overlay_key(version, orphan, "overlay.json"), Body=b"{}")
    fourth = refresh_overlay(store, tmp_path / "four", now=later)
    # the first is three hours older than the refresh and neither live nor just replaced: deleted
    assert store.overlays(version) == sorted([second.overlay_id or "", orphan, fourth.overlay_id or ""])
    assert store.read_current_overlay(version)[0] == fourth.overlay_id


def _model_items(store: S3ModelStore, tmp_path: Path) -> Path:
    version = store.current_version()
    assert version is not None
    path = tmp_path / "item_ids.parquet"
    store.download_file(version, "item_ids.parquet", path)
    return path


def test_a_run_that_loses_the_race_to_publish_stands_down(
    live: tuple[S3ModelStore, float], s3: S3Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, cutoff = live
    version = store.current_version() or ""
    first = refresh_overlay(store, tmp_path / "one", now=cutoff + 60)
    real_read = S3ModelStore.read_current_overlay

    def stale_read(self: S3ModelStore, version: str) -> tuple[str | None, str | None]:
        overlay, _ = real_read(self, version)
        return overlay, '"an-etag-from-before-another-run-published"'

    monkeypatch.setattr(S3ModelStore, "read_current_overlay", stale_read)
    lost = refresh_overlay(store, tmp_path / "two", now=cutoff + 120)
    assert lost.status == "superseded"
    monkeypatch.undo()
    assert store.read_current_overlay(version)[0] == first.overlay_id
    assert store.overlays(version) == [first.overlay_id]  # the loser's files are gone


def test_a_broken_overlay_leaves_the_model_serving(
    live: tuple[S3ModelStore, float], s3: S3Client, tmp_path: Path
) -> None:
    store, cutoff = live
    version = store.current_version() or ""
    provider = ModelProvider(S3Source(store, tmp_path / "cache"), background=False)
    good = refresh_overlay(store, tmp_path / "one", now=cutoff + 60)
    assert provider.get().overlay_id == good.overlay_id
    bad = refresh_overlay(store, tmp_path / "two", now=cutoff + 120)
    key = store.overlay_key(version, bad.overlay_id, "chart_7d.npy")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"not the published bytes")
    assert provider.refresh() == "failed"
    assert provider.get().overlay_id == good.overlay_id  # the last good overlay keeps serving
    assert "fails its sha256 check" in provider.failed[f"{version}+{bad.overlay_id}"]
    # a new container finds the bad overlay live: it serves the model without it, not a 503
    cold = ModelProvider(S3Source(store, tmp_path / "cache-2"), background=False)
    assert cold.get().version == version and cold.get().overlay_id is None


def test_the_overlay_function_handler_publishes(
    live: tuple[S3ModelStore, float], s3: S3Client, lambda_context: object, capsys: pytest.CaptureFixture[str]
) -> None:
    import overlay_handler

    event = json.loads((ROOT / "tests/events/overlay_schedule.json").read_text())
    result = overlay_handler.handler(event, lambda_context)
    store, _ = live
    assert result["status"] == "published"
    assert store.read_current_overlay(result["model_version"])[0] == result["overlay_id"]
    assert '"overlay_published"' in capsys.readouterr().out  # the metric OverlayStaleAlarm watches


def test_an_overlay_at_the_cutoff_without_events_holds_the_models_own_trends(
    demo_model_dir: Path, tmp_path: Path
) -> None:
    """The overlay recomputes as training computed: at the cutoff it must give back the model's
    trend columns (release years included: the demo titles have one), charts and popularity."""
    import pyarrow.parquet as pq
    from recsys.trends.overlay import build_overlay

    model = demo_model_dir
    cutoff = ItemActivity.read(model).now
    overlay = build_overlay(model, [], cutoff, tmp_path / "o")
    assert (overlay.events, overlay.new_items) == (0, 0)
    mine = pq.read_table(tmp_path / "o" / "item_features.parquet")
    theirs = pq.read_table(model / "item_features.parquet")
    assert mine.schema == theirs.schema.remove_metadata()
    assert np.isfinite(theirs.column("item_year_gap").to_numpy()).all()  # the release-year path is exercised
    for name in theirs.column_names:
        np.testing.assert_allclose(
            mine.column(name).to_numpy(), theirs.column(name).to_numpy(), rtol=1e-5, equal_nan=True, err_msg=name
        )
    for name in ("chart_1d.npy", "chart_7d.npy", "popularity.npy"):
        np.testing.assert_array_equal(np.load(tmp_path / "o" / name), np.load(model / name), err_msg=name)


def test_the_refresh_reads_the_log_from_a_day_before_the_cutoff_and_counts_chosen_types(
    live: tuple[S3ModelStore, float], s3: S3Client, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    store, cutoff = live
    item = IdMap.load(_model_items(store, tmp_path), "item_id").ids[3]

    def hour(offset: float) -> str:
        return f"{datetime.fromtimestamp(cutoff + offset, UTC):%Y/%m/%d/%H}"

    # an object Firehose dated an hour before the cutoff (a late sender) holds events after it: read
    log_object(s3, f"{hour(-3600)}/late.gz", watches(item, range(4), cutoff + 10))
    # an object dated three days before: not listed (its events cannot be after the cutoff)
    log_object(s3, f"{hour(-3 * 86_400)}/old.gz", watches(item, range(50), cutoff + 10))
    clicks = [{**e, "event_type": "click"} for e in watches(item, range(100, 107), cutoff + 20)]
    before_cutoff, after_now = watches(item, range(20, 22), cutoff - 30), watches(item, range(200, 203), cutoff + 450)
    log_object(s3, f"{hour(60)}/now.gz", clicks + before_cutoff + after_now)
    everything = refresh_overlay(store, tmp_path / "a", now=cutoff + 600)
    assert (everything.events, everything.log_objects_read) == (4 + 7, 2)  # not yet the 3 sent after it
    watched_only = refresh_overlay(store, tmp_path / "b", now=cutoff + 900, event_types=frozenset({"watch"}))
    assert (watched_only.events, watched_only.log_objects_read) == (4 + 3, 0)  # kept, then counted


def test_unreadable_state_is_rebuilt_from_the_log_and_old_models_are_reported(
    live: tuple[S3ModelStore, float], s3: S3Client, tmp_path: Path, synthetic_run: TrainJob
) -> None:
    store, cutoff = live
    version = store.current_version() or ""
    item = IdMap.load(_model_items(store, tmp_path), "item_id").ids[1]
    log_object(s3, "2030/01/01/00/a.gz", watches(item, range(6), cutoff + 60))
    first = refresh_overlay(store, tmp_path / "one", now=cutoff + 600)
    state_key = store.overlay_state_key(version, first.overlay_id or "", "overlay_events.parquet")
    assert store.overlay_key(version, first.overlay_id or "", "overlay_events.parquet") != state_key
    s3.put_object(Bucket=BUCKET, Key=state_key, Body=b"torn")
    again = refresh_overlay(store, tmp_path / "two", now=cutoff + 1200)
    assert (again.status, again.events, again.log_objects_read) == ("published", 6, 1)

    # a model trained before live trends: the refresh says so instead of failing every 30 minutes
    old = tmp_path / "old-model"
    shutil.copytree(synthetic_run.out, old)
    body = json.loads((old / "manifest.json").read_text())
    body["version"] = "v0-before-trends"
    trend_files = ("item_activity.parquet", "recent_interactions.parquet")
    body["files"] = [f for f in body["files"] if f["name"] not in trend_files]
    (old / "manifest.json").write_text(json.dumps(body))
    publish(old, store, force=True)
    assert refresh_overlay(store, tmp_path / "three").status == "unsupported-model"


def test_stage_one_serving_downloads_no_feature_table_of_an_overlay(
    live: tuple[S3ModelStore, float], s3: S3Client, tmp_path: Path
) -> None:
    store, cutoff = live
    log_object(s3, "2030/01/01/00/a.gz", watches(NEW_ITEM, range(30), cutoff + 60))
    published = refresh_overlay(store, tmp_path / "work", now=cutoff + 600)
    provider = ModelProvider(S3Source(store, tmp_path / "cache"), with_ranker=False, background=False)
    model = provider.get()
    assert model.overlay_id == published.overlay_id and model.arrays.items.get(NEW_ITEM) >= 0
    cached = {p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()}
    assert "item_features.parquet" not in cached and "item_tags.parquet" not in cached
    assert "item_ids.parquet" in cached and "overlay_events.parquet" not in cached
    assert not {"item_activity.parquet", "recent_interactions.parquet"} & cached  # the refresh's, not serving's


def test_the_ranking_function_downloads_no_item_activity_either(
    live: tuple[S3ModelStore, float], tmp_path: Path
) -> None:
    """Item activity is the refresh's input: the rerank function (all the other files) does not fetch it."""
    store, _ = live
    model = ModelProvider(S3Source(store, tmp_path / "cache"), with_ranker=True, background=False).get()
    cached = {p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()}
    assert {"item_features.parquet", "ranker.txt"} <= cached and model.version in {
        p.name for p in (tmp_path / "cache").iterdir()
    }
    assert not {"item_activity.parquet", "recent_interactions.parquet"} & cached


def test_an_overlay_swap_does_not_hash_the_cached_model_files_again(
    live: tuple[S3ModelStore, float], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recsys import artifacts as A

    store, cutoff = live
    cache = tmp_path / "cache"
    provider = ModelProvider(S3Source(store, cache), background=False)
    version = provider.get().version
    refresh_overlay(store, tmp_path / "work", now=cutoff + 60)
    hashed: list[Path] = []
    real = A.sha256_of
    monkeypatch.setattr(A, "sha256_of", lambda path, *rest: hashed.append(path) or real(path, *rest))
    assert provider.refresh() == "swapped"
    assert hashed  # the overlay's new files are checked
    assert not [path for path in hashed if path.parent == cache / version]  # the model's were, once
