"""The default learned model: TF-IDF features, calibrated major classifier, attribute heads and
precedents, loaded from `model/artifacts/` after the model card's sha256 check."""
from __future__ import annotations

import re
from pathlib import Path

import joblib
import numpy as np

from .base import REBUILD_HINT, ArtifactError, Prediction, disagreement_from

ARTIFACT_FILE = "tfidf_model.joblib"
_READABLE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]+")


class TfidfModel:
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

    @classmethod
    def load(cls, directory: Path, card: dict) -> TfidfModel:
        path = directory / card.get("artifact", ARTIFACT_FILE)
        try:
            bundle = joblib.load(path)
        except Exception as exc:  # a truncated or foreign pickle fails in many ways
            raise ArtifactError(f"cannot load {path.name}: {type(exc).__name__}; rebuild with `{REBUILD_HINT}`") from exc
        return cls(bundle, card)

    def predict(self, texts: list[str], k_similar: int = 3) -> list[Prediction]:
        if not texts:
            return []
        X = self.features.transform(texts)
        probs = self.major.predict_proba(X)[:, 1]
        attrs = self.attributes.predict_proba(X)
        contrib = self.major.contributions(X)
        names = self.features.names_
        similar = self.precedents.query(X, k=k_similar) if k_similar else [[] for _ in texts]
        out = []
        for i, p in enumerate(probs):
            row = contrib.getrow(i)
            sign = 1.0 if p >= 0.5 else -1.0
            order = np.argsort(-sign * row.data)
            terms = []
            for j in order:
                value = float(row.data[j])
                if sign * value <= 0:
                    break
                name = str(names[row.indices[j]]).replace("_", "")
                # Single characters, punctuation-bearing n-grams and overlapping repeats of a
                # phrase already listed explain nothing to a reader.
                if len(name) < 2 or not _READABLE.fullmatch(name):
                    continue
                if any(name in t or t in name for t, _ in terms):
                    continue
                terms.append((name, round(value, 4)))
                if len(terms) == 8:
                    break
            out.append(Prediction(probability=float(p), attributes={k: float(v[i]) for k, v in attrs.items()},
                                  terms=terms, similar=similar[i]))
        return out
