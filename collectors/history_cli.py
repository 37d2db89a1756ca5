"""`omnipilot history import|validate|stats|build-seed` (docs/history.md).

Exit status: 0 = all good; 1 = something was quarantined (named on stderr as file:line: reason);
2 = bad usage or a missing file. With `--json`, stdout is one JSON document (the models below);
errors stay one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import BaseModel

from omnipilot.cli_options import add_json_arg, print_json
from omnipilot.collectors.coverage import render_text, stats
from omnipilot.collectors.rows import HistoryRow
from omnipilot.collectors.seed import build_seed, default_data_dir
from omnipilot.collectors.store import HistoryStore, Problem, parse_line
from omnipilot.paths import default_history
from omnipilot.progress import progress


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("history", help="the history of serving runs: import, validate, stats")
    sub = p.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    hist_help = "history file (default: $OMNIPILOT_HISTORY, else ~/.local/share/omnipilot/history/history.jsonl)"

    imp = sub.add_parser("import", help="append the rows of a JSONL file (a site's runs or another history)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--history", type=Path, default=None, help=hist_help)
    add_json_arg(imp)
    imp.set_defaults(func=cmd_import)

    val = sub.add_parser("validate", help="check every line; quarantine bad ones (exit 1 if any)")
    val.add_argument("file", type=Path, nargs="?", default=None, help=hist_help)
    add_json_arg(val)
    val.set_defaults(func=cmd_validate)

    st = sub.add_parser("stats", help="coverage tables: GPU kind x precision x TP, families, sizes, ...")
    st.add_argument("file", type=Path, nargs="?", default=None, help=hist_help)
    add_json_arg(st)
    st.set_defaults(func=cmd_stats)

    seed = sub.add_parser("build-seed", help="build the seed history from the public measured data")
    seed.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="public data folder (default: $OMNIPILOT_SHARED_DATA, else ../shared/data)",
    )
    seed.add_argument("--history", type=Path, default=None, help="the history file to write (" + hist_help.split("(", 1)[1])
    seed.add_argument("--rebuild", action="store_true", help="start from an empty file instead of appending")
    seed.add_argument("--strict", action="store_true", help="exit 1 when any source line was quarantined")
    add_json_arg(seed)
    seed.set_defaults(func=cmd_build_seed)


class LineProblem(BaseModel):
    """A line that is not a valid row (its text is in the quarantine file)."""

    file: str
    line: int
    reason: str


class ImportResult(BaseModel):
    source: Path
    history: Path
    lines_read: int  # non-blank lines of the source
    rows_valid: int
    appended: int
    duplicates: int  # valid rows the history already held
    quarantined: int
    quarantine_file: Path
    problems: list[LineProblem]


class ValidateResult(BaseModel):
    history: Path
    rows_valid: int
    bad_lines: int
    quarantine_file: Path | None  # where the bad lines were copied; None when there were none
    problems: list[LineProblem]


class SeedSource(BaseModel):
    rows: int
    quarantined: int


class BuildSeedResult(BaseModel):
    data_dir: Path
    history: Path
    rebuild: bool
    sources: dict[str, SeedSource]
    appended: int
    duplicates: int
    quarantine_file: Path | None  # None when no source line was quarantined


def _line_problems(problems: list[Problem]) -> list[LineProblem]:
    return [LineProblem(file=p.path, line=p.line, reason=p.reason) for p in problems]


def _report(problems: list[Problem]) -> None:
    for p in problems:
        print(f"quarantined {p}", file=sys.stderr)


def cmd_import(args: argparse.Namespace) -> int:
    src: Path = args.file
    if not src.is_file():
        print(f"error: {src} not found (give a JSONL file of history rows)", file=sys.stderr)
        return 2
    store = HistoryStore(args.history or default_history())
    rows: list[HistoryRow] = []
    problems: list[Problem] = []
    lines = 0
    with src.open(encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if raw.strip():
                lines += 1
                parsed = parse_line(raw.strip(), str(src), lineno)
                (problems if isinstance(parsed, Problem) else rows).append(parsed)  # type: ignore[arg-type]
    result = store.append(rows)
    store.quarantine(problems)
    _report(problems)
    if args.json:
        print_json(ImportResult(
            source=src, history=store.path, lines_read=lines, rows_valid=len(rows), appended=result.added,
            duplicates=result.duplicates, quarantined=len(problems), quarantine_file=store.quarantine_file,
            problems=_line_problems(problems),
        ))  # fmt: skip
        return 1 if problems else 0
    print(
        f"{src}: {result.added} added, {result.duplicates} already present, "
        f"{len(problems)} quarantined to {store.quarantine_file}"
    )
    return 1 if problems else 0


def cmd_validate(args: argparse.Namespace) -> int:
    path: Path = args.file or default_history()
    if not path.is_file():
        print(f"error: {path} not found", file=sys.stderr)
        return 2
    store = HistoryStore(path)
    rows, problems = store.read()
    if problems and not rows:  # not a history at all: say so, copy nothing beside it
        first = problems[0]
        print(
            f"omnipilot history validate: {path} is not a history: none of its {len(problems)} lines is a row "
            f"(line {first.line}: {first.reason})",
            file=sys.stderr,
        )
        return 2
    store.quarantine(problems)
    _report(problems)
    if args.json:
        print_json(ValidateResult(
            history=path, rows_valid=len(rows), bad_lines=len(problems),
            quarantine_file=store.quarantine_file if problems else None, problems=_line_problems(problems),
        ))  # fmt: skip
        return 1 if problems else 0
    print(
        f"{path}: {len(rows)} valid rows, {len(problems)} bad lines"
        + (f" (copied to {store.quarantine_file})" if problems else "")
    )
    return 1 if problems else 0


def cmd_stats(args: argparse.Namespace) -> int:
    path: Path = args.file or default_history()
    if not path.is_file():
        print(f"error: {path} not found (build it with `omnipilot history build-seed`)", file=sys.stderr)
        return 2
    rows, problems = HistoryStore(path).read()
    doc = stats(rows, len(problems))
    print(json.dumps(doc) if args.json else render_text(doc))
    return 0


def cmd_build_seed(args: argparse.Namespace) -> int:
    try:
        data_dir: Path = args.data_dir or default_data_dir()
    except FileNotFoundError as exc:
        print(f"history build-seed: {exc}", file=sys.stderr)
        return 2
    args.out = args.history or default_history()
    try:
        with progress("history build-seed", args.json):
            report = build_seed(data_dir, args.out, rebuild=args.rebuild)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = args.strict and any(report.quarantined.values())
    if args.json:
        print_json(BuildSeedResult(
            data_dir=data_dir, history=report.out, rebuild=args.rebuild,
            sources={name: SeedSource(rows=n, quarantined=report.quarantined[name]) for name, n in report.produced.items()},
            appended=report.added, duplicates=report.duplicates,
            quarantine_file=HistoryStore(report.out).quarantine_file if any(report.quarantined.values()) else None,
        ))  # fmt: skip
        return 1 if failed else 0
    for name, n in report.produced.items():
        print(f"{name}: {n} rows, {report.quarantined[name]} lines quarantined")
    print(f"{report.out}: {report.added} added, {report.duplicates} already present")
    if any(report.quarantined.values()):
        print(f"quarantined lines (with reasons): {HistoryStore(report.out).quarantine_file}")
    return 1 if failed else 0
