"""Publish, roll back and list model versions: the promotion gate lives here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recsys import artifacts as A
from recsys.errors import ModelIntegrityError, NotFoundError, PromotionRefusedError
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


def publish(model_dir: Path, store: S3ModelStore, force: bool = False) -> str:
    """Upload a model directory, verify it, then point CURRENT at it (unless the gate refuses)."""
    manifest = A.Manifest.read(model_dir)
    manifest.check_complete()
    A.verify_files(model_dir, manifest)

    live = store.current_version()
    if live == manifest.version:
        return f"{manifest.version} is already live in s3://{store.bucket}/{store.prefix}: nothing to do"
    if live is not None and not force:
        new_score, live_score = manifest.ndcg_at_10(), store.manifest(live).ndcg_at_10()
        if new_score is not None and live_score is not None and new_score < live_score:
            raise PromotionRefusedError(
                f"refusing to publish {manifest.version}: test nDCG@10 {new_score:.4f} is below live "
                f"{live} {live_score:.4f} (use --force to publish anyway)"
            )
    try:
        remote_files = store.manifest(manifest.version).files
    except NotFoundError:  # a new version: the usual case
        remote_files = manifest.files
    if remote_files != manifest.files:
        raise ModelIntegrityError(f"version {manifest.version} already exists in S3 with different files")
    uploaded = _upload_version(model_dir, manifest, store)
    store.write_current(manifest.version)
    previous = f" (was {live})" if live else ""
    return f"published {manifest.version}{previous}: {uploaded} file(s) uploaded to s3://{store.bucket}/{store.prefix}"


def rollback(store: S3ModelStore, version: str) -> str:
    manifest = store.manifest(version)  # NotFoundError if it was never published
    missing = [e.name for e in manifest.files if store.remote_sha256(version, e.name) != (e.size, e.sha256)]
    if missing:
        raise ModelIntegrityError(f"cannot roll back to {version}: {', '.join(missing[:3])} missing or changed in S3")
    live = store.current_version()
    store.write_current(version)
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
