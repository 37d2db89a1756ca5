"""QOS and association GPU limits: what sacctmgr prints (22.05 `-n -P`), when they count, and which
limit a rewrite would exceed for a job (issue 13). The real slurmdbd is in
tests/integration/test_enforce_limits.py."""

from __future__ import annotations

import pwd

from omnipilot.daemon.clusterstate.limits import (
    config_values,
    enforced,
    gpu_tres,
    parse_assocs,
    parse_default_accounts,
    parse_qos,
    read_limits,
)
from omnipilot.daemon.clusterstate.snapshot import AccountingLimits, PartitionState
from omnipilot.daemon.gpu_request import job_association, limit_problem
from omnipilot.daemon.protocol import AdviseRequest

# printed by sacctmgr 22.05 on the accounting mini cluster
QOS_TEXT = "normal|||||\ngpu2|gres/gpu=2||||\ngpuh100u||gres/gpu:h100=3|||\nlab||||cpu=64,gres/gpu=6\n"
ASSOC_TEXT = (
    "root||||normal|||\n"
    "root|root|||gpu2,gpuh100u,normal|||\n"
    "omni|||root|normal|||gres/gpu=5\n"
    "omni|alice|||gpu2,normal|normal|gres/gpu=4|\n"
    "omni|alice|h100||lab|lab||\n"
)
ROOT = pwd.getpwuid(0).pw_name


def _limits(users: dict[int, str] | None = None) -> AccountingLimits:
    return AccountingLimits(
        qos=parse_qos(QOS_TEXT),
        assocs=parse_assocs(ASSOC_TEXT),
        default_account=parse_default_accounts("root|root\nalice|omni\n"),
        users=users if users is not None else {0: "root", 1000: "alice"},
    )


def _req(**kw: object) -> AdviseRequest:
    return AdviseRequest.model_validate({"v": 1, "id": "t", **kw})


def test_gpu_entries_of_a_tres_limit() -> None:
    assert gpu_tres("cpu=64,gres/gpu=6,gres/gpu:h100=2,mem=1G") == {"gres/gpu": 6, "gres/gpu:h100": 2}
    assert gpu_tres("") == {} and gpu_tres("gres/gpumem=80G") == {}


def test_limits_count_only_where_slurmctld_enforces_them() -> None:
    conf = config_values(
        "AccountingStorageType   = accounting_storage/slurmdbd\nAccountingStorageEnforce = none\n"
    )
    assert not enforced(conf)
    assert enforced({**conf, "AccountingStorageEnforce": "associations,limits,qos"})
    assert enforced({**conf, "AccountingStorageEnforce": "safe"})
    assert not enforced(
        {"AccountingStorageType": "accounting_storage/none", "AccountingStorageEnforce": "limits"}
    )

    def fail(*cmd: str) -> str:
        raise AssertionError(f"sacctmgr must not run without enforced limits: {cmd}")

    assert read_limits(fail, conf) is None


def test_read_limits_asks_sacctmgr_for_this_cluster() -> None:
    seen: list[tuple[str, ...]] = []
    out = {"qos": QOS_TEXT, "assoc": ASSOC_TEXT, "user": f"{ROOT}|root\n"}

    def run(*cmd: str) -> str:
        seen.append(cmd)
        return out[cmd[4]]

    conf = {"AccountingStorageType": "accounting_storage/slurmdbd", "AccountingStorageEnforce": "limits",
            "ClusterName": "omnipilot"}  # fmt: skip
    limits = read_limits(run, conf)
    assert limits is not None and limits.qos["gpu2"].per_job == {"gres/gpu": 2}
    assert "cluster=omnipilot" in seen[1]
    assert limits.users[0] == ROOT == "root"  # the users' ids are resolved here, in the background
    assert limits.default_account == {"root": "root"}


def test_the_jobs_association_and_qos_as_slurmctld_picks_them() -> None:
    lim = _limits()
    # root: default account root, several QOS and no DefaultQOS -> normal
    assert job_association(lim, _req(user_id=0), "gpu")[1:] == (lim.assocs[1], "normal")
    # a QOS named by the job wins; a partition's own association before the account's
    user, assoc, qos = job_association(lim, _req(user_id=1000, qos="gpu2"), "h100")
    assert (user, qos) == ("alice", "gpu2") and assoc is not None and assoc.partition == "h100"
    assert job_association(lim, _req(user_id=1000), "h100")[2] == "lab"
    assert job_association(lim, _req(user_id=1000), "gpu")[2] == "normal"
    # a user accounting does not know: nothing to check against
    assert job_association(lim, _req(user_id=4242), "gpu") == (None, None, None)


def test_which_limit_a_rewrite_would_exceed() -> None:
    lim = _limits()
    gpu = PartitionState(name="gpu", nodes=[])
    assert limit_problem(None, _req(qos="gpu2", user_id=0), gpu, "h100", 8) is None  # no accounting
    assert limit_problem(lim, _req(qos="gpu2", user_id=0), gpu, "h100", 2) is None
    assert limit_problem(lim, _req(qos="gpu2", user_id=0), gpu, "h100", 3) == (
        "QOS gpu2 allows 2 GPUs per job (MaxTRESPerJob gres/gpu=2)"
    )
    # per GPU kind: h100 is capped per user, a100 is not
    assert limit_problem(lim, _req(qos="gpuh100u", user_id=0), gpu, "h100", 4) == (
        "QOS gpuh100u allows 3 h100 GPUs per user (MaxTRESPerUser gres/gpu:h100=3)"
    )
    assert limit_problem(lim, _req(qos="gpuh100u", user_id=0), gpu, "a100", 4) is None
    # the association's MaxTRES, then its account's GrpTRES
    assert limit_problem(lim, _req(user_id=1000), gpu, "h100", 5) == (
        "association omni/alice allows 4 GPUs per job (MaxTRES gres/gpu=4)"
    )
    # the partition's association uses QOS lab (GrpTRES 6) and the account's GrpTRES 5 still holds
    h100 = PartitionState(name="h100", nodes=[])
    assert limit_problem(lim, _req(user_id=1000), h100, "h100", 6) == (
        "account omni allows 5 GPUs in all (GrpTRES gres/gpu=5)"
    )
    assert limit_problem(lim, _req(user_id=1000), h100, "h100", 7) == (
        "QOS lab allows 6 GPUs in all (GrpTRES gres/gpu=6)"
    )
    # a partition QOS binds every job in the partition
    lab_part = PartitionState(name="big", nodes=[], qos="gpu2")
    assert limit_problem(lim, _req(user_id=0), lab_part, "h100", 4) == (
        "partition big's QOS gpu2 allows 2 GPUs per job (MaxTRESPerJob gres/gpu=2)"
    )
