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


# VLMs and families a probe found unknown or sized only by a stand-in (issue 14, third pass):
# (name, catalog entry, family, how it matched). A VLM's family is its language model's.
SERVED_VLM_AND_MORE = [
    ("Qwen/Qwen2.5-VL-7B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct", "qwen2", "entry"),
    ("Qwen/Qwen2.5-VL-72B-Instruct-AWQ", "Qwen/Qwen2.5-VL-72B-Instruct", "qwen2", "checkpoint"),
    ("allenai/olmOCR-2-7B-1025", "Qwen/Qwen2.5-VL-7B-Instruct", "qwen2", "variant"),
    ("Qwen/Qwen3-VL-8B-Instruct", "Qwen/Qwen3-VL-8B-Instruct", "qwen3", "entry"),
    ("Qwen/Qwen3-VL-30B-A3B-Thinking", "Qwen/Qwen3-VL-30B-A3B-Instruct", "qwen3_moe", "variant"),
    ("Qwen/Qwen3-VL-235B-A22B-Instruct-FP8", "Qwen/Qwen3-VL-235B-A22B-Instruct", "qwen3_moe", "checkpoint"),
    ("OpenGVLab/InternVL3-38B", "OpenGVLab/InternVL3-38B", "qwen2", "entry"),
    ("OpenGVLab/InternVL3-78B-hf", "OpenGVLab/InternVL3-78B", "qwen2", "variant"),
    ("OpenGVLab/InternVL3_5-30B-A3B", "OpenGVLab/InternVL3_5-30B-A3B", "qwen3_moe", "entry"),
    ("mistral-community/pixtral-12b", "mistralai/Pixtral-12B-2409", "mistral", "variant"),
    ("meta-llama/Llama-3.2-11B-Vision-Instruct", "meta-llama/Llama-3.2-11B-Vision-Instruct", "llama3", "entry"),
    ("zai-org/GLM-4.5V", "zai-org/GLM-4.5V", "glm4_moe", "entry"),
    ("microsoft/Phi-4-multimodal-instruct", "microsoft/Phi-4-multimodal-instruct", "phi3", "entry"),
    ("google/medgemma-27b-text-it", "google/gemma-3-27b-it", "gemma3", "variant"),
    ("google/medgemma-4b-it", "google/gemma-3-4b-it", "gemma3", "variant"),
    ("tencent/Hunyuan-A13B-Instruct", "tencent/Hunyuan-A13B-Instruct", "hunyuan_v1_moe", "entry"),
    ("baidu/ERNIE-4.5-21B-A3B-PT", "baidu/ERNIE-4.5-21B-A3B-PT", "ernie4_5_moe", "entry"),
    ("baidu/ERNIE-4.5-300B-A47B-PT", "baidu/ERNIE-4.5-300B-A47B-PT", "ernie4_5_moe", "entry"),
    ("tiiuae/Falcon-H1-7B-Instruct", "tiiuae/Falcon-H1-7B-Instruct", "falcon_h1", "entry"),
    ("tiiuae/Falcon-H1-34B-Base", "tiiuae/Falcon-H1-34B-Instruct", "falcon_h1", "variant"),
    ("01-ai/Yi-1.5-34B-Chat", "01-ai/Yi-1.5-34B-Chat", "yi", "entry"),
    ("01-ai/Yi-1.5-9B", "01-ai/Yi-1.5-9B-Chat", "yi", "variant"),
    ("internlm/internlm3-8b-instruct", "internlm/internlm3-8b-instruct", "internlm3", "entry"),
    ("THUDM/glm-4-9b-chat-hf", "THUDM/glm-4-9b-chat", "glm4", "variant"),
    ("zai-org/GLM-4-32B-0414", "THUDM/GLM-4-32B-0414", "glm4", "variant"),
    ("moonshotai/Kimi-Linear-48B-A3B-Instruct", "moonshotai/Kimi-Linear-48B-A3B-Instruct", "kimi_linear", "entry"),
    ("LiquidAI/LFM2-1.2B", "LiquidAI/LFM2-1.2B", "lfm2", "entry"),
    ("LiquidAI/LFM2-8B-A1B", "LiquidAI/LFM2-8B-A1B", "lfm2_moe", "entry"),
    ("CohereForAI/c4ai-command-r-08-2024", "CohereLabs/c4ai-command-r-08-2024", "cohere", "variant"),
    ("CohereLabs/c4ai-command-a-03-2025", "CohereLabs/c4ai-command-a-03-2025", "cohere2", "entry"),
    ("ibm-granite/granite-3.3-8b-instruct", "ibm-granite/granite-3.3-8b-instruct", "granite", "entry"),
]


@pytest.mark.parametrize(("name", "entry", "family", "how"), SERVED_2025_26 + SERVED_VLM_AND_MORE)
def test_models_served_in_2025_26_resolve(name: str, entry: str, family: str, how: str) -> None:
    found = CAT.resolve(name)
    assert found is not None and found.confidence == "high", name
    assert (found.spec.name, found.spec.family, found.how) == (entry, family, how)
    # the name reader knows the family on its own (a VLM's: its language model's), except for
    # fine-tunes that rename it (Hermes)
    assert read_name(name).family == (None if name.startswith("NousResearch/Hermes") else family)


@pytest.mark.parametrize(
    ("checkpoint", "arm"),
    [
        ("Qwen/Qwen2.5-VL-7B-Instruct-AWQ", "awq"),
        ("Qwen/Qwen3-VL-30B-A3B-Instruct-FP8", "fp8"),
        ("OpenGVLab/InternVL3-8B-AWQ", "awq"),
        ("RedHatAI/Llama-3.2-90B-Vision-Instruct-FP8-dynamic", "fp8"),
        ("zai-org/GLM-4.5V-FP8", "fp8"),
        ("tencent/Hunyuan-A13B-Instruct-GPTQ-Int4", "gptq"),
        ("tiiuae/Falcon-H1-7B-Instruct-GPTQ-Int4", "gptq"),
        ("RedHatAI/granite-3.3-8b-instruct-FP8-dynamic", "fp8"),
    ],
)
def test_new_official_quantized_checkpoints_name_their_arm(checkpoint: str, arm: str) -> None:
    assert CAT.precision_of_checkpoint(checkpoint) == arm
    spec = CAT.model(checkpoint)
    assert spec is not None and spec.checkpoint_for(arm) == checkpoint


def test_a_fine_tunes_own_quantized_copy_keeps_its_base() -> None:
    # olmOCR's FP8 release is a copy of the olmOCR variant: sized as Qwen2.5-VL-7B, FP8 read from the name
    found = CAT.resolve("allenai/olmOCR-2-7B-1025-FP8")
    assert found is not None and found.spec.name == "Qwen/Qwen2.5-VL-7B-Instruct" and found.confidence == "high"
    named = read_name("allenai/olmOCR-2-7B-1025-FP8").quantization
    assert named is not None and named.arm == "fp8"


def test_vlms_size_memory_from_the_whole_checkpoint_and_kv_from_the_language_model() -> None:
    vl, lm = CAT.model("Qwen/Qwen2.5-VL-7B-Instruct"), CAT.model("Qwen/Qwen2.5-7B")
    assert vl is not None and lm is not None
    assert vl.weight_bytes("bf16") > lm.weight_bytes("bf16")  # the vision tower lives in memory too
    assert vl.kv_bytes_per_token() == lm.kv_bytes_per_token()
    # Llama 3.2 Vision: cross-attention layers cache the image, not the tokens
    mllama = CAT.model("meta-llama/Llama-3.2-11B-Vision-Instruct")
    assert mllama is not None and (mllama.layers, mllama.kv_layers) == (40, 32)


@pytest.mark.parametrize(
    ("name", "layers", "kv_layers"),
    [
        ("moonshotai/Kimi-Linear-48B-A3B-Instruct", 27, 7),  # 7 MLA layers; KDA state left out
        ("LiquidAI/LFM2-1.2B", 16, 6),  # 10 short-convolution blocks
        ("nvidia/NVIDIA-Nemotron-Nano-12B-v2", 62, 6),
        ("tiiuae/Falcon-H1-7B-Instruct", 44, None),  # attention beside Mamba on every layer
    ],
)
def test_hybrids_count_only_the_layers_that_keep_a_kv_cache(name: str, layers: int, kv_layers: int | None) -> None:
    spec = CAT.model(name)
    assert spec is not None and (spec.layers, spec.kv_layers) == (layers, kv_layers)
    assert spec.kv_bytes_per_token() == 2 * (kv_layers or layers) * spec.kv_heads * spec.head_dim * 2


def test_the_largest_new_moe_models_fit_one_8_h200_node() -> None:
    h200 = CAT.gpu("H200-141GB")
    assert h200 is not None
    work = Workload(concurrency=8, context=8192, prompt_len=2048, output_len=512)
    for name in ("baidu/ERNIE-4.5-300B-A47B-PT", "Qwen/Qwen3-VL-235B-A22B-Instruct", "OpenGVLab/InternVL3_5-241B-A28B"):
        spec = CAT.model(name)
        assert spec is not None and spec.scope == "single_node"
        assert any(f.fits for f in enumerate_arms(spec, [(h200, 8)], work)), name


@pytest.mark.parametrize(
    ("name", "family", "total", "active"),
    [
        ("Qwen/Qwen3-VL-30B-A3B-Instruct", "qwen3_moe", 30.0, 3.0),  # -VL- read to its language family
        ("Qwen/Qwen3-VL-32B-Instruct-FP8", "qwen3", 32.0, None),
        ("meta-llama/Llama-3.2-90B-Vision-Instruct", "llama3", 90.0, None),
        ("OpenGVLab/InternVL3_5-241B-A28B", "qwen3_moe", 241.0, 28.0),
        ("OpenGVLab/InternVL3-9B", "internlm3", 9.0, None),  # InternVL3's one InternLM3 size
        ("mistralai/Pixtral-Large-Instruct-2411", "mistral", None, None),
        ("tencent/Hunyuan-A13B-Instruct-FP8", "hunyuan_v1_moe", 80.0, 13.0),  # a size class, not a size
        ("baidu/ERNIE-4.5-0.3B-PT", "ernie4_5", 0.36, None),  # the published total, not the "0.3B"
        ("tiiuae/Falcon-H1-1.5B-Deep-Instruct", "falcon_h1", 1.5, None),
        ("01-ai/Yi-1.5-6B-Chat", "yi", 6.0, None),
        ("THUDM/GLM-Z1-9B-0414", "glm4", 9.0, None),
        ("LiquidAI/LFM2-2.6B", "lfm2", 2.6, None),
        ("CohereLabs/c4ai-command-r-plus-08-2024", "cohere", 104.0, None),
        ("CohereLabs/c4ai-command-r7b-12-2024", "cohere2", 8.0, None),
        ("google/medgemma-27b-text-it", "gemma3", 27.0, None),
    ],
)
def test_what_the_newer_names_say(name: str, family: str, total: float | None, active: float | None) -> None:
    facts = read_name(name)
    assert (facts.family, facts.params_b, facts.active_params_b) == (family, total, active)


def test_a_vlm_size_the_catalog_lacks_takes_its_language_familys_shape() -> None:
    from omnipilot.model_name import shape_from_name

    shape = shape_from_name(CAT, "Qwen/Qwen3-VL-2B-Instruct")
    assert shape is not None and shape.spec.family == "qwen3" and shape.family_source == "name"
    assert shape.donor == "Qwen/Qwen3-1.7B" and shape.spec.params_b == 2.0


THIRD_PASS_FIRST = "Qwen/Qwen2.5-VL-3B-Instruct"  # the first entry of the VLM / newer-families section


def test_every_catalog_name_resolves_to_its_own_entry() -> None:
    for spec in CAT.models:
        for name in spec.names():
            found = CAT.resolve(name)
            assert found is not None and found.confidence == "high", name
            assert found.spec.name == spec.name, name


def test_the_name_reader_agrees_with_every_newer_entrys_family() -> None:
    first = next(i for i, m in enumerate(CAT.models) if m.name == THIRD_PASS_FIRST)
    newer = CAT.models[first:]
    assert len(newer) >= 45
    for spec in newer:
        for name in (spec.name, *spec.variants):
            assert read_name(name).family == spec.family, name


@pytest.mark.parametrize(
    "name",
    ["microsoft/Phi-4-mini-reasoning", "microsoft/Phi-4-mini-flash-reasoning", "zai-org/GLM-4.7-Flash",
     "zai-org/GLM-4.5-Air-Base-Lite", "deepseek-ai/DeepSeek-V3-Lite"],
)  # fmt: skip
def test_a_size_class_word_after_a_catalog_name_is_another_model(name: str) -> None:
    found = CAT.resolve(name)
    # never sized as the 14B phi-4, the 355B GLM-4.7 or the 671B DeepSeek-V3 it starts with
    assert found is None or found.spec.name == "zai-org/GLM-4.5-Air", name


@pytest.mark.parametrize(
    ("name", "entry"),
    [
        ("unsloth/gpt-oss-20b-BF16", "openai/gpt-oss-20b"),
        ("unsloth/Qwen3-Coder-30B-A3B-Instruct-GGUF", "Qwen/Qwen3-Coder-30B-A3B-Instruct"),
        ("unsloth/Qwen3-14B-unsloth-bnb-4bit", "Qwen/Qwen3-14B"),
        ("turboderp/Llama-3.1-8B-Instruct-exl2", "meta-llama/Llama-3.1-8B"),
        ("someone/Qwen3-32B-4.0bpw", "Qwen/Qwen3-32B"),
    ],
)
def test_a_re_upload_in_another_format_is_a_copy(name: str, entry: str) -> None:
    found = CAT.resolve(name)
    assert found is not None and found.spec.name == entry and found.confidence == "high"


@pytest.mark.parametrize(
    ("name", "family", "total", "active"),
    [
        ("allenai/OLMoE-1B-7B-0924-Instruct", None, 7.0, 1.0),  # active size first, then the total
        ("google/gemma-7b-it", "gemma", 8.54, None),  # Gemma 1's "7b" leaves out the embeddings
        ("google/gemma-1.1-2b-it", "gemma", 2.51, None),
        ("google/gemma-2-2b-it", "gemma2", 2.0, None),
        ("google/gemma-3-270m-it", "gemma3", 0.27, None),
        ("LiquidAI/LFM2-350M", "lfm2", 0.35, None),
        ("Qwen/Qwen2.5-7B-Instruct-1M", "qwen2", 7.0, None),  # a context, not a size
        ("someone/llama4-scout-instruct-sft", "llama4", 108.6, 17.2),  # Scout names its active size
        ("NousResearch/Nous-Hermes-2-Mixtral-8x7B-DPO", "mixtral", 46.7, 12.9),
        ("microsoft/Phi-4-mini-reasoning", "phi3", 3.84, None),
        ("microsoft/Phi-3-small-8k-instruct", "phi3", 7.39, None),
        ("ibm-granite/granite-4.0-tiny-preview", "granitemoehybrid", 7.0, 1.0),
    ],
)
def test_sizes_a_name_states_in_other_ways(name: str, family: str | None, total: float, active: float | None) -> None:
    facts = read_name(name)
    assert (facts.family, facts.params_b, facts.active_params_b) == (family, total, active)


# Served models a measurement of served names left unknown (benchmarks/model_names.py), and two
# held-out names that understated their size: (name, catalog entry, family, how it matched).
SERVED_UNKNOWN_BEFORE = [
    ("databricks/dbrx-instruct", "databricks/dbrx-instruct", "dbrx", "entry"),
    ("Snowflake/snowflake-arctic-instruct", "Snowflake/snowflake-arctic-instruct", "arctic", "entry"),
    ("deepseek-ai/DeepSeek-V2-Chat", "deepseek-ai/DeepSeek-V2", "deepseek_v2", "variant"),
    ("deepseek-ai/DeepSeek-Coder-V2-Instruct", "deepseek-ai/DeepSeek-V2", "deepseek_v2", "variant"),
    ("deepseek-ai/DeepSeek-V2-Lite-Chat", "deepseek-ai/DeepSeek-V2-Lite", "deepseek_v2", "variant"),
    ("deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct", "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct", "deepseek_v2", "entry"),
    ("ai21labs/AI21-Jamba-1.5-Mini", "ai21labs/AI21-Jamba-1.5-Mini", "jamba", "entry"),
    ("ai21labs/Jamba-v0.1", "ai21labs/AI21-Jamba-1.5-Mini", "jamba", "variant"),
    ("ai21labs/AI21-Jamba-1.5-Large", "ai21labs/AI21-Jamba-1.5-Large", "jamba", "entry"),
    ("meituan-longcat/LongCat-Flash-Chat", "meituan-longcat/LongCat-Flash-Chat", "longcat_flash", "entry"),
    ("MiniMaxAI/MiniMax-Text-01", "MiniMaxAI/MiniMax-Text-01", "minimax", "entry"),
    ("MiniMaxAI/MiniMax-M1-80k", "MiniMaxAI/MiniMax-Text-01", "minimax", "variant"),
    ("moonshotai/Kimi-VL-A3B-Instruct", "moonshotai/Kimi-VL-A3B-Instruct", "deepseek_v3", "entry"),
    ("Qwen/Qwen1.5-MoE-A2.7B-Chat", "Qwen/Qwen1.5-MoE-A2.7B", "qwen2_moe", "variant"),
    ("google/gemma-3n-E4B-it", "google/gemma-3n-E4B-it", "gemma3n", "entry"),
    ("google/gemma-3n-E2B-it", "google/gemma-3n-E2B-it", "gemma3n", "entry"),
    ("microsoft/phi-2", "microsoft/phi-2", "phi", "entry"),
]


@pytest.mark.parametrize(("name", "entry", "family", "how"), SERVED_UNKNOWN_BEFORE)
def test_models_served_unknown_before_resolve(name: str, entry: str, family: str, how: str) -> None:
    found = CAT.resolve(name)
    assert found is not None and found.confidence == "high", name
    assert (found.spec.name, found.spec.family, found.how) == (entry, family, how)
    assert read_name(name).family == family


def test_deepseek_v2_caches_one_latent_per_layer_like_v3() -> None:
    v2, v3 = CAT.model("deepseek-ai/DeepSeek-V2"), CAT.model("deepseek-ai/DeepSeek-V3")
    assert v2 is not None and v3 is not None
    assert (v2.kv_heads, v2.head_dim) == (v3.kv_heads, v3.head_dim) == (1, 288)  # (512 + 64) / 2
    assert v2.kv_bytes_per_token() == 2 * 60 * 288 * 2


@pytest.mark.parametrize(
    ("name", "layers", "kv_layers"),
    [
        ("ai21labs/AI21-Jamba-1.5-Mini", 32, 4),  # one attention layer in 8, Mamba state left out
        ("ai21labs/AI21-Jamba-1.5-Large", 72, 9),
        ("MiniMaxAI/MiniMax-Text-01", 80, 10),  # one softmax layer in 8, lightning state left out
        ("google/gemma-3n-E4B-it", 35, 20),  # the last 15 layers reuse earlier layers' KV
        ("google/gemma-3n-E2B-it", 30, 20),
    ],
)
def test_newer_hybrids_count_only_their_kv_layers(name: str, layers: int, kv_layers: int) -> None:
    spec = CAT.model(name)
    assert spec is not None and (spec.layers, spec.kv_layers) == (layers, kv_layers)
    assert spec.note and "KV" in spec.note


def test_longcat_flash_fits_one_8_h200_node_only_as_its_fp8_release() -> None:
    spec, h200 = CAT.model("meituan-longcat/LongCat-Flash-Chat"), CAT.gpu("H200-141GB")
    assert spec is not None and h200 is not None and spec.scope == "single_node"
    work = Workload(concurrency=8, context=8192, prompt_len=2048, output_len=512)
    fitting = {f.arm.precision for f in enumerate_arms(spec, [(h200, 8)], work) if f.fits and f.arm.tp == 8}
    assert fitting == {"fp8"}
    assert spec.checkpoint_for("fp8") == "meituan-longcat/LongCat-Flash-Chat-FP8"


@pytest.mark.parametrize(
    ("name", "family", "total", "active"),
    [
        ("google/gemma-3n-E4B-it-litert-preview", "gemma3n", 7.85, None),  # E4B: effective, not total
        ("unsloth/gemma-3n-E2B-it", "gemma3n", 5.44, None),
        ("google/shieldgemma-2b", "gemma2", 2.61, None),  # Gemma 2 2B's total, not "2b"
        ("google/shieldgemma-2-4b-it", "gemma3", 4.0, None),  # ShieldGemma 2 is a Gemma 3
        ("ibm-granite/granite-4.0-h-1b", "granitemoehybrid", 1.46, None),
        ("someone/dbrx-instruct-sft", "dbrx", 132.0, 36.0),
        ("deepseek-ai/DeepSeek-V2.5-1210", "deepseek_v2", 236.0, 21.0),
        ("deepseek-ai/DeepSeek-Coder-V2-Lite-Base", "deepseek_v2", 15.7, 2.4),
        ("deepseek-ai/DeepSeek-Prover-V2-7B", None, 7.0, None),  # a Llama-shaped 7B, not a V2 MoE
        ("ai21labs/AI21-Jamba-Large-1.7", "jamba", 398.0, 94.0),
        ("ai21labs/AI21-Jamba-Reasoning-3B", "jamba", 3.0, None),  # its own stated size
        ("MiniMaxAI/MiniMax-M1-40k", "minimax", 456.0, 45.9),
        ("moonshotai/Kimi-VL-A3B-Thinking-2506", "deepseek_v3", 16.4, 3.0),
        ("Qwen/Qwen1.5-MoE-A2.7B-Chat-GPTQ-Int4", "qwen2_moe", 14.3, 2.7),
        ("TheBloke/phi-2-GPTQ", "phi", 2.78, None),
        ("Snowflake/snowflake-arctic-embed-l-v2.0", None, None, None),  # an embedding model
    ],
)
def test_what_names_the_catalog_learned_say_on_their_own(
    name: str, family: str | None, total: float | None, active: float | None
) -> None:
    facts = read_name(name)
    assert (facts.family, facts.params_b, facts.active_params_b) == (family, total, active)
