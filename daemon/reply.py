"""Turns a decision into what the hook applies: the comment, the sbatch message, and in enforce mode
the rewritten GPU request, partition, environment and script.

Comments are ASCII on purpose: Slurm's accounting tables are often latin1, and sacct must show
them intact. Advice is short in the comment; the full record is in the decision log.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from omnipilot.advisor.decide import Decision, Intent, ScoredArm, requested_arm, short_reason
from omnipilot.daemon.clusterstate.cache import Snapshot
from omnipilot.daemon.gpu_request import (
    Refused,
    Resources,
    access_problem,
    asked_total,
    fit_resources,
    gpu_hours,
    limit_problem,
    request_fields,
)
from omnipilot.daemon.protocol import AdviseReply, AdviseRequest
from omnipilot.plain_numbers import plain


def _si(x: float) -> str:
    x = float(plain(x).replace(",", ""))  # 999.6 is 1k, not 1,000
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{plain(x / div)}{suffix}"
    return plain(x)


def arm_text(s: ScoredArm) -> str:
    return f"{s.arm.label} tp{s.arm.tp}"


def prediction_text(s: ScoredArm) -> str:
    p = s.prediction
    if p is None:
        return "cheapest fit, no throughput model"
    tok = p.targets.get("tokens_per_s")
    head = f"~{_si(tok.q50)} tok/s [{_si(tok.q10)}-{_si(tok.q90)}]" if tok else "tok/s not predicted"
    return f"{head} conf={p.confidence}"


def token_tag(token: str) -> str:
    return f"omnipilot[{token}]"


class EnforcePlan(BaseModel):
    set: dict[str, str] = {}
    env: dict[str, str] = {}
    script: str | None = None
    partition: str
    notes: list[str] = []  # what else was adjusted to keep the job valid, for the sbatch message
    # the arm enforced in place of the advised one, which the job's QOS/association limits exclude
    arm: ScoredArm | None = None


class PartitionChoice(BaseModel):
    partition: str
    resources: Resources


def choose_partition(
    req: AdviseRequest, choice: ScoredArm, snap: Snapshot, gpus: int
) -> PartitionChoice | str:
    """The job's own partition when it holds the chosen kind, else the smallest allowed one that
    does (a partition of only this kind before a mixed one: the job then cannot land elsewhere);
    in each, the job must be allowed (AllowGroups/Accounts/Qos, Deny*), within MaxTime, within its
    QOS and association GPU limits there (with accounting), and fit the nodes and the partition's
    CPU and memory limits. A string says why none qualifies."""
    partitions = snap.partitions
    wanted = [p for p in (req.partition or "").split(",") if p and p in choice.partitions]
    rest = sorted(
        (p for p in choice.partitions if p not in wanted),
        key=lambda p: len(partitions[p].nodes) if p in partitions else 1 << 30,
    )
    why: list[str] = []
    for name in [*wanted, *rest]:
        part = partitions.get(name)
        if part is None:
            why.append(f"{name}: not in the cluster state")
            continue
        if (
            req.time_limit is not None
            and part.max_time_min is not None
            and req.time_limit > part.max_time_min
        ):
            why.append(f"{name}: the time limit exceeds its MaxTime")
            continue
        problem = access_problem(part, req.user_id if req.user_id is not None else req.submit_uid,
                                 req.account, req.qos)  # fmt: skip
        problem = problem or limit_problem(snap.limits, req, part, str(choice.gres_type), gpus)
        if problem:
            why.append(problem)
            continue
        nodes = [
            n for n in (snap.nodes.get(x) for x in part.nodes)
            if n is not None and n.usable and n.gres_type == choice.gres_type and n.gpus_total >= gpus
        ]  # fmt: skip
        if not nodes:
            why.append(f"{name}: no usable node with {gpus} {choice.gres_type} GPUs")
            continue
        try:
            return PartitionChoice(partition=name, resources=fit_resources(req, gpus, part, nodes))
        except Refused as exc:
            why.append(str(exc))
    return "no partition holding the advised GPUs accepts this job (" + "; ".join(why) + ")"


def more_gpu_hours(req: AdviseRequest, snap: Snapshot, gpus: int, partition: str) -> str | None:
    """Why the rewrite would ask for more GPU-hours (GPUs x time limit) than the job did, or None."""
    asked = asked_total(req)
    parts = snap.partitions
    own = (req.partition or "").split(",")[0]
    t_new = req.time_limit or (parts[partition].default_time_min if partition in parts else None)
    t_old = req.time_limit or (parts[own].default_time_min if own in parts else None) or t_new
    old, new = gpu_hours(asked, t_old), gpu_hours(gpus, t_new)
    if old is None or new is None:
        old, new = float(asked), float(gpus)  # no time known: the same limit on both sides
    if new > old:
        return (
            f"the advised arm takes {gpus} GPUs for {new:.1f} GPU-hours of time limit where the job asked "
            f"{asked} for {old:.1f}; set enforce.allow_more_gpu_hours = true to allow that"
        )
    return None


def enforce_blocker(req: AdviseRequest, intent: Intent, decision: Decision, allow_low: bool) -> str | None:
    """Why this job's advice may not be enforced (None: it may)."""
    choice = decision.choice
    assert choice is not None
    if req.req_nodes or req.features or req.exc_nodes:
        return "the job pins nodes or features (--nodelist/--exclude/--constraint); OmniPilot does not override them"
    if choice.prediction is None and not allow_low:
        return "no cost model is loaded: the cheapest-fit choice is only suggested (enforce.allow_low_confidence)"
    if choice.prediction is not None and choice.prediction.confidence == "low" and not allow_low:
        return "the model is not confident about this arm (outside what was measured)"
    if (req.num_nodes or 1) > 1 or (req.min_nodes or 1) > 1:
        return "multi-node jobs are outside OmniPilot's scope"
    return None


def gpu_fields(req: AdviseRequest, choice: ScoredArm, partition: str, res: Resources) -> dict[str, str]:
    """The job_desc fields of the new request, in the user's form (daemon/gpu_request.py)."""
    fields: dict[str, str] = request_fields(req, choice.arm.tp, str(choice.gres_type))
    fields["partition"] = partition
    if res.cpus_per_gpu is not None and req.cpus_per_tres:
        fields["cpus_per_tres"] = _per_gpu_text(req.cpus_per_tres, res.cpus_per_gpu)
        # sbatch turned the old count into a CPU minimum (--gpus=2 --cpus-per-gpu=10: 20); left above
        # what the new GPUs bring, 24.11 finds the job "never runnable" (22.05 lets it pass)
        brought = res.cpus_per_gpu * choice.arm.tp
        for name in ("min_cpus", "pn_min_cpus"):
            old = getattr(req, name)
            if old is not None and old > brought:
                fields[name] = str(brought)
    if res.mem_per_gpu_mb is not None and req.mem_per_tres:
        fields["mem_per_tres"] = _per_gpu_text(req.mem_per_tres, res.mem_per_gpu_mb)
    return fields


def _per_gpu_text(old: str, value: int) -> str:
    """'gres:gpu:10' with a new per-GPU value, in the same form (a typed entry keeps its type)."""
    m = re.match(r"^(.*?gpu(?::[A-Za-z][A-Za-z0-9_.\-]*)?[:=])\d+$", old)
    return f"{m.group(1)}{value}" if m else old


def job_env(choice: ScoredArm, token: str) -> dict[str, str]:
    return {
        "OMNIPILOT_TOKEN": token,  # `omnipilot record` files the run's history row under this decision
        "OMNIPILOT_TP": str(choice.arm.tp),
        "OMNIPILOT_QUANTIZATION": choice.arm.quantization_flag or "",
        "OMNIPILOT_MODEL": choice.arm.checkpoint,
        "OMNIPILOT_PRECISION": choice.arm.precision,
    }


def advice_reply(
    req: AdviseRequest,
    token: str,
    mode: str,
    intent: Intent,
    decision: Decision,
    enforce: EnforcePlan | None,
    degraded: str | None,
) -> AdviseReply:
    choice = decision.choice
    assert choice is not None
    asked = intent.asked.label()
    same = _is_asked(intent, choice)
    own = requested_arm(intent.asked, decision.ranked)
    # what the job's own request is predicted to do, beside the advice: the user sees the trade
    asked_said = f"{asked} ({prediction_text(own)})" if own is not None and own is not choice and own.prediction else asked
    verb = "enforce" if enforce else "suggest"
    comment = f"{token_tag(token)} {verb}: {arm_text(choice)} {prediction_text(choice)}"
    comment += " (as asked)" if same else f" (asked {asked})"
    assumed = ", ".join(f"{k} {v}" for k, v in intent.assumed.items())
    lines = [f"omnipilot: {intent.model.name} [{assumed}]"]
    if enforce:
        changed = " ".join(f"{k}={v or '(cleared)'}" for k, v in enforce.set.items())
        lines.append(
            f"  enforced {arm_text(choice)} on partition {enforce.partition} (you asked {asked_said}): {changed}"
        )
        lines.append(
            f"  exported OMNIPILOT_TP={choice.arm.tp} OMNIPILOT_MODEL={choice.arm.checkpoint}"
            + (
                f" OMNIPILOT_QUANTIZATION={choice.arm.quantization_flag}"
                if choice.arm.quantization_flag
                else ""
            )
        )
        if enforce.script is not None:
            lines.append("  rewrote the job script to match (vllm flags, srun GPU options)")
        for note in enforce.notes:
            lines.append(f"  also: {note}")
    else:
        lines.append(f"  advised {arm_text(choice)} ({prediction_text(choice)}); you asked {asked_said}")
        if degraded:
            lines.append(f"  not enforced: {degraded}")
    if choice.prediction and choice.prediction.reasons:
        lines.append("  caution: " + short_reason(choice.prediction.reasons))  # the whole list: explain
    if choice.fit.reasons:
        lines.append("  note: " + "; ".join(choice.fit.reasons))
    lines.append(f"  details: omnipilot explain --token {token}")
    return AdviseReply(
        id=req.id,
        action=verb,
        token=token,
        comment=comment,
        user_message="\n".join(lines) if mode in ("suggest", "enforce") else None,
        set=enforce.set if enforce else {},
        env=enforce.env if enforce else {},
        script=enforce.script if enforce else None,
    )


def _is_asked(intent: Intent, choice: ScoredArm) -> bool:
    a = intent.asked
    kind_ok = a.gpu_kind == choice.arm.gpu
    n_ok = (a.gpus or a.tp) == choice.arm.tp
    prec_ok = (a.precision or "bf16") == choice.arm.precision
    return kind_ok and n_ok and prec_ok


def info_reply(req: AdviseRequest, token: str, text: str, message: str | None) -> AdviseReply:
    """Advice that changes nothing: unknown model, no fit, out of scope, tag errors."""
    return AdviseReply(
        id=req.id, action="suggest", token=token, comment=f"{token_tag(token)} {text}", user_message=message
    )
