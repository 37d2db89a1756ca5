from __future__ import annotations

import json
import multiprocessing as mp
from collections.abc import Callable
from pathlib import Path

import pytest

from omnipilot.collectors.rows import HistoryRow
from omnipilot.collectors.store import FRAME_COLUMNS, HistoryStore, load_frame

MakeRow = Callable[..., HistoryRow]


def test_append_is_idempotent_by_hash(tmp_path: Path, make_row: MakeRow) -> None:
    store = HistoryStore(tmp_path / "history.jsonl")
    first = store.append([make_row(i) for i in range(10)])
    assert (first.added, first.duplicates) == (10, 0)
    again = HistoryStore(tmp_path / "history.jsonl").append([make_row(i) for i in range(12)])
    assert (again.added, again.duplicates) == (2, 10)
    rows, problems = store.read()
    assert len(rows) == 12 and problems == []
    assert [r.concurrency for r in rows] == [1 + i for i in range(12)]


def test_duplicate_within_one_batch_counts_once(tmp_path: Path, make_row: MakeRow) -> None:
    result = HistoryStore(tmp_path / "h.jsonl").append([make_row(3), make_row(3)])
    assert (result.added, result.duplicates) == (1, 1)


def test_row_with_wrong_hash_is_refused(tmp_path: Path, make_row: MakeRow) -> None:
    bad = make_row(1).model_copy(update={"content_hash": "0" * 24})
    with pytest.raises(ValueError, match="content_hash"):
        HistoryStore(tmp_path / "h.jsonl").append([bad])


def test_truncated_last_line_is_quarantined_not_glued(tmp_path: Path, make_row: MakeRow) -> None:
    path = tmp_path / "history.jsonl"
    store = HistoryStore(path)
    store.append([make_row(i) for i in range(3)])
    whole = make_row(99).model_dump_json()
    with path.open("a") as fh:  # a crash mid-write: half a line, no newline
        fh.write(whole[: len(whole) // 2])
    rows, problems = HistoryStore(path).read()
    assert len(rows) == 3
    assert len(problems) == 1 and problems[0].line == 4 and "torn" in problems[0].reason
    result = HistoryStore(path).append([make_row(5)])
    assert result.added == 1
    rows, problems = HistoryStore(path).read()
    assert len(rows) == 4 and problems == []
    assert path.read_text().count("\n") == 4
    q = [json.loads(x) for x in store.quarantine_file.read_text().splitlines()]
    assert len(q) == 1 and q[0]["line"] == 4 and q[0]["raw"] == whole[: len(whole) // 2]


def test_bad_lines_are_reported_with_line_and_quarantined_once(tmp_path: Path, make_row: MakeRow) -> None:
    path = tmp_path / "history.jsonl"
    store = HistoryStore(path)
    store.append([make_row(0)])
    edited = json.loads(make_row(1).model_dump_json())
    edited["targets"]["tokens_per_s"] = 5.0  # hand-edited: hash no longer matches
    wrong_unit = json.loads(make_row(2).model_dump_json())
    wrong_unit["targets"]["kv_cache_peak_frac"] = 87.0  # a percent where a fraction belongs
    with path.open("a") as fh:
        fh.write("{not json\n")
        fh.write(json.dumps(edited) + "\n")
        fh.write(json.dumps(wrong_unit) + "\n")
    rows, problems = store.read()
    assert len(rows) == 1
    assert [p.line for p in problems] == [2, 3, 4]
    assert "not JSON" in problems[0].reason
    assert "content_hash" in problems[1].reason
    assert "kv_cache_peak_frac" in problems[2].reason
    assert store.quarantine(problems) == 3
    assert store.quarantine(problems) == 0  # once each
    assert len(store.quarantine_file.read_text().splitlines()) == 3


def _writer(path: str, start: int, n: int, batch: int) -> None:
    from omnipilot.collectors.rows import HistoryRow, Provenance, Stack, Targets

    def make_row(i: int) -> HistoryRow:
        return HistoryRow(
            kind="inference_run",
            model="m",
            gpu="H100-80GB",
            tp=1,
            precision="bf16",
            engine="vllm",
            load_regime="fixed_batch",
            concurrency=1 + i % 64,
            targets=Targets(tokens_per_s=100.0 + i),
            stack=Stack(engine="vllm"),
            provenance=Provenance(source="test"),
        )

    store = HistoryStore(path)
    for b in range(start, start + n, batch):
        store.append([make_row(i) for i in range(b, min(b + batch, start + n))])


def test_two_writers_lose_nothing_and_never_interleave(tmp_path: Path, make_row: MakeRow) -> None:
    path = tmp_path / "history.jsonl"
    # fork: the children inherit this test module, which is not importable by name (the tests import
    # the installed package only, the checkout is not on sys.path)
    ctx = mp.get_context("fork")
    # overlapping ranges: 0..2999 and 2000..4999, so 1000 rows race as duplicates
    procs = [ctx.Process(target=_writer, args=(str(path), s, 3000, 25)) for s in (0, 2000)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 5000
    rows, problems = HistoryStore(path).read()
    assert problems == []
    assert sorted(r.targets.tokens_per_s or 0 for r in rows) == [100.0 + i for i in range(5000)]


def test_load_frame_columns(tmp_path: Path, make_row: MakeRow) -> None:
    path = tmp_path / "history.jsonl"
    HistoryStore(path).append([make_row(i) for i in range(4)])
    frame = load_frame(path)
    assert list(frame.columns) == list(FRAME_COLUMNS)
    assert len(frame) == 4
    assert frame["tokens_per_s"].tolist() == [100.0, 101.0, 102.0, 103.0]
    assert frame["source"].unique().tolist() == ["test"]
    assert frame["ttft_p50_s"].isna().all()
