"""NVML sampling of the job's GPUs, restricted to the serving window.

Instant readings (power, memory, utilization) every interval; the energy counter
(`nvmlDeviceGetTotalEnergyConsumption`, mJ) at each tick, so average power over the window is the
energy used divided by the time — better than averaging power samples (../shared/GPU_NOTES.md);
and on Hopper and newer, GPM (`nvmlGpmSampleGet` at each tick, `nvmlGpmMetricsGet` between two
ticks) for SM activity and tensor activity, the paper's two diagnostic targets. A device without
GPM (A100 and older) leaves them out, and the summary says why.

Uses nvidia-ml-py (`import pynvml`, the `nvml` extra). Where NVML is absent (no driver, no GPU,
no package) the sampler says "NVML not available: <why>" once and records nothing: a job never
fails because telemetry could not be read, and an NVML error while sampling becomes a note, never an
exception. Averages are taken only over the serving window [serve_start, serve_end] — whole-job
averages include the idle startup and understate serving load (paper §2.3). The GPUs sampled are the
job's: `CUDA_VISIBLE_DEVICES` when it holds indices.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from pydantic import BaseModel, Field

log = structlog.get_logger("omnipilot.nvml")

# what GPM's SM_UTIL and ANY_TENSOR_UTIL become in a history row (DECISIONS.md §2 target names)
GPM_TARGETS = ("sm_active_frac", "tensor_active_frac")


class Sample(BaseModel):
    """One tick. `energy_mj` is the counter summed over the job's GPUs; the GPM values cover the time
    since the previous tick (mean over the GPUs, percent), None where any GPU did not answer."""

    t: float
    power_w: float | None = None
    mem_used_frac: float | None = None
    util_gpu_pct: float | None = None
    energy_mj: float | None = None
    # when the counter was read (wall clock); `t` is taken before the other readings, and a busy host
    # can put milliseconds between the two, which a 0.1 s tick turns into a percent of power
    energy_t: float | None = None
    sm_util_pct: float | None = None
    tensor_util_pct: float | None = None


class NvmlSummary(BaseModel):
    available: bool
    reason: str = ""
    standin: bool = False
    devices: int = 0
    samples_in_window: int = 0
    power_avg_w: float | None = None  # sum over the job's GPUs, mean over the window
    power_source: str | None = None  # "energy counter" or "power samples"
    mem_used_peak_frac: float | None = None
    util_gpu_avg_frac: float | None = None
    sm_active_frac: float | None = None  # GPM SM_UTIL, mean over the GPUs and the window
    tensor_active_frac: float | None = None  # GPM ANY_TENSOR_UTIL, likewise
    gpm_reason: str = ""  # why the GPM targets are left out, when they are
    notes: list[str] = Field(default_factory=list, description="where each figure came from, in words")


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


def _device_name(nv: Any, handle: Any) -> str:
    try:
        raw = nv.nvmlDeviceGetName(handle)
    except Exception:
        return "this GPU"
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _nvml_error(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class Gpm:
    """GPM on the job's GPUs: one sample buffer pair per GPU; each `read()` takes a new sample and
    returns SM and any-tensor utilization (percent, mean over the GPUs) since the previous one."""

    def __init__(self, nv: Any, handles: list[Any]) -> None:
        self.nv, self.handles = nv, handles
        self.reason = ""  # non-empty: GPM is not used, and this says why
        self.errors: list[str] = []
        self._prev: list[Any] = []
        self._cur: list[Any] = []
        self._primed = False
        if not handles:
            self.reason = "no GPU to sample"
            return
        if not hasattr(nv, "nvmlGpmQueryDeviceSupport"):
            self.reason = "this nvidia-ml-py has no GPM API (GPM needs nvidia-ml-py 11.525 or newer)"
            return
        for h in handles:
            try:
                supported = bool(nv.nvmlGpmQueryDeviceSupport(h).isSupportedDevice)
            except Exception as exc:  # NotSupported on drivers or devices without GPM
                supported, why = False, _nvml_error(exc)
            else:
                why = ""
            if not supported:
                name = _device_name(nv, h)
                self.reason = (
                    f"GPM not supported on {name} (GPM needs Hopper or newer{': ' + why if why else ''})"
                )
                return
        try:
            self._prev = [nv.nvmlGpmSampleAlloc() for _ in handles]
            self._cur = [nv.nvmlGpmSampleAlloc() for _ in handles]
        except Exception as exc:
            self.reason = f"GPM sample buffers could not be allocated: {_nvml_error(exc)}"
            self.free()

    @property
    def usable(self) -> bool:
        return not self.reason

    def read(self) -> tuple[float | None, float | None]:
        if not self.usable:
            return None, None
        try:
            for h, buf in zip(self.handles, self._cur, strict=True):
                self.nv.nvmlGpmSampleGet(h, buf)
        except Exception as exc:
            # a failed sample leaves the buffers stale: start the next interval afresh
            self._note(f"nvmlGpmSampleGet: {_nvml_error(exc)}")
            self._primed = False
            return None, None
        values: tuple[float | None, float | None] = (None, None)
        if self._primed:
            values = self._metrics()
        self._prev, self._cur = self._cur, self._prev
        self._primed = True
        return values

    def _metrics(self) -> tuple[float | None, float | None]:
        nv = self.nv
        sm: list[float] = []
        tensor: list[float] = []
        for prev, cur in zip(self._prev, self._cur, strict=True):
            mg = nv.c_nvmlGpmMetricsGet_t()
            mg.version = nv.NVML_GPM_METRICS_GET_VERSION
            mg.numMetrics = 2
            mg.sample1, mg.sample2 = prev, cur
            mg.metrics[0].metricId = nv.NVML_GPM_METRIC_SM_UTIL
            mg.metrics[1].metricId = nv.NVML_GPM_METRIC_ANY_TENSOR_UTIL
            try:
                nv.nvmlGpmMetricsGet(mg)
            except Exception as exc:
                self._note(f"nvmlGpmMetricsGet: {_nvml_error(exc)}")
                return None, None
            for metric, into in ((mg.metrics[0], sm), (mg.metrics[1], tensor)):
                if int(metric.nvmlReturn) != 0:
                    self._note(
                        f"GPM metric {int(metric.metricId)}: NVML return code {int(metric.nvmlReturn)}"
                    )
                    return None, None
                into.append(min(max(float(metric.value), 0.0), 100.0))
        return sum(sm) / len(sm), sum(tensor) / len(tensor)

    def _note(self, err: str) -> None:
        if err not in self.errors:
            self.errors.append(err)
            log.warning("gpm_error", error=err)

    def free(self) -> None:
        for buf in [*self._prev, *self._cur]:
            try:
                self.nv.nvmlGpmSampleFree(buf)
            except Exception:
                pass
        self._prev, self._cur = [], []


def read_energy(nv: Any, handles: list[Any]) -> tuple[float | None, str]:
    """The energy counter summed over the handles (mJ), or (None, why) when any GPU does not answer."""
    total = 0.0
    for h in handles:
        try:
            total += float(nv.nvmlDeviceGetTotalEnergyConsumption(h))
        except Exception as exc:  # NotSupported before Volta
            return None, f"nvmlDeviceGetTotalEnergyConsumption: {_nvml_error(exc)}"
    return (total, "") if handles else (None, "no GPU to sample")


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


def _overlap(a: float, b: float, start: float | None, end: float | None) -> float:
    lo = a if start is None else max(a, start)
    hi = b if end is None else min(b, end)
    return max(hi - lo, 0.0)


def _interval_mean(
    samples: list[Sample],
    start: float | None,
    end: float | None,
    value: Callable[[Sample, Sample], float | None],
) -> float | None:
    """Mean of a per-interval value, weighted by how much of each interval (previous tick → this
    tick) lies inside the window; `value(prev, cur)` gives the interval's value or None."""
    num = den = 0.0
    for prev, cur in itertools.pairwise(samples):
        v = value(prev, cur)
        w = _overlap(prev.t, cur.t, start, end)
        if v is not None and w > 0:
            num += w * v
            den += w
    return num / den if den > 0 else None


def _energy_power(samples: list[Sample], start: float | None, end: float | None) -> float | None:
    """Energy used ÷ time over the window. Whole intervals telescope to (last counter − first) ÷ (their
    read times), so a late tick (a busy host, a thread switch) moves the figure by its delay ÷ the window,
    not ÷ one tick; an interval cut by the window's ends counts by the share of it inside."""
    used = took = 0.0
    for prev, cur in itertools.pairwise(samples):
        if prev.energy_mj is None or cur.energy_mj is None or cur.t <= prev.t:
            continue
        t0 = prev.t if prev.energy_t is None else prev.energy_t
        t1 = cur.t if cur.energy_t is None else cur.energy_t
        delta = cur.energy_mj - prev.energy_mj
        if t1 <= t0 or delta < 0:  # a reset counter is no reading
            continue
        share = _overlap(prev.t, cur.t, start, end) / (cur.t - prev.t)
        used += share * delta
        took += share * (t1 - t0)
    return used / 1000.0 / took if took > 0 else None


def summarise(samples: list[Sample], start: float | None, end: float | None, devices: int) -> NvmlSummary:
    inside = [s for s in samples if (start is None or s.t >= start) and (end is None or s.t <= end)]
    powers = [s.power_w for s in inside if s.power_w is not None]
    mems = [s.mem_used_frac for s in inside if s.mem_used_frac is not None]
    utils = [s.util_gpu_pct for s in inside if s.util_gpu_pct is not None]
    energy_w = _energy_power(samples, start, end)
    sm = _interval_mean(samples, start, end, lambda _p, c: c.sm_util_pct)
    tensor = _interval_mean(samples, start, end, lambda _p, c: c.tensor_util_pct)
    if energy_w is not None and energy_w > 0:
        power, source = energy_w, "energy counter"
    elif powers:
        power, source = sum(powers) / len(powers), "power samples"
    else:
        power, source = None, None
    return NvmlSummary(
        available=True,
        devices=devices,
        samples_in_window=len(inside),
        power_avg_w=round(power, 2) if power is not None else None,
        power_source=source,
        mem_used_peak_frac=round(max(mems), 4) if mems else None,
        util_gpu_avg_frac=round(sum(utils) / len(utils) / 100.0, 4) if utils else None,
        sm_active_frac=round(sm / 100.0, 4) if sm is not None else None,
        tensor_active_frac=round(tensor / 100.0, 4) if tensor is not None else None,
    )


class NvmlSampler:
    """Samples in a background thread every `interval_s` from `start()` until `stop()`, which takes
    one last sample so the energy and GPM intervals reach the end of the window."""

    def __init__(self, interval_s: float = 1.0, env: dict[str, str] | None = None) -> None:
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.nv, self.reason = load_nvml()
        self.handles: list[Any] = []
        self.gpm: Gpm | None = None
        self.energy_error = ""
        self.gpm_error = "GPM was not set up"
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

    @property
    def standin(self) -> bool:
        return bool(getattr(self.nv, "STANDIN", False))

    def start(self) -> None:
        if self.available:
            try:
                self.gpm = Gpm(self.nv, self.handles)
            except Exception as exc:  # NVML must never stop the job
                self.gpm, self.gpm_error = None, f"GPM setup failed: {_nvml_error(exc)}"
                log.warning("gpm_setup_failed", error=self.gpm_error)
            self._thread = threading.Thread(target=self._loop, name="nvml-sampler", daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        try:
            s = read_sample(self.nv, self.handles)
            before = time.time()
            s.energy_mj, why = read_energy(self.nv, self.handles)
            s.energy_t = (before + time.time()) / 2
            if why and not self.energy_error:
                self.energy_error = why
            if self.gpm is not None:
                s.sm_util_pct, s.tensor_util_pct = self.gpm.read()
            self.samples.append(s)
        except Exception as exc:
            log.warning("nvml_tick_failed", error=_nvml_error(exc))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._tick()
            self._stop.wait(self.interval_s)

    def stop(self, start: float | None = None, end: float | None = None) -> NvmlSummary:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if not self.available:
            return NvmlSummary(available=False, reason=self.reason)
        if self._thread is not None and not self._thread.is_alive():
            self._tick()
        if self.gpm is not None:
            self.gpm.free()
        try:
            nv: Any = self.nv
            nv.nvmlShutdown()
        except Exception:
            pass
        summary = summarise(self.samples, start, end, len(self.handles))
        summary.standin = self.standin
        summary.notes = self._notes(summary)
        return summary

    def _notes(self, s: NvmlSummary) -> list[str]:
        """Where each figure came from (or why it is missing), for the row's provenance."""
        gpus = f"{s.devices} GPU{'s' if s.devices != 1 else ''}"
        notes = (
            ["NVML STAND-IN ($OMNIPILOT_NVML_STANDIN), not a real GPU: not a measurement"]
            if s.standin
            else []
        )
        if s.power_source == "energy counter":
            notes.append(f"power_avg_w: NVML energy counter over the serving window, sum over {gpus}")
        elif s.power_source == "power samples":
            why = f" ({self.energy_error})" if self.energy_error else ""
            notes.append(f"power_avg_w: mean of NVML power samples over the serving window, sum over {gpus}; "
                         f"no energy counter reading{why}")  # fmt: skip
        gpm = self.gpm
        if gpm is not None and gpm.usable and s.sm_active_frac is not None:
            notes.append(f"sm_active_frac, tensor_active_frac: NVML GPM SM_UTIL and ANY_TENSOR_UTIL over the "
                         f"serving window, mean over {gpus}")  # fmt: skip
        else:
            if gpm is None:
                why = self.gpm_error
            elif not gpm.usable:
                why = gpm.reason
            elif gpm.errors:
                why = "GPM errors: " + "; ".join(gpm.errors)
            else:
                why = "the serving window was shorter than two GPM samples"
            s.gpm_reason = why
            notes.append(f"sm_active_frac, tensor_active_frac left out: {why}")
        return notes


def _num(v: float | None, unit: str = "") -> str:
    return "n/a" if v is None else f"{v:.4f}".rstrip("0").rstrip(".") + unit


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
        gpm = (
            f"SM active {_num(summary.sm_active_frac)}, tensor active {_num(summary.tensor_active_frac)}"
            if summary.sm_active_frac is not None
            else f"SM and tensor activity not available ({summary.gpm_reason})"
        )
        print(
            f"NVML available: {summary.devices} GPU(s), {summary.samples_in_window} samples; "
            f"power {_num(summary.power_avg_w, ' W')} (from {summary.power_source or 'nothing'}), "
            f"memory peak {_num(summary.mem_used_peak_frac)}, utilization {_num(summary.util_gpu_avg_frac)}; {gpm}"
        )
        if summary.standin:
            print("(NVML stand-in, not a real GPU)")
    return 0 if summary.available else 3
