"""`omnipilot report --out DIR`: the HTML report (advisor/report.py).

Exit status: 0 written; 2 bad configuration or an unwritable DIR.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from omnipilot.cli_options import add_config_arg, add_history_arg, add_json_arg, add_model_dir_arg
from omnipilot.config import ConfigError, load_settings
from omnipilot.paths import default_history
from omnipilot.progress import progress


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="an HTML report with plots: calibration, backtest, decisions, coverage")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for index.html")
    p.add_argument("--decision-log", type=Path, metavar="FILE",
                   help="the daemon's decision log (default: the configured one, when it exists)")  # fmt: skip
    add_history_arg(p)
    add_model_dir_arg(p)
    add_config_arg(p)
    add_json_arg(p)
    p.set_defaults(func=cmd_report)


def _model_version(path: Path) -> str:
    try:
        return str(json.loads((path / "manifest.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return f"unreadable ({path})"


def cmd_report(args: argparse.Namespace) -> int:
    from omnipilot.advisor.costmodel import BUNDLED_DIR
    from omnipilot.advisor.report import build_report

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"omnipilot report: {exc}", file=sys.stderr)
        return 2
    model_dir = args.model_dir or (Path(settings.model.path) if settings.model.path else BUNDLED_DIR)
    log_path = args.decision_log or settings.decision_log_path
    if args.decision_log is None and not log_path.is_file():
        log_path = None
    history = args.history or default_history()
    try:
        with progress("report", args.json):
            page, plots = build_report(args.out, settings, history, log_path, _model_version(model_dir), model_dir)
    except OSError as exc:
        print(f"omnipilot report: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"index": str(page), "plots": plots}))
    else:
        print(f"report: {page} ({plots} plots)")
    return 0
