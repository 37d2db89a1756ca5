"""The script parser against a corpus of messy, realistic batch scripts and targeted cases."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from omnipilot.catalog import Catalog
from omnipilot.daemon.jobscript.parse import ParsedJob, parse_job

SCRIPTS = Path(__file__).parent / "scripts"
EXPECTED: dict[str, dict[str, object]] = {
    k: v for k, v in json.loads((SCRIPTS / "expected.json").read_text()).items() if not k.startswith("_")
}


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog.load()


def parse(cat: Catalog, script: str, comment: str | None = None, **kw: int) -> ParsedJob:
    return parse_job(script, comment, cat, **kw)


def test_corpus_has_every_script_and_enough_of_them() -> None:
    files = {p.name for p in SCRIPTS.glob("*.sh")}
    assert files == set(EXPECTED)
    assert len(files) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus(cat: Catalog, name: str) -> None:
    job = parse(cat, (SCRIPTS / name).read_bytes().decode())
    for key, want in EXPECTED[name].items():
        if key == "reason_has":
            assert job.not_serving_reason is not None and str(want) in job.not_serving_reason, (
                job.not_serving_reason
            )
        elif key == "hint":
            assert (job.model_unresolved_hint is not None) is want, job.model_unresolved_hint
        elif key == "safe":
            assert (not job.ambiguities) is want, job.ambiguities
        elif key == "tag_error_count":
            assert len(job.tag_errors) == want, job.tag_errors
        elif key == "unresolved_has":
            assert any(str(want) in u for u in job.unresolved), job.unresolved
        elif key == "ambiguity_has":
            assert any(str(want) in a for a in job.ambiguities), job.ambiguities
        elif key == "line_span":
            assert job.line_span == tuple(want), job.line_span  # type: ignore[arg-type]
        else:
            assert getattr(job, key) == want, (key, getattr(job, key))


def test_serving_jobs_say_where_the_command_is_and_others_say_why_not(cat: Catalog) -> None:
    for name in EXPECTED:
        job = parse(cat, (SCRIPTS / name).read_bytes().decode())
        if job.command is not None:
            text = (SCRIPTS / name).read_bytes().decode()
            lines = text.splitlines()
            assert job.line_span is not None
            first, last = job.line_span
            span = "\n".join(lines[first - 1 : last])
            # the command is on those lines, or they run it from a variable (`eval $CMD`, `$VLLM serve`)
            assert any(w in span for w in ("vllm", "api_server", "$")), (name, span)
        if not job.is_serving:
            assert job.not_serving_reason
            assert job.model_unresolved_hint is None


def test_precedence_script_tag_over_comment_over_command_line(cat: Catalog) -> None:
    script = (
        "#!/bin/bash\n#SBATCH --gres=gpu:h100:4\n#OMNIPILOT tp=2\n"
        "vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 4 --max-num-seqs 8 --max-model-len 2048\n"
    )
    job = parse(cat, script, "omnipilot: tp=1 concurrency=99")
    assert job.tp == 2 and job.sources["tp"] == "script_tag"
    assert job.concurrency == 99 and job.sources["concurrency"] == "comment_tag"
    assert job.context == 2048 and job.sources["context"] == "command_line"
    assert job.command is not None and job.command.tp == 4  # the command as written is kept too


def test_tp_from_slurm_variables_and_unknown_when_unset(cat: Catalog) -> None:
    base = "#!/bin/bash\n{sb}\nvllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size {tp}\n"
    assert parse(cat, base.format(sb="#SBATCH --gpus-per-node=4", tp="$SLURM_GPUS_ON_NODE")).tp == 4
    assert parse(cat, base.format(sb="#SBATCH --gres=gpu:a100:2", tp="${SLURM_GPUS_ON_NODE}")).tp == 2
    assert parse(cat, base.format(sb="#SBATCH -G 3", tp="$((SLURM_GPUS_ON_NODE / 1))")).tp == 3
    job = parse(cat, base.format(sb="#SBATCH --time=1:00:00", tp="$SLURM_GPUS_ON_NODE"))
    assert job.tp is None
    assert any("SLURM_GPUS_ON_NODE" in u for u in job.unresolved)
    # the daemon knows the final GPU count from the job description (sbatch flags override #SBATCH)
    assert (
        parse(cat, base.format(sb="#SBATCH --gres=gpu:2", tp="$SLURM_GPUS_ON_NODE"), gpus_per_node=8).tp == 8
    )


def test_variables_are_positional_and_loops_are_unknown(cat: Catalog) -> None:
    script = "MODEL=meta-llama/Llama-3.1-8B-Instruct\nvllm serve $MODEL &\nMODEL=Qwen/Qwen2.5-7B-Instruct\n"
    assert parse(cat, script).model_name == "meta-llama/Llama-3.1-8B"
    loop = "MODEL=Qwen/Qwen2.5-7B\nfor MODEL in a b; do\n  vllm serve $MODEL\ndone\n"
    job = parse(cat, loop)
    assert job.model_name is None and job.model_unresolved_hint


def test_brace_operators(cat: Catalog) -> None:
    script = (
        'BASE="/models/Qwen2.5-7B-Instruct/"\n'
        'NAME="${BASE%/}"\n'
        ': "${SERVED:=${NAME##*/}}"\n'
        'vllm serve "$NAME" --served-model-name "$SERVED" --max-model-len ${CTX:-4096}\n'
    )
    job = parse(cat, script)
    assert job.model == "/models/Qwen2.5-7B-Instruct"
    assert job.served_model_name == "Qwen2.5-7B-Instruct"
    assert job.max_model_len == 4096


def test_model_resolved_from_served_name_when_path_is_opaque(cat: Catalog) -> None:
    job = parse(cat, "vllm serve /ckpt/run-17/final --served-model-name meta-llama/Llama-3.1-8B-Instruct\n")
    assert job.model_name == "meta-llama/Llama-3.1-8B"
    assert job.sources["model_name"] == "served_model_name"


def test_not_serving_variants(cat: Catalog) -> None:
    cases = {
        "vllm serve --help\n": "help",
        "echo 'now run vllm serve'\n": "mentions vllm",
        "python -m vllm.entrypoints.openai.run_batch -i in.jsonl -o out.jsonl --model x\n": "offline",
        "uv pip install vllm\n": "install",
        "vllm chat --url http://localhost:8000/v1\n": "client",
        "hostname\n": "no vLLM server command",
    }
    for script, fragment in cases.items():
        job = parse(cat, script)
        assert not job.is_serving, script
        assert job.not_serving_reason is not None and fragment in job.not_serving_reason, (script, job)


def test_server_then_benchmark_client_is_serving(cat: Catalog) -> None:
    script = (
        "vllm serve Qwen/Qwen2.5-7B-Instruct &\nsleep 60\n"
        "vllm bench serve --model Qwen/Qwen2.5-7B-Instruct --num-prompts 100\n"
    )
    job = parse(cat, script)
    assert job.is_serving and not job.ambiguities
    assert job.other_commands and "bench" in job.other_commands[0]


def test_python_heredoc_is_not_read_as_shell(cat: Catalog) -> None:
    script = "python3 <<EOF\nimport subprocess\n# vllm serve x\nsubprocess.run(['vllm', 'serve', 'x'])\nEOF\n"
    assert not parse(cat, script).is_serving


def test_sbatch_after_first_command_is_ignored(cat: Catalog) -> None:
    job = parse(cat, "#!/bin/bash\n#SBATCH -p a100\nhostname\n#SBATCH -p h100\n")
    assert job.sbatch.partition == "a100"
    assert job.sbatch.ignored_directives == [4]


def test_heterogeneous_job_reads_only_the_comment(cat: Catalog) -> None:
    script = "#SBATCH -p cpu\n#SBATCH hetjob\n#SBATCH -p h100\n#OMNIPILOT tp=4\nvllm serve Qwen/Qwen2.5-7B\n"
    job = parse(cat, script, "omnipilot: model=Qwen/Qwen2.5-7B")
    assert job.heterogeneous and job.tp is None and job.command is None
    assert job.model_name == "Qwen/Qwen2.5-7B" and job.ambiguities


def test_unknown_gpu_tag_is_an_error_not_an_exception(cat: Catalog) -> None:
    job = parse(cat, "#OMNIPILOT gpu=tpu-v5\nvllm serve Qwen/Qwen2.5-7B\n")
    assert job.gpu is None
    assert any("tpu-v5" in e and "etc/gpus.toml" in e for e in job.tag_errors)


def test_none_and_empty_inputs(cat: Catalog) -> None:
    job = parse_job(None, None, cat)
    assert not job.is_serving and job.not_serving_reason
    job = parse_job(None, "omnipilot: model=Qwen/Qwen2.5-7B-Instruct concurrency=4", cat)
    assert job.is_serving and job.model_name == "Qwen/Qwen2.5-7B" and job.concurrency == 4


def test_summary_keeps_no_script_text(cat: Catalog) -> None:
    script = "export HF_TOKEN=hf_secretsecret\nvllm serve Qwen/Qwen2.5-7B-Instruct\n"
    summary = parse(cat, script).summary()
    assert summary["model_name"] == "Qwen/Qwen2.5-7B"
    assert "hf_secret" not in json.dumps(summary, default=str)


def test_never_raises_on_garbage(cat: Catalog) -> None:
    rng = random.Random(7)
    alphabet = "vllm serve --model=\"'$(){}[]\\\n#SBATCH OMNIPILOT <<EOF = ; & | ` \t-tp 8 ${X:-y} EOF\n"
    for _ in range(300):
        script = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        job = parse(cat, script, "".join(rng.choice(alphabet) for _ in range(40)))
        assert isinstance(job, ParsedJob)


@pytest.mark.parametrize(
    "script",
    [
        "vllm " + "\"'" * 30000,
        "vllm serve " + "$(" * 20000,
        "#OMNIPILOT " + "a=" * 30000,
        "vllm serve x " + "\\\n" * 30000,
        "vllm\n" * 20000,
        "X=${" * 20000 + "\nvllm serve $X\n",
        'vllm serve "' + '\\"' * 30000,
        "cat <<EOF\n" * 10000 + "vllm serve x\n",
        "".join(f'C{i}="vllm serve m $C{i - 1}"\n' for i in range(2000)) + "eval $C1999\n",
        'CMD="vllm serve q"\n' + "eval $CMD\n" * 6000,
        "".join(f'f{i}() {{ vllm serve "$1"; }}\nf{i} m\n' for i in range(2000)),
        'f() { vllm serve "$@"; }\nf ' + '"$@" ' * 10000 + "\n",
        "CMD=(" + "vllm " * 12000 + ")\n",
        "for x in a; do\n" * 5000 + "vllm serve q\n",
        'vllm serve "' + '$(x "y" ' * 6000,  # command substitutions with quotes, inside quotes
        'vllm serve "' + "a$" * 30000,
        '"$(a ' * 10000 + "\nvllm serve q\n",
        "R=" + "a/" * 20000 + '\nvllm serve "/m/$(basename "$R")"\n',
    ],
)
def test_pathological_inputs_stay_fast(cat: Catalog, script: str) -> None:
    t0 = time.perf_counter()
    parse(cat, script)
    assert time.perf_counter() - t0 < 0.5


def test_64k_script_parses_quickly(cat: Catalog) -> None:
    body = (SCRIPTS / "04_srun_continuations.sh").read_text()
    filler = "".join(f"cp data/shard_{i}.jsonl $TMPDIR/  # stage input {i}\n" for i in range(1400))
    script = body.replace("srun --ntasks", filler + "srun --ntasks", 1)
    assert len(script) > 60_000
    parse(cat, script)
    best = min(_timed(lambda: parse(cat, script)) for _ in range(5))
    # the daemon's budget is ~1 ms; here only a coarse bound, since CI machines are shared
    assert best < 0.02
    assert parse(cat, script).tp == 4


def _timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def test_cli_check_and_rewrite(capsys: pytest.CaptureFixture[str]) -> None:
    from omnipilot.cli import main

    path = str(SCRIPTS / "05_apptainer_exec.sh")
    assert main(["script", "check", path]) == 0
    out = capsys.readouterr().out
    assert "lines 10-14" in out and "meta-llama/Llama-3.1-70B" in out
    assert main(["script", "rewrite", path, "--tp", "2"]) == 0
    out = capsys.readouterr().out
    assert "+        --tensor-parallel-size 2 \\" in out
    assert main(["script", "rewrite", str(SCRIPTS / "17_heredoc_wrapper.sh"), "--tp", "2"]) == 1
    assert "heredoc" in capsys.readouterr().err


def test_checkpoint_index_agrees_with_the_catalog(cat: Catalog) -> None:
    for spec in cat.models:
        for ck in spec.checkpoints.values():
            # the first entry naming a checkpoint wins, as in the catalog's own index
            owner = next(p for m in cat.models for p, c in m.checkpoints.items() if c.lower() == ck.lower())
            assert cat.precision_of_checkpoint(ck) == owner
            assert cat.precision_of_checkpoint(f"/scratch/models/{ck.rsplit('/', 1)[-1]}") == owner


@pytest.mark.parametrize(
    ("script", "model_name", "tp"),
    [
        ("export MODEL=Qwen/Qwen2.5-7B-Instruct TP=2\nvllm serve $MODEL -tp $TP\n", "Qwen/Qwen2.5-7B", 2),
        (
            "#SBATCH --gpus-per-node=4\n"
            "if true; then vllm serve Qwen/Qwen2.5-7B -tp $SLURM_GPUS_PER_NODE; fi\n",
            "Qwen/Qwen2.5-7B",
            4,
        ),
        (
            'case "$S" in\n  big) vllm serve meta-llama/Llama-3.1-70B-Instruct -tp 2 ;;\nesac\n',
            "meta-llama/Llama-3.1-70B",
            2,
        ),
        (
            "apptainer run --nv docker://vllm/vllm-openai:v0.8.5 Qwen/Qwen2.5-14B-Instruct -tp 2\n",
            "Qwen/Qwen2.5-14B",
            2,
        ),
        ("singularity run --nv vllm.sif serve Qwen/Qwen2.5-3B-Instruct\n", "Qwen/Qwen2.5-3B", None),
        (
            "python3 -u -O -m vllm.entrypoints.openai.api_server "
            "--model=google/gemma-2-2b-it --tensor_parallel_size=1\n",
            "google/gemma-2-2b",
            1,
        ),
        (
            "sudo -u svc -E env A=1 stdbuf -oL nohup vllm serve Qwen/Qwen2.5-7B --tensor-parallel-size 2 &\n",
            "Qwen/Qwen2.5-7B",
            2,
        ),
    ],
)
def test_more_launch_forms(cat: Catalog, script: str, model_name: str, tp: int | None) -> None:
    job = parse(cat, script)
    assert job.is_serving and job.model_name == model_name and job.tp == tp, job.summary()


@pytest.mark.parametrize(
    ("script", "model_name", "tp", "why"),
    [
        # the lead's case: a command assembled in variables and run with eval
        (
            'ARGS="--tensor-parallel-size 8 --max-model-len 65536"; '
            'CMD="vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-32B $ARGS"; eval $CMD\n',
            "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
            8,
            "eval",
        ),
        # eval re-reads quotes inside the string
        (
            "M=Qwen/Qwen2.5-7B-Instruct\nL=\"vllm serve '$M' --served-model-name 'my chat' -tp 2\"\neval \"$L\"\n",
            "Qwen/Qwen2.5-7B",
            2,
            "eval",
        ),
        # a variable holding the command, run without eval (word splitting only)
        ('CMD="vllm serve Qwen/Qwen2.5-7B -tp 4"\n$CMD\n', "Qwen/Qwen2.5-7B", 4, "assembled in a variable"),
        # through a second variable, and bash -c "$CMD"
        (
            'BASE="vllm serve Qwen/Qwen2.5-14B-Instruct"\nFULL="$BASE --tensor-parallel-size 2"\n'
            'srun bash -c "$FULL"\n',
            "Qwen/Qwen2.5-14B",
            2,
            "quoted string",
        ),
        # declare -a CMD=(...) then "${CMD[@]}"
        (
            'declare -a CMD=(vllm serve "google/gemma-2-9b-it" -tp 1)\n"${CMD[@]}" &\n',
            "google/gemma-2-9b",
            1,
            "assembled in a variable",
        ),
        # a one-line function with "$@"
        (
            'serve() { vllm serve "$@"; }\nserve meta-llama/Llama-3.1-8B-Instruct --tensor-parallel-size 2\n',
            "meta-llama/Llama-3.1-8B",
            2,
            "call at line 2",
        ),
        # a function reads a variable set after its definition, before the call (dynamic scope)
        (
            "run() {\n  vllm serve $MODEL -tp $TP\n}\nMODEL=Qwen/Qwen2.5-32B-Instruct\nTP=4\nrun\n",
            "Qwen/Qwen2.5-32B",
            4,
            "call at line 6",
        ),
    ],
)
def test_commands_reached_through_eval_variables_and_functions(
    cat: Catalog, script: str, model_name: str, tp: int, why: str
) -> None:
    job = parse(cat, script)
    assert job.is_serving and job.model_name == model_name and job.tp == tp, job.summary()
    assert any(why in a for a in job.ambiguities), job.ambiguities


def test_function_called_twice_is_two_servers(cat: Catalog) -> None:
    script = (
        'start() {\n  CUDA_VISIBLE_DEVICES=$2 vllm serve "$1" --port $((8000 + $2)) &\n}\n'
        "start Qwen/Qwen2.5-7B-Instruct 0\nstart meta-llama/Llama-3.1-8B-Instruct 1\nwait\n"
    )
    job = parse(cat, script)
    assert job.model_name == "Qwen/Qwen2.5-7B"
    assert any("2 vLLM server commands (lines 4, 5)" in a for a in job.ambiguities), job.ambiguities


def test_function_without_a_literal_call_stays_unresolved(cat: Catalog) -> None:
    job = parse(cat, 'start() {\n  vllm serve "$1"\n}\nstart "$@"\n')
    assert job.model_name is None and job.model_unresolved_hint
    job = parse(cat, 'start() {\n  vllm serve "$1"\n}\n')  # never called in the script
    assert job.model_name is None and any("function" in a for a in job.ambiguities)


def test_variable_uses_before_the_assignment_do_not_count(cat: Catalog) -> None:
    job = parse(cat, 'eval "$CMD"\nCMD="vllm serve Qwen/Qwen2.5-7B"\necho "$CMD"\n')
    assert not job.is_serving


def test_loop_and_restart_loop_are_ambiguous(cat: Catalog) -> None:
    job = parse(cat, "while true; do\n  vllm serve Qwen/Qwen2.5-7B-Instruct\n  sleep 5\ndone\n")
    assert job.model_name == "Qwen/Qwen2.5-7B"
    assert any("loop (line 1)" in a for a in job.ambiguities)
    done = "for i in 1 2 3; do\n  echo $i\ndone\nvllm serve Qwen/Qwen2.5-7B-Instruct\n"
    assert not parse(cat, done).ambiguities  # a loop closed before the command does not count


def test_torchrun_accelerate_and_lm_eval(cat: Catalog) -> None:
    job = parse(
        cat,
        "python -m torch.distributed.run --nproc-per-node 1 -m vllm.entrypoints.openai.api_server --model Qwen/Qwen2.5-7B\n",
    )
    assert job.is_serving and job.model_name == "Qwen/Qwen2.5-7B"
    job = parse(cat, "torchrun --standalone serve_with_vllm.py --model x\n")
    assert not job.is_serving  # a script of the user's: not recognisably a vLLM server
    job = parse(cat, "python -m lm_eval --model vllm --model_args pretrained=Qwen/Qwen2.5-7B --tasks gsm8k\n")
    assert not job.is_serving and "offline" in (job.not_serving_reason or "")


def test_blank_after_backslash_cuts_the_command(cat: Catalog) -> None:
    script = "vllm serve Qwen/Qwen2.5-7B-Instruct \\ \n  --tensor-parallel-size 2\n"
    job = parse(cat, script)
    assert job.tp is None
    assert any("blank after the final" in u for u in job.unresolved), job.unresolved


def test_data_parallel_is_read_and_blocks_rewrite(cat: Catalog) -> None:
    job = parse(cat, "vllm serve Qwen/Qwen2.5-7B -dp 2 -tp 2\n")
    assert job.dp == 2 and job.tp == 2 and job.summary()["dp"] == 2
    assert any("2 replicas" in a for a in job.ambiguities)


def test_values_set_in_branches_of_a_condition_are_unknown(cat: Catalog) -> None:
    both = "if [ $N -ge 4 ]; then TP=4; else TP=1; fi\nvllm serve Qwen/Qwen2.5-7B -tp $TP\n"
    job = parse(cat, both)
    assert job.tp is None and any("$TP" in u for u in job.unresolved)
    case = "case $S in\n  a) M=Qwen/Qwen2.5-7B ;;\n  b) M=Qwen/Qwen2.5-72B ;;\nesac\nvllm serve $M\n"
    assert parse(cat, case).model_name is None
    # a default filled in by one branch only is still the value a reader expects
    default = 'if [ -z "$M" ]; then\n  M=Qwen/Qwen2.5-7B-Instruct\nfi\nvllm serve $M\n'
    assert parse(cat, default).model_name == "Qwen/Qwen2.5-7B"
    inside = "if true; then\n  TP=2\n  vllm serve Qwen/Qwen2.5-7B -tp $TP\nelse\n  TP=4\nfi\n"
    assert parse(cat, inside).tp == 2


def test_branches_that_agree_resolve_and_those_that_differ_say_where(cat: Catalog) -> None:
    agree = (
        'if [ "$P" = a ]; then\n  TP=2\nelif [ "$P" = b ]; then\n  TP=2\nelse\n  TP=2\nfi\n'
        "vllm serve Qwen/Qwen3-8B -tp $TP\n"
    )
    assert parse(cat, agree).tp == 2
    case = "case $P in\n  a) M=Qwen/Qwen3-8B ;;\n  *) M=Qwen/Qwen3-8B ;;\nesac\nvllm serve $M\n"
    assert parse(cat, case).model == "Qwen/Qwen3-8B"
    differ = "if x; then\n  M=Qwen/Qwen3-8B\nelse\n  M=Qwen/Qwen3-32B\nfi\nvllm serve $M\n"
    job = parse(cat, differ)
    assert job.model_name is None and job.model_unresolved_hint is not None
    assert any("the branches of the if at line 1 set it to different values" in u for u in job.unresolved)


def test_declare_A_tables_and_indexed_lookups(cat: Catalog) -> None:
    table = "declare -A M=([s]=Qwen/Qwen3-8B [l]=Qwen/Qwen3-32B)\nK=${K:-l}\nvllm serve ${M[$K]}\n"
    assert parse(cat, table).model == "Qwen/Qwen3-32B"
    elements = 'declare -A M\nM[s]=Qwen/Qwen3-8B\nM[l]=Qwen/Qwen3-32B\nvllm serve "${M[s]}"\n'
    assert parse(cat, elements).model == "Qwen/Qwen3-8B"
    missing = "declare -A M=([s]=Qwen/Qwen3-8B)\nvllm serve ${M[$WHICH]}\n"
    job = parse(cat, missing)
    assert job.model_name is None and job.model_unresolved_hint is not None
    indexed = "A=(Qwen/Qwen3-8B Qwen/Qwen3-14B)\nI=1\nTPS=(1 2)\nvllm serve ${A[$I]} -tp ${TPS[I]}\n"
    job = parse(cat, indexed)
    assert job.model == "Qwen/Qwen3-14B" and job.tp is None  # `${TPS[I]}` is arithmetic: not read


@pytest.mark.parametrize(
    ("script", "model"),
    [
        ('D=/w/Qwen3-8B\napptainer exec --nv --bind "$D:/model" i.sif vllm serve /model\n', "/w/Qwen3-8B"),
        ("singularity exec -B /a,/w:/m:ro i.sif vllm serve /m/Qwen3-8B\n", "/w/Qwen3-8B"),
        ("apptainer exec --mount type=bind,src=/w/q,dst=/m i.sif vllm serve /m\n", "/w/q"),
        ("docker run -m 64g -v /w/q:/m vllm/vllm-openai --model /m/snap\n", "/w/q/snap"),
        ("docker run -v hfcache:/m vllm/vllm-openai --model /m\n", "/m"),  # a named volume: no host path
        ("srun --container-image=i --container-mounts=/w/q:/m vllm serve /m\n", "/w/q"),
        ("enroot start --mount /w/q:/m img vllm serve /m\n", "/w/q"),
        ('export APPTAINER_BIND="/w/q:/m"\napptainer exec i.sif vllm serve /m\n', "/w/q"),
        ("apptainer exec --bind /m i.sif vllm serve /m/q\n", "/m/q"),  # same path inside and out
    ],
)
def test_container_paths_map_to_host_paths(cat: Catalog, script: str, model: str) -> None:
    job = parse(cat, script)
    assert job.is_serving and job.model == model, (job.model, job.unresolved)
    assert (job.model_container_path is not None) is model.startswith("/w")


def test_a_mount_from_an_unset_variable_leaves_the_model_unknown(cat: Catalog) -> None:
    job = parse(cat, 'apptainer exec --bind "$DIR:/model" i.sif vllm serve /model\n')
    assert job.model_name is None and job.model_unresolved_hint is not None
    assert any("mounts it from $DIR" in u for u in job.unresolved)


@pytest.mark.parametrize(
    "script",
    [
        "apptainer exec --nv --newopt val --other=x i.sif vllm serve Qwen/Qwen3-8B -tp 2\n",
        "apptainer exec --newflag --nv $SIF vllm serve Qwen/Qwen3-8B -tp 2\n",
        "docker run --gpus all --cgroupns host --stop-timeout 30 org/img:1 vllm serve Qwen/Qwen3-8B -tp 2\n",
        "docker run --newflag vllm/vllm-openai:latest --model Qwen/Qwen3-8B -tp 2\n",
        "uv run -- vllm serve Qwen/Qwen3-8B -tp 2\n",
        "sitetool run --profile gpu -- vllm serve Qwen/Qwen3-8B -tp 2\n",
        "hpcenv exec llm-2025 vllm serve Qwen/Qwen3-8B -tp 2\n",
        "guix shell -m m.scm -- python -m vllm.entrypoints.openai.api_server --model Qwen/Qwen3-8B -tp 2\n",
        "source env.sh\n$PY -u -m vllm.entrypoints.openai.api_server --model Qwen/Qwen3-8B -tp 2\n",
        "source env.sh\n$WRAP vllm serve Qwen/Qwen3-8B -tp 2\n",
        "python -u -m `#note` vllm.entrypoints.openai.api_server --model Qwen/Qwen3-8B `#x` -tp 2\n",
    ],
)
def test_wrappers_and_unknown_options_are_looked_through(cat: Catalog, script: str) -> None:
    job = parse(cat, script)
    assert job.is_serving and job.model == "Qwen/Qwen3-8B" and job.tp == 2, (
        job.not_serving_reason,
        job.model,
    )


def test_wrappers_do_not_turn_arguments_into_launches(cat: Catalog) -> None:
    for script in (
        "sitetool run train.py --backend vllm\n",
        "sbatch --wrap 'vllm serve Qwen/Qwen3-8B'\n",
        "conda activate vllm\npython client.py\n",
    ):
        assert not parse(cat, script).is_serving, script


def test_an_unset_interpreter_with_unclear_arguments_gets_the_tag_hint(cat: Catalog) -> None:
    job = parse(cat, 'source settings.sh\n"$LAUNCHER" serve_model.py --engine vllm\n')
    assert not job.is_serving and job.not_serving_reason is not None
    assert "$LAUNCHER" in job.not_serving_reason and "#OMNIPILOT model=" in job.not_serving_reason
    job = parse(cat, "source env.sh\n$PY -m vllm.entrypoints.openai.api_server --model Qwen/Qwen3-8B\n")
    assert job.is_serving and any("$PY" in u and "sourced file" in u for u in job.unresolved)
