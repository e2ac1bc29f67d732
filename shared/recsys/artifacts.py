"""Names of the files a model directory holds, and its manifest (sha256 of every file).

Training writes these, the S3 store copies them, the loader verifies and reads them: one list
of names, so no module glues file names together on its own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from recsys.errors import ModelIntegrityError

MANIFEST: Final = "manifest.json"
USER_IDS: Final = "user_ids.parquet"
ITEM_IDS: Final = "item_ids.parquet"
ALS_USER_FACTORS: Final = "als_user_factors.npy"
ALS_ITEM_FACTORS: Final = "als_item_factors.npy"
COVISIT_ITEMS: Final = "covisit_items.npy"
COVISIT_SCORES: Final = "covisit_scores.npy"
POPULARITY: Final = "popularity.npy"
SEEN_INDPTR: Final = "seen_indptr.npy"
SEEN_ITEMS: Final = "seen_items.npy"
USER_FEATURES: Final = "user_features.parquet"
ITEM_FEATURES: Final = "item_features.parquet"
USER_TAGS: Final = "user_tag_affinity.parquet"
ITEM_TAGS: Final = "item_tags.parquet"
ITEM_DISPLAY: Final = "item_display.parquet"
RANKER: Final = "ranker.txt"
FEATURE_IMPORTANCE: Final = "feature_importance.csv"

STAGE1_FILES: Final = (
    USER_IDS,
    ITEM_IDS,
    ALS_USER_FACTORS,
    ALS_ITEM_FACTORS,
    COVISIT_ITEMS,
    COVISIT_SCORES,
    POPULARITY,
    SEEN_INDPTR,
    SEEN_ITEMS,
)
FEATURE_FILES: Final = (USER_FEATURES, ITEM_FEATURES, USER_TAGS, ITEM_TAGS, ITEM_DISPLAY)
#: Everything serving reads. A manifest that lacks one of these is incomplete.
SERVING_FILES: Final = (*STAGE1_FILES, *FEATURE_FILES, RANKER)

#: Bumped when the meaning or layout of an artifact changes; the loader refuses other formats.
FORMAT_VERSION: Final = 1


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What `manifest.json` says about one model version."""

    version: str
    created_at: str
    format_version: int
    data_fingerprint: str
    features: tuple[str, ...]
    files: tuple[FileEntry, ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    serving: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        body = {
            "version": self.version,
            "created_at": self.created_at,
            "format_version": self.format_version,
            "data_fingerprint": self.data_fingerprint,
            "features": list(self.features),
            "serving": self.serving,
            "metrics": self.metrics,
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        return json.dumps(body, indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, text: str | bytes, source: str = MANIFEST) -> Manifest:
        try:
            body = json.loads(text)
            return cls(
                version=str(body["version"]),
                created_at=str(body["created_at"]),
                format_version=int(body["format_version"]),
                data_fingerprint=str(body["data_fingerprint"]),
                features=tuple(body["features"]),
                files=tuple(FileEntry(str(f["name"]), int(f["size"]), str(f["sha256"])) for f in body["files"]),
                metrics=dict(body.get("metrics", {})),
                serving=dict(body.get("serving", {})),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelIntegrityError(f"{source}: not a valid manifest ({exc!r})") from None

    @classmethod
    def read(cls, model_dir: Path) -> Manifest:
        path = model_dir / MANIFEST
        if not path.is_file():
            raise ModelIntegrityError(f"{model_dir}: no {MANIFEST} (not a model directory)")
        return cls.from_json(path.read_bytes(), str(path))

    def file(self, name: str) -> FileEntry:
        for entry in self.files:
            if entry.name == name:
                return entry
        raise ModelIntegrityError(f"manifest of {self.version} does not list {name}")

    def check_complete(self) -> None:
        listed = {f.name for f in self.files}
        missing = [name for name in SERVING_FILES if name not in listed]
        if missing:
            raise ModelIntegrityError(f"model {self.version} is incomplete: manifest lacks {', '.join(missing)}")
        if self.format_version != FORMAT_VERSION:
            raise ModelIntegrityError(
                f"model {self.version} has format {self.format_version}; this code reads format {FORMAT_VERSION}"
            )

    def ndcg_at_10(self) -> float | None:
        """The promotion metric: two-stage nDCG@10 on the test window (all users)."""
        value = self.metrics.get("two_stage", {}).get("all", {}).get("ndcg@10")
        return float(value) if value is not None else None


def verify_files(model_dir: Path, manifest: Manifest) -> None:
    """Every listed file is present with the listed size and sha256."""
    for entry in manifest.files:
        path = model_dir / entry.name
        if not path.is_file():
            raise ModelIntegrityError(f"model {manifest.version}: {entry.name} is missing")
        if path.stat().st_size != entry.size or sha256_of(path) != entry.sha256:
            raise ModelIntegrityError(f"model {manifest.version}: {entry.name} fails its sha256 check")
