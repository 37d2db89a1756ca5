"""Enforce's GPU-request rewrite (daemon/gpu_request.py, the srun part of daemon/jobscript/rewrite.py,
and the partition choice in daemon/reply.py): the user's form kept, step variables rewritten, limits
and access lists respected, never more GPU-hours unless allowed."""

from __future__ import annotations

from typing import ClassVar

import pytest

from omnipilot.daemon.clusterstate.cli_backend import config_mem_defaults, partitions_from_oneliner
from omnipilot.daemon.clusterstate.snapshot import NodeState, PartitionState, Snapshot
from omnipilot.daemon.gpu_request import (
    Refused,
    access_problem,
    asked_total,
    env_values,
    fit_resources,
    request_fields,
)
from omnipilot.daemon.jobscript.rewrite import rewrite_srun_gpus
from omnipilot.daemon.protocol import AdviseRequest, decode_request


def _req(**kw: object) -> AdviseRequest:
    return AdviseRequest.model_validate({"v": 1, "id": "t", **kw})


def _node(name: str = "h100-1", cpus: int = 32, mem: int = 256_000) -> NodeState:
    return NodeState(name=name, partitions=["h100"], gres_type="h100", gpus_total=8, gpus_used=0,
                     states=["IDLE"], cpus=cpus, real_memory_mb=mem)  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"tres_per_job": "gres:gpu:2"}, {"tres_per_job": "gres:gpu:h100:4"}),  # 22.05 --gpus=2
        ({"tres_per_job": "gres/gpu:a100:2"}, {"tres_per_job": "gres/gpu:h100:4"}),  # 24.11
        ({"tres_per_task": "gres/gpu=2", "num_tasks": 1}, {"tres_per_task": "gres/gpu:h100=4"}),
        ({"tres_per_node": "gres:gpu:2"}, {"gres": "gpu:h100:4"}),  # --gres / --gpus-per-node
        ({}, {"gres": "gpu:h100:4"}),
    ],
)
def test_the_request_keeps_the_users_form(fields: dict[str, object], expected: dict[str, str]) -> None:
    assert request_fields(_req(**fields), 4, "h100") == expected


def test_gpus_per_task_that_do_not_divide_are_refused() -> None:
    with pytest.raises(Refused, match="split evenly"):
        request_fields(_req(tres_per_task="gres:gpu:1", num_tasks=2), 3, "h100")


def test_asked_total_counts_every_form() -> None:
    assert asked_total(_req(tres_per_job="gres:gpu:3")) == 3
    assert asked_total(_req(tres_per_node="gres/gpu:h100:2", num_nodes=1)) == 2
    assert asked_total(_req(tres_per_task="gres:gpu:2", num_tasks=2)) == 4
    assert asked_total(_req()) == 0


def test_step_variables_get_the_new_request_in_their_own_form() -> None:
    req = _req(
        tres_per_job="gres:gpu:2",
        gpu_env={"SLURM_GPUS": "h100:2", "SLURM_GPUS_PER_NODE": "2", "SLURM_CPUS_PER_GPU": "10",
                 "SLURM_MEM_PER_GPU": "1024", "SLURM_TRES_PER_TASK": "cpu=4,gres/gpu:2"},
    )  # fmt: skip
    env = env_values(req, 1, "a100", cpus_per_gpu=10, mem_per_gpu_mb=1024)
    assert env == {
        "SLURM_GPUS": "a100:1", "SLURM_GPUS_PER_NODE": "1", "SLURM_CPUS_PER_GPU": "10",
        "SLURM_MEM_PER_GPU": "1024", "SLURM_TRES_PER_TASK": "cpu=4,gres/gpu:a100:1",
    }  # fmt: skip


def test_only_gpu_variables_travel_from_the_hook() -> None:
    body = b'{"v":1,"id":"x","gpu_env":{"SLURM_GPUS":"2","HF_TOKEN":"hf_secret","AWS_SECRET":"k"}}'
    assert decode_request(body, 1 << 20).gpu_env == {"SLURM_GPUS": "2"}


def test_nobody_uid_is_not_taken_for_a_sentinel() -> None:
    assert _req(user_id=65534, submit_uid=65534).user_id == 65534
    assert _req(user_id=4294967294).user_id is None


def test_cpus_per_gpu_are_lowered_to_fit_the_node() -> None:
    part = PartitionState(name="h100", nodes=["h100-1"])
    res = fit_resources(_req(cpus_per_tres="gres:gpu:10"), 4, part, [_node(cpus=32)])
    assert (res.cpus_per_gpu, res.cpus) == (8, 32) and res.lowered


def test_fixed_cpus_beyond_max_cpus_per_node_are_refused() -> None:
    part = PartitionState(name="h100", nodes=["h100-1"], max_cpus_per_node=16)
    with pytest.raises(Refused, match="allow 16"):
        fit_resources(_req(cpus_per_task=20), 2, part, [_node()])


def test_default_memory_over_max_mem_per_node_is_refused() -> None:
    part = PartitionState(
        name="h100-mem", nodes=["h100-1"], max_mem_per_node_mb=1000, def_mem_per_cpu_mb=2000
    )
    with pytest.raises(Refused, match="allows 1000 MB"):
        fit_resources(_req(), 1, part, [_node()])
    ok = PartitionState(name="h100", nodes=["h100-1"], def_mem_per_cpu_mb=2000)
    assert fit_resources(_req(), 1, ok, [_node()]).mem_mb == 2000


def test_mem_per_gpu_is_never_lowered_to_fit_a_partition() -> None:
    part = PartitionState(name="h100", nodes=["h100-1"], max_mem_per_node_mb=8192)
    res = fit_resources(_req(mem_per_tres="gres:gpu:4096"), 2, part, [_node()])
    assert res.mem_per_gpu_mb == 4096 and res.mem_mb == 8192
    with pytest.raises(Refused, match="more than h100 allows"):
        fit_resources(_req(mem_per_tres="gres:gpu:4096"), 4, part, [_node()])


def test_def_mem_per_cpu_counts_beside_mem_per_gpu() -> None:
    # what kept a rewritten job pending on MaxMemPerLimit in the mini cluster (DefMemPerCPU=2000)
    part = PartitionState(name="h100-mem", nodes=["h100-1"], max_mem_per_node_mb=1000, def_mem_per_cpu_mb=2000)
    with pytest.raises(Refused, match="DefMemPerCPU"):
        fit_resources(_req(mem_per_tres="gres:gpu:500"), 1, part, [_node()])


def test_access_lists() -> None:
    grp = PartitionState(name="g", nodes=[], allow_groups=["ml"], allow_uids=[1000])
    assert access_problem(grp, 1000, None, None) is None
    # root too: only 22.05 lets it into any AllowGroups partition (24.11 refused the job)
    assert "groups ml" in str(access_problem(grp, 0, None, None))
    assert "groups ml" in str(access_problem(grp, 1001, None, None))
    acct = PartitionState(name="a", nodes=[], allow_accounts=["physics"], deny_qos=["low"])
    assert access_problem(acct, 1000, "physics", None) is None
    assert "accounts physics" in str(access_problem(acct, 1000, None, None))
    assert "denies QOS low" in str(access_problem(acct, 1000, "physics", "low"))


def test_partition_lines_give_limits_and_lists() -> None:
    line = (
        "PartitionName=h100-grp AllowGroups=omnipilot-nobody-is-in AllowAccounts=ALL AllowQos=ALL "
        "DenyAccounts=guest MaxCPUsPerNode=16 MaxTime=2-00:00:00 Nodes=h100-1 State=UP "
        "JobDefaults=DefMemPerGPU=8000 DefMemPerNode=UNLIMITED MaxMemPerNode=1000"
    )
    defaults = config_mem_defaults("DefMemPerCPU            = 2000\nDefMemPerNode = UNLIMITED\n")
    p = partitions_from_oneliner(line, defaults)["h100-grp"]
    assert p.allow_groups == ["omnipilot-nobody-is-in"] and p.allow_accounts is None
    assert p.deny_accounts == ["guest"] and p.max_cpus_per_node == 16 and p.max_mem_per_node_mb == 1000
    assert p.def_mem_per_gpu_mb == 8000 and p.def_mem_per_cpu_mb == 2000


SCRIPT = """#!/bin/bash
#SBATCH --gpus=2
# srun --gres=gpu:2 in a comment is left alone
srun --gres=gpu:2 -n 1 vllm serve m --tensor-parallel-size 2
srun -G2 hostname
srun --gpus h100:2 \\
  --gpus-per-task=2 vllm serve m
srun --gpus=1 nvidia-smi
"""


def test_srun_gpu_options_follow_the_new_request() -> None:
    res = rewrite_srun_gpus(SCRIPT, old_gpus=2, gpus=1, gres_type="h100")
    assert res.script == (
        "#!/bin/bash\n#SBATCH --gpus=2\n# srun --gres=gpu:2 in a comment is left alone\n"
        "srun --gres=gpu:1 -n 1 vllm serve m --tensor-parallel-size 2\nsrun -G1 hostname\n"
        "srun --gpus h100:1 \\\n  --gpus-per-task=1 vllm serve m\nsrun --gpus=1 nvidia-smi\n"
    )


def test_srun_options_that_cannot_be_shown_right_are_refused() -> None:
    assert (
        rewrite_srun_gpus("srun --gres=gpu:$N vllm serve m\n", old_gpus=2, gpus=1, gres_type="h100").script
        is None
    )
    assert (
        rewrite_srun_gpus("srun --gpus-per-socket=1 vllm\n", old_gpus=2, gpus=1, gres_type="h100").script
        is None
    )
    odd = rewrite_srun_gpus("srun -n 2 --gpus-per-task=1 vllm\n", old_gpus=2, gpus=3, gres_type="h100")
    assert odd.script is None and "split" in odd.reason


def test_choose_partition_skips_what_refuses_the_job() -> None:
    from omnipilot.daemon.reply import choose_partition

    nodes = {"h100-1": _node(), "h100-2": _node("h100-2")}
    parts = {
        "h100-grp": PartitionState(name="h100-grp", nodes=["h100-1"], allow_groups=["x"], allow_uids=[]),
        "h100-mem": PartitionState(
            name="h100-mem", nodes=["h100-1"], max_mem_per_node_mb=1000, def_mem_per_cpu_mb=2000
        ),
        "h100": PartitionState(name="h100", nodes=["h100-1", "h100-2"], def_mem_per_cpu_mb=2000),
    }
    snap = Snapshot(nodes=nodes, partitions=parts)

    class Choice:  # the two attributes choose_partition reads of a ScoredArm
        partitions: ClassVar[list[str]] = ["h100-grp", "h100-mem", "h100"]
        gres_type = "h100"

    picked = choose_partition(_req(user_id=1000, tres_per_job="gres:gpu:2"), Choice(), snap, 2)
    assert not isinstance(picked, str) and picked.partition == "h100"
    refused = choose_partition(_req(user_id=1000), Choice(), Snapshot(nodes=nodes, partitions={
        k: v for k, v in parts.items() if k != "h100"}), 2)  # fmt: skip
    assert isinstance(refused, str) and "groups x" in refused and "1000 MB" in refused
