"""`omnipilot backtest` as text: the tables of backtest.run_backtest's report."""

from __future__ import annotations

import math
from typing import Any


def _pct(v: Any) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * float(v):.1f}%"


def _policy_table(block: dict[str, Any]) -> list[str]:
    lines = [
        f"  {'policy':22s} {'top-1':>6s} {'95% CI':>15s} {'regret':>8s} {'95% CI':>17s}  {'omnipilot - it (95% CI)':>24s}"
    ]
    for pol, m in block["policies"].items():
        if m["top1"] is None:
            continue
        diff = m.get("regret_diff_ci")
        lines.append(
            f"  {pol:22s} {m['top1']:6.1%} [{m['top1_ci'][0]:5.1%},{m['top1_ci'][1]:6.1%}] "
            f"{m['regret']:8.4f} [{m['regret_ci'][0]:.4f},{m['regret_ci'][1]:.4f}]"
            + (f"  [{diff[0]:+.4f},{diff[1]:+.4f}]" if diff else "")
        )
    om = block["policies"].get("omnipilot", {})
    if "fallback_rate" in om:
        lines.append(
            f"  omnipilot fell back (best arm low-confidence) in {om['fallback_rate']:.1%} of cells, "
            f"kept the request in {om['kept_request_rate']:.1%}"
        )
    return lines


def render_backtest(r: dict[str, Any]) -> str:
    lines = [
        f"placement backtest: {r['cells']} multi-arm cells ({r['rows']} rows, {r['n_splits']}-fold GroupKFold"
        f" by cell), value_per_token {r['value_per_token']:g}, regret = {r['regret_unit']}",
        f"the request (kept by decide()'s fallback when the best arm is low-confidence): {r['request_stand_in']}",
    ]
    d = r["decisions"]
    lines.append(f"\njoint (GPU, TP, precision): {d['joint']['cells']} cells")
    lines += _policy_table(d["joint"])
    p = d["precision"]
    lines.append(
        f"\nprecision (cell x GPU kind, TP free): {p['cells']} of {p['candidates']} sub-cells where the wrong "
        f"precision costs >= {p['matters_threshold']:g} regret; {p['discriminating']} of them "
        f"({_pct(p['discriminating_frac'])}) tell policies apart; best precision there: "
        + (", ".join(f"{k} {v}" for k, v in p["best_precision"].items()) or "none")
    )
    lines += _policy_table(p)
    same = [k for k, v in p.get("separated_from_omnipilot", {}).items() if v == 0]
    if same and p["cells"]:
        lines.append(f"  not told apart from omnipilot by any of these cells: {', '.join(same)}")
    if "held_out_family" in d:
        lines.append(
            f"\njoint with the whole family held out (every arm low-confidence): {d['held_out_family']['cells']} cells"
        )
        lines += _policy_table(d["held_out_family"])
    cb = r.get("confidence_bands")
    if cb:
        lines.append(f"\nconfidence bands (held-out rows: {', '.join(cb['held_out'])}; raw q10-q90 interval)")
        lines.append(
            f"  {'band':8s} {'rows':>6s}"
            + "".join(f" {h:>10s}" for h in cb["held_out"])
            + f" {'MAPE':>8s} {'80% cov':>8s}"
        )
        for band, b in cb["bands"].items():
            lines.append(
                f"  {band:8s} {b['n']:6d}"
                + "".join(f" {b['by_held_out'].get(h, 0):10d}" for h in cb["held_out"])
                + f" {_pct(b['mape']):>8s} {_pct(b['coverage_80_raw']):>8s}"
            )
        lines.append(
            f"  ordered (MAPE grows from high to low over bands with rows): {'yes' if cb['ordered'] else 'NO'}; "
            f"low worse than high: {'yes' if cb['low_worse_than_high'] else 'NO'}"
        )
    lines.append("\nper model-size band (joint): omnipilot / cheapest_fit top-1, regret")
    for band, b in r["by_band"].items():
        o, c = b["policies"]["omnipilot"], b["policies"]["cheapest_fit"]
        lines.append(
            f"  {band:7s} {b['cells']:4d} cells  {o['top1']:6.1%} {o['regret']:.4f}   {c['top1']:6.1%} {c['regret']:.4f}"
        )
    if r.get("h200"):
        lines.append(f"\n{r['h200']['note']}")
    g = r["goal"]
    lines.append(
        f"\ngoal top-1 >= 90%: {'met' if g['top1_met'] else 'NOT met'}; regret below every baseline: "
        f"{'yes' if g['regret_below_every_baseline'] else 'NO'} (95% paired CI: "
        f"{'yes' if g['regret_below_every_baseline_ci'] else 'NO'})"
    )
    return "\n".join(lines)
