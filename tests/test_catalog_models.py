"""The shipped model catalog: today's families, honest resolution, MoE sizes, scope."""

from __future__ import annotations

import pytest

from omnipilot.advisor.arms import Workload, enumerate_arms, precision_options
from omnipilot.catalog import Catalog
from omnipilot.model_name import read_name

CAT = Catalog.load()

# One served checkpoint per family the catalog must know (issue 14, item 1c).
FAMILY_EXAMPLES = {
    "Qwen/Qwen3-32B": "qwen3",
    "Qwen/Qwen3-30B-A3B": "qwen3_moe",
    "Qwen/Qwen3-Coder-30B-A3B-Instruct": "qwen3_moe",
    "Qwen/Qwen3.5-35B-A3B": "qwen3_5_moe",
    "Qwen/Qwen3.6-35B-A3B": "qwen3_5_moe",
    "Qwen/Qwen2.5-Coder-7B-Instruct": "qwen2",
    "meta-llama/Llama-3.1-8B-Instruct": "llama3",
    "meta-llama/Llama-3.2-3B-Instruct": "llama3",
    "meta-llama/Llama-3.3-70B-Instruct": "llama3",
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": "llama4",
    "openai/gpt-oss-120b": "gpt_oss",
    "google/gemma-2-9b-it": "gemma2",
    "google/gemma-3-27b-it": "gemma3",
    "google/gemma-4-31B-it": "gemma4",
    "mistralai/Mistral-7B-Instruct-v0.3": "mistral",
    "mistralai/Mistral-Small-3.1-24B-Instruct-2503": "mistral",
    "mistralai/Mixtral-8x7B-Instruct-v0.1": "mixtral",
    "microsoft/Phi-3.5-mini-instruct": "phi3",
    "microsoft/phi-4": "phi3",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B": "qwen2",
    "deepseek-ai/DeepSeek-R1-0528": "deepseek_v3",
    "deepseek-ai/DeepSeek-V3": "deepseek_v3",
    "zai-org/GLM-4.5-Air": "glm4_moe",
    "zai-org/GLM-4.6-FP8": "glm4_moe",
    "zai-org/GLM-5": "glm5",
    "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16": "nemotron_h",
    "allenai/OLMo-2-1124-7B-Instruct": "olmo2",
    "moonshotai/Kimi-K2-Instruct": "kimi_k2",
}


@pytest.mark.parametrize("name", sorted(FAMILY_EXAMPLES))
def test_every_listed_family_resolves(name: str) -> None:
    found = CAT.resolve(name)
    assert found is not None and found.confidence == "high", name
    assert found.spec.family == FAMILY_EXAMPLES[name]


def test_newer_releases_no_longer_map_silently_to_older_entries() -> None:
    assert CAT.resolve("meta-llama/Llama-3.3-70B-Instruct").spec.name == "meta-llama/Llama-3.3-70B-Instruct"  # type: ignore[union-attr]
    assert CAT.resolve("mistralai/Mistral-7B-Instruct-v0.3").spec.name == "mistralai/Mistral-7B-v0.3"  # type: ignore[union-attr]
    assert CAT.resolve("mistralai/Mistral-7B-Instruct-v0.2").spec.name == "mistralai/Mistral-7B-Instruct-v0.2"  # type: ignore[union-attr]


def test_fine_tune_maps_to_its_base_with_a_stated_confidence() -> None:
    found = CAT.resolve("/scratch/ana/ckpt/Qwen2.5-7B-Instruct-legal-sft-v3")
    assert found is not None and found.spec.name == "Qwen/Qwen2.5-7B"
    assert found.how == "prefix" and found.confidence == "medium"
    assert found.note and "fine-tune of Qwen/Qwen2.5-7B-Instruct" in found.note
    copy = CAT.resolve("Qwen3-14B-FP8-dynamic")
    assert copy is not None and copy.spec.name == "Qwen/Qwen3-14B" and copy.confidence == "high"
    assert CAT.resolve("Qwen3-80B") is None  # a different size is not a fine-tune of Qwen3-8B


def test_moe_sizes_memory_from_total_speed_from_active() -> None:
    moe = CAT.model("Qwen/Qwen3-30B-A3B")
    assert moe is not None and moe.params_b == pytest.approx(30.5) and moe.active_b == pytest.approx(3.3)
    # all experts live in memory: a 30B MoE needs 30B of weights, not 3B
    assert moe.weight_bytes("bf16") == pytest.approx(30.5e9 * 2)


def test_released_quantized_models_offer_their_own_arm_and_no_16bit_one() -> None:
    h100, a100 = CAT.gpu("H100-80GB"), CAT.gpu("A100-80GB")
    assert h100 is not None and a100 is not None
    oss = CAT.model("openai/gpt-oss-20b")
    assert oss is not None and oss.shipped == "mxfp4"
    assert [o[0] for o in precision_options(oss, h100)] == ["mxfp4"]
    ds = CAT.model("deepseek-ai/DeepSeek-R1")
    assert ds is not None
    assert [o[0] for o in precision_options(ds, h100)] == ["fp8"]
    # A100 has no FP8 tensor cores: dynamic FP8 is left out, an FP8 checkpoint runs weight-only
    qwen = CAT.model("Qwen/Qwen3-8B")
    assert qwen is not None
    assert ("fp8", "Qwen/Qwen3-8B", "fp8") not in precision_options(qwen, a100)
    assert ("fp8", "Qwen/Qwen3-8B-FP8", None) in precision_options(qwen, a100)
    work = Workload(concurrency=8, context=4096, prompt_len=1024, output_len=256)
    fits = enumerate_arms(qwen, [(a100, 8)], work, precisions=["fp8"])
    assert any("weight-only" in r for f in fits for r in f.reasons)


def test_deepseek_fits_one_node_only_as_8_h200() -> None:
    ds = CAT.model("deepseek-ai/DeepSeek-V3")
    assert ds is not None
    work = Workload(concurrency=16, context=8192, prompt_len=2048, output_len=512)
    gpus = [(g, 8) for g in CAT.gpus if g.vendor == "nvidia"]
    fitting = {(f.arm.gpu, f.arm.tp) for f in enumerate_arms(ds, gpus, work) if f.fits}
    assert fitting == {("H200-141GB", 8)}


def test_kimi_k2_is_recognised_and_outside_single_node_scope() -> None:
    kimi = CAT.model("moonshotai/Kimi-K2-Instruct")
    assert kimi is not None and kimi.scope == "multi_node"
    work = Workload(concurrency=1, context=4096, prompt_len=1024, output_len=256)
    arms = enumerate_arms(kimi, [(g, 8) for g in CAT.gpus], work)
    assert arms and not any(a.fits for a in arms)
    assert all("single-node scope" in a.reasons[0] for a in arms)


# Models served in 2025-26 that probes found unknown: (name, catalog entry, family, how it matched).
SERVED_2025_26 = [
    ("nvidia/NVIDIA-Nemotron-Nano-9B-v2", "nvidia/NVIDIA-Nemotron-Nano-9B-v2", "nemotron_h", "entry"),
    ("nvidia/NVIDIA-Nemotron-Nano-12B-v2", "nvidia/NVIDIA-Nemotron-Nano-12B-v2", "nemotron_h", "entry"),
    ("mistralai/Magistral-Small-2509", "mistralai/Mistral-Small-3.2-24B-Instruct-2506", "mistral", "variant"),
    ("mistralai/Magistral-Small-2506", "mistralai/Mistral-Small-3.1-24B-Instruct-2503", "mistral", "variant"),
    ("mistralai/Devstral-Small-2505", "mistralai/Mistral-Small-3.1-24B-Instruct-2503", "mistral", "variant"),
    ("mistralai/Devstral-Small-2507", "mistralai/Mistral-Small-3.1-24B-Instruct-2503", "mistral", "variant"),
    ("mistralai/Mistral-Nemo-Instruct-2407", "mistralai/Mistral-Nemo-Instruct-2407", "mistral", "entry"),
    ("nvidia/Llama-3.1-Nemotron-Nano-8B-v1", "meta-llama/Llama-3.1-8B", "llama3", "variant"),
    ("nvidia/Llama-3_3-Nemotron-Super-49B-v1_5", "nvidia/Llama-3_3-Nemotron-Super-49B-v1", "decilm", "variant"),
    ("NousResearch/Hermes-4-70B", "meta-llama/Llama-3.1-70B", "llama3", "variant"),
    ("NousResearch/Hermes-4-14B", "Qwen/Qwen3-14B", "qwen3", "variant"),
    ("meta-llama/Llama-3.1-405B-Instruct-FP8", "meta-llama/Llama-3.1-405B", "llama3", "checkpoint"),
    # families new to the catalog (no one-hot column in the bundled cost model yet)
    ("ByteDance-Seed/Seed-OSS-36B-Instruct", "ByteDance-Seed/Seed-OSS-36B-Instruct", "seed_oss", "entry"),
    ("NousResearch/Hermes-4.3-36B", "ByteDance-Seed/Seed-OSS-36B-Instruct", "seed_oss", "variant"),
    ("MiniMaxAI/MiniMax-M2", "MiniMaxAI/MiniMax-M2", "minimax_m2", "entry"),
    ("MiniMaxAI/MiniMax-M2.1", "MiniMaxAI/MiniMax-M2", "minimax_m2", "variant"),
    ("ibm-granite/granite-4.0-h-small", "ibm-granite/granite-4.0-h-small", "granitemoehybrid", "entry"),
    ("ibm-granite/granite-4.0-h-tiny", "ibm-granite/granite-4.0-h-tiny", "granitemoehybrid", "entry"),
    ("ibm-granite/granite-4.0-h-micro", "ibm-granite/granite-4.0-h-micro", "granitemoehybrid", "entry"),
    ("ibm-granite/granite-4.0-micro", "ibm-granite/granite-4.0-micro", "granitemoehybrid", "entry"),
    ("allenai/Olmo-3-7B-Instruct", "allenai/Olmo-3-1025-7B", "olmo3", "variant"),
    ("allenai/Olmo-3.1-32B-Think", "allenai/Olmo-3-1125-32B", "olmo3", "variant"),
    ("HuggingFaceTB/SmolLM3-3B", "HuggingFaceTB/SmolLM3-3B", "smollm3", "entry"),
    ("swiss-ai/Apertus-70B-Instruct-2509", "swiss-ai/Apertus-70B-2509", "apertus", "variant"),
    ("LGAI-EXAONE/EXAONE-4.0-32B-AWQ", "LGAI-EXAONE/EXAONE-4.0-32B", "exaone4", "checkpoint"),
]


@pytest.mark.parametrize(("name", "entry", "family", "how"), SERVED_2025_26)
def test_models_served_in_2025_26_resolve(name: str, entry: str, family: str, how: str) -> None:
    found = CAT.resolve(name)
    assert found is not None and found.confidence == "high", name
    assert (found.spec.name, found.spec.family, found.how) == (entry, family, how)
    # the name reader knows the family on its own, except for fine-tunes that rename it (Hermes)
    assert read_name(name).family == (None if name.startswith("NousResearch/Hermes") else family)


@pytest.mark.parametrize(
    ("checkpoint", "arm"),
    [
        ("ibm-granite/granite-4.0-h-small-FP8", "fp8"),
        ("RedHatAI/granite-4.0-h-tiny-FP8-dynamic", "fp8"),
        ("nvidia/NVIDIA-Nemotron-Nano-9B-v2-FP8", "fp8"),
        ("QuantTrio/MiniMax-M2-AWQ", "awq"),
        ("LGAI-EXAONE/EXAONE-4.0-32B-FP8", "fp8"),
        ("meta-llama/Llama-3.1-405B-Instruct-FP8", "fp8"),
    ],
)
def test_official_quantized_checkpoints_name_their_arm(checkpoint: str, arm: str) -> None:
    assert CAT.precision_of_checkpoint(checkpoint) == arm
    spec = CAT.model(checkpoint)
    assert spec is not None and spec.checkpoint_for(arm) == checkpoint


def test_hybrid_models_keep_a_kv_cache_only_in_their_attention_layers() -> None:
    for name, attn in [("ibm-granite/granite-4.0-h-small", 4), ("nvidia/NVIDIA-Nemotron-Nano-9B-v2", 4)]:
        spec = CAT.model(name)
        assert spec is not None and spec.kv_layers == attn
        assert spec.kv_bytes_per_token() == 2 * attn * spec.kv_heads * spec.head_dim * 2


def test_minimax_m2_ships_in_fp8_and_fits_one_node() -> None:
    mm = CAT.model("MiniMaxAI/MiniMax-M2")
    assert mm is not None and mm.shipped == "fp8" and mm.scope == "single_node"
    h200 = CAT.gpu("H200-141GB")
    assert h200 is not None
    work = Workload(concurrency=16, context=8192, prompt_len=2048, output_len=512)
    assert any(f.fits for f in enumerate_arms(mm, [(h200, 8)], work))


@pytest.mark.parametrize(
    ("name", "family", "total", "active"),
    [
        ("mistralai/Magistral-Small-2612", "mistral", 24.0, None),  # a size class, not a size
        ("ibm-granite/granite-4.0-h-small-FP8", "granitemoehybrid", 32.0, 9.0),
        ("ibm-granite/granite-4.0-h-tiny", "granitemoehybrid", 7.0, 1.0),
        ("MiniMaxAI/MiniMax-M2.1", "minimax_m2", 230.0, 10.0),
        ("nvidia/Llama-3_3-Nemotron-Super-49B-v1", "decilm", 49.0, None),
        ("nvidia/NVIDIA-Nemotron-Nano-12B-v2-Base", "nemotron_h", 12.0, None),
        ("ibm-granite/granite-3.3-8b-instruct", "granite", 8.0, None),
    ],
)
def test_what_a_new_familys_name_says(name: str, family: str, total: float, active: float | None) -> None:
    facts = read_name(name)
    assert (facts.family, facts.params_b, facts.active_params_b) == (family, total, active)
    assert "params_b" in facts.inferred


@pytest.mark.parametrize(
    ("name", "family", "total", "active", "method"),
    [
        ("Qwen/Qwen3.5-35B-A3B", "qwen3_5_moe", 35.0, 3.0, None),
        ("Qwen/Qwen3-8B-AWQ", "qwen3", 8.0, None, "awq"),
        ("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4", "qwen2", 7.0, None, "gptq"),
        ("RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic", "llama3", 70.0, None, "fp8"),
        ("RedHatAI/Llama-3.3-70B-Instruct-quantized.w4a16", "llama3", 70.0, None, "compressed-tensors"),
        ("unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", "llama3", 8.0, None, "bitsandbytes"),
        ("/models/gpt-oss-120b-MXFP4", "gpt_oss", 120.0, None, "mxfp4"),
        ("/hf/models--google--gemma-3-27b-it/snapshots/1a2b", "gemma3", 27.0, None, None),
    ],
)
def test_what_a_name_says(name: str, family: str, total: float, active: float | None, method: str | None) -> None:
    facts = read_name(name)
    assert (facts.family, facts.params_b, facts.active_params_b) == (family, total, active)
    assert (facts.quantization.method if facts.quantization else None) == method
    assert "family" in facts.inferred and "params_b" in facts.inferred
