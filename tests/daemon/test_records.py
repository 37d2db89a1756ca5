"""Mode persistence and the decision log (redaction, permissions, rotation, lookup)."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from omnipilot.daemon.decisionlog import DecisionLog, find_decision
from omnipilot.daemon.modes import ModeStore
from omnipilot.daemon.redact import redact


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
    assert find_decision(path, "abc12345") == {**rec, "hook_used": None} and find_decision(path, "zzz") is None


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


class _Req:
    def __init__(self, rid: str, hook: str | None = "h1", given_up: list[str] | None = None) -> None:
        self.id, self.hook_id, self.given_up = rid, hook, given_up or []


def test_record_is_on_disk_when_write_returns(tmp_path: Path) -> None:
    """Written in the serving thread before the next request is read: a SIGKILL right after the
    reply still leaves the record (no queue, no thread)."""
    path = tmp_path / "d.jsonl"
    dlog = DecisionLog(path, max_bytes=1_000_000, keep=2)
    dlog.write({"token": "abc12345", "outcome": "advised", "_lazy": lambda: {"arms": [{"gpu": "A100"}]}})
    rec = json.loads(path.read_text())  # not closed, not flushed by anyone else
    assert rec["token"] == "abc12345" and rec["arms"] == [{"gpu": "A100"}]


def test_each_record_learns_whether_the_hook_used_its_answer(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    dlog = DecisionLog(path, max_bytes=1_000_000, keep=2)
    dlog.write({"token": "tokaaaa1", "outcome": "advised"}, _Req("r1"))
    dlog.write({"token": "tokaaaa2", "outcome": "advised"}, _Req("r2"))  # r1 was used
    dlog.write({"token": "tokaaaa3", "outcome": "advised"}, _Req("r3", given_up=["r2"]))  # r2 timed out
    # r4's answer comes after the hook already gave up on it (the requests crossed)
    dlog.write({"token": "tokaaaa5", "outcome": "advised"}, _Req("r5", given_up=["r4"]))
    dlog.write({"token": "tokaaaa4", "outcome": "advised"}, _Req("r4"))
    found = {t: (find_decision(path, t) or {}).get("hook_used") for t in ("tokaaaa1", "tokaaaa2", "tokaaaa4", "tokaaaa5")}
    assert found == {"tokaaaa1": True, "tokaaaa2": False, "tokaaaa4": False, "tokaaaa5": None}
    assert dlog.given_up == {"advised": 2}  # status counts those jobs once, as fail-opens


def test_secrets_in_argv_tags_and_environment_never_reach_the_log(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    dlog = DecisionLog(path, max_bytes=1_000_000, keep=2)
    dlog.write(
        {
            "token": "abc12345",
            "request": {"argv": ["job.sbatch", "--api-key", "plainsecret1", "--token=plainsecret2"],
                        "gpu_env": {"MY_TOKEN": "plainsecret3"}},
            "notes": ["#OMNIPILOT line 3: concurrency='hf_abcdefghijk' is not valid", "HF_TOKEN=plainsecret4"],
            "arms": [{"gpu": "A100", "reasons": ["sk-abcdefghijkl"]}],
        }
    )  # fmt: skip
    text = path.read_text()
    assert "plainsecret" not in text and "hf_abcdefghijk" not in text and "sk-abcdefghijkl" not in text
    assert json.loads(text)["request"]["argv"][:2] == ["job.sbatch", "--api-key"]


def test_redaction_keeps_what_is_not_a_secret() -> None:
    argv = ["--max-num-batched-tokens", "8192", "--api-key", "x", "--tokenizer", "t"]
    assert redact(argv) == ["--max-num-batched-tokens", "8192", "--api-key", "[redacted]", "--tokenizer", "t"]
    assert redact({"token": "abcd2345", "tokens_per_s": 5, "PATH": "/bin"}) == {
        "token": "abcd2345", "tokens_per_s": 5, "PATH": "/bin"
    }  # fmt: skip
