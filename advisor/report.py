"""`omnipilot report`: one self-contained HTML page of plots an admin can show.

The cost model itself (what it was trained on, where it has measurements: from its manifest, so
the page has plots with nothing else), calibration (held-out-cell predicted vs measured tokens/s
with 80 % intervals; coverage by confidence band), the placement backtest against every baseline
(with the precision decision and the error by confidence band), the daemon's decisions from its
log (asked vs advised, arms, confidence, abstention reasons, over time) and how much of the site's
requests the measured envelope covers. The plots are PNGs inlined as data: URIs, the style is
inline: the page loads nothing from anywhere, so it can be mailed or opened offline.

Runtime is kept modest: the calibration reuses evaluate's nested cross-validation on the decision
target only, the backtest runs with 3 folds and 200 bootstrap draws.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import structlog

from omnipilot.catalog import Catalog
from omnipilot.config import Settings
from omnipilot.plain_numbers import plain

log = structlog.get_logger("omnipilot.report")
BANDS = ("high", "medium", "low")
COLORS = {"high": "#2b8a3e", "medium": "#e8a317", "low": "#c92a2a", "none": "#868e96"}


class Plot:
    def __init__(self, title: str, png: bytes, caption: str) -> None:
        self.title, self.png, self.caption = title, png, caption


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def _figure(w: float = 7.0, h: float = 4.2) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(w, h))


# --- the cost model itself (its manifest: works with no history and no decision log) ----------------


def model_plots(model_dir: Path) -> tuple[list[Plot], list[str]]:
    """What the loaded cost model learned from and where it has measurements, read from its manifest."""
    try:
        man = json.loads((model_dir / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        return [], [f"The cost model's manifest could not be read ({exc})."]
    _figure()  # the Agg backend
    import matplotlib.pyplot as plt

    plt.close("all")
    targets: dict[str, Any] = man.get("targets", {})
    unfitted: dict[str, str] = man.get("unfitted", {})
    names = list(targets)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    rows = [int(targets[n].get("n_rows", 0)) for n in names]
    a1.barh(names, rows, color="#1971c2")
    a1.set(xscale="log", xlabel="labelled training rows", title="trained on")
    a1.invert_yaxis()
    mapes = [100 * float((targets[n].get("metrics") or {}).get("mape_held_out_cell", np.nan)) for n in names]
    a2.barh(names, mapes, color="#5c940d")
    a2.set(xlabel="MAPE on held-out workload cells (%)", title="held-out error")
    a2.invert_yaxis()
    trained = Plot(
        "What the cost model predicts, and from how much",
        _png(fig),
        f"Model {man.get('version', '?')}, {man.get('n_rows', '?')} training rows. Not predicted: "
        + ("; ".join(f"{k} ({v})" for k, v in unfitted.items()) or "none")
        + ".",
    )
    env = (targets.get("tokens_per_s") or {}).get("envelope") or {}
    pairs = [tuple(p) for p in env.get("pairs", {}).get("family|gpu", [])]
    fams = sorted({f for f, _ in pairs})
    gpus = sorted({g for _, g in pairs})
    fig, ax = plt.subplots(figsize=(7.5, max(3.0, 0.28 * len(fams) + 1.2)))
    grid = (
        np.array([[1.0 if (f, g) in pairs else 0.0 for g in gpus] for f in fams])
        if pairs
        else np.zeros((1, 1))
    )
    ax.imshow(grid, cmap="Greens", vmin=0, vmax=1.3, aspect="auto")
    ax.set(xticks=range(len(gpus)), yticks=range(len(fams)))
    ax.set_xticklabels(gpus, rotation=30, ha="right", fontsize=8)
    ax.set_yticklabels(fams, fontsize=8)
    measured = Plot(
        "Where tokens/s was measured: model family × GPU kind",
        _png(fig),
        f"{len(pairs)} measured pairs. A request outside them is predicted with medium confidence (pair never "
        "measured) or low (family or kind never measured), and low confidence makes the advice keep the "
        "user's request or fall back to the cheapest fit.",
    )
    ranges = env.get("ranges", {})
    fig, ax = plt.subplots(figsize=(7.5, 2.8))
    keys = [k for k in ("params_b", "context_len", "prompt_len", "output_len", "concurrency") if k in ranges]
    for i, k in enumerate(keys):
        lo, hi = float(ranges[k]["lo"]), float(ranges[k]["hi"])
        ax.plot([lo, hi], [i, i], lw=6, color="#1971c2", solid_capstyle="butt")
        ax.annotate(f"{plain(lo, 4)} – {plain(hi, 4)}", (hi, i), xytext=(4, -3), textcoords="offset points", fontsize=8)
    ax.set(xscale="log", yticks=range(len(keys)), yticklabels=[k.replace("_", " ") for k in keys])
    ax.invert_yaxis()
    span = Plot(
        "Measured ranges (tokens/s)",
        _png(fig),
        "A request with a value outside a range is low-confidence (model size in billions of parameters, "
        "lengths in tokens, concurrency in requests).",
    )
    return [trained, measured, span], []


# --- calibration ----------------------------------------------------------------------------------


def calibration(frame: pd.DataFrame, catalog: Catalog) -> tuple[list[Plot], dict[str, Any]]:
    """Held-out-cell predictions of tokens/s (evaluate's nested CV), as plots and a summary."""
    from omnipilot.advisor.conformal import apply_offset
    from omnipilot.advisor.evaluate import PRIMARY, nested_cv, target_metrics
    from omnipilot.advisor.features import FeatureSpec, Featurizer
    from omnipilot.advisor.quantile import rearrange
    from omnipilot.advisor.training import TrainConfig, labelled, select_training_rows

    config = TrainConfig()
    rows = labelled(select_training_rows(frame, config, catalog), PRIMARY)
    featurizer = Featurizer(FeatureSpec.from_catalog(catalog, "offset"), catalog)
    oof = nested_cv(featurizer, rows, PRIMARY, config)
    y = np.log(rows[PRIMARY].to_numpy(dtype=float))
    metrics = target_metrics(oof, y)
    ok = oof.ok & np.isfinite(oof.off_cell)
    q = np.exp(apply_offset(rearrange(oof.raw[ok]), oof.off_cell[ok]))
    meas, conf = np.exp(y[ok]), oof.confidence[ok]

    fig, ax = _figure(6.5, 5.5)
    for band in BANDS:
        m = conf == band
        if m.any():
            ax.errorbar(meas[m], q[m, 1], yerr=[q[m, 1] - q[m, 0], q[m, 2] - q[m, 1]], fmt="o", ms=2.5,
                        elinewidth=0.5, alpha=0.55, color=COLORS[band], label=f"{band} ({int(m.sum())})")  # fmt: skip
    lo, hi = float(min(meas.min(), q[:, 0].min())), float(max(meas.max(), q[:, 2].max()))
    ax.plot([lo, hi], [lo, hi], color="black", lw=0.8)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="measured tokens/s",
        ylabel="predicted tokens/s (median, 80 % interval)",
    )
    ax.legend(title="confidence", fontsize=8)
    scatter = Plot(
        "Predicted vs measured (held-out cells)",
        _png(fig),
        f"{int(ok.sum())} measured runs, each predicted by a model that never saw its workload cell. "
        f"MAPE {100 * metrics['mape']:.1f} % on in-envelope rows; the 80 % interval covers "
        f"{100 * metrics['coverage_80']['held_out_cell']:.0f} % of them.",
    )
    bands = metrics["confidence_bands"]
    fig, ax = _figure(6.0, 3.6)
    names = [b for b in BANDS if bands[b]["n"]]
    covs = [100 * bands[b]["coverage_80"] for b in names]
    bars = ax.bar(names, covs, color=[COLORS[b] for b in names])
    for bar, b in zip(bars, names, strict=True):
        ax.annotate(f"n={bands[b]['n']}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.axhline(80, color="black", lw=0.8, ls="--", label="nominal 80 %")
    ax.set(ylim=(0, 105), ylabel="coverage of the 80 % interval (%)", xlabel="confidence band")
    ax.legend(fontsize=8)
    coverage_plot = Plot(
        "Interval coverage by confidence band",
        _png(fig),
        "Share of held-out runs whose measured tokens/s fell inside the predicted 80 % interval. "
        "Low confidence marks requests outside what was measured: there the advice falls back to the "
        "cheapest-fit rule.",
    )
    return [scatter, coverage_plot], metrics


# --- backtest -------------------------------------------------------------------------------------


def backtest(frame: pd.DataFrame, settings: Settings, catalog: Catalog) -> tuple[list[Plot], dict[str, Any]]:
    from omnipilot.advisor.backtest import run_backtest

    rates = {g.name: g.cost_per_gpu_hour for g in catalog.gpus} | settings.cost.per_gpu_hour
    rep = run_backtest(frame, settings.utility, catalog=catalog, rates=rates, n_splits=3, n_boot=200,
                       runtime_h=settings.defaults.time_limit_min / 60.0)  # fmt: skip
    _figure()  # the Agg backend
    import matplotlib.pyplot as plt

    plt.close("all")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    _policy_bars(axes, rep["policies"])
    plot = Plot(
        "Placement backtest against every baseline",
        _png(fig),
        f"{rep['cells']} workload cells with several measured arms, {rep['n_splits']}-fold by cell: each "
        "policy picks an arm for a held-out cell, scored against the arm that measured best "
        f"(regret: {rep['regret_unit']}). Bars: 95 % bootstrap intervals over cells.",
    )
    return [plot, _precision_plot(rep), _bands_plot(rep)], rep


def _policy_bars(axes: Any, pol: dict[str, Any]) -> None:
    names = sorted(pol, key=lambda k: -(pol[k]["top1"] or 0.0))
    y = np.arange(len(names))
    for ax, key, label in (
        (axes[0], "top1", "picked the best arm (share of cells)"),
        (axes[1], "regret", "mean regret"),
    ):
        vals = np.array([pol[n][key] if pol[n][key] is not None else np.nan for n in names])
        ci = np.array([pol[n].get(f"{key}_ci") or [v, v] for n, v in zip(names, vals, strict=True)])
        colors = ["#1971c2" if n == "omnipilot" else "#adb5bd" for n in names]
        ax.barh(y, vals, xerr=[vals - ci[:, 0], ci[:, 1] - vals], color=colors, capsize=2)
        ax.set(yticks=y, yticklabels=[n.replace("_", " ") for n in names], xlabel=label)
        ax.invert_yaxis()
    axes[1].set_xscale("symlog", linthresh=0.1)


def _precision_plot(rep: dict[str, Any]) -> Plot:
    import matplotlib.pyplot as plt

    p = rep["decisions"]["precision"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0))
    if p["cells"]:
        _policy_bars(axes, p["policies"])
    else:
        axes[0].text(
            0.5, 0.5, "no cell where precision matters", ha="center", va="center", transform=axes[0].transAxes
        )
    same = [k.replace("_", " ") for k, v in p.get("separated_from_omnipilot", {}).items() if v == 0]
    best = ", ".join(f"{k} in {v}" for k, v in p["best_precision"].items()) or "none"
    return Plot(
        "The precision decision, where it matters",
        _png(fig),
        f"{p['cells']} of {p['candidates']} cells × GPU kind with several precisions measured, where the wrong "
        f"precision costs at least {p['matters_threshold']:g} regret; {p['discriminating']} of them tell some "
        f"policies apart. The measured best precision: {best}."
        + (
            f" Not told apart from OmniPilot by any of these cells: {', '.join(same)}."
            if same and p["cells"]
            else ""
        ),
    )


def _bands_plot(rep: dict[str, Any]) -> Plot:
    import matplotlib.pyplot as plt

    cb = rep["confidence_bands"]
    bands = [b for b in BANDS if cb["bands"][b]["n"]]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    mapes = [100 * cb["bands"][b]["mape"] for b in bands]
    bars = ax.bar(bands, mapes, color=[COLORS[b] for b in bands])
    for bar, b in zip(bars, bands, strict=True):
        held = "\n".join(
            f"{k.replace('_', ' x ')} {v}" for k, v in cb["bands"][b]["by_held_out"].items() if v
        )
        ax.annotate(f"n={cb['bands'][b]['n']}\n{held}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=7)  # fmt: skip
    ax.set(ylabel="MAPE of predicted tokens/s (%)", xlabel="confidence the envelope gave")
    ax.set_ylim(0, max(mapes, default=1.0) * 1.35)
    return Plot(
        "Error by confidence band (held-out cells, families, GPU kinds, family × GPU pairs)",
        _png(fig),
        "Every training row predicted by models that never saw its cell, its family, its GPU kind, or its "
        "family on that kind; grouped by the confidence the support envelope gave it. "
        + ("Ordered: less confident predictions err more." if cb["ordered"] else
           "NOT ordered: a less confident band errs less than a more confident one."),
    )  # fmt: skip


def backtest_notes(rep: dict[str, Any]) -> list[str]:
    """What the plots cannot say: the request stand-in, H200, the held-out-family result."""
    notes = [
        f"A public cell records no user request: OmniPilot's fallback (decide()'s own rule) keeps "
        f"{rep['request_stand_in']}.",
        rep["h200"]["note"],
    ]
    fam = rep["decisions"].get("held_out_family")
    if fam and fam["cells"]:
        o, c = fam["policies"]["omnipilot"], fam["policies"]["cheapest_fit"]
        notes.append(
            f"With each cell's whole family held out, every arm is low-confidence and the fallback decides: "
            f"OmniPilot picks the best arm in {100 * o['top1']:.0f} % of cells (it keeps the request in "
            f"{100 * o['kept_request_rate']:.0f} %), cheapest-fit in {100 * c['top1']:.0f} %."
        )
    return notes


def paired_ratio_plots(model_dir: Path, catalog: Catalog) -> tuple[list[Plot], list[str]]:
    """H200 judged as the backtest cannot: the cost model's H200 ÷ H100 tokens/s against NVIDIA's
    paired TensorRT-LLM rows (advisor/paired_ratio.py), with the model in use, nothing retrained."""
    from omnipilot.advisor.costmodel import CostModel, ModelLoadError
    from omnipilot.advisor.paired_ratio import check, load_pairs
    from omnipilot.paths import shared_data_dir

    data = shared_data_dir()
    pairs, skipped = load_pairs(data, catalog) if data is not None else ([], 0)
    if not pairs:
        return [], [
            f"H200 ÷ H100 paired-ratio check: no paired TensorRT-LLM rows under {data or 'the shared data'}."
        ]
    try:
        res = check(CostModel.load(model_dir, catalog), pairs)
    except ModelLoadError as exc:
        return [], [f"H200 ÷ H100 paired-ratio check: the cost model did not load ({exc})."]
    arms = res["by_arm"]
    _figure()  # the Agg backend
    import matplotlib.pyplot as plt

    plt.close("all")
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.3 * len(arms) + 1.2)))
    y = np.arange(len(arms))
    ax.scatter(
        [a["measured"] for a in arms.values()], y, marker="o", color="black", label="measured (TensorRT-LLM)"
    )
    ax.scatter(
        [a["predicted"] for a in arms.values()],
        y,
        marker="x",
        color="#1971c2",
        label="predicted (this model)",
    )
    ax.axvline(1.0, color="#c92a2a", lw=0.8, ls="--")
    ax.set(yticks=y, xlabel="H200 ÷ H100 tokens/s (median over lengths)")
    ax.set_yticklabels(list(arms), fontsize=7)
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    plot = Plot(
        "H200 ÷ H100: predicted against the paired published rows",
        _png(fig),
        f"{res['n_predicted']} of {res['n_pairs']} published pairs predicted ({skipped} left out: model or "
        f"precision not in the catalog); H200 predicted not slower in {100 * res['predicted_not_slower']:.0f} % "
        f"(measured: {100 * res['measured_not_slower']:.0f} %); median ratio predicted "
        f"{res['predicted_ratio_median']:.2f}, measured {res['measured_ratio_median']:.2f}. Left of the dashed "
        "line: H200 slower than H100.",
    )
    return [plot], []


# --- the decision log -----------------------------------------------------------------------------


def read_decisions(path: Path) -> list[dict[str, Any]]:
    """The log and its rotated files (path.N, oldest first); unreadable lines are skipped."""
    files = sorted(
        path.parent.glob(path.name + ".*"), key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0
    )
    out: list[dict[str, Any]] = []
    for f in [*(p for p in files if p.suffix[1:].isdigit()), path]:
        if not f.is_file():
            continue
        for line in f.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and "ts" in rec:
                out.append(rec)
    return out


def _arm(d: dict[str, Any] | None) -> str | None:
    if not d:
        return None
    gpu = d.get("gpu") or d.get("gpu_kind") or d.get("gres_type")
    if not gpu:
        return None
    return f"{gpu} tp{d.get('tp') or '?'} {d.get('precision') or 'bf16'}"


def _confidence(rec: dict[str, Any]) -> str:
    if rec.get("confidence"):
        return str(rec["confidence"])
    choice = rec.get("choice") or {}
    for arm in rec.get("arms") or []:
        if {k: arm.get(k) for k in ("gpu", "tp", "precision")} == {
            k: choice.get(k) for k in ("gpu", "tp", "precision")
        }:
            return str((arm.get("prediction") or {}).get("confidence", "none"))
    return "none"


def decision_plots(records: list[dict[str, Any]]) -> tuple[list[Plot], dict[str, Any]]:
    _figure()  # the Agg backend
    import matplotlib.pyplot as plt

    plt.close("all")

    from omnipilot.advisor.abstain_causes import abstain_cause

    served = [r for r in records if r.get("outcome") not in (None, "mode_off", "opted_out", "not_serving")]
    advised = [r for r in served if r.get("outcome") == "advised"]
    plots: list[Plot] = []
    summary: dict[str, Any] = {"records": len(records), "advised": len(advised)}
    if not served:
        return plots, summary
    # over time: decisions per day by confidence of the advised arm (outcomes without an arm: grey)
    days = sorted({datetime.fromtimestamp(float(r["ts"]), UTC).date() for r in served})
    per: dict[str, Counter[Any]] = {b: Counter() for b in (*BANDS, "none")}
    for r in served:
        per[_confidence(r) if r.get("outcome") == "advised" else "none"][
            datetime.fromtimestamp(float(r["ts"]), UTC).date()
        ] += 1
    fig, ax = plt.subplots(figsize=(8, 3.6))
    bottom = np.zeros(len(days))
    for band in (*BANDS, "none"):
        vals = np.array([per[band][d] for d in days], dtype=float)
        if vals.any():
            ax.bar([str(d) for d in days], vals, bottom=bottom, color=COLORS[band],
                   label="no arm (no fit, unknown model)" if band == "none" else band)  # fmt: skip
            bottom += vals
    ax.set(ylabel="decisions per day")
    ax.tick_params(axis="x", rotation=45, labelsize=7)
    ax.legend(fontsize=8)
    covered = sum(1 for r in advised if _confidence(r) in ("high", "medium"))
    share = covered / len(advised) if advised else math.nan
    summary["envelope_share"] = share
    plots.append(Plot(
        "Decisions over time, by confidence",
        _png(fig),
        f"{len(served)} serving jobs seen; {len(advised)} advised, of which "
        f"{'n/a' if math.isnan(share) else f'{100 * share:.0f} %'} inside the measured envelope (high or "
        "medium confidence). Low confidence: the request lies outside what was measured.",
    ))  # fmt: skip
    # asked vs advised: the most frequent pairs
    pairs = Counter((_arm(r.get("asked")) or "unstated", _arm(r.get("choice")) or "-") for r in advised)
    chosen = Counter(_arm(r.get("choice")) or "-" for r in advised)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    top = pairs.most_common(10)
    a1.barh([f"{a} → {b}" for (a, b), _ in top], [n for _, n in top], color="#1971c2")
    a1.invert_yaxis()
    a1.set(xlabel="jobs", title="asked → advised (top 10)")
    a1.tick_params(axis="y", labelsize=7)
    topc = chosen.most_common(10)
    a2.barh([a for a, _ in topc], [n for _, n in topc], color="#5c940d")
    a2.invert_yaxis()
    a2.set(xlabel="jobs", title="arms advised (top 10)")
    a2.tick_params(axis="y", labelsize=7)
    same = sum(n for (a, b), n in pairs.items() if a == b)
    plots.append(Plot(
        "Asked vs advised",
        _png(fig),
        f"{same} of {len(advised)} advised jobs already asked for the advised arm.",
    ))  # fmt: skip
    reasons = Counter(
        abstain_cause(str(r["abstained_because"])) for r in served if r.get("abstained_because")
    )
    outcomes = Counter(str(r.get("outcome")) for r in records)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    a1.barh(list(outcomes), list(outcomes.values()), color="#495057")
    a1.set(xlabel="requests", title="outcomes")
    if reasons:
        a2.barh(list(reasons), list(reasons.values()), color=COLORS["low"])
    else:
        a2.text(0.5, 0.5, "no abstentions", ha="center", va="center", transform=a2.transAxes)
    a2.set(xlabel="jobs", title="abstention reasons")
    summary["abstentions"] = dict(reasons)
    plots.append(Plot(
        "Outcomes and abstentions",
        _png(fig),
        "Every request the hook sent, by outcome; abstentions are advised jobs whose best arm was "
        "low-confidence, so the cheapest-fit rule's arm was advised instead.",
    ))  # fmt: skip
    return plots, summary


# --- the page -------------------------------------------------------------------------------------

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#212529;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #dee2e6}
figure{margin:1em 0}img{max-width:100%;border:1px solid #e9ecef}figcaption{font-size:.9em;color:#495057}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #dee2e6;padding:.2em .6em;text-align:left}
.note{background:#fff9db;padding:.5em 1em;border-left:4px solid #fab005}"""


def render_page(sections: list[tuple[str, list[Plot], list[str]]], facts: dict[str, str]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>OmniPilot report</title>',
        f"<style>{_STYLE}</style></head><body>",
        "<h1>OmniPilot report</h1>",
        "<table>"
        + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts.items())
        + "</table>",
    ]
    for title, plots, notes in sections:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts += [f'<p class="note">{html.escape(n)}</p>' for n in notes]
        for p in plots:
            data = base64.b64encode(p.png).decode()
            parts.append(
                f'<figure><img alt="{html.escape(p.title)}" src="data:image/png;base64,{data}">'
                f"<figcaption><b>{html.escape(p.title)}.</b> {html.escape(p.caption)}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(
    out: Path,
    settings: Settings,
    history: Path | None,
    decision_log: Path | None,
    model_version: str,
    model_dir: Path | None = None,
) -> tuple[Path, int]:
    """Write out/index.html; (its path, number of plots). `model_dir`: the cost model in use
    (default: the bundled one), whose manifest gives the first section even with nothing else."""
    from omnipilot.advisor.costmodel import BUNDLED_DIR
    from omnipilot.collectors.store import load_frame

    catalog = Catalog.load()
    sections: list[tuple[str, list[Plot], list[str]]] = []
    facts = {"generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cost model": model_version}
    plots, notes = model_plots(model_dir or BUNDLED_DIR)
    ratio_plots, ratio_notes = paired_ratio_plots(model_dir or BUNDLED_DIR, catalog)
    sections.append(("The cost model", plots + ratio_plots, notes + ratio_notes))
    if history is not None and history.is_file():
        frame = load_frame(history)
        facts["history"] = f"{history} ({len(frame)} rows)"
        plots, _ = calibration(frame, catalog)
        sections.append(("Calibration", plots, []))
        plots, rep = backtest(frame, settings, catalog)
        sections.append(("Backtest", plots, backtest_notes(rep)))
    else:
        sections.append(("Calibration and backtest", [], [
            f"No history at {history}: build it with `omnipilot history build-seed` (or pass --history) "
            "for the calibration and backtest plots."
        ]))  # fmt: skip
    records = read_decisions(decision_log) if decision_log is not None else []
    facts["decision log"] = f"{decision_log} ({len(records)} records)" if decision_log else "none"
    plots, summary = decision_plots(records)
    notes = [] if plots else [
        f"No decisions in {decision_log or 'the decision log'} yet: once the daemon answers jobs, "
        "this section shows what it advised, with what confidence, and how much of the site's "
        "requests the measured envelope covers."
    ]  # fmt: skip
    sections.append(("Decisions and envelope coverage", plots, notes))
    if "envelope_share" in summary and not math.isnan(summary["envelope_share"]):
        facts["requests inside the measured envelope"] = f"{100 * summary['envelope_share']:.0f} %"
    out.mkdir(parents=True, exist_ok=True)
    page = out / "index.html"
    page.write_text(render_page(sections, facts))
    return page, sum(len(s[1]) for s in sections)
