"""No command ends in a traceback on bad input: every command in omnipilot/cli.py COMMANDS gets
inputs that are wrong (missing, empty or garbage files, a directory for a file, numbers out of
range, a bad config) and must answer with a one-line error and a non-zero exit. A closed pipe is
quiet. In-process (an escaping exception is the traceback), so the whole table runs in seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from omnipilot.cli import COMMANDS, main

QWEN = "Qwen/Qwen2.5-7B-Instruct"


def _bad_inputs(tmp: Path) -> dict[str, list[list[str]]]:
    missing = str(tmp / "missing")
    empty = tmp / "empty.toml"
    empty.write_text("")
    garbage = tmp / "garbage.txt"
    garbage.write_bytes(b"\x00\xff[[[" + b"[" * 2000 + b"\n{not json\n")
    bad_toml = tmp / "bad.toml"
    bad_toml.write_text("[daemon]\nmax_message_bytes = -1\n")
    a_file = tmp / "a-file"
    a_file.write_text("x")
    cfg = ["--config", missing]
    return {
        "status": [["status", *cfg], ["status", "--config", str(bad_toml)]],
        "mode": [["mode", *cfg], ["mode", "loud"]],
        "explain": [
            ["explain", *cfg, "9"],
            ["explain", "--config", str(empty), "--token", "../../etc/passwd"],
            ["explain", "--config", str(empty), "not-a-job"],
            ["explain", "--config", str(empty)],
        ],
        "reload": [["reload", *cfg]],
        "daemon": [["daemon", *cfg], ["daemon", "--config", str(empty)], ["daemon", "--config", str(bad_toml)]],
        "state": [["state", "--backend", "nope"]],
        "script": [["script", "check", missing], ["script", "check", str(tmp)], ["script"]],
        "config": [["config", "check", *cfg], ["config", "check", "--config", str(empty)],
                   ["config", "check", "--config", str(garbage)], ["config", "check", "--config", str(bad_toml)]],
        "hook": [["hook", "render", "--hook-dir", missing, *cfg],
                 ["hook", "install", "--hook-dir", str(a_file), "--config", str(bad_toml)]],
        "advise": [
            ["advise", "--model", QWEN, "--concurrency", "-5"],
            ["advise", "--model", QWEN, "--context", "0"],
            ["advise", "--batch", missing],
            ["advise", "--model", QWEN, "--model-dir", missing],
            ["advise", "--model", QWEN, "--concurrency", "many"],
        ],
        "train": [["train", "--history", missing, "--model-dir", str(tmp / "m")]],
        "evaluate": [["evaluate", "--history", missing], ["evaluate", "--history", str(garbage)]],
        "retrain": [["retrain", *cfg]],
        "backtest": [["backtest", "--history", missing], ["backtest", "--folds", "-1", "--history", missing]],
        "calibrate": [["calibrate", "--anchor", "garbage"], ["calibrate", *cfg]],
        "plan": [["plan", "--demand", missing], ["plan", "--demand", str(garbage)], ["plan", "--demand", str(tmp)]],
        "history": [["history", "validate", missing], ["history", "import", str(tmp)], ["history", "stats", missing]],
        "record": [["record", "--history", str(tmp / "h.jsonl"), "--", missing]],
        "harvest": [["harvest", "--since", "not-a-date", *cfg]],
        "launch-stats": [["launch-stats", *cfg]],
        "nvml": [["nvml", "--seconds", "-1"], ["nvml", "--interval", "0"]],
        "cluster": [["cluster", "env", "--state-dir", missing], ["cluster", "up", "--state-dir", str(a_file)]],
        "catalog": [["catalog", "add", missing], ["catalog", "add", str(garbage)], ["catalog", "show"]],
        "healthcheck": [["healthcheck", "--xids", "not-numbers", "--dry-run", "--kernel-log", missing]],
        "report": [["report", "--out", str(a_file), "--decision-log", str(garbage)]],
        "demo": [["demo", "--state-dir", str(a_file), "--mode", "loud"]],
    }  # fmt: skip


def test_every_command_is_in_the_table(tmp_path: Path) -> None:
    assert set(_bad_inputs(tmp_path)) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_bad_input_gives_one_line_and_a_nonzero_exit(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIPILOT_HISTORY", str(tmp_path / "missing-history.jsonl"))
    monkeypatch.setenv("HOME", str(tmp_path))  # nothing a command writes lands in the real home
    for argv in _bad_inputs(tmp_path)[command]:
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse's own usage errors
            rc = exc.code if isinstance(exc.code, int) else 2
        out = capsys.readouterr()
        assert rc != 0, f"omnipilot {' '.join(argv)} exited 0 on bad input: {out.err or out.out}"
        assert "Traceback" not in out.err + out.out, argv
        assert (out.err + out.out).strip(), f"omnipilot {' '.join(argv)} said nothing"


def test_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """`omnipilot ... | head`: the reader leaves early; no BrokenPipeError traceback."""
    cmd = [sys.executable, "-c", "from omnipilot.cli import main; import sys; sys.exit(main())", "--help"]
    read, write = os.pipe()
    os.close(read)  # nobody reads: the first write fails with EPIPE
    res = subprocess.run(cmd, stdout=write, stderr=subprocess.PIPE, text=True, timeout=60)
    os.close(write)
    assert "Traceback" not in res.stderr and "BrokenPipe" not in res.stderr
    big = tmp_path / "job.sbatch"
    big.write_text("#!/bin/bash\n" + "#OMNIPILOT concurrency=8\n" * 50 + f"vllm serve {QWEN}\n")
    read, write = os.pipe()
    os.close(read)
    res = subprocess.run(
        [*cmd[:3], "script", "check", str(big)], stdout=write, stderr=subprocess.PIPE, text=True, timeout=60
    )
    os.close(write)
    assert "Traceback" not in res.stderr and "BrokenPipe" not in res.stderr, res.stderr
