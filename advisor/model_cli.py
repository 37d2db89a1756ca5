"""`omnipilot train [--json]`, `omnipilot evaluate [--json]`, `omnipilot advise ... [--json] [--batch FILE]`.

Exit status: 0 = done; 1 = a batch line could not be answered (its error is printed as that
line's answer and the batch goes on); 2 = bad usage, a missing history or an unloadable model.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError

from omnipilot.advisor.advise import AdviseQuery, advise, site_settings
from omnipilot.advisor.costmodel import BUNDLED_DIR, CostModel, ModelLoadError, save, train
from omnipilot.advisor.features import RooflineMode
from omnipilot.advisor.training import TrainConfig
from omnipilot.cli_options import add_config_arg, add_history_arg, add_json_arg, add_model_dir_arg
from omnipilot.config import ConfigError, Settings
from omnipilot.paths import default_history, default_models_dir
from omnipilot.progress import progress


def _history_arg(p: argparse.ArgumentParser) -> None:
    add_history_arg(p)
    p.add_argument("--engines", default="vllm", help="comma-separated engines to train on (default: vllm)")
    p.add_argument(
        "--roofline",
        choices=["offset", "feature", "none"],
        default="offset",
        help="physics estimate as log-space offset (default), as a feature, or not at all",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    t = subparsers.add_parser("train", help="train the cost model from a history (default: the seed)")
    _history_arg(t)
    add_model_dir_arg(t, "where to write the new model folder (default: ~/.local/share/omnipilot/models/VERSION)")
    add_json_arg(t)
    t.set_defaults(func=cmd_train)

    e = subparsers.add_parser("evaluate", help="leakage-free evaluation: the paper's tables on our data")
    _history_arg(e)
    e.add_argument("--json", action="store_true", help="print one JSON document")
    e.add_argument("--quick", action="store_true", help="shorter learning curve, no physics ablation")
    e.set_defaults(func=cmd_evaluate)

    a = subparsers.add_parser("advise", help="score every feasible arm of a request")
    a.add_argument("--model", help="model name, variant, checkpoint or local path")
    a.add_argument("--concurrency", type=int)
    a.add_argument("--context", type=int)
    a.add_argument("--prompt-len", type=int)
    a.add_argument("--output-len", type=int)
    a.add_argument("--gpu", help="only this GPU kind (catalog name or alias)")
    a.add_argument("--tp", type=int, help="only this TP degree")
    a.add_argument("--precision", choices=["bf16", "fp8", "awq", "gptq"], help="only this precision")
    a.add_argument("--engine", default="vllm")
    a.add_argument("--slo-ttft-ms", type=float)
    add_model_dir_arg(a, "cost-model folder (default: the bundled model)")
    add_config_arg(a)
    a.add_argument(
        "--batch", type=Path, help="JSONL of requests (snake_case fields); one JSON answer per line"
    )
    a.add_argument("--json", action="store_true", help="print the arms as a JSON list")
    a.set_defaults(func=cmd_advise)


def _logs_to_stderr() -> None:
    """Keep stdout for the answer (`--json` must parse); only when nobody configured structlog."""
    if not structlog.is_configured():
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(_Stderr()))  # type: ignore[arg-type]


class _Stderr:
    """Whatever sys.stderr is at write time (tests swap it), not the one at configure time."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _load_frame(args: argparse.Namespace) -> Any:
    from omnipilot.collectors.store import load_frame

    _logs_to_stderr()
    path = args.history or default_history()
    if not Path(path).exists():
        print(
            f"error: history {path} not found; build it with `omnipilot history build-seed`", file=sys.stderr
        )
        return None
    return load_frame(path)


def _config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(engines=tuple(e.strip() for e in args.engines.split(",") if e.strip()))


def cmd_train(args: argparse.Namespace) -> int:
    frame = _load_frame(args)
    if frame is None:
        return 2
    roofline: RooflineMode = args.roofline
    t0 = time.perf_counter()
    with progress("train", args.json):
        manifest, texts = train(frame, config=_config(args), roofline=roofline)
    out = args.model_dir or default_models_dir() / manifest.version
    save(out, manifest, texts)
    if args.json:
        print(json.dumps(json_safe({
            "model_dir": str(out), "version": manifest.version, "rows": manifest.n_rows,
            "data_hash": manifest.data_hash, "model_hash": manifest.model_hash,
            "seconds": round(time.perf_counter() - t0, 1),
            "targets": {name: {"rows": e.n_rows, "offset": e.offset, "crossing_rate": e.crossing_rate, **e.metrics}
                        for name, e in manifest.targets.items()},
            "unfitted": manifest.unfitted,
        }), indent=2))  # fmt: skip
        return 0
    print(
        f"model {manifest.version}: {manifest.n_rows} rows, data {manifest.data_hash[:12]}, "
        f"model {manifest.model_hash[:12]}, {time.perf_counter() - t0:.1f} s → {out}"
    )
    for name, entry in manifest.targets.items():
        m = entry.metrics
        print(
            f"  {name:<20} rows {entry.n_rows:>5}  offset {entry.offset:+.3f}  held-out-cell MAPE "
            f"{100 * m.get('mape_held_out_cell', math.nan):.1f}%  crossing {100 * entry.crossing_rate:.1f}%"
        )
    for name, why in manifest.unfitted.items():
        print(f"  {name:<20} {why}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from omnipilot.advisor.eval_tables import render
    from omnipilot.advisor.evaluate import evaluate

    frame = _load_frame(args)
    if frame is None:
        return 2
    with progress("evaluate", args.json):
        report = evaluate(frame, config=_config(args), roofline=args.roofline, quick=args.quick)
    print(json.dumps(json_safe(report), indent=2) if args.json else render(report))
    return 0


def json_safe(obj: Any) -> Any:
    """NaN/inf → null: the output must be valid JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def _load_model(path: Path | None, site: Settings | None = None) -> CostModel | None:
    try:
        return CostModel.load(path or BUNDLED_DIR, site=site)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def cmd_advise(args: argparse.Namespace) -> int:
    _logs_to_stderr()
    try:
        defaults = site_settings(args.config)
    except ConfigError as exc:
        print(f"omnipilot advise: {exc}", file=sys.stderr)
        return 2
    model = _load_model(args.model_dir, defaults)
    if model is None:
        return 2
    if args.batch:
        return _advise_batch(model, args.batch, defaults)
    if not args.model:
        print("error: advise needs --model (or --batch FILE.jsonl)", file=sys.stderr)
        return 2
    fields = {k: getattr(args, k) for k in AdviseQuery.model_fields if getattr(args, k, None) is not None}
    try:
        request = AdviseQuery(**fields)
    except ValidationError as exc:  # bad input: one line naming the flag, never a traceback
        first = exc.errors()[0]
        flag = "--" + ".".join(str(p) for p in first["loc"]).replace("_", "-")
        print(f"omnipilot advise: {flag}: {first['msg']} (got {first.get('input')})", file=sys.stderr)
        return 2
    answer = advise(model, request, defaults)
    if args.json:
        print(json.dumps(json_safe(answer["arms"]), indent=2))
    else:
        print(render_answer(answer, model.version))
    return 0


def _advise_batch(model: CostModel, path: Path, defaults: Any) -> int:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        print(f"error: cannot read batch file {path}: {exc}", file=sys.stderr)
        return 2
    status = 0
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            req = AdviseQuery.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "line"
            print(json.dumps({"error": f"{path}:{lineno}: {where}: {first['msg']}"}))
            status = 1
            continue
        print(json.dumps(json_safe(advise(model, req, defaults)["arms"])))
    return status


def render_answer(answer: dict[str, Any], version: str) -> str:
    lines = [f"{answer['model']} — cost model {version}", *[f"note: {n}" for n in answer["notes"]]]
    lines.append(f"{'gpu':<14}{'tp':>3} {'prec':<5}{'tokens/s q10 / q50 / q90':>30}  {'conf':<7}reasons")
    for a in answer["arms"]:
        t = a["targets"].get("tokens_per_s")
        tps = f"{t['q10']:>9.0f} {t['q50']:>9.0f} {t['q90']:>9.0f}" if t else f"{'not predicted':>29}"
        lines.append(
            f"{a['gpu']:<14}{a['tp']:>3} {a['precision']:<5}{tps:>30}  {a['confidence']:<7}"
            f"{'; '.join(a['reasons'])}"
        )
    if answer.get("unknown_model"):
        lines[-1] = "(no arm: the model's size is not known; its name states none)"
    elif not answer["arms"]:
        lines.append("(no feasible arm)")
    return "\n".join(lines)
