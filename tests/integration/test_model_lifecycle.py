"""Publish, gate, roll back, load, refresh and hot-swap against S3 (moto)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from recsys import artifacts as A
from recsys.cli import main
from recsys.errors import CurrentChangedError, ModelIntegrityError, ModelUnavailableError, PromotionRefusedError
from recsys.loaded import LoadedModel
from recsys.recommender import Request
from recsys.sources import als
from recsys.store.lifecycle import _upload_version, list_versions, promote, publish, rollback, upload
from recsys.store.provider import ModelProvider, S3Source
from recsys.store.s3 import S3ModelStore

from .conftest import BUCKET, model_variant

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def provider(tmp_path: Path, clock: Clock | None = None, **kwargs: object) -> ModelProvider:
    source = S3Source(S3ModelStore(BUCKET, "recsys"), tmp_path / "cache")
    return ModelProvider(source, refresh_seconds=60, background=False, clock=clock or Clock(), **kwargs)  # type: ignore[arg-type]


def test_publish_then_load_and_recommend(s3: S3Client, tmp_path: Path, variants: dict[str, Path]) -> None:
    store = S3ModelStore(BUCKET, "recsys")
    message = publish(variants["a"], store)
    assert message.startswith("published v1-a")
    assert store.current_version() == "v1-a"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="recsys/models/")["Contents"]}
    assert "recsys/models/CURRENT" in keys
    required = A.Manifest.read(variants["a"]).serving.required_files()
    assert {f"recsys/models/v1-a/{name}" for name in (*required, A.MANIFEST)} <= keys

    model = provider(tmp_path).get()
    assert model.version == "v1-a"
    ranked = model.recommender.recommend(Request(users=np.array([0, -1], dtype=np.int32), k=np.array([5, 5])))
    assert np.bincount(ranked.row).tolist() == [5, 5]


def test_gate_refuses_a_worse_model_and_force_overrides(
    s3: S3Client, variants: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store = S3ModelStore(BUCKET, "recsys")
    publish(variants["a"], store)
    with pytest.raises(PromotionRefusedError, match=r"nDCG@10 0\.1000 is below live v1-a 0\.2000"):
        publish(variants["worse"], store)
    assert store.current_version() == "v1-a"
    assert "v3-worse" not in store.versions()  # a refused model leaves no trace

    args = ["publish", "--model", str(variants["worse"]), "--bucket", BUCKET]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "0.1000" in err
    assert "0.2000" in err
    assert "use --force" in err  # the way past the gate, named where it can be used
    assert main([*args, "--force"]) == 0
    assert store.current_version() == "v3-worse"


def test_publishing_the_same_version_twice_is_a_no_op(s3: S3Client, variants: dict[str, Path]) -> None:
    store = S3ModelStore(BUCKET, "recsys")
    publish(variants["a"], store)
    before = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert "nothing to do" in publish(variants["a"], store)
    after = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert {k: v for k, v in after.items() if not k.endswith("CURRENT")} == {
        k: v for k, v in before.items() if not k.endswith("CURRENT")
    }


def test_rollback_and_versions(
    s3: S3Client, tmp_path: Path, variants: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store = S3ModelStore(BUCKET, "recsys")
    publish(variants["a"], store)
    publish(variants["b"], store)
    rows = {r["version"]: r for r in list_versions(store)}
    assert rows["v2-b"]["live"]
    assert not rows["v1-a"]["live"]
    assert rows["v1-a"]["ndcg@10"] == pytest.approx(0.20)

    assert "CURRENT is now v1-a (was v2-b)" in rollback(store, "v1-a")
    assert provider(tmp_path).get().version == "v1-a"

    assert main(["versions", "--bucket", BUCKET]) == 0
    listing = capsys.readouterr().out
    assert "* v1-a" in listing
    assert "  v2-b" in listing
    assert main(["rollback", "--bucket", BUCKET, "--to", "v9-missing"]) == 2
    assert "version v9-missing not found" in capsys.readouterr().err


def serving_a_then_publish_b(tmp_path: Path, variants: dict[str, Path]) -> tuple[S3ModelStore, Clock, ModelProvider]:
    """A container serving v1-a, after which v2-b is published and made live."""
    store = S3ModelStore(BUCKET, "recsys")
    publish(variants["a"], store)
    clock = Clock()
    serving = provider(tmp_path, clock)
    assert serving.get().version == "v1-a"
    publish(variants["b"], store)
    return store, clock, serving


def test_refresh_picks_up_a_new_version_after_the_interval(
    s3: S3Client, tmp_path: Path, variants: dict[str, Path]
) -> None:
    _, clock, serving = serving_a_then_publish_b(tmp_path, variants)
    clock.now = 30.0
    assert serving.get().version == "v1-a"  # not due yet: no S3 call at all
    clock.now = 61.0
    serving.get()
    assert serving.loaded is not None
    assert serving.loaded.version == "v2-b"
    assert not (tmp_path / "cache" / "v1-a").exists()  # the old version's files are pruned from /tmp


def test_background_refresh_swaps_without_blocking(s3: S3Client, tmp_path: Path, variants: dict[str, Path]) -> None:
    store = S3ModelStore(BUCKET, "recsys")
    publish(variants["a"], store)
    clock = Clock()
    source = S3Source(store, tmp_path / "cache")
    serving = ModelProvider(source, refresh_seconds=60, background=True, clock=clock)
    assert serving.get().version == "v1-a"
    publish(variants["b"], store)
    clock.now = 120.0
    assert serving.get().version == "v1-a"  # this request keeps the old model
    serving.wait()
    assert serving.get().version == "v2-b"


def flip_last_byte(data: bytes) -> bytes:
    """Same size, different content: only the sha256 comparison can tell (a factor's last bits)."""
    return data[:-1] + bytes([data[-1] ^ 0x01])


@pytest.mark.parametrize("damage", ["corrupt", "same-size", "delete"])
def test_a_damaged_new_version_leaves_the_old_one_serving(
    s3: S3Client, tmp_path: Path, variants: dict[str, Path], damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    store, clock, serving = serving_a_then_publish_b(tmp_path, variants)
    key = store.key("v2-b", als.ITEM_FACTORS)
    if damage == "corrupt":
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"not the factors")
    elif damage == "same-size":
        s3.put_object(Bucket=BUCKET, Key=key, Body=flip_last_byte(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
    else:
        s3.delete_object(Bucket=BUCKET, Key=key)
    clock.now = 61.0
    assert serving.refresh() == "failed"
    assert serving.get().version == "v1-a"
    assert "v2-b" in serving.failed
    assert "als_item_factors.npy" in serving.failed["v2-b"]
    assert "cannot be loaded" in caplog.text
    clock.now = 200.0
    assert serving.refresh() == "known-bad"  # not downloaded again on every check
    if damage != "corrupt":
        return
    s3.put_object(Bucket=BUCKET, Key=key, Body=(variants["b"] / als.ITEM_FACTORS).read_bytes())  # the file restored
    clock.now = 61.0 + 599.0
    assert serving.refresh() == "known-bad"
    clock.now = 61.0 + 600.0  # MODEL_RETRY_FAILED_SECONDS after the failure: tried again
    assert serving.refresh() == "swapped"
    assert serving.get().version == "v2-b"


def incompatible(model_dir: Path) -> Path:
    """The model with a feature list its ranker does not have: files intact, unservable by this code."""
    manifest = A.Manifest.read(model_dir)
    tampered = A.Manifest(**{**manifest.__dict__, "features": (*manifest.features[:-1], "a_feature_the_code_lacks")})
    (model_dir / A.MANIFEST).write_text(tampered.to_json())
    return model_dir


def upload_behind_the_gate(model_dir: Path, store: S3ModelStore) -> None:
    """What another tool or an older release could have put in S3: uploaded and made live, unchecked."""
    _upload_version(model_dir, A.Manifest.read(model_dir), store)
    store.write_current(A.Manifest.read(model_dir).version, store.read_current()[1])


def test_an_incompatible_version_is_refused(s3: S3Client, tmp_path: Path, variants: dict[str, Path]) -> None:
    store = S3ModelStore(BUCKET, "recsys")
    publish(variants["a"], store)
    serving = provider(tmp_path)
    serving.get()
    upload_behind_the_gate(incompatible(variants["b"]), store)
    assert serving.refresh() == "failed"
    assert "feature list differs" in serving.failed["v2-b"]
    assert serving.get().version == "v1-a"


def test_cold_container_without_a_model_is_unavailable(s3: S3Client, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="no model published at s3://"):
        provider(tmp_path).get()


def test_tmp_reuse_skips_downloads(s3: S3Client, tmp_path: Path, variants: dict[str, Path]) -> None:
    publish(variants["a"], S3ModelStore(BUCKET, "recsys"))
    first = provider(tmp_path)
    first.get()
    assert isinstance(first.source, S3Source)
    manifest = A.Manifest.read(variants["a"])
    # everything serving reads: all but the item activity, which only the overlay refresh reads
    assert first.source.stats.downloaded == len(manifest.files_for(with_ranker=True)) == len(manifest.files) - 2
    second = provider(tmp_path)  # a new container on the same /tmp (a warm re-init)
    second.get()
    assert isinstance(second.source, S3Source)
    assert second.source.stats.downloaded == 0
    assert second.source.stats.reused == first.source.stats.downloaded


def test_pinned_version_ignores_current(s3: S3Client, tmp_path: Path, variants: dict[str, Path]) -> None:
    store = S3ModelStore(BUCKET, "recsys")
    publish(variants["a"], store)
    publish(variants["b"], store)
    clock = Clock()
    serving = provider(tmp_path, clock, pinned_version="v1-a")
    assert serving.get().version == "v1-a"
    clock.now = 10_000.0
    assert serving.get().version == "v1-a"


def test_a_local_model_with_a_same_size_change_fails_verification(tmp_path: Path, variants: dict[str, Path]) -> None:
    path = variants["a"] / als.ITEM_FACTORS
    path.write_bytes(flip_last_byte(path.read_bytes()))
    with pytest.raises(ModelIntegrityError, match=als.ITEM_FACTORS):
        LoadedModel.from_dir(variants["a"])


def test_publish_and_rollback_refuse_what_this_code_cannot_serve(
    s3: S3Client, variants: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store = S3ModelStore(BUCKET, "recsys")
    publish(variants["a"], store)
    with pytest.raises(ModelIntegrityError, match=r"this code cannot serve v2-b: .*feature list differs"):
        publish(incompatible(variants["b"]), store, force=True)  # not even with --force
    assert store.current_version() == "v1-a"
    assert "v2-b" not in store.versions()

    upload_behind_the_gate(variants["b"], store)  # in S3, unservable
    publish(variants["worse"], store, force=True)
    assert main(["rollback", "--bucket", BUCKET, "--to", "v2-b"]) == 2
    assert "this code cannot serve v2-b" in capsys.readouterr().err
    assert store.current_version() == "v3-worse"


def test_two_publishers_at_once_cannot_slip_past_the_gate(s3: S3Client, variants: dict[str, Path]) -> None:
    """v1-a (0.20) is live. Publisher X (0.22) reads CURRENT and passes the gate; before it writes,
    publisher Y (0.25) publishes. X's write, conditional on the CURRENT it judged, fails; X judges
    again against Y and refuses, so the better model stays live."""
    store = S3ModelStore(BUCKET, "recsys")
    publish(variants["a"], store)
    middling = model_variant(variants["a"], variants["a"].parent, "v4-x", ndcg=0.22)
    better = variants["b"]
    reads = []

    class RacingStore(S3ModelStore):
        def read_current(self) -> tuple[str | None, str | None]:
            seen = super().read_current()
            reads.append(seen[0])
            if len(reads) == 1:  # X has read; Y gets in before X writes
                publish(better, S3ModelStore(BUCKET, "recsys"))
            return seen

    with pytest.raises(PromotionRefusedError, match="below live v2-b"):
        publish(middling, RacingStore(BUCKET, "recsys"))
    assert reads == ["v1-a", "v2-b"]
    assert store.current_version() == "v2-b"


def test_a_rollback_does_not_overwrite_a_publish_that_landed_meanwhile(s3: S3Client, variants: dict[str, Path]) -> None:
    store = S3ModelStore(BUCKET, "recsys")
    publish(variants["a"], store)
    publish(variants["b"], store)

    class RacingStore(S3ModelStore):
        def read_current(self) -> tuple[str | None, str | None]:
            seen = super().read_current()
            publish(variants["worse"], S3ModelStore(BUCKET, "recsys"), force=True)
            return seen

    with pytest.raises(CurrentChangedError):
        rollback(RacingStore(BUCKET, "recsys"), "v1-a")
    assert store.current_version() == "v3-worse"


def test_promote_makes_an_uploaded_version_live_only_if_it_arrives_whole(
    s3: S3Client, variants: dict[str, Path]
) -> None:
    """The retraining's promote step: a version uploaded earlier is downloaded and checked like a container
    would, so a file damaged or replaced in S3 since the upload never becomes live."""
    store = S3ModelStore(BUCKET, "recsys")
    upload(variants["a"], store)
    assert store.current_version() is None  # uploaded, not live
    s3.put_object(Bucket=BUCKET, Key=store.key("v1-a", A.RANKER), Body=b"not the ranker that was uploaded")
    with pytest.raises(ModelIntegrityError, match="cannot promote v1-a"):
        promote(store, "v1-a")
    assert store.current_version() is None
    upload(variants["b"], store)
    assert promote(store, "v2-b") == "published v2-b"
    assert store.current_version() == "v2-b"


def test_promote_judges_before_it_downloads(s3: S3Client, variants: dict[str, Path]) -> None:
    """A version the gate refuses (what sets off the retraining alarm) costs two manifest reads: its files
    are never fetched, so a damaged one is reported as refused, not as damaged."""
    store = S3ModelStore(BUCKET, "recsys")
    publish(variants["a"], store)
    upload(variants["worse"], store)
    s3.put_object(Bucket=BUCKET, Key=store.key("v3-worse", A.RANKER), Body=b"never downloaded")
    with pytest.raises(PromotionRefusedError, match="below live v1-a"):
        promote(store, "v3-worse")
    assert store.current_version() == "v1-a"
