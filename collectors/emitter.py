"""The per-job serving emitter: `omnipilot record [options] -- vllm serve MODEL ...`.

It starts the server command, times cold start (launch → `/v1/models` answers), then observes
the serving window by scraping `/metrics` (DECISIONS.md §7: it drives load only with
`--drive-load N`), samples NVML over the same window (power from the energy counter; SM and
tensor activity from GPM on Hopper and newer; each figure's source in the row's provenance notes),
and appends one `inference_run` row with `serve_start`/`serve_end` to the history — or one
`failed_launch` row when the server never became ready. Its exit code is the server's.
SIGTERM/SIGINT (scancel, the job's time limit) are passed to the server and the row is still written.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel

from omnipilot.cli_options import add_history_arg
from omnipilot.collectors.emitter_net import drive_load, get_json, scrape, wait_ready
from omnipilot.collectors.nvml import NvmlSampler, NvmlSummary
from omnipilot.collectors.prom_text import Scrape, bucket_quantile
from omnipilot.collectors.rows import HistoryRow, Provenance, SourceRef, Stack, Targets
from omnipilot.collectors.store import HistoryStore
from omnipilot.paths import default_history

log = structlog.get_logger("omnipilot.emitter")

_QUANT = {"fp8": "fp8", "awq": "awq", "awq_marlin": "awq", "gptq": "gptq", "gptq_marlin": "gptq"}


class ServeArgs(BaseModel):
    """What the server command says about itself (`vllm serve M` or `python -m vllm...api_server --model M`)."""

    model: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    tp: int = 1
    quantization: str | None = None
    kv_cache_dtype: str = "auto"
    max_model_len: int | None = None
    max_num_seqs: int | None = None


_FLAG_FIELDS = {"--port": "port", "--host": "host", "--tensor-parallel-size": "tp", "-tp": "tp",
                "--quantization": "quantization", "-q": "quantization", "--kv-cache-dtype": "kv_cache_dtype",
                "--max-model-len": "max_model_len", "--max-num-seqs": "max_num_seqs", "--model": "model"}  # fmt: skip


def parse_serve_argv(argv: list[str]) -> ServeArgs:
    vals: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        word = argv[i]
        flag, eq, inline = word.partition("=")
        if flag in _FLAG_FIELDS:
            value = inline if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            vals[_FLAG_FIELDS[flag]] = value
            i += 1 if eq else 2
            continue
        if word == "serve" and i + 1 < len(argv) and not argv[i + 1].startswith("-") and "model" not in vals:
            vals["model"] = argv[i + 1]
            i += 2
            continue
        i += 1
    if vals.get("host") in ("0.0.0.0", "::", ""):
        vals["host"] = "127.0.0.1"  # a server bound to every address answers on loopback
    return ServeArgs.model_validate(vals)


class RecordOptions(BaseModel):
    history: Path
    gpu: str | None = None
    token: str | None = None
    ready_timeout_s: float = 1800.0
    scrape_interval_s: float = 10.0
    drive_load: int = 0
    concurrency: int = 8
    prompt_len: int = 128
    output_len: int = 64
    nvml_interval_s: float = 1.0


def _gpu_kind(opts: RecordOptions, nvml: NvmlSampler) -> tuple[str, float | None]:
    from omnipilot.catalog import Catalog

    cat = Catalog.load()
    names = [opts.gpu, os.environ.get("OMNIPILOT_GPU")]
    if nvml.available and nvml.handles:
        try:
            nv: Any = nvml.nv
            raw = nv.nvmlDeviceGetName(nvml.handles[0])
            names.append(raw.decode() if isinstance(raw, bytes) else str(raw))
        except Exception:
            pass
    for name in names:
        spec = (cat.gpu(name) or cat.gpu_for_gres_type(name)) if name else None
        if spec is not None:
            return spec.name, spec.memory_gb
    return next((n for n in names if n), "unknown"), None


def targets_from(first: Scrape, last: Scrape, power: NvmlSummary, cold_start_s: float) -> Targets:
    span = last.t - first.t
    tokens = (last.prompt_tokens - first.prompt_tokens) + (last.generation_tokens - first.generation_tokens)
    requests = last.requests_ok - first.requests_ok
    kv = [s for s in (first.kv_usage, last.kv_usage) if s is not None]
    return Targets(
        cold_start_s=round(cold_start_s, 3),
        tokens_per_s=round(tokens / span, 3) if span > 0 and tokens > 0 else None,
        output_tokens_per_s=(
            round((last.generation_tokens - first.generation_tokens) / span, 3)
            if span > 0 and last.generation_tokens > first.generation_tokens
            else None
        ),
        requests_per_s=round(requests / span, 4) if span > 0 and requests > 0 else None,
        ttft_p50_s=bucket_quantile(first.ttft_buckets, last.ttft_buckets, 0.5),
        ttft_p90_s=bucket_quantile(first.ttft_buckets, last.ttft_buckets, 0.9),
        itl_p50_s=bucket_quantile(first.itl_buckets, last.itl_buckets, 0.5),
        kv_cache_peak_frac=min(max(kv), 1.0) if kv else None,
        preemptions=max(last.preemptions - first.preemptions, 0.0),
        power_avg_w=power.power_avg_w if power.power_avg_w else None,
        sm_active_frac=power.sm_active_frac,
        tensor_active_frac=power.tensor_active_frac,
    )


def _row(
    kind: str,
    sa: ServeArgs,
    opts: RecordOptions,
    gpu: tuple[str, float | None],
    notes: list[str],
    **extra: Any,
) -> HistoryRow:
    from omnipilot.catalog import Catalog

    cat = Catalog.load()
    spec = cat.model(sa.model) if sa.model else None
    precision = _QUANT.get((sa.quantization or "").lower()) or (
        cat.precision_of_checkpoint(sa.model or "") or "bf16"
    )
    driven = opts.drive_load > 0
    return HistoryRow(
        kind=kind,
        model=spec.name if spec else (sa.model or "unknown"),
        checkpoint=sa.model,
        family=spec.family if spec else None,
        params_b=spec.params_b if spec else None,
        gpu=gpu[0],
        gpu_memory_gb=gpu[1],
        tp=sa.tp,
        precision=precision,
        kv_cache_dtype=sa.kv_cache_dtype,
        engine="vllm",
        load_regime="burst" if driven else "observed",
        context_len=sa.max_model_len,
        prompt_len=opts.prompt_len if driven else None,
        output_len=opts.output_len if driven else None,
        concurrency=opts.concurrency if driven else sa.max_num_seqs,
        stack=Stack(engine="vllm", engine_version=extra.pop("engine_version", None)),
        provenance=Provenance(source="site", files=[SourceRef(path="emitter")], notes=notes),
        job_token=opts.token or os.environ.get("OMNIPILOT_TOKEN"),
        **extra,
    ).with_hash()


class _Signals:
    """SIGTERM/SIGINT to the emitter: stop observing and pass the signal to the server."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.stopping = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on)

    def _on(self, signum: int, _frame: Any) -> None:
        self.stopping = True
        if self.proc.poll() is None:
            self.proc.send_signal(signum)


def record(argv: list[str], opts: RecordOptions) -> tuple[int, HistoryRow]:
    sa = parse_serve_argv(argv)
    base = f"http://{sa.host}:{sa.port}"
    nvml = NvmlSampler(opts.nvml_interval_s)
    gpu = _gpu_kind(opts, nvml)
    launched = time.time()
    proc = subprocess.Popen(argv)
    sig = _Signals(proc)
    ready_at = wait_ready(base, proc, opts.ready_timeout_s, lambda: sig.stopping)
    if ready_at is None:
        code = proc.poll()
        if code is None:
            proc.terminate()
            code = proc.wait(timeout=30)
        when = datetime.fromtimestamp(launched, UTC).isoformat()
        reason = f"not ready {time.time() - launched:.1f} s after launch at {when}; server exit code {code}"
        row = _row(
            "failed_launch",
            sa,
            opts,
            gpu,
            ["emitter: the server never answered /v1/models"],
            failure_reason=reason,
        )
        HistoryStore(opts.history).append([row])
        return code, row
    return _serve_window(proc, sig, sa, opts, nvml, gpu, base, launched, ready_at)


def _serve_window(
    proc: subprocess.Popen[bytes],
    sig: _Signals,
    sa: ServeArgs,
    opts: RecordOptions,
    nvml: NvmlSampler,
    gpu: tuple[str, float | None],
    base: str,
    launched: float,
    ready_at: float,
) -> tuple[int, HistoryRow]:
    models = get_json(base + "/v1/models") or {}
    standin = any(m.get("owned_by") == "omnipilot-standin" for m in models.get("data", []))
    version = (get_json(base + "/version") or {}).get("version")
    nvml.start()
    scrapes = _observe(proc, sig, sa, opts, base)
    serve_end = scrapes[-1].t if scrapes else time.time()
    power = nvml.stop(ready_at, serve_end)
    if opts.drive_load > 0 and proc.poll() is None:
        proc.terminate()  # the emitter ends a server it drove itself: that is not a failure
        code = proc.wait()
        code = 0 if code == -signal.SIGTERM else code
    else:
        code = proc.wait()
        code = 128 - code if code < 0 else code  # killed by a signal: the shell's convention
    notes = [
        "emitter: observed the serving window"
        if opts.drive_load <= 0
        else f"emitter: drove {opts.drive_load} requests at concurrency {opts.concurrency}"
    ]
    if standin:
        notes.append("STAND-IN server (omnipilot.slurm.minicluster.standin_server), not vLLM: not a measurement")
    notes.extend(power.notes if power.available else [power.reason])
    # vLLM's counters start at zero when the server starts, so the window is counted from readiness,
    # not from the first scrape (requests sent before that scrape still belong to the window)
    first = Scrape(t=ready_at)
    last = scrapes[-1] if scrapes else first
    targets = targets_from(first, last, power, ready_at - launched)
    kv = [x.kv_usage for x in scrapes if x.kv_usage is not None]
    targets.kv_cache_peak_frac = min(max(kv), 1.0) if kv else None  # the peak of every scrape, not two
    row = _row(
        "inference_run",
        sa,
        opts,
        gpu,
        notes,
        targets=targets,
        serve_start=datetime.fromtimestamp(ready_at, UTC),
        serve_end=datetime.fromtimestamp(serve_end, UTC),
        engine_version=str(version) if version else None,
    )
    HistoryStore(opts.history).append([row])
    log.info("emitter_row", kind=row.kind, cold_start_s=row.targets.cold_start_s, scrapes=len(scrapes))
    return code, row


def _observe(
    proc: subprocess.Popen[bytes], sig: _Signals, sa: ServeArgs, opts: RecordOptions, base: str
) -> list[Scrape]:
    """Scrape `/metrics` every interval until the server exits, a signal arrives, or driven load ends."""
    driver: threading.Thread | None = None
    if opts.drive_load > 0:
        driver = threading.Thread(
            target=drive_load,
            name="load-driver",
            daemon=True,
            args=(base, sa.model or "", opts.drive_load, opts.concurrency, opts.prompt_len, opts.output_len),
        )
        driver.start()
    scrapes = [s for s in [scrape(base)] if s is not None]
    while not sig.stopping and proc.poll() is None and (driver is None or driver.is_alive()):
        time.sleep(min(opts.scrape_interval_s, 0.25))
        if scrapes and time.time() - scrapes[-1].t < opts.scrape_interval_s:
            continue
        s = scrape(base)
        if s is not None:
            scrapes.append(s)
    if proc.poll() is None:
        s = scrape(base)
        if s is not None:
            scrapes.append(s)
    return scrapes


def add_record_args(p: argparse.ArgumentParser) -> None:
    add_history_arg(p)
    p.add_argument("--gpu", help="GPU kind (default $OMNIPILOT_GPU, else the NVML device name)")
    p.add_argument("--token", help="the job's OmniPilot token (default $OMNIPILOT_TOKEN)")
    p.add_argument("--ready-timeout", type=float, default=1800.0, help="seconds to wait for /v1/models")
    p.add_argument("--scrape-interval", type=float, default=10.0, help="seconds between /metrics scrapes")
    p.add_argument(
        "--drive-load", type=int, default=0, metavar="N", help="send N completions, then stop the server"
    )
    p.add_argument("--concurrency", type=int, default=8, help="concurrent clients with --drive-load")
    p.add_argument("--prompt-len", type=int, default=128)
    p.add_argument("--output-len", type=int, default=64)
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- the server command")


def run_record(args: argparse.Namespace) -> int:
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not argv:
        print(
            "omnipilot record: give the server command after --, e.g. `omnipilot record -- vllm serve MODEL`",
            file=sys.stderr,
        )
        return 2
    opts = RecordOptions(
        history=Path(args.history) if args.history else default_history(),
        gpu=args.gpu,
        token=args.token,
        ready_timeout_s=args.ready_timeout,
        scrape_interval_s=args.scrape_interval,
        drive_load=args.drive_load,
        concurrency=args.concurrency,
        prompt_len=args.prompt_len,
        output_len=args.output_len,
    )
    try:
        code, row = record(argv, opts)
    except FileNotFoundError as exc:
        print(f"omnipilot record: cannot start {argv[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127
    print(
        f"omnipilot record: {row.kind} appended to {opts.history} (cold start {row.targets.cold_start_s} s)",
        file=sys.stderr,
    )
    return code
