"""NVML sampling: absent NVML is a clear "not available", never a crash; averages stay in the window."""

from __future__ import annotations

import subprocess
import sys
import time
import types
from typing import Any

import pytest

from omnipilot.collectors import nvml
from omnipilot.collectors.nvml import NvmlSampler, Sample, load_nvml, summarise


def test_summary_keeps_only_the_serving_window() -> None:
    samples = [Sample(t=t, power_w=p, mem_used_frac=m, util_gpu_pct=u)
               for t, p, m, u in ((1, 60, 0.1, 0), (2, 60, 0.1, 0), (10, 300, 0.8, 90), (11, 320, 0.9, 100),
                                  (20, 70, 0.2, 0))]  # fmt: skip
    s = summarise(samples, 10, 11, devices=2)
    assert (s.samples_in_window, s.power_avg_w, s.mem_used_peak_frac, s.util_gpu_avg_frac) == (
        2,
        310,
        0.9,
        0.95,
    )
    whole = summarise(samples, None, None, devices=2)
    assert whole.power_avg_w is not None and whole.power_avg_w < s.power_avg_w  # the startup drags it down


def test_missing_library_is_not_available_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("pynvml")

    def init() -> None:
        raise RuntimeError("NVML Shared Library Not Found")

    fake.nvmlInit = init  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = NvmlSampler(0.01)
    sampler.start()
    summary = sampler.stop(0, time.time())
    assert not summary.available and summary.reason.startswith("NVML not available")
    assert "Shared Library" in summary.reason


def test_unavailable_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails as if nvidia-ml-py were not installed
    nv, why = load_nvml()
    assert nv is None and "nvidia-ml-py is not installed" in why


def test_job_devices_follow_cuda_visible_devices() -> None:
    dev = types.SimpleNamespace(nvmlDeviceGetCount=lambda: 8)
    assert nvml.job_device_indices(dev, {"CUDA_VISIBLE_DEVICES": "2,5"}) == [2, 5]
    assert nvml.job_device_indices(dev, {"CUDA_VISIBLE_DEVICES": "GPU-uuid-1"}) == list(range(8))
    assert nvml.job_device_indices(dev, {}) == list(range(8))


def test_nvml_command_does_not_crash_either_way() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "omnipilot.cli", "nvml", "--seconds", "0.5", "--interval", "0.1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if load_nvml()[0] is None:
        assert res.returncode == 3 and res.stdout.startswith("NVML not available"), res.stderr
    else:
        assert res.returncode == 0 and "NVML available" in res.stdout


def test_real_gpus_are_sampled_where_present() -> None:
    nv, why = load_nvml()
    if nv is None:
        pytest.skip(why)
    sampler: Any = NvmlSampler(0.1)
    sampler.start()
    t0 = time.time()
    time.sleep(1.0)
    s = sampler.stop(t0, time.time())
    assert s.available and s.devices >= 1 and s.samples_in_window >= 5
    assert s.power_avg_w is not None and s.power_avg_w > 0 and s.mem_used_peak_frac is not None
