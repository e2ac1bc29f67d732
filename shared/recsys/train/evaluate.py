"""Step `evaluate`: the test window (t >= t2) scored by every system, warm and cold users apart.

The systems come from the configured sources: each source alone (backed by the backfill
sources for users it cannot score), stage 1 merged by rank fusion, and the two-stage model.
Stage 1 and the features are refitted on everything before t2; the ranker is the one trained
on the [t1, t2) labels. Nothing here is tuned on: the numbers are only reported.
"""

from __future__ import annotations

from collections.abc import Callable
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
from recsys.train.rundir import RunDir

STAGE1 = "stage1"
TWO_STAGE = "two_stage"


def to_matrix(ranked: Ranked, rows: int, k: int) -> npt.NDArray[np.int32]:
    """Top-k items per row as a (rows x k) matrix, padded with -1."""
    matrix = np.full((rows, k), -1, dtype=np.int32)
    matrix[ranked.row, ranked.rank - 1] = ranked.item
    return matrix


def relevant_items(test: pd.DataFrame, users: npt.NDArray[np.int32], model: ModelArrays) -> Ragged:
    """Each test user's test-window items that were not already seen before t2."""
    seen = model.seen.take_rows(users)
    seen_keys = seen.row_ids() * model.n_items + seen.values
    row_of = {int(u): r for r, u in enumerate(users)}
    rows = test[C.USER_IDX].map(row_of).to_numpy(np.int64)
    items = test[C.ITEM_IDX].to_numpy(np.int64)
    keys = np.unique(rows * model.n_items + items)
    keys = keys[~np.isin(keys, seen_keys)]
    indptr = np.concatenate(([0], np.cumsum(np.bincount(keys // model.n_items, minlength=len(users)))))
    return Ragged(indptr.astype(np.int64), (keys % model.n_items).astype(np.int32))


System = tuple[CandidateScorer, tuple[str, ...]]


def systems(source_names: tuple[str, ...], ranker: CandidateScorer) -> dict[str, System]:
    """name -> (scorer, the sources it runs). Baselines first: each source alone, backed by the backfill
    sources for users it cannot score, in source order; then stage 1 merged by rank fusion; then the model."""
    backfill = tuple(name for name in source_names if registry.get(name).backfill)
    out: dict[str, System] = {}
    for name in source_names:
        order = (name, *(b for b in backfill if b != name))
        used = tuple(n for n in source_names if n in order)  # the generator keeps the configured order
        out[name] = (SourcePriority(used, order), used)
    out[STAGE1] = (ReciprocalRankFusion(), source_names)
    out[TWO_STAGE] = (ranker, source_names)
    return out


def run_evaluate(run: RunDir, settings: TrainSettings, advance: Callable[[], object]) -> dict[str, Any]:
    serving = settings.serving_config()
    model = ModelArrays.load(*run.model_path("t2"), source_names=serving.source_names)
    test = run.read_parquet("split", "test.parquet")
    users = np.unique(test[C.USER_IDX].to_numpy(np.int32))
    relevant = relevant_items(test, users, model)
    warm = np.diff(model.seen.indptr)[users] > 0
    ks = sorted(settings.evaluate.k)
    k_max = max(ks)
    segments = {"all": np.ones(len(users), dtype=bool), "warm": warm, "cold": ~warm}

    ranker = LightGBMScorer.load(run.root / "stage2" / A.RANKER, serving.shortlist)
    one_pass = LightGBMScorer(ranker.booster)
    results: dict[str, Any] = {}
    candidate_rows: list[npt.NDArray[np.int64]] = []
    candidate_items: list[npt.NDArray[np.int32]] = []
    one_pass_matrices: list[npt.NDArray[np.int32]] = []
    recommended_by: dict[str, npt.NDArray[np.int32]] = {}
    evaluated = systems(serving.source_names, ranker)
    for name, (scorer, sources) in evaluated.items():
        recommender = Recommender.build(model, scorer, serving, sources)
        matrices = []
        offset = 0
        for chunk in chunks(users):
            request = Request(users=chunk, k=np.full(len(chunk), k_max, dtype=np.int64))
            batch, candidates = recommender.candidates(request)
            if name == STAGE1:
                candidate_rows.append(candidates.row + offset)
                candidate_items.append(candidates.item)
            if name == TWO_STAGE and ranker.shortlist is not None:
                exact = recommender.rank(batch, candidates, request.k, scorer=one_pass)
                one_pass_matrices.append(to_matrix(exact, len(chunk), k_max))
            matrices.append(to_matrix(recommender.rank(batch, candidates, request.k), len(chunk), k_max))
            offset += len(chunk)
        recommended = recommended_by[name] = np.vstack(matrices)
        results[name] = {}
        for segment, mask in segments.items():
            part = relevant.take_rows(np.flatnonzero(mask))
            metrics: dict[str, float] = {"users": float(int((np.diff(part.indptr) > 0).sum()))}
            for k in ks:
                metrics.update(ranking_metrics(recommended[mask], part, k, model.n_items))
            results[name][segment] = metrics
        advance()

    results["systems"] = list(evaluated)
    if one_pass_matrices and ranker.shortlist is not None:
        # what the shortlist costs: the served ranking against scoring every candidate with every tree
        served, one_pass_recommended = recommended_by[TWO_STAGE], np.vstack(one_pass_matrices)
        results["shortlist"] = {
            **ranker.shortlist.model_dump(),
            "agreement_k": min(ks),
            "agreement_with_one_pass": top_k_agreement(served, one_pass_recommended, min(ks), model.n_items),
            "one_pass": ranking_metrics(one_pass_recommended, relevant, min(ks), model.n_items),
        }
    rows, items = np.concatenate(candidate_rows), np.concatenate(candidate_items)
    results["candidates"] = {
        "recall": candidate_recall(rows, items, relevant),
        "mean_per_user": float(len(rows) / max(len(users), 1)),
    }
    results["test_window"] = {
        "users": len(users),
        "warm_users": int(warm.sum()),
        "cold_users": int((~warm).sum()),
    }
    run.write_json("evaluate", "metrics.json", results)
    return results


def metrics_table(metrics: dict[str, Any], ks: tuple[int, ...] = (10, 50)) -> str:
    """A plain-text table: one line per system and segment."""
    columns = [f"{m}@{k}" for k in ks for m in ("ndcg", "recall", "map", "mrr", "hit_rate", "coverage")]
    header = f"{'system':<11}{'users':>12}" + "".join(f"{c:>13}" for c in columns)
    lines = [header, "-" * len(header)]
    for segment in ("all", "warm", "cold"):
        for system in metrics.get("systems", ()):
            row = metrics.get(system, {}).get(segment)
            if row is None:
                continue
            label = f"{segment}:{int(row['users'])}"
            lines.append(f"{system:<11}{label:>12}" + "".join(f"{row.get(c, float('nan')):>13.4f}" for c in columns))
        lines.append("")
    shortlist = metrics.get("shortlist")
    if shortlist:
        k = shortlist["agreement_k"]
        lines.append(
            f"ranker shortlist ({shortlist['trees']} trees, then the best {shortlist['size']} per user): "
            f"{shortlist['agreement_with_one_pass']:.4f} of the top {k} as in one-pass scoring; "
            f"one-pass ndcg@{k} {shortlist['one_pass'][f'ndcg@{k}']:.4f}"
        )
    cand = metrics.get("candidates")
    if cand:
        lines.append(
            f"stage-1 candidate recall: {cand['recall']:.4f} with {cand['mean_per_user']:.0f} candidates per user"
        )
    return "\n".join(lines)
