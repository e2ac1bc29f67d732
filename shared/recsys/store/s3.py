"""The S3 layout of published models, behind one class that owns every key.

    <prefix>/models/<version>/<file>       a version's files, manifest.json uploaded last
    <prefix>/models/CURRENT                 {"version": ...}: the live version, written last
    <prefix>/overlays/<version>/<overlay id>/<file>  a version's live-trends overlay, overlay.json last
    <prefix>/overlays/<version>/CURRENT              {"overlay": ...}: the version's live overlay
    <prefix>/overlay-state/<version>/<overlay id>/   the events it folded in: the next refresh's input
    <prefix>/events/YYYY/MM/DD/HH/...               the event log (Firehose), read by the refresh and retraining
    <prefix>/history/ and <prefix>/retraining/       retraining's inputs and runs (recsys.retrain.inputs)

Overlays sit apart from models so that what writes them (the scheduled refresh) cannot touch a model,
and their state apart from them so that serving, which reads overlays, cannot read users' events.

The boto3 client is the container's shared one (`recsys.aws`), created on first use; pass
another to talk to a different endpoint or account.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recsys import artifacts as A
from recsys import aws
from recsys.errors import CurrentChangedError, ModelIntegrityError, NotFoundError
from recsys.trends.manifest import OVERLAY_MANIFEST, OverlayManifest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CURRENT = "CURRENT"
OVERLAYS = "overlays"
OVERLAY_STATE = "overlay-state"
EVENT_LOG = "events"  # the template's EventsDeliveryStream writes there
SHA256_METADATA = "sha256"
MULTIPART_THRESHOLD = 16 * 1024 * 1024


class S3ModelStore:
    def __init__(self, bucket: str, prefix: str = "recsys", client: S3Client | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client

    @property
    def client(self) -> S3Client:
        # not kept: the container's client is renewed after a SnapStart restore, and this must follow
        return self._client if self._client is not None else aws.s3()

    # -- keys ---------------------------------------------------------------------------------
    def folder(self, name: str) -> str:
        """The key prefix of one of the layout's top folders (`models`, `overlays`, `events`, ...)."""
        return f"{self.prefix}/{name}/" if self.prefix else f"{name}/"

    def _models(self) -> str:
        return self.folder("models")

    def key(self, version: str, name: str) -> str:
        return f"{self._models()}{version}/{name}"

    @property
    def current_key(self) -> str:
        return f"{self._models()}{CURRENT}"

    def _overlays(self, version: str) -> str:
        return f"{self.folder(OVERLAYS)}{version}/"

    def overlay_key(self, version: str, overlay_id: str, name: str) -> str:
        return f"{self._overlays(version)}{overlay_id}/{name}"

    def overlay_state_key(self, version: str, overlay_id: str, name: str) -> str:
        return f"{self.folder(OVERLAY_STATE)}{version}/{overlay_id}/{name}"

    def overlay_current_key(self, version: str) -> str:
        return f"{self._overlays(version)}{CURRENT}"

    # -- reading ------------------------------------------------------------------------------
    def get_bytes(self, key: str) -> bytes | None:
        """An object's bytes; None if there is no such key."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def current_version(self) -> str | None:
        return self.read_current()[0]

    def read_current(self) -> tuple[str | None, str | None]:
        """The live version and the ETag of CURRENT as read (both None before the first publish)."""
        return self._read_pointer(self.current_key, "version")

    def read_current_overlay(self, version: str) -> tuple[str | None, str | None]:
        """The version's live overlay and the ETag of its pointer as read (both None before the first)."""
        return self._read_pointer(self.overlay_current_key(version), "overlay")

    def _read_pointer(self, key: str, field: str) -> tuple[str | None, str | None]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None, None
        try:
            return str(json.loads(answer["Body"].read())[field]), answer["ETag"]
        except (ValueError, KeyError, TypeError):
            raise ModelIntegrityError(f"s3://{self.bucket}/{key} is not valid JSON with a {field}") from None

    def overlay_manifest(self, version: str, overlay_id: str) -> OverlayManifest:
        key = self.overlay_key(version, overlay_id, OVERLAY_MANIFEST)
        body = self.get_bytes(key)
        if body is None:
            raise ModelIntegrityError(
                f"overlay {overlay_id} of model {version} not found (no s3://{self.bucket}/{key})"
            )
        return OverlayManifest.from_json(body, f"s3://{self.bucket}/{key}")

    def overlays(self, version: str) -> list[str]:
        """The version's overlay ids, oldest first (ids start with their time)."""
        return self._subfolders(self._overlays(version))

    def objects(self, prefix: str, start_after: str = "") -> list[dict[str, Any]]:
        """Every object under `prefix` (key order; from after `start_after`), as S3 lists them (Key, ETag, Size)."""
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=prefix, StartAfter=start_after)
        return [dict(entry) for page in pages for entry in page.get("Contents", [])]

    def _subfolders(self, prefix: str) -> list[str]:
        """The names of the folders right under `prefix`, sorted."""
        names: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            names += [p["Prefix"][len(prefix) : -1] for p in page.get("CommonPrefixes", [])]
        return sorted(names)

    def delete_overlay(self, version: str, overlay_id: str) -> None:
        """The overlay's files, manifest first (a reader finds a whole overlay or none), then its state."""
        manifest = self.overlay_key(version, overlay_id, OVERLAY_MANIFEST)
        self.client.delete_object(Bucket=self.bucket, Key=manifest)
        for prefix in (self.overlay_key(version, overlay_id, ""), self.overlay_state_key(version, overlay_id, "")):
            keys = [{"Key": entry["Key"]} for entry in self.objects(prefix)]
            for start in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 keys a call
                batch = keys[start : start + 1000]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})  # type: ignore[typeddict-item]

    def manifest(self, version: str) -> A.Manifest:
        key = self.key(version, A.MANIFEST)
        body = self.get_bytes(key)
        if body is None:
            raise NotFoundError(f"version {version} not found (no s3://{self.bucket}/{key})")
        return A.Manifest.from_json(body, f"s3://{self.bucket}/{key}")

    def versions(self) -> list[str]:
        return self._subfolders(self._models())

    def remote_sha256(self, version: str, name: str) -> tuple[int, str] | None:
        """(size, sha256 metadata) of an uploaded file, or None if it is not there."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(version, name))
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"]), head.get("Metadata", {}).get(SHA256_METADATA, "")

    # -- writing ------------------------------------------------------------------------------
    def upload_file(self, path: Path, version: str, name: str, sha256: str) -> None:
        self.upload_to_key(path, self.key(version, name), sha256)

    def upload_to_key(self, path: Path, key: str, sha256: str) -> None:
        from boto3.s3.transfer import TransferConfig

        self.client.upload_file(
            str(path),
            self.bucket,
            key,
            ExtraArgs={"Metadata": {SHA256_METADATA: sha256}},
            Config=TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD),
        )

    def write_current(self, version: str, read_etag: str | None) -> None:
        """One PUT: readers see the old CURRENT or the new one, never a mix. Conditional on CURRENT being
        as it was read (`read_etag`; None: still absent), so a decision taken on what was live cannot
        land after another writer changed it: that raises CurrentChangedError."""
        self._write_pointer(self.current_key, {"version": version}, read_etag)

    def write_current_overlay(self, version: str, overlay_id: str, read_etag: str | None) -> None:
        """The version's live overlay, conditional on its pointer as read, like `write_current`."""
        self._write_pointer(self.overlay_current_key(version), {"overlay": overlay_id}, read_etag)

    def put_json(self, key: str, body: Any, **condition: str) -> None:
        """One small JSON object (a pointer, a run's record); `condition` is IfMatch or IfNoneMatch."""
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(body, indent=1).encode(),
            ContentType="application/json",
            **condition,  # type: ignore[arg-type]
        )

    def _write_pointer(self, key: str, body: dict[str, str], read_etag: str | None) -> None:
        body = {**body, "updated_at": datetime.now(UTC).isoformat(timespec="seconds")}
        condition = {"IfMatch": read_etag} if read_etag is not None else {"IfNoneMatch": "*"}
        try:
            self.put_json(key, body, **condition)
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise CurrentChangedError(f"s3://{self.bucket}/{key} changed while we decided") from None
            raise

    def download_file(self, version: str, name: str, destination: Path) -> None:
        self.download_key(self.key(version, name), destination, f"model {version}")

    def download_key(self, key: str, destination: Path, owner: str) -> None:
        """Download to a temporary name beside `destination`, then rename: no half-written files."""
        name = destination.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{name}.")
        os.close(handle)
        try:
            self.client.download_file(self.bucket, key, temporary)
            os.replace(temporary, destination)
        except self.client.exceptions.ClientError as exc:
            Path(temporary).unlink(missing_ok=True)
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise ModelIntegrityError(f"{owner}: {name} is missing from S3") from None
            raise
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
