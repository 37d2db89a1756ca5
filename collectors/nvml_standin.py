"""A STAND-IN for NVML (the `pynvml` calls collectors/nvml.py and collectors/healthcheck.py make),
answering from a JSON file: for tests and the mini cluster on machines without a GPU.

It is used only when $OMNIPILOT_NVML_STANDIN names such a file, and everything that loads it says
so. What it answers mirrors a real H200 (../shared/GPU_NOTES.md): remapped rows as (correctable,
uncorrectable, pending, failure), the volatile uncorrected ECC count, the energy counter in mJ, and
GPM metrics on Hopper and newer (a device with `"gpm": null` answers NotSupported, like an A100).
The energy counter advances at `power_w` (`"energy_mj": null`: NotSupported, like a pre-Volta GPU);
`"raise": ["nvmlGpmMetricsGet", ...]` makes those calls fail on that device with an NVML error, so
tests can check that an NVML error never fails what calls it.

    {"devices": [{"name": "NVIDIA H200", "pci_bus_id": "00000000:18:00.0",
                  "remapped_rows": [0, 0, 0, 0], "ecc_uncorrected_volatile": 0,
                  "energy_mj": 1000000, "power_w": 81, "memory_used_frac": 0.0, "util_pct": 0,
                  "gpm": {"sm_util": 95.0, "any_tensor_util": 93.0}}]}
"""

from __future__ import annotations

import json
import os
import time
import types
from pathlib import Path
from typing import Any

ENV = "OMNIPILOT_NVML_STANDIN"
NAME = "NVML stand-in"

NVML_VOLATILE_ECC = 0
NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1
NVML_GPM_METRIC_SM_UTIL = 2
NVML_GPM_METRIC_ANY_TENSOR_UTIL = 5
NVML_GPM_METRICS_GET_VERSION = 1
_GPM_KEYS = {NVML_GPM_METRIC_SM_UTIL: "sm_util", NVML_GPM_METRIC_ANY_TENSOR_UTIL: "any_tensor_util"}


class NVMLError(Exception):
    pass


class NVMLError_NotSupported(NVMLError):  # pynvml's name
    def __str__(self) -> str:
        return "Not Supported"


class _Handle:
    def __init__(self, index: int, spec: dict[str, Any]) -> None:
        self.index, self.spec = index, spec


class _Metric:
    def __init__(self) -> None:
        self.metricId = 0
        self.nvmlReturn = 0
        self.value = 0.0


class MetricsGet:
    """pynvml.c_nvmlGpmMetricsGet_t's fields that the sampler sets and reads."""

    def __init__(self) -> None:
        self.version = 0
        self.numMetrics = 0
        self.sample1: Any = None
        self.sample2: Any = None
        self.metrics = [_Metric() for _ in range(8)]


def _devices() -> list[dict[str, Any]]:
    doc = json.loads(Path(os.environ[ENV]).read_text())
    devices: list[dict[str, Any]] = doc.get("devices", [])
    return devices


def module() -> types.ModuleType:
    """A module with pynvml's names, answering from the file $OMNIPILOT_NVML_STANDIN names. The file
    is read at each call, so a test can change a device's health between two runs."""
    m = types.ModuleType("pynvml_standin", "NVML stand-in (not a real GPU)")

    def handle(i: int) -> _Handle:
        devs = _devices()
        if not 0 <= i < len(devs):
            raise NVMLError(f"Invalid Argument: no device {i}")
        return _Handle(i, devs[i])

    def spec(h: _Handle) -> dict[str, Any]:
        return _devices()[h.index]

    def fails(index: int, call: str) -> None:
        if call in _devices()[index].get("raise", []):
            raise NVMLError("Unknown Error")

    def gpm(h: _Handle) -> dict[str, float]:
        g = spec(h).get("gpm")
        if not g:
            raise NVMLError_NotSupported()
        return dict(g)

    def sample_get(h: _Handle, sample: dict[str, Any]) -> None:
        fails(h.index, "nvmlGpmSampleGet")
        sample.update(gpm(h), t=time.monotonic(), index=h.index)

    def metrics_get(mg: MetricsGet) -> MetricsGet:
        fails(int(mg.sample2.get("index", 0)), "nvmlGpmMetricsGet")
        for metric in mg.metrics[: mg.numMetrics]:
            metric.value = float(mg.sample2.get(_GPM_KEYS.get(metric.metricId, ""), 0.0))
        return mg

    def energy(h: _Handle) -> int:
        fails(h.index, "nvmlDeviceGetTotalEnergyConsumption")
        s = spec(h)
        if s.get("energy_mj", 0) is None:
            raise NVMLError_NotSupported()
        # a counter in mJ that advances at power_w, as the real one does under a steady load
        return int(s.get("energy_mj", 0)) + int(time.monotonic() * 1000 * float(s.get("power_w", 0.0)))

    def ecc(h: _Handle, error_type: int, counter_type: int) -> int:
        if error_type == NVML_MEMORY_ERROR_TYPE_UNCORRECTED and counter_type == NVML_VOLATILE_ECC:
            return int(spec(h).get("ecc_uncorrected_volatile", 0))
        return 0

    names: dict[str, Any] = {
        "NVMLError": NVMLError,
        "NVMLError_NotSupported": NVMLError_NotSupported,
        "NVML_VOLATILE_ECC": NVML_VOLATILE_ECC,
        "NVML_MEMORY_ERROR_TYPE_UNCORRECTED": NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
        "NVML_GPM_METRIC_SM_UTIL": NVML_GPM_METRIC_SM_UTIL,
        "NVML_GPM_METRIC_ANY_TENSOR_UTIL": NVML_GPM_METRIC_ANY_TENSOR_UTIL,
        "NVML_GPM_METRICS_GET_VERSION": NVML_GPM_METRICS_GET_VERSION,
        "STANDIN": True,
        "nvmlInit": lambda: _devices(),
        "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: len(_devices()),
        "nvmlDeviceGetHandleByIndex": handle,
        "nvmlDeviceGetName": lambda h: str(spec(h).get("name", "NVIDIA H200")),
        "nvmlDeviceGetPciInfo": lambda h: types.SimpleNamespace(
            busId=str(spec(h).get("pci_bus_id", f"00000000:{h.index + 0x18:02X}:00.0"))
        ),
        "nvmlDeviceGetRemappedRows": lambda h: tuple(
            int(v) for v in spec(h).get("remapped_rows", [0, 0, 0, 0])
        ),
        "nvmlDeviceGetTotalEccErrors": ecc,
        "nvmlDeviceGetTotalEnergyConsumption": energy,
        "nvmlDeviceGetPowerUsage": lambda h: int(float(spec(h).get("power_w", 0.0)) * 1000),
        "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(
            used=int(float(spec(h).get("memory_used_frac", 0.0)) * 1e9), total=int(1e9)
        ),
        "nvmlDeviceGetUtilizationRates": lambda h: types.SimpleNamespace(gpu=int(spec(h).get("util_pct", 0))),
        "nvmlGpmQueryDeviceSupport": lambda h: types.SimpleNamespace(
            isSupportedDevice=1 if spec(h).get("gpm") else 0
        ),
        "nvmlGpmSampleAlloc": dict,
        "nvmlGpmSampleGet": sample_get,
        "nvmlGpmSampleFree": lambda s: None,
        "c_nvmlGpmMetricsGet_t": MetricsGet,
        "nvmlGpmMetricsGet": metrics_get,
    }
    for k, v in names.items():
        setattr(m, k, v)
    return m
