"""The paper's tables (1, B1, B4, B7, Fig. 3) rendered as text from an `evaluate` report."""

from __future__ import annotations

import math
from typing import Any


def _pct(v: Any) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * float(v):.1f}%"


def _num(v: Any, fmt: str = "{:.3f}") -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(float(v))


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Evaluation on {report['rows']} training rows, GroupKFold by workload cell "
        f"(k={report['n_splits']}), roofline={report['roofline']}",
        "",
    ]
    targets = report["targets"]
    lines += [
        "Table 1 — held-out-cell accuracy (in-envelope rows; MAPE of q50)",
        f"{'target':<20}{'rows':>6}{'MAPE':>9}{'R2(log)':>9}{'80% cov':>9}{'abstain':>9}{'crossing':>10}",
    ]
    for name, t in targets.items():
        if not t.get("fitted"):
            lines.append(f"{name:<20}{t['n_rows']:>6}  {t.get('reason', 'not fitted')}")
            continue
        lines.append(
            f"{name:<20}{t['n_rows']:>6}{_pct(t['mape']):>9}{_num(t['r2_log']):>9}"
            f"{_pct(t['coverage_80']['held_out_cell']):>9}{_pct(t['abstain_rate']):>9}"
            f"{_pct(t['crossing_rate']):>10}"
        )
    lines += [
        "",
        "Table B1 — conformal offset: random-fold vs held-out-cell (nested, disjoint cells)",
        f"{'target':<20}{'random-fold cov':>16}{'held-out-cell cov':>19}{'width x':>9}",
    ]
    for name, t in targets.items():
        if t.get("fitted"):
            cov = t["coverage_80"]
            lines.append(
                f"{name:<20}{_pct(cov['random_fold']):>16}{_pct(cov['held_out_cell']):>19}"
                f"{_num(t['width_ratio'], '{:.2f}'):>9}"
            )
    prim = targets.get("tokens_per_s", {})
    if prim.get("fitted"):
        lines += [
            "",
            "Table B4 — confidence-label calibration (tokens_per_s, held-out cells)",
            f"{'confidence':<12}{'n':>6}{'MAPE':>9}{'80% cov':>9}{'q10-q90 width':>15}",
        ]
        for band, b in prim["confidence_bands"].items():
            lines.append(
                f"{band:<12}{b['n']:>6}{_pct(b['mape']):>9}{_pct(b['coverage_80']):>9}{_pct(b['width']):>15}"
            )
    for key, title in (("leave_one_family_out", "family"), ("leave_one_gpu_out", "GPU kind")):
        lines += [
            "",
            f"Table B7 — leave-one-{title}-out (tokens_per_s)",
            f"{'held out':<22}{'n':>6}{'MAPE':>9}{'flagged':>9}{'abstain':>9}",
        ]
        for value, r in report.get(key, {}).items():
            lines.append(
                f"{value:<22}{r['n']:>6}{_pct(r['mape']):>9}{_pct(r['flag_rate']):>9}{_pct(r['abstain_rate']):>9}"
            )
    lines += [
        "",
        "Fig. 3 — learning curve (tokens_per_s, held-out cells, mean over seeds x folds)",
        f"{'rows':>6}{'R2(log)':>9}{'median APE':>12}",
    ]
    for p in report.get("learning_curve", []):
        lines.append(f"{p['rows']:>6}{_num(p['r2_log']):>9}{_pct(p['median_ape']):>12}")
    if "roofline_ablation" in report:
        lines += ["", "Physics ablation (tokens_per_s held-out-cell MAPE; leave-one-GPU-out MAPE)"]
        for mode, r in report["roofline_ablation"].items():
            extra = ", ".join(
                f"{k.split('[')[1].rstrip(']')} {_pct(v)}" for k, v in r.items() if k.startswith("leave_out")
            )
            lines.append(f"  roofline={mode:<8} MAPE {_pct(r['mape'])}  R2 {_num(r['r2_log'])}  | {extra}")
    f = report.get("flagging", {})
    lines += [
        "",
        f"Flagged (not high): held-out cells {_pct(f.get('held_out_cell_flag_rate'))}, "
        f"held-out families {_pct(f.get('held_out_family_flag_rate'))}, "
        f"held-out GPU kinds {_pct(f.get('held_out_gpu_flag_rate'))}",
    ]
    lines += _goals(prim)
    return "\n".join(lines)


def _goals(prim: dict[str, Any]) -> list[str]:
    if not prim.get("fitted"):
        return ["", "Goals: tokens_per_s not fitted: not reached"]
    mape, cov = prim["mape"], prim["coverage_80"]["held_out_cell"]
    ok_mape = mape <= 0.08
    ok_cov = abs(cov - 0.80) <= 0.04
    return [
        "",
        f"Goal tokens_per_s in-envelope MAPE <= 8%: {_pct(mape)} — {'reached' if ok_mape else 'NOT reached'}",
        f"Goal held-out-cell coverage 80 ± 4%: {_pct(cov)} — {'reached' if ok_cov else 'NOT reached'}",
    ]
