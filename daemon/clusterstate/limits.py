"""QOS and association GPU limits, read from slurmdbd with `sacctmgr -n -P` (issue 13).

Read by the background refresh only (sacctmgr asks slurmdbd, not slurmctld, but it still takes
tens of ms and may hang on a slow database). Only where slurmctld enforces them: accounting through
slurmdbd and `AccountingStorageEnforce` naming `limits` (or `safe`, which implies it); elsewhere no
limits are read and enforce behaves as without accounting.
"""

from __future__ import annotations

import pwd
from collections.abc import Callable

from omnipilot.daemon.clusterstate.snapshot import AccountingLimits, AssocLimits, QosLimits

QOS_FORMAT = "Name,MaxTRESPerJob,MaxTRESPerUser,MaxTRESPerAccount,GrpTRES"
ASSOC_FORMAT = "Account,User,Partition,ParentName,QOS,DefaultQOS,MaxTRES,GrpTRES"


def enforced(config: dict[str, str]) -> bool:
    """Whether slurmctld enforces association and QOS limits (`scontrol show config` values)."""
    if "slurmdbd" not in config.get("AccountingStorageType", ""):
        return False
    flags = {f.strip().lower() for f in config.get("AccountingStorageEnforce", "").split(",")}
    return bool(flags & {"limits", "safe"})


def config_values(text: str) -> dict[str, str]:
    """`scontrol show config` as key → value."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        if eq:
            out[key.strip()] = value.strip()
    return out


def gpu_tres(text: str) -> dict[str, int]:
    """'cpu=4,gres/gpu=2,gres/gpu:h100=3' → {'gres/gpu': 2, 'gres/gpu:h100': 3}."""
    out: dict[str, int] = {}
    for item in text.split(","):
        name, eq, value = item.strip().partition("=")
        if eq and (name == "gres/gpu" or name.startswith("gres/gpu:")) and value.isdigit():
            out[name] = int(value)
    return out


def _rows(text: str, width: int) -> list[list[str]]:
    rows = [line.split("|") for line in text.splitlines() if line.strip()]
    return [r + [""] * (width - len(r)) for r in rows]


def parse_qos(text: str) -> dict[str, QosLimits]:
    out: dict[str, QosLimits] = {}
    for name, per_job, per_user, per_account, grp, *_ in _rows(text, 5):
        if name:
            out[name] = QosLimits(
                name=name, per_job=gpu_tres(per_job), per_user=gpu_tres(per_user),
                per_account=gpu_tres(per_account), grp=gpu_tres(grp),
            )  # fmt: skip
    return out


def parse_assocs(text: str) -> list[AssocLimits]:
    out: list[AssocLimits] = []
    for account, user, partition, parent, qos, def_qos, max_tres, grp, *_ in _rows(text, 8):
        if not account:
            continue
        row = AssocLimits(
            account=account, user=user, partition=partition, parent=parent,
            qos=[q for q in qos.split(",") if q], default_qos=def_qos or None,
            max_per_job=gpu_tres(max_tres), grp=gpu_tres(grp),
        )  # fmt: skip
        out.append(row)
    return out


def parse_default_accounts(text: str) -> dict[str, str]:
    return {user: account for user, account, *_ in _rows(text, 2) if user and account}


def _uids(users: set[str]) -> dict[int, str]:
    out: dict[int, str] = {}
    for name in users:
        try:
            out[pwd.getpwnam(name).pw_uid] = name
        except KeyError:
            continue
    return out


def read_limits(run: Callable[..., str], config: dict[str, str]) -> AccountingLimits | None:
    """The enforced GPU limits of this cluster, or None where none are enforced. `run` runs a
    command and returns its stdout (raising on failure)."""
    if not enforced(config):
        return None
    cluster = config.get("ClusterName", "")
    where = [f"cluster={cluster}"] if cluster else []
    qos = parse_qos(run("sacctmgr", "-n", "-P", "list", "qos", f"format={QOS_FORMAT}"))
    assocs = parse_assocs(run("sacctmgr", "-n", "-P", "list", "assoc", *where, f"format={ASSOC_FORMAT}"))
    defaults = parse_default_accounts(
        run("sacctmgr", "-n", "-P", "list", "user", "format=User,DefaultAccount")
    )
    return AccountingLimits(
        qos=qos, assocs=assocs, default_account=defaults, users=_uids({a.user for a in assocs if a.user})
    )
