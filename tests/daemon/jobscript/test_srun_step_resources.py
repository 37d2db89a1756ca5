"""An `srun` line's own CPUs and memory after enforce rewrites the job's GPU count (issue 13): the
step must still fit the rewritten job, else srun fails at run time ("More processors requested
than permitted"). `--cpus-per-gpu` is lowered to fit; `-c`, `--mem*` that no longer fit refuse."""

from __future__ import annotations

import pytest

from omnipilot.daemon.jobscript.rewrite import rewrite_srun_gpus

LINE = "#!/bin/bash\nsrun {opts} vllm serve m --tensor-parallel-size 2\n"


def _rewrite(
    opts: str, gpus: int = 4, cpus: int | None = 32, mem: int | None = 64000
) -> tuple[str | None, str]:
    res = rewrite_srun_gpus(
        LINE.format(opts=opts), old_gpus=2, gpus=gpus, gres_type="h100", job_cpus=cpus, job_mem_mb=mem
    )
    return (res.script.splitlines()[-1] if res.script else None), res.reason


def test_cpus_per_gpu_that_still_fits_is_kept() -> None:
    assert _rewrite("--cpus-per-gpu 8")[0] == "srun --cpus-per-gpu 8 vllm serve m --tensor-parallel-size 2"


@pytest.mark.parametrize(
    ("opts", "want"),
    [
        ("--cpus-per-gpu=10", "srun --cpus-per-gpu=8 vllm"),  # 4 GPUs x 10 > 32 CPUs
        ("--gpus=2 --cpus-per-gpu 10", "srun --gpus=4 --cpus-per-gpu 8 vllm"),
        ("--gres=gpu:h100:2 --cpus-per-gpu=16", "srun --gres=gpu:h100:4 --cpus-per-gpu=8 vllm"),
    ],
)
def test_cpus_per_gpu_is_lowered_to_the_jobs_cpus(opts: str, want: str) -> None:
    line, reason = _rewrite(opts)
    assert line is not None and line.startswith(want), (line, reason)
    assert "-> 8 (the job has 32 CPUs for 4 GPUs)" in reason


def test_a_step_using_part_of_the_gpus_scales_on_its_own_count() -> None:
    # one GPU of the four, 16 CPUs for it: fits the 32
    assert _rewrite("--gres=gpu:1 --cpus-per-gpu=16")[0] == (
        "srun --gres=gpu:1 --cpus-per-gpu=16 vllm serve m --tensor-parallel-size 2"
    )


@pytest.mark.parametrize(
    ("opts", "why"),
    [
        ("-c40", "srun -c 40 x 1 tasks needs 40 CPUs; the job has 32"),
        ("-n 2 -c 20", "srun -c 20 x 2 tasks needs 40 CPUs"),
        ("--mem-per-gpu=20G", "srun --mem-per-gpu 20G needs 81920 MB; the rewritten job has 64000 MB"),
        ("--mem=100G", "srun --mem 100G needs 102400 MB"),
        ("--mem-per-cpu=4G -c 32", "srun --mem-per-cpu 4G needs 131072 MB"),
        ("-c $N", "srun -c $N: the value is not literal"),
        ("--mem-per-gpu=${MEM}", "not a literal size"),
    ],
)
def test_a_step_that_no_longer_fits_refuses_the_rewrite(opts: str, why: str) -> None:
    line, reason = _rewrite(opts)
    assert line is None and why in reason, reason


def test_a_step_that_fits_is_left_as_written() -> None:
    for opts in ("-c 8", "--mem=1G", "--mem=0", "--mem-per-gpu=8G", "--mem-per-cpu=2G -c 4"):
        line, _ = _rewrite(opts)
        assert line == f"srun {opts} vllm serve m --tensor-parallel-size 2", opts


def test_fewer_gpus_shrink_what_a_step_may_ask() -> None:
    # the job's --cpus-per-gpu=8 x 1 GPU leaves 8 CPUs: a step's -c 16 no longer fits
    line, reason = _rewrite("-c 16", gpus=1, cpus=8)
    assert line is None and "needs 16 CPUs; the job has 8" in reason


def test_unknown_job_resources_check_only_literalness() -> None:
    assert _rewrite("--cpus-per-gpu=10 --mem-per-gpu=1T", cpus=None, mem=None)[0] is not None
