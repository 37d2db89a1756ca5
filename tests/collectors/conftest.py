"""Shared fixtures for the history store and importer tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from omnipilot.collectors.rows import HistoryRow, Provenance, SourceRef, Stack, Targets

REPO = Path(__file__).resolve().parents[2]


def make_row(i: int = 0, *, gpu: str = "H100-80GB", tokens_per_s: float | None = None) -> HistoryRow:
    """A small valid row; `i` varies the measured content so each i hashes differently."""
    return HistoryRow(
        kind="inference_run",
        model="meta-llama/Meta-Llama-3-8B",
        gpu=gpu,
        tp=1,
        precision="bf16",
        engine="vllm",
        load_regime="fixed_batch",
        prompt_len=128,
        output_len=128,
        concurrency=1 + i % 64,
        targets=Targets(tokens_per_s=tokens_per_s if tokens_per_s is not None else 100.0 + i),
        stack=Stack(engine="vllm"),
        provenance=Provenance(source="test", files=[SourceRef(path="t.csv", line=i + 2)]),
    ).with_hash()


@pytest.fixture(name="make_row")
def make_row_fixture() -> Callable[..., HistoryRow]:
    return make_row


@pytest.fixture
def shared_data() -> Path:
    """The public data folder, or skip: these tests need ../shared/data (or OMNIPILOT_SHARED_DATA)."""
    root = Path(os.environ.get("OMNIPILOT_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not (root / "argonne-llm-inference-bench" / "All_results.csv").exists():
        pytest.skip(f"public data not found at {root} (set OMNIPILOT_SHARED_DATA to its folder)")
    return root
