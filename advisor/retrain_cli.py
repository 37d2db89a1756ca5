"""`omnipilot retrain [--site-history FILE ...] [--model-dir DIR] [--dry-run] [--json]` and
`omnipilot retrain --rollback`: the regression-gated update loop (docs/retraining.md).

Retrain builds the training rows from the seed history plus the site's histories (de-duplicated
by content hash), trains a candidate with the current model's recipe into a staging folder inside
the model directory, gates it against the current model (advisor/gate.py) and, on a pass,
promotes it atomically (advisor/model_versions.py). The committed bundled model is never written.

Exit status: 0 = promoted, unchanged, rolled back, or a dry run that would promote;
3 = rejected by the gate; 1 = error (bad config, a missing history, a current model that does
not load, nothing to roll back to).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import structlog

from omnipilot.advisor.artifact import MANIFEST, ModelLoadError
from omnipilot.advisor.costmodel import BUNDLED_DIR, CostModel, save, train
from omnipilot.advisor.features import RooflineMode
from omnipilot.advisor.gate import GateReport, Side, TargetResult, Thresholds, gate_candidate
from omnipilot.advisor.model_cli import json_safe
from omnipilot.advisor.model_versions import (
    CURRENT,
    REPORT_FILE,
    ROWS_FILE,
    PromotionError,
    append_ledger,
    discard,
    link_target,
    locked,
    new_staging,
    previous_of,
    promote,
    prune,
    read_rows_file,
    rollback,
    write_rows_file,
)
from omnipilot.advisor.training import TrainConfig, data_hash, select_training_rows
from omnipilot.catalog import Catalog, CatalogError
from omnipilot.cli_options import add_config_arg
from omnipilot.config import ConfigError, Settings, load_settings
from omnipilot.paths import default_history
from omnipilot.progress import progress

log = structlog.get_logger(__name__)

EXIT_PROMOTED, EXIT_ERROR, EXIT_REJECTED = 0, 1, 3


class RetrainError(RuntimeError):
    """Retraining cannot start or finish; the message names what is wrong and what to do."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "retrain", help="retrain on seed + site histories; promote only if the regression gate passes"
    )
    add_config_arg(p)
    p.add_argument(
        "--site-history",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a site history (JSONL); repeatable; adds to gate.site_histories",
    )
    p.add_argument(
        "--seed-history",
        type=Path,
        help="seed history (default: gate.seed_history, $OMNIPILOT_HISTORY, seed)",
    )
    p.add_argument("--model-dir", type=Path, help="versioned models (default: gate.model_dir)")
    p.add_argument("--dry-run", action="store_true", help="train and gate, promote nothing")
    p.add_argument("--json", action="store_true", help="print the gate report as one JSON document")
    p.add_argument("--rollback", action="store_true", help="point `current` back at the previous version")
    p.set_defaults(func=cmd_retrain)


def cmd_retrain(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
        chosen = args.model_dir or settings.gate.model_dir or settings.daemon.state_dir / "models"
        model_dir = Path(os.path.abspath(chosen))  # printed for model.path: absolute, links kept
        with locked(model_dir):
            if args.rollback:
                return _rollback(model_dir, args.json)
            with progress("retrain", args.json):
                return _retrain(args, settings, model_dir)
    except (ConfigError, RetrainError, PromotionError, CatalogError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _rollback(model_dir: Path, as_json: bool) -> int:
    was, now = rollback(model_dir)
    append_ledger(model_dir, {"action": "rolled_back", "from": was, "to": now})
    if as_json:
        print(json.dumps({"action": "rolled_back", "from": was, "current": now, "model_dir": str(model_dir)}))
    else:
        print(f"rolled back: {model_dir / CURRENT} → {now} (was {was}); run `omnipilot reload`")
    return EXIT_PROMOTED


def histories(args: argparse.Namespace, settings: Settings) -> tuple[Path, list[Path]]:
    seed = args.seed_history or (Path(settings.gate.seed_history) if settings.gate.seed_history else None)
    seed = seed or default_history()
    sites = [Path(p) for p in settings.gate.site_histories] + list(args.site_history)
    return Path(seed), list(dict.fromkeys(sites))


def combined_frame(seed: Path, sites: Sequence[Path]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Seed + site rows, one row per content hash (the seed's copy wins); (combined, seed, counts)."""
    from omnipilot.collectors.store import load_frame

    if not seed.is_file():
        raise RetrainError(f"seed history {seed} not found; build it with `omnipilot history build-seed`")
    for path in sites:
        if not path.is_file():
            raise RetrainError(f"site history {path} not found; check gate.site_histories / --site-history")
    seed_frame = load_frame(seed)
    frames = [seed_frame, *(load_frame(p) for p in sites)]
    raw = pd.concat(frames, ignore_index=True)
    combined = raw.drop_duplicates("content_hash", keep="first").reset_index(drop=True)
    counts = {
        "seed_rows": len(seed_frame),
        "site_rows": len(raw) - len(seed_frame),
        "duplicates_dropped": len(raw) - len(combined),
        "history_rows": len(combined),
    }
    return combined, seed_frame, counts


def incumbent_side(
    model_dir: Path, eval_rows: pd.DataFrame, seed_rows: pd.DataFrame, catalog: Catalog
) -> Side | None:
    """The model serving now (`current`, else the bundled one) and the rows it was trained on."""
    current = link_target(model_dir, CURRENT)
    path = current or BUNDLED_DIR
    if current is None and not (BUNDLED_DIR / MANIFEST).is_file():
        return None
    try:
        model = CostModel.load(path, catalog)
    except ModelLoadError as exc:
        if current is not None:
            raise RetrainError(
                f"the current model {current} does not load ({exc}); run `omnipilot retrain --rollback` "
                f"or remove the link {model_dir / CURRENT}"
            ) from exc
        log.warning("retrain.bundled_unloadable", error=str(exc))
        return None
    hashes = read_rows_file(path)
    if hashes is not None:
        rows = eval_rows.loc[eval_rows["content_hash"].isin(hashes)].reset_index(drop=True)
        how = f"{ROWS_FILE}: {len(rows)} of its {len(hashes)} rows are in the histories given"
    elif data_hash(seed_rows) == model.manifest.data_hash:
        rows, how = seed_rows, "the seed history (data hash matches the model's)"
    else:
        rows, how = seed_rows, "the seed history (its data hash differs: the model's own rows are unknown)"
    return Side(manifest=model.manifest, rows=rows, path=str(path), rows_from=how, model=model)


def recipe(
    manifest_cfg: dict[str, object] | None, roofline: RooflineMode | None
) -> tuple[TrainConfig, RooflineMode]:
    """The current model's training recipe, so that the gate measures the change of data."""
    if manifest_cfg is None:
        return TrainConfig(), roofline or "offset"
    fields = {k: v for k, v in manifest_cfg.items() if k in TrainConfig.model_fields}
    return TrainConfig.model_validate(fields), roofline or "offset"


def _retrain(args: argparse.Namespace, settings: Settings, model_dir: Path) -> int:
    catalog = Catalog.load()
    seed, sites = histories(args, settings)
    combined, seed_frame, counts = combined_frame(seed, sites)
    # a first pass with the default recipe finds the incumbent; its own recipe then selects the rows
    config, _ = recipe(None, None)
    eval_rows = select_training_rows(combined, config, catalog)
    seed_rows = eval_rows.loc[eval_rows["content_hash"].isin(set(seed_frame["content_hash"]))]
    incumbent = incumbent_side(model_dir, eval_rows, seed_rows.reset_index(drop=True), catalog)
    if incumbent is not None:
        config, roofline = recipe(incumbent.manifest.train_config, incumbent.manifest.feature_spec.roofline)
        eval_rows = select_training_rows(combined, config, catalog)
    else:
        roofline = "offset"
    counts["training_rows"] = len(eval_rows)
    staging = new_staging(model_dir)
    try:
        manifest, texts = train(combined, catalog=catalog, config=config, roofline=roofline)
        save(staging, manifest, texts)
        write_rows_file(staging, [str(h) for h in eval_rows["content_hash"]])
        thresholds = Thresholds.from_settings(settings.gate)
        report = gate_candidate(staging, eval_rows, incumbent, eval_rows, thresholds, catalog)
        (staging / REPORT_FILE).write_text(report.model_dump_json(indent=2) + "\n")
        promoted = _decide(report, model_dir, staging, manifest.version, settings, catalog, args.dry_run)
    finally:
        discard(staging)
    _print(report, counts, model_dir, promoted, args)
    if report.verdict == "reject":
        return EXIT_REJECTED
    return EXIT_PROMOTED


def _decide(
    report: GateReport,
    model_dir: Path,
    staging: Path,
    version: str,
    settings: Settings,
    catalog: Catalog,
    dry_run: bool,
) -> str | None:
    """Promote on a pass (unless a dry run); record every decision in the ledger."""
    promoted = None
    if report.verdict == "promote" and not dry_run:
        promoted = promote(model_dir, staging, version, catalog).name
        removed = prune(model_dir, settings.gate.keep_versions)
        if removed:
            log.info("retrain.pruned", versions=removed)
    action = (
        "dry_run"
        if dry_run
        else {"promote": "promoted", "reject": "rejected"}.get(report.verdict, "unchanged")
    )
    append_ledger(
        model_dir,
        {
            "action": action,
            "verdict": report.verdict,
            "version": promoted or version,
            "incumbent": report.incumbent.version if report.incumbent else None,
            "n_rows": report.candidate.n_rows if report.candidate else None,
            "reasons": report.reasons,
            "mape": {t: r.candidate.mape for t, r in report.targets.items() if r.candidate},
            "envelope_gained": report.envelope.gained if report.envelope else {},
        },
    )
    return promoted


def _print(
    report: GateReport,
    counts: dict[str, int],
    model_dir: Path,
    promoted: str | None,
    args: argparse.Namespace,
) -> None:
    if args.json:
        doc: dict[str, Any] = {
            **report.model_dump(mode="json"),
            "history": counts,
            "model_dir": str(model_dir),
            "promoted": promoted,
            "dry_run": bool(args.dry_run),
        }
        print(json.dumps(json_safe(doc), indent=2))
        return
    print(render(report, counts))
    if promoted:
        prev = previous_of(model_dir)
        print(
            f"promoted: {model_dir / promoted}  ({CURRENT} → {promoted}; replaced {prev.name if prev else '-'})"
        )
        print(
            f'serve it: model.path = "{model_dir / CURRENT}" in omnipilot.toml (once), then `omnipilot reload`'
        )
    elif args.dry_run and report.verdict == "promote":
        print("dry run: would promote; nothing written")


def _pct(v: float | None) -> str:
    return "     -" if v is None else f"{100 * v:6.2f}"


def _num(v: float | None) -> str:
    return "    -" if v is None else f"{v:5.3f}"


def _target_lines(name: str, r: TargetResult) -> list[str]:
    i, c = r.incumbent, r.candidate
    if not r.gated or i is None or c is None:
        out = [f"{name:<20}{r.cells:>6}{r.eval_rows:>6}  {'; '.join(r.notes)}"]
    else:
        out = [
            f"{name:<20}{r.cells:>6}{r.compared_rows:>6}  {_pct(i.mape)} → {_pct(c.mape)} "
            f"({r.mape_delta_pp or 0:+.2f})   {_pct(i.mape_reference)} → {_pct(c.mape_reference)} "
            f"({r.reference_mape_delta_pp or 0:+.2f})   {_num(i.coverage_80)} → {_num(c.coverage_80)}    "
            f"{_num(i.abstain_rate)} → {_num(c.abstain_rate)}"
        ]
        out += [f"{'':<20}{note}" for note in r.notes]
    if r.gained_rows:
        out.append(
            f"{'':<20}{r.gained_rows} held-out rows the current model abstains on are answered by the "
            f"candidate: MAPE {_pct(r.candidate_mape_gained).strip()} %"
        )
    n = r.new_rows
    if n is not None and n.rows:
        seen = (
            f"{n.in_envelope} answered by the current model: measured ÷ its median ×{n.median_ratio:.2f} "
            f"(median), {100 * (n.outside_interval or 0):.0f} % outside its q10–q90"
            if n.median_ratio is not None
            else "none inside the current model's envelope"
        )
        out.append(f"{'':<20}{n.rows} new rows; {seen}")
    return out


def render(report: GateReport, counts: dict[str, int]) -> str:
    lines = [
        f"histories: seed {counts['seed_rows']} rows + site {counts['site_rows']} rows, "
        f"{counts['duplicates_dropped']} duplicates dropped; {counts.get('training_rows', 0)} training rows"
    ]
    for label, info in (("current", report.incumbent), ("candidate", report.candidate)):
        if info is not None:
            extra = f"; rows from {info.rows_from}" if label == "current" else ""
            lines.append(f"{label:<10} {info.version}  {info.n_rows} rows  ({info.path}{extra})")
    if report.targets:
        lines.append(
            f"{'target':<20}{'cells':>6}{'rows':>6}  {'MAPE % cur → cand (Δpp)':<27}"
            f"{'own-rows MAPE % (Δpp)':<27}{'cov80 cur → cand':<18}abstain cur → cand"
        )
    for name, r in report.targets.items():
        lines += _target_lines(name, r)
    if report.envelope is not None:
        env = report.envelope
        moved = [f"gained {k}: {', '.join(v)}" for k, v in env.gained.items()]
        moved += [f"{k} {v}" for k, v in env.widened.items()]
        moved += [f"LOST {k}: {', '.join(v)}" for k, v in env.lost.items()]
        lines.append(f"envelope ({env.target}): {'; '.join(moved) or 'unchanged'}")
    lines.append(f"verdict: {report.verdict.upper()} — {'; '.join(report.reasons)}  ({report.seconds:.1f} s)")
    return "\n".join(lines)
