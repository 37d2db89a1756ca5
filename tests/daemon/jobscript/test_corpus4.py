"""A fourth corpus, written after a further set of public Slurm scripts that serve with vLLM (shapes
and facts, not their text; tests/daemon/jobscript/scripts/corpus4/README.md names each one), with
the shapes the first three lack: site modules (`module load vllm/0.11.0`), download-then-serve of a
local directory, several `export` layers over `HF_HOME`, `case "$SIZE"`, here-strings, `printf -v`,
`read -r MODEL < file`, `srun --export=ALL`, random or computed ports, `trap cleanup EXIT`,
`exec > >(tee log)`, LoRA modules, speculative-decoding JSON, `--hf-overrides`, Mistral tokenizer
modes, `--max-model-len 32k`, headless multi-node data parallelism, embedding servers (out of
scope), and jobs that only look like serving. Scored as test_corpus2 scores its corpus, plus
`# expect-scope: out` for servers that embed rather than generate."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnipilot.catalog import Catalog
from omnipilot.daemon.jobscript.parse import parse_job
from tests.daemon.jobscript.test_corpus2 import check_headers, check_scope, check_scores

CORPUS = Path(__file__).parent / "scripts" / "corpus4"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog.load()


def test_corpus4_is_large_and_every_script_states_its_answers() -> None:
    check_headers(CORPUS, range(30, 41), 6)


def test_corpus4_scores(cat: Catalog) -> None:
    check_scores(cat, CORPUS)


def test_embedding_servers_are_read_as_out_of_scope(cat: Catalog) -> None:
    check_scope(cat, CORPUS)


@pytest.mark.parametrize(
    ("body", "model", "tp"),
    [
        ('read -r M T <<< "Qwen/Qwen3-14B 2"\nvllm serve "$M" -tp "$T"\n', "Qwen/Qwen3-14B", 2),
        ("printf -v M '%s/%s' /models Qwen3-8B\nvllm serve \"$M\"\n", "/models/Qwen3-8B", None),
        ('S=32b\ncase "$S" in\n 8b) M=Qwen/Qwen3-8B;;\n 32b|32B) M=Qwen/Qwen3-32B;;\nesac\nvllm serve $M\n',
         "Qwen/Qwen3-32B", None),
        ('S=7b\ncase $S in\n *) M=Qwen/Qwen3-8B;;\n 7b) M=Qwen/Qwen3-32B;;\nesac\nvllm serve $M\n',
         "Qwen/Qwen3-8B", None),
    ],
)
def test_here_strings_printf_v_and_a_case_on_a_fixed_word_are_read(
    cat: Catalog, body: str, model: str, tp: int | None
) -> None:
    job = parse_job("#!/bin/bash\n#SBATCH --gres=gpu:2\n" + body, None, cat)
    assert job.command is not None and job.command.model_known and job.model == model
    assert job.tp == tp


@pytest.mark.parametrize(
    "body",
    [
        'read -r M <<< "$(cat model.txt)"\nvllm serve "$M"\n',
        'printf -v M "%s" "$1"\nvllm serve "$M"\n',
        'case "$1" in\n a) M=Qwen/Qwen3-8B;;\n b) M=Qwen/Qwen3-32B;;\nesac\nvllm serve $M\n',
        'S=x\ncase $S in\n a) M=Qwen/Qwen3-8B;;\n b) M=Qwen/Qwen3-32B;;\nesac\nvllm serve $M\n',
    ],
)
def test_what_the_script_does_not_fix_stays_unknown(cat: Catalog, body: str) -> None:
    job = parse_job("#!/bin/bash\n" + body, None, cat)
    assert job.command is not None and not job.command.model_known


def test_a_hostile_case_with_many_arms_stays_bounded(cat: Catalog) -> None:
    arms = "".join(f" v{k}) M=Qwen/Qwen3-{k}B;;\n" for k in range(5000))
    job = parse_job(f"S=zz\ncase $S in\n{arms}esac\nvllm serve $M\n", None, cat)
    assert job.command is not None and not job.command.model_known


def test_a_script_run_by_bash_whose_name_says_vllm_gets_a_tag_hint(cat: Catalog) -> None:
    job = parse_job("#!/bin/bash\nMODEL_ID=Qwen/Qwen3-8B bash scripts/serve_vllm.sh\n", None, cat)
    assert not job.is_serving and "#OMNIPILOT" in (job.not_serving_reason or "")
    plain = parse_job("#!/bin/bash\nbash scripts/train.sh\n", None, cat)
    assert not plain.is_serving and "#OMNIPILOT" not in (plain.not_serving_reason or "")


@pytest.mark.parametrize("fmt", ["'%05d'", "'%s\\n'", "'%-10s'"])
def test_printf_formats_not_followed_stay_unknown(cat: Catalog, fmt: str) -> None:
    job = parse_job(f"printf -v M {fmt} 7\nvllm serve \"$M\"\n", None, cat)
    assert job.command is not None and not job.command.model_known
