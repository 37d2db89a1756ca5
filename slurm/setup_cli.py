"""`omnipilot hook install|render` and `omnipilot config check`: putting the hook in place beside
slurm.conf and checking what it and the daemon will read."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from omnipilot.cli_options import (
    EXIT_BAD_INPUT,
    EXIT_PROBLEM,
    add_config_arg,
    add_json_arg,
    examples,
    print_json,
)
from omnipilot.config import ConfigError, Settings, is_example, load_settings

# The most a request from job_submit.lua may weigh (its max_request_bytes): the daemon must take it.
HOOK_REQUEST_BYTES = 262_144


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str, *example: str
) -> argparse.ArgumentParser:
    """A subcommand with --config and --json and its examples at the end of --help."""
    p = sub.add_parser(name, help=help_text, epilog=examples(*example), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arg(p)
    add_json_arg(p)
    return p


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "config",
        help="configuration tools",
        epilog=examples("omnipilot config check", "omnipilot config check --hook-dir /etc/slurm"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    csub = p.add_subparsers(dest="config_cmd", required=True, metavar="SUBCOMMAND")
    c = _command(
        csub, "check", "validate omnipilot.toml and the rendered hook settings",
        "omnipilot config check --config /etc/omnipilot/omnipilot.toml --hook-dir /etc/slurm",
    )  # fmt: skip
    c.add_argument("--hook-dir", type=Path, help="directory holding job_submit.lua and omnipilot_settings.lua")
    c.set_defaults(func=cmd_config_check)

    p = sub.add_parser(
        "hook",
        help="install the Slurm hook or re-render its settings",
        epilog=examples("omnipilot hook install --hook-dir /etc/slurm", "omnipilot hook render --hook-dir /etc/slurm"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hsub = p.add_subparsers(dest="hook_cmd", required=True, metavar="SUBCOMMAND")
    h = _command(
        hsub, "install", "copy job_submit.lua and its ZMTP client into DIR and render omnipilot_settings.lua there",
        "omnipilot hook install --hook-dir /etc/slurm --config /etc/omnipilot/omnipilot.toml",
    )  # fmt: skip
    h.add_argument("--hook-dir", type=Path, required=True, help="the directory of slurm.conf (usually /etc/slurm)")
    h.set_defaults(func=cmd_hook_install)
    h = _command(
        hsub, "render", "write omnipilot_settings.lua beside job_submit.lua and touch the hook (after a config change)",
        "omnipilot hook render --hook-dir /etc/slurm",
    )  # fmt: skip
    h.add_argument("--hook-dir", type=Path, required=True, help="the directory of job_submit.lua (usually /etc/slurm)")
    h.set_defaults(func=cmd_hook_render)


def _settings(args: argparse.Namespace, what: str) -> Settings | None:
    try:
        return load_settings(args.config)
    except ConfigError as exc:
        if getattr(args, "json", False):
            import json

            print(json.dumps({"ok": False, "error": str(exc)}))
        print(f"{what}: {exc}", file=sys.stderr)
        return None


class ConfigCheck(BaseModel):
    """`config check --json`."""

    ok: bool
    config: str
    example: bool
    warning: str | None
    hook_dir: str | None
    problems: list[str]


class HookWritten(BaseModel):
    """`hook install|render --json`: the files written and the configuration they came from."""

    ok: bool = True
    config: str
    written: list[str]


def cmd_config_check(args: argparse.Namespace) -> int:
    from omnipilot.slurm.hooksettings import check_hook_settings

    settings = _settings(args, "config check: FAILED")
    if settings is None:
        return EXIT_BAD_INPUT
    from omnipilot.daemon.daemon_cli import loud_config_note

    path = settings.source
    problems = check_hook_settings(settings, args.hook_dir) if args.hook_dir else []
    loud = loud_config_note(settings)
    if loud is not None and loud[1]:
        problems.insert(0, loud[0])
    if settings.daemon.max_message_bytes < HOOK_REQUEST_BYTES:
        problems.append(
            f"daemon.max_message_bytes = {settings.daemon.max_message_bytes} is below the {HOOK_REQUEST_BYTES} "
            "bytes the hook may send: libzmq would drop large jobs' requests unanswered"
        )
    if args.json:
        print_json(
            ConfigCheck(
                ok=not problems,
                config=str(path),
                example=bool(path and is_example(path)),
                warning=loud[0] if loud is not None and not loud[1] else None,
                hook_dir=str(args.hook_dir) if args.hook_dir else None,
                problems=problems,
            )
        )
    else:
        if loud is not None and not loud[1]:
            print(f"config check: WARNING: {loud[0]}", file=sys.stderr)
        if not problems:
            print(f"config check: {path}: ok")
        for p in problems:
            print(f"config check: FAILED: {p}", file=sys.stderr)
        if args.hook_dir and not problems:
            print(f"config check: {args.hook_dir}/omnipilot_settings.lua: ok (matches {path})")
    return EXIT_PROBLEM if problems else 0


def cmd_hook_install(args: argparse.Namespace) -> int:
    from omnipilot.slurm.hooksettings import install_hook

    return _write_hook(args, "hook install", install_hook)


def cmd_hook_render(args: argparse.Namespace) -> int:
    from omnipilot.slurm.hooksettings import write_hook_settings

    return _write_hook(args, "hook render", lambda settings, hook_dir: [write_hook_settings(settings, hook_dir)])


def _write_hook(
    args: argparse.Namespace, what: str, write: Callable[[Settings, Path], Sequence[Path]]
) -> int:
    """`hook install` (the hook and its settings) and `hook render` (the settings only)."""
    settings = _settings(args, what)
    if settings is None:
        return EXIT_BAD_INPUT
    try:
        written = write(settings, args.hook_dir)
    except OSError as exc:
        print(f"{what}: cannot write into {args.hook_dir}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_PROBLEM
    if args.json:
        print_json(HookWritten(config=str(settings.source), written=[str(w) for w in written]))
        return 0
    for w in written:
        print(f"wrote {w}")
    if what == "hook install":
        print(f"hook settings rendered from {settings.source}; add JobSubmitPlugins=lua to slurm.conf if it is not there")
    return 0
