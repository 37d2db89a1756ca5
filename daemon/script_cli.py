"""`omnipilot script check FILE`: show what OmniPilot reads in a batch script, the way the daemon
would read it at sbatch time; `omnipilot script rewrite FILE --tp N ...` shows what enforce mode
would change in it. Both only read the file."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from omnipilot.catalog import Catalog
from omnipilot.collectors.checkpoint_config import read_model_path
from omnipilot.daemon.jobscript.parse import ParsedJob, parse_job
from omnipilot.daemon.jobscript.rewrite import rewrite_vllm

_FIELDS = (
    "model", "model_name", "served_model_name", "tp", "pp", "dp", "precision", "quantization", "dtype",
    "kv_cache_dtype", "max_model_len", "max_num_seqs", "gpu_memory_utilization", "concurrency", "context",
    "prompt_len", "output_len", "slo_ttft_ms", "params_b", "active_params_b", "family", "model_confidence",
    "gpu", "engine",
)  # fmt: skip


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("script", help="show how OmniPilot reads a batch script (tags, vLLM command)")
    sub = p.add_subparsers(dest="script_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="parse a batch script and print what OmniPilot sees")
    _common(check)
    check.add_argument("--json", action="store_true", help="print the full parse as JSON")
    check.set_defaults(func=_check)
    rw = sub.add_parser("rewrite", help="print the diff enforce mode would apply to the vLLM flags")
    _common(rw)
    rw.add_argument("--tp", type=int, help="tensor-parallel degree to set")
    rw.add_argument("--quantization", help="vLLM --quantization to set ('none' removes it)")
    rw.add_argument("--model", help="model or checkpoint to serve instead")
    rw.set_defaults(func=_rewrite)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="the batch script ('-' for standard input)")
    p.add_argument("--comment", help="the job's --comment, as sbatch would pass it")
    p.add_argument("--gpus-per-node", type=int, help="GPUs per node the job gets, if sbatch flags set it")
    p.add_argument(
        "script_args", nargs="*", metavar="ARG",
        help="the script's own arguments, as after `sbatch FILE`: $1, \"$@\" read them (none: a loop over "
        "them never runs); put -- before them when one starts with -",
    )  # fmt: skip


def _read(args: argparse.Namespace) -> tuple[str, ParsedJob] | None:
    try:
        text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(errors="replace")
    except OSError as exc:
        print(f"omnipilot script: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return None
    # unlike the daemon, the check reads a model directory's config.json at once, as the caller
    return text, parse_job(
        text, args.comment, Catalog.load(), gpus_per_node=args.gpus_per_node, checkpoints=read_model_path,
        no_args=not args.script_args, args=list(args.script_args),
    )  # fmt: skip


def _check(args: argparse.Namespace) -> int:
    read = _read(args)
    if read is None:
        return 2
    _, job = read
    if args.json:
        print(job.model_dump_json(indent=2, exclude={"model_spec"}))
        return 0
    for line in describe(job):
        print(line)
    return 0


def describe(job: ParsedJob) -> list[str]:
    """Readable lines: what was found, with the source of each value."""
    if job.opted_out:
        return ["opted out (#OMNIPILOT off): OmniPilot leaves this job alone"]
    out = [f"serving job: {'yes' if job.is_serving else 'no'}"]
    if job.not_serving_reason:
        out.append(f"  {job.not_serving_reason}")
    if job.line_span:
        out.append(f"vLLM command: lines {job.line_span[0]}-{job.line_span[1]} (launcher: {job.launcher})")
    fields = _FIELDS
    for name in fields:
        value = getattr(job, name)
        if value is not None:
            source = job.sources.get(name, "catalog" if name == "model_name" else "")
            out.append(f"  {name:<24} {value}" + (f"   ({source.replace('_', ' ')})" if source else ""))
    if job.quantization_detail is not None:
        out.append(f"  {'checkpoint quantization':<24} {job.quantization_detail.describe()}")
    out.extend(f"model: {note}" for note in job.model_notes)
    sb = job.sbatch
    out.append(f"#SBATCH: partition={sb.partition} gpus/node={sb.gpus_per_node} type={sb.gpu_type} "
               f"nodes={sb.nodes} time={sb.time_minutes}min")  # fmt: skip
    if job.multi_node:
        out.append(f"multi-node: {job.multi_node_reason}")
    if job.pooling:
        out.append(f"out of scope: {job.pooling}; OmniPilot predicts text generation")
    for title, items in (("tag errors", job.tag_errors), ("unresolved", job.unresolved),
                         ("rewrite not safe", job.ambiguities), ("sbatch", sb.errors)):  # fmt: skip
        out.extend(f"{title}: {item}" for item in items)
    if job.model_unresolved_hint:
        out.append(f"hint: {job.model_unresolved_hint}")
    return out


def _rewrite(args: argparse.Namespace) -> int:
    read = _read(args)
    if read is None:
        return 2
    text, job = read
    result = rewrite_vllm(text, job, model=args.model, tp=args.tp, quantization=args.quantization)
    if result.script is None:
        print(result.reason, file=sys.stderr)
        return 1
    diff = difflib.unified_diff(
        text.splitlines(True), result.script.splitlines(True), str(args.file), "rewritten"
    )
    sys.stdout.writelines(diff)
    print(result.reason, file=sys.stderr)
    return 0
