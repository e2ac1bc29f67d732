"""Stage 1 at serving time: exclusions, cold users, recent items, merge bookkeeping."""

import numpy as np
import pytest
from recsys.candidates.scores import SharedVector
from recsys.loaded import LoadedModel
from recsys.ragged import Ragged
from recsys.ranking.scorers import ReciprocalRankFusion
from recsys.recommender import Recommender, Request
from recsys.sources.covisit import LoadedCovisit
from recsys.train.pipeline import TrainJob


@pytest.fixture(scope="module")
def model(synthetic_run: TrainJob) -> LoadedModel:
    return LoadedModel.from_dir(synthetic_run.out)


def _request(users: list[int], k: int = 20, **kwargs: object) -> Request:
    return Request(users=np.asarray(users, dtype=np.int32), k=np.full(len(users), k, dtype=np.int64), **kwargs)  # type: ignore[arg-type]


def test_seen_items_are_never_candidates(model: LoadedModel) -> None:
    users = np.argsort(-np.diff(model.arrays.seen.indptr))[:50].astype(np.int32)
    _, candidates = model.recommender.candidates(_request(users.tolist()))
    seen = model.arrays.seen.take_rows(users)
    seen_keys = set((seen.row_ids() * model.arrays.n_items + seen.values).tolist())
    cand_keys = set((candidates.row * model.arrays.n_items + candidates.item).tolist())
    assert len(cand_keys) > 50 * 20
    assert not (seen_keys & cand_keys)


def test_seen_items_can_be_kept_when_asked(model: LoadedModel) -> None:
    user = int(np.argmax(np.diff(model.arrays.seen.indptr)))
    _, candidates = model.recommender.candidates(_request([user], exclude_seen=False))
    seen = set(model.arrays.seen.take_rows(np.array([user])).values.tolist())
    assert seen & set(candidates.item.tolist())


def test_every_source_contributes_and_ranks_are_kept(model: LoadedModel) -> None:
    user = int(np.argmax(np.diff(model.arrays.seen.indptr)))
    _, candidates = model.recommender.candidates(_request([user]))
    assert candidates.source_names == model.manifest.serving.source_names
    in_top = ~np.isnan(candidates.ranks)
    assert in_top.any(axis=0).all()  # each source brought at least one item
    assert in_top.any(axis=1).all()  # and every candidate came from some source
    for s in range(len(candidates.source_names)):  # ranks within a source are 0..n-1 without gaps
        ranks = np.sort(candidates.ranks[in_top[:, s], s])
        np.testing.assert_array_equal(ranks, np.arange(len(ranks)))


def test_unknown_user_gets_popularity_and_covisitation_of_recent_items(model: LoadedModel) -> None:
    recommender = Recommender.build(model.arrays, ReciprocalRankFusion(), model.manifest.serving)
    _, cold = recommender.candidates(_request([-1]))
    assert np.isnan(cold.ranks[:, 0]).all()  # no ALS opinion
    assert np.isnan(cold.ranks[:, 1]).all()  # no seeds, no co-visitation
    popularity = model.arrays.sources["popularity"]
    assert isinstance(popularity, SharedVector)
    top_popular = np.argsort(-popularity.vector, kind="stable")[:20]
    assert set(top_popular.tolist()) <= set(cold.item.tolist())

    covisit = model.arrays.sources["covisit"]
    assert isinstance(covisit, LoadedCovisit)
    seed = int(np.argmax((covisit.neighbours >= 0).sum(axis=1)))
    _, warmed = recommender.candidates(_request([-1], recent_items=Ragged.from_lists([[seed]])))
    covisit_items = set(warmed.item[~np.isnan(warmed.ranks[:, 1])].tolist())
    neighbours = set(covisit.neighbours[seed][covisit.neighbours[seed] >= 0].tolist())
    assert covisit_items and covisit_items <= neighbours


def test_allowed_mask_and_explicit_exclusions(model: LoadedModel) -> None:
    allowed = np.zeros(model.arrays.n_items, dtype=bool)
    allowed[::3] = True
    exclude = Ragged.from_lists([[0, 3, 6]])
    ranked = model.recommender.recommend(_request([-1], k=10, allowed=allowed, exclude=exclude))
    assert len(ranked) == 10
    assert allowed[ranked.item].all()
    assert not set(ranked.item.tolist()) & {0, 3, 6}


def test_reranking_a_recommended_list_keeps_its_scores_and_reasons(model: LoadedModel) -> None:
    """/rerank finds where each source would have proposed a given item (its rank feature and reason):
    for a user with no history (nothing excluded on either side), a list GET /recommendations made
    is scored and explained exactly as it was."""
    recommended = model.recommender.recommend(_request([-1], k=10))
    again = model.recommender.rerank(-1, recommended.item.tolist(), 10)
    assert again.item.tolist() == recommended.item.tolist()
    np.testing.assert_array_equal(again.score, recommended.score)
    assert again.reasons().tolist() == recommended.reasons().tolist()
    assert "requested" not in again.reasons().tolist()
