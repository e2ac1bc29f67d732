"""What an overlay folder holds (`overlay.json`): which model it belongs to, when it describes, its files.

Apart from the builder so that serving, which reads manifests, imports nothing heavy for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from recsys import artifacts as A
from recsys.errors import ModelIntegrityError

OVERLAY_MANIFEST: Final = "overlay.json"


@dataclass(frozen=True)
class OverlayManifest:
    model_version: str
    overlay_id: str
    as_of: float  # the moment the trend columns describe (unix seconds)
    cutoff: float  # the model's: events before it are the model's own
    events: int  # distinct events folded in
    new_items: int
    files: tuple[A.FileEntry, ...]  # what serving reads (before the model's own files)
    state: tuple[A.FileEntry, ...]  # what the next refresh reads
    notes: tuple[str, ...] = ()

    @property
    def as_of_utc(self) -> str:
        return datetime.fromtimestamp(self.as_of, UTC).isoformat(timespec="seconds")

    def to_json(self) -> str:
        body = {
            "model_version": self.model_version,
            "overlay_id": self.overlay_id,
            "as_of": self.as_of,
            "as_of_utc": self.as_of_utc,
            "cutoff": self.cutoff,
            "events": self.events,
            "new_items": self.new_items,
            "files": [f.to_json() for f in self.files],
            "state": [f.to_json() for f in self.state],
            "notes": list(self.notes),
        }
        return json.dumps(body, indent=2)

    @classmethod
    def from_json(cls, text: str | bytes, source: str = OVERLAY_MANIFEST) -> OverlayManifest:
        try:
            body = json.loads(text)
            return cls(
                model_version=str(body["model_version"]),
                overlay_id=str(body["overlay_id"]),
                as_of=float(body["as_of"]),
                cutoff=float(body["cutoff"]),
                events=int(body["events"]),
                new_items=int(body["new_items"]),
                files=tuple(A.FileEntry.from_json(f) for f in body["files"]),
                state=tuple(A.FileEntry.from_json(f) for f in body["state"]),
                notes=tuple(str(n) for n in body.get("notes", [])),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelIntegrityError(f"{source}: not a valid overlay manifest ({exc!r})") from None

    @classmethod
    def read(cls, folder: Path) -> OverlayManifest:
        path = folder / OVERLAY_MANIFEST
        if not path.is_file():
            raise ModelIntegrityError(f"{folder}: no {OVERLAY_MANIFEST} (not an overlay)")
        return cls.from_json(path.read_bytes(), str(path))

    def files_for(self, with_ranker: bool) -> tuple[A.FileEntry, ...]:
        """The files a serving function reads: all, or without the feature tables for stage 1 alone."""
        return self.files if with_ranker else tuple(f for f in self.files if f.name not in A.FEATURE_FILES)

    def check_for(self, model_version: str) -> None:
        if self.model_version != model_version:
            raise ModelIntegrityError(
                f"overlay {self.overlay_id} belongs to model {self.model_version}, not {model_version}"
            )
