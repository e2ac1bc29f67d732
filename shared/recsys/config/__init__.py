"""Training settings: versioned defaults, an optional override file, and `--set` patches."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator, model_validator

from recsys import sources as registry
from recsys.artifacts import RankerBase, ServingConfig, ShortlistConfig
from recsys.candidates.base import SourceSettings
from recsys.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitSettings(_Section):
    """Rolling-origin backtests: windows of one horizon, counted back from the end of the data."""

    #: each window's length (test and label windows alike) as a share of the data's time range...
    horizon_fraction: float = Field(0.1, gt=0, lt=0.5)
    #: ...or in days (wins when given)
    horizon_days: float | None = Field(None, gt=0)
    #: backtest folds; fold 1, the latest, is the test fold, the others validation folds
    folds: int = Field(3, ge=1, le=20)
    #: label windows each ranker learns from; the most recent one early-stops it
    label_windows: int = Field(2, ge=2, le=20)


class CandidateSettings(_Section):
    #: the registered sources to fit and serve, in this order (their columns in the ranker follow it)
    sources: tuple[str, ...] = ("als", "covisit", "popularity", "chart_1d", "chart_3d", "chart_7d", "chart_30d")
    recent_items: int = Field(10, ge=1, le=500)
    #: sources that answer /items/{id}/similar, asked in this order until k items are found
    similar: tuple[str, ...] = ("covisit", "als")

    @model_validator(mode="after")
    def _known(self) -> CandidateSettings:
        known = registry.registered()
        unknown = [name for name in (*self.sources, *self.similar) if name not in known]
        if unknown:
            raise ValueError(f"unknown source(s) {', '.join(unknown)}; registered: {', '.join(known)}")
        if len(set(self.sources)) != len(self.sources) or not self.sources:
            raise ValueError("candidates.sources must name at least one source, each once")
        if not any(registry.get(name).backfill for name in self.sources):
            raise ValueError("candidates.sources needs a backfill source (e.g. popularity) for users without history")
        missing = [name for name in self.similar if name not in self.sources]
        if missing:
            raise ValueError(f"candidates.similar names {', '.join(missing)}, which candidates.sources does not use")
        return self


class FeatureSettings(_Section):
    max_tag_values: int = Field(30, ge=1, le=500)
    #: item and user counts in these windows; items also get their rank in each and growth between them
    windows_days: tuple[int, ...] = (1, 3, 7, 14, 30)
    #: decayed item counts at these half-lives
    decay_half_lives: tuple[float, ...] = (1.0, 3.0, 7.0, 14.0)
    #: a user's share of items taken less than d days after the item first appeared
    fresh_days: tuple[int, ...] = (7, 30)
    #: numeric item column holding a release year ("" for none): item age in years, a user's taste for new releases
    release_year_column: str = "year"
    #: taken within this many years of release counts as a new release
    new_release_years: float = Field(1.5, gt=0)


class RankerSettings(_Section):
    objective: str = "lambdarank"
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(31, ge=2)
    min_data_in_leaf: int = Field(50, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(1.0, ge=0)
    num_boost_round: int = Field(200, ge=1)
    early_stopping_rounds: int = Field(30, ge=1)
    max_candidates_per_user: int = Field(300, ge=10)
    random_state: int = 42
    num_threads: int = Field(2, ge=1)
    shortlist_trees: int = Field(16, ge=0)
    shortlist_size: int = Field(50, ge=1)
    #: item feature the ranker boosts from (weight * log1p(value)); "" boosts from zero
    base_feature: str = "item_decay_1d"
    base_weight: float = Field(1.0, gt=0)


class EvaluateSettings(_Section):
    #: cutoffs reported; 10 must be one (nDCG@10 chooses the best baseline and gates publishing)
    k: tuple[int, ...] = (10, 50)
    #: the baseline family beside the sources alone: hard-window charts of these lengths (and all time)...
    chart_days: tuple[int, ...] = (1, 3, 7, 14, 30)
    #: ...and time-decayed popularity at these half-lives
    decay_half_lives: tuple[float, ...] = (1.0, 3.0, 7.0, 14.0)

    @model_validator(mode="after")
    def _reports_at_10(self) -> EvaluateSettings:
        if 10 not in self.k:
            raise ValueError("evaluate.k must include 10: nDCG@10 chooses the best baseline and gates publishing")
        return self


class TrainSettings(_Section):
    split: SplitSettings = SplitSettings()
    candidates: CandidateSettings = CandidateSettings()
    #: `[sources.<name>]`: each source's own section, validated by its `settings_model`
    sources: dict[str, SerializeAsAny[SourceSettings]] = Field(default_factory=dict)
    features: FeatureSettings = FeatureSettings()
    ranker: RankerSettings = RankerSettings()
    evaluate: EvaluateSettings = EvaluateSettings()

    @field_validator("sources", mode="before")
    @classmethod
    def _source_sections(cls, value: Any) -> dict[str, SourceSettings]:
        if not isinstance(value, dict):
            raise ValueError("sources must be a table of [sources.<name>] sections")
        sections: dict[str, SourceSettings] = {}
        for name, section in value.items():
            if name not in registry.registered():
                raise ValueError(f"[sources.{name}]: no such source; registered: {', '.join(registry.registered())}")
            model = registry.get(name).settings_model
            try:
                sections[name] = section if isinstance(section, model) else model.model_validate(section)
            except ValidationError as exc:  # say which source: pydantic would report `sources.<field>`
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"sources.{name}.{where}: {first['msg']}") from None
        return sections

    @model_validator(mode="after")
    def _every_source_has_settings(self) -> TrainSettings:
        for name in self.candidates.sources:
            if name not in self.sources:  # a source left out of the file runs on its defaults
                self.sources[name] = registry.get(name).settings_model()
        return self

    def source(self, name: str) -> SourceSettings:
        """The settings section of one of the configured sources."""
        return self.sources[name]

    def serving_config(self) -> ServingConfig:
        """What serving needs of these settings; the manifest stores it as `serving`."""
        shortlist = self.ranker
        return ServingConfig(
            sources={name: self.sources[name].candidates for name in self.candidates.sources},
            recent_items=self.candidates.recent_items,
            similar=self.candidates.similar,
            shortlist=(
                ShortlistConfig(trees=shortlist.shortlist_trees, size=shortlist.shortlist_size)
                if shortlist.shortlist_trees > 0
                else None
            ),
            ranker_base=(
                RankerBase(feature=self.ranker.base_feature, weight=self.ranker.base_weight)
                if self.ranker.base_feature
                else None
            ),
        )


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
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"config {where}: {message} ({len(exc.errors())} problem(s) in all)") from None
