"""What a model's name says on its own: family, size (`35B-A3B` total/active), chat tuning and the
quantization of the checkpoint (`-AWQ`, `-GPTQ-Int4`, `-FP8-dynamic`, `quantized.w4a16`,
`-bnb-4bit`, `-MXFP4`, ...). Everything here is read from text and marked as inferred; a catalog
entry or the checkpoint's config.json beats it."""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict, Field

from omnipilot.catalog import Catalog, ModelSpec, QuantInfo, quant_for

# First match wins: the more specific names come before the general ones.
_FAMILIES: tuple[tuple[str, str], ...] = (
    (r"deepseek-r1-distill-qwen", "qwen2"),
    (r"deepseek-r1-\d+-qwen3", "qwen3"),  # R1-0528 distilled into Qwen3-8B
    # NAS-pruned Llama 3.x (DeciLM layout) before llama; Nano v1 keeps Llama's own shape
    (r"nemotron-super|nemotron-ultra", "decilm"),
    (r"nemotron-3|nemotron-nano-3|nemotron-nano-\d+(?:\.\d+)?b-v2|nemotron-h-", "nemotron_h"),
    (r"deepseek-r1-distill-llama", "llama3"),
    (r"deepseek-(?:v3|r1)", "deepseek_v3"),
    (r"deepseek-(?:coder-)?v2(?![\d.]*b)", "deepseek_v2"),  # not Prover-V2-7B (a Llama)
    (r"kimi-linear", "kimi_linear"),
    (r"kimi-(?:vl-)?a\d", "deepseek_v3"),  # Kimi-VL: a Moonlight (deepseek_v3) language model
    (r"kimi-k2", "kimi_k2"),
    # VLMs named for their own series, read to their language model's family
    (r"internvl3[._]5-\d+(?:\.\d+)?b-a\d", "qwen3_moe"),
    (r"internvl3[._]5", "qwen3"),
    (r"internvl3-9b", "internlm3"),
    (r"internvl3", "qwen2"),
    (r"olmocr", "qwen2"),  # Qwen2-VL / Qwen2.5-VL fine-tunes
    (r"medgemma|shieldgemma-2-", "gemma3"),
    (r"shieldgemma", "gemma2"),  # ShieldGemma 1 is built on Gemma 2, ShieldGemma 2 on Gemma 3
    (r"qwen3\.[56]-\d+(?:\.\d+)?b-a\d", "qwen3_5_moe"),
    (r"qwen3\.[56]", "qwen3_5"),
    (r"qwen3-coder|qwen3-\d+(?:\.\d+)?b-a\d|qwen3-next", "qwen3_moe"),
    (r"qwen3", "qwen3"),
    (r"qwen1\.5-moe|qwen2-\d+b-a\d", "qwen2_moe"),
    (r"qwen2|qwq", "qwen2"),
    (r"llama-?4", "llama4"),
    (r"llama-?3", "llama3"),
    (r"llama-?2", "llama2"),
    (r"gpt-oss", "gpt_oss"),
    (r"gemma-?4", "gemma4"),
    (r"gemma-?3n", "gemma3n"),
    (r"gemma-?3", "gemma3"),
    # Gemma 1 names its size right after the name (`gemma-2b`, `codegemma-7b`): not a Gemma 2
    (r"(?:^|[-_/])(?:code)?gemma-(?:1\.1-)?\d+b", "gemma"),
    (r"gemma-?2(?![\d.]*b)", "gemma2"),
    (r"mixtral", "mixtral"),
    (r"mistral|ministral|devstral|magistral|pixtral", "mistral"),
    (r"phi-3\.5-moe", "phimoe"),
    (r"phi-[34]", "phi3"),
    (r"(?:^|[-_/])phi-(?:2|1_5)(?=$|[-_.])", "phi"),
    (r"glm-5", "glm5"),
    (r"glm-4\.[5-9]", "glm4_moe"),
    (r"glm-4-\d|glm-z1-", "glm4"),
    (r"olmo-?2", "olmo2"),
    (r"olmo-?3", "olmo3"),
    (r"seed-oss", "seed_oss"),
    (r"minimax-m2", "minimax_m2"),
    (r"minimax-(?:text-01|m1)", "minimax"),
    (r"granite-4", "granitemoehybrid"),
    (r"granite-3", "granite"),
    (r"smollm3", "smollm3"),
    (r"apertus", "apertus"),
    (r"exaone-4", "exaone4"),
    (r"hunyuan-a\d", "hunyuan_v1_moe"),
    (r"ernie-4\.5-\d+(?:\.\d+)?b-a\d", "ernie4_5_moe"),
    (r"ernie-4\.5", "ernie4_5"),
    (r"falcon-h1", "falcon_h1"),
    (r"^yi-", "yi"),
    (r"internlm3", "internlm3"),
    (r"lfm2-\d+(?:\.\d+)?b-a\d", "lfm2_moe"),
    (r"lfm2", "lfm2"),
    (r"command-r7b|command-a", "cohere2"),
    (r"command-r", "cohere"),
    (r"dbrx", "dbrx"),
    (r"snowflake-arctic-(?:instruct|base)", "arctic"),
    (r"jamba", "jamba"),
    (r"longcat-flash", "longcat_flash"),
)
# A vision-language name reads as its language model's: `Qwen3-VL-30B-A3B` as `Qwen3-30B-A3B`,
# `Llama-3.2-11B-Vision-Instruct` as `Llama-3.2-11B-Instruct` (the size is the whole checkpoint's).
_VISION_PART = re.compile(r"(?i)[-_](?:vl|vision)(?=$|[-_])")
_FAMILY_RES = tuple((re.compile(p, re.I), f) for p, f in _FAMILIES)
_SIZE = re.compile(r"(?i)(?:^|[-_/])(\d+(?:\.\d+)?)b(?:-a(\d+(?:\.\d+)?)b)?(?=$|[-_.])")
# OLMoE names its active size first: `OLMoE-1B-7B` is 7B total, 1B active.
_ACTIVE_TOTAL = re.compile(r"(?i)(?:^|[-_/])(\d+(?:\.\d+)?)b-(\d+(?:\.\d+)?)b(?=$|[-_.])")
# A size in millions (`gemma-3-270m`, `LFM2-350M`); three digits, so a `-1M` context is no size.
_SIZE_M = re.compile(r"(?i)(?:^|[-_/])(\d{3})m(?=$|[-_.])")
# (pattern, total, active): releases whose stated size is not their total, read before the size in
# the name. Gemma 1's `7b`/`2b` count without the 256k-token embedding table (8.5B / 2.5B); Llama 4
# names its active size (`Scout-17B-16E`); Ministral 3's 3B and ERNIE 4.5's 0.3B leave out parts
# (vision encoder, embeddings) that the checkpoint holds. Totals from the published config.json.
_SIZE_FIXES: tuple[tuple[re.Pattern[str], float, float | None], ...] = tuple(
    (re.compile(p, re.I), total, active)
    for p, total, active in (
        (r"(?:^|[-_/])(?:code)?gemma-(?:1\.1-)?7b(?=$|[-_.])", 8.54, None),
        (r"(?:^|[-_/])(?:code)?gemma-(?:1\.1-)?2b(?=$|[-_.])", 2.51, None),
        (r"llama-?4-scout", 108.6, 17.2),
        (r"llama-?4-maverick", 401.6, 17.2),
        (r"ministral-3-3b(?=$|[-_.])", 3.85, None),
        (r"ernie-4\.5-0\.3b(?=$|[-_.])", 0.36, None),
        (r"shieldgemma-2b(?=$|[-_.])", 2.61, None),  # Gemma 2 2B's total
        (r"granite-4\.\d+-h-1b(?=$|[-_.])", 1.46, None),
    )
)
# (pattern, total, active): size classes as the releases publish them, first match wins. Mistral
# Small 3.x and its fine-tunes (Magistral/Devstral Small) carry a date, not a size.
_SIZE_WORDS: tuple[tuple[re.Pattern[str], float, float | None], ...] = tuple(
    (re.compile(p, re.I), total, active)
    for p, total, active in (
        (r"(?:mistral|magistral|devstral)-small(?=$|[-_.])", 24.0, None),
        (r"granite-4\.\d+-h-small", 32.0, 9.0),
        (r"granite-4\.\d+-(?:h-)?tiny", 7.0, 1.0),
        (r"granite-4\.\d+-(?:h-)?micro", 3.0, None),
        (r"minimax-m2", 230.0, 10.0),
        (r"hunyuan-a13b", 80.0, 13.0),
        (r"command-r7b", 8.0, None),
        (r"command-r-plus", 104.0, None),
        (r"command-r(?=$|[-_.])", 32.0, None),
        (r"command-a(?=$|[-_.])", 111.0, None),
        (r"mixtral-8x7b", 46.7, 12.9),
        (r"mixtral-8x22b", 140.6, 39.2),
        (r"phi-4-mini", 3.84, None),
        (r"phi-3(?:\.5)?-mini", 3.82, None),
        (r"phi-3-small", 7.39, None),
        (r"phi-3-medium", 14.0, None),
        (r"glm-4\.7-flash", 31.2, 3.0),  # inferred: published as a 30B-A3B class MoE
        # Gemma 3n names its effective size (E2B/E4B); the checkpoint holds more (per-layer
        # embeddings, vision and audio encoders)
        (r"gemma-?3n-e2b(?=$|[-_.])", 5.44, None),
        (r"gemma-?3n-e4b(?=$|[-_.])", 7.85, None),
        (r"dbrx(?=$|[-_.])", 132.0, 36.0),
        (r"snowflake-arctic-(?:instruct|base)", 480.0, 17.0),
        (r"deepseek-(?:coder-)?v2(?:\.5)?-lite", 15.7, 2.4),
        (r"deepseek-(?:coder-)?v2(?:\.5)?(?=$|[-_.])", 236.0, 21.0),
        (r"jamba-(?:1\.5-)?mini|jamba-v0\.1", 51.6, 12.0),
        (r"jamba-(?:1\.5-)?large", 398.0, 94.0),
        (r"longcat-flash-(?:chat|thinking)", 560.0, 27.0),
        (r"minimax-(?:text-01|m1)", 456.0, 45.9),
        (r"kimi-vl-a3b", 16.4, 3.0),
        (r"qwen1\.5-moe-a2\.7b", 14.3, 2.7),
        (r"(?:^|[-_/])phi-2(?=$|[-_.])", 2.78, None),
    )
)
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
    language = _VISION_PART.sub("", base)
    family = next((f for rx, f in _FAMILY_RES if rx.search(language)), None)
    if family is not None:
        found["family"] = family
    fixed = next(((t, a) for rx, t, a in _SIZE_FIXES if rx.search(base)), None)
    pair = _ACTIVE_TOTAL.search(base)
    size = _SIZE.search(base)
    millions = _SIZE_M.search(base)
    if fixed is not None:
        found["params_b"] = fixed[0]
        if fixed[1] is not None:
            found["active_params_b"] = fixed[1]
    elif pair is not None and float(pair.group(1)) < float(pair.group(2)):
        found["params_b"] = float(pair.group(2))
        found["active_params_b"] = float(pair.group(1))
    elif size is not None:
        found["params_b"] = float(size.group(1))
        if size.group(2):
            found["active_params_b"] = float(size.group(2))
    elif millions is not None:
        found["params_b"] = int(millions.group(1)) / 1000
    else:
        # some releases name a size class, not a size: read it as the published size
        sized = next(((t, a) for rx, t, a in _SIZE_WORDS if rx.search(base)), None)
        if sized is not None:
            found["params_b"] = sized[0]
            if sized[1] is not None:
                found["active_params_b"] = sized[1]
    tuned = _TUNED.search(base)
    if tuned is not None:
        found["tuned"] = tuned.group(1).lower()
    for rx, label, method in _QUANT:
        if rx.search(base):
            info = quant_for(label, source="name")
            found["quantization"] = info.model_copy(update={"method": method})
            break
    return NameFacts(name=name, inferred=tuple(found), **found)


# A stand-in shape's family when the name does not say one, and where its family came from then.
UNKNOWN_FAMILY = "unknown"
STAND_IN = "stand-in"
# A same-family entry sizes a name within this fraction of its own size; beyond it, a stand-in.
SAME_FAMILY_SPAN = 0.3
# vision-language entries: never a stand-in for a text model
_VISION = re.compile(r"(?i)-vl-|-vl$|vision|pixtral|internvl|multimodal|ocr|glm-4\.\dv")
# A stand-in's donor has a context of today's models (an old 4k model would cap the workload).
_STAND_IN_MIN_CONTEXT = 32768


class NameShape(BaseModel):
    """A shape for a model the catalog lacks, read from its name: low confidence by construction."""

    model_config = ConfigDict(frozen=True)

    spec: ModelSpec
    donor: str = Field(description="the catalog entry whose layer shape stands in")
    family_source: str = Field(description="'name' when the name says the family, else 'stand-in'")
    note: str


def shape_from_name(catalog: Catalog, name: str, named: NameFacts | None = None) -> NameShape | None:
    """A shape for a size the name states: the same family's entry within 30 % of it, else the
    catalog's plain-attention entry closest in size of any family (a stand-in, its family replaced
    by the name's or 'unknown' so nothing measured of the donor's family is taken for this model).
    None when the name states no size."""
    named = named or read_name(name)
    if named.params_b is None:
        return None
    size = f"{named.params_b:g}B" + (f" (active {named.active_params_b:g}B)" if named.active_params_b else "")
    if named.family is not None:
        same = _nearest_same_family(catalog, named.family, named.params_b, named.active_params_b)
        if same is not None:
            note = (f"{name} is not in the catalog: family {named.family} and size {size} read from the "
                    f"name; layer shape taken from {same.name}")  # fmt: skip
            return NameShape(spec=_sized(same, name, named, named.family), donor=same.name,
                             family_source="name", note=note)  # fmt: skip
    donor = _stand_in(catalog, named.params_b, named.active_params_b)
    if donor is None:
        return None
    family = f"family {named.family} (from the name)" if named.family else "its family unknown"
    note = (f"{name} is not in the catalog, {family}: size {size} read from the name; layer shape is a "
            f"stand-in taken from {donor.name}; this family is not measured, so any prediction lies "
            "outside what is measured")  # fmt: skip
    spec = _sized(donor, name, named, named.family or UNKNOWN_FAMILY)
    return NameShape(spec=spec, donor=donor.name, family_source="name" if named.family else STAND_IN, note=note)


def _nearest_same_family(catalog: Catalog, family: str, params_b: float, active_b: float | None) -> ModelSpec | None:
    near = [m for m in catalog.models if m.family == family and (m.active_params_b is None) == (active_b is None)]
    if not near:
        return None
    best = min(near, key=lambda m: abs(m.params_b - params_b))
    return best if abs(best.params_b - params_b) <= SAME_FAMILY_SPAN * params_b else None


def _stand_in(catalog: Catalog, params_b: float, active_b: float | None) -> ModelSpec | None:
    """The closest plain-attention text entry, dense for a dense name and MoE for a `-A<n>B` one:
    hybrid and latent-attention layouts keep a KV cache unlike a plain model's, and a vision-language
    entry's size counts its vision tower."""

    def plain(m: ModelSpec) -> bool:
        return (m.kv_layers is None and m.kv_heads > 1 and m.scope == "single_node" and m.shipped is None
                and m.max_context >= _STAND_IN_MIN_CONTEXT and (m.active_params_b is None) == (active_b is None)
                and _VISION.search(m.name) is None)  # fmt: skip

    def distance(m: ModelSpec) -> float:
        d = abs(math.log(m.params_b / params_b))
        return d + abs(math.log(m.active_b / active_b)) if active_b else d

    near = [m for m in catalog.models if plain(m)]
    return min(near, key=distance) if near else None


def _sized(donor: ModelSpec, name: str, named: NameFacts, family: str) -> ModelSpec:
    """The donor's layer shape at the name's size (params only: layers and heads stay the donor's)."""
    return donor.model_copy(
        update={"name": name, "family": family, "params_b": named.params_b, "active_params_b": named.active_params_b,
                "variants": [], "checkpoints": {}, "shipped": None, "note": donor.name},
    )  # fmt: skip
