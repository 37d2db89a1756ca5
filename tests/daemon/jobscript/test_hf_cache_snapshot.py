"""A model taken from the Hugging Face cache by a command (`$(ls -d .../models--ORG--NAME/snapshots/* |
head -1)`): the folder names the model though the snapshot hash is not known. The model is read for
advice; enforce does not replace a snapshot the job picks at run time."""

from __future__ import annotations

import pytest

from omnipilot.catalog import Catalog
from omnipilot.daemon.jobscript.parse import parse_job
from omnipilot.daemon.jobscript.rewrite import rewrite_vllm

HEAD = "#!/bin/bash\n#SBATCH --gres=gpu:2\n"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog.load()


@pytest.mark.parametrize(
    ("body", "model", "name"),
    [
        ("SNAP=$(ls -d $HF_HOME/hub/models--Qwen--Qwen3-8B/snapshots/* | head -1)\nvllm serve $SNAP\n",
         "$HF_HOME/hub/models--Qwen--Qwen3-8B/snapshots/*", "Qwen/Qwen3-8B"),
        ("HF_HOME=/scratch/hf\nM=$(find $HF_HOME/hub/models--Qwen--Qwen3-32B/snapshots -mindepth 1 -maxdepth 1 "
         "| head -n1)\nvllm serve \"$M\" -tp 2\n", "/scratch/hf/hub/models--Qwen--Qwen3-32B/snapshots/*", "Qwen/Qwen3-32B"),
        ("M=`ls -td \"${HF_HOME:-/h}\"/hub/models--Qwen--Qwen3-8B/snapshots/*/ | sort | tail -1`\n"
         "python -m vllm.entrypoints.openai.api_server --model $M\n",
         "/h/hub/models--Qwen--Qwen3-8B/snapshots/*", "Qwen/Qwen3-8B"),
        ("vllm serve $(echo /c/models--Qwen--Qwen3-8B/snapshots/*)\n", "/c/models--Qwen--Qwen3-8B/snapshots/*",
         "Qwen/Qwen3-8B"),
        ("M=$(readlink -f /c/hub/models--Qwen--Qwen3-8B/snapshots/*)\nvllm serve $M\n",
         "/c/hub/models--Qwen--Qwen3-8B/snapshots/*", "Qwen/Qwen3-8B"),
    ],
)
def test_a_snapshot_picked_from_the_cache_names_its_model(cat: Catalog, body: str, model: str, name: str) -> None:
    job = parse_job(HEAD + body, None, cat)
    assert job.command is not None and job.command.model_known, job.unresolved
    assert job.model == model
    assert job.model_name == name
    assert any("snapshot" in u and "enforce does not replace" in u for u in job.unresolved), job.unresolved


@pytest.mark.parametrize(
    "body",
    [
        # `ls` of the folder prints hashes, not paths: the value is a hash the script does not show
        "H=$(ls /c/models--Qwen--Qwen3-8B/snapshots | head -1)\nvllm serve $H\n",
        # a command that is not a plain listing may print anything
        "M=$(python pick.py /c/models--Qwen--Qwen3-8B/snapshots)\nvllm serve $M\n",
        "M=$(ls -d /c/models--Qwen--Qwen3-8B/snapshots/* | grep -v old | head -1)\nvllm serve $M\n",
        "M=$(ls -d /c/models--Qwen--Qwen3-8B/snapshots/* | xargs -n1 basename)\nvllm serve $M\n",
        # a file inside the snapshot (a GGUF, a config) is not the snapshot folder
        "M=$(ls -d /c/models--Q--W-GGUF/snapshots/*/*.gguf | head -1)\nvllm serve $M\n",
        "M=$(find /c/models--Q--W-GGUF/snapshots -name '*.gguf' | head -1)\nvllm serve $M\n",
        "M=$(find /c/models--Qwen--Qwen3-8B/snapshots -type f | head -1)\nvllm serve $M\n",
    ],
)
def test_other_commands_over_the_cache_stay_unknown(cat: Catalog, body: str) -> None:
    job = parse_job(HEAD + body, None, cat)
    assert job.command is not None and not job.command.model_known, job.model


def test_enforce_sets_tp_but_does_not_replace_a_picked_snapshot(cat: Catalog) -> None:
    text = HEAD + "SNAP=$(ls -d /c/hub/models--Qwen--Qwen3-8B/snapshots/* | head -1)\nvllm serve $SNAP --port 8000\n"
    job = parse_job(text, None, cat)
    res = rewrite_vllm(text, job, tp=1, quantization="fp8")
    assert res.script is not None and "--tensor-parallel-size 1" in res.script, res.reason
    res = rewrite_vllm(text, job, model="Qwen/Qwen3-8B-FP8", tp=1)
    assert res.script is None and "snapshot" in res.reason


def test_a_literal_snapshot_path_is_still_rewritable(cat: Catalog) -> None:
    text = HEAD + "vllm serve /c/hub/models--Qwen--Qwen3-8B/snapshots/abc123 --port 8000\n"
    job = parse_job(text, None, cat)
    assert not any("snapshot" in u for u in job.unresolved)
    res = rewrite_vllm(text, job, model="Qwen/Qwen3-8B-FP8", tp=1)
    assert res.script is not None, res.reason


def test_a_huge_picker_is_bounded(cat: Catalog) -> None:
    long = "/a" * 3000
    job = parse_job(HEAD + f"M=$(ls -d {long}/models--Q--W/snapshots/* | head -1)\nvllm serve $M\n", None, cat)
    assert job.command is not None and not job.command.model_known


def test_a_quoted_cache_folder_keeps_its_quotes_balanced(cat: Catalog) -> None:
    body = 'C=/c\nM=$(ls -d "$C/hub/models--Qwen--Qwen3-8B/snapshots"/* | head -1)\nvllm serve "$M"\n'
    job = parse_job(HEAD + body, None, cat)
    assert job.model == "/c/hub/models--Qwen--Qwen3-8B/snapshots/*"
