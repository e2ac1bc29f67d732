"""The run directory: one folder per step; fits are made per cut (see `recsys.train.split`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.errors import InputDataError

#: the cut whose fits are served: all the data
SERVED_CUT = "c0"


@dataclass(frozen=True)
class RunDir:
    root: Path

    def step(self, name: str, *parts: str) -> Path:
        folder = self.root.joinpath(name, *parts)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def read_json(self, step: str, name: str) -> dict[str, Any]:
        path = self.root / step / name
        if not path.is_file():
            raise InputDataError(f"{path}: missing; run the '{step}' step first")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def write_json(self, step: str, name: str, data: dict[str, Any]) -> Path:
        path = self.step(step) / name
        path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        return path

    def read_parquet(self, step: str, name: str) -> pd.DataFrame:
        path = self.root / step / name
        if not path.is_file():
            raise InputDataError(f"{path}: missing; run the '{step}' step first")
        return pd.read_parquet(path)

    def cuts(self) -> list[str]:
        """Every cut the split step laid out, `c0` (all data) first."""
        return list(self.read_json("split", "split.json")["cuts"])

    def model_path(self, cut: str) -> tuple[Path, ...]:
        """Where `ModelArrays.load` finds a cut's files: its stage-1 and feature folders, and the id maps."""
        return (self.root / "stage1" / cut, self.root / "features" / cut, self.root / "prepare")
