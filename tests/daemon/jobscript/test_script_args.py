"""Defaults set before a loop over the script's own arguments stand when the job has none."""

from __future__ import annotations

import pytest

from omnipilot.catalog import Catalog
from omnipilot.daemon.jobscript.parse import parse_job
from omnipilot.daemon.protocol import AdviseRequest
from omnipilot.daemon.service import AdviceService
from tests.daemon.test_service import req, service  # noqa: F401  (service: the shared fixture)

ARG_LOOP = """#!/bin/bash
#SBATCH --gres=gpu:2
export MODEL_NAME="Qwen/Qwen2.5-7B-Instruct"
TP=2
while [[ $# -gt 0 ]]
do
  case "$1" in
    --model) MODEL_NAME="$2"; shift 2 ;;
    --tp) TP="$2"; shift 2 ;;
    *) shift ;;
  esac
done
vllm serve $MODEL_NAME --tensor-parallel-size $TP
"""

FOR_ARGS = """#!/bin/bash
MODEL=meta-llama/Llama-3.1-8B-Instruct
for a in "$@"; do MODEL=$a; done
vllm serve "$MODEL"
"""

GETOPTS = """#!/bin/bash
MODEL=mistralai/Mistral-7B-Instruct-v0.3
while getopts m: opt; do
  case $opt in m) MODEL=$OPTARG ;; esac
done
vllm serve $MODEL
"""

OTHER_LOOP = """#!/bin/bash
MODEL=Qwen/Qwen2.5-7B-Instruct
for m in a b; do MODEL=$m; done
vllm serve $MODEL
"""


@pytest.mark.parametrize(
    ("script", "model"),
    [
        (ARG_LOOP, "Qwen/Qwen2.5-7B-Instruct"),
        (FOR_ARGS, "meta-llama/Llama-3.1-8B-Instruct"),
        (GETOPTS, "mistralai/Mistral-7B-Instruct-v0.3"),
    ],
)
def test_without_arguments_the_default_stands(script: str, model: str) -> None:
    job = parse_job(script, None, Catalog.load(), no_args=True)
    assert job.model == model


def test_with_arguments_or_unknown_arguments_the_model_is_unknown() -> None:
    job = parse_job(ARG_LOOP, None, Catalog.load(), no_args=False)
    assert job.model_spec is None and job.model_unresolved_hint


def test_tp_default_stands_too() -> None:
    assert parse_job(ARG_LOOP, None, Catalog.load(), no_args=True).tp == 2


def test_a_loop_over_something_else_still_makes_the_value_unknown() -> None:
    job = parse_job(OTHER_LOOP, None, Catalog.load(), no_args=True)
    assert job.model_spec is None


@pytest.mark.parametrize(
    ("argv", "dropped", "expected"),
    [(["/home/u/job.sbatch"], False, []), ([], False, []), (["job.sbatch", "--tp", "4"], False, ["--tp", "4"]),
     ([], True, None)],
)  # fmt: skip
def test_script_args_from_the_request(argv: list[str], dropped: bool, expected: list[str] | None) -> None:
    req = AdviseRequest.model_validate({"v": 1, "id": "r", "argv": argv, "argv_dropped": dropped})
    assert req.script_args() == expected


DEFAULTED = """#!/bin/bash
#SBATCH --gpus=2
MODEL=${1:-Qwen/Qwen2.5-7B-Instruct}
TP=${2:-1}
vllm serve $MODEL --tensor-parallel-size $TP
"""

PASSED_ON = """#!/bin/bash
#SBATCH --gpus=2
vllm serve "$@"
"""

SHIFTED = """#!/bin/bash
MODEL=${1:-Qwen/Qwen2.5-7B-Instruct}
shift
vllm serve $MODEL "$@"
"""


def test_a_default_for_an_argument_stands_only_when_the_job_has_none() -> None:
    cat = Catalog.load()
    alone = parse_job(DEFAULTED, None, cat, no_args=True, args=[])
    assert (alone.model, alone.tp) == ("Qwen/Qwen2.5-7B-Instruct", 1)
    # `sbatch job.sh meta-llama/Llama-3.1-8B-Instruct 2`: advice for what runs, not for the default
    given = parse_job(DEFAULTED, None, cat, args=["meta-llama/Llama-3.1-8B-Instruct", "2"])
    assert (given.model, given.tp) == ("meta-llama/Llama-3.1-8B-Instruct", 2)
    assert given.model_name == "meta-llama/Llama-3.1-8B"


def test_arguments_passed_on_to_vllm_are_read() -> None:
    job = parse_job(PASSED_ON, None, Catalog.load(), args=["Qwen/Qwen3-8B", "--tensor-parallel-size", "2"])
    assert (job.model, job.tp) == ("Qwen/Qwen3-8B", 2)
    assert parse_job(PASSED_ON, None, Catalog.load(), args=None).model_spec is None  # arguments not known


def test_shifted_arguments_are_unknown_never_the_default() -> None:
    cat = Catalog.load()
    assert parse_job(SHIFTED, None, cat, no_args=True, args=[]).model == "Qwen/Qwen2.5-7B-Instruct"
    shifted = parse_job(SHIFTED, None, cat, args=["meta-llama/Llama-3.1-8B-Instruct", "-tp", "2"])
    assert shifted.model_spec is None and shifted.model_unresolved_hint


def test_the_daemon_reads_the_arguments_sbatch_passes(service: AdviceService) -> None:  # noqa: F811
    argv = ["/home/u/job.sbatch", "meta-llama/Llama-3.1-8B-Instruct", "2"]
    reply, record = service.answer(req(DEFAULTED, argv=argv))
    assert record["outcome"] == "advised" and reply.user_message is not None
    assert reply.user_message.startswith("omnipilot: meta-llama/Llama-3.1-8B"), reply.user_message
    reply, _ = service.answer(req(DEFAULTED, id="r2", argv=["/home/u/job.sbatch"]))
    assert reply.user_message is not None and reply.user_message.startswith("omnipilot: Qwen/Qwen2.5-7B")
