"""From the model string a job script names to a catalog entry and a precision arm.

Scripts name models as Hugging Face ids, local paths (`/scratch/$USER/models/Qwen2.5-7B-Instruct`),
Hugging Face cache paths (`.../models--Qwen--Qwen2.5-7B-Instruct/snapshots/<hash>`) or variables; a
careful reader looks at the path's last meaningful parts."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from omnipilot.catalog import Catalog, ModelSpec

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
_NAME_PRECISION = (
    (re.compile(r"(?i)(?:^|[-_.])awq(?:$|[-_.])"), "awq"),
    (re.compile(r"(?i)(?:^|[-_.])gptq(?:$|[-_.])"), "gptq"),
    (re.compile(r"(?i)(?:^|[-_.])(?:fp8|w8a8-fp8|fp8-dynamic)(?:$|[-_.])"), "fp8"),
)


def resolve_model(catalog: Catalog, name: str) -> tuple[ModelSpec | None, str | None]:
    """The catalog entry a model string means, and the catalog name; (None, None) if none fits."""
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
            return spec, spec.name
    return None, None


def precision_of(
    catalog: Catalog, model: str | None, quantization: str | None, dtype: str | None, spec: ModelSpec | None
) -> tuple[str | None, str]:
    """The precision arm the command line implies, and where it came from."""
    if is_gguf(model, quantization):
        return None, "command_line"  # llama.cpp's block quantizations are none of the arms
    if quantization:
        arm = _QUANT_ARM.get(quantization.lower().replace("-", "_"))
        if arm is not None:
            return arm, "command_line"
        if quantization.lower() not in ("compressed_tensors", "compressed-tensors"):
            return None, "command_line"
    if model:
        from_catalog = catalog.precision_of_checkpoint(model)
        if from_catalog is not None:
            return from_catalog, "checkpoint"
        base = model.rstrip("/").rsplit("/", 1)[-1]
        for pattern, arm in _NAME_PRECISION:
            if pattern.search(base):
                return arm, "checkpoint"
    if spec is not None and (dtype is None or dtype in _SIXTEEN):
        return "bf16", "checkpoint"  # the catalog's model itself is the 16-bit checkpoint
    return None, "command_line"


def is_gguf(model: str | None, quantization: str | None) -> bool:
    return (quantization or "").lower() == "gguf" or (model or "").lower().endswith(".gguf")


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
