"""The one loaded model per container: cold load, periodic re-check of CURRENT, safe hot swap.

Requests always get a complete model. A new version is downloaded, verified and loaded to the
side (in a background thread by default), and only then replaces the old one with a single
reference assignment. A version that fails (missing file, sha256 mismatch, incompatible
features) is logged with its reason and remembered, and the old model keeps serving.
"""

from __future__ import annotations

import functools
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from recsys import artifacts as A
from recsys.errors import ModelIntegrityError, ModelUnavailableError, NoModelPublishedError, RecsysError
from recsys.loaded import LoadedModel
from recsys.runtime.telemetry import logger
from recsys.store.s3 import OVERLAYS, S3ModelStore
from recsys.trends.manifest import OVERLAY_MANIFEST, OverlayManifest


class ModelSource(Protocol):
    def current_version(self) -> str | None: ...

    def fetch(self, version: str, with_ranker: bool) -> tuple[Path, bool]:
        """A local folder holding the version's files (stage 1's only, without the ranker), and whether
        they are already verified."""
        ...

    def current_overlay(self, version: str) -> str | None:
        """The version's live-trends overlay (None: none published)."""
        ...

    def fetch_overlay(self, version: str, overlay_id: str, with_ranker: bool) -> Path:
        """A local folder holding the overlay's files (stage 1's only, without the ranker)."""
        ...

    def describe(self) -> str: ...


@dataclass
class FetchStats:
    downloaded: int = 0
    reused: int = 0


@dataclass
class S3Source:
    """Versions from S3, cached under `cache_dir/<version>/` (Lambda's /tmp survives warm starts)."""

    store: S3ModelStore
    cache_dir: Path
    stats: FetchStats = field(default_factory=FetchStats)
    #: path -> (size, mtime, sha256) of files checked by this process
    _verified: dict[Path, tuple[int, int, str]] = field(default_factory=dict, repr=False)

    def current_version(self) -> str | None:
        return self.store.current_version()

    def fetch(self, version: str, with_ranker: bool) -> tuple[Path, bool]:
        """Download what /tmp lacks of what this function reads; every file checked against its sha256 once."""
        manifest = self.store.manifest(version)
        manifest.check_complete(with_ranker)
        return self.fetch_files(manifest, manifest.files_for(with_ranker)), True

    def fetch_files(self, manifest: A.Manifest, entries: tuple[A.FileEntry, ...]) -> Path:
        """Some of a version's files (and its manifest) in its cache folder, each checked."""
        folder = self.cache_dir / manifest.version
        key_of = functools.partial(self.store.key, manifest.version)
        return self._fetch_into(folder, entries, key_of, f"model {manifest.version}", A.MANIFEST, manifest.to_json())

    def current_overlay(self, version: str) -> str | None:
        return self.store.read_current_overlay(version)[0]

    def fetch_overlay(self, version: str, overlay_id: str, with_ranker: bool) -> Path:
        overlay = self.store.overlay_manifest(version, overlay_id)
        overlay.check_for(version)
        return self.fetch_overlay_files(overlay, overlay.files_for(with_ranker))

    def fetch_overlay_files(
        self, overlay: OverlayManifest, entries: tuple[A.FileEntry, ...], state: bool = False
    ) -> Path:
        """Some of an overlay's files, or of its state, (and its manifest) in its cache folder, each checked."""
        version, overlay_id = overlay.model_version, overlay.overlay_id
        folder = self.cache_dir / version / OVERLAYS / overlay_id
        key_of = functools.partial(
            self.store.overlay_state_key if state else self.store.overlay_key, version, overlay_id
        )
        return self._fetch_into(folder, entries, key_of, f"overlay {overlay_id}", OVERLAY_MANIFEST, overlay.to_json())

    def _fetch_into(
        self,
        folder: Path,
        entries: tuple[A.FileEntry, ...],
        key_of: Callable[[str], str],
        owner: str,
        manifest_name: str,
        manifest_json: str,
    ) -> Path:
        """Download what /tmp lacks, then write the manifest beside the files. Every file is checked against
        its sha256 once per process (an overlay swap every 30 minutes would otherwise hash the whole cached
        model again)."""
        for entry in entries:
            path = folder / entry.name
            if self._holds(path, entry):
                self.stats.reused += 1
                continue
            self.store.download_key(key_of(entry.name), path, owner)
            self.stats.downloaded += 1
            if not self._holds(path, entry):
                path.unlink()
                raise ModelIntegrityError(f"{owner}: {entry.name} fails its sha256 check")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / manifest_name).write_text(manifest_json, encoding="utf-8")
        return folder

    def _holds(self, path: Path, entry: A.FileEntry) -> bool:
        if not path.is_file():
            return False
        stat = path.stat()
        seen = (stat.st_size, stat.st_mtime_ns, entry.sha256)
        if self._verified.get(path) == seen:
            return True
        if stat.st_size != entry.size or A.sha256_of(path) != entry.sha256:
            return False
        self._verified[path] = seen
        return True

    def prune(self, keep: str, keep_overlay: str | None) -> None:
        """Drop cached versions and overlays no longer served: /tmp is small and shared with the request path."""
        for parent, wanted in ((self.cache_dir, keep), (self.cache_dir / keep / OVERLAYS, keep_overlay)):
            if parent.is_dir():
                for folder in parent.iterdir():
                    if folder.is_dir() and folder.name != wanted and folder.name != OVERLAYS:
                        shutil.rmtree(folder, ignore_errors=True)

    def describe(self) -> str:
        return f"s3://{self.store.bucket}/{self.store.prefix}"


@dataclass
class LocalSource:
    """A model directory on disk (`make serve`, tests, `recsys score`), and an overlay folder if given."""

    model_dir: Path
    overlay_dir: Path | None = None

    def current_version(self) -> str | None:
        return A.Manifest.read(self.model_dir).version if (self.model_dir / A.MANIFEST).is_file() else None

    def fetch(self, version: str, with_ranker: bool) -> tuple[Path, bool]:
        return self.model_dir, False

    def current_overlay(self, version: str) -> str | None:
        if self.overlay_dir is None or not (self.overlay_dir / OVERLAY_MANIFEST).is_file():
            return None
        return OverlayManifest.read(self.overlay_dir).overlay_id

    def fetch_overlay(self, version: str, overlay_id: str, with_ranker: bool) -> Path:
        if self.overlay_dir is None:
            raise ModelIntegrityError(f"no overlay folder for overlay {overlay_id}")
        return self.overlay_dir

    def describe(self) -> str:
        return str(self.model_dir)


class ModelProvider:
    def __init__(
        self,
        source: ModelSource,
        refresh_seconds: float = 60.0,
        pinned_version: str | None = None,
        with_ranker: bool = True,
        retry_failed_seconds: float = 600.0,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.refresh_seconds = refresh_seconds
        self.pinned_version = pinned_version
        self.with_ranker = with_ranker
        self.retry_failed_seconds = retry_failed_seconds  # a version fixed in S3 after failing is tried again
        self.background = background
        self._clock = clock
        self._model: LoadedModel | None = None
        self._lock = threading.Lock()
        self._refreshing: threading.Thread | None = None
        self._last_check = float("-inf")
        self.failed: dict[str, str] = {}  # version -> why it could not be loaded
        self._failed_at: dict[str, float] = {}
        self.load_seconds: float | None = None

    @property
    def loaded(self) -> LoadedModel | None:
        return self._model

    def get(self) -> LoadedModel:
        """The model to serve now; loads it on first use, and starts a re-check when one is due."""
        model = self._model
        if model is None:
            with self._lock:
                if self._model is None:
                    version = self._wanted_version()
                    self._model = self._load_with_fallback(version, self._wanted_overlay(version))
                    self._last_check = self._clock()
                return self._model
        if self.pinned_version is None and self._clock() - self._last_check >= self.refresh_seconds:
            self._start_refresh()
        return model

    def _wanted_version(self) -> str:
        try:
            version = self.pinned_version or self.source.current_version()
        except (BotoCoreError, ClientError) as exc:
            logger.error("cannot read CURRENT", extra={"source": self.source.describe(), "reason": str(exc)})
            raise ModelUnavailableError(f"cannot read the live version from {self.source.describe()}") from None
        if version is None:
            raise NoModelPublishedError(f"no model published at {self.source.describe()}")
        return version

    def _wanted_overlay(self, version: str) -> str | None:
        """The version's live overlay; if it cannot be read, the one in hand (for this version) stays."""
        try:
            return self.source.current_overlay(version)
        except (BotoCoreError, ClientError, RecsysError) as exc:
            logger.warning("cannot read the live overlay", extra={"version": version, "reason": str(exc)})
            current = self._model
            return current.overlay_id if current is not None and current.version == version else None

    def _known_bad(self, key: str) -> bool:
        """Failed within `retry_failed_seconds`: not downloaded again on every check."""
        return key in self.failed and self._clock() - self._failed_at[key] < self.retry_failed_seconds

    def _load_with_fallback(self, version: str, overlay: str | None) -> LoadedModel:
        """The version with its overlay; if the overlay cannot be loaded, the version alone (a broken
        overlay costs freshness, never the service)."""
        if overlay is not None and not self._known_bad(_failure_key(version, overlay)):
            try:
                return self._load(version, overlay)
            except ModelUnavailableError:
                pass  # logged and remembered by _load
        return self._load(version, None)

    def _load(self, version: str, overlay: str | None) -> LoadedModel:
        started = time.perf_counter()
        where = {"version": version, "overlay": overlay}
        try:
            folder, verified = self.source.fetch(version, self.with_ranker)
            overlay_dir = None if overlay is None else self.source.fetch_overlay(version, overlay, self.with_ranker)
            model = LoadedModel.from_dir(
                folder, verify=not verified, with_ranker=self.with_ranker, overlay_dir=overlay_dir
            )
        except RecsysError as exc:
            key = _failure_key(version, overlay)
            self.failed[key] = exc.message
            self._failed_at[key] = self._clock()
            logger.error("model version cannot be loaded", extra={**where, "reason": exc.message})
            raise ModelUnavailableError(f"model {key} cannot be loaded: {exc.message}") from None
        except (BotoCoreError, ClientError) as exc:
            # S3 itself failed (throttling, permissions, network): worth another try, so not remembered
            logger.error("model version cannot be fetched", extra={**where, "reason": str(exc)})
            raise ModelUnavailableError(f"model {version} cannot be fetched from S3") from None
        self.load_seconds = time.perf_counter() - started
        logger.info("model loaded", extra={**where, "seconds": round(self.load_seconds, 3)})
        return model

    def _start_refresh(self) -> None:
        with self._lock:
            if self._refreshing is not None and self._refreshing.is_alive():
                return
            self._last_check = self._clock()
            if not self.background:
                self._refreshing = None
            else:
                self._refreshing = threading.Thread(target=self.refresh, name="model-refresh", daemon=True)
                self._refreshing.start()
                return
        self.refresh()

    def refresh(self) -> str:
        """Check CURRENT and the version's overlay once; load and swap in what changed. Says what happened.

        A new overlay of the version in hand that fails to load leaves the model in hand serving; a new
        version whose overlay fails is served without one."""
        try:
            version = self._wanted_version()
        except RecsysError as exc:
            logger.warning("model refresh skipped", extra={"reason": exc.message})
            return "unavailable"
        current = self._model
        overlay = self._wanted_overlay(version)
        if current is not None and (current.version, current.overlay_id) == (version, overlay):
            return "unchanged"
        same_version = current is not None and current.version == version
        if self._known_bad(_failure_key(version, overlay) if same_version else version):
            return "known-bad"  # tried again once the wait is over (a version fixed in S3)
        try:
            model = self._load(version, overlay) if same_version else self._load_with_fallback(version, overlay)
        except ModelUnavailableError:
            return "failed"
        self._model = model  # one assignment: a request holds the old model or the new, never half of one
        if isinstance(self.source, S3Source):
            self.source.prune(version, model.overlay_id)
        return "swapped"

    def recheck(self) -> str:
        """Check CURRENT now, in the background (a foreground refresh if `background` is off), while the
        model in hand keeps serving: for a container restored from a snapshot, whose model is as old as
        the snapshot. Nothing to do before a first model has loaded: the first request loads one."""
        if self._model is None:
            return "not-loaded"
        self._start_refresh()
        return "checking" if self.background else "checked"

    def wait(self, timeout: float = 60.0) -> None:
        """Let a background refresh finish (tests, and a clean shutdown)."""
        thread = self._refreshing
        if thread is not None:
            thread.join(timeout)


def _failure_key(version: str, overlay: str | None) -> str:
    return version if overlay is None else f"{version}+{overlay}"
