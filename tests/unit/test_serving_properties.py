"""Properties of the serving core on the synthetic model, for any user, k, exclusions and lists (hypothesis).

- GET /recommendations (`RecommendationService.recommend`): k items, or every eligible item if fewer; no
  duplicates; nothing excluded, nothing seen (with exclude_seen), nothing outside the genre; best first, ranks 1..n.
- POST /rerank (`RecommendationService.rerank`, README "Serving"): duplicates collapsed; the known ids given,
  best first (all of them, or the best k), then the unknown ones in the order given, at most k in all; every
  unknown id listed in `unknown_items`.
- `top_k_per_row` equals a brute-force per-row sort (ties broken by item index, -inf never picked).

Examples are bounded and derandomized: CI runs the same cases each time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from recsys.api.models import RecommendRequest, RerankRequest
from recsys.api.service import FALLBACK, SESSION, UNKNOWN_ITEM, RecommendationService
from recsys.api.settings import ApiSettings
from recsys.loaded import LoadedModel
from recsys.ranking.topk import top_k_per_row
from recsys.store.provider import LocalSource, ModelProvider
from recsys.train.pipeline import TrainJob

#: characters an id may have (recsys.idmap.ID_PATTERN, ASCII only here)
ID_REGEX = r"[A-Za-z0-9._:@+=|#~-]{1,24}"
SERVICE_SETTINGS = settings(
    max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@dataclass(frozen=True)
class Served:
    """The service under test and what its model knows, as the caller sees it (external ids)."""

    service: RecommendationService
    model: LoadedModel
    users: tuple[str, ...]
    items: tuple[str, ...]
    genres: tuple[str, ...]

    @property
    def max_k(self) -> int:
        return self.service.settings.max_k

    def seen(self, user_id: str) -> set[str]:
        arrays = self.model.arrays
        user = arrays.users.get(user_id)
        if user < 0:
            return set()
        return set(arrays.items.to_ids(arrays.seen.take_rows(np.asarray([user], dtype=np.int32)).values).tolist())

    def in_genre(self, genre: str) -> set[str]:
        tables = self.model.arrays.feature_tables()
        mask = tables.item_tags[:, tables.tag_names.index(f"genres={genre}")] > 0
        return set(self.model.arrays.items.to_ids(np.flatnonzero(mask)).tolist())


@pytest.fixture(scope="module")
def served(synthetic_run: TrainJob) -> Served:
    provider = ModelProvider(LocalSource(synthetic_run.out), background=False)
    service = RecommendationService(provider, ApiSettings())
    model = provider.get()
    tag_names = model.arrays.feature_tables().tag_names
    genres = tuple(name.split("=", 1)[1] for name in tag_names if name.startswith("genres="))
    assert genres, "the synthetic catalog has genres"
    return Served(service, model, model.arrays.users.ids, model.arrays.items.ids, genres)


def unknown_ids(known: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Well-formed ids the model does not know."""
    known_set = frozenset(known)
    return st.from_regex(ID_REGEX, fullmatch=True).filter(lambda value: value not in known_set)


def user_ids(served: Served) -> st.SearchStrategy[str]:
    """Users with a history, and users the model has never seen (the popularity fallback)."""
    return st.one_of(st.sampled_from(served.users), unknown_ids(served.users))


@SERVICE_SETTINGS
@given(data=st.data())
def test_recommendations_are_the_best_k_eligible_items_without_duplicates(served: Served, data: st.DataObject) -> None:
    """k items (all eligible ones if fewer): distinct, none excluded, none seen with exclude_seen, all in the
    genre asked for; scores non-increasing, ranks 1..n; an unknown user gets the popularity fallback, or the
    session one when a known item seeds co-visitation."""
    limits = served.service.settings
    user_id = data.draw(user_ids(served), label="user_id")
    k = data.draw(st.integers(1, served.max_k), label="k")
    exclude_seen = data.draw(st.booleans(), label="exclude_seen")
    # any share of the catalog, up to all of it, so that fewer than k items can remain
    catalog_order = data.draw(st.permutations(served.items))
    excluded_known = catalog_order[: data.draw(st.integers(0, len(served.items)))]
    excluded_unknown = data.draw(st.lists(unknown_ids(served.items), max_size=3))
    exclude = data.draw(st.permutations([*excluded_known, *excluded_unknown]), label="exclude")
    genre = data.draw(st.sampled_from(served.genres), label="genre") if data.draw(st.booleans()) else None
    recent_items = data.draw(
        st.lists(st.sampled_from(served.items) | unknown_ids(served.items), max_size=limits.max_recent_items),
        label="recent_items",
    )

    answer = served.service.recommend(
        RecommendRequest(
            user_id=user_id, k=k, exclude_seen=exclude_seen, exclude=exclude, genre=genre, recent_items=recent_items
        )
    )

    eligible = set(served.items) - set(excluded_known)
    if exclude_seen:
        eligible -= served.seen(user_id)
    if genre is not None:
        eligible &= served.in_genre(genre)
    returned = [item.item_id for item in answer.items]
    assert len(returned) == min(k, len(eligible))
    assert len(set(returned)) == len(returned), "no item twice"
    assert set(returned) <= eligible, "nothing excluded, seen (with exclude_seen) or outside the genre"
    assert [item.rank for item in answer.items] == list(range(1, len(returned) + 1))
    scores = [item.score for item in answer.items]
    assert all(score is not None for score in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    seeded = bool(set(recent_items) & set(served.items))
    assert answer.fallback == (None if user_id in served.users else SESSION if seeded else FALLBACK)
    assert answer.user_id == user_id


def rerank_lists(served: Served, max_size: int) -> st.SearchStrategy[list[str]]:
    """A caller's list: known and unknown ids, duplicates possible, never empty."""
    return st.lists(st.sampled_from(served.items) | unknown_ids(served.items), min_size=1, max_size=max_size)


@SERVICE_SETTINGS
@given(data=st.data())
def test_rerank_orders_the_known_ids_given_then_the_unknown_ones_at_most_k(served: Served, data: st.DataObject) -> None:
    """The distinct known ids given, scored best first (all of them if k allows, else k of them), then the
    distinct unknown ids in the order given while k allows; every unknown id is in `unknown_items`."""
    user_id = data.draw(user_ids(served), label="user_id")
    item_ids = data.draw(rerank_lists(served, max_size=120), label="item_ids")
    # k below, between and above the numbers of known and of distinct ids, or none (all of them)
    k = data.draw(st.none() | st.integers(1, min(served.max_k, len(item_ids) + 5)), label="k")

    answer = served.service.rerank(RerankRequest(user_id=user_id, item_ids=item_ids, k=k))

    distinct = list(dict.fromkeys(item_ids))
    known = [item for item in distinct if item in set(served.items)]
    unknown = [item for item in distinct if item not in set(served.items)]
    limit = len(distinct) if k is None else k
    kept_known = min(limit, len(known))
    returned = [item.item_id for item in answer.items]
    assert answer.unknown_items == unknown
    assert len(returned) == min(limit, len(distinct))
    assert len(set(returned)) == len(returned), "duplicates collapsed"
    ranked, appended = answer.items[:kept_known], answer.items[kept_known:]
    assert {item.item_id for item in ranked} <= set(known)
    if limit >= len(known):
        assert sorted(item.item_id for item in ranked) == sorted(known), "every known id given comes back"
    scores = [item.score for item in ranked]
    assert all(score is not None for score in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    assert [item.item_id for item in appended] == unknown[: limit - kept_known]
    assert all(item.score is None and item.reason == UNKNOWN_ITEM for item in appended)
    assert [item.rank for item in answer.items] == list(range(1, len(returned) + 1))
    assert answer.fallback == (None if user_id in served.users else FALLBACK)


@SERVICE_SETTINGS
@given(data=st.data())
def test_rerank_with_k_keeps_the_best_k_of_the_whole_list(served: Served, data: st.DataObject) -> None:
    """With k, the known ids kept are the first k of the same list reranked without k (same scores, same order).

    Lists stay within the ranker's shortlist, where every pair gets its exact score whatever k is.
    """
    shortlist = served.model.manifest.serving.shortlist
    user_id = data.draw(user_ids(served), label="user_id")
    item_ids = data.draw(rerank_lists(served, max_size=shortlist.size if shortlist else 60), label="item_ids")
    k = data.draw(st.integers(1, min(served.max_k, len(item_ids))), label="k")

    whole = served.service.rerank(RerankRequest(user_id=user_id, item_ids=item_ids))
    best_k = served.service.rerank(RerankRequest(user_id=user_id, item_ids=item_ids, k=k))

    assert best_k.items == whole.items[:k]
    assert best_k.unknown_items == whole.unknown_items


@st.composite
def long_score_lists(
    draw: st.DrawFn,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """(row, item, score, k): some pairs of a random score matrix, in any order; ties and -inf are common."""
    n_rows = draw(st.integers(1, 6))
    n_items = draw(st.integers(1, 12))
    values = st.sampled_from([-np.inf, -1.0, 0.0, 0.25, 1.0]) | st.floats(-10, 10, width=32)
    matrix = draw(hnp.arrays(np.float32, (n_rows, n_items), elements=values))
    present = draw(hnp.arrays(np.bool_, (n_rows, n_items)))
    rows, items = np.nonzero(present)
    shuffled = np.asarray(draw(st.permutations(range(len(rows)))), dtype=np.int64)
    rows, items = rows[shuffled], items[shuffled]
    k = draw(hnp.arrays(np.int64, n_rows, elements=st.integers(0, n_items + 1)))
    return rows.astype(np.int64), items.astype(np.int32), matrix[rows, items], k


def brute_force_top_k(
    row: npt.NDArray[np.int64], item: npt.NDArray[np.int32], score: npt.NDArray[np.float32], k: npt.NDArray[np.int64]
) -> tuple[list[int], list[int]]:
    """Row by row: the pairs not scored -inf, by score descending then item index, the first k[row] of them."""
    kept: list[int] = []
    ranks: list[int] = []
    for r in range(len(k)):
        pairs = np.flatnonzero((row == r) & (score > -np.inf))
        by_item = pairs[np.argsort(item[pairs], kind="stable")]
        best_first = by_item[np.argsort(-score[by_item], kind="stable")][: k[r]]
        kept += best_first.tolist()
        ranks += range(1, len(best_first) + 1)
    return kept, ranks


@settings(max_examples=300, deadline=None, derandomize=True)
@given(pairs=long_score_lists())
def test_top_k_per_row_equals_a_brute_force_sort(
    pairs: tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.int64]],
) -> None:
    """Each row's k best pairs (ties broken by item index, -inf never picked), rows ascending, ranks 1..k."""
    row, item, score, k = pairs
    keep, rank = top_k_per_row(row, item, score, k)
    expected_keep, expected_rank = brute_force_top_k(row, item, score, k)
    assert keep.tolist() == expected_keep
    assert rank.tolist() == expected_rank
