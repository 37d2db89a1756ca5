"""Coverage of a history: what the cost model has measured data for (`omnipilot history stats`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from omnipilot.collectors.rows import TARGETS, HistoryRow

SIZE_BINS: tuple[tuple[float, str], ...] = ((3, "<3B"), (10, "3-10B"), (30, "10-30B"), (80, "30-80B"))


def size_bin(params_b: float | None) -> str:
    if params_b is None:
        return "unknown"
    for limit, label in SIZE_BINS:
        if params_b < limit:
            return label
    return ">=80B"


def _count(values: Iterable[object]) -> dict[str, int]:
    counts = Counter("unknown" if v is None else str(v) for v in values)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _numeric_count(values: Iterable[int | None]) -> dict[str, int]:
    counts = Counter(values)
    known = sorted((k, n) for k, n in counts.items() if k is not None)
    out = {str(k): n for k, n in known}
    if None in counts:
        out["unknown"] = counts[None]
    return out


def coverage_matrix(rows: list[HistoryRow]) -> dict[str, dict[str, dict[str, int]]]:
    """GPU kind -> precision -> TP degree -> number of inference rows."""
    matrix: dict[str, dict[str, dict[str, int]]] = {}
    for r in rows:
        if r.kind != "inference_run":
            continue
        cell = matrix.setdefault(r.gpu, {}).setdefault(r.precision, {})
        cell[str(r.tp)] = cell.get(str(r.tp), 0) + 1
    return {
        g: {p: dict(sorted(t.items(), key=lambda kv: int(kv[0]))) for p, t in sorted(ps.items())}
        for g, ps in sorted(matrix.items())
    }


def stats(rows: list[HistoryRow], problems: int = 0) -> dict[str, object]:
    """The `stats --json` document (DECISIONS.md §8): {"rows", "by_kind", "coverage", ...}."""
    return {
        "rows": len(rows),
        "by_kind": _count(r.kind for r in rows),
        "coverage": coverage_matrix(rows),
        "engines": _count(r.engine for r in rows),
        "load_regimes": _count(r.load_regime for r in rows),
        "families": _count(r.family for r in rows),
        "sizes": _count(size_bin(r.params_b) for r in rows),
        "contexts": _numeric_count(r.context_len for r in rows),
        "concurrencies": _numeric_count(r.concurrency for r in rows),
        "sources": _count(r.provenance.source for r in rows),
        "targets": {t: sum(1 for r in rows if getattr(r.targets, t) is not None) for t in TARGETS},
        "vllm_rows": sum(1 for r in rows if r.engine == "vllm"),
        "bad_lines": problems,
    }


def render_text(doc: dict[str, object]) -> str:
    """Plain tables for an admin's terminal."""
    lines = [f"rows: {doc['rows']}   bad lines: {doc['bad_lines']}   vLLM rows: {doc['vllm_rows']}", ""]
    matrix = doc["coverage"]
    assert isinstance(matrix, dict)
    tps = sorted({int(tp) for ps in matrix.values() for t in ps.values() for tp in t})
    head = f"{'GPU kind':<22}{'precision':<10}" + "".join(f"{'TP' + str(tp):>7}" for tp in tps)
    lines += ["GPU kind x precision x TP (inference rows)", head]
    for gpu, ps in matrix.items():
        for prec, t in ps.items():
            cells = "".join(f"{t.get(str(tp), 0) or '-':>7}" for tp in tps)
            lines.append(f"{gpu:<22}{prec:<10}{cells}")
    for key in (
        "by_kind",
        "engines",
        "load_regimes",
        "families",
        "sizes",
        "contexts",
        "concurrencies",
        "sources",
        "targets",
    ):
        table = doc[key]
        assert isinstance(table, dict)
        lines += ["", f"{key} :", *(f"  {k:<40}{v:>7}" for k, v in table.items())]
    return "\n".join(lines)
