"""The ensemble backend: TF-IDF and the transformer averaged, with the review band chosen for
the pair on out-of-fold predictions (carried by the transformer's model card)."""
from __future__ import annotations

from .base import ArtifactError, Prediction, disagreement_from
from .transformer import TRANSFORMER_REBUILD_HINT, TransformerModel


class EnsembleModel:
    """Mean of TF-IDF's and the transformer's P(major) (weights from the card), with its own
    review band chosen on out-of-fold predictions; phrases and precedents from TF-IDF, whose
    explanations are readable; attributes averaged where both models have a head."""

    backend = "ensemble"

    def __init__(self, tfidf, transformer: TransformerModel, spec: dict):
        self.tfidf, self.transformer = tfidf, transformer
        self.weight = float(spec.get("transformer_weight", 0.5))
        self.version = f"ensemble-{tfidf.version}+{transformer.version}"
        self.band = tuple(spec["review_band"])
        self.disagreement = disagreement_from(spec)
        self.spec = spec

    @classmethod
    def from_models(cls, tfidf, transformer: TransformerModel) -> EnsembleModel:
        spec = transformer.card.get("ensemble")
        if not spec:
            raise ArtifactError(f"the transformer model card has no ensemble section; rebuild with "
                                f"`{TRANSFORMER_REBUILD_HINT}`")
        if spec.get("tfidf_version") != tfidf.version:
            raise ArtifactError(f"the ensemble's review band was chosen with TF-IDF model {spec.get('tfidf_version')}, "
                                f"but {tfidf.version} is installed; rebuild with `{TRANSFORMER_REBUILD_HINT}`")
        return cls(tfidf, transformer, spec)

    @property
    def uses_meta(self) -> bool:
        return bool(getattr(self.tfidf, "uses_meta", False))

    def predict(self, texts: list[str], k_similar: int = 3, meta: list[dict | None] | None = None) -> list[Prediction]:
        a = (self.tfidf.predict(texts, k_similar=k_similar, meta=meta) if self.uses_meta
             else self.tfidf.predict(texts, k_similar=k_similar))
        b = self.transformer.predict(texts, k_similar=0)
        out = []
        for pa, pb in zip(a, b):
            attrs = dict(pa.attributes)
            for k, v in pb.attributes.items():
                attrs[k] = (attrs[k] + v) / 2 if k in attrs else v
            out.append(Prediction(probability=(1 - self.weight) * pa.probability + self.weight * pb.probability,
                                  attributes=attrs, terms=pa.terms, similar=pa.similar,
                                  known_words=pa.known_words))
        return out

    def describe(self) -> dict:
        return {"backend": self.backend, "version": self.version, "review_band": list(self.band),
                "rule_disagreement": self.spec.get("rule_disagreement"), "transformer_weight": self.weight, "metrics": self.spec.get("metrics"),
                "members": [{"backend": "tfidf", "version": self.tfidf.version},
                            {"backend": "transformer", "version": self.transformer.version}]}
