"""Seed build from the real public files, the other two importers, and the `history` CLI."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from omnipilot.cli import main
from omnipilot.collectors.importers import gpustack, trtllm
from omnipilot.collectors.rows import HistoryRow
from omnipilot.collectors.seed import build_seed, import_all
from omnipilot.collectors.store import HistoryStore

MakeRow = Callable[..., HistoryRow]


def test_build_seed_count_equals_importers_and_reimport_adds_zero(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    produced = sum(len(r.rows) for r in import_all(shared_data).values())
    out = tmp_path / "seed" / "history.jsonl"
    first = build_seed(shared_data, out)
    assert first.added == produced and first.duplicates == 0
    again = build_seed(shared_data, out)
    assert again.added == 0 and again.duplicates == produced
    capsys.readouterr()  # drop the build's log lines
    assert main(["history", "stats", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["rows"] == produced and doc["bad_lines"] == 0
    assert sum(doc["by_kind"].values()) == produced
    assert doc["coverage"]["H100-80GB"]["bf16"]["1"] > 0
    rows, _ = HistoryStore(out).read()
    assert all(r.provenance.files and r.provenance.files[0].line for r in rows)


def test_gpustack_failures_only_where_source_says_so(shared_data: Path) -> None:
    from omnipilot.catalog import Catalog

    res = gpustack.import_dir(shared_data / gpustack.DATASET, Catalog.load())
    failed = [r for r in res.rows if r.kind == "failed_launch"]
    assert failed and all(r.failure_reason for r in failed)
    assert all(r.targets.tokens_per_s is None for r in failed)
    lines = {r.provenance.files[0].line for r in failed if r.provenance.files[0].path.endswith(gpustack.RUNS)}
    raw = (shared_data / gpustack.DATASET / gpustack.RUNS).read_text().splitlines()
    assert all(",no_result," in raw[n - 1] for n in lines)
    # rows with no stated TP are quarantined with the reason, never given an imputed TP
    assert all("tensor-parallel degree not stated" in p.reason for p in res.problems)
    ok = [r for r in res.rows if r.kind == "inference_run" and r.engine == "vllm" and r.targets.ttft_p50_s]
    assert ok and all((r.targets.ttft_p50_s or 0) < 1000 for r in ok)  # ms converted to s


def test_trtllm_output_throughput_converted_to_total(shared_data: Path) -> None:
    from omnipilot.catalog import Catalog

    res = trtllm.import_dir(shared_data / trtllm.DATASET, Catalog.load())
    offline = [r for r in res.rows if r.load_regime == "max_load"]
    assert offline and all(r.concurrency is None for r in offline)
    for r in offline:
        out, total = r.targets.output_tokens_per_s or 0, r.targets.tokens_per_s or 0
        assert total == pytest.approx(out * ((r.prompt_len or 0) + (r.output_len or 0)) / (r.output_len or 1))
    assert {r.engine for r in res.rows} == {"tensorrt-llm"}


def test_cli_import_and_validate_quarantine(
    tmp_path: Path, make_row: MakeRow, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "site.jsonl"
    src.write_text(make_row(1).model_dump_json() + "\n" + "{broken\n" + make_row(2).model_dump_json() + "\n")
    hist = tmp_path / "history.jsonl"
    assert main(["history", "import", str(src), "--history", str(hist)]) == 1
    err = capsys.readouterr().err
    assert f"{src}:2:" in err and "not JSON" in err
    assert main(["history", "import", str(src), "--history", str(hist)]) == 1  # still one bad line
    rows, problems = HistoryStore(hist).read()
    assert len(rows) == 2 and problems == []  # re-import added nothing
    assert len(HistoryStore(hist).quarantine_file.read_text().splitlines()) == 1
    assert main(["history", "validate", str(hist)]) == 0
    with hist.open("a") as fh:
        fh.write('{"kind": "inference_run"}\n')
    assert main(["history", "validate", str(hist)]) == 1
    assert f"{hist}:3: schema violation" in capsys.readouterr().err
    assert main(["history", "validate", str(tmp_path / "missing.jsonl")]) == 2


def test_validate_refuses_a_file_that_is_no_history_and_copies_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an admin who points validate at the wrong file (this once copied /etc/passwd to a side file)
    other = tmp_path / "passwd"
    other.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    assert main(["history", "validate", str(other)]) == 2
    err = capsys.readouterr().err
    assert f"{other} is not a history: none of its 2 lines is a row (line 1: not JSON" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["passwd"]


def test_quarantined_lines_are_no_more_readable_than_the_history(tmp_path: Path, make_row: MakeRow) -> None:
    hist = tmp_path / "history.jsonl"
    hist.write_text(make_row(1).model_dump_json() + "\n" + '{"secret": "sk-x"}\n')
    hist.chmod(0o640)
    assert main(["history", "validate", str(hist)]) == 1
    assert stat.S_IMODE(HistoryStore(hist).quarantine_file.stat().st_mode) == 0o640


def test_cli_import_and_validate_json(tmp_path: Path, make_row: MakeRow, capsys: pytest.CaptureFixture[str]) -> None:
    """`--json`: one JSON document on stdout with the counts and each problem's line; same exit codes."""
    src = tmp_path / "site.jsonl"
    src.write_text(make_row(1).model_dump_json() + "\n\n" + "{broken\n" + make_row(2).model_dump_json() + "\n")
    hist = tmp_path / "history.jsonl"
    assert main(["history", "import", str(src), "--history", str(hist), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc == {
        "source": str(src), "history": str(hist), "lines_read": 3, "rows_valid": 2, "appended": 2,
        "duplicates": 0, "quarantined": 1, "quarantine_file": str(HistoryStore(hist).quarantine_file),
        "problems": [{"file": str(src), "line": 3, "reason": doc["problems"][0]["reason"]}],
    }  # fmt: skip
    assert "not JSON" in doc["problems"][0]["reason"]
    good = tmp_path / "good.jsonl"
    good.write_text(make_row(1).model_dump_json() + "\n" + make_row(3).model_dump_json() + "\n")
    assert main(["history", "import", str(good), "--history", str(hist), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["appended"], doc["duplicates"], doc["problems"]) == (1, 1, [])

    assert main(["history", "validate", str(hist), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "history": str(hist), "rows_valid": 3, "bad_lines": 0, "quarantine_file": None, "problems": []
    }  # fmt: skip
    with hist.open("a") as fh:
        fh.write('{"kind": "inference_run"}\n')
    assert main(["history", "validate", str(hist), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["rows_valid"] == 3 and doc["bad_lines"] == 1
    assert doc["problems"][0]["line"] == 4 and "schema violation" in doc["problems"][0]["reason"]

    # bad input: one line on stderr, nothing on stdout, exit 2 as without --json
    assert main(["history", "validate", str(tmp_path / "missing.jsonl"), "--json"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.strip().splitlines()) == 1


def test_cli_build_seed_json(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "seed.jsonl"
    assert main(["history", "build-seed", "--data-dir", str(shared_data), "--history", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"data_dir", "history", "rebuild", "sources", "appended", "duplicates", "quarantine_file"}
    assert doc["history"] == str(out) and doc["rebuild"] is False and doc["duplicates"] == 0
    assert doc["sources"] and all(set(s) == {"rows", "quarantined"} for s in doc["sources"].values())
    assert doc["appended"] == sum(s["rows"] for s in doc["sources"].values()) == len(out.read_text().splitlines())
    quarantined = sum(s["quarantined"] for s in doc["sources"].values())
    assert (doc["quarantine_file"] is not None) == (quarantined > 0)
    assert main(["history", "build-seed", "--data-dir", str(shared_data), "--history", str(out), "--json",
                 "--strict"]) == (1 if quarantined else 0)  # fmt: skip
    again = json.loads(capsys.readouterr().out)
    assert again["appended"] == 0 and again["duplicates"] == doc["appended"]
