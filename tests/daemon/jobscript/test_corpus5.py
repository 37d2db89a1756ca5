"""A fifth corpus, from a different kind of source: HPC centres' user documentation and tutorials
that serve an LLM with vLLM under Slurm, and job scripts users paste into GitHub issues (shapes and
facts, not their text; tests/daemon/jobscript/scripts/corpus5/README.md names each one). It brings
what those pages show: `--gpus=4` with `--config FILE` and `--tensor_parallel_size=4`, Ray clusters
started by `srun ... bash -c` or by apptainer steps, `getopts` defaults, `--gpus-per-node`, ports
from `$SLURM_JOB_ID`, echoed `ssh -L` hints, `$SCRATCH`/`$WORK` model paths, `podman-hpc` and
`apptainer run` of the vLLM image (its entrypoint is the server), `srun --mpi=pmix`, an on-demand
proxy that runs `-- uv run --with vllm python -m ...`, OpenAI client checks, `nohup ... &` replicas,
and jobs that only look like serving (Ollama, `trl vllm-serve` for GRPO, `vllm bench latency`,
offline `LLM(...)`, building an image). Scored as test_corpus2 scores its corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnipilot.catalog import Catalog
from omnipilot.daemon.jobscript.parse import parse_job
from tests.daemon.jobscript.test_corpus2 import check_headers, check_scope, check_scores

CORPUS = Path(__file__).parent / "scripts" / "corpus5"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog.load()


def test_corpus5_is_large_and_every_script_states_its_answers() -> None:
    check_headers(CORPUS, range(30, 41), 6)


def test_corpus5_scores(cat: Catalog) -> None:
    check_scores(cat, CORPUS)


def test_embedding_servers_are_read_as_out_of_scope(cat: Catalog) -> None:
    check_scope(cat, CORPUS)


def test_a_getopts_default_holds_without_arguments_and_not_with_them(cat: Catalog) -> None:
    text = (CORPUS / "05_getopts_defaults_conda_r1_two_nodes.sh").read_text()
    no_args: list[list[str] | None] = [None, []]
    for args in no_args:
        job = parse_job(text, None, cat, args=args, no_args=args == [])
        assert job.command is not None and job.command.model_known
        assert job.model == "deepseek-ai/DeepSeek-R1-0528"
    for given in (["-m", "Qwen/Qwen3-8B"], ["-e", "other-env"]):
        job = parse_job(text, None, cat, args=given)
        assert job.command is not None and not job.command.model_known, given
        assert job.model_unresolved_hint is not None
        assert any("arguments" in u for u in job.unresolved), job.unresolved


@pytest.mark.parametrize(
    ("body", "model"),
    [
        # an assignment's own value sees the name as it was before it
        ("M=Qwen/Qwen3-8B\nM=${M:-Qwen/Qwen3-32B}\nvllm serve $M\n", "Qwen/Qwen3-8B"),
        ('M=Qwen/Qwen3-8B\nexport M="${M:-Qwen/Qwen3-32B}"\nvllm serve "$M"\n', "Qwen/Qwen3-8B"),
        ("M=${M:-Qwen/Qwen3-32B}\nvllm serve $M\n", "Qwen/Qwen3-32B"),
        # a comment sets nothing
        ("# usage: (M=Qwen/Qwen3-8B sbatch job.sh)\nM=${M:-Qwen/Qwen3-32B}\nvllm serve $M\n", "Qwen/Qwen3-32B"),
        # basename / dirname of a word the script fixes
        ("R=Qwen/Qwen3-8B\nD=$WORK/models/$(basename $R)\nvllm serve \"$D\"\n", "$WORK/models/Qwen3-8B"),
        ('R=Qwen/Qwen3-8B\nvllm serve "/m/$(basename "$R")"\n', "/m/Qwen3-8B"),
        ("F=/m/q/Qwen3-8B.tar\nvllm serve /x/$(basename $F .tar)\n", "/x/Qwen3-8B"),
        ("S=/m/Qwen3-8B/weights/\nvllm serve $(dirname $S)\n", "/m/Qwen3-8B"),
        ("R=Qwen/Qwen3-8B\nvllm serve /m/`basename $R`\n", "/m/Qwen3-8B"),
        # one directory, one spelling
        ("vllm serve /m/hub/models--Qwen--Qwen3-8B/snapshots/abc123/\n", "/m/hub/models--Qwen--Qwen3-8B/snapshots/abc123"),
    ],
)
def test_defaults_comments_path_commands_and_trailing_slashes(cat: Catalog, body: str, model: str) -> None:
    job = parse_job("#!/bin/bash\n#SBATCH --gres=gpu:1\n" + body, None, cat)
    assert job.command is not None and job.command.model_known, job.unresolved
    assert job.model == model


def test_basename_of_what_the_script_does_not_fix_is_not_guessed(cat: Catalog) -> None:
    job = parse_job('vllm serve "/m/$(basename "$1")"\n', None, cat)
    assert job.model is not None and "$(basename" in job.model
    huge = "R=" + "a/" * 5000 + "b\nvllm serve /m/$(basename $R)\n"
    job = parse_job(huge, None, cat)
    assert job.command is not None  # bounded: a path past the limit is left as written


@pytest.mark.parametrize(
    "line",
    [
        "vllm-marenostrum config/qwen3.yaml --background",
        "ns start_server --cluster=local --server_type=vllm --model=/workspace/models/Qwen3-8B",
        "launch_llm --engine vllm --model Qwen/Qwen3-8B",
        "srun site-serve --backend=vllm Qwen/Qwen3-8B",
    ],
)
def test_a_program_named_for_vllm_or_told_to_run_it_gets_a_tag_hint(cat: Catalog, line: str) -> None:
    job = parse_job(f"#!/bin/bash\n#SBATCH --gres=gpu:1\n{line}\n", None, cat)
    assert not job.is_serving
    assert "#OMNIPILOT" in (job.not_serving_reason or ""), job.not_serving_reason


@pytest.mark.parametrize(
    "body",
    [
        "source ~/venvs/vllm/bin/activate\npython train.py\n",
        ". $WORK/vllm-env/bin/activate\nconda activate vllm\n",
        "conda activate vllm\nmkdir -p vllm-logs\necho --backend vllm\n",
    ],
)
def test_activating_an_environment_named_vllm_is_no_launch(cat: Catalog, body: str) -> None:
    job = parse_job("#!/bin/bash\n" + body, None, cat)
    assert not job.is_serving
    assert "#OMNIPILOT" not in (job.not_serving_reason or ""), job.not_serving_reason


@pytest.mark.parametrize(
    ("body", "model"),
    [
        ("#SBATCH --export=ALL,MODEL=Qwen/Qwen3-8B,TP=1\nvllm serve $MODEL\n", "Qwen/Qwen3-8B"),
        # the script's own assignment comes after the job's environment
        ("#SBATCH --export=ALL,MODEL=Qwen/Qwen3-8B\nMODEL=Qwen/Qwen3-32B\nvllm serve $MODEL\n", "Qwen/Qwen3-32B"),
        ("ch-run -w --bind=$SCRATCH/models:/models $SCRATCH/img/vllm -- vllm serve /models/Qwen3-8B\n",
         "$SCRATCH/models/Qwen3-8B"),
        ("srun sarus run --mount=type=bind,source=/store/m,destination=/models vllm/vllm-openai:v0.11.2 "
         "--model /models/Qwen3-8B\n", "/store/m/Qwen3-8B"),
        ("apptainer instance start --nv vllm.sif srv\napptainer exec instance://srv vllm serve Qwen/Qwen3-8B\n",
         "Qwen/Qwen3-8B"),
    ],
)
def test_exported_variables_and_more_container_runtimes(cat: Catalog, body: str, model: str) -> None:
    job = parse_job("#!/bin/bash\n#SBATCH --gres=gpu:1\n" + body, None, cat)
    assert job.is_serving and job.command is not None and job.command.model_known, job.not_serving_reason
    assert job.model == model
    assert not job.ambiguities, job.ambiguities


def test_a_bare_export_name_passes_a_value_the_script_does_not_show(cat: Catalog) -> None:
    job = parse_job("#!/bin/bash\n#SBATCH --export=ALL,MODEL\nvllm serve $MODEL\n", None, cat)
    assert job.command is not None and not job.command.model_known


def test_an_image_not_named_vllm_given_server_arguments_gets_a_tag_hint(cat: Catalog) -> None:
    body = "SIF=/sw/c/llm-serving.sif\napptainer run --nv -B $SCRATCH/vllm-cache:/cache $SIF --model Qwen/Qwen3-8B\n"
    job = parse_job("#!/bin/bash\n#SBATCH --gres=gpu:1\n" + body, None, cat)
    assert not job.is_serving and "#OMNIPILOT" in (job.not_serving_reason or "")


def test_exported_values_are_read_but_never_dumped(cat: Catalog) -> None:
    job = parse_job("#SBATCH --export=ALL,HF_TOKEN=hf_secretsecret,M=Qwen/Qwen3-8B\nvllm serve $M\n", None, cat)
    assert job.model == "Qwen/Qwen3-8B"
    assert "hf_secret" not in job.model_dump_json()
