"""The options that several commands share, defined once so each has one name and one meaning."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic loads with the command that prints, not with every parser
    from pydantic import BaseModel

# Exit codes shared by every command: 0 done, 1 the command ran and found a problem (a check failed,
# the daemon is down, a record is missing), 2 bad input or configuration.
EXIT_OK, EXIT_PROBLEM, EXIT_BAD_INPUT = 0, 1, 2


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        help="omnipilot.toml (default: $OMNIPILOT_CONFIG, else /etc/omnipilot/omnipilot.toml, "
        "else the packaged example)",
    )


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def print_json(doc: BaseModel) -> None:
    """A command's `--json` result: exactly one JSON document on stdout (errors stay on stderr)."""
    print(doc.model_dump_json(indent=2))


def add_history_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--history",
        type=Path,
        metavar="FILE",
        help="history JSONL (default: $OMNIPILOT_HISTORY, else ~/.local/share/omnipilot/history/history.jsonl)",
    )


def add_model_dir_arg(p: argparse.ArgumentParser, help_text: str | None = None) -> None:
    p.add_argument(
        "--model-dir",
        type=Path,
        metavar="DIR",
        help=help_text or "cost-model folder (default: the configured model, else the bundled one)",
    )


def examples(*lines: str) -> str:
    """An epilog with examples, shown at the end of a command's --help."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)
