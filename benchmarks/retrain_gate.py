"""The update gate on the real seed history, with and without a synthetic site history (minutes).

    .venv/bin/python benchmarks/retrain_gate.py [--seed FILE] [--rows 120]

Runs `omnipilot retrain` three times into a temporary model directory, each from the bundled
model as the current one:
1. seed only (the bundled model's own data: expected "unchanged");
2. seed + a SYNTHETIC site history of a GPU kind the seed lacks (H200-141GB): seed H100-80GB vLLM
   rows with throughput scaled by the memory-bandwidth ratio and 5 % noise. Not measured data:
   it exists only to exercise the gate and is never written into the bundled model;
3. seed + a synthetic "broken collector" site history: seed H100 rows re-reported by a site stack
   with throughput 2.5x too high (a double-counting emitter), in the seed's own cells;
4. the same broken collector on the site's own workloads (prompt and output lengths x1.5: cells
   the seed does not have).
It prints each gate report's numbers and the exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from omnipilot.catalog import PRECISIONS
from omnipilot.cli import main
from omnipilot.collectors.rows import HistoryRow, Provenance, Stack, Targets
from omnipilot.collectors.store import HistoryStore

REPO = Path(__file__).resolve().parents[1]
H100_BW, H200_BW = 3350.0, 4800.0  # GB/s, etc/gpus.toml


def _h100_rows(seed: Path, n: int, rng: np.random.Generator) -> list[HistoryRow]:
    rows, _ = HistoryStore(seed).read()
    pool = [
        r
        for r in rows
        if r.kind == "inference_run"
        and r.engine == "vllm"
        and r.gpu == "H100-80GB"
        and r.precision in PRECISIONS
        and r.pp == 1
        and r.targets.tokens_per_s
    ]
    pick = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
    return [pool[int(i)] for i in sorted(pick)]


def _variant(
    row: HistoryRow, factor: float, note: str, cuda: str | None = None, **axes: object
) -> HistoryRow:
    t = row.targets
    targets = Targets(
        tokens_per_s=(t.tokens_per_s or 0) * factor or None,
        requests_per_s=t.requests_per_s * factor if t.requests_per_s else None,
    )
    # the site's CUDA is hashed (a distinct measurement) but is no model feature
    stack = Stack(engine="vllm", engine_version=row.stack.engine_version, cuda=cuda or row.stack.cuda)
    prov = Provenance(source="synthetic-site", notes=[note])
    return row.model_copy(
        update={**axes, "targets": targets, "stack": stack, "provenance": prov, "content_hash": ""}
    ).with_hash()


def site_histories(seed: Path, out: Path, n: int) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(20261124)
    base = _h100_rows(seed, n, rng)
    h200 = [
        _variant(
            r,
            H200_BW / H100_BW * float(np.exp(rng.normal(0, 0.05))),
            "SYNTHETIC: seed H100 row scaled by the H200/H100 memory-bandwidth ratio, 5 % noise",
            gpu="H200-141GB",
            gpu_memory_gb=141.0,
        )
        for r in base
    ]
    broken = [
        _variant(r, 2.5, "SYNTHETIC: seed H100 row re-reported 2.5x too high (broken collector)", "12.8-site")
        for r in base
    ]
    own_cells = [
        _variant(
            r,
            2.5,
            "SYNTHETIC: broken collector on the site's own workloads (lengths x1.5, throughput x2.5)",
            "12.8-site",
            prompt_len=int((r.prompt_len or 128) * 1.5),
            output_len=int((r.output_len or 128) * 1.5),
            context_len=None,
        )
        for r in base
    ]
    paths = out / "site_h200.jsonl", out / "site_broken.jsonl", out / "site_broken_own_cells.jsonl"
    for path, rows in zip(paths, (h200, broken, own_cells), strict=True):
        HistoryStore(path).append(rows)
    return paths


def retrain(seed: Path, models: Path, sites: list[Path]) -> tuple[int, dict[str, object], float]:
    argv = ["retrain", "--seed-history", str(seed), "--model-dir", str(models), "--json", "--dry-run"]
    for s in sites:
        argv += ["--site-history", str(s)]
    buf = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        rc = main(argv)
    return rc, json.loads(buf.getvalue()), time.perf_counter() - t0


def show(label: str, rc: int, doc: dict[str, object], seconds: float) -> None:
    print(f"\n== {label}: exit {rc}, verdict {doc['verdict']}, {seconds:.0f} s")
    print(f"   history {doc['history']}")
    for reason in doc["reasons"]:  # type: ignore[attr-defined]
        print(f"   reason: {reason}")
    for name, r in doc.get("targets", {}).items():  # type: ignore[attr-defined]
        if not r["gated"]:
            print(f"   {name}: {'; '.join(r['notes'])}")
            continue
        i, c = r["incumbent"], r["candidate"]
        print(
            f"   {name}: cells {r['cells']}, compared rows {r['compared_rows']}; MAPE {i['mape']:.4f} → {c['mape']:.4f} "
            f"({r['mape_delta_pp']:+.2f} pp); own-rows MAPE {i['mape_reference']:.4f} → {c['mape_reference']:.4f} "
            f"({r['reference_mape_delta_pp']:+.2f} pp); cov80 {i['coverage_80']:.3f} → {c['coverage_80']:.3f}; "
            f"abstain {i['abstain_rate']:.3f} → {c['abstain_rate']:.3f}; newly answered rows {r['gained_rows']}"
            + (f" (MAPE {r['candidate_mape_gained']:.4f})" if r["candidate_mape_gained"] is not None else "")
        )
        n = r.get("new_rows") or {}
        if n.get("median_ratio") is not None:
            print(
                f"   {name}: {n['rows']} new rows, {n['in_envelope']} answered by the current model: "
                f"measured/predicted median x{n['median_ratio']:.2f}, {n['outside_interval']:.0%} outside its q10-q90"
            )
    env = doc.get("envelope")
    if env:
        print(f"   envelope gained {env['gained']} widened {env['widened']} lost {env['lost']}")  # type: ignore[index]


def run() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seed", type=Path, default=REPO / "var" / "seed" / "history.jsonl")
    ap.add_argument("--rows", type=int, default=120, help="rows per synthetic site history")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        h200, broken, own = site_histories(args.seed, out, args.rows)
        for label, sites in (
            ("seed only", []),
            ("seed + synthetic H200 site history", [h200]),
            ("seed + synthetic broken-collector site history (seed cells)", [broken]),
            ("seed + synthetic broken-collector site history (site's own cells)", [own]),
        ):
            show(label, *retrain(args.seed, out / "models", sites))
    return 0


if __name__ == "__main__":
    sys.exit(run())
