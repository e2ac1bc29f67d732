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

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recsys import sources as registry
from recsys.errors import ModelIntegrityError
from recsys.trends.activity import ITEM_ACTIVITY, RECENT_INTERACTIONS

MANIFEST: Final = "manifest.json"
USER_IDS: Final = "user_ids.parquet"
ITEM_IDS: Final = "item_ids.parquet"
SEEN_INDPTR: Final = "seen_indptr.npy"
SEEN_ITEMS: Final = "seen_items.npy"
USER_FEATURES: Final = "user_features.parquet"
ITEM_FEATURES: Final = "item_features.parquet"
USER_TAGS: Final = "user_tag_affinity.parquet"
ITEM_TAGS: Final = "item_tags.parquet"
ITEM_DISPLAY: Final = "item_display.parquet"
RANKER: Final = "ranker.txt"
FEATURE_IMPORTANCE: Final = "feature_importance.csv"

#: Every model has these: the id maps, each user's history, display columns. The sources' own
#: files come from the sources the manifest names (`recsys.sources`).
CORE_FILES: Final = (USER_IDS, ITEM_IDS, SEEN_INDPTR, SEEN_ITEMS, ITEM_DISPLAY)
#: What the second stage reads: feature tables and the ranker. Stage-1-only serving skips them.
FEATURE_FILES: Final = (USER_FEATURES, ITEM_FEATURES, USER_TAGS, ITEM_TAGS)
RANKING_FILES: Final = (*FEATURE_FILES, RANKER)
#: Item activity at the cutoff: what the live-trends overlay moves forward (serving does not read it).
TREND_FILES: Final = (ITEM_ACTIVITY, RECENT_INTERACTIONS)

#: Bumped when the meaning or layout of an artifact changes; the loader refuses other formats.
#: 2: sources named in `serving.sources`, training settings apart in `training`.
FORMAT_VERSION: Final = 2


class ShortlistConfig(BaseModel):
    """Rank every candidate with the first `trees` trees, finish each user's best `size` with the rest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trees: int = Field(ge=1)
    size: int = Field(ge=1)


class RankerBase(BaseModel):
    """The score the ranker boosts from: `weight * log1p(feature)`, the feature a chart-like item column.

    Trained with LightGBM's `init_score`, so the trees learn corrections to that chart; LightGBM's
    predictions exclude it, so every scorer adds it back (`recsys.ranking.scorers`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str = Field(min_length=1)
    weight: float = Field(gt=0)

    def of(self, column: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        values = np.nan_to_num(column.astype(np.float64), nan=0.0)
        base: npt.NDArray[np.float64] = self.weight * np.log1p(np.maximum(values, 0.0))
        return base


class ServingConfig(BaseModel):
    """What serving needs from training, stored in the manifest's `serving` field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: candidate sources in ranker-column order -> candidates each proposes per user
    sources: dict[str, int]
    recent_items: int = Field(ge=1)
    #: sources asked for /items/{id}/similar, in order
    similar: tuple[str, ...] = ()
    #: None: every candidate goes through every tree
    shortlist: ShortlistConfig | None = None
    #: None: the ranker boosts from zero
    ranker_base: RankerBase | None = None

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(self.sources)

    def required_files(self, with_ranker: bool = True) -> tuple[str, ...]:
        """The files a model with this config must hold (an unknown source raises ModelIntegrityError)."""
        source_files = [name for source in registry.resolve(list(self.sources)) for name in source.files]
        return (*CORE_FILES, *source_files, *(RANKING_FILES if with_ranker else ()))


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

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FileEntry:
        return cls(str(body["name"]), int(body["size"]), str(body["sha256"]))


@dataclass(frozen=True)
class Manifest:
    """What `manifest.json` says about one model version."""

    version: str
    created_at: str
    format_version: int
    data_fingerprint: str
    features: tuple[str, ...]
    files: tuple[FileEntry, ...]
    serving: ServingConfig
    metrics: dict[str, Any] = field(default_factory=dict)
    #: the full training settings, for the record (serving reads `serving` only)
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        body = {
            "version": self.version,
            "created_at": self.created_at,
            "format_version": self.format_version,
            "data_fingerprint": self.data_fingerprint,
            "features": list(self.features),
            "serving": self.serving.model_dump(mode="json"),
            "training": self.training,
            "metrics": self.metrics,
            "files": [f.to_json() for f in self.files],
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
                files=tuple(FileEntry.from_json(f) for f in body["files"]),
                serving=ServingConfig.model_validate(body["serving"]),
                metrics=dict(body.get("metrics", {})),
                training=dict(body.get("training", {})),
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ModelIntegrityError(f"{source}: serving.{where}: {first['msg']}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelIntegrityError(f"{source}: not a valid manifest ({exc!r})") from None

    @classmethod
    def read(cls, model_dir: Path) -> Manifest:
        path = model_dir / MANIFEST
        if not path.is_file():
            raise ModelIntegrityError(f"{model_dir}: no {MANIFEST} (not a model directory)")
        return cls.from_json(path.read_bytes(), str(path))

    def check_complete(self, with_ranker: bool = True) -> None:
        """The format is this code's, every source is known here, and every file serving reads is listed."""
        if self.format_version != FORMAT_VERSION:
            raise ModelIntegrityError(
                f"model {self.version} has format {self.format_version}; this code reads format {FORMAT_VERSION}"
            )
        listed = {f.name for f in self.files}
        missing = [name for name in self.serving.required_files(with_ranker) if name not in listed]
        if missing:
            raise ModelIntegrityError(f"model {self.version} is incomplete: manifest lacks {', '.join(missing)}")

    def files_for(self, with_ranker: bool) -> tuple[FileEntry, ...]:
        """The listed files a serving function needs: all but the item activity (the overlay refresh's), or
        only stage 1's."""
        if with_ranker:
            return tuple(entry for entry in self.files if entry.name not in TREND_FILES)
        needed = set(self.serving.required_files(with_ranker=False))
        return tuple(entry for entry in self.files if entry.name in needed)

    def ndcg_at_10(self) -> float | None:
        """The promotion metric: two-stage nDCG@10 on the test window (all users)."""
        value = self.metrics.get("two_stage", {}).get("all", {}).get("ndcg@10")
        return float(value) if value is not None else None


def verify_files(model_dir: Path, manifest: Manifest, entries: tuple[FileEntry, ...] | None = None) -> None:
    """Every listed file (or the given ones) is present with the listed size and sha256."""
    for entry in manifest.files if entries is None else entries:
        path = model_dir / entry.name
        if not path.is_file():
            raise ModelIntegrityError(f"model {manifest.version}: {entry.name} is missing")
        if path.stat().st_size != entry.size or sha256_of(path) != entry.sha256:
            raise ModelIntegrityError(f"model {manifest.version}: {entry.name} fails its sha256 check")
