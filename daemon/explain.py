"""Human-readable rendering of one decision record (`omnipilot explain`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def _interval(pred: dict[str, Any] | None, target: str, unit: str) -> str:
    if not pred or target not in pred.get("targets", {}):
        return "-"
    t = pred["targets"][target]
    return f"{t['q50']:.4g} [{t['q10']:.4g}-{t['q90']:.4g}]{unit}"


def _utility_terms(u: dict[str, Any] | None) -> str:
    """One line of utility terms (cost units): value minus each cost, as advisor/utility.py adds them."""
    if not u:
        return ""
    text = (f"utility {u['utility']:.4g} = value {u['value']:.4g} (kv x{u['kv_factor']:.2f})"
            f" - compute {u['compute']:.4g} - power {u['power']:.4g}"
            f" - queue {u['queue']:.4g} ({u['queue_wait_h']:.2g} h)"
            f" - failure {u['failure']:.4g} (p_ok {u['p_success']:.2f}) - slo {u['slo']:.4g}")  # fmt: skip
    if u.get("p_slo_violation") is not None:
        text += f" (P(ttft>slo) {u['p_slo_violation']:.2f}{', excluded' if u.get('slo_excluded') else ''})"
    return text


def format_record(rec: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(float(rec.get("ts", 0)), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"decision {rec.get('token')} at {when}",
        f"  mode {rec.get('mode')}, outcome {rec.get('outcome')}, action {rec.get('action', 'none')}, "
        f"model {rec.get('model_version')}, answered in {rec.get('latency_ms', '?')} ms",
    ]
    if rec.get("model"):
        w = rec.get("workload", {})
        lines.append(
            f"  model {rec['model']}: concurrency {w.get('concurrency')}, context {w.get('context')}, "
            f"prompt {w.get('prompt_len')}, output {w.get('output_len')}"
        )
        lines.append("  assumed: " + ", ".join(f"{k} from {v}" for k, v in rec.get("assumed", {}).items()))
        lines.append(f"  asked: {rec.get('asked')}")
    if rec.get("degraded"):
        lines.append(f"  not enforced: {rec['degraded']}")
    for note in rec.get("notes", []):
        lines.append(f"  note: {note}")
    arms = rec.get("arms", [])
    if rec.get("abstained"):
        lines.append("  abstained: the best-utility arm was low-confidence; the cheapest-fit arm was advised")
    if arms:
        lines.append(f"  ranking ({rec.get('rule')}), best first:")
        lines.append(
            f"    {'#':>2} {'gpu':12s} {'tp':>2} {'prec':5s} {'cost/h':>7s} {'kv occ':>6s} "
            f"{'tokens/s q50 [q10-q90]':28s} {'ttft s':22s} conf"
        )
        for i, a in enumerate(arms, 1):
            p = a.get("prediction")
            lines.append(
                f"    {i:>2} {a['gpu']:12s} {a['tp']:>2} {a['precision']:5s} {a['cost_per_hour']:>7.2f} "
                f"{a['kv_occupancy']:>6.2f} {_interval(p, 'tokens_per_s', ''):28s} {_interval(p, 'ttft_p50_s', ''):22s} "
                f"{p['confidence'] if p else 'none'}"
            )
            terms = _utility_terms(a.get("utility"))
            if terms:
                lines.append(f"       {terms}")
            reasons = (p or {}).get("reasons", []) + a.get("fit_reasons", [])
            if reasons and i <= 5:
                lines.append(f"       {'; '.join(reasons)}")
    if rec.get("smallest_elsewhere"):
        lines.append(f"  smallest arm that fits elsewhere: {rec['smallest_elsewhere']}")
    return "\n".join(lines)
