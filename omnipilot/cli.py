"""The `omnipilot` command. Each area registers its own subcommands; this file only wires them."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from omnipilot.logs import configure

# Each module exposes `register(subparsers)`; its subcommands set `func(args) -> int` as default.
_COMMAND_MODULES: tuple[str, ...] = (
    "omnipilot.slurm.cluster_cli",
    "omnipilot.daemon.daemon_cli",
    "omnipilot.collectors.history_cli",
    "omnipilot.advisor.model_cli",
    "omnipilot.advisor.decision_cli",
    "omnipilot.collectors.collect_cli",
    "omnipilot.advisor.planner.plan_cli",
    "omnipilot.daemon.script_cli",
    "omnipilot.advisor.retrain_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omnipilot",
        description="Advice on vLLM serving launches for shared, heterogeneous Slurm GPU clusters.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # stdout belongs to the commands' output (--json must parse); logs go to stderr. The daemon
    # reconfigures from its settings when it starts.
    configure(
        os.environ.get("OMNIPILOT_LOG_FORMAT", "console"), os.environ.get("OMNIPILOT_LOG_LEVEL", "warning")
    )
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args))


if __name__ == "__main__":
    sys.exit(main())
