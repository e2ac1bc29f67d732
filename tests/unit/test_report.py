"""`recsys report`: one self-contained HTML page whose plots are real PNGs and whose tables hold the model's numbers."""

from __future__ import annotations

import base64
import math
import struct
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from recsys import artifacts as A
from recsys.cli import main
from recsys.loaded import LoadedModel
from recsys.train.pipeline import TrainJob
from recsys.train.report import (
    default_report_path,
    popularity_bias,
    read_importance,
    recommend_sample,
    render_report,
    sample_users,
    write_report,
)

PNG_PREFIX = "data:image/png;base64,"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS = ("plot-metrics", "plot-importance", "plot-scores", "plot-sources", "plot-popularity")
TABLES = (
    "summary",
    "metrics-table",
    "sources-table",
    "coverage-table",
    "popularity-table",
    *(f"user-{n}-{part}" for n in (1, 2, 3) for part in ("history", "recommendations")),
)
SAMPLE = 200

Row = list[tuple[str, str]]  # (th or td, cell text)


class Page(HTMLParser):
    """The parts of the report a reader sees: images by id, tables by id as rows of cells, and every URL."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.images: dict[str, str] = {}
        self.tables: dict[str, list[Row]] = {}
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self._rows: list[Row] | None = None
        self._cell: tuple[str, list[str]] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.add(tag)
        self.urls += [value or "" for name, value in attrs if name in ("src", "href")]
        if tag == "img":
            self.images[attributes.get("id") or ""] = attributes.get("src") or ""
        elif tag == "table":
            self._rows = self.tables.setdefault(attributes.get("id") or "", [])
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("th", "td") and self._rows is not None:
            self._cell = (tag, [])

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._cell is not None and self._rows:
            self._rows[-1].append((self._cell[0], "".join(self._cell[1]).strip()))
            self._cell = None
        elif tag == "table":
            self._rows = None

    def records(self, table_id: str) -> list[dict[str, str]]:
        """A table's data rows as header -> cell text."""
        header, *rows = self.tables[table_id]
        return [dict(zip([h for _, h in header], [c for _, c in row], strict=True)) for row in rows]


def png_size(src: str) -> tuple[int, int]:
    """(width, height) from the IHDR chunk of a base64 PNG data URI; fails on anything else."""
    assert src.startswith(PNG_PREFIX)
    data = base64.b64decode(src.removeprefix(PNG_PREFIX), validate=True)
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"  # the first chunk, after its 4-byte length
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@pytest.fixture(scope="module")
def report(synthetic_run: TrainJob, tmp_path_factory: pytest.TempPathFactory) -> Page:
    out = write_report(synthetic_run.out, tmp_path_factory.mktemp("report") / "model.report.html", users=SAMPLE)
    return Page(out.read_text(encoding="utf-8"))


def test_the_page_is_self_contained_and_every_plot_is_a_real_png(report: Page) -> None:
    assert set(report.images) == set(PLOTS)
    for plot_id in PLOTS:
        width, height = png_size(report.images[plot_id])
        assert width >= 400 and height >= 200, plot_id
    assert all(url.startswith("data:image/png;base64,") for url in report.urls)  # nothing fetched from outside
    assert not report.tags & {"script", "link", "iframe"}


def test_every_table_has_a_header_and_filled_data_rows(report: Page) -> None:
    assert set(report.tables) == set(TABLES)
    for table_id, (header, *rows) in report.tables.items():
        assert header and all(tag == "th" and text for tag, text in header), table_id
        assert rows, table_id
        for row in rows:
            assert len(row) == len(header), table_id
            assert all(tag == "td" and text for tag, text in row), (table_id, row)


def test_metrics_table_holds_the_manifest_numbers(report: Page, synthetic_run: TrainJob) -> None:
    metrics = A.Manifest.read(synthetic_run.out).metrics
    records = report.records("metrics-table")
    assert {r["system"] for r in records} == set(metrics["systems"])
    for segment in ("all", "warm"):
        (model,) = [r for r in records if r["segment"] == segment and r["system"] == "two_stage"]
        for fold, result in metrics["folds"].items():
            assert model[f"{fold} ({result['role']})"] == f"{result['results']['two_stage'][segment]['ndcg@10']:.4f}"
    best = [r["system"] for r in records if r["role"] == "best baseline"]
    assert best == [metrics["best_baseline"]["name"]] * 2


def test_recommendation_tables_describe_the_sample(report: Page, synthetic_run: TrainJob) -> None:
    manifest = A.Manifest.read(synthetic_run.out)
    sources = report.records("sources-table")
    assert [r["source"] for r in sources] == list(manifest.serving.source_names)
    assert sum(int(r["recommendations"].replace(",", "")) for r in sources) == SAMPLE * 10
    coverage = {r["measure"]: r["value"] for r in report.records("coverage-table")}
    n_items = len(pq.read_table(synthetic_run.out / A.ITEM_IDS))
    distinct = int(coverage["distinct items recommended"])
    assert 10 <= distinct <= n_items
    assert coverage["catalog coverage@10"] == f"{distinct / n_items:.4f}"
    shares = [float(r["recommendations"].rstrip("%")) for r in report.records("popularity-table")]
    assert math.isclose(sum(shares), 100.0, abs_tol=0.5)


def test_example_users_show_titles_from_item_display(report: Page, synthetic_run: TrainJob) -> None:
    display = pq.read_table(synthetic_run.out / A.ITEM_DISPLAY).to_pydict()
    titles = dict(zip(display["item_id"], display["title"], strict=True))
    sources = set(A.Manifest.read(synthetic_run.out).serving.source_names)
    for n in (1, 2, 3):
        history = report.records(f"user-{n}-history")
        recommended = report.records(f"user-{n}-recommendations")
        assert [r["rank"] for r in recommended] == [str(r) for r in range(1, 11)]
        for row in [*history, *recommended]:
            assert row["title"] == titles[row["item_id"]]
        assert {r["reason"] for r in recommended} <= sources
        assert not {r["item_id"] for r in history} & {r["item_id"] for r in recommended}  # seen items excluded


def test_titles_are_escaped(synthetic_run: TrainJob) -> None:
    model = LoadedModel.from_dir(synthetic_run.out)
    sample = recommend_sample(model, sample_users(model.arrays.seen, 20))
    tricky = {item: f"<b>{item}</b> & co" for item in model.arrays.items.ids}
    page = render_report(model, read_importance(synthetic_run.out), sample, tricky)
    assert "<b>" not in page and "&lt;b&gt;" in page
    parsed = Page(page)
    for row in parsed.records("user-1-recommendations"):
        assert row["title"] == f"<b>{row['item_id']}</b> & co"


def test_popularity_bias_counts_the_top_percent_of_the_catalog() -> None:
    popularity = np.arange(200, 0, -1, dtype=np.int64)  # item 0 most popular; 200 items: the top 1% is 2 items
    bias = popularity_bias(np.asarray([0, 1, 2, 150], dtype=np.int32), popularity)
    assert bias.top_1pct_share == 0.5
    assert bias.distinct_items == 4 and bias.coverage == 4 / 200
    assert [b.label for b in bias.buckets][:2] == ["top 1%", "1-5%"]
    assert math.isclose(sum(b.catalog for b in bias.buckets), 1.0)
    assert math.isclose(sum(b.interactions for b in bias.buckets), 1.0)


def test_report_through_the_cli(synthetic_run: TrainJob, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "page.html"
    assert main(["report", "--model", str(synthetic_run.out), "--out", str(out), "--users", "50"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.stat().st_size > 10_000
    assert default_report_path(Path("models/demo")) == Path("models/demo.report.html")


def test_report_errors_are_one_line(
    synthetic_run: TrainJob, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--model", str(tmp_path / "no-such-model")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recsys: error:") and err.count("\n") == 1
    assert "no-such-model" in err

    inside = synthetic_run.out / "report.html"  # the manifest checksums the model directory: never write there
    assert main(["report", "--model", str(synthetic_run.out), "--out", str(inside)]) == 2
    assert "inside the model directory" in capsys.readouterr().err
    assert not inside.exists()


def test_the_sample_never_recommends_an_item_the_user_has_seen(synthetic_run: TrainJob) -> None:
    model = LoadedModel.from_dir(synthetic_run.out)
    sample = recommend_sample(model, sample_users(model.arrays.seen, SAMPLE))
    for row, user in enumerate(sample.users):
        seen = model.arrays.seen.take_rows(np.asarray([user], dtype=np.int64)).values
        assert not set(seen.tolist()) & set(sample.item[sample.row == row].tolist()), int(user)
