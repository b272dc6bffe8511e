"""What the model reads from a corpus record or a real-dev item: its text and the fields the
compiler gives besides it (unit, level, profile), in the same form the Screener passes them at
screening time, so that training, evaluation and screening see the same inputs."""
from __future__ import annotations

import numpy as np

from model.rulebook import default_rulebooks


def meta_of(r) -> dict:
    """The Screener's meta for this item: profiles without a rulebook answer as national there."""
    names = default_rulebooks().names()
    return {"unit": r.unit, "level": r.level, "profile": r.profile if r.profile in names else "national"}


def predict(model, items, k_similar: int = 0):
    texts = [r.text for r in items]
    if getattr(model, "uses_meta", False):
        return model.predict(texts, k_similar=k_similar, meta=[meta_of(r) for r in items])
    return model.predict(texts, k_similar=k_similar)


def probabilities(model, items) -> np.ndarray:
    return np.array([float(p.probability) for p in predict(model, items)])
