"""The model and GPU catalogs (`etc/models.toml`, `etc/gpus.toml`): typed, validated, looked up by
any name a user, a data file or a Slurm GRES type may use."""

from __future__ import annotations

import re
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omnipilot.paths import packaged

Precision = Literal["bf16", "fp8", "awq", "gptq"]
PRECISIONS: tuple[Precision, ...] = ("bf16", "fp8", "awq", "gptq")
# A checkpoint's own quantization that none of the four arms covers is offered "as shipped" under
# its own label (DECISIONS.md §2 keeps the four arms; these are extra arms of that checkpoint only).
ShippedPrecision = Literal["mxfp4", "nvfp4", "int8", "bnb4"]
SHIPPED_PRECISIONS: tuple[ShippedPrecision, ...] = ("mxfp4", "nvfp4", "int8", "bnb4")
# Nominal weight bits per precision label (a feature) ...
BITS: dict[str, float] = {"bf16": 16.0, "fp8": 8.0, "awq": 4.0, "gptq": 4.0,
                          "mxfp4": 4.0, "nvfp4": 4.0, "int8": 8.0, "bnb4": 4.0}  # fmt: skip
# ... and the effective bits the weights occupy in memory: 4-bit formats keep embeddings and
# norms in 16 bit and add group scales (~4.5 bits/param); MXFP4 quantizes only the experts.
WEIGHT_BITS: dict[str, float] = {"bf16": 16.0, "fp8": 8.3, "awq": 4.6, "gptq": 4.6,
                                 "mxfp4": 4.6, "nvfp4": 4.6, "int8": 8.3, "bnb4": 4.6}  # fmt: skip
# vLLM needs at least these CUDA compute capabilities for a precision's kernels.
MIN_CAPABILITY: dict[str, float] = {"fp8": 8.0, "awq": 7.5, "gptq": 7.5, "mxfp4": 8.0,
                                    "nvfp4": 10.0, "int8": 7.5, "bnb4": 7.5}  # fmt: skip
Scope = Literal["single_node", "multi_node"]


class QuantInfo(BaseModel):
    """How a checkpoint's weights are stored, as its own quantization config says."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = Field(description="quant_method as written: fp8, compressed-tensors, mxfp4, awq, ...")
    weight_bits: float | None = None
    activation_bits: float | None = None
    kernel: str = Field(description="kernel family: fp8, int4-weight-only, mxfp4, int8, nvfp4, bnb")
    arm: str | None = Field(default=None, description="the precision arm it runs as, if any")
    source: str = "catalog"

    def describe(self) -> str:
        bits = f"W{self.weight_bits:g}" if self.weight_bits else "W?"
        bits += f"A{self.activation_bits:g}" if self.activation_bits else "A16"
        return f"{self.method} {bits} ({self.kernel})"


def quant_for(label: str, source: str = "catalog") -> QuantInfo:
    """The QuantInfo of a precision label (an arm or an as-shipped label)."""
    table: dict[str, tuple[str, float, float | None, str]] = {
        "fp8": ("fp8", 8, 8, "fp8"), "awq": ("awq", 4, None, "int4-weight-only"),
        "gptq": ("gptq", 4, None, "int4-weight-only"), "mxfp4": ("mxfp4", 4, None, "mxfp4"),
        "nvfp4": ("nvfp4", 4, 4, "nvfp4"), "int8": ("int8", 8, 8, "int8"),
        "bnb4": ("bitsandbytes", 4, None, "bnb"), "bf16": ("none", 16, None, "bf16"),
    }  # fmt: skip
    method, wb, ab, kernel = table[label]
    return QuantInfo(method=method, weight_bits=wb, activation_bits=ab, kernel=kernel, arm=label, source=source)



class CatalogError(ValueError):
    """A catalog file is missing or invalid; the message names the file and the entry."""


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    family: str
    params_b: float = Field(gt=0)
    active_params_b: float | None = Field(default=None, gt=0)
    layers: int = Field(gt=0)
    heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    max_context: int = Field(gt=0)
    variants: list[str] = []
    checkpoints: dict[Precision, str] = {}
    # Optional config facts (config.json): informative, and what `catalog add` writes.
    hidden_size: int | None = Field(default=None, gt=0)
    vocab_size: int | None = Field(default=None, gt=0)
    experts: int | None = Field(default=None, gt=0)
    experts_per_token: int | None = Field(default=None, gt=0)
    kv_layers: int | None = Field(default=None, gt=0, description="layers holding a KV cache (hybrid models)")
    # The precision `name` itself is stored in when it is not 16-bit (DeepSeek-V3's FP8, gpt-oss's MXFP4).
    shipped: Precision | ShippedPrecision | None = None
    scope: Scope = "single_node"
    note: str | None = None

    @property
    def active_b(self) -> float:
        return self.active_params_b or self.params_b

    def kv_bytes_per_token(self, kv_bits: float = 16.0) -> float:
        """KV-cache bytes one token occupies across all layers that keep one (K and V)."""
        return 2.0 * (self.kv_layers or self.layers) * self.kv_heads * self.head_dim * kv_bits / 8.0

    def weight_bytes(self, precision: str) -> float:
        """Every expert lives in memory: total parameters, whatever the active count."""
        return self.params_b * 1e9 * WEIGHT_BITS[precision] / 8.0

    def checkpoint_for(self, precision: str) -> str | None:
        if precision == (self.shipped or "bf16"):
            return self.name
        if precision == "bf16":
            return None  # no 16-bit release
        return self.checkpoints.get(precision)  # type: ignore[call-overload,no-any-return]

    def names(self) -> list[str]:
        return [self.name, *self.variants, *self.checkpoints.values()]


class GpuSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    vendor: Literal["nvidia", "amd", "intel", "other"] = "nvidia"
    memory_gb: float = Field(gt=0)
    mem_bw_gbs: float = Field(gt=0)
    bf16_tflops: float = Field(gt=0)
    fp8_tflops: float = Field(ge=0)
    compute_capability: float = 0.0
    interconnect_gbs: float = Field(ge=0)
    cost_per_gpu_hour: float = Field(ge=0)
    # Ceilings measured on a real card, where they beat the datasheet (etc/gpus.toml says where from);
    # 0 = not measured. The roofline reads them (advisor/features.py `Featurizer.gpu_numbers`).
    measured_mem_bw_gbs: float = Field(default=0.0, ge=0)
    measured_bf16_tflops: float = Field(default=0.0, ge=0)
    measured_fp8_tflops: float = Field(default=0.0, ge=0)
    measured_source: str = ""
    gres_types: list[str] = []
    aliases: list[str] = []

    @property
    def fp8_compute(self) -> bool:
        return self.fp8_tflops > 0


def _norm(name: str) -> str:
    """Case- and punctuation-insensitive key: 'nvidia_a100_40gb' == 'A100-40GB' == 'a100 40gb'."""
    return re.sub(r"[^a-z0-9.]", "", name.lower())


def _basename(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1]


Confidence = Literal["high", "medium", "low"]


class Resolution(BaseModel):
    """How a model string was matched to a catalog entry, and how sure that is."""

    model_config = ConfigDict(frozen=True)

    spec: ModelSpec
    matched: str = Field(description="the catalog name that matched (entry, variant or checkpoint)")
    how: Literal["entry", "variant", "checkpoint", "prefix"]
    confidence: Confidence
    note: str | None = Field(default=None, description="said to the user when the name maps elsewhere")


# Name parts that say what a checkpoint is, not which weights: a suffix made only of these keeps
# the base model's identity (a quantized or chat copy), anything else makes it a fine-tune.
_PACKAGING = re.compile(
    r"(?i)^(?:instruct|it|chat|hf|base|awq|gptq|int4|int8|w4a16|w8a8|w4a4|w4a8|w8a16|fp8|dynamic|fp4|nvfp4|"
    r"mxfp4|bnb|4bit|8bit|nf4|quantized|marlin|g128|sym|asym|v\d+(?:\.\d+)?|\d{4}|"
    # re-uploads in another file format or precision, and unsloth's own dynamic 4-bit copies
    r"bf16|fp16|f16|gguf|exl2|exl3|mlx|hqq|bpw|unsloth)$"
)


# Name parts that say the weights are another model than the prefix's: a size of their own
# (`DeepSeek-R1-0528-Qwen3-8B` is an 8B Qwen3, not DeepSeek-R1), another modality or task.
_OTHER_MODEL = re.compile(
    r"(?i)^(?:a?\d+(?:\.\d+)?[bm]|vl|vision|multimodal|omni|audio|ocr|embed|embedding|reranker|rerank|"
    r"reward|prm|rm|guard|qwen\d.*|llama\d*|mistral|gemma\d*|phi\d*|"
    # a size class of its own (`Phi-4-mini-reasoning` is a 3.8B, not phi-4's 14B; `GLM-4.7-Flash`
    # a 30B, not GLM-4.7's 355B)
    r"mini|small|medium|large|tiny|nano|micro|lite|flash|air|pro|max|ultra|super|plus)$"
)


class Catalog:
    """Both catalogs, with lookups. Unknown names return None; callers say what to do about it."""

    def __init__(self, models: list[ModelSpec], gpus: list[GpuSpec]) -> None:
        self.models = models
        self.gpus = gpus

    @classmethod
    def load(cls, models_path: Path | None = None, gpus_path: Path | None = None) -> Catalog:
        mp = models_path or packaged("omnipilot.etc", "models.toml")
        gp = gpus_path or packaged("omnipilot.etc", "gpus.toml")
        models = [ModelSpec(**m) for m in _read_entries(mp, "model", ModelSpec)]
        gpus = [GpuSpec(**g) for g in _read_entries(gp, "gpu", GpuSpec)]
        return cls(models, gpus)

    @cached_property
    def _model_index(self) -> dict[str, ModelSpec]:
        idx: dict[str, ModelSpec] = {}
        for m in self.models:
            for n in m.names():
                idx.setdefault(_norm(n), m)
                idx.setdefault(_norm(_basename(n)), m)
        return idx

    @cached_property
    def _gpu_index(self) -> dict[str, GpuSpec]:
        idx: dict[str, GpuSpec] = {}
        for g in self.gpus:
            for n in [g.name, *g.aliases, *g.gres_types]:
                idx.setdefault(_norm(n), g)
        return idx

    def model(self, name: str) -> ModelSpec | None:
        """Find a model by its name, a variant, a quantized checkpoint, or a local path ending in one."""
        key = _norm(name)
        if key in self._model_index:
            return self._model_index[key]
        return self._model_index.get(_norm(_basename(name)))

    @cached_property
    def _prefix_keys(self) -> list[tuple[str, ModelSpec, str]]:
        """(lower-case base name, entry, full name), longest first, for fine-tune prefixes."""
        keys = {(_basename(n).lower(), m.name, n): m for m in self.models for n in m.names()}
        return sorted(((k[0], m, k[2]) for k, m in keys.items()), key=lambda t: -len(t[0]))

    def resolve(self, name: str) -> Resolution | None:
        """The entry a model string means, how it matched and what the user should be told."""
        spec = self.model(name)
        base = _basename(name)
        if spec is not None:
            keys = (_norm(name), _norm(base))
            hit = next((n for n in spec.names() if _norm(n) in keys), None) or next(
                (n for n in spec.names() if _norm(_basename(n)) in keys), spec.name
            )
            how: Literal["entry", "variant", "checkpoint"] = (
                "entry" if hit == spec.name else "checkpoint" if hit in spec.checkpoints.values() else "variant"
            )
            return Resolution(spec=spec, matched=hit, how=how, confidence="high")
        low = base.lower()
        for key, m, full in self._prefix_keys:
            if len(key) < 4 or not low.startswith(key) or low[len(key)] not in "-_. ":
                continue
            suffix = base[len(key) + 1 :]
            parts = [p for p in re.split(r"[-_ ]+", suffix) if p]
            if any(_OTHER_MODEL.match(p) for p in parts):
                continue  # another model that starts with this name, not a copy or fine-tune of it
            # exllama's bits per weight (`4.65bpw`) is one word, dot and all
            parts = [p for p in re.split(r"[-_. ]+", re.sub(r"(?i)\d+(?:\.\d+)?bpw", "bpw", suffix)) if p]
            packaging = all(_PACKAGING.match(p) for p in parts)
            if packaging:
                note = f"{base} read as a copy of {full} ({m.name}; suffix '{suffix}')"
                return Resolution(spec=m, matched=full, how="prefix", confidence="high", note=note)
            note = (f"{base} is not in the catalog: taken as a fine-tune of {full} (it adds '{suffix}' "
                    f"to that name); sized as {m.name}")  # fmt: skip
            return Resolution(spec=m, matched=full, how="prefix", confidence="medium", note=note)
        return None

    @cached_property
    def _checkpoint_index(self) -> dict[str, str]:
        idx: dict[str, str] = {}
        for m in self.models:
            for prec, ck in m.checkpoints.items():
                idx.setdefault(_norm(_basename(ck)), prec)
        return idx

    def precision_of_checkpoint(self, name: str) -> str | None:
        """The precision a named checkpoint is stored in (None when it is the 16-bit model)."""
        return self._checkpoint_index.get(_norm(_basename(name)))

    def gpu(self, name: str) -> GpuSpec | None:
        return self._gpu_index.get(_norm(name))

    def gpu_for_gres_type(self, gres_type: str) -> GpuSpec | None:
        return self.gpu(gres_type)


def _read_entries(path: Path, key: str, model: type[BaseModel]) -> list[dict[str, object]]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise CatalogError(f"catalog file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"catalog file {path} is not valid TOML: {exc}") from exc
    entries = data.get(key, [])
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"catalog file {path} has no [[{key}]] entries")
    for i, entry in enumerate(entries):
        try:
            model.model_validate(entry)
        except ValidationError as exc:
            name = entry.get("name", f"#{i + 1}") if isinstance(entry, dict) else f"#{i + 1}"
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise CatalogError(
                f"{path}: [[{key}]] {name!r}: field {field!r}: {first['msg']} (got {first.get('input')!r})"
            ) from exc
    return entries
