"""The `omnipilot` command. Command modules load only when their command runs, so `--help`,
`status`, `explain` and `script check` start without pandas or LightGBM."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from omnipilot import __version__

# command -> (the module whose `register(subparsers)` defines it, one line for `omnipilot --help`).
# A module may define several commands; each sets `func(args) -> int` as its default.
COMMANDS: dict[str, tuple[str, str]] = {
    "status": ("omnipilot.daemon.daemon_cli", "is the daemon up? mode, model version, counts"),
    "mode": ("omnipilot.daemon.daemon_cli", "show or set the mode: off | observe | suggest | enforce"),
    "explain": ("omnipilot.daemon.daemon_cli", "the full decision behind a job's advice"),
    "reload": ("omnipilot.daemon.daemon_cli", "reload the cost model and catalogs (like SIGHUP)"),
    "daemon": ("omnipilot.daemon.daemon_cli", "run the advice daemon in the foreground"),
    "state": ("omnipilot.daemon.daemon_cli", "read the cluster state once (GPUs per partition, queue wait)"),
    "script": ("omnipilot.daemon.script_cli", "show how OmniPilot reads a batch script"),
    "config": ("omnipilot.slurm.setup_cli", "check omnipilot.toml and the rendered hook settings"),
    "hook": ("omnipilot.slurm.setup_cli", "install the Slurm hook or re-render its settings"),
    "catalog": ("omnipilot.advisor.catalog_cli", "add a model to the catalog from its config.json; show an entry"),
    "advise": ("omnipilot.advisor.model_cli", "score every feasible arm of a request"),
    "train": ("omnipilot.advisor.model_cli", "train the cost model from a history"),
    "evaluate": ("omnipilot.advisor.model_cli", "leakage-free evaluation of the cost model"),
    "retrain": ("omnipilot.advisor.retrain_cli", "retrain; promote only if the regression gate passes"),
    "backtest": ("omnipilot.advisor.decision_cli", "placement backtest against operator baselines"),
    "calibrate": ("omnipilot.advisor.decision_cli", "value-per-token that reproduces anchor decisions"),
    "plan": ("omnipilot.advisor.planner.plan_cli", "plan a fleet for a demand mix"),
    "history": ("omnipilot.collectors.history_cli", "the history of serving runs: import, validate, stats"),
    "record": ("omnipilot.collectors.collect_cli", "run a vLLM server command and record its serving run"),
    "harvest": ("omnipilot.collectors.collect_cli", "append finished jobs from Slurm accounting"),
    "launch-stats": ("omnipilot.collectors.collect_cli", "launch success and demand from the harvest"),
    "nvml": ("omnipilot.collectors.collect_cli", "check NVML and sample this machine's GPUs"),
    "healthcheck": ("omnipilot.collectors.healthcheck_cli", "GPU health of this node: drain on a fault (HealthCheckProgram)"),
    "report": ("omnipilot.advisor.report_cli", "an HTML report with plots: calibration, backtest, decisions, coverage"),
    "cluster": ("omnipilot.slurm.minicluster.cluster_cli", "the local Slurm mini cluster (demo and tests)"),
    "demo": ("omnipilot.slurm.minicluster.cluster_cli", "start the mini cluster, submit the samples, show advice"),
}

# Shown at the end of `omnipilot COMMAND --help`: what a first-time user types.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "status": ("omnipilot status", "omnipilot status --json --config /etc/omnipilot/omnipilot.toml"),
    "mode": ("omnipilot mode", "omnipilot mode observe"),
    "explain": ("omnipilot explain 1234", "omnipilot explain --token yqta75fu --json"),
    "reload": ("omnipilot reload",),
    "daemon": ("omnipilot daemon --config /etc/omnipilot/omnipilot.toml",),
    "state": ("omnipilot state", "omnipilot state --json --export /var/lib/omnipilot/state.json"),
    "script": ("omnipilot script check job.sbatch", "omnipilot script rewrite job.sbatch --tp 2 --quantization fp8"),
    "config": ("omnipilot config check", "omnipilot config check --config /etc/omnipilot/omnipilot.toml --hook-dir /etc/slurm"),
    "hook": ("omnipilot hook install --hook-dir /etc/slurm", "omnipilot hook render --hook-dir /etc/slurm"),
    "catalog": (
        "omnipilot catalog add /scratch/models/my-model --to /etc/omnipilot/models.toml",
        "omnipilot catalog show /scratch/ana/Qwen2.5-7B-Instruct-legal-ft",
    ),
    "advise": (
        "omnipilot advise --model Qwen/Qwen2.5-7B-Instruct --concurrency 64 --context 8192",
        "omnipilot advise --model meta-llama/Llama-3.1-70B-Instruct --gpu h100 --json",
        "omnipilot advise --batch requests.jsonl",
    ),
    "train": ("omnipilot train", "omnipilot train --history site.jsonl --model-dir /var/lib/omnipilot/models/new"),
    "evaluate": ("omnipilot evaluate --quick", "omnipilot evaluate --json"),
    "retrain": ("omnipilot retrain --dry-run", "omnipilot retrain --site-history /var/lib/omnipilot/history.jsonl --json"),
    "backtest": ("omnipilot backtest", "omnipilot backtest --json --folds 5"),
    "calibrate": ("omnipilot calibrate --anchor Qwen/Qwen2.5-7B=A100-40GBx1",),
    "plan": ("omnipilot plan --demand demand.toml", "omnipilot plan --demand demand.toml --solver milp --json"),
    "history": ("omnipilot history build-seed", "omnipilot history stats --json", "omnipilot history import site-runs.jsonl"),
    "record": ("omnipilot record -- vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000",),
    "harvest": ("omnipilot harvest --since 2026-11-01",),
    "launch-stats": ("omnipilot launch-stats --serving-only",),
    "nvml": ("omnipilot nvml --seconds 5 --json",),
    "healthcheck": ("omnipilot healthcheck", "omnipilot healthcheck --node gpu-17 --dry-run --json"),
    "report": ("omnipilot report --out /tmp/omnipilot-report", "omnipilot report --out report --decision-log /var/lib/omnipilot/decisions.jsonl"),
    "cluster": ("omnipilot cluster up", "omnipilot cluster status", "omnipilot cluster down"),
    "demo": ("omnipilot demo", "omnipilot demo --state-dir /tmp/op-demo"),
}

_EPILOG = """examples:
  omnipilot status
  omnipilot script check job.sbatch
  omnipilot advise --model Qwen/Qwen2.5-7B-Instruct --concurrency 64 --json
  omnipilot explain --token yqta75fu

`omnipilot COMMAND --help` shows a command's options."""


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omnipilot",
        description="Advice on vLLM serving launches for shared, heterogeneous Slurm GPU clusters.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"omnipilot {__version__}")
    return parser


def _print_overview(parser: argparse.ArgumentParser) -> None:
    width = max(len(c) for c in COMMANDS)
    lines = [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    text = "\n".join(
        ["usage: omnipilot [-h] [--version] COMMAND ...", "", str(parser.description), "", "commands:", *lines, "", str(parser.epilog)]
    )
    print(text)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for one command (only its module is imported), or for every command when None."""
    parser = _top_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = dict.fromkeys(m for name, (m, _) in COMMANDS.items() if command in (None, name))
    for module in modules:
        importlib.import_module(module).register(sub)
    for name, cmd in sub.choices.items():
        # examples at the end of `omnipilot COMMAND --help`, unless its module wrote its own
        if name in EXAMPLES and "examples:" not in (cmd.epilog or ""):
            shown = "examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[name])
            cmd.epilog = f"{cmd.epilog}\n\n{shown}" if cmd.epilog else shown
            cmd.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start}): give a text file"
    if isinstance(exc, RecursionError):
        return "input nested too deeply"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; a reader that leaves early (`omnipilot ... | head`) ends it quietly."""
    try:
        rc = _main(argv)
        sys.stdout.flush()  # inside the guard: Python would report a failed flush at exit
        return rc
    except BrokenPipeError:
        _quiet_stdout()
        return 0


def _quiet_stdout() -> None:
    # what is still buffered can never be written: point stdout at /dev/null so the interpreter's
    # final flush has nothing to complain about
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(args_in)
    top = _top_parser()
    if command is None:
        if any(a in ("--version",) for a in args_in):
            top.parse_args(args_in)  # prints the version and exits 0
        if not args_in or any(a in ("-h", "--help") for a in args_in):
            _print_overview(top)
            return 0 if args_in else 2
        top.parse_args(args_in)  # an unknown option: argparse says so and exits 2
        return 2
    if command not in COMMANDS:
        top.print_usage(sys.stderr)
        print(f"omnipilot: unknown command {command!r} (see `omnipilot --help`)", file=sys.stderr)
        return 2
    from omnipilot.logs import configure

    # stdout belongs to the commands' output (--json must parse); logs go to stderr. The daemon
    # reconfigures from its settings when it starts.
    configure(
        os.environ.get("OMNIPILOT_LOG_FORMAT", "console"), os.environ.get("OMNIPILOT_LOG_LEVEL", "warning")
    )
    parser = build_parser(command)
    args = parser.parse_args(args_in)
    func = getattr(args, "func", None)
    if func is None:
        parser.parse_args([command, "--help"])
        return 2
    try:
        return int(func(args))
    except BrokenPipeError:  # `omnipilot explain 9 | head`: the reader left; say nothing more
        _quiet_stdout()
        return 0
    except KeyboardInterrupt:
        print(f"omnipilot {command}: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, RecursionError) as exc:
        # Bad input a command did not name itself (a missing or unreadable file, a file that is not
        # text, a value out of range, a bad config): one line and exit 2, never a traceback.
        # OMNIPILOT_DEBUG=1 shows the traceback.
        if os.environ.get("OMNIPILOT_DEBUG"):
            raise
        print(f"omnipilot {command}: {_one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
