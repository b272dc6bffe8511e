"""The learned parts, as scikit-learn estimators (fit / predict_proba), pickled with joblib.

They live in `model/learned/` (not `training/`) because loading the shipped artefact must not need the
training code; fitting them is `training/train.py`'s job."""
from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import normalize

from .tfidf_text import meta_tokens, unit_kind, word_ngrams  # noqa: F401  (pickles name them here)


def make_features(min_df: int = 2) -> FeatureUnion:
    # Char 1-4-grams with min_df=2 beat 1-3-grams with min_df=1 on grouped out-of-fold
    # log-loss (0.171 vs 0.201 on the 1,509-item pool): four-character terms such as 实施方案
    # and 收费标准 carry much of the signal, and one-off n-grams only add noise.
    return FeatureUnion([
        ("words", TfidfVectorizer(analyzer=word_ngrams, min_df=min_df, sublinear_tf=True)),
        ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 4), min_df=min_df, sublinear_tf=True)),
    ])


class TextFeatures(BaseEstimator, TransformerMixin):
    """Word + character n-gram TF-IDF with readable feature names for explanations."""

    def __init__(self, min_df: int = 2):
        self.min_df = min_df

    def fit(self, texts, y=None):
        self.union_ = make_features(self.min_df).fit(list(texts))
        names = []
        for name, vec in self.union_.transformer_list:
            names.extend(vec.get_feature_names_out().tolist())
        self.names_ = np.array(names, dtype=object)
        return self

    def transform(self, texts):
        return self.union_.transform(list(texts)).tocsr()


class MetaFeatures(BaseEstimator, TransformerMixin):
    """One binary column per meta token seen in training (unseen tokens are dropped), scaled by
    `weight` so that a token weighs about as much as a strong n-gram of the L2-normalised text
    blocks."""

    def __init__(self, weight: float = 0.5):
        self.weight = weight

    def fit(self, metas, y=None):
        vocab = sorted({t for m in metas for t in meta_tokens(m)})
        self.vocabulary_ = {t: i for i, t in enumerate(vocab)}
        self.names_ = np.array(vocab, dtype=object)
        return self

    def transform(self, metas) -> sparse.csr_matrix:
        rows, cols = [], []
        for i, m in enumerate(metas):
            for t in meta_tokens(m):
                j = self.vocabulary_.get(t)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        data = np.full(len(rows), float(self.weight))
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(metas), len(self.vocabulary_)))


def with_meta(X, meta_features: MetaFeatures | None, metas) -> sparse.csr_matrix:
    """Text features with the meta block appended (unchanged when the artefact has none)."""
    if meta_features is None:
        return X
    return sparse.hstack([X, meta_features.transform(metas)], format="csr")


class MajorClassifier(BaseEstimator, ClassifierMixin):
    """Calibrated logistic regression on text features: P(major).

    `cv` may be an int or a list of (train, test) index pairs, so calibration folds can be
    grouped by issuer like every other split of this project."""

    def __init__(self, C: float = 4.0, cv=5, random_state: int = 0):
        self.C, self.cv, self.random_state = C, cv, random_state

    def _base(self):
        return LogisticRegression(C=self.C, class_weight="balanced", max_iter=5000, solver="liblinear",
                                  random_state=self.random_state)

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.array([0, 1])
        self.calibrated_ = CalibratedClassifierCV(self._base(), method="sigmoid", cv=self.cv).fit(X, y)
        # One uncalibrated fit on all the data gives a single coefficient vector to explain with.
        self.explainer_ = self._base().fit(X, y)
        self._stack()
        return self

    def _stack(self) -> None:
        """Stack the calibrated members into matrices: one sparse-dense product per call
        instead of sklearn's per-member validation (the in-process latency budget is 20 ms)."""
        members = self.calibrated_.calibrated_classifiers_
        self.coef_ = np.vstack([m.estimator.coef_[0] for m in members])
        self.intercept_ = np.array([m.estimator.intercept_[0] for m in members])
        self.cal_a_ = np.array([m.calibrators[0].a_ for m in members])
        self.cal_b_ = np.array([m.calibrators[0].b_ for m in members])

    def predict_proba(self, X):
        from scipy.special import expit

        f = np.asarray(X @ self.coef_.T) + self.intercept_
        p1 = expit(-(self.cal_a_ * f + self.cal_b_)).mean(axis=1)
        return np.column_stack([1 - p1, p1])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def contributions(self, X) -> sparse.csr_matrix:
        """Per-feature contribution (tf-idf × coefficient) to the major score, row by row."""
        return sparse.csr_matrix(X.multiply(self.explainer_.coef_[0])).tocsr()


class AttributeHeads(BaseEstimator):
    """One balanced logistic regression per procedure-driving attribute; attributes with too
    few positive examples get no head (the rules alone speak for them)."""

    def __init__(self, names: tuple[str, ...] = (), C: float = 2.0, min_positive: int = 8):
        self.names, self.C, self.min_positive = names, C, min_positive

    def fit(self, X, Y):
        Y = np.asarray(Y)
        self.heads_ = {}
        for j, name in enumerate(self.names):
            pos = int(Y[:, j].sum())
            if pos < self.min_positive or pos > len(Y) - self.min_positive:
                continue
            self.heads_[name] = LogisticRegression(C=self.C, class_weight="balanced", max_iter=5000,
                                                   solver="liblinear").fit(X, Y[:, j])
        return self

    def predict_proba(self, X) -> dict[str, np.ndarray]:
        from scipy.special import expit

        if not self.heads_:
            return {}
        names = list(self.heads_)
        coef = np.vstack([self.heads_[n].coef_[0] for n in names])
        intercept = np.array([self.heads_[n].intercept_[0] for n in names])
        p = expit(np.asarray(X @ coef.T) + intercept)
        return {n: p[:, j] for j, n in enumerate(names)}


class Precedents(BaseEstimator):
    """Nearest corpus items by cosine similarity of their features."""

    def fit(self, X, items: list[dict]):
        self.matrix_ = normalize(sparse.csr_matrix(X))
        self.items_ = items
        return self

    def query(self, X, k: int = 3, min_score: float = 0.15) -> list[list[dict]]:
        # Only the columns the precedents were fitted on (the text): columns appended after
        # them, such as the meta tokens, take no part in the match.
        X = sparse.csr_matrix(X)[:, :self.matrix_.shape[1]]
        sims = (normalize(X) @ self.matrix_.T).toarray()
        out = []
        for row in sims:
            top = np.argsort(-row)[:k]
            out.append([{**self.items_[i], "score": round(float(row[i]), 4)} for i in top if row[i] >= min_score])
        return out
