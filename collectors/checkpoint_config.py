"""Read a checkpoint directory's `config.json` and quantization config into model facts.

Pure reading, bounded: each file is read only up to `max_bytes`, nothing is imported or executed.
The daemon never calls this on the request path (daemon/checkpoint_cache.py runs it in a thread);
`omnipilot script check` and `omnipilot catalog add` call it directly.

Parameter counts come from the architecture (attention, dense or expert MLPs, embeddings), or,
for an unquantized checkpoint, from `model.safetensors.index.json`'s total size when present.
MLA models (DeepSeek-V3, Kimi K2) cache one compressed latent per layer: it is written as one KV
head whose K and V halves together hold `kv_lora_rank + qk_rope_head_dim` values.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from omnipilot.catalog import ModelSpec, QuantInfo

MAX_BYTES = 4 * 1024 * 1024
_HF_CACHE = re.compile(r"^(.*?/models--[^/]+?--[^/]+)(?:/snapshots/([^/]+))?")


class CheckpointError(ValueError):
    """The directory has no readable, valid config.json."""


class CheckpointFacts(BaseModel):
    """What a checkpoint's own files say. `None` means the config does not state it."""

    model_config = ConfigDict(frozen=True)

    path: str
    model_type: str | None = None
    name_or_path: str | None = None
    params_b: float | None = None
    active_params_b: float | None = None
    params_from: str = "config.json"  # or "safetensors index"
    layers: int | None = None
    kv_layers: int | None = None
    hidden_size: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    experts: int | None = None
    experts_per_token: int | None = None
    vocab_size: int | None = None
    max_context: int | None = None
    quantization: QuantInfo | None = None

    def spec(self, name: str, family: str | None = None) -> ModelSpec | None:
        """A catalog entry built from these facts (None when the shape is incomplete)."""
        need = (self.params_b, self.layers, self.heads, self.kv_heads, self.head_dim, self.max_context)
        if any(v is None for v in need):
            return None
        moe = self.active_params_b is not None and self.active_params_b < (self.params_b or 0)
        shipped = self.quantization.arm if self.quantization else None
        return ModelSpec(
            name=name, family=family or self.model_type or "unknown", params_b=round(self.params_b or 0, 2),
            active_params_b=round(self.active_params_b, 2) if moe and self.active_params_b else None,
            layers=self.layers or 1, heads=self.heads or 1, kv_heads=self.kv_heads or 1,
            head_dim=self.head_dim or 1, max_context=self.max_context or 1, hidden_size=self.hidden_size,
            vocab_size=self.vocab_size, experts=self.experts, experts_per_token=self.experts_per_token,
            kv_layers=self.kv_layers if self.kv_layers != self.layers else None,
            shipped=shipped if shipped and shipped != "bf16" else None,
        )  # fmt: skip


def checkpoint_dir(model: str) -> Path | None:
    """The directory whose config.json describes `model`: an absolute local path, or a Hugging Face
    cache path (`.../models--ORG--NAME[/snapshots/REV]`: without a revision, refs/main names it)."""
    if not model.startswith("/") or "$" in model or "`" in model:
        return None
    m = _HF_CACHE.match(model.rstrip("/"))
    if m is None:
        return Path(model)
    root, rev = Path(m.group(1)), m.group(2)
    if rev is None:
        try:
            rev = (root / "refs" / "main").read_text()[:200].strip()
        except OSError:
            return None
    return root / "snapshots" / rev if rev else None


def read_json(path: Path, max_bytes: int = MAX_BYTES) -> dict[str, Any] | None:
    """A JSON object from `path`, or None when absent; CheckpointError when too large or invalid."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror}") from exc
    if len(raw) > max_bytes:
        raise CheckpointError(f"{path} is larger than {max_bytes // 1024} KiB: not read")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc
    return data if isinstance(data, dict) else None


def read_checkpoint(directory: Path, max_bytes: int = MAX_BYTES) -> CheckpointFacts:
    """Facts from `directory`'s config.json, hf_quant_config.json and safetensors index."""
    cfg = read_json(directory / "config.json", max_bytes)
    if cfg is None:
        raise CheckpointError(f"{directory} has no config.json")
    facts = facts_from_config(cfg, str(directory))
    quant = facts.quantization
    modelopt = read_json(directory / "hf_quant_config.json", max_bytes)
    if quant is None and modelopt is not None:
        algo = str((modelopt.get("quantization") or {}).get("quant_algo") or "")
        quant = _quant({"quant_method": "modelopt", "quant_algo": algo}, "hf_quant_config.json")
    update: dict[str, Any] = {"quantization": quant}
    index = read_json(directory / "model.safetensors.index.json", max_bytes)
    total = (index or {}).get("metadata", {}).get("total_size") if index else None
    dtype = str(cfg.get("torch_dtype") or cfg.get("dtype") or "")
    if isinstance(total, int | float) and quant is None and dtype in ("bfloat16", "float16"):
        params = total / 2 / 1e9
        if facts.params_b and facts.active_params_b:
            update["active_params_b"] = facts.active_params_b * params / facts.params_b
        update |= {"params_b": params, "params_from": "safetensors index"}
    return facts.model_copy(update=update)


def facts_from_config(cfg: dict[str, Any], path: str = "config.json") -> CheckpointFacts:
    """Shape, size and quantization from a config.json object (multimodal: its text config)."""
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else None
    c: dict[str, Any] = {**cfg, **text} if text else dict(cfg)
    quant_cfg = cfg.get("quantization_config") or c.get("quantization_config")
    layers = _int(c, "num_hidden_layers", "n_layer", "num_layers")
    hidden = _int(c, "hidden_size", "d_model", "n_embd")
    heads = _int(c, "num_attention_heads", "n_head")
    kv_heads = _int(c, "num_key_value_heads", "num_kv_heads") or heads
    head_dim = _int(c, "head_dim") or (hidden // heads if hidden and heads else None)
    kv_lora, rope = _int(c, "kv_lora_rank"), _int(c, "qk_rope_head_dim") or 0
    if kv_lora:  # MLA: one latent per layer, replicated across TP ranks
        kv_heads, head_dim = 1, (kv_lora + rope + 1) // 2
    experts = _int(c, "num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts")
    per_token = _int(c, "num_experts_per_tok", "num_experts_per_token", "moe_top_k", "top_k")
    if not experts:
        per_token = None
    kv_layers = _kv_layers(c, layers)
    params, active = _params(c, layers, hidden, heads, kv_heads, head_dim, experts, per_token)
    return CheckpointFacts(
        path=path, model_type=_str(c, "model_type") or _str(cfg, "model_type"),
        name_or_path=_str(cfg, "_name_or_path"), params_b=params, active_params_b=active, layers=layers,
        kv_layers=kv_layers, hidden_size=hidden, heads=heads, kv_heads=kv_heads, head_dim=head_dim,
        experts=experts, experts_per_token=per_token, vocab_size=_int(c, "vocab_size", "padded_vocab_size"),
        max_context=_int(c, "max_position_embeddings", "max_sequence_length", "seq_length", "n_positions"),
        quantization=_quant(quant_cfg, "config.json") if isinstance(quant_cfg, dict) else None,
    )  # fmt: skip


def _int(c: dict[str, Any], *keys: str) -> int | None:
    for k in keys:
        v = c.get(k)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def _str(c: dict[str, Any], key: str) -> str | None:
    v = c.get(key)
    return v if isinstance(v, str) and v else None


def _kv_layers(c: dict[str, Any], layers: int | None) -> int | None:
    """Layers that keep a KV cache: hybrid models list linear-attention or Mamba layers apart."""
    types = c.get("layer_types")
    if isinstance(types, list) and types and all(isinstance(t, str) for t in types):
        full = sum(1 for t in types if "linear" not in t and "mamba" not in t)
        return full or layers
    pattern = c.get("hybrid_override_pattern")
    if isinstance(pattern, str) and pattern:
        return pattern.count("*") or layers
    step = _int(c, "full_attention_interval")
    if step and layers:
        return layers // step
    return layers


def _params(
    c: dict[str, Any], layers: int | None, hidden: int | None, heads: int | None, kv_heads: int | None,
    head_dim: int | None, experts: int | None, per_token: int | None,
) -> tuple[float | None, float | None]:  # fmt: skip
    if not (layers and hidden and heads and head_dim):
        return None, None
    kv_lora = _int(c, "kv_lora_rank")
    if kv_lora:
        q_lora = _int(c, "q_lora_rank")
        nope, rope, v = _int(c, "qk_nope_head_dim") or 128, _int(c, "qk_rope_head_dim") or 64, _int(c, "v_head_dim") or 128
        q = hidden * q_lora + q_lora * heads * (nope + rope) if q_lora else hidden * heads * (nope + rope)
        attn = q + hidden * (kv_lora + rope) + kv_lora * heads * (nope + v) + heads * v * hidden
    else:
        attn = hidden * head_dim * (2 * heads + 2 * (kv_heads or heads))
    inter = _int(c, "intermediate_size", "ffn_hidden_size", "n_inner") or 4 * hidden
    dense_mlp = 3 * hidden * inter
    vocab = _int(c, "vocab_size", "padded_vocab_size") or 0
    embed = vocab * hidden * (1 if c.get("tie_word_embeddings") else 2)
    if not experts:
        total = layers * (attn + dense_mlp) + embed
        return total / 1e9, None
    moe_inter = _int(c, "moe_intermediate_size", "expert_intermediate_size") or inter
    shared = (_int(c, "n_shared_experts", "num_shared_experts") or 0) * moe_inter
    shared = _int(c, "shared_expert_intermediate_size") or shared
    dense_layers = _int(c, "first_k_dense_replace") or 0
    step = _int(c, "interleave_moe_layer_step") or 1
    moe_layers = (layers - dense_layers) // step
    plain = layers - moe_layers
    expert = 3 * hidden * moe_inter
    per_moe_total = experts * expert + 3 * hidden * shared + hidden * experts
    per_moe_active = (per_token or 1) * expert + 3 * hidden * shared + hidden * experts
    base = layers * attn + plain * dense_mlp + embed
    return (base + moe_layers * per_moe_total) / 1e9, (base + moe_layers * per_moe_active) / 1e9


def _quant(q: dict[str, Any], source: str) -> QuantInfo | None:
    """The quantization a config states, with the arm it runs as (None: one of its own)."""
    method = str(q.get("quant_method") or "").lower()
    if method in ("fp8", "fbgemm_fp8"):
        return QuantInfo(method=method, weight_bits=8, activation_bits=8, kernel="fp8", arm="fp8", source=source)
    if method in ("awq", "gptq"):
        bits = float(q.get("bits") or q.get("w_bit") or 4)
        return QuantInfo(method=method, weight_bits=bits, kernel=f"int{bits:g}-weight-only", arm=method, source=source)
    if method == "mxfp4":
        return QuantInfo(method=method, weight_bits=4, kernel="mxfp4", arm="mxfp4", source=source)
    if method == "bitsandbytes":
        bits = 4.0 if q.get("load_in_4bit") else 8.0
        return QuantInfo(method=method, weight_bits=bits, kernel="bnb", arm="bnb4" if bits == 4 else None, source=source)
    if method == "modelopt":
        algo = str(q.get("quant_algo") or "").upper()
        if "FP8" in algo:
            return QuantInfo(method="modelopt", weight_bits=8, activation_bits=8, kernel="fp8", arm="fp8", source=source)
        if "FP4" in algo:
            return QuantInfo(method="modelopt", weight_bits=4, activation_bits=4, kernel="nvfp4", arm="nvfp4", source=source)
        return QuantInfo(method="modelopt", kernel=algo.lower() or "unknown", source=source)
    if method == "compressed-tensors":
        return _compressed_tensors(q, source)
    if method:
        return QuantInfo(method=method, kernel="unknown", source=source)
    return None


def _compressed_tensors(q: dict[str, Any], source: str) -> QuantInfo:
    groups = q.get("config_groups") or {}
    first: dict[str, Any] = next(iter(groups.values()), {}) if isinstance(groups, dict) and groups else {}
    w = first.get("weights") or {}
    a = first.get("input_activations") or {}
    wb = float(w.get("num_bits") or 0) or None
    ab = float(a.get("num_bits") or 0) or None
    fmt = str(q.get("format") or "")
    is_float = str(w.get("type") or "") == "float"
    if "nvfp4" in fmt or (wb == 4 and is_float):
        kernel, arm = "nvfp4", "nvfp4"
    elif wb == 8 and is_float:
        kernel, arm = "fp8", "fp8"
    elif wb == 4 and ab is None:
        kernel, arm = "int4-weight-only", "gptq"  # W4A16: vLLM's Marlin kernels, as GPTQ
    elif wb == 8 and ab == 8:
        kernel, arm = "int8", "int8"
    elif wb == 8:
        kernel, arm = "int8-weight-only", "gptq"
    else:
        kernel, arm = "unknown", None
    return QuantInfo(method="compressed-tensors", weight_bits=wb, activation_bits=ab, kernel=kernel, arm=arm, source=source)


def read_model_path(model: str, max_bytes: int = MAX_BYTES) -> CheckpointFacts | None:
    """Facts for a model string that names a readable checkpoint directory; None otherwise."""
    directory = checkpoint_dir(model)
    if directory is None:
        return None
    try:
        return read_checkpoint(directory, max_bytes)
    except CheckpointError:
        return None
