"""A third corpus, written after a further set of public Slurm scripts that serve with vLLM (shapes
and facts, not their text; tests/daemon/jobscript/scripts/corpus3/README.md names each one), with
the styles the first two lack: `-tp`/`-dp`/`-tp=4`, `--model=`, `--config FILE`, `uvx`, `uv tool
run -- serve`, `pixi run`, `conda run -n`, podman, `enroot start --mount`, pyxis, `nsys profile`,
`${VAR:-x}` / `: ${VAR:=x}` defaults, `$(( ))` arithmetic, array jobs, `$1` models, `.env` files,
and SGLang / TGI / Ollama / TensorRT-LLM jobs that are not vLLM. Scored as test_corpus2 scores its
corpus: same header convention, same rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnipilot.catalog import Catalog
from omnipilot.daemon.jobscript.parse import parse_job
from tests.daemon.jobscript.test_corpus2 import check_headers, check_scores

CORPUS = Path(__file__).parent / "scripts" / "corpus3"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog.load()


def test_corpus3_is_large_and_every_script_states_its_answers() -> None:
    check_headers(CORPUS, range(25, 36), 5)


def test_corpus3_scores(cat: Catalog) -> None:
    check_scores(cat, CORPUS)


@pytest.mark.parametrize(
    ("line", "model"),
    [
        ("nsys profile -t cuda,nvtx -s none --stats=true -o prof vllm serve Qwen/Qwen3-8B", "Qwen/Qwen3-8B"),
        ("uvx --python 3.12 --from 'vllm==0.11.0' vllm serve Qwen/Qwen3-8B", "Qwen/Qwen3-8B"),
        ("uvx 'vllm>=0.10' serve Qwen/Qwen3-8B", "Qwen/Qwen3-8B"),
        ("uv tool run vllm@0.11.0 -- serve --model=Qwen/Qwen3-8B", "Qwen/Qwen3-8B"),
        ("pipx run vllm serve Qwen/Qwen3-8B", "Qwen/Qwen3-8B"),
    ],
)
def test_profilers_and_tool_runs_are_looked_through(cat: Catalog, line: str, model: str) -> None:
    job = parse_job(f"#!/bin/bash\n#SBATCH --gres=gpu:1\n{line}\n", None, cat)
    assert job.is_serving and job.command is not None and job.model == model


def test_uvx_of_another_package_is_not_vllm(cat: Catalog) -> None:
    job = parse_job("#!/bin/bash\nuvx 'sglang>=0.5' serve Qwen/Qwen3-8B\n# vllm later\n", None, cat)
    assert not job.is_serving


def test_an_array_lookup_by_task_id_is_known_only_when_every_entry_agrees(cat: Catalog) -> None:
    same = 'M=(Qwen/Qwen3-8B Qwen/Qwen3-8B)\nvllm serve "${M[$SLURM_ARRAY_TASK_ID]}"\n'
    assert parse_job(same, None, cat).model == "Qwen/Qwen3-8B"
    differ = 'M=(Qwen/Qwen3-8B Qwen/Qwen3-32B)\nX=${M[$SLURM_ARRAY_TASK_ID]}\nvllm serve "$X"\n'
    job = parse_job(differ, None, cat)
    assert job.command is not None and not job.command.model_known
    assert any("job array" in u for u in job.unresolved), job.unresolved


def test_a_config_file_whose_path_is_not_known_still_counts(cat: Catalog) -> None:
    job = parse_job("vllm serve Qwen/Qwen3-8B --config $CONF_DIR/serve.yaml\n", None, cat)
    assert job.command is not None and job.command.config_file == "$CONF_DIR/serve.yaml"
    assert job.tp is None
