"""Cost-model timings: full fit (all targets, conformal CV), model load, and request-path scoring
of ~100 arms (DECISIONS.md §3: every arm of one request scored in ≤ 1 ms p99).

    .venv/bin/python benchmarks/costmodel.py [--history var/seed/history.jsonl] [--repeats 2000]
        [--skip-fit] [--plain]

Every "new request" differs from all before it (its concurrency and lengths change), so neither
the signature cache nor any per-arm memo can answer it; "repeated" resubmits one request. Model
load is timed with an empty compiled-tree cache (compiles), with a warm one, and without compiled
trees. `--plain` also times the LightGBM path. Prints what it measured; the goal is reported as
reached or not.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from omnipilot.advisor.arms import Arm, Workload
from omnipilot.advisor.catalog import Catalog
from omnipilot.advisor.costmodel import BUNDLED_DIR, ArmQuery, CostModel, train
from omnipilot.advisor.workload import cost_model_scorer
from omnipilot.collectors.store import load_frame

REPO = Path(__file__).resolve().parent.parent
GPUS = ["A100-40GB", "A100-80GB", "H100-80GB", "H200-141GB", "L40S-48GB", "MI300X-192GB", "GH200-96GB"]


def arms_of_one_request(n: int = 100, k: int = 0) -> list[ArmQuery]:
    """The arms of request number k: the same GPU × TP × precision grid, a workload of its own."""
    combos = itertools.product(GPUS, (1, 2, 4, 8), ("bf16", "fp8", "awq", "gptq"))
    prompt = 256 + 8 * (k % 97)
    output = 128 + 4 * (k % 89)
    return [
        ArmQuery(
            model="meta-llama/Meta-Llama-3-8B",
            gpu=g,
            tp=tp,
            precision=p,
            concurrency=1 + k % 64,
            context=prompt + output,
            prompt_len=prompt,
            output_len=output,
        )
        for g, tp, p in itertools.islice(combos, n)
    ]


def time_scoring(
    model: CostModel, targets: list[str] | None, repeats: int, repeated: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock and CPU (this thread) milliseconds per request: on a shared, loaded machine the
    wall clock also counts time the scheduler gave to other processes."""
    for k in range(5):  # warm: catalog memo, first calls
        model.predict(arms_of_one_request(k=10**6 + k), targets)
    requests = [arms_of_one_request(k=0 if repeated else k) for k in range(repeats)]
    wall, cpu = [], []
    for arms in requests:
        t0, c0 = time.perf_counter(), time.thread_time()
        model.predict(arms, targets)
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.thread_time() - c0) * 1000.0)
    return np.array(wall), np.array(cpu)


def time_load(label: str, load: Callable[[], CostModel]) -> CostModel:
    t0 = time.perf_counter()
    model = load()
    print(f"load bundled model, {label}: {time.perf_counter() - t0:.3f} s")
    return model


def time_daemon_scorer(model: CostModel, repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """The daemon's own call (advisor/workload.py cost_model_scorer: tokens_per_s and ttft_p50_s,
    building the queries and converting the answers), for new workloads."""
    spec = Catalog.load().model("meta-llama/Meta-Llama-3-8B")
    assert spec is not None
    arms = [
        Arm(gpu=q.gpu, tp=q.tp, precision=q.precision, checkpoint=spec.name) for q in arms_of_one_request()
    ]
    score = cost_model_scorer(model, ["tokens_per_s", "ttft_p50_s"])
    wall, cpu = [], []
    for k in range(repeats + 5):
        q = arms_of_one_request(1, k)[0]
        work = Workload(
            concurrency=q.concurrency, context=q.context, prompt_len=q.prompt_len, output_len=q.output_len
        )
        t0, c0 = time.perf_counter(), time.thread_time()
        score(spec, work, arms)
        if k >= 5:  # the first calls warm the memos
            wall.append((time.perf_counter() - t0) * 1000.0)
            cpu.append((time.thread_time() - c0) * 1000.0)
    return np.array(wall), np.array(cpu)


def _load_compiled() -> CostModel:
    return CostModel.load(BUNDLED_DIR, compile_trees=True)


def report(label: str, times: tuple[np.ndarray, np.ndarray]) -> None:
    wall, cpu = times
    p50, p99 = np.percentile(wall, 50), np.percentile(wall, 99)
    goal = "reached" if p99 <= 1.0 else "NOT reached"
    print(
        f"score 100 arms, {label}: wall p50 {p50:.3f} ms, p99 {p99:.3f} ms, mean "
        f"{statistics.fmean(wall):.3f} ms (goal p99 ≤ 1 ms: {goal}); CPU p50 "
        f"{np.percentile(cpu, 50):.3f} ms, p99 {np.percentile(cpu, 99):.3f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--history", type=Path, default=REPO / "var" / "seed" / "history.jsonl")
    ap.add_argument("--repeats", type=int, default=2000)
    ap.add_argument("--skip-fit", action="store_true")
    ap.add_argument("--plain", action="store_true", help="also time plain LightGBM (no compiled trees)")
    args = ap.parse_args()
    if not args.skip_fit:
        frame = load_frame(args.history)
        t0 = time.perf_counter()
        manifest, _ = train(frame)
        print(
            f"fit, all targets with conformal CV: {time.perf_counter() - t0:.1f} s "
            f"({manifest.n_rows} rows, targets {', '.join(manifest.targets)})"
        )
    print(f"load average before timing: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as empty:
        os.environ["OMNIPILOT_CACHE_DIR"] = empty
        time_load("compiled trees, empty cache (compiles)", _load_compiled)
        fast = time_load("compiled trees, warm cache", _load_compiled)
    plain = time_load("plain LightGBM", lambda: CostModel.load(BUNDLED_DIR))
    runs = [("compiled", fast)] + ([("plain LightGBM", plain)] if args.plain else [])
    for name, model in runs:
        for label, targets, repeated in (
            ("tokens_per_s only, new request", ["tokens_per_s"], False),
            ("all fitted targets, new request", None, False),
            ("tokens_per_s only, repeated request (signature cache)", ["tokens_per_s"], True),
        ):
            report(f"{name}, {label}", time_scoring(model, targets, args.repeats, repeated))
        report(
            f"{name}, daemon scorer (cost_model_scorer), new request", time_daemon_scorer(model, args.repeats)
        )
    print(f"load average after timing: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
