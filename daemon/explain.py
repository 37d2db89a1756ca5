"""Human-readable rendering of one decision record (`omnipilot explain`): for people, so plain
numbers (no 1.405e+04), words for values (no Python reprs), every utility term."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any


def num(x: object) -> str:
    """A number as people read it: 14,050 / 812.5 / 3.42 / 0.0071; anything else as text."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return "-" if x is None else str(x)
    if isinstance(x, float) and not math.isfinite(x):
        return "unbounded" if x > 0 else ("-unbounded" if x < 0 else "not a number")
    a = abs(x)
    if isinstance(x, int) or a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    if a == 0:
        return "0"
    if a >= 0.0001:
        return f"{x:.4f}".rstrip("0")
    return "below 0.0001" if x > 0 else "above -0.0001"


def _words(value: object) -> str:
    """A dict or list as `key value, ...` text."""
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_words(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list | tuple):
        return ", ".join(_words(v) for v in value)
    return num(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _interval(pred: dict[str, Any] | None, target: str) -> str:
    if not pred or target not in pred.get("targets", {}):
        return "-"
    t = pred["targets"][target]
    return f"{num(t.get('q50'))} [{num(t.get('q10'))} to {num(t.get('q90'))}]"


def _utility_terms(u: dict[str, Any] | None, unit: str) -> list[str]:
    """Every term of the utility (advisor/utility.py adds them: value minus each cost)."""
    if not u:
        return []
    lines = [
        f"utility {num(u.get('utility'))} {unit} = value {num(u.get('value'))} "
        f"(KV-cache factor {num(u.get('kv_factor'))}) - compute {num(u.get('compute'))} "
        f"- power {num(u.get('power'))} - queue {num(u.get('queue'))} "
        f"- failure {num(u.get('failure'))} - SLO {num(u.get('slo'))}",
        f"expected queue wait {num(u.get('queue_wait_h'))} h, launch success probability "
        f"{num(u.get('p_success'))}"
        + (
            f", probability of missing the TTFT target {num(u['p_slo_violation'])}"
            + (" (excluded: too likely to miss)" if u.get("slo_excluded") else "")
            if u.get("p_slo_violation") is not None
            else ""
        ),
    ]
    lines += [f"note: {n}" for n in u.get("notes", []) or []]
    return lines


def _used(rec: dict[str, Any]) -> str:
    used = rec.get("hook_used")
    if used is True:
        return "the hook applied this answer"
    if used is False:
        return "the hook gave up waiting (timeout or lost reply): the job went through without this answer"
    return "not known yet whether the hook applied this answer (its next request will tell)"


def format_record(rec: dict[str, Any]) -> str:
    ts = rec.get("ts")
    when = (
        datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if isinstance(ts, int | float)
        else "an unknown time"
    )
    unit = str(rec.get("cost_unit") or "cost units")
    lines = [
        f"decision {rec.get('token')} at {when}",
        f"  mode {rec.get('mode')}, outcome {str(rec.get('outcome', '-')).replace('_', ' ')}, "
        f"action {rec.get('action', 'none')}, answered in {num(rec.get('latency_ms'))} ms",
        f"  cost model {rec.get('model_version')}",
        f"  {_used(rec)}",
    ]
    if rec.get("model"):
        w = rec.get("workload") or {}
        lines.append(
            f"  model {rec['model']}: concurrency {num(w.get('concurrency'))}, context {num(w.get('context'))}, "
            f"prompt {num(w.get('prompt_len'))}, output {num(w.get('output_len'))} tokens"
        )
        assumed = rec.get("assumed") or {}
        if assumed:
            lines.append("  assumed: " + ", ".join(f"{k.replace('_', ' ')} from {v}" for k, v in assumed.items()))
        if rec.get("asked"):
            lines.append(f"  asked: {_words(rec['asked'])}")
    if rec.get("degraded"):
        lines.append(f"  not enforced: {rec['degraded']}")
    for note in rec.get("notes", []) or []:
        lines.append(f"  note: {note}")
    arms = rec.get("arms", []) or []
    if rec.get("abstained"):
        lines.append("  abstained: the best-utility arm was low-confidence; the cheapest-fit arm was advised")
    if arms:
        lines.append(f"  ranking ({rec.get('rule')}), best first:")
        if "slo_ttft_s" in rec and rec["slo_ttft_s"] is None:
            lines.append("  (no TTFT SLO applies to this job, so TTFT was not predicted: tag slo_ttft_ms= for it)")
        lines.append(
            f"    {'#':>2} {'gpu':12s} {'tp':>2} {'prec':5s} {'cost/h':>8s} {'KV use':>6s} "
            f"{'tokens/s median [10%-90%]':30s} {'TTFT s median [10%-90%]':26s} confidence"
        )
        for i, a in enumerate(arms, 1):
            p = a.get("prediction")
            lines.append(
                f"    {i:>2} {a.get('gpu')!s:12s} {num(a.get('tp')):>2} {a.get('precision')!s:5s} "
                f"{num(a.get('cost_per_hour')):>8s} {num(a.get('kv_occupancy')):>6s} "
                f"{_interval(p, 'tokens_per_s'):30s} {_interval(p, 'ttft_p50_s'):26s} "
                f"{p.get('confidence', 'none') if p else 'no prediction'}"
            )
            for term in _utility_terms(a.get("utility"), unit):
                lines.append(f"       {term}")
            reasons = list((p or {}).get("reasons", []) or []) + list(a.get("fit_reasons", []) or [])
            if reasons:
                lines.append(f"       {'; '.join(str(r) for r in reasons)}")
    if rec.get("smallest_elsewhere"):
        lines.append(f"  smallest arm that fits elsewhere: {rec['smallest_elsewhere']}")
    return "\n".join(lines)
