"""`omnipilot harvest`, `omnipilot launch-stats`, `omnipilot record`, `omnipilot nvml`, `omnipilot state`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from omnipilot.config import ConfigError, Settings, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def _history_path(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.out) if args.out else settings.daemon.state_dir / "cluster_history.jsonl"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "harvest", help="append finished jobs from Slurm accounting (sacct) to cluster_history.jsonl"
    )
    p.add_argument("--since", required=True, help="start of the window: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]")
    p.add_argument("--until", help="end of the window (default now)")
    p.add_argument("--out", help="cluster history file (default <daemon.state_dir>/cluster_history.jsonl)")
    p.add_argument(
        "--salt-file", help="salt for user/account hashes (default beside --out; created mode 0600)"
    )
    p.add_argument("--config", help="omnipilot.toml")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_harvest)

    p = sub.add_parser("launch-stats", help="per-configuration launch success and demand from the harvest")
    p.add_argument("--out", help="cluster history file (default <daemon.state_dir>/cluster_history.jsonl)")
    p.add_argument("--min-serving-s", type=float, default=300.0, help="a run this long counts as launched")
    p.add_argument("--serving-only", action="store_true", help="only jobs recognised as vLLM serving")
    p.add_argument("--config", help="omnipilot.toml")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_launch_stats)

    from omnipilot.collectors.emitter import add_record_args

    p = sub.add_parser(
        "record", help="run a vLLM server command and record its serving run: record -- vllm serve ..."
    )
    add_record_args(p)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("nvml", help="check NVML and sample this machine's (or the job's) GPUs for a few seconds")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_nvml)


def _validate_date(text: str) -> str | None:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return None
    return text


def cmd_harvest(args: argparse.Namespace) -> int:
    from omnipilot.catalog import Catalog
    from omnipilot.collectors.harvest import HarvestError, harvest

    for flag in ("since", "until"):
        value = getattr(args, flag)
        if value and _validate_date(value) is None:
            print(
                f"omnipilot harvest: --{flag} {value!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS",
                file=sys.stderr,
            )
            return 2
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"omnipilot harvest: {exc}", file=sys.stderr)
        return 2
    out = _history_path(args, settings)
    salt = Path(args.salt_file) if args.salt_file else out.with_name("harvest.salt")
    cat = Catalog.load()
    kind_of = {t: g.name for g in cat.gpus for t in g.gres_types}
    try:
        res = harvest(args.since, out, salt, until=args.until, kind_of=kind_of)
    except HarvestError as exc:
        print(f"omnipilot harvest: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(res.model_dump_json())
    else:
        print(
            f"harvested {res.finished} finished jobs ({res.seen} seen, {res.skipped_running} not finished): "
            f"{res.added} new, {res.already_present} already present, jobstats decoded for "
            f"{res.jobstats_decoded}; {res.output}"
        )
    return 0


def cmd_launch_stats(args: argparse.Namespace) -> int:
    from omnipilot.collectors.harvest import ClusterHistory
    from omnipilot.collectors.launch_stats import demand_shares, launch_counts

    out = _history_path(args, _settings(args))
    if not out.exists():
        print(
            f"omnipilot launch-stats: {out} does not exist: run `omnipilot harvest --since DATE` first",
            file=sys.stderr,
        )
        return 1
    rows = ClusterHistory(out).rows()
    counts = launch_counts(rows, min_serving_s=args.min_serving_s, serving_only=args.serving_only)
    shares = demand_shares(rows, serving_only=args.serving_only)
    table = [
        {
            "gpu": k,
            "gpus": n,
            "successes": ok,
            "failures": bad,
            "success_rate": round(ok / (ok + bad), 4) if ok + bad else None,
            "demand_share": round(shares.get((k, n), 0.0), 4),
        }
        for (k, n), (ok, bad) in counts.items()
    ]
    if args.json:
        print(json.dumps({"rows": len(rows), "configurations": table}))
        return 0
    print(f"{len(rows)} harvested jobs in {out}")
    print(f"{'gpu':14s} {'n':>3s} {'ok':>6s} {'failed':>6s} {'rate':>6s} {'demand':>7s}")
    for t in table:
        rate = f"{t['success_rate']:.2f}" if t["success_rate"] is not None else "-"
        print(
            f"{t['gpu']!s:14s} {t['gpus']:>3} {t['successes']:>6} {t['failures']:>6} {rate:>6s} "
            f"{t['demand_share']:>7.2%}"
        )
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from omnipilot.collectors.emitter import run_record

    return run_record(args)


def cmd_nvml(args: argparse.Namespace) -> int:
    from omnipilot.collectors.nvml import run_nvml_check

    return run_nvml_check(args)
