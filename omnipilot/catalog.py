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
BITS: dict[str, float] = {"bf16": 16.0, "fp8": 8.0, "awq": 4.0, "gptq": 4.0}



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

    @property
    def active_b(self) -> float:
        return self.active_params_b or self.params_b

    def kv_bytes_per_token(self, kv_bits: float = 16.0) -> float:
        """KV-cache bytes one token occupies across all layers (K and V)."""
        return 2.0 * self.layers * self.kv_heads * self.head_dim * kv_bits / 8.0

    def weight_bytes(self, precision: str) -> float:
        # 4-bit formats keep embeddings and norms in 16 bit and add group scales: ~4.5 bits/param
        bits = {"bf16": 16.0, "fp8": 8.3, "awq": 4.6, "gptq": 4.6}[precision]
        return self.params_b * 1e9 * bits / 8.0

    def checkpoint_for(self, precision: str) -> str | None:
        if precision == "bf16":
            return self.name
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
