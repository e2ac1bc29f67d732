"""Training settings: versioned defaults, an optional override file, and `--set` patches."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from recsys.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitSettings(_Section):
    t1_fraction: float = Field(0.8, gt=0, lt=1)
    t2_fraction: float = Field(0.9, gt=0, lt=1)
    t1: datetime | None = None
    t2: datetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> SplitSettings:
        if self.t1_fraction >= self.t2_fraction:
            raise ValueError("split.t1_fraction must be below split.t2_fraction")
        if (self.t1 is None) != (self.t2 is None):
            raise ValueError("split.t1 and split.t2 are given together or not at all")
        if self.t1 is not None and self.t2 is not None and self.t1 >= self.t2:
            raise ValueError("split.t1 must be before split.t2")
        return self


class CandidateSettings(_Section):
    als: int = Field(100, ge=0, le=5000)
    covisit: int = Field(100, ge=0, le=5000)
    popularity: int = Field(100, ge=1, le=5000)
    recent_items: int = Field(10, ge=1, le=500)


class AlsSettings(_Section):
    factors: int = Field(64, ge=2, le=1024)
    regularization: float = Field(0.05, ge=0)
    iterations: int = Field(15, ge=1, le=200)
    alpha: float = Field(1.0, ge=0)
    random_state: int = 42


class CovisitSettings(_Section):
    neighbours: int = Field(50, ge=1, le=1000)
    window_days: float = Field(14.0, gt=0)
    max_history: int = Field(50, ge=2, le=1000)


class PopularitySettings(_Section):
    half_life_days: float = Field(7.0, gt=0)


class FeatureSettings(_Section):
    max_tag_values: int = Field(30, ge=1, le=500)
    windows_days: tuple[int, ...] = (7, 30)


class RankerSettings(_Section):
    objective: str = "lambdarank"
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(31, ge=2)
    min_data_in_leaf: int = Field(50, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(1.0, ge=0)
    num_boost_round: int = Field(400, ge=1)
    early_stopping_rounds: int = Field(40, ge=1)
    validation_fraction: float = Field(0.2, gt=0, lt=1)
    max_candidates_per_user: int = Field(300, ge=10)
    random_state: int = 42
    num_threads: int = Field(2, ge=1)
    shortlist_trees: int = Field(16, ge=0)
    shortlist_size: int = Field(50, ge=1)


class EvaluateSettings(_Section):
    k: tuple[int, ...] = (10, 50)


class TrainSettings(_Section):
    split: SplitSettings = SplitSettings()
    candidates: CandidateSettings = CandidateSettings()
    als: AlsSettings = AlsSettings()
    covisit: CovisitSettings = CovisitSettings()
    popularity: PopularitySettings = PopularitySettings()
    features: FeatureSettings = FeatureSettings()
    ranker: RankerSettings = RankerSettings()
    evaluate: EvaluateSettings = EvaluateSettings()


def _read_layer(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a table of sections")
    return data


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _parse_override(override: str) -> dict[str, Any]:
    """`section.key=value` -> nested dict; the value is read as TOML/JSON, else kept as a string."""
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected section.key=value")
    try:
        value: Any = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    patch: dict[str, Any] = {}
    node = patch
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return patch


def default_settings_data() -> dict[str, Any]:
    text = resources.files("recsys.config").joinpath("defaults.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_settings(config_file: Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> TrainSettings:
    """Defaults, then the optional file, then each `--set` patch; validated once."""
    data = default_settings_data()
    if config_file is not None:
        data = _merge(data, _read_layer(config_file))
    for override in overrides:
        data = _merge(data, _parse_override(override))
    try:
        return TrainSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"config {where}: {first['msg']} ({len(exc.errors())} problem(s) in all)") from None
