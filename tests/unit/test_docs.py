"""The documents say what the code and the bundled data say."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ..conftest import DEMO_DATA, ROOT

sys.path.insert(0, str(ROOT / "infra" / "scripts"))
import model_card


def card_block(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return text.split(model_card.BEGIN, 1)[1].split(model_card.END, 1)[0].strip()


def test_the_readme_table_is_the_committed_model_cards() -> None:
    card = card_block(ROOT / "docs" / "quality.md")
    assert "| all: two_stage |" in card and "model files sha256 digest" in card
    assert card_block(ROOT / "README.md") == model_card.summary(card)


def test_the_demo_data_readme_counts_the_bundled_file() -> None:
    readme = (DEMO_DATA / "README.md").read_text(encoding="utf-8")
    stated = re.search(r"holds ([\d,]+) ratings", readme)
    assert stated, "data/demo/README.md must say how many ratings the bundled file holds"
    lines = (DEMO_DATA / "ratings.dat").read_text(encoding="utf-8").count("\n")
    assert int(stated.group(1).replace(",", "")) == lines
    in_table = re.search(r"^\| `ratings\.dat` \|[^|]+\| ([\d,]+) ratings", readme, flags=re.MULTILINE)
    assert in_table and int(in_table.group(1).replace(",", "")) == lines


def test_the_readme_lists_every_error_status_the_api_documents() -> None:
    from recsys.api.app import create_app

    documented: set[tuple[str, str]] = set()
    for path in create_app().openapi()["paths"].values():
        for operation in path.values():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and status != "500":
                    documented.add((status, response["description"]))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| (\d{3}) \| `(\w+)` \|", readme, flags=re.MULTILINE))
    assert ("503", "event_store_unavailable") in documented
    assert listed == documented
