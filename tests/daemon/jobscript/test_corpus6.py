"""A sixth corpus, after public scripts of shapes corpora 1-5 lack (shapes and facts, not their text;
tests/daemon/jobscript/scripts/corpus6/README.md names each one): offline Hugging Face caches
(`HF_HUB_OFFLINE=1`, a snapshot picked by `ls -d`/`find`), `huggingface-cli download --local-dir`
then serve, pipeline parallel on one node, `--distributed-executor-backend mp|ray`, `VLLM_*` tuning,
LMCache connectors and disaggregated prefill, bitsandbytes, `timeout`/`stdbuf`/`numactl`/`taskset`
in front of the server, an Open OnDemand script, heterogeneous jobs, GNU `parallel`, a saved `salloc`
recipe, and jobs that only look like serving (a Snakemake job script, offline shards, lm-eval,
SGLang, GRPO with colocated vLLM, `run_batch`, a client). Scored as test_corpus2 scores its corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnipilot.catalog import Catalog
from omnipilot.daemon.jobscript.parse import parse_job
from tests.daemon.jobscript.test_corpus2 import check_headers, check_scope, check_scores

CORPUS = Path(__file__).parent / "scripts" / "corpus6"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog.load()


def test_corpus6_is_large_and_every_script_states_its_answers() -> None:
    check_headers(CORPUS, range(25, 36), 6)


def test_corpus6_scores(cat: Catalog) -> None:
    check_scores(cat, CORPUS)


def test_embedding_servers_are_read_as_out_of_scope(cat: Catalog) -> None:
    check_scope(cat, CORPUS)


def test_a_het_job_is_not_read_and_says_how_to_tag_it(cat: Catalog) -> None:
    """DECISIONS.md: a heterogeneous job's advice comes from its comment only. Its script is not read
    (14 stays a miss in the score), the reason says so, and the header is its first component."""
    job = parse_job((CORPUS / "14_hetjob_gpu_server_cpu_clients.sh").read_text(), None, cat)
    assert job.heterogeneous and job.command is None and not job.is_serving
    assert "hetjob" in (job.not_serving_reason or "") and "--comment" in (job.not_serving_reason or "")
    assert (job.sbatch.partition, job.sbatch.nodes, job.sbatch.gpus_per_node) == ("gpu", 1, 4)
    assert not job.multi_node


@pytest.mark.parametrize(
    ("line", "model"),
    [
        ("parallel -j 2 --line-buffer 'CUDA_VISIBLE_DEVICES={} vllm serve Qwen/Qwen3-4B --port 80{}0' ::: 0 1",
         "Qwen/Qwen3-4B"),
        ('parallel --jobs 2 "vllm serve Qwen/Qwen3-8B --port {}" ::: 8000 8001', "Qwen/Qwen3-8B"),
    ],
)
def test_gnu_parallel_runs_its_command_string(cat: Catalog, line: str, model: str) -> None:
    job = parse_job(f"#!/bin/bash\n#SBATCH --gres=gpu:2\n{line}\n", None, cat)
    assert job.is_serving and job.model == model, job.not_serving_reason
    assert job.command is not None and "parallel" in job.command.launchers


def test_gnu_parallel_of_an_offline_script_is_no_server(cat: Catalog) -> None:
    job = parse_job("#!/bin/bash\nparallel -j 4 'python infer_vllm.py --shard {}' ::: 0 1 2 3\n", None, cat)
    assert not job.is_serving


def test_a_port_from_a_python_one_liner_hides_no_flags(cat: Catalog) -> None:
    body = "port=$(python -c 'import socket; s=socket.socket(); s.bind((\"\",0)); print(s.getsockname()[1])')\n"
    job = parse_job("#!/bin/bash\n#SBATCH --gres=gpu:1\n" + body + "vllm serve Qwen/Qwen3-8B --port $port\n", None, cat)
    assert job.command is not None and not job.command.hidden_args, job.command.hidden_args
