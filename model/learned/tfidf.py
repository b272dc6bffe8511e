"""The default learned model: TF-IDF features, calibrated major classifier, attribute heads and
precedents, loaded from `model/artifacts/` after the model card's sha256 check.

Two files hold it: the joblib artefact (the fitted scikit-learn estimators, what training
writes) and the serving file derived from it (tfidf_serving.py: numpy arrays and JSON). `load`
reads the serving file where the card lists one, so the service never imports scikit-learn or
scipy; the estimators are unpickled only if something asks for them. Without a serving file
the joblib artefact serves, compiled at load into the same plain data.

`predict` runs the compiled path (tfidf_fast.py); `predict_sklearn` runs the pickled
scikit-learn estimators and gives the same numbers (kept for tests and benchmarks).

An artefact may carry a meta block (bundle["meta"], a MetaFeatures over unit kind, level and
profile); the model then says `uses_meta` and the screener passes those fields as `meta`."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .base import REBUILD_HINT, ArtifactError, Prediction, disagreement_from
from .tfidf_fast import CompiledTfidf, compile_estimators

ARTIFACT_FILE = "tfidf_model.joblib"


def load_bundle(path: Path) -> dict:
    """The unpickled joblib artefact (imports scikit-learn and scipy)."""
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # a truncated or foreign pickle fails in many ways
        raise ArtifactError(f"cannot load {path.name}: {type(exc).__name__}; rebuild with `{REBUILD_HINT}`") from exc


class TfidfModel:
    backend = "tfidf"

    def __init__(self, bundle: dict | None, card: dict, compiled: CompiledTfidf | None = None,
                 bundle_path: Path | None = None):
        """From the unpickled estimators (`bundle`), or from a compiled model (the serving file)
        with the joblib's path, unpickled only if the estimators themselves are asked for."""
        self._bundle = bundle
        self._bundle_path = bundle_path
        self.version = card["version"]
        band = card.get("review_band")
        self.band = tuple(band) if band else None
        self.disagreement = disagreement_from(card)
        self.card = card
        if compiled is None:
            if bundle is None:
                raise ValueError("a TfidfModel needs its estimators or its compiled form")
            compiled = CompiledTfidf(compile_estimators(bundle["features"], bundle["major"], bundle["attributes"],
                                                        bundle["precedents"], bundle.get("meta")))
        self.compiled = compiled
        # where the answer came from: "serving" (numpy file) or "joblib" (scikit-learn estimators)
        self.loaded_from = "joblib" if bundle is not None else "serving"

    # The scikit-learn estimators, unpickled on first use where the model came from the serving
    # file (predict_sklearn, tests, benchmarks; the service never asks for them).
    @property
    def bundle(self) -> dict:
        if self._bundle is None:
            if self._bundle_path is None:
                raise ArtifactError("this model has no joblib artefact to read the estimators from")
            self._bundle = load_bundle(self._bundle_path)
        return self._bundle

    @property
    def features(self):
        return self.bundle["features"]

    @property
    def major(self):
        return self.bundle["major"]

    @property
    def attributes(self):
        return self.bundle["attributes"]

    @property
    def precedents(self):
        return self.bundle["precedents"]

    @property
    def meta_features(self):
        return self.bundle.get("meta")

    @property
    def uses_meta(self) -> bool:
        return self.compiled.meta is not None

    @classmethod
    def load(cls, directory: Path, card: dict, serving: bool = True) -> TfidfModel:
        """The model of a checked card (verify_artifact): from its serving file where the card
        lists one and `serving` is on (no scikit-learn), else from the joblib artefact."""
        path = directory / card.get("artifact", ARTIFACT_FILE)
        if serving:
            from .tfidf_serving import load_serving

            plain = load_serving(directory, card)
            if plain is not None:
                return cls(None, card, compiled=CompiledTfidf(plain), bundle_path=path)
        return cls(load_bundle(path), card)

    def predict(self, texts: list[str | Mapping], k_similar: int = 3,
                meta: list[dict | None] | None = None) -> list[Prediction]:
        """One Prediction per input (a text, or a mapping with "text" and extra fields), with
        its meta fields (unit, level, profile) where the model reads them; precedents only
        when `k_similar` asks for them."""
        c = self.compiled
        if len(texts) != 1:  # a batch: each step once for all of it
            return [Prediction(probability=p, attributes=attrs, terms=terms, similar=similar, known_words=kw)
                    for p, attrs, terms, similar, kw in c.predict_batch(texts, meta, k_similar)]
        # one matter (the API's usual call): a few small array operations, no sparse matrix
        idx, data = c.row(texts[0], meta[0] if meta is not None else None)
        p, attrs, contrib = c.scores(idx, data)
        return [Prediction(probability=p, attributes=attrs, terms=c.terms(idx, contrib, p),
                           similar=c.similar(idx, data, k_similar) if k_similar else [],
                           known_words=c.known_words(idx))]

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
                                  similar=similar[i],
                                  known_words=self.compiled.known_words(X.getrow(i).indices)))
        return out
