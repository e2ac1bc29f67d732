"""Step `evaluate`: every backtest fold's test window scored by the baseline family and the model.

The baseline family: hard-window charts and decayed popularity (`recsys.train.baselines`), each
configured source alone (backed by the backfill sources for users it cannot score), and stage 1
merged by rank fusion. The best baseline is the one with the best mean nDCG@10 on the
validation folds; the test fold (the latest) is only reported. Each fold uses stage 1 and
features fitted before its test window and its own ranker (`recsys.train.stage2`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from recsys import artifacts as A
from recsys import columns as C
from recsys import sources as registry
from recsys.bulk import chunks
from recsys.config import TrainSettings
from recsys.model import ModelArrays
from recsys.offline_metrics import candidate_recall, ranking_metrics, top_k_agreement
from recsys.ragged import Ragged
from recsys.ranking.scorers import CandidateScorer, LightGBMScorer, ReciprocalRankFusion, SourcePriority
from recsys.recommender import Ranked, Recommender, Request
from recsys.train.baselines import chart_vectors, top_k_unseen
from recsys.train.progress import Progress
from recsys.train.rundir import RunDir
from recsys.train.split import Fold, folds, history_for, window_interactions

STAGE1 = "stage1"
TWO_STAGE = "two_stage"


def to_matrix(ranked: Ranked, rows: int, k: int) -> npt.NDArray[np.int32]:
    """Top-k items per row as a (rows x k) matrix, padded with -1."""
    matrix = np.full((rows, k), -1, dtype=np.int32)
    matrix[ranked.row, ranked.rank - 1] = ranked.item
    return matrix


def relevant_items(test: pd.DataFrame, users: npt.NDArray[np.int32], model: ModelArrays) -> Ragged:
    """Each test user's test-window items that they had not taken before the window."""
    seen = model.seen.take_rows(users)
    seen_keys = seen.row_ids() * model.n_items + seen.values
    row_of = {int(u): r for r, u in enumerate(users)}
    rows = test[C.USER_IDX].map(row_of).to_numpy(np.int64)
    items = test[C.ITEM_IDX].to_numpy(np.int64)
    keys = np.unique(rows * model.n_items + items)
    keys = keys[~np.isin(keys, seen_keys)]
    indptr = np.concatenate(([0], np.cumsum(np.bincount(keys // model.n_items, minlength=len(users)))))
    return Ragged(indptr.astype(np.int64), (keys % model.n_items).astype(np.int32))


#: user segments every fold reports; the backtest table and the report show the first two
SEGMENTS = ("all", "warm", "cold")
SHOWN_SEGMENTS = SEGMENTS[:2]


def systems(source_names: tuple[str, ...], ranker: CandidateScorer) -> dict[str, CandidateScorer]:
    """name -> how it ranks the served candidates. Baselines first: each source alone, backed by the backfill
    sources for users it cannot score, in source order; then stage 1 merged by rank fusion; then the model.

    Every source proposes its items independently of the others, so one candidate set serves all systems:
    a source-alone system rules out (-inf) the pairs only other sources proposed."""
    backfill = tuple(name for name in source_names if registry.get(name).backfill)
    out: dict[str, CandidateScorer] = {
        name: SourcePriority(source_names, (name, *(b for b in backfill if b != name))) for name in source_names
    }
    out[STAGE1] = ReciprocalRankFusion()
    out[TWO_STAGE] = ranker
    return out


def _segment_metrics(
    recommended: npt.NDArray[np.int32],
    relevant: Ragged,
    segments: dict[str, npt.NDArray[np.bool_]],
    ks: list[int],
    n_items: int,
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for segment, mask in segments.items():
        part = relevant.take_rows(np.flatnonzero(mask))
        metrics: dict[str, float] = {"users": float(int((np.diff(part.indptr) > 0).sum()))}
        for k in ks:
            metrics.update(ranking_metrics(recommended[mask], part, k, n_items))
        out[segment] = metrics
    return out


def evaluate_fold(run: RunDir, settings: TrainSettings, fold: Fold, progress: Progress) -> dict[str, Any]:
    """Every system on one fold's test window, from the fits at the fold's cut and the fold's own ranker."""
    serving = settings.serving_config()
    model = ModelArrays.load(*run.model_path(fold.cut), source_names=serving.source_names)
    test = window_interactions(run, fold.test)
    users = np.unique(test[C.USER_IDX].to_numpy(np.int32))
    relevant = relevant_items(test, users, model)
    warm = np.diff(model.seen.indptr)[users] > 0
    ks = sorted(settings.evaluate.k)
    k_max = max(ks)
    segments = dict(zip(SEGMENTS, (np.ones(len(users), dtype=bool), warm, ~warm), strict=True))

    ranker = LightGBMScorer.load(run.root / "stage2" / fold.name / A.RANKER, serving.shortlist, serving.ranker_base)
    one_pass = LightGBMScorer(ranker.booster, base=ranker.base)
    results: dict[str, Any] = {}
    candidate_rows: list[npt.NDArray[np.int64]] = []
    candidate_items: list[npt.NDArray[np.int32]] = []
    one_pass_matrices: list[npt.NDArray[np.int32]] = []
    recommended_by: dict[str, npt.NDArray[np.int32]] = {}

    # the chart family first: one shared vector each, minus what each user has seen
    history, now = history_for(run, fold.cut)
    seen = model.seen.take_rows(users)
    for name, vector in chart_vectors(history, model.n_items, now, settings.evaluate).items():
        if name in serving.sources:
            continue  # a configured chart source: evaluated below as that source alone, through the served code
        results[name] = _segment_metrics(top_k_unseen(vector, seen, k_max), relevant, segments, ks, model.n_items)

    scorers = systems(serving.source_names, ranker)
    recommender = Recommender.build(model, ranker, serving)
    matrices: dict[str, list[npt.NDArray[np.int32]]] = {name: [] for name in scorers}
    offset = 0
    for chunk in chunks(users, model.seen):
        progress.note(f"{fold.name}: users {offset:,}/{len(users):,}")
        request = Request(users=chunk, k=np.full(len(chunk), k_max, dtype=np.int64))
        batch, candidates = recommender.candidates(request)
        candidate_rows.append(candidates.row + offset)
        candidate_items.append(candidates.item)
        for name, scorer in scorers.items():
            matrices[name].append(to_matrix(recommender.rank(batch, candidates, request.k, scorer), len(chunk), k_max))
        if ranker.shortlist is not None:
            exact = recommender.rank(batch, candidates, request.k, scorer=one_pass)
            one_pass_matrices.append(to_matrix(exact, len(chunk), k_max))
        offset += len(chunk)
    for name, parts in matrices.items():
        recommended = recommended_by[name] = np.vstack(parts)
        results[name] = _segment_metrics(recommended, relevant, segments, ks, model.n_items)
    progress.advance()

    fold_result: dict[str, Any] = {
        "role": fold.role,
        "test": [fold.test.start, fold.test.stop],
        "users": len(users),
        "warm_users": int(warm.sum()),
        "cold_users": int((~warm).sum()),
        "results": results,
    }
    if ranker.shortlist is not None:
        # what the shortlist costs: the served ranking against scoring every candidate with every tree
        served, one_pass_recommended = recommended_by[TWO_STAGE], np.vstack(one_pass_matrices)
        fold_result["shortlist"] = {
            **ranker.shortlist.model_dump(),
            "agreement_k": min(ks),
            "agreement_with_one_pass": top_k_agreement(served, one_pass_recommended, min(ks), model.n_items),
            "one_pass": ranking_metrics(one_pass_recommended, relevant, min(ks), model.n_items),
        }
    rows, items = np.concatenate(candidate_rows), np.concatenate(candidate_items)
    fold_result["candidates"] = {
        "recall": candidate_recall(rows, items, relevant),
        "mean_per_user": float(len(rows) / max(len(users), 1)),
    }
    return fold_result


def best_baseline(folds: dict[str, dict[str, Any]], baselines: list[str], metric: str = "ndcg@10") -> dict[str, Any]:
    """The baseline with the best mean `metric` (all users) over the validation folds; the test fold decides
    only when there is no validation fold, and says so."""
    validation = [name for name, fold in folds.items() if fold["role"] == "validation"]
    chosen_on = validation or [name for name, fold in folds.items() if fold["role"] == "test"]
    means = {b: float(np.mean([folds[f]["results"][b]["all"][metric] for f in chosen_on])) for b in baselines}
    best = max(baselines, key=lambda b: (means[b], b))
    return {"name": best, "metric": metric, "chosen_on": chosen_on, "mean_on_those_folds": means[best]}


def run_evaluate(run: RunDir, settings: TrainSettings, progress: Progress) -> dict[str, Any]:
    per_fold = {fold.name: evaluate_fold(run, settings, fold, progress) for fold in folds(run)}
    test_fold = next(name for name, fold in per_fold.items() if fold["role"] == "test")
    system_names = list(per_fold[test_fold]["results"])
    baselines = [name for name in system_names if name != TWO_STAGE]
    summary: dict[str, Any] = {}
    for system in system_names:
        summary[system] = {}
        for segment in SEGMENTS:
            values = [fold["results"][system][segment]["ndcg@10"] for fold in per_fold.values()]
            summary[system][segment] = {"ndcg@10": {"mean": float(np.mean(values)), "std": float(np.std(values))}}
    results: dict[str, Any] = {
        # the test fold's numbers at the top level: the promotion gate and /model read these
        **per_fold[test_fold]["results"],
        "systems": system_names,
        "baselines": baselines,
        "test_fold": test_fold,
        "best_baseline": best_baseline(per_fold, baselines),
        "folds": per_fold,
        "summary": summary,
        "candidates": per_fold[test_fold]["candidates"],
        "test_window": {k: per_fold[test_fold][k] for k in ("users", "warm_users", "cold_users")},
    }
    if "shortlist" in per_fold[test_fold]:
        results["shortlist"] = per_fold[test_fold]["shortlist"]
    run.write_json("evaluate", "metrics.json", results)
    return results


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:  # blank lines around: a Markdown table neither starts inside a paragraph nor ends by itself
        lines = ["", "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return [*lines, *("| " + " | ".join(row) + " |" for row in rows), ""]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    return [fmt(header), "-" * len(fmt(header)), *(fmt(r) for r in rows)]


def fold_order(metrics: dict[str, Any]) -> list[str]:
    """Fold names oldest first, the test fold (stored first) last, as the tables show them."""
    return list(reversed(metrics.get("folds", {})))


def ndcg_per_fold(metrics: dict[str, Any], segment: str) -> dict[str, list[float]]:
    """system -> nDCG@10 on each fold (oldest first) for one user segment."""
    order = fold_order(metrics)
    return {
        system: [float(metrics["folds"][f]["results"][system][segment]["ndcg@10"]) for f in order]
        for system in metrics["systems"]
    }


def backtest_table(metrics: dict[str, Any], markdown: bool = False) -> list[str]:
    """The model against the best baseline, fold by fold (empty for metrics without folds)."""
    best = metrics.get("best_baseline", {})
    if not (metrics.get("folds") and best):
        return []
    order, test = fold_order(metrics), metrics["test_fold"]
    lines = [
        f"Backtest: {len(order)} fold(s); {test} (the latest) is the test fold.",
        f"Best baseline, chosen on {', '.join(best['chosen_on'])}: {best['name']}.",
    ]
    header = ["nDCG@10", *[f"{f}{' (test)' if f == test else ''}" for f in order], "mean", "sd"]
    rows: list[list[str]] = []
    for segment in SHOWN_SEGMENTS:
        values = ndcg_per_fold(metrics, segment)
        for name in (best["name"], TWO_STAGE):
            v = values[name]
            rows.append([f"{segment}: {name}", *(f"{x:.4f}" for x in v), f"{np.mean(v):.4f}", f"{np.std(v):.4f}"])
        ratio = [m / b if b else float("nan") for m, b in zip(values[TWO_STAGE], values[best["name"]], strict=True)]
        rows.append([f"{segment}: ratio", *(f"{r:.2f}x" for r in ratio), f"{np.mean(ratio):.2f}x", ""])
    return lines + _table(header, rows, markdown)


def metrics_table(metrics: dict[str, Any], markdown: bool = False) -> str:
    """The backtest against the best baseline, fold by fold, then every system on the test fold."""
    best = metrics.get("best_baseline", {})
    lines = backtest_table(metrics, markdown)
    if lines:
        lines += ([] if markdown else [""]) + [f"Every system on the test fold ({metrics['test_fold']}):"]
    header = ["system", "users", "nDCG@10", "Recall@10", "warm nDCG", "cold nDCG", "HR@10", "cover@10"]
    rows = []
    for system in metrics.get("systems", ()):
        result = metrics.get(system)
        if not result:
            continue
        every, warm, cold = result["all"], result["warm"], result["cold"]
        rows.append(
            [
                system + (" *" if system == best.get("name") else ""),
                f"{int(every['users'])}",
                f"{every['ndcg@10']:.4f}",
                f"{every['recall@10']:.4f}",
                f"{warm['ndcg@10']:.4f}",
                f"{cold['ndcg@10']:.4f}",
                f"{every['hit_rate@10']:.4f}",
                f"{every['coverage@10']:.4f}",
            ]
        )
    lines += _table(header, rows, markdown)
    if best:
        lines.append("(* the best baseline)")
    shortlist = metrics.get("shortlist")
    if shortlist:
        k = shortlist["agreement_k"]
        lines.append(
            f"ranker shortlist ({shortlist['trees']} trees, then the best {shortlist['size']} per user): "
            f"{shortlist['agreement_with_one_pass']:.4f} of the top {k} as in one-pass scoring"
        )
    cand = metrics.get("candidates")
    if cand:
        lines.append(f"stage-1 candidate recall: {cand['recall']:.4f} with {cand['mean_per_user']:.0f} per user")
    return "\n".join(lines)
