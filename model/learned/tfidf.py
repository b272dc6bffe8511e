"""The default learned model: TF-IDF features, calibrated major classifier, attribute heads and
precedents, loaded from `model/artifacts/` after the model card's sha256 check.

`predict` runs the compiled path (tfidf_fast.py); `predict_sklearn` runs the pickled
scikit-learn estimators and gives the same numbers (kept for tests and benchmarks).

An artefact may carry a meta block (bundle["meta"], a MetaFeatures over unit kind, level and
profile); the model then says `uses_meta` and the screener passes those fields as `meta`."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import joblib

from .base import REBUILD_HINT, ArtifactError, Prediction, disagreement_from
from .tfidf_fast import CompiledTfidf

ARTIFACT_FILE = "tfidf_model.joblib"


class TfidfModel:
    backend = "tfidf"

    def __init__(self, bundle: dict, card: dict):
        self.features = bundle["features"]
        self.major = bundle["major"]
        self.attributes = bundle["attributes"]
        self.precedents = bundle["precedents"]
        self.version = card["version"]
        band = card.get("review_band")
        self.band = tuple(band) if band else None
        self.disagreement = disagreement_from(card)
        self.card = card
        self.meta_features = bundle.get("meta")
        self.compiled = CompiledTfidf(self.features, self.major, self.attributes, self.precedents,
                                      self.meta_features)

    @property
    def uses_meta(self) -> bool:
        return self.meta_features is not None

    @classmethod
    def load(cls, directory: Path, card: dict) -> TfidfModel:
        path = directory / card.get("artifact", ARTIFACT_FILE)
        try:
            bundle = joblib.load(path)
        except Exception as exc:  # a truncated or foreign pickle fails in many ways
            raise ArtifactError(f"cannot load {path.name}: {type(exc).__name__}; rebuild with `{REBUILD_HINT}`") from exc
        return cls(bundle, card)

    def predict(self, texts: list[str | Mapping], k_similar: int = 3,
                meta: list[dict | None] | None = None) -> list[Prediction]:
        """One Prediction per input (a text, or a mapping with "text" and extra fields), with
        its meta fields (unit, level, profile) where the model reads them; precedents only
        when `k_similar` asks for them."""
        c = self.compiled
        if len(texts) != 1:  # a batch: each step once for all of it
            return [Prediction(probability=p, attributes=attrs, terms=terms, similar=similar)
                    for p, attrs, terms, similar in c.predict_batch(texts, meta, k_similar)]
        # one matter (the API's usual call): a few small array operations, no sparse matrix
        idx, data = c.row(texts[0], meta[0] if meta is not None else None)
        p, attrs, contrib = c.scores(idx, data)
        return [Prediction(probability=p, attributes=attrs, terms=c.terms(idx, contrib, p),
                           similar=c.similar(idx, data, k_similar) if k_similar else [])]

    def predict_sklearn(self, texts: list[str], k_similar: int = 3,
                        meta: list[dict | None] | None = None) -> list[Prediction]:
        """The same predictions through the pickled scikit-learn estimators."""
        if not texts:
            return []
        metas = meta if meta is not None else [None] * len(texts)
        X = self.features.transform(texts)
        if self.meta_features is not None:  # the meta columns follow the text columns
            from scipy import sparse

            X = sparse.hstack([X, self.meta_features.transform(metas)], format="csr")
        probs = self.major.calibrated_.predict_proba(X)[:, 1]
        attrs = {name: head.predict_proba(X)[:, 1] for name, head in self.attributes.heads_.items()}
        contrib = self.major.contributions(X)
        similar = self.precedents.query(X, k=k_similar) if k_similar else [[] for _ in texts]
        out = []
        for i, p in enumerate(probs):
            row = contrib.getrow(i)
            out.append(Prediction(probability=float(p), attributes={k: float(v[i]) for k, v in attrs.items()},
                                  terms=self.compiled.terms(row.indices, row.data, p),
                                  similar=similar[i]))
        return out
