from pathlib import Path

import pytest
from recsys.config import load_settings
from recsys.errors import ConfigError


def test_defaults_come_from_the_versioned_file() -> None:
    settings = load_settings()
    assert settings.split.t1_fraction == 0.8
    assert settings.candidates.sources == ("als", "covisit", "popularity")
    assert settings.serving_config().sources == {"als": 100, "covisit": 100, "popularity": 100}
    assert settings.evaluate.k == (10, 50)


def test_file_then_set_overrides_apply_in_order(tmp_path: Path) -> None:
    override = tmp_path / "override.toml"
    override.write_text("[sources.als]\nfactors = 16\niterations = 3\n")
    settings = load_settings(override, ["sources.als.factors=8", 'split.t1="2024-01-10"', 'split.t2="2024-01-20"'])
    assert settings.source("als").model_dump()["factors"] == 8
    assert settings.source("als").model_dump()["iterations"] == 3
    assert settings.source("als").candidates == 100  # the rest of the section keeps its defaults
    assert settings.split.t1 is not None and settings.split.t1.day == 10


def test_json_override_file(tmp_path: Path) -> None:
    override = tmp_path / "override.json"
    override.write_text('{"ranker": {"learning_rate": 0.1}}')
    assert load_settings(override).ranker.learning_rate == 0.1


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("sources.als.factors=0", "sources.als.factors: Input should be greater than or equal to 2"),
        ("sources.als.nope=1", "sources.als.nope: Extra inputs"),
        ("sources.bogus.x=1", r"\[sources.bogus\]: no such source; registered: als, covisit, popularity"),
        ("als.factors=8", "config als: Extra inputs"),  # the pre-0.2 layout is refused, not ignored
        ('candidates.sources=["als"]', "needs a backfill source"),
        ('candidates.sources=["als", "nope", "popularity"]', "unknown source"),
        ("split.t1_fraction=0.95", "t1_fraction must be below"),
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
