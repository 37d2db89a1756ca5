"""Model knowledge from catalog, config.json and name, each value with its source (issue 14)."""

from __future__ import annotations

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
    script = "#!/bin/bash\nvllm serve someone/Mistral-Large-Instruct-2411-AWQ\n"
    job = parse_job(script, None, CAT)
    assert job.model_spec is None and job.model_unresolved_hint is not None
    assert job.family == "mistral" and job.sources["family"] == "name"
    assert job.quantization == "awq" and job.sources["quantization"] == "name"
