"""Workloads: a loader for the Azure LLM inference trace format (TIMESTAMP, ContextTokens,
GeneratedTokens — the 2023 and 2024 releases of Azure/AzurePublicDataset), per-window arrival
rates, and a generator of synthetic traces and planning instances of growing size with diurnal
arrivals and heavy-tailed (log-normal) token lengths, shaped like the Azure 2023 statistics
(planner_spec.md §10: conversation p50/p90 prompt 1020/2734, output 129/424)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from omnipilot.advisor.planner.instance import GpuPool, Instance, ModelOption, PlannerInputError, RequestClass
from omnipilot.catalog import Catalog

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


@dataclass(frozen=True)
class Trace:
    """Requests sorted by arrival: seconds since the first, prompt and generated tokens."""

    t_s: np.ndarray
    prompt: np.ndarray
    output: np.ndarray

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self.t_s) > 1 else 0.0


def load_azure_trace(path: Path) -> Trace:
    """Read an Azure LLM inference trace CSV; the error names a missing column or bad row."""
    try:
        df = pd.read_csv(path)
    except FileNotFoundError as exc:
        raise PlannerInputError(f"trace {path} does not exist") from exc
    missing = [c for c in AZURE_COLUMNS if c not in df.columns]
    if missing:
        raise PlannerInputError(f"trace {path}: missing column(s) {missing}; expected {list(AZURE_COLUMNS)}")
    if df.empty:
        raise PlannerInputError(f"trace {path} has no requests")
    try:
        ts = pd.to_datetime(df["TIMESTAMP"], format="mixed")
    except (ValueError, TypeError) as exc:
        raise PlannerInputError(f"trace {path}: TIMESTAMP is not a date-time: {exc}") from exc
    order = np.argsort(ts.to_numpy(), kind="stable")
    t_ns = ts.to_numpy()[order].astype("datetime64[ns]").astype(np.int64)
    prompt = pd.to_numeric(df["ContextTokens"], errors="coerce").to_numpy()[order]
    output = pd.to_numeric(df["GeneratedTokens"], errors="coerce").to_numpy()[order]
    if np.isnan(prompt).any() or np.isnan(output).any() or (prompt < 0).any() or (output < 0).any():
        raise PlannerInputError(f"trace {path}: token counts must be non-negative integers")
    return Trace((t_ns - t_ns[0]) / 1e9, prompt.astype(int), output.astype(int))


def write_azure_trace(trace: Trace, path: Path, start: str = "2024-05-10 00:00:00") -> None:
    stamps = pd.Timestamp(start) + pd.to_timedelta(trace.t_s, unit="s")
    pd.DataFrame(
        {"TIMESTAMP": stamps.astype(str), "ContextTokens": trace.prompt, "GeneratedTokens": trace.output}
    ).to_csv(path, index=False)


def window_rates(trace: Trace, window_s: float) -> np.ndarray:
    """Arrivals per hour in consecutive windows of `window_s` seconds."""
    n = max(1, int(np.ceil((trace.duration_s + 1e-9) / window_s)))
    counts = np.bincount(np.minimum((trace.t_s // window_s).astype(int), n - 1), minlength=n)
    rates: np.ndarray = counts * 3600.0 / window_s
    return rates


def class_from_trace(trace: Trace, name: str, delay_slo_s: float, **extra: float) -> RequestClass:
    """A request class with the trace's mean rate, mean lengths and p90 lengths (for KV sizing)."""
    hours = max(trace.duration_s, 1.0) / 3600.0
    return RequestClass(
        name=name,
        rate_per_h=len(trace.t_s) / hours,
        delay_slo_s=delay_slo_s,
        prompt_tokens=max(1, round(float(trace.prompt.mean()))),
        output_tokens=max(1, round(float(trace.output.mean()))),
        prompt_p90=max(1, int(np.percentile(trace.prompt, 90))),
        output_p90=max(1, int(np.percentile(trace.output, 90))),
        **extra,
    )


def diurnal_profile(
    n_windows: int, window_h: float, amplitude: float = 0.5, peak_h: float = 14.0
) -> np.ndarray:
    """Relative rate per window: 1 + amplitude·cos over a 24 h day, peaking at `peak_h`."""
    hours = (np.arange(n_windows) + 0.5) * window_h
    out: np.ndarray = 1.0 + amplitude * np.cos(2 * np.pi * (hours - peak_h) / 24.0)
    return out


def synthetic_trace(
    hours: float,
    mean_rate_per_h: float,
    seed: int = 0,
    amplitude: float = 0.5,
    prompt_median: float = 1020,
    output_median: float = 129,
) -> Trace:
    """Poisson arrivals with a diurnal rate; log-normal lengths (σ≈0.8 gives the Azure p90/p50)."""
    rng = np.random.default_rng(seed)
    window_h = 1.0 / 12.0
    prof = diurnal_profile(max(1, round(hours / window_h)), window_h, amplitude)
    counts = rng.poisson(mean_rate_per_h * window_h * prof)
    starts = np.repeat(np.arange(len(prof)) * window_h * 3600.0, counts)
    t = np.sort(starts + rng.uniform(0.0, window_h * 3600.0, size=starts.size))
    prompt = np.maximum(1, rng.lognormal(np.log(prompt_median), 0.8, size=t.size)).astype(int)
    output = np.maximum(1, rng.lognormal(np.log(output_median), 0.9, size=t.size)).astype(int)
    return Trace(t, prompt, output)


def volatile_rates(
    base_per_h: np.ndarray, n_windows: int, window_h: float, sigma: float, seed: int, amplitude: float = 0.5
) -> np.ndarray:
    """[W, I] rates: diurnal profile times a log-normal random walk λ_{t+1} = λ_t·exp(σε − σ²/2)."""
    rng = np.random.default_rng(seed)
    walk = np.exp(np.cumsum(sigma * rng.standard_normal((n_windows, len(base_per_h))) - sigma**2 / 2, axis=0))
    out: np.ndarray = diurnal_profile(n_windows, window_h, amplitude)[:, None] * base_per_h[None, :] * walk
    return out


def make_instance(
    n_classes: int,
    n_models: int,
    n_gpus: int,
    seed: int = 0,
    catalog: Catalog | None = None,
    rate_scale: float = 1.0,
) -> Instance:
    """A synthetic instance with real catalog models and GPU kinds: rates in the paper's 1k–25k
    req/h range, SLOs 4–25 s, and a size-driven error per (class, model) so the error bound binds."""
    cat = catalog or Catalog.load()
    rng = np.random.default_rng(seed)
    bases = sorted(
        {m.name: m for m in cat.models if m.active_params_b is None}.values(), key=lambda m: m.params_b
    )
    pick = np.sort(rng.choice(len(bases), size=min(n_models, len(bases)), replace=False))
    gpu_pick = rng.choice(len(cat.gpus), size=min(n_gpus, len(cat.gpus)), replace=False)
    classes = []
    base_err = rng.uniform(0.02, 0.08, size=n_classes)
    for i in range(n_classes):
        p_med, o_med = rng.lognormal(np.log(900), 0.6), rng.lognormal(np.log(180), 0.6)
        classes.append(
            RequestClass(
                name=f"class{i:02d}",
                rate_per_h=float(rng.uniform(1000, 25000) * rate_scale),
                prompt_tokens=int(p_med * 1.38),
                output_tokens=int(o_med * 1.5),
                prompt_p90=int(p_med * 2.8),
                output_p90=int(o_med * 3.3),
                delay_slo_s=float(rng.uniform(4.0, 25.0)),
                error_slo=float(base_err[i] * rng.uniform(0.7, 1.5)),
                unmet_penalty=0.05,
                delay_penalty=float(rng.uniform(0.5e-5, 2e-5)),
            )
        )
    models = []
    for k in pick:
        spec = bases[int(k)]
        precs = ["bf16", "fp8", *[p for p in ("awq", "gptq") if p in spec.checkpoints]]
        errs = {
            c.name: float(min(0.5, b * (8.0 / spec.params_b) ** 0.35))
            for c, b in zip(classes, base_err, strict=True)
        }
        models.append(
            ModelOption.model_validate({"name": spec.name, "precisions": precs, "error_by_class": errs})
        )
    gpus = [GpuPool(kind=cat.gpus[int(g)].name, available=int(rng.integers(2, 9)) * 8) for g in gpu_pick]
    return Instance(classes=classes, models=models, gpus=gpus)
