"""`recsys report`: one self-contained HTML page describing a trained model directory.

The page reads the manifest's backtest metrics and the ranker's feature importance, and scores a
fixed sample of known users through the served recommender to show what it actually recommends:
score distribution, candidate sources, catalog coverage, popularity bias and a few users' lists.
Plots are PNGs drawn with matplotlib's Agg canvas and embedded as data URIs, so the file can be
mailed or attached to a review without the model directory or a network.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.parquet as pq

from recsys import artifacts as A
from recsys import columns as C
from recsys.bulk import chunks
from recsys.errors import ModelIntegrityError, RecsysError
from recsys.loaded import LoadedModel
from recsys.ragged import Ragged
from recsys.recommender import Request
from recsys.train.evaluate import SHOWN_SEGMENTS, TWO_STAGE, fold_order, ndcg_per_fold

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Top-k length every recommendation statistic on the page is computed at.
K: Final = 10
DEFAULT_SAMPLE_USERS: Final = 2000
#: Fixed seed: two reports of the same model describe the same users.
SAMPLE_SEED: Final = 0
TOP_FEATURES: Final = 25
EXAMPLE_USERS: Final = 3
EXAMPLE_HISTORY: Final = 5
#: Item-popularity percentile buckets (0 = most popular): the head is split finely, where bias shows.
POPULARITY_EDGES: Final = (0.0, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0)
MODEL_COLOR: Final = "#d62728"
BEST_BASELINE_COLOR: Final = "#1f77b4"

CSS: Final = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.model td { background: #fde8e8; } tr.best td { background: #e6f0fa; }
img { max-width: 100%; display: block; margin: 0.8em 0; }
p.note { color: #555; }
"""


@dataclass(frozen=True)
class SampleTopK:
    """The sampled users' top-k, long format: one entry per (user, rank), rows index `users`."""

    users: npt.NDArray[np.int32]
    row: npt.NDArray[np.int64]
    item: npt.NDArray[np.int32]
    score: npt.NDArray[np.float32]
    rank: npt.NDArray[np.int64]
    reason: npt.NDArray[np.object_]


@dataclass(frozen=True)
class PopularityBucket:
    """One slice of the popularity order and the share of each population that falls in it."""

    label: str
    recommendations: float
    interactions: float
    catalog: float


@dataclass(frozen=True)
class PopularityBias:
    coverage: float
    distinct_items: int
    top_1pct_share: float
    buckets: tuple[PopularityBucket, ...]


def default_report_path(model_dir: Path) -> Path:
    """`DIR.report.html` beside the model directory: never inside it, where the manifest checksums every file."""
    folder = model_dir if model_dir.name else model_dir.resolve()
    return folder.with_name(folder.name + ".report.html")


# ---------------------------------------------------------------- data


def sample_users(seen: Ragged, limit: int, seed: int = SAMPLE_SEED) -> npt.NDArray[np.int32]:
    """Up to `limit` users with a history, drawn without replacement with a fixed seed, in index order."""
    known = np.flatnonzero(np.diff(seen.indptr) > 0).astype(np.int32)
    if len(known) <= limit:
        return known
    return np.sort(np.random.default_rng(seed).choice(known, size=limit, replace=False)).astype(np.int32)


def recommend_sample(model: LoadedModel, users: npt.NDArray[np.int32], k: int = K) -> SampleTopK:
    """Two-stage top-k for the sample, seen items excluded, as served; in chunks to bound memory."""
    parts: list[tuple[npt.NDArray[Any], ...]] = []
    offset = 0
    for chunk in chunks(users, model.arrays.seen):
        ranked = model.recommender.recommend(Request(users=chunk, k=np.full(len(chunk), k, dtype=np.int64)))
        parts.append((ranked.row + offset, ranked.item, ranked.score, ranked.rank, ranked.reasons()))
        offset += len(chunk)
    if not parts:
        raise RecsysError("the model has no user with a history to report on")
    row, item, score, rank, reason = (np.concatenate(column) for column in zip(*parts, strict=True))
    return SampleTopK(users, row, item, score, rank, reason)


def item_popularity(seen: Ragged, n_items: int) -> npt.NDArray[np.int64]:
    """Each item's popularity: the number of users whose history holds it (histories hold distinct items)."""
    return np.bincount(seen.values, minlength=n_items).astype(np.int64)


def popularity_percentile(popularity: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Each item's position in the popularity order as a percentile, 0 = most popular.
    Ties are broken by item index (stable sort), so the top 1% is exactly ceil(1% of the catalog) items."""
    order = np.argsort(-popularity, kind="stable")
    position = np.empty(len(popularity), dtype=np.float64)
    position[order] = np.arange(len(popularity))
    return position / max(len(popularity), 1) * 100.0


def popularity_bias(recommended: npt.NDArray[np.int32], popularity: npt.NDArray[np.int64]) -> PopularityBias:
    """Coverage and how the recommendations spread over popularity buckets, next to how interactions do."""
    n_items = len(popularity)
    percentile = popularity_percentile(popularity)
    rec_percentile = percentile[recommended]
    total_interactions = max(int(popularity.sum()), 1)
    buckets = []
    for low, high in pairwise(POPULARITY_EDGES):
        in_bucket = (percentile >= low) & (percentile < high)
        label = f"top {high:g}%" if low == 0 else f"{low:g}-{high:g}%"
        buckets.append(
            PopularityBucket(
                label=label,
                recommendations=float(np.mean((rec_percentile >= low) & (rec_percentile < high)))
                if len(recommended)
                else 0.0,
                interactions=float(popularity[in_bucket].sum() / total_interactions),
                catalog=float(in_bucket.mean()) if n_items else 0.0,
            )
        )
    distinct = len(np.unique(recommended))
    return PopularityBias(
        coverage=distinct / n_items if n_items else 0.0,
        distinct_items=distinct,
        top_1pct_share=buckets[0].recommendations,
        buckets=tuple(buckets),
    )


def source_counts(reasons: npt.NDArray[np.object_], source_names: Sequence[str]) -> dict[str, int]:
    """Recommendations per source, in configured order (sources that won none included), then any others."""
    names, counts = np.unique(reasons.astype(str), return_counts=True)
    found = dict(zip(names.tolist(), counts.tolist(), strict=True))
    ordered = {name: int(found.pop(name, 0)) for name in source_names}
    return {**ordered, **{name: int(count) for name, count in found.items()}}


def read_importance(model_dir: Path) -> pd.DataFrame:
    """The final ranker's feature importance (feature, gain, splits), as training wrote it."""
    path = model_dir / A.FEATURE_IMPORTANCE
    if not path.is_file():
        raise ModelIntegrityError(f"{model_dir}: no {A.FEATURE_IMPORTANCE} (the report plots it)")
    return pd.read_csv(path)


def item_titles(model_dir: Path) -> dict[str, str]:
    """item_id -> title from the display table; items without a title are left out (shown by id)."""
    table = pq.read_table(model_dir / A.ITEM_DISPLAY)
    if "title" not in table.column_names:
        return {}
    ids, titles = table.column(C.ITEM_ID).to_pylist(), table.column("title").to_pylist()
    return {str(i): str(t) for i, t in zip(ids, titles, strict=True) if t}


def example_users(sample: SampleTopK, seen: Ragged, count: int = EXAMPLE_USERS) -> list[int]:
    """Rows of the sample to show: a heavy, a middling and a light user (by history length)."""
    lengths = np.diff(seen.take_rows(sample.users).indptr)
    by_length = np.argsort(-lengths, kind="stable")
    picks = np.linspace(0.1, 0.9, count) * (len(by_length) - 1)
    return list(dict.fromkeys(int(by_length[round(float(p))]) for p in picks))


def fold_label(metrics: dict[str, Any], fold: str) -> str:
    return f"{fold} ({metrics['folds'][fold]['role']})"


# ---------------------------------------------------------------- plots


def _figure(width: float, height: float) -> Figure:
    # a bare Figure on its own Agg canvas: no pyplot, no global backend state, safe in any process
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def plot_fold_ndcg(metrics: dict[str, Any]) -> bytes:
    """One panel per segment: every system's nDCG@10, a bar per fold; the model and best baseline labelled."""
    order = fold_order(metrics)
    best = metrics["best_baseline"]["name"]
    systems = list(metrics["systems"])
    figure = _figure(11, 3.6 * len(SHOWN_SEGMENTS))
    axes = figure.subplots(len(SHOWN_SEGMENTS), 1, sharex=True, squeeze=False)[:, 0]
    width = 0.8 / len(order)
    x = np.arange(len(systems))
    shades = [_fold_shade(i, len(order)) for i in range(len(order))]
    for ax, segment in zip(axes, SHOWN_SEGMENTS, strict=True):
        values = ndcg_per_fold(metrics, segment)
        for i, fold in enumerate(order):
            heights = [values[s][i] for s in systems]
            ax.bar(
                x + (i - (len(order) - 1) / 2) * width, heights, width, color=shades[i], label=fold_label(metrics, fold)
            )
        ax.set_ylabel(f"nDCG@10 ({segment} users)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="upper left", fontsize="small")
    axes[-1].set_xticks(x, systems, rotation=45, ha="right")
    for label in axes[-1].get_xticklabels():
        # the two systems the page is about stand out by colour, matching the table's row highlights
        if label.get_text() in (TWO_STAGE, best):
            label.set_fontweight("bold")
            label.set_color(MODEL_COLOR if label.get_text() == TWO_STAGE else BEST_BASELINE_COLOR)
    figure.suptitle(f"nDCG@10 per backtest fold (red: model, blue: best baseline {best})")
    return _png(figure)


def _fold_shade(index: int, folds: int) -> tuple[float, float, float, float]:
    """Older folds lighter, the test fold (last) darkest."""
    from matplotlib import colormaps

    return colormaps["Greys"](0.35 + 0.55 * (index + 1) / folds)


def plot_feature_importance(importance: pd.DataFrame, top: int = TOP_FEATURES) -> bytes:
    """The ranker's `top` features by total gain, largest at the top."""
    best = importance.nlargest(top, "gain").iloc[::-1]
    figure = _figure(9, 0.28 * len(best) + 1.2)
    ax = figure.subplots()
    ax.barh(best["feature"].astype(str).tolist(), best["gain"].to_numpy(np.float64), color=BEST_BASELINE_COLOR)
    ax.set_xlabel("total gain")
    ax.tick_params(axis="y", labelsize="small")
    ax.set_title(f"Ranker feature importance (top {len(best)} of {len(importance)} by gain)")
    return _png(figure)


def plot_score_histogram(scores: npt.NDArray[np.float32], users: int, k: int = K) -> bytes:
    figure = _figure(9, 3.6)
    ax = figure.subplots()
    ax.hist(scores.astype(np.float64), bins=50, color=MODEL_COLOR, alpha=0.8)
    ax.set_xlabel("two-stage score")
    ax.set_ylabel("recommendations")
    ax.set_title(f"Final scores of the top {k} for {users:,} sampled users")
    return _png(figure)


def plot_source_shares(counts: dict[str, int]) -> bytes:
    total = max(sum(counts.values()), 1)
    figure = _figure(9, 3.6)
    ax = figure.subplots()
    ax.bar(list(counts), [100.0 * c / total for c in counts.values()], color=BEST_BASELINE_COLOR)
    ax.set_ylabel("% of recommendations")
    ax.set_title("Candidate source of each recommended item (the reason served with it)")
    ax.tick_params(axis="x", rotation=30)
    return _png(figure)


def plot_popularity_buckets(bias: PopularityBias) -> bytes:
    """Recommendation share per popularity bucket beside the interaction and catalog shares: where they part is bias."""
    x = np.arange(len(bias.buckets))
    figure = _figure(9, 3.8)
    ax = figure.subplots()
    series = (
        ("recommendations", [b.recommendations for b in bias.buckets], MODEL_COLOR),
        ("interactions", [b.interactions for b in bias.buckets], "#7f7f7f"),
        ("catalog items", [b.catalog for b in bias.buckets], "#c7c7c7"),
    )
    for i, (name, shares, color) in enumerate(series):
        ax.bar(x + (i - 1) * 0.27, [100.0 * share for share in shares], 0.27, label=name, color=color)
    ax.set_xticks(x, [b.label for b in bias.buckets])
    ax.set_xlabel("item-popularity percentile bucket (users who took the item; top = most popular)")
    ax.set_ylabel("% share")
    ax.legend(fontsize="small")
    ax.set_title("Popularity bias: where the recommendations fall in the popularity order")
    return _png(figure)


# ---------------------------------------------------------------- HTML


def img(png: bytes, plot_id: str, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img id="{plot_id}" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def table(
    table_id: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: Collection[int] = (),
    row_classes: Sequence[str] | None = None,
) -> str:
    """An HTML table; every cell is escaped (titles and ids come from data); `numeric` columns align right."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for r, row in enumerate(rows):
        css = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        cells = "".join(
            f'<td class="num">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>" for i, c in enumerate(row)
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def section(section_id: str, title: str, *parts: str) -> str:
    return f'<section id="{section_id}"><h2>{escape(title)}</h2>{"".join(parts)}</section>'


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def header_section(model: LoadedModel) -> str:
    manifest, arrays = model.manifest, model.arrays
    split = manifest.training.get("split", {})
    test_window = manifest.metrics.get("test_window", {})
    rows = [
        ["model version", manifest.version],
        ["created at", manifest.created_at],
        ["data fingerprint", manifest.data_fingerprint[:16]],
        ["users", f"{arrays.n_users:,}"],
        ["items in the catalog", f"{arrays.n_items:,}"],
        ["distinct user-item interactions", f"{len(arrays.seen.values):,}"],
        ["candidate sources", ", ".join(f"{n} ({c})" for n, c in manifest.serving.sources.items())],
        ["ranker features", str(len(manifest.features))],
    ]
    if split:
        rows.append(["backtest folds", f"{split.get('folds')} (horizon fraction {split.get('horizon_fraction')})"])
    if test_window:
        rows.append(
            [
                "test window users",
                f"{test_window['users']:,} ({test_window['warm_users']:,} warm, {test_window['cold_users']:,} cold)",
            ]
        )
    return f"<h1>Model report: {escape(manifest.version)}</h1>" + table("summary", ["property", "value"], rows)


def metrics_section(metrics: dict[str, Any]) -> str:
    if not metrics.get("folds") or not metrics.get("best_baseline"):
        return section("metrics", "Backtest metrics", note("The manifest holds no per-fold backtest metrics."))
    best = metrics["best_baseline"]
    order = fold_order(metrics)
    header = ["segment", "system", "role", *(fold_label(metrics, f) for f in order), "mean"]
    rows, classes = [], []
    for segment in SHOWN_SEGMENTS:
        for system, values in ndcg_per_fold(metrics, segment).items():
            role = "model" if system == TWO_STAGE else "best baseline" if system == best["name"] else "baseline"
            rows.append([segment, system, role, *(f"{v:.4f}" for v in values), f"{np.mean(values):.4f}"])
            classes.append({"model": "model", "best baseline": "best"}.get(role, ""))
    text = (
        f"nDCG@10 on each backtest fold, oldest first; the latest fold is the test fold. The best baseline, "
        f"{best['name']}, was chosen on {', '.join(best['chosen_on'])} by mean nDCG@10 over all users."
    )
    return section(
        "metrics",
        "Backtest: nDCG@10 per fold against the baselines",
        note(text),
        img(plot_fold_ndcg(metrics), "plot-metrics", "nDCG@10 per fold and system"),
        table("metrics-table", header, rows, numeric=range(3, len(header)), row_classes=classes),
    )


def importance_section(importance: pd.DataFrame) -> str:
    return section(
        "importance",
        "Ranker feature importance",
        img(plot_feature_importance(importance), "plot-importance", "feature importance by gain"),
    )


def scores_section(sample: SampleTopK, source_names: Sequence[str]) -> str:
    counts = source_counts(sample.reason, source_names)
    total = max(sum(counts.values()), 1)
    rows = [[name, f"{count:,}", f"{100.0 * count / total:.1f}%"] for name, count in counts.items()]
    return section(
        "scores",
        "Scores and candidate sources",
        note(f"The two-stage top {K} of {len(sample.users):,} known users (fixed-seed sample), seen items excluded."),
        img(plot_score_histogram(sample.score, len(sample.users)), "plot-scores", "histogram of final scores"),
        img(plot_source_shares(counts), "plot-sources", "share of recommendations per candidate source"),
        table("sources-table", ["source", "recommendations", "share"], rows, numeric=(1, 2)),
    )


def popularity_section(bias: PopularityBias, users: int) -> str:
    summary = [
        [f"catalog coverage@{K}", f"{bias.coverage:.4f}"],
        ["distinct items recommended", f"{bias.distinct_items:,}"],
        ["share of recommendations from the top 1% most popular items", f"{100.0 * bias.top_1pct_share:.1f}%"],
    ]
    buckets = [
        [b.label, f"{100.0 * b.recommendations:.1f}%", f"{100.0 * b.interactions:.1f}%", f"{100.0 * b.catalog:.1f}%"]
        for b in bias.buckets
    ]
    return section(
        "popularity",
        "Coverage and popularity bias",
        note(f"Over the same {users:,} users; an item's popularity is the number of users who took it."),
        img(plot_popularity_buckets(bias), "plot-popularity", "recommendation share per popularity bucket"),
        table("coverage-table", ["measure", "value"], summary, numeric=(1,)),
        table(
            "popularity-table",
            ["popularity bucket", "recommendations", "interactions", "catalog items"],
            buckets,
            numeric=(1, 2, 3),
        ),
    )


def users_section(model: LoadedModel, sample: SampleTopK, titles: dict[str, str]) -> str:
    items = model.arrays.items
    parts = []
    for n, row in enumerate(example_users(sample, model.arrays.seen), start=1):
        user = int(sample.users[row])
        history = model.arrays.seen.take_rows(np.asarray([user], dtype=np.int64)).values
        recent = items.to_ids(history[::-1][:EXAMPLE_HISTORY])  # most recent first
        mine = np.flatnonzero(sample.row == row)
        recommended = items.to_ids(sample.item[mine])
        parts.append(f"<h3>user {escape(model.arrays.users.ids[user])} ({len(history)} items seen)</h3>")
        parts.append(
            table(
                f"user-{n}-history",
                ["seen (latest first)", "item_id", "title"],
                [[str(i + 1), str(item), titles.get(str(item), str(item))] for i, item in enumerate(recent)],
                numeric=(0,),
            )
        )
        rows = [
            [
                str(int(sample.rank[j])),
                str(item),
                titles.get(str(item), str(item)),
                str(sample.reason[j]),
                f"{float(sample.score[j]):.3f}",
            ]
            for j, item in zip(mine, recommended, strict=True)
        ]
        parts.append(table(f"user-{n}-recommendations", ["rank", "item_id", "title", "reason", "score"], rows, (0, 4)))
    return section("users", "Example users", note("A heavy, a middling and a light user of the sample."), *parts)


def render_report(model: LoadedModel, importance: pd.DataFrame, sample: SampleTopK, titles: dict[str, str]) -> str:
    popularity = item_popularity(model.arrays.seen, model.arrays.n_items)
    body = "".join(
        (
            header_section(model),
            metrics_section(model.manifest.metrics),
            importance_section(importance),
            scores_section(sample, model.manifest.serving.source_names),
            popularity_section(popularity_bias(sample.item, popularity), len(sample.users)),
            users_section(model, sample, titles),
        )
    )
    title = escape(f"recsys model report {model.version}")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{CSS}</style></head><body>{body}</body></html>\n"
    )


def write_report(
    model_dir: Path,
    out: Path | None = None,
    users: int | None = None,
    *,
    model: LoadedModel | None = None,
    sample: SampleTopK | None = None,
) -> Path:
    """Load and verify the model, score the sample, write the page; returns the path written.

    A caller that has already loaded `model_dir` (and scored its sample) passes them instead."""
    users = DEFAULT_SAMPLE_USERS if users is None else users
    if users < 1:
        raise RecsysError(f"--users must be at least 1, got {users}")
    out = out or default_report_path(model_dir)
    if out.resolve().is_relative_to(model_dir.resolve()):
        raise RecsysError(f"{out}: the report must not go inside the model directory (its manifest lists every file)")
    if out.is_dir():
        raise RecsysError(f"{out}: a directory; --out names the HTML file to write")
    model = model or LoadedModel.from_dir(model_dir)
    sample = sample or recommend_sample(model, sample_users(model.arrays.seen, users))
    importance = read_importance(model_dir)
    page = render_report(model, importance, sample, item_titles(model_dir))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
