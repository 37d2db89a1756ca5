"""Property-based fuzzing of the history reader (`history validate` / `stats` read it): any line is a
row or a named problem, never an exception; a file of such lines reads whole. Bounded in examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnipilot.collectors.store import HistoryStore, Problem, parse_line

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,  # nothing written into the checkout: derandomized runs need no example database
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
    max_leaves=25,
)
ROW_KEYS = ["model", "gpu", "tp", "precision", "tokens_per_s", "content_hash", "concurrency", "context"]
lines = st.one_of(
    st.text(max_size=300),
    json_values.map(json.dumps),
    st.dictionaries(st.sampled_from(ROW_KEYS), json_values, max_size=6).map(json.dumps),
    st.integers(900, 100_000).map(lambda n: "[" * n + "]" * n),
    st.integers(900, 20_000).map(lambda n: '{"model":' + "[" * n + "]" * n + "}"),
)


@FUZZ
@given(line=lines)
def test_any_line_is_a_row_or_a_named_problem(line: str) -> None:
    parsed = parse_line(line, "h.jsonl", 7)
    if isinstance(parsed, Problem):
        assert parsed.line == 7 and parsed.reason and len(parsed.raw) <= len(line) + 3


@FUZZ
@given(chunk=st.lists(lines, max_size=5), tail=st.binary(max_size=200))
def test_any_file_reads_whole(tmp_path: Path, chunk: list[str], tail: bytes) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes("\n".join(chunk).encode() + b"\n" + tail)
    rows, problems = HistoryStore(path).read()
    assert all(isinstance(p, Problem) for p in problems) and all(r.content_hash for r in rows)


def test_the_2kb_line_that_crashed_validate_and_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from omnipilot.cli import main

    path = tmp_path / "history.jsonl"
    path.write_text("[" * 1000 + "]" * 1000 + "\n")
    assert main(["history", "validate", str(path)]) == 2
    # no row at all: not a history, said with the first line's reason, and nothing copied beside it.
    # 3.11's json raises RecursionError here ("nested too deeply"); 3.13's parses it into a list
    # ("not a JSON object")
    err = capsys.readouterr().err
    assert "is not a history: none of its 1 lines is a row" in err, err
    assert "nested too deeply" in err or "not a JSON object" in err, err
    assert not (tmp_path / "history.quarantine.jsonl").exists()
    assert main(["history", "stats", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 0
