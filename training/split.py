"""Grouped, stable splits.

Real items are grouped by issuer, so no issuer is in both train and test. Written items have
no issuer; they are grouped by near-duplicate clusters (character 1-3-gram cosine ≥ 0.6), so a
reworded twin never sits on the other side; a derived (proposal-style) item follows its original. The test split is decided by a hash of the group
key: stable while the corpus grows, and never chosen by looking at results."""
from __future__ import annotations

import hashlib

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GroupKFold

from .corpus import Record

TEST_BUCKETS = 5  # one bucket in five is test: about 20 %
NEAR_DUPLICATE = 0.6


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def groups_for(records: list[Record]) -> list[str]:
    groups = [r.group for r in records]
    idx = [i for i, g in enumerate(groups) if not g]
    if idx:
        texts = [records[i].title for i in idx]
        X = TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).fit_transform(texts)
        sims = (X @ X.T).tocoo()
        parent = list(range(len(idx)))
        for a, b, s in zip(sims.row, sims.col, sims.data):
            if a < b and s >= NEAR_DUPLICATE:
                ra, rb = _find(parent, a), _find(parent, b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
        for k, i in enumerate(idx):
            root = idx[_find(parent, k)]
            groups[i] = f"cluster:{records[root].id}"
    # A proposal-style restatement sits wherever its original sits, so the two never straddle
    # train and test (a written original has no issuer to share).
    position = {r.id: i for i, r in enumerate(records)}
    for i, r in enumerate(records):
        if r.derived_from in position:
            groups[i] = groups[position[r.derived_from]]
    return groups


def is_test_group(group: str) -> bool:
    digest = hashlib.sha256(group.encode("utf-8")).digest()
    return digest[0] % TEST_BUCKETS == 0


def split(records: list[Record]) -> tuple[list[int], list[int], list[str]]:
    """(train-pool indices, test indices, groups). Feedback records always train."""
    groups = groups_for(records)
    train, test = [], []
    for i, (r, g) in enumerate(zip(records, groups)):
        (test if (r.source_type != "feedback" and is_test_group(g)) else train).append(i)
    return train, test, groups


def grouped_folds(groups: list[str], n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    n = min(n_splits, len(set(groups)))
    return list(GroupKFold(n_splits=n).split(np.zeros(len(groups)), groups=groups))
