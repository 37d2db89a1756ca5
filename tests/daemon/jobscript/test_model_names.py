"""Model knowledge from catalog, config.json and name, each value with its source (issue 14)."""

from __future__ import annotations

import pytest

from omnipilot.catalog import Catalog
from omnipilot.collectors.checkpoint_config import facts_from_config
from omnipilot.daemon.jobscript.model_names import know_model
from omnipilot.daemon.jobscript.parse import parse_job

CAT = Catalog.load()
NEW_ARCH = {"model_type": "acme_moe", "hidden_size": 2048, "intermediate_size": 6144, "moe_intermediate_size": 768,
            "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 4, "head_dim": 128,
            "num_experts": 64, "num_experts_per_tok": 4, "vocab_size": 100000, "max_position_embeddings": 65536,
            "quantization_config": {"quant_method": "mxfp4"}}  # fmt: skip


def test_hub_id_from_the_catalog() -> None:
    k = know_model(CAT, "Qwen/Qwen3-30B-A3B-FP8")
    assert k.name == "Qwen/Qwen3-30B-A3B" and k.active_params_b == 3.3
    assert k.sources == {"params_b": "catalog", "active_params_b": "catalog", "family": "catalog",
                         "quantization": "catalog"}  # fmt: skip
    assert k.quantization is not None and k.quantization.arm == "fp8"


def test_model_the_catalog_lacks_is_sized_from_config_json() -> None:
    facts = facts_from_config(NEW_ARCH, "/models/acme-moe-7b/config.json")
    k = know_model(CAT, "/models/acme-moe-7b", facts)
    assert k.spec is not None and k.confidence == "high"
    assert k.sources["params_b"] == "config.json" and k.sources["quantization"] == "config.json"
    assert k.family == "acme_moe" and k.spec.shipped == "mxfp4"
    assert k.active_params_b is not None and k.params_b is not None and k.active_params_b < k.params_b


def test_a_size_the_catalog_lacks_is_read_from_the_name_with_low_confidence() -> None:
    k = know_model(CAT, "Qwen/Qwen3-9B-Instruct-AWQ")
    assert k.spec is not None and k.confidence == "low" and k.params_b == 9.0
    assert set(k.inferred) >= {"params_b", "family", "quantization"}
    assert "read from the name" in k.notes[0]


def test_script_check_reports_sources_for_an_hf_cache_path() -> None:
    script = "#!/bin/bash\nvllm serve /hf/hub/models--google--gemma-3-27b-it/snapshots/0a1b2c --tp 2\n"
    job = parse_job(script, None, CAT)
    assert job.model_name == "google/gemma-3-27b-it" and job.family == "gemma3"
    assert job.sources["params_b"] == "catalog" and job.precision == "bf16"


def test_name_only_precision_and_family_are_reported_as_inferred() -> None:
    script = "#!/bin/bash\nvllm serve someone/Mistral-Medium-Instruct-2505-AWQ\n"
    job = parse_job(script, None, CAT)
    assert job.model_spec is None and job.model_unresolved_hint is not None
    assert job.family == "mistral" and job.sources["family"] == "name"
    assert job.quantization == "awq" and job.sources["quantization"] == "name"


def test_an_unknown_family_with_a_size_gets_a_stand_in_shape_with_low_confidence() -> None:
    k = know_model(CAT, "acme-lab/Foo-13B-Instruct")
    assert k.spec is not None and k.confidence == "low" and k.params_b == 13.0
    assert k.family == "unknown" and k.sources["family"] == "stand-in" and k.sources["params_b"] == "name"
    donor = CAT.model(k.spec.note or "")
    assert donor is not None and donor.active_params_b is None and donor.kv_layers is None
    assert "stand-in taken from" in k.notes[0] and "not measured" in k.notes[0]
    # the donor's family is not claimed: the cost model must not treat this as a measured family
    assert k.spec.family == "unknown" and k.spec.name == "acme-lab/Foo-13B-Instruct"


def test_a_moe_name_gets_a_moe_stand_in() -> None:
    k = know_model(CAT, "SomeOrg/NewModel-30B-A3B")
    assert k.spec is not None and k.confidence == "low"
    assert (k.params_b, k.active_params_b) == (30.0, 3.0) and k.spec.experts is not None
    assert set(k.inferred) == {"params_b", "active_params_b"}


def test_a_known_family_without_a_near_entry_falls_back_to_a_stand_in() -> None:
    k = know_model(CAT, "Qwen/Qwen3-80B")  # qwen3 has no dense entry within 30 % of 80B
    assert k.spec is not None and k.confidence == "low" and k.family == "qwen3"
    assert k.sources["family"] == "name" and "stand-in" in k.notes[0]


def test_an_unknown_family_without_a_size_stays_unknown_with_the_hint() -> None:
    k = know_model(CAT, "acme-lab/Foo-Instruct")
    assert k.spec is None and k.confidence is None
    job = parse_job("#!/bin/bash\nvllm serve acme-lab/Foo-Instruct\n", None, CAT)
    assert job.model_spec is None and job.model_unresolved_hint is not None
    assert "#OMNIPILOT" in job.model_unresolved_hint


def test_script_check_of_an_unknown_family_reports_a_low_confidence_stand_in() -> None:
    job = parse_job("#!/bin/bash\nvllm serve acme-lab/Foo-13B-Instruct --max-model-len 8192\n", None, CAT)
    assert job.model_spec is not None and job.model_confidence == "low" and job.family == "unknown"
    # a stand-in is no catalog model: the tagging hint stays, with the note saying what was inferred
    assert job.model_unresolved_hint is not None and "#OMNIPILOT model=" in job.model_unresolved_hint
    assert any("stand-in" in n for n in job.model_notes)


@pytest.mark.parametrize(
    ("name", "family", "params_b"),
    [
        ("deepseek-ai/DeepSeek-R1-0528-Qwen3-8B", "qwen3", 8.0),  # an 8B Qwen3, never the 671B R1
        ("Qwen/Qwen2.5-7B-Instruct-1M", "qwen2", 7.0),
    ],
)
def test_a_name_that_extends_a_catalog_name_with_its_own_size_is_another_model(
    name: str, family: str, params_b: float
) -> None:
    job = parse_job(f"#!/bin/bash\nvllm serve {name}\n", None, CAT)
    assert job.model_name != "deepseek-ai/DeepSeek-R1" and job.family == family and job.params_b == params_b
    assert job.model_confidence == "low"


def test_another_modality_is_not_taken_for_the_text_model_it_starts_with() -> None:
    job = parse_job("#!/bin/bash\nvllm serve microsoft/Phi-4-multimodal-instruct\n", None, CAT)
    # not sized as the 14B phi-4: unknown with a hint, or the catalog's own entry for this checkpoint
    spec = job.model_spec
    if spec is None:
        assert job.model_unresolved_hint
    else:
        assert spec.name == "microsoft/Phi-4-multimodal-instruct" and spec.params_b < 14
    tuned = parse_job("#!/bin/bash\nvllm serve myorg/Qwen2.5-7B-Instruct-sft-v2\n", None, CAT)
    assert tuned.model_name == "Qwen/Qwen2.5-7B" and tuned.model_confidence == "medium"  # still a fine-tune


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("vllm serve Qwen/Qwen3-Embedding-8B", "embedding or reranking model (by its name)"),
        ("vllm serve BAAI/bge-m3", "embedding or reranking model (by its name)"),
        ("vllm serve sentence-transformers/all-MiniLM-L6-v2", "embedding or reranking model (by its name)"),
        ("vllm serve /models/all-mpnet-base-v2", "embedding or reranking model (by its name)"),
        ("vllm serve Qwen/Qwen3-Reranker-4B --max-model-len 8192", "embedding or reranking model (by its name)"),
        ("vllm serve Qwen/Qwen2.5-7B-Instruct --task embed", "--task embed"),
        ("vllm serve Qwen/Qwen3-8B --runner pooling", "--runner pooling"),
    ],
)
def test_embedding_and_scoring_servers_are_out_of_scope(line: str, why: str) -> None:
    job = parse_job(f"#!/bin/bash\n#SBATCH --gpus=1\n{line}\n", None, CAT)
    assert job.is_serving and job.pooling is not None and why in job.pooling


def test_a_generating_server_is_not_taken_for_a_pooling_one() -> None:
    for line in ("vllm serve Qwen/Qwen3-8B --task generate", "vllm serve meta-llama/Llama-3.1-8B-Instruct"):
        assert parse_job(f"#!/bin/bash\n{line}\n", None, CAT).pooling is None


@pytest.mark.parametrize(
    ("name", "params_b"),
    [
        ("microsoft/Phi-4-mini-reasoning", 3.84),  # not phi-4's 14.7B
        ("zai-org/GLM-4.7-Flash", 31.2),  # not GLM-4.7's 355B
        ("/scratch/ana/models/allenai/OLMoE-1B-7B-0924-Instruct", 7.0),  # not 1B
    ],
)
def test_a_smaller_sibling_of_a_catalog_model_is_sized_from_its_own_name(name: str, params_b: float) -> None:
    k = know_model(CAT, name)
    assert k.name is None and k.confidence == "low" and k.params_b == params_b
    assert "params_b" in k.inferred


def test_an_unsloth_gguf_copy_is_the_catalog_model_at_high_confidence() -> None:
    k = know_model(CAT, "/models--unsloth--Qwen3-Coder-30B-A3B-Instruct-GGUF/snapshots/abc")
    assert k.name == "Qwen/Qwen3-Coder-30B-A3B-Instruct" and k.confidence == "high"


@pytest.mark.parametrize(
    "model", ["unsloth/Qwen3-8B-GGUF:Q4_K_M", "/models/Qwen3-8B-GGUF/", "/models/qwen3-8b-q4_k_m.gguf"]
)
def test_a_gguf_repository_or_file_has_no_precision_arm(model: str) -> None:
    job = parse_job(f"#!/bin/bash\nvllm serve {model} --tokenizer Qwen/Qwen3-8B\n", None, CAT)
    assert job.precision is None and any("GGUF" in u for u in job.unresolved)
