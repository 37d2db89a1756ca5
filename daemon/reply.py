"""Turns a decision into what the hook applies: the comment, the sbatch message, and in enforce mode
the rewritten GPU request, partition, environment and script.

Comments are ASCII on purpose: Slurm's accounting tables are often latin1, and sacct must show
them intact. Advice is short in the comment; the full record is in the decision log.
"""

from __future__ import annotations

from pydantic import BaseModel

from omnipilot.advisor.decide import Decision, Intent, ScoredArm
from omnipilot.daemon.clusterstate.cache import PartitionState, parse_gres
from omnipilot.daemon.protocol import AdviseReply, AdviseRequest


def _si(x: float) -> str:
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


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


def choose_partition(
    req: AdviseRequest, choice: ScoredArm, partitions: dict[str, PartitionState]
) -> str | None:
    """The job's own partition when it holds the chosen kind, else the first allowed one that does."""
    wanted = [p for p in (req.partition or "").split(",") if p]
    for p in wanted:
        if p in choice.partitions:
            return p
    limit = req.time_limit
    # a partition of only this kind before a mixed one: the job then cannot land elsewhere
    ordered = sorted(
        choice.partitions, key=lambda p: len(partitions[p].nodes) if p in partitions else 1 << 30
    )
    for p in ordered:
        max_t = partitions[p].max_time_min if p in partitions else None
        if limit is None or max_t is None or limit <= max_t:
            return p
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


def gpu_fields(req: AdviseRequest, choice: ScoredArm, partition: str) -> dict[str, str]:
    fields = {"gres": f"gpu:{choice.gres_type}:{choice.arm.tp}", "partition": partition}
    # a GPU request left in another field would add to or contradict the new one
    for name in ("tres_per_job", "tres_per_task"):
        value = getattr(req, name)
        if value and parse_gres(value)[1] > 0:
            fields[name] = ""
    return fields


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
    verb = "enforce" if enforce else "suggest"
    comment = f"{token_tag(token)} {verb}: {arm_text(choice)} {prediction_text(choice)}"
    comment += " (as asked)" if same else f" (asked {asked})"
    assumed = ", ".join(f"{k} {v}" for k, v in intent.assumed.items())
    lines = [f"omnipilot: {intent.model.name} [{assumed}]"]
    if enforce:
        changed = " ".join(f"{k}={v or '(cleared)'}" for k, v in enforce.set.items())
        lines.append(
            f"  enforced {arm_text(choice)} on partition {enforce.partition} (you asked {asked}): {changed}"
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
            lines.append("  rewrote the vllm serve flags in the job script to match")
    else:
        lines.append(f"  advised {arm_text(choice)} ({prediction_text(choice)}); you asked {asked}")
        if degraded:
            lines.append(f"  not enforced: {degraded}")
    if choice.prediction and choice.prediction.reasons:
        lines.append("  caution: " + "; ".join(choice.prediction.reasons[:3]))
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
