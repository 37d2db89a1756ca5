"""Mode persistence and the decision log (redaction, permissions, rotation, lookup)."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from omnipilot.daemon.decisionlog import DecisionLog, find_decision, redact
from omnipilot.daemon.modes import ModeStore


def test_mode_survives_a_new_store_and_rejects_unknown(tmp_path: Path) -> None:
    ModeStore(tmp_path, "suggest").set("enforce", by_uid=0)
    assert ModeStore(tmp_path, "suggest").mode == "enforce"
    with pytest.raises(ValueError, match="unknown mode 'loud'"):
        ModeStore(tmp_path, "suggest").set("loud")


def test_corrupt_mode_file_falls_back_to_initial(tmp_path: Path) -> None:
    (tmp_path / "mode.json").write_text("{not json")
    assert ModeStore(tmp_path, "observe").mode == "observe"


def test_redaction_of_tokens_and_keys() -> None:
    text = "export HF_TOKEN=hf_abcdefghijkl; OPENAI_API_KEY=sk-123 keep=this"
    out = redact(text)
    assert "hf_abcdefghijkl" not in out and "sk-123" not in out and "keep=this" in out


def _wait_lines(path: Path, n: int) -> list[str]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            break
        time.sleep(0.02)
    return path.read_text().splitlines()


def test_log_never_keeps_script_and_is_0640(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    dlog = DecisionLog(path, max_bytes=1_000_000, keep=2)
    dlog.write(
        {"token": "abc12345", "request": {"script": "vllm serve x", "comment": "HF_TOKEN=hf_secretsecret"}}
    )
    dlog.close()
    rec = json.loads(_wait_lines(path, 1)[0])
    assert "script" not in rec["request"] and "hf_secret" not in json.dumps(rec)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert find_decision(path, "abc12345") == rec and find_decision(path, "zzz") is None


def test_rotation_keeps_n_files_and_lookup_searches_them(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    dlog = DecisionLog(path, max_bytes=10_000, keep=2)
    for i in range(200):
        dlog.write({"token": f"t{i:07d}", "pad": "x" * 200})
    dlog.close()
    files = sorted(p.name for p in tmp_path.glob("d.jsonl*"))
    assert files == ["d.jsonl", "d.jsonl.1", "d.jsonl.2"]
    assert all(p.stat().st_size <= 10_000 for p in tmp_path.glob("d.jsonl*"))
    assert find_decision(path, "t0000199") is not None
    assert find_decision(path, "t0000000") is None  # rotated away: keep=2 bounds the disk
