"""Names of real checkpoints people serve, read as the daemon reads them (benchmarks/model_names.py):
never a confident wrong size, and at least the share right measured when the fixtures were written."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from omnipilot.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("model_names_benchmark", ROOT / "benchmarks" / "model_names.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


BENCH = _benchmark()


# (fixture, floor of the share right in %): the main list prompted the fixes (99.7 % right after,
# 94.4 % before); the held-out list was written after them (97.5 %, its two misses were low-confidence
# names that understated their size: `shieldgemma-2b`, `granite-4.0-h-1b`). A later pass taught the
# catalog DBRX, Arctic, DeepSeek-V2, Jamba, LongCat-Flash, MiniMax-Text-01/M1, Kimi-VL, Qwen1.5-MoE,
# Gemma 3n and phi-2 and fixed those two: 100 % on both (the main list's one other miss, an embedding
# model, is the job parser's to recognise).
@pytest.mark.parametrize(
    ("fixture", "floor"),
    [("served_model_names.txt", 99.7), ("served_model_names_heldout.txt", 100.0)],
)
def test_served_names_are_never_confidently_wrong(fixture: str, floor: float) -> None:
    rows = BENCH.read_fixture(FIXTURES / fixture)
    scored = BENCH.score(Catalog.load(), rows)
    confident_wrong = [s.line() for s in scored if s.verdict == "wrong" and s.confidence in ("high", "medium")]
    assert confident_wrong == []
    assert BENCH.summary(scored)["right_pct"] >= floor, [s.line() for s in scored if s.verdict != "right"]


def test_the_main_fixture_is_a_broad_list_with_embedding_models() -> None:
    rows = BENCH.read_fixture(FIXTURES / "served_model_names.txt")
    names = [n for n, _ in rows]
    assert len(rows) >= 150 and len(set(names)) == len(names)
    assert sum(t == "embed" for _, t in rows) >= 10
    assert sum(t == "unknown" for _, t in rows) >= 10  # names that say nothing must stay unknown


def test_a_guess_where_nothing_can_tell_scores_wrong() -> None:
    # the scorer itself: a size where the truth is 'unknown' is a guess, and 30 % off is wrong
    cat = Catalog.load()
    assert BENCH.score_one(cat, "Qwen/Qwen3-8B", "unknown").verdict == "wrong"
    assert BENCH.score_one(cat, "Qwen/Qwen3-8B", "12.0").verdict == "wrong"
    assert BENCH.score_one(cat, "Qwen/Qwen3-8B", "8.2").verdict == "right"
    assert BENCH.score_one(cat, "BAAI/bge-m3", "embed").verdict == "right"
