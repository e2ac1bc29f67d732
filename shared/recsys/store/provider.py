"""The one loaded model per container: cold load, periodic re-check of CURRENT, safe hot swap.

Requests always get a complete model. A new version is downloaded, verified and loaded to the
side (in a background thread by default), and only then replaces the old one with a single
reference assignment. A version that fails (missing file, sha256 mismatch, incompatible
features) is logged with its reason and remembered, and the old model keeps serving.
"""

from __future__ import annotations

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
from recsys.store.s3 import S3ModelStore


class ModelSource(Protocol):
    def current_version(self) -> str | None: ...

    def fetch(self, version: str, with_ranker: bool) -> tuple[Path, bool]:
        """A local folder holding the version's files (stage 1's only, without the ranker), and whether
        they are already verified."""
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

    def current_version(self) -> str | None:
        return self.store.current_version()

    def fetch(self, version: str, with_ranker: bool) -> tuple[Path, bool]:
        """Download what /tmp lacks of what this function reads; every file checked against its sha256 once."""
        manifest = self.store.manifest(version)
        manifest.check_complete(with_ranker)
        folder = self.cache_dir / version
        for entry in manifest.files_for(with_ranker):
            path = folder / entry.name
            if path.is_file() and path.stat().st_size == entry.size and A.sha256_of(path) == entry.sha256:
                self.stats.reused += 1
                continue
            self.store.download_file(version, entry.name, path)
            self.stats.downloaded += 1
            if path.stat().st_size != entry.size or A.sha256_of(path) != entry.sha256:
                path.unlink()
                raise ModelIntegrityError(f"model {version}: {entry.name} fails its sha256 check")
        (folder / A.MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        return folder, True

    def prune(self, keep: set[str]) -> None:
        """Drop cached versions no longer served: /tmp is small and shared with the request path."""
        if self.cache_dir.is_dir():
            for folder in self.cache_dir.iterdir():
                if folder.is_dir() and folder.name not in keep:
                    shutil.rmtree(folder, ignore_errors=True)

    def describe(self) -> str:
        return f"s3://{self.store.bucket}/{self.store.prefix}"


@dataclass
class LocalSource:
    """A model directory on disk (`make serve`, tests, `recsys score`); its version never changes."""

    model_dir: Path

    def current_version(self) -> str | None:
        return A.Manifest.read(self.model_dir).version if (self.model_dir / A.MANIFEST).is_file() else None

    def fetch(self, version: str, with_ranker: bool) -> tuple[Path, bool]:
        return self.model_dir, False

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
                    self._model = self._load(self._wanted_version())
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

    def _load(self, version: str) -> LoadedModel:
        started = time.perf_counter()
        try:
            folder, verified = self.source.fetch(version, self.with_ranker)
            model = LoadedModel.from_dir(folder, verify=not verified, with_ranker=self.with_ranker)
        except RecsysError as exc:
            self.failed[version] = exc.message
            self._failed_at[version] = self._clock()
            logger.error("model version cannot be loaded", extra={"version": version, "reason": exc.message})
            raise ModelUnavailableError(f"model {version} cannot be loaded: {exc.message}") from None
        except (BotoCoreError, ClientError) as exc:
            # S3 itself failed (throttling, permissions, network): worth another try, so not remembered
            logger.error("model version cannot be fetched", extra={"version": version, "reason": str(exc)})
            raise ModelUnavailableError(f"model {version} cannot be fetched from S3") from None
        self.load_seconds = time.perf_counter() - started
        logger.info("model loaded", extra={"version": version, "seconds": round(self.load_seconds, 3)})
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
        """Check CURRENT once; load and swap in a new version if there is one. Says what happened."""
        try:
            version = self._wanted_version()
        except RecsysError as exc:
            logger.warning("model refresh skipped", extra={"reason": exc.message})
            return "unavailable"
        current = self._model
        if current is not None and current.version == version:
            return "unchanged"
        if version in self.failed and self._clock() - self._failed_at[version] < self.retry_failed_seconds:
            return "known-bad"  # not downloaded again on every check; tried again once the wait is over
        try:
            model = self._load(version)
        except ModelUnavailableError:
            return "failed"
        self._model = model  # one assignment: a request holds the old model or the new, never half of one
        if isinstance(self.source, S3Source):
            self.source.prune({version})
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
