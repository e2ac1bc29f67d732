"""The live-trends overlay against moto S3: built from the event log by the scheduled function, published
beside the live version, hot-swapped by serving, and safe to run twice."""

from __future__ import annotations

import gzip
import json
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
    assert (third.events, third.log_objects_read) == (15, 0)
    assert store.read_current_overlay(store.current_version() or "")[0] == third.overlay_id
    assert len(store.overlays(store.current_version() or "")) == 2  # older ones are deleted


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
