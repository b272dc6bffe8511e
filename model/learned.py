"""The learned model's slot in the pipeline.

The combiner talks to anything with this interface; `training/` builds the default
artefact (TF-IDF + calibrated linear model, attribute heads, nearest precedents) and
`load_default()` finds it. Without an artefact the rules answer alone and say so."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
REBUILD_HINT = "decision-screen train"


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


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_artifact(directory: Path = ARTIFACT_DIR) -> dict:
    """Read the model card and check every file it lists against its sha256."""
    card_path = directory / "model_card.json"
    if not card_path.exists():
        raise ArtifactError(f"model card missing: {card_path}; rebuild with `{REBUILD_HINT}`")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    for name, digest in card.get("files", {}).items():
        path = directory / name
        if not path.exists():
            raise ArtifactError(f"model artefact missing: {path}; rebuild with `{REBUILD_HINT}`")
        actual = sha256_file(path)
        if actual != digest:
            raise ArtifactError(f"model artefact {path.name} does not match its model card "
                                f"(sha256 {actual[:12]}… ≠ {digest[:12]}…); rebuild with `{REBUILD_HINT}`")
    return card


def load_default(directory: Path = ARTIFACT_DIR, required: bool = False) -> LearnedModel | None:
    """The shipped model, checked against its card; None when there is none (rules only).
    A present but mismatching artefact is always an error: silently ignoring it would
    hide a broken deployment."""
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
    raise ArtifactError(f"unknown model backend {backend!r} in {card_path}")
