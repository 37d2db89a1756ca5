"""From the model string a job script names to a catalog entry and a precision arm.

Scripts name models as Hugging Face ids, local paths (`/scratch/$USER/models/Qwen2.5-7B-Instruct`),
Hugging Face cache paths (`.../models--Qwen--Qwen2.5-7B-Instruct/snapshots/<hash>`) or variables; a
careful reader looks at the path's last meaningful parts."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from omnipilot.catalog import Catalog, ModelSpec, QuantInfo, Resolution, quant_for
from omnipilot.collectors.checkpoint_config import CheckpointFacts
from omnipilot.model_name import NameShape, read_name, shape_from_name

if TYPE_CHECKING:
    from omnipilot.daemon.jobscript.vllm_command import VllmCommand

_HF_CACHE = re.compile(r"models--([^/]+?)--([^/]+)")
_QUANT_ARM = {
    "awq": "awq",
    "awq_marlin": "awq",
    "gptq": "gptq",
    "gptq_marlin": "gptq",
    "gptq_marlin_24": "gptq",
    "marlin": "gptq",
    "fp8": "fp8",
    "fbgemm_fp8": "fp8",
    "ptpc_fp8": "fp8",
    "modelopt": "fp8",
    "fp8_e4m3": "fp8",
}
_SIXTEEN = {"auto", "bfloat16", "bf16", "float16", "fp16", "half"}
TAG_ADVICE = (
    "tag the job with `#OMNIPILOT model=<hf-name>` if it is a copy of a catalog model, or "
    "`#OMNIPILOT params=<billions> family=<family>`"
)


def resolve_model(catalog: Catalog, name: str) -> tuple[ModelSpec | None, str | None]:
    """The catalog entry a model string means, and the catalog name; (None, None) if none fits."""
    found = resolve(catalog, name)
    return (found.spec, found.spec.name) if found is not None else (None, None)


def resolve(catalog: Catalog, name: str) -> Resolution | None:
    """How the catalog reads a model string (id, local path or HF-cache path), exact names first,
    then a catalog name the last path part extends (a copy or a fine-tune, with a note)."""
    candidates = [name]
    cache = _HF_CACHE.search(name)
    if cache is not None:
        candidates.insert(0, f"{cache.group(1)}/{cache.group(2)}")
    parts = [p for p in name.rstrip("/").split("/") if p and not p.startswith("$")]
    # a local checkout may end in a revision or weights folder: /models/Qwen2.5-7B-Instruct/main
    candidates.extend(parts[-2:-4:-1])
    for cand in candidates:
        spec = catalog.model(cand)
        if spec is not None:
            return catalog.resolve(cand)
    for cand in candidates[:1] if cache is None else candidates[:2]:
        found = catalog.resolve(cand)
        if found is not None:
            return found
    return None


class ModelKnowledge(BaseModel):
    """Everything known of the served model, each value with where it came from."""

    model_config = ConfigDict(frozen=True)

    spec: ModelSpec | None = None
    name: str | None = None
    params_b: float | None = None
    active_params_b: float | None = None
    family: str | None = None
    quantization: QuantInfo | None = None
    sources: dict[str, str] = {}
    confidence: str | None = None
    notes: list[str] = []
    inferred: list[str] = []


def know_model(catalog: Catalog, name: str, facts: CheckpointFacts | None = None) -> ModelKnowledge:
    """Catalog entry, checkpoint config.json and the name itself, merged: the catalog names the
    workload cell; config.json states the checkpoint's own quantization and, for a model the catalog
    lacks (or a fine-tune whose shape differs from its base), its shape; the name fills the rest."""
    found = resolve(catalog, name)
    named = read_name(name)
    notes: list[str] = []
    src: dict[str, str] = {}
    spec: ModelSpec | None = None
    shaped: NameShape | None = None
    confidence: str | None = None
    if found is not None:
        spec, confidence = found.spec, found.confidence
        if found.note:
            notes.append(found.note)
        if facts is not None and found.how == "prefix":
            if (facts.layers, facts.heads, facts.kv_heads) == (spec.layers, spec.heads, spec.kv_heads):
                confidence = "high"
                notes.append(f"config.json has the shape of {spec.name}")
            else:
                own = facts.spec(name, named.family)
                if own is not None:
                    notes.append(f"config.json's shape differs from {spec.name}: sized from config.json")
                    spec, confidence = own, "high"
        src = dict.fromkeys(("params_b", "active_params_b", "family"), "catalog")
    elif facts is not None:
        spec = facts.spec(name, named.family)
        if spec is not None:
            confidence = "high"
            src = dict.fromkeys(("params_b", "active_params_b", "family"), "config.json")
            if named.family is not None and facts.model_type is not None:
                src["family"] = "name"  # the catalog's family names split generations model_type joins
            notes.append(f"{name} is not in the catalog: sized from its config.json ({facts.params_from})")
    if spec is None:
        shaped = shape_from_name(catalog, name, named)
        if shaped is not None:
            spec, confidence = shaped.spec, "low"
            src = {"params_b": "name", "active_params_b": "name", "family": shaped.family_source}
            notes.append(f"{shaped.note}; {TAG_ADVICE}")
    quant, qsrc = _quantization(catalog, name, facts, spec, named.quantization)
    if quant is not None and qsrc:
        src["quantization"] = qsrc
    # a dense model has no active count to come from anywhere
    sources = {k: v for k, v in src.items() if k != "active_params_b" or (spec and spec.active_params_b)}
    return ModelKnowledge(
        # a shape read from the name is no catalog model: it has no catalog name
        spec=spec, name=spec.name if spec is not None and shaped is None else None,
        params_b=spec.params_b if spec else (facts.params_b if facts else named.params_b),
        active_params_b=(spec.active_params_b if spec else named.active_params_b),
        family=spec.family if spec else named.family, quantization=quant,
        sources=sources, confidence=confidence, notes=notes, inferred=[k for k, v in sources.items() if v == "name"],
    )  # fmt: skip


def _quantization(
    catalog: Catalog, name: str, facts: CheckpointFacts | None, spec: ModelSpec | None, from_name: QuantInfo | None
) -> tuple[QuantInfo | None, str | None]:
    if facts is not None and facts.quantization is not None:
        return facts.quantization, facts.quantization.source
    if facts is not None:  # config.json without a quantization config: the 16-bit weights
        return quant_for("bf16", source="config.json"), "config.json"
    listed = catalog.precision_of_checkpoint(name)
    if listed is not None:
        return quant_for(listed), "catalog"
    if spec is not None and spec.shipped and catalog.model(name) is spec:
        return quant_for(spec.shipped), "catalog"
    if from_name is not None:
        return from_name, "name"
    return None, None


def precision_of(
    catalog: Catalog, model: str | None, quantization: str | None, dtype: str | None, spec: ModelSpec | None,
    shipped: QuantInfo | None = None,
) -> tuple[str | None, str]:
    """The precision arm the command line implies, and where it came from; `shipped` is the
    checkpoint's own quantization (config.json, catalog or name) when known."""
    if is_gguf(model, quantization):
        return None, "command_line"  # llama.cpp's block quantizations are none of the arms
    if quantization:
        arm = _QUANT_ARM.get(quantization.lower().replace("-", "_"))
        if arm is not None:
            return arm, "command_line"
        if quantization.lower() not in ("compressed_tensors", "compressed-tensors"):
            return None, "command_line"
    if shipped is not None and shipped.arm is not None:
        return shipped.arm, "config.json" if shipped.source.endswith(".json") else "checkpoint"
    if model:
        from_catalog = catalog.precision_of_checkpoint(model)
        if from_catalog is not None:
            return from_catalog, "checkpoint"
        named = read_name(model).quantization  # what the checkpoint's name says (-AWQ, -FP8, ...)
        if named is not None and named.arm is not None:
            return named.arm, "checkpoint"
    if spec is not None and (dtype is None or dtype in _SIXTEEN):
        return "bf16", "checkpoint"  # the catalog's model itself is the 16-bit checkpoint
    return None, "command_line"


# a GGUF file, or a GGUF repository (`unsloth/Qwen3-8B-GGUF`, `...-GGUF:Q4_K_M`, `.../x-GGUF/`)
_GGUF = re.compile(r"(?i)\.gguf$|[-_.]gguf(?=$|[:/])")


def is_gguf(model: str | None, quantization: str | None) -> bool:
    return (quantization or "").lower() == "gguf" or _GGUF.search(model or "") is not None


def unresolved_hint(model: str | None, command: VllmCommand | None) -> str:
    """One line telling the user how to tag a job whose model OmniPilot could not resolve."""
    if model is None and command is not None and command.model is not None:
        return (
            f"OmniPilot cannot tell which model {command.model} is (the script does not say): "
            "add `#OMNIPILOT model=<hf-name>` to the script, e.g. `#OMNIPILOT model=Qwen/Qwen2.5-7B-Instruct`"
        )
    if model is None:
        return (
            "OmniPilot found no model name: add `#OMNIPILOT model=<hf-name>` to the script, "
            "e.g. `#OMNIPILOT model=Qwen/Qwen2.5-7B-Instruct`"
        )
    return (
        f"model '{model}' is not in the catalog (etc/models.toml): add `#OMNIPILOT model=<hf-name>` "
        "if it is a copy of a catalog model, or `#OMNIPILOT params=<billions> family=<family>`"
    )
