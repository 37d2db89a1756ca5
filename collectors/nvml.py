"""NVML sampling of the job's GPUs (power, memory, utilization), restricted to the serving window.

Uses nvidia-ml-py (`import pynvml`, the `nvml` extra). Where NVML is absent (no driver, no GPU,
no package) the sampler says "NVML not available: <why>" once and records nothing: a job never
fails because telemetry could not be read. Averages are taken only over samples inside
[serve_start, serve_end] — whole-job averages include the idle startup and understate serving
load (paper §2.3). The GPUs sampled are the job's: `CUDA_VISIBLE_DEVICES` when it holds indices.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import threading
import time
from typing import Any

import structlog
from pydantic import BaseModel

log = structlog.get_logger("omnipilot.nvml")


class Sample(BaseModel):
    t: float
    power_w: float | None = None
    mem_used_frac: float | None = None
    util_gpu_pct: float | None = None


class NvmlSummary(BaseModel):
    available: bool
    reason: str = ""
    devices: int = 0
    samples_in_window: int = 0
    power_avg_w: float | None = None  # sum over the job's GPUs, mean over the window
    mem_used_peak_frac: float | None = None
    util_gpu_avg_frac: float | None = None


def load_nvml() -> tuple[Any | None, str]:
    """(pynvml module initialised, '') or (None, why it is not available). $OMNIPILOT_NVML_STANDIN
    (a JSON file) swaps in the stand-in (collectors/nvml_standin.py) on machines without a GPU."""
    if os.environ.get("OMNIPILOT_NVML_STANDIN"):
        from omnipilot.collectors import nvml_standin

        log.warning("nvml_standin", file=os.environ["OMNIPILOT_NVML_STANDIN"], note="not a real GPU")
        try:
            standin = nvml_standin.module()
            standin.nvmlInit()
        except (OSError, ValueError) as exc:
            return None, f"NVML not available: the NVML stand-in's file is unreadable: {exc}"
        return standin, ""
    try:
        nv = importlib.import_module("pynvml")
    except ImportError:
        return None, "NVML not available: nvidia-ml-py is not installed (pip install 'omnipilot[nvml]')"
    try:
        nv.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound / DriverNotLoaded / NoPermission
        return None, f"NVML not available: {exc}"
    return nv, ""


def job_device_indices(nv: Any, env: dict[str, str] | None = None) -> list[int]:
    count = int(nv.nvmlDeviceGetCount())
    visible = (env or dict(os.environ)).get("CUDA_VISIBLE_DEVICES", "").strip()
    if visible and all(v.strip().isdigit() for v in visible.split(",")):
        return [int(v) for v in visible.split(",") if int(v) < count]
    return list(range(count))


def read_sample(nv: Any, handles: list[Any]) -> Sample:
    """One sample summed/averaged over the handles; a counter a GPU does not support stays None."""
    power = mem = util = 0.0
    n_power = n_mem = n_util = 0
    for h in handles:
        try:
            power += nv.nvmlDeviceGetPowerUsage(h) / 1000.0  # mW
            n_power += 1
        except Exception:
            pass
        try:
            m = nv.nvmlDeviceGetMemoryInfo(h)
            mem = max(mem, float(m.used) / float(m.total)) if m.total else mem
            n_mem += 1
        except Exception:
            pass
        try:
            util += float(nv.nvmlDeviceGetUtilizationRates(h).gpu)
            n_util += 1
        except Exception:
            pass
    return Sample(
        t=time.time(),
        power_w=power if n_power else None,
        mem_used_frac=mem if n_mem else None,
        util_gpu_pct=util / n_util if n_util else None,
    )


def summarise(samples: list[Sample], start: float | None, end: float | None, devices: int) -> NvmlSummary:
    inside = [s for s in samples if (start is None or s.t >= start) and (end is None or s.t <= end)]
    powers = [s.power_w for s in inside if s.power_w is not None]
    mems = [s.mem_used_frac for s in inside if s.mem_used_frac is not None]
    utils = [s.util_gpu_pct for s in inside if s.util_gpu_pct is not None]
    return NvmlSummary(
        available=True,
        devices=devices,
        samples_in_window=len(inside),
        power_avg_w=round(sum(powers) / len(powers), 2) if powers else None,
        mem_used_peak_frac=round(max(mems), 4) if mems else None,
        util_gpu_avg_frac=round(sum(utils) / len(utils) / 100.0, 4) if utils else None,
    )


class NvmlSampler:
    """Samples in a background thread every `interval_s` until `stop()`."""

    def __init__(self, interval_s: float = 1.0, env: dict[str, str] | None = None) -> None:
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.nv, self.reason = load_nvml()
        self.handles: list[Any] = []
        if self.nv is not None:
            try:
                self.handles = [
                    self.nv.nvmlDeviceGetHandleByIndex(i) for i in job_device_indices(self.nv, env)
                ]
            except Exception as exc:
                self.nv, self.reason = None, f"NVML not available: {exc}"
        if self.nv is None:
            log.info("nvml_unavailable", reason=self.reason)

    @property
    def available(self) -> bool:
        return self.nv is not None

    def start(self) -> None:
        if self.available:
            self._thread = threading.Thread(target=self._loop, name="nvml-sampler", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append(read_sample(self.nv, self.handles))
            self._stop.wait(self.interval_s)

    def stop(self, start: float | None = None, end: float | None = None) -> NvmlSummary:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if not self.available:
            return NvmlSummary(available=False, reason=self.reason)
        try:
            nv: Any = self.nv
            nv.nvmlShutdown()
        except Exception:
            pass
        return summarise(self.samples, start, end, len(self.handles))


def run_nvml_check(args: argparse.Namespace) -> int:
    sampler = NvmlSampler(args.interval)
    sampler.start()
    t0 = time.time()
    if sampler.available:
        time.sleep(max(args.seconds, 0.0))
    summary = sampler.stop(t0, time.time())
    if args.json:
        print(json.dumps(summary.model_dump()))
    elif not summary.available:
        print(summary.reason)
    else:
        print(
            f"NVML available: {summary.devices} GPU(s), {summary.samples_in_window} samples; "
            f"power {summary.power_avg_w} W, memory peak {summary.mem_used_peak_frac}, "
            f"utilization {summary.util_gpu_avg_frac}"
        )
    return 0 if summary.available else 3
