"""`omnipilot harvest`, `omnipilot launch-stats`, `omnipilot record`, `omnipilot nvml`, `omnipilot state`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from omnipilot.config import DEFAULT_CONFIG, ConfigError, Settings, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.config) if getattr(args, "config", None) else DEFAULT_CONFIG)


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

    from omnipilot.collectors.emitter import register_record
    from omnipilot.collectors.nvml import register_nvml

    register_record(sub)
    register_nvml(sub)

    p = sub.add_parser("state", help="read the cluster state once (GPUs per partition and kind, queue wait)")
    p.add_argument("--backend", choices=["auto", "cli", "pyslurm"], default="auto")
    p.add_argument("--export", help="also write the snapshot as JSON to this file (atomically)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_state)


def _validate_date(text: str) -> str | None:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return None
    return text


def cmd_harvest(args: argparse.Namespace) -> int:
    from omnipilot.advisor.catalog import Catalog
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


def cmd_state(args: argparse.Namespace) -> int:
    from omnipilot.daemon.state import select_backend

    try:
        snap = select_backend(args.backend).read()
    except RuntimeError as exc:
        print(f"omnipilot state: {exc}", file=sys.stderr)
        return 1
    summary = {p: {k: v.model_dump() for k, v in kinds.items()} for p, kinds in snap.gpu_summary().items()}
    waits = {p: {k: snap.queue_wait(p, k, 1).model_dump() for k in kinds} for p, kinds in summary.items()}
    unhealthy = {n.name: n.reason for n in snap.nodes.values() if not n.usable}
    doc = {
        "taken_at": datetime.fromtimestamp(snap.taken_at, UTC).isoformat(),
        "backend": snap.backend,
        "error": snap.error,
        "gpus": summary,
        "queue_wait_1gpu": waits,
        "unhealthy_nodes": unhealthy,
    }
    if args.export:
        path = Path(args.export)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps({**doc, "snapshot": snap.model_dump(mode="json")}))
        tmp.replace(path)
    if args.json:
        print(json.dumps(doc))
        return 0
    print(
        f"cluster state via {snap.backend} at {doc['taken_at']}"
        + (f" (errors: {snap.error})" if snap.error else "")
    )
    for p, kinds in summary.items():
        for k, v in kinds.items():
            w = waits[p][k]["seconds"]
            print(
                f"  {p:10s} {k:8s} {v['free']:>3}/{v['configured']:<3} free, {v['allocated']} allocated, "
                f"{v['unusable']} unusable, {v['pending']} pending; wait(1 GPU) "
                f"{'n/a' if w is None else f'{w / 60:.0f} min'}"
            )
    for name, reason in unhealthy.items():
        print(f"  excluded: {name} ({reason or 'down/drained'})")
    return 0
