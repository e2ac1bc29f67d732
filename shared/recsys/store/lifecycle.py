"""Publish, roll back and list model versions: the promotion gate lives here."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recsys import artifacts as A
from recsys.errors import (
    CurrentChangedError,
    ModelIntegrityError,
    NotFoundError,
    PromotionRefusedError,
    RecsysError,
)
from recsys.store.s3 import S3ModelStore


def _upload_version(model_dir: Path, manifest: A.Manifest, store: S3ModelStore) -> int:
    """Upload every file not already there with the right sha256; the manifest goes last. Returns uploads."""
    uploaded = 0
    for entry in manifest.files:
        if store.remote_sha256(manifest.version, entry.name) != (entry.size, entry.sha256):
            store.upload_file(model_dir / entry.name, manifest.version, entry.name, entry.sha256)
            uploaded += 1
    manifest_path = model_dir / A.MANIFEST
    manifest_sha = A.sha256_of(manifest_path)
    if store.remote_sha256(manifest.version, A.MANIFEST) != (manifest_path.stat().st_size, manifest_sha):
        store.upload_file(manifest_path, manifest.version, A.MANIFEST, manifest_sha)
        uploaded += 1
    # verify: every listed file is there with the size and sha256 we uploaded
    for entry in manifest.files:
        if store.remote_sha256(manifest.version, entry.name) != (entry.size, entry.sha256):
            raise ModelIntegrityError(f"upload of {entry.name} for {manifest.version} did not verify")
    return uploaded


#: Gate-and-write rounds before giving up on a CURRENT that keeps changing under us.
ATTEMPTS = 3


def check_servable(model_dir: Path, version: str) -> None:
    """Load the model the way serving does (manifest format, sources, feature list against the ranker):
    what this code cannot load must never become live."""
    from recsys.loaded import LoadedModel  # LightGBM and the loaders: only publish and rollback need them

    try:
        LoadedModel.from_dir(model_dir, verify=False)
    except RecsysError as exc:
        raise ModelIntegrityError(f"this code cannot serve {version}: {exc.message}") from None


def _gate(manifest: A.Manifest, live: str | None, store: S3ModelStore) -> None:
    if live is None:
        return
    new_score, live_score = manifest.ndcg_at_10(), store.manifest(live).ndcg_at_10()
    if new_score is not None and live_score is not None and new_score < live_score:
        raise PromotionRefusedError(
            f"refusing to publish {manifest.version}: test nDCG@10 {new_score:.4f} is below live "
            f"{live} {live_score:.4f}"
        )


def _checked(model_dir: Path) -> A.Manifest:
    manifest = A.Manifest.read(model_dir)
    manifest.check_complete()
    A.verify_files(model_dir, manifest)
    check_servable(model_dir, manifest.version)
    return manifest


def upload(model_dir: Path, store: S3ModelStore) -> A.Manifest:
    """Check a model directory and upload it as a version without making it live (`promote` does that)."""
    manifest = _checked(model_dir)
    _upload_new_version(model_dir, manifest, store)
    return manifest


def publish(model_dir: Path, store: S3ModelStore, force: bool = False) -> str:
    """Upload a model directory, verify it, then point CURRENT at it (unless the gate refuses: then nothing is
    uploaded)."""
    manifest = _checked(model_dir)
    uploaded: list[int] = []

    def upload_once() -> None:
        if not uploaded:
            uploaded.append(_upload_new_version(model_dir, manifest, store))

    outcome = _make_live(store, manifest, force, ATTEMPTS, before_write=upload_once)
    if uploaded:
        return f"{outcome}: {uploaded[0]} file(s) uploaded to s3://{store.bucket}/{store.prefix}"
    return outcome


def promote(store: S3ModelStore, version: str) -> str:
    """Make an uploaded version live through the gate: what the retraining workflow does with the version
    its training job uploaded. The version is downloaded and checked only once the gate lets it through,
    so a refused one costs two manifest reads, not a download and a load."""
    checked: list[bool] = []

    def check_once() -> None:
        if not checked:
            _check_remote(store, version, "promote")
            checked.append(True)

    return _make_live(store, store.manifest(version), False, ATTEMPTS, before_write=check_once)


def _check_remote(store: S3ModelStore, version: str, verb: str) -> None:
    """Download a version the way a container would, check every sha256, load it: what this code cannot
    serve must never become live."""
    with tempfile.TemporaryDirectory(prefix="recsys-check-") as cache:
        try:
            from recsys.store.provider import S3Source  # loads models: only promote and rollback need it

            folder, _ = S3Source(store, Path(cache)).fetch(version, with_ranker=True)
        except ModelIntegrityError as exc:
            raise ModelIntegrityError(f"cannot {verb} {version}: {exc.message}") from None
        check_servable(folder, version)


def _make_live(
    store: S3ModelStore,
    manifest: A.Manifest,
    force: bool,
    attempts: int,
    before_write: Callable[[], None] = lambda: None,
) -> str:
    """Point CURRENT at an uploaded version. The gate's decision and the CURRENT write are one step: the write
    is conditional on CURRENT being what the gate judged against, and if another publish or rollback changed
    it meanwhile, the gate judges again against the new live model."""
    for _ in range(attempts):
        live, read_etag = store.read_current()
        if live == manifest.version:
            return f"{manifest.version} is already live in s3://{store.bucket}/{store.prefix}: nothing to do"
        if not force:
            _gate(manifest, live, store)
        before_write()
        try:
            store.write_current(manifest.version, read_etag)
        except CurrentChangedError:
            continue  # someone else moved CURRENT: judge again against what is live now
        return f"published {manifest.version}" + (f" (was {live})" if live else "")
    raise CurrentChangedError(f"CURRENT kept changing while publishing {manifest.version}; run publish again")


def _upload_new_version(model_dir: Path, manifest: A.Manifest, store: S3ModelStore) -> int:
    try:
        remote_files = store.manifest(manifest.version).files
    except NotFoundError:  # a new version: the usual case
        remote_files = manifest.files
    if remote_files != manifest.files:
        raise ModelIntegrityError(f"version {manifest.version} already exists in S3 with different files")
    return _upload_version(model_dir, manifest, store)


def rollback(store: S3ModelStore, version: str) -> str:
    """Make an earlier version live again, past the gate, if it is complete in S3 and this code can serve it."""
    live, read_etag = store.read_current()
    _check_remote(store, version, "roll back to")
    store.write_current(version, read_etag)  # CurrentChangedError if another writer moved it meanwhile
    return f"CURRENT is now {version} (was {live})"


def list_versions(store: S3ModelStore) -> list[dict[str, Any]]:
    live = store.current_version()
    rows: list[dict[str, Any]] = []
    for version in store.versions():
        try:
            manifest = store.manifest(version)
        except NotFoundError:
            rows.append({"version": version, "created_at": "(incomplete)", "ndcg@10": None, "live": version == live})
            continue
        rows.append(
            {
                "version": version,
                "created_at": manifest.created_at,
                "ndcg@10": manifest.ndcg_at_10(),
                "live": version == live,
            }
        )
    return rows
