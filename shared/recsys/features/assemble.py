"""Gather the ranker's feature matrix for candidate pairs: array indexing only, no pandas.

Training and serving both call `assemble`, so the ranker always sees features built by the
same code it was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from recsys.candidates.base import UserBatch
from recsys.candidates.generate import Candidates
from recsys.features.arrays import FeatureArrays
from recsys.model import ModelArrays

F32 = npt.NDArray[np.float32]
#: From this many pairs (a batch chunk) the feature tables are gathered a column at a time.
COLUMN_GATHER_MIN_PAIRS = 4096


def pair_feature_names(source_names: Sequence[str], tables: FeatureArrays) -> tuple[str, ...]:
    names = [f"{source}_score" for source in source_names]
    names += [f"{source}_rank" for source in source_names]
    names.append("n_sources")
    names += [f"{group}_match" for group in tables.tag_group_columns]
    names += [name for name, _, _ in tables.difference_columns]
    return tuple(names)


def feature_names(model: ModelArrays, source_names: Sequence[str]) -> tuple[str, ...]:
    tables = model.feature_tables()
    return (
        *tables.user_feature_names,
        *tables.item_feature_names,
        *pair_feature_names(source_names, tables),
    )


def assemble(model: ModelArrays, batch: UserBatch, candidates: Candidates) -> F32:
    """A float32 matrix, one row per candidate pair, columns as `feature_names`.

    Column-major: filled a column at a time, that is ~3x faster than row-major, and LightGBM
    reads either layout without a copy.
    """
    tables = model.feature_tables()
    n_pairs, n_sources = len(candidates), len(candidates.source_names)
    users = batch.users[candidates.row]  # -1 selects the last row: the no-history user
    groups = tables.tag_group_columns
    differences = tables.difference_columns
    n_user, n_item = len(tables.user_feature_names), len(tables.item_feature_names)
    width = n_user + n_item + 2 * n_sources + 1 + len(groups) + len(differences)
    matrix = np.empty((n_pairs, width), dtype=np.float32, order="F")
    if n_pairs < COLUMN_GATHER_MIN_PAIRS:  # one user online: two gathers beat 45 calls
        matrix[:, :n_user] = tables.user_features[users]
        matrix[:, n_user : n_user + n_item] = tables.item_features[candidates.item]
    else:  # column by column from column-major tables: ~3x faster than gathering rows and transposing them
        for j in range(n_user):
            np.take(tables.user_features[:, j], users, out=matrix[:, j])
        for j in range(n_item):
            np.take(tables.item_features[:, j], candidates.item, out=matrix[:, n_user + j])
    col = n_user + n_item
    matrix[:, col : col + n_sources] = candidates.scores
    col += n_sources
    matrix[:, col : col + n_sources] = candidates.ranks
    col += n_sources
    matrix[:, col] = np.sum(~np.isnan(candidates.ranks), axis=1)
    col += 1
    if groups:
        # a user's share of history in each of the item's tags, summed per group
        products = tables.user_tags[users] * tables.item_tags[candidates.item]
        for cols in groups.values():
            matrix[:, col] = products[:, cols].sum(axis=1)
            col += 1
    for _, item_column, user_column in differences:
        matrix[:, col] = matrix[:, n_user + item_column] - matrix[:, user_column]
        col += 1
    return matrix
