"""Enforce's script rewrite: the new values reach vLLM, nothing else changes, unsafe parses refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnipilot.catalog import Catalog
from omnipilot.daemon.jobscript.parse import parse_job
from omnipilot.daemon.jobscript.rewrite import rewrite_vllm

SCRIPTS = Path(__file__).parent / "scripts"
EXPECTED = {
    k: v for k, v in json.loads((SCRIPTS / "expected.json").read_text()).items() if not k.startswith("_")
}
SAFE = sorted(k for k, v in EXPECTED.items() if v.get("safe") is True)
UNSAFE = sorted(k for k, v in EXPECTED.items() if v.get("safe") is False)


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog.load()


def _outside_unchanged(old: str, new: str, start: int, end_old: int) -> None:
    """Everything before the command span and after it is byte-identical."""
    tail = len(old) - end_old
    assert new[:start] == old[:start]
    assert new[len(new) - tail :] == old[end_old:]


@pytest.mark.parametrize("name", SAFE)
def test_rewrite_reaches_vllm_and_changes_nothing_else(cat: Catalog, name: str) -> None:
    old = (SCRIPTS / name).read_bytes().decode()
    parsed = parse_job(old, None, cat)
    assert parsed.command is not None
    result = rewrite_vllm(old, parsed, tp=8, quantization="fp8", model="Qwen/Qwen2.5-72B-Instruct")
    assert result.script is not None, result.reason
    again = parse_job(result.script, None, cat)
    assert again.tp == 8
    assert again.quantization == "fp8"
    assert again.model == "Qwen/Qwen2.5-72B-Instruct"
    assert again.model_name == "Qwen/Qwen2.5-72B"
    # clients still reach the server by the name it had
    before = parsed.served_model_name or parsed.model
    assert again.served_model_name == before
    _outside_unchanged(old, result.script, parsed.command.span.start, parsed.command.span.end)
    # other flags are untouched
    for attr in ("max_model_len", "max_num_seqs", "gpu_memory_utilization", "kv_cache_dtype", "dtype"):
        assert getattr(again, attr) == getattr(parsed, attr), attr


@pytest.mark.parametrize("name", SAFE)
def test_rewrite_single_flag_keeps_the_rest(cat: Catalog, name: str) -> None:
    old = (SCRIPTS / name).read_bytes().decode()
    parsed = parse_job(old, None, cat)
    result = rewrite_vllm(old, parsed, tp=1)
    assert result.script is not None, result.reason
    again = parse_job(result.script, None, cat)
    assert again.tp == 1
    assert again.model == parsed.model and again.quantization == parsed.quantization
    assert len(result.script) - len(old) < 40


@pytest.mark.parametrize("name", UNSAFE)
def test_unsafe_parses_are_refused_with_a_reason(cat: Catalog, name: str) -> None:
    old = (SCRIPTS / name).read_bytes().decode()
    parsed = parse_job(old, None, cat)
    result = rewrite_vllm(old, parsed, tp=2)
    assert result.script is None
    assert result.reason.startswith(("not rewritten", "no vLLM server command"))


def test_quantization_removed_for_bf16(cat: Catalog) -> None:
    old = (SCRIPTS / "04_srun_continuations.sh").read_text()
    parsed = parse_job(old, None, cat)
    result = rewrite_vllm(old, parsed, quantization="bf16", model="Qwen/Qwen2.5-32B-Instruct")
    assert result.script is not None, result.reason
    again = parse_job(result.script, None, cat)
    assert again.quantization is None and again.precision == "bf16"
    assert again.max_model_len == 16384 and again.tp == 4  # the continuation lines still hold


def test_inline_equals_form_and_variable_value(cat: Catalog) -> None:
    old = (
        "#SBATCH --gres=gpu:4\nN=4\nvllm serve Qwen/Qwen2.5-7B --tensor-parallel-size=$N --quantization=awq\n"
    )
    parsed = parse_job(old, None, cat)
    result = rewrite_vllm(old, parsed, tp=2, quantization="gptq")
    assert result.script == old.replace("=$N", "=2").replace("=awq", "=gptq")


def test_model_with_spaces_is_quoted(cat: Catalog) -> None:
    old = "vllm serve Qwen/Qwen2.5-7B\n"
    result = rewrite_vllm(old, parse_job(old, None, cat), model="/models/my model")
    assert result.script is not None
    assert "'/models/my model'" in result.script
    assert parse_job(result.script, None, cat).model == "/models/my model"


def test_no_command_and_nothing_to_do(cat: Catalog) -> None:
    tagged = "#OMNIPILOT model=Qwen/Qwen2.5-7B\n./run.sh\n"
    assert rewrite_vllm(tagged, parse_job(tagged, None, cat), tp=2).script is None
    plain = "vllm serve Qwen/Qwen2.5-7B\n"
    same = rewrite_vllm(plain, parse_job(plain, None, cat))
    assert same.script == plain and same.reason == "nothing to change"


def test_parse_of_another_script_is_refused(cat: Catalog) -> None:
    short = "vllm serve Qwen/Qwen2.5-7B --tensor-parallel-size 2\n"
    long_ = "#!/bin/bash\n# a much longer preamble\n" * 3 + short
    result = rewrite_vllm(short, parse_job(long_, None, cat), tp=4)
    assert result.script is None
