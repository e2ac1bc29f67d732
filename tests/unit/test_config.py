from pathlib import Path

import pytest
from recsys.config import load_settings
from recsys.errors import ConfigError


def test_defaults_come_from_the_versioned_file() -> None:
    settings = load_settings()
    assert (settings.split.folds, settings.split.label_windows, settings.split.horizon_fraction) == (3, 2, 0.1)
    assert settings.candidates.sources[:3] == ("als", "covisit", "popularity")
    assert settings.serving_config().sources["chart_30d"] == 50
    assert settings.evaluate.k == (10, 50)


def test_file_then_set_overrides_apply_in_order(tmp_path: Path) -> None:
    override = tmp_path / "override.toml"
    override.write_text("[sources.als]\nfactors = 16\niterations = 3\n")
    settings = load_settings(override, ["sources.als.factors=8", "split.horizon_days=7"])
    assert settings.source("als").model_dump()["factors"] == 8
    assert settings.source("als").model_dump()["iterations"] == 3
    assert settings.source("als").candidates == 100  # the rest of the section keeps its defaults
    assert settings.split.horizon_days == 7


def test_json_override_file(tmp_path: Path) -> None:
    override = tmp_path / "override.json"
    override.write_text('{"ranker": {"learning_rate": 0.1}}')
    assert load_settings(override).ranker.learning_rate == 0.1


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("sources.als.factors=0", "sources.als.factors: Input should be greater than or equal to 2"),
        ("sources.als.nope=1", "sources.als.nope: Extra inputs"),
        ("sources.bogus.x=1", r"\[sources.bogus\]: no such source; registered: als, covisit, popularity, chart_1d"),
        ("als.factors=8", "config als: Extra inputs"),  # the pre-0.2 layout is refused, not ignored
        ('candidates.sources=["als"]', "needs a backfill source"),
        ('candidates.sources=["als", "nope", "popularity"]', "unknown source"),
        ("split.label_windows=1", "split.label_windows: Input should be greater than or equal to 2"),
        ("split.horizon_fraction=0.6", "split.horizon_fraction"),
        ("evaluate.k=[5, 20]", "evaluate.k must include 10"),
        ("factors", "expected section.key=value"),
    ],
)
def test_invalid_settings_fail_with_one_line(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(overrides=[override])
    assert "\n" not in caught.value.message


def test_unreadable_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[als\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_settings(bad)


def test_the_versioned_file_and_the_code_agree_on_every_default() -> None:
    """Two sources of defaults drift apart silently (a file value overrides a changed code default)."""
    from recsys.config import TrainSettings

    in_file, in_code = load_settings(), TrainSettings()
    for section in ("split", "candidates", "features", "ranker", "evaluate"):
        assert getattr(in_file, section) == getattr(in_code, section), section
