"""Reading a checkpoint's config.json and quantization config (issue 14, item 1a)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnipilot.collectors.checkpoint_config import (
    CheckpointError,
    checkpoint_dir,
    facts_from_config,
    read_checkpoint,
)

QWEN3_8B = {"model_type": "qwen3", "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36,
            "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
            "max_position_embeddings": 40960, "tie_word_embeddings": False, "torch_dtype": "bfloat16"}  # fmt: skip
QWEN3_30B_A3B = {"model_type": "qwen3_moe", "hidden_size": 2048, "intermediate_size": 6144, "moe_intermediate_size": 768,
                 "num_hidden_layers": 48, "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128,
                 "num_experts": 128, "num_experts_per_tok": 8, "vocab_size": 151936,
                 "max_position_embeddings": 40960, "tie_word_embeddings": False}  # fmt: skip
DEEPSEEK_V3 = {"model_type": "deepseek_v3", "hidden_size": 7168, "intermediate_size": 18432, "moe_intermediate_size": 2048,
               "num_hidden_layers": 61, "num_attention_heads": 128, "num_key_value_heads": 128, "n_routed_experts": 256,
               "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3, "q_lora_rank": 1536,
               "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
               "vocab_size": 129280, "max_position_embeddings": 163840,
               "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}}  # fmt: skip


def _write(d: Path, cfg: dict[str, object], **extra: object) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps(cfg))
    for name, body in extra.items():
        (d / f"{name}.json").write_text(json.dumps(body))
    return d


def test_dense_shape_and_size() -> None:
    f = facts_from_config(QWEN3_8B)
    assert (f.layers, f.heads, f.kv_heads, f.head_dim, f.hidden_size) == (36, 32, 8, 128, 4096)
    assert f.params_b == pytest.approx(8.19, rel=0.01) and f.active_params_b is None
    assert f.quantization is None and f.max_context == 40960 and f.vocab_size == 151936


def test_moe_total_and_active() -> None:
    f = facts_from_config(QWEN3_30B_A3B)
    assert (f.experts, f.experts_per_token) == (128, 8)
    assert f.params_b == pytest.approx(30.5, rel=0.02)
    assert f.active_params_b == pytest.approx(3.3, rel=0.05)


def test_mla_latent_and_block_fp8() -> None:
    f = facts_from_config(DEEPSEEK_V3)
    assert f.params_b == pytest.approx(671, rel=0.02) and f.active_params_b == pytest.approx(37, rel=0.05)
    assert (f.kv_heads, f.head_dim) == (1, 288)  # 512 + 64 latent values per layer
    assert f.quantization is not None and f.quantization.arm == "fp8"
    spec = f.spec("deepseek-ai/DeepSeek-V3")
    assert spec is not None and spec.shipped == "fp8" and spec.kv_bytes_per_token() == 2 * 61 * 288 * 2


@pytest.mark.parametrize(
    ("qcfg", "arm", "kernel"),
    [
        ({"quant_method": "mxfp4"}, "mxfp4", "mxfp4"),
        ({"quant_method": "awq", "bits": 4}, "awq", "int4-weight-only"),
        ({"quant_method": "gptq", "bits": 8}, "gptq", "int8-weight-only"),
        ({"quant_method": "bitsandbytes", "load_in_4bit": True}, "bnb4", "bnb"),
        ({"quant_method": "compressed-tensors", "format": "pack-quantized",
          "config_groups": {"g": {"weights": {"num_bits": 4, "type": "int"}}}}, "gptq", "int4-weight-only"),
        ({"quant_method": "compressed-tensors", "format": "int-quantized",
          "config_groups": {"g": {"weights": {"num_bits": 8, "type": "int"},
                                  "input_activations": {"num_bits": 8, "type": "int"}}}}, "int8", "int8"),
        ({"quant_method": "compressed-tensors", "format": "float-quantized",
          "config_groups": {"g": {"weights": {"num_bits": 8, "type": "float"},
                                  "input_activations": {"num_bits": 8, "type": "float"}}}}, "fp8", "fp8"),
    ],
)  # fmt: skip
def test_quantization_configs(qcfg: dict[str, object], arm: str, kernel: str) -> None:
    q = facts_from_config({**QWEN3_8B, "quantization_config": qcfg}).quantization
    assert q is not None and (q.arm, q.kernel) == (arm, kernel)


def test_modelopt_hf_quant_config_and_safetensors_index(tmp_path: Path) -> None:
    d = _write(tmp_path / "nvfp4", QWEN3_8B, hf_quant_config={"quantization": {"quant_algo": "NVFP4"}})
    q = read_checkpoint(d).quantization
    assert q is not None and q.arm == "nvfp4" and q.source == "hf_quant_config.json"
    plain = _write(tmp_path / "plain", QWEN3_8B, **{"model.safetensors.index": {"metadata": {"total_size": 16_381_000_000}}})
    f = read_checkpoint(plain)
    assert f.params_from == "safetensors index" and f.params_b == pytest.approx(8.19, rel=0.001)


def test_hf_cache_path_and_refs_main(tmp_path: Path) -> None:
    root = tmp_path / "hub" / "models--Qwen--Qwen3-8B"
    _write(root / "snapshots" / "deadbeef", QWEN3_8B)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text("deadbeef\n")
    assert checkpoint_dir(str(root)) == root / "snapshots" / "deadbeef"
    assert checkpoint_dir(f"{root}/snapshots/deadbeef/") == root / "snapshots" / "deadbeef"
    assert checkpoint_dir("Qwen/Qwen3-8B") is None and checkpoint_dir("$MODEL_DIR/x") is None


def test_bounded_and_invalid(tmp_path: Path) -> None:
    d = tmp_path / "big"
    d.mkdir()
    (d / "config.json").write_text("{" + " " * 2000 + "}")
    with pytest.raises(CheckpointError, match="larger than"):
        read_checkpoint(d, max_bytes=1024)
    (d / "config.json").write_text("not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_checkpoint(d)
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        read_checkpoint(tmp_path)
