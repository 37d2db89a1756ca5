"""What the #SBATCH lines ask for."""

from __future__ import annotations

import pytest

from omnipilot.daemon.jobscript.sbatch_header import parse_sbatch, time_minutes


@pytest.mark.parametrize(
    ("lines", "gtype", "per_node"),
    [
        ("--gres=gpu:a100:4", "a100", 4),
        ("--gres=gpu:2", None, 2),
        ("--gres=gpu", None, 1),
        ("--gres=gpu:nvidia_h100_80gb_hbm3:8,nvme:1", "nvidia_h100_80gb_hbm3", 8),
        ("--gres gres/gpu:h200:2", "h200", 2),
        ("--gpus=4", None, 4),
        ("-G h100:2", "h100", 2),
        ("-G2", None, 2),
        ("--gpus-per-node=l40s:1", "l40s", 1),
        ("--ntasks-per-node=2\n#SBATCH --gpus-per-task=2", None, 4),
    ],
)
def test_gpu_request_forms(lines: str, gtype: str | None, per_node: int) -> None:
    req = parse_sbatch(f"#!/bin/bash\n#SBATCH {lines}\nsrun hostname\n")
    assert (req.gpu_type, req.gpus_per_node) == (gtype, per_node)
    assert req.slurm_env()["SLURM_GPUS_ON_NODE"] == str(per_node)


def test_common_options_short_long_and_abbreviated() -> None:
    script = (
        "#!/bin/bash\n#SBATCH -p h100 -N 1-2\n#SBATCH --time=1-12:30:00\n#SBATCH --acc=proj\n"
        '#SBATCH --job-name="my job" --comment "omnipilot: tp=2"\n#SBATCH hetjob\n'
    )
    req = parse_sbatch(script)
    assert req.partition == "h100" and (req.nodes, req.nodes_max) == (1, 2)
    assert req.time_minutes == 36 * 60 + 30 and req.account == "proj"
    assert req.job_name == "my job" and req.comment == "omnipilot: tp=2" and req.heterogeneous


def test_bad_values_are_reported_not_raised() -> None:
    req = parse_sbatch("#SBATCH --nodes=two --time=soon --gpus=lots\n#SBATCH --comment='unclosed\n")
    assert len(req.errors) == 4
    assert any("--time=soon" in e for e in req.errors)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("30", 30),
        ("30:30", 31),
        ("2:00:00", 120),
        ("1-0", 1440),
        ("1-2:3", 1563),
        ("1-00:00:01", 1441),
        ("x", None),
    ],
)
def test_time_formats(text: str, minutes: int | None) -> None:
    assert time_minutes(text) == minutes
