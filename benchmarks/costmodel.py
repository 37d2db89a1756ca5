"""Cost-model timings: full fit (all targets, conformal CV), model load (with the flat tree arrays it
builds), the trees alone (flat arrays vs LightGBM's predict), and request-path scoring
(DECISIONS.md §3: every arm of one request scored in ≤ 1 ms p99).

    .venv/bin/python benchmarks/costmodel.py [--history FILE] [--repeats 2000]
        [--skip-fit] [--plain]

Every "new request" differs from all before it (its concurrency and lengths change), so neither
the signature cache nor any per-arm memo can answer it; "repeated" resubmits one request. `--plain`
also times the same model on LightGBM's own predict. Prints what it measured; the goal is reported
as reached or not. The whole daemon answer is measured by benchmarks/submit_latency.py.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from omnipilot.advisor.arms import Arm, Workload
from omnipilot.advisor.costmodel import BUNDLED_DIR, ArmQuery, CostModel, query_columns, train
from omnipilot.advisor.quantile import QuantileModel
from omnipilot.advisor.tree_arrays import TreeArrays
from omnipilot.advisor.workload import cost_model_scorer
from omnipilot.catalog import Catalog
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


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU (this thread) milliseconds of one call: on a shared, loaded machine the
    wall clock also counts time the scheduler gave to other processes."""
    t0, c0 = time.perf_counter(), time.thread_time()
    fn()
    return (time.perf_counter() - t0) * 1000.0, (time.thread_time() - c0) * 1000.0


def time_scoring(
    model: CostModel, targets: list[str] | None, repeats: int, repeated: bool
) -> tuple[np.ndarray, np.ndarray]:
    for k in range(5):  # warm: catalog memo, first calls
        model.predict(arms_of_one_request(k=10**6 + k), targets)
    requests = [arms_of_one_request(k=0 if repeated else k) for k in range(repeats)]
    times = [timed(lambda arms=arms: model.predict(arms, targets)) for arms in requests]  # type: ignore[misc]
    return np.array([w for w, _ in times]), np.array([c for _, c in times])


def time_daemon_scorer(
    model: CostModel, repeats: int, n_arms: int, cold: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The daemon's own call (advisor/workload.py cost_model_scorer with no cache: tokens_per_s and
    ttft_p50_s, array scoring, answers built for decide()), for new workloads. `cold`: the model's
    per-arm-list memo (order layout, arm columns) emptied before every call, as for an arm list
    never seen before."""
    spec = Catalog.load().model("meta-llama/Meta-Llama-3-8B")
    assert spec is not None
    arms = [
        Arm(gpu=q.gpu, tp=q.tp, precision=q.precision, checkpoint=spec.name)
        for q in arms_of_one_request(n_arms)
    ]
    score = cost_model_scorer(model, ["tokens_per_s", "ttft_p50_s"], cache_size=0)
    out = []
    for k in range(repeats + 5):
        q = arms_of_one_request(1, k)[0]
        work = Workload(
            concurrency=q.concurrency, context=q.context, prompt_len=q.prompt_len, output_len=q.output_len
        )
        if cold:
            model._layouts.clear()
            model._arm_matrices.clear()
        t = timed(lambda work=work: score(spec, work, arms))  # type: ignore[misc]
        if k >= 5:  # the first calls warm the memos
            out.append(t)
    return np.array([w for w, _ in out]), np.array([c for _, c in out])


def time_trees(model: CostModel, repeats: int) -> None:
    """One target's three boosters on n rows: flat arrays vs LightGBM (the issue's reference point),
    calls interleaved so that both see the same load."""
    qm = model.models["tokens_per_s"]
    trees = qm.trees
    assert trees is not None
    for n in (12, 36, 100):
        x = model.featurizer.transform(model._columns(query_columns(arms_of_one_request(n)))[0])
        arrays, lgb = [], []
        for _ in range(repeats):
            arrays.append(timed(partial(trees.predict, x))[0])
            lgb.append(timed(partial(_lightgbm_raw, qm, x))[0])
        print(
            f"trees only (tokens_per_s, {trees.n_trees} trees), {n} rows: flat arrays p50 "
            f"{np.percentile(arrays, 50):.3f} ms, p99 {np.percentile(arrays, 99):.3f} ms; LightGBM predict "
            f"(one thread) p50 {np.percentile(lgb, 50):.3f} ms, p99 {np.percentile(lgb, 99):.3f} ms"
        )


def _lightgbm_raw(qm: QuantileModel, x: np.ndarray) -> list[object]:
    return [b.predict(x[:, qm.columns], num_threads=1) for b in qm.boosters]


def report(label: str, times: tuple[np.ndarray, np.ndarray]) -> None:
    wall, cpu = times
    p50, p99 = np.percentile(wall, 50), np.percentile(wall, 99)
    goal = "reached" if p99 <= 1.0 else "NOT reached"
    print(
        f"{label}: wall p50 {p50:.3f} ms, p99 {p99:.3f} ms, mean {statistics.fmean(wall):.3f} ms "
        f"(goal p99 ≤ 1 ms: {goal}); CPU p50 {np.percentile(cpu, 50):.3f} ms, p99 {np.percentile(cpu, 99):.3f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--history", type=Path, default=REPO / "var" / "seed" / "history.jsonl")
    ap.add_argument("--repeats", type=int, default=2000)
    ap.add_argument("--skip-fit", action="store_true")
    ap.add_argument("--plain", action="store_true", help="also time LightGBM's own predict")
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
    t0 = time.perf_counter()
    model = CostModel.load(BUNDLED_DIR)
    print(f"load bundled model (verify, parse, build tree arrays): {time.perf_counter() - t0:.3f} s")
    t0 = time.perf_counter()
    for qm in model.models.values():
        TreeArrays([b.model_to_string() for b in qm.boosters], qm.columns)
    print(
        f"  of which tree arrays, all {len(model.models)} targets: {(time.perf_counter() - t0) * 1e3:.0f} ms"
    )
    first = CostModel.load(BUNDLED_DIR)
    print(
        f"first prediction after load, 100 arms: {timed(lambda: first.predict(arms_of_one_request()))[0]:.2f} ms"
    )
    time_trees(model, args.repeats)
    runs = [("flat arrays", model)]
    if args.plain:
        plain = CostModel.load(BUNDLED_DIR)
        for qm in plain.models.values():
            qm.trees = None
        runs.append(("LightGBM", plain))
    for name, m in runs:
        for label, targets, repeated in (
            ("tokens_per_s only, new request", ["tokens_per_s"], False),
            ("all fitted targets, new request", None, False),
            ("tokens_per_s only, repeated request (signature cache)", ["tokens_per_s"], True),
        ):
            report(f"{name}, score 100 arms, {label}", time_scoring(m, targets, args.repeats, repeated))
        for n_arms in (33, 100):
            report(
                f"{name}, daemon scorer, {n_arms} arms, new request",
                time_daemon_scorer(m, args.repeats, n_arms),
            )
            report(
                f"{name}, daemon scorer, {n_arms} arms, new request, arm list never seen (memo cold)",
                time_daemon_scorer(m, args.repeats, n_arms, cold=True),
            )
    print(f"load average after timing: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
