"""Enforce's rewrite of a job's GPU request, in the form the user chose (issue 13, DECISIONS.md §5).

`--gpus`/`-G` arrive in tres_per_job, `--gpus-per-task` in tres_per_task, `--gres`/`--gpus-per-node`
in tres_per_node: each is rewritten in its own field, with the prefix and separators it already
has ("gres:gpu:2" on 22.05, "gres/gpu:2" or "gres/gpu=2" on 24.11), so the daemon needs no Slurm
version. The variables sbatch exported for steps (SLURM_GPUS, SLURM_GPUS_PER_TASK, ...) get the
values sbatch would have exported for the new request: `srun` reads them, and a step asking for
the old count fails. CPUs and memory asked per GPU (cpus_per_tres, mem_per_tres) scale with the GPUs
as far as the target node and partition allow; beyond that the per-GPU value is lowered to fit, or
the rewrite is refused with a reason. Everything here is pure: no Slurm, no clock.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from omnipilot.daemon.clusterstate.snapshot import AccountingLimits, AssocLimits, NodeState, PartitionState
from omnipilot.daemon.protocol import AdviseRequest

# one GPU entry of a TRES/GRES string: [gres: | gres/]gpu[:type](:|=)count
_ENTRY = re.compile(
    r"^(?P<pre>gres[:/])?gpu(?::(?P<type>[A-Za-z][A-Za-z0-9_.\-]*))?(?P<sep>[:=])(?P<count>\d+)$"
)
_ENV_VALUE = re.compile(r"^(?:(?P<type>[A-Za-z][A-Za-z0-9_.\-]*):)?(?P<count>\d+)$")
GPU_FIELDS = ("tres_per_job", "tres_per_task", "tres_per_node")


class Refused(Exception):
    """The request cannot be rewritten to a form shown valid; the message says why."""


def _gpu_entry(text: str | None) -> tuple[int, re.Match[str]] | None:
    """The GPU entry of a comma-separated TRES string: (its index, its match)."""
    for i, item in enumerate((text or "").split(",")):
        m = _ENTRY.match(item.strip())
        if m:
            return i, m
    return None


def _replace_entry(text: str, value: int, gres_type: str | None) -> str:
    found = _gpu_entry(text)
    if found is None:
        raise Refused(f"the GPU request {text!r} is in a form OmniPilot does not rewrite")
    i, m = found
    typ = f":{gres_type}" if gres_type and (m.group("type") or gres_type) else ""
    items = text.split(",")
    items[i] = f"{m.group('pre') or ''}gpu{typ}{m.group('sep')}{value}"
    return ",".join(items)


def entry_count(text: str | None) -> int:
    found = _gpu_entry(text)
    return int(found[1].group("count")) if found else 0


def job_tasks(req: AdviseRequest) -> int:
    return max(req.num_tasks or 1, 1)


def asked_total(req: AdviseRequest) -> int:
    """The GPUs the job asked for in all: per job, else per node x nodes, else per task x tasks."""
    per_job = entry_count(req.tres_per_job)
    if per_job:
        return per_job
    per_node = entry_count(req.tres_per_node or req.gres)
    if per_node:
        return per_node * max(req.num_nodes or req.min_nodes or 1, 1)
    return entry_count(req.tres_per_task) * job_tasks(req)


def request_fields(req: AdviseRequest, gpus: int, gres_type: str) -> dict[str, str]:
    """The job_desc fields that carry the new request, each in the form the user wrote it."""
    fields: dict[str, str] = {}
    tasks = job_tasks(req)
    if entry_count(req.tres_per_job):
        fields["tres_per_job"] = _replace_entry(str(req.tres_per_job), gpus, gres_type)
    if entry_count(req.tres_per_task):
        if gpus % tasks:
            raise Refused(
                f"{gpus} GPUs cannot be split evenly over the job's {tasks} tasks (--gpus-per-task)"
            )
        fields["tres_per_task"] = _replace_entry(str(req.tres_per_task), gpus // tasks, gres_type)
    node_text = req.tres_per_node or req.gres
    if entry_count(node_text):
        # `gres = "gpu:KIND:N"` is read on every version; on 22.05 gres and tres_per_node are one field
        fields["gres"] = f"gpu:{gres_type}:{gpus}"
    if not fields:
        fields["gres"] = f"gpu:{gres_type}:{gpus}"
    return fields


def _env_count(old: str, value: int, gres_type: str) -> str:
    m = _ENV_VALUE.match(old.strip())
    if m is None:
        raise Refused(f"sbatch exported a GPU request OmniPilot cannot rewrite ({old!r})")
    return f"{gres_type}:{value}" if m.group("type") else str(value)


def env_values(
    req: AdviseRequest, gpus: int, gres_type: str, cpus_per_gpu: int | None, mem_per_gpu_mb: int | None
) -> dict[str, str]:
    """New values for the GPU variables sbatch exported (only those the job has)."""
    env = req.gpu_env
    out: dict[str, str] = {}
    tasks = job_tasks(req)
    if "SLURM_GPUS_PER_SOCKET" in env:
        raise Refused(
            "the job asks for GPUs per socket (--gpus-per-socket), which OmniPilot does not rewrite"
        )
    if "SLURM_GPUS" in env:
        out["SLURM_GPUS"] = _env_count(env["SLURM_GPUS"], gpus, gres_type)
    if "SLURM_GPUS_PER_NODE" in env:
        out["SLURM_GPUS_PER_NODE"] = _env_count(env["SLURM_GPUS_PER_NODE"], gpus, gres_type)
    if "SLURM_GPUS_PER_TASK" in env:
        if gpus % tasks:
            raise Refused(f"{gpus} GPUs cannot be split evenly over the job's {tasks} tasks")
        out["SLURM_GPUS_PER_TASK"] = _env_count(env["SLURM_GPUS_PER_TASK"], gpus // tasks, gres_type)
    if "SLURM_TRES_PER_TASK" in env and entry_count(env["SLURM_TRES_PER_TASK"]):
        out["SLURM_TRES_PER_TASK"] = _replace_entry(env["SLURM_TRES_PER_TASK"], gpus // tasks, gres_type)
    if "SLURM_GRES" in env and entry_count(env["SLURM_GRES"]):
        out["SLURM_GRES"] = _replace_entry(env["SLURM_GRES"], gpus, gres_type)
    if "SLURM_CPUS_PER_GPU" in env and cpus_per_gpu is not None:
        out["SLURM_CPUS_PER_GPU"] = str(cpus_per_gpu)
    if "SLURM_MEM_PER_GPU" in env and mem_per_gpu_mb is not None:
        out["SLURM_MEM_PER_GPU"] = str(mem_per_gpu_mb)
    return out


class Resources(BaseModel):
    """What the rewritten job will ask of one node, and the per-GPU values to write (None: unchanged)."""

    cpus: int
    mem_mb: int | None
    cpus_per_gpu: int | None = None
    mem_per_gpu_mb: int | None = None
    lowered: list[str] = []


def _per_gpu(text: str | None) -> int | None:
    return entry_count(text) or None


def _min(*values: int | None) -> int | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def fit_resources(req: AdviseRequest, gpus: int, part: PartitionState, nodes: list[NodeState]) -> Resources:
    """CPUs and memory of the rewritten job on the partition's nodes of the target kind: per-GPU
    values scale with the GPUs up to the node size and the partition's MaxCPUsPerNode,
    MaxMemPerNode and MaxMemPerCPU, and are lowered to fit beyond that; fixed values must fit as
    they are. Raises Refused when the job cannot fit."""
    node_cpus = _min(*(n.cpus for n in nodes))
    node_mem = _min(*(n.real_memory_mb for n in nodes))
    cap_cpus = _min(node_cpus, part.max_cpus_per_node)
    out = Resources(cpus=1, mem_mb=None)
    cpg = _per_gpu(req.cpus_per_tres)
    if cpg is not None:
        if cap_cpus is not None and cpg * gpus > cap_cpus:
            if cap_cpus < gpus:
                raise Refused(f"{gpus} GPUs need at least {gpus} CPUs; {part.name}'s nodes allow {cap_cpus}")
            out.lowered.append(f"--cpus-per-gpu {cpg} -> {cap_cpus // gpus} (node limit {cap_cpus} CPUs)")
            cpg = cap_cpus // gpus
        out.cpus, out.cpus_per_gpu = cpg * gpus, cpg
    else:
        out.cpus = (req.cpus_per_task or 1) * job_tasks(req)
        if cap_cpus is not None and out.cpus > cap_cpus:
            raise Refused(f"the job asks for {out.cpus} CPUs; {part.name}'s nodes allow {cap_cpus}")
    cap_mem = _min(node_mem, part.max_mem_per_node_mb,
                   part.max_mem_per_cpu_mb * out.cpus if part.max_mem_per_cpu_mb else None)  # fmt: skip
    mpg = _per_gpu(req.mem_per_tres)
    if mpg is not None:
        # never lowered to fit: less memory than the user asked per GPU is a job that may die of OOM
        if cap_mem is not None and mpg * gpus > cap_mem:
            raise Refused(
                f"--mem-per-gpu {mpg} MB x {gpus} GPUs is more than {part.name} allows ({cap_mem} MB per node)"
            )
        out.mem_mb, out.mem_per_gpu_mb = mpg * gpus, mpg
        # 22.05 still applies DefMemPerCPU beside --mem-per-gpu when it checks MaxMemPerNode: a job
        # under it would pend forever on MaxMemPerLimit
        floor = part.def_mem_per_cpu_mb * out.cpus if part.def_mem_per_cpu_mb else None
        if floor is not None and cap_mem is not None and floor > cap_mem:
            raise Refused(
                f"{part.name}'s DefMemPerCPU gives {out.cpus} CPUs {floor} MB, over its {cap_mem} MB per node"
            )
    elif req.min_mem_per_node is not None:
        out.mem_mb = req.min_mem_per_node or node_mem  # --mem=0: the whole node
    elif req.min_mem_per_cpu is not None:
        out.mem_mb = req.min_mem_per_cpu * out.cpus
    elif part.def_mem_per_gpu_mb is not None:
        out.mem_mb = part.def_mem_per_gpu_mb * gpus
    elif part.def_mem_per_cpu_mb is not None:
        out.mem_mb = part.def_mem_per_cpu_mb * out.cpus
    elif part.def_mem_per_node_mb is not None:
        out.mem_mb = part.def_mem_per_node_mb
    else:
        out.mem_mb = node_mem
    if out.mem_mb is not None and cap_mem is not None and out.mem_mb > cap_mem:
        raise Refused(
            f"the job would get {out.mem_mb} MB of memory; {part.name} allows {cap_mem} MB per node"
        )
    return out


def access_problem(part: PartitionState, uid: int | None, account: str | None, qos: str | None) -> str | None:
    """Why the job's user, account or QOS may not use `part` (None: it may), as slurmctld judges
    it. Root gets no exception: 22.05 lets root into any AllowGroups partition, 24.11 refused such a
    job ("Requested node configuration is not available"), and enforce must never pick a partition
    only a version's bypass opens. A job naming no account or QOS passes a list only when it is ALL
    (its default account is not known here)."""
    if part.allow_groups is not None:
        if uid is None or uid not in (part.allow_uids or []):
            return f"{part.name} allows only groups {','.join(part.allow_groups)}"
    if part.allow_accounts is not None and (account or "") not in part.allow_accounts:
        return f"{part.name} allows only accounts {','.join(part.allow_accounts)}"
    if part.deny_accounts is not None and account in part.deny_accounts:
        return f"{part.name} denies account {account}"
    if part.allow_qos is not None and (qos or "") not in part.allow_qos:
        return f"{part.name} allows only QOS {','.join(part.allow_qos)}"
    if part.deny_qos is not None and qos in part.deny_qos:
        return f"{part.name} denies QOS {qos}"
    return None


def gpu_hours(gpus: int, minutes: int | None) -> float | None:
    return gpus * minutes / 60 if minutes is not None else None


_LIMIT_WORDS = {
    "per_job": ("per job", "MaxTRESPerJob"),
    "per_user": ("per user", "MaxTRESPerUser"),
    "per_account": ("per account", "MaxTRESPerAccount"),
    "grp": ("in all", "GrpTRES"),
    "max_per_job": ("per job", "MaxTRES"),
}


def job_association(
    limits: AccountingLimits, req: AdviseRequest, partition: str
) -> tuple[str | None, AssocLimits | None, str | None]:
    """The job's user name, association and QOS as slurmctld picks them: the job's account, else the
    user's DefaultAccount; a partition's own association before the account's; the job's QOS,
    else the association's DefaultQOS, else its only QOS, else `normal` where it may use it."""
    uid = req.user_id if req.user_id is not None else req.submit_uid
    user = limits.users.get(uid) if uid is not None else None
    if user is None:
        return None, None, req.qos
    account = req.account or limits.default_account.get(user)
    rows = [a for a in limits.assocs if a.user == user and a.account == account]
    assoc = next((a for a in rows if a.partition == partition), None) or next(
        (a for a in rows if not a.partition), None
    )
    qos = req.qos
    if not qos and assoc is not None:
        qos = assoc.default_qos or (
            assoc.qos[0] if len(assoc.qos) == 1 else "normal" if "normal" in assoc.qos else None
        )
    return user, assoc, qos


def limit_problem(
    limits: AccountingLimits | None,
    req: AdviseRequest,
    part: PartitionState | None,
    gres_type: str,
    gpus: int,
) -> str | None:
    """Which QOS or association GPU limit `gpus` GPUs of `gres_type` would exceed for this job (None:
    none, or no limits are enforced). A job over MaxTRESPerJob/PerUser or GrpTRES pends forever
    (QOSMaxGRESPerJob, AssocMaxGRES...) or is refused: enforce must never ask for that. Checked
    against the limits alone, not the GPUs the user's other jobs hold (those free up)."""
    if limits is None:
        return None
    _user, assoc, qos = job_association(limits, req, part.name if part else (req.partition or ""))
    checks: list[tuple[str, str, dict[str, int]]] = []
    for name, who in (
        (qos, "QOS"),
        (part.qos if part else None, f"partition {part.name if part else ''}'s QOS"),
    ):
        q = limits.qos.get(name or "")
        if q is not None:
            label = f"{who} {q.name}"
            checks += [(label, key, getattr(q, key)) for key in ("per_job", "per_user", "per_account", "grp")]
    row, hops = assoc, 0
    while row is not None and hops < 16:  # the user's row, its account, that account's parents
        label = f"association {row.account}/{row.user}" if row.user else f"account {row.account}"
        checks += [(label, "max_per_job", row.max_per_job), (label, "grp", row.grp)]
        up = row.account if row.user else row.parent
        row = (
            next((a for a in limits.assocs if not a.user and a.account == up and not a.partition), None)
            if up
            else None
        )
        hops += 1
    for label, key, values in checks:
        for tres in ("gres/gpu", f"gres/gpu:{gres_type}"):
            cap = values.get(tres)
            if cap is not None and gpus > cap:
                per, field = _LIMIT_WORDS[key]
                kind = f"{gres_type} " if ":" in tres else ""
                return f"{label} allows {cap} {kind}GPUs {per} ({field} {tres}={cap})"
    return None
