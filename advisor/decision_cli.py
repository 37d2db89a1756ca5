"""`omnipilot backtest [--json]` and `omnipilot calibrate [--json]`: the decision layer's commands.

Exit status: 0 = done; 2 = bad usage, a missing history, an unloadable model or config.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from omnipilot.catalog import Catalog
from omnipilot.cli_options import add_config_arg, add_history_arg, add_model_dir_arg
from omnipilot.config import AnchorEntry, ConfigError, Settings, load_settings
from omnipilot.paths import default_history
from omnipilot.plain_numbers import plain
from omnipilot.progress import progress


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    b = subparsers.add_parser("backtest", help="placement backtest of OmniPilot against operator baselines")
    add_history_arg(b)
    add_config_arg(b)
    b.add_argument("--value-per-token", type=float, default=None, help="override [utility] value_per_token")
    b.add_argument("--folds", type=int, default=5, help="GroupKFold splits by workload cell (default 5)")
    b.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the CIs")
    b.add_argument("--json", action="store_true", help="print one JSON document")
    b.set_defaults(func=cmd_backtest)

    c = subparsers.add_parser(
        "calibrate", help="value-per-token that reproduces the operator's anchor decisions"
    )
    add_config_arg(c)
    c.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="MODEL=GPUxTP[:PRECISION]",
        help="an anchor decision, e.g. Qwen/Qwen2.5-7B=A100-40GBx1 (replaces the configured ones)",
    )
    c.add_argument("--kinds", default="A100-40GB,H100-80GB,H200-141GB", help="GPU kinds to choose among")
    add_model_dir_arg(c)
    c.add_argument("--json", action="store_true", help="print one JSON document")
    c.set_defaults(func=cmd_calibrate)


def _settings(path: str | None) -> Settings:
    return load_settings(path)


def cmd_backtest(args: argparse.Namespace) -> int:
    from omnipilot.advisor.backtest import run_backtest
    from omnipilot.collectors.store import load_frame

    try:
        settings = _settings(args.config)
    except ConfigError as exc:
        print(f"omnipilot backtest: {exc}", file=sys.stderr)
        return 2
    path = args.history or default_history()
    if not path.is_file():
        print(
            f"omnipilot backtest: history {path} does not exist; run `omnipilot history build-seed` first",
            file=sys.stderr,
        )
        return 2
    util = settings.utility
    if args.value_per_token is not None:
        util = util.model_copy(update={"value_per_token": args.value_per_token})
    catalog = Catalog.load()
    rates = {g.name: g.cost_per_gpu_hour for g in catalog.gpus} | settings.cost.per_gpu_hour
    try:
        with progress("backtest", args.json):
            report = run_backtest(
                load_frame(path),
                util,
                catalog=catalog,
                rates=rates,
                n_splits=args.folds,
                n_boot=args.bootstrap,
                runtime_h=settings.defaults.time_limit_min / 60.0,
            )
    except ValueError as exc:
        print(f"omnipilot backtest: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=1) if args.json else format_backtest(report))
    return 0


def format_backtest(r: dict[str, Any]) -> str:
    from omnipilot.advisor.backtest_tables import render_backtest

    text: str = render_backtest(r)
    return text


def parse_anchor(text: str) -> AnchorEntry:
    """'MODEL=GPUxTP[:PRECISION]' → AnchorEntry; a clear error names the expected form."""
    try:
        model, rest = text.split("=", 1)
        arm, _, prec = rest.partition(":")
        gpu, _, tp = arm.rpartition("x")
        return AnchorEntry.model_validate(
            {"model": model, "gpu": gpu, "tp": int(tp), "precision": prec or None}
        )
    except ValueError as exc:
        raise ValueError(
            f"anchor {text!r}: expected MODEL=GPUxTP[:PRECISION], e.g. Qwen/Qwen2.5-7B=A100x1"
        ) from exc


def cmd_calibrate(args: argparse.Namespace) -> int:
    from omnipilot.advisor.calibrate import CalibrationError, calibrate
    from omnipilot.advisor.costmodel import BUNDLED_DIR, CostModel, ModelLoadError
    from omnipilot.advisor.workload import cost_model_scorer

    try:
        settings = _settings(args.config)
        anchors = [parse_anchor(a) for a in args.anchor] or settings.utility.anchors
        catalog = Catalog.load()
        model_dir = args.model_dir or (Path(settings.model.path) if settings.model.path else BUNDLED_DIR)
        model = CostModel.load(model_dir, catalog)
        report = calibrate(anchors, settings, catalog, cost_model_scorer(model, ["tokens_per_s"]), kinds=args.kinds.split(","))
    except (ConfigError, CalibrationError, ModelLoadError, ValueError) as exc:
        print(f"omnipilot calibrate: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    v = report["value_per_token"]
    unit = settings.cost.unit
    print(
        f"{report['matched']} of {report['anchors']} anchors reproduced"
        + (
            f"; value_per_token = {plain(v)} ({plain(v * 1e9)} {unit} per billion tokens, the middle of the "
            "widest interval)"
            if v
            else "; no value reproduces any"
        )
    )
    for lo, hi in report["intervals"]:
        print(f"  reproduces them for value_per_token from {plain(lo)} to {plain(hi)}")
    for a in report["per_anchor"]:
        print(f"  {a['anchor']}: chosen {a['chosen']} ({'match' if a['matched'] else 'MISS'})")
    print(
        f"configured value_per_token {plain(report['configured_value_per_token'])}: "
        f"{'inside' if report['configured_reproduces'] else 'outside'} the best interval"
    )
    return 0
