"""What a model's name says on its own: family, size (`35B-A3B` total/active), chat tuning and the
quantization of the checkpoint (`-AWQ`, `-GPTQ-Int4`, `-FP8-dynamic`, `quantized.w4a16`,
`-bnb-4bit`, `-MXFP4`, ...). Everything here is read from text and marked as inferred; a catalog
entry or the checkpoint's config.json beats it."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from omnipilot.catalog import QuantInfo, quant_for

# First match wins: the more specific names come before the general ones.
_FAMILIES: tuple[tuple[str, str], ...] = (
    (r"deepseek-r1-distill-qwen", "qwen2"),
    (r"deepseek-r1-distill-llama", "llama3"),
    (r"deepseek-(?:v3|r1)", "deepseek_v3"),
    (r"kimi-k2", "kimi_k2"),
    (r"qwen3\.[56]-\d+(?:\.\d+)?b-a\d", "qwen3_5_moe"),
    (r"qwen3\.[56]", "qwen3_5"),
    (r"qwen3-coder|qwen3-\d+(?:\.\d+)?b-a\d|qwen3-next", "qwen3_moe"),
    (r"qwen3", "qwen3"),
    (r"qwen2|qwq", "qwen2"),
    (r"llama-?4", "llama4"),
    (r"llama-?3", "llama3"),
    (r"llama-?2", "llama2"),
    (r"gpt-oss", "gpt_oss"),
    (r"gemma-?4", "gemma4"),
    (r"gemma-?3", "gemma3"),
    (r"gemma-?2", "gemma2"),
    (r"mixtral", "mixtral"),
    (r"mistral|ministral|devstral|magistral", "mistral"),
    (r"phi-3\.5-moe", "phimoe"),
    (r"phi-[34]", "phi3"),
    (r"glm-5", "glm5"),
    (r"glm-4\.[5-9]", "glm4_moe"),
    (r"nemotron-3|nemotron-nano-3", "nemotron_h"),
    (r"olmo-2", "olmo2"),
)
_FAMILY_RES = tuple((re.compile(p, re.I), f) for p, f in _FAMILIES)
_SIZE = re.compile(r"(?i)(?:^|[-_/])(\d+(?:\.\d+)?)b(?:-a(\d+(?:\.\d+)?)b)?(?=$|[-_.])")
_TUNED = re.compile(r"(?i)(?:^|[-_.])(instruct|it|chat|thinking)(?=$|[-_.])")
# (pattern, precision label, method as people write it), first match wins
_QUANT: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(p, re.I), label, method)
    for p, label, method in (
        (r"mxfp4", "mxfp4", "mxfp4"),
        (r"nvfp4|(?:^|[-_.])fp4(?=$|[-_.])", "nvfp4", "nvfp4"),
        (r"bnb|(?:^|[-_.])4bit(?=$|[-_.])", "bnb4", "bitsandbytes"),
        (r"(?:^|[-_.])awq(?=$|[-_.])", "awq", "awq"),
        (r"(?:^|[-_.])gptq(?=$|[-_.])", "gptq", "gptq"),
        (r"w4a16", "gptq", "compressed-tensors"),
        (r"w8a8-?fp8|fp8", "fp8", "fp8"),
        (r"w8a8|(?:^|[-_.])int8(?=$|[-_.])", "int8", "compressed-tensors"),
    )
)


class NameFacts(BaseModel):
    """What the name says; `inferred` lists the fields read from the name (all of them)."""

    model_config = ConfigDict(frozen=True)

    name: str
    family: str | None = None
    params_b: float | None = None
    active_params_b: float | None = None
    tuned: str | None = None  # instruct / it / chat / thinking
    quantization: QuantInfo | None = None
    inferred: tuple[str, ...] = ()


def read_name(name: str) -> NameFacts:
    """Facts a model string states in its last path parts (an HF cache path counts as its id)."""
    text = name.rstrip("/")
    cache = re.search(r"models--([^/]+?)--([^/]+)", text)
    base = cache.group(2) if cache else text.rsplit("/", 1)[-1]
    found: dict[str, object] = {}
    family = next((f for rx, f in _FAMILY_RES if rx.search(base)), None)
    if family is not None:
        found["family"] = family
    size = _SIZE.search(base)
    if size is not None:
        found["params_b"] = float(size.group(1))
        if size.group(2):
            found["active_params_b"] = float(size.group(2))
    tuned = _TUNED.search(base)
    if tuned is not None:
        found["tuned"] = tuned.group(1).lower()
    for rx, label, method in _QUANT:
        if rx.search(base):
            info = quant_for(label, source="name")
            found["quantization"] = info.model_copy(update={"method": method})
            break
    return NameFacts(name=name, inferred=tuple(found), **found)
