"""Progress on stderr: shown on a terminal, never with --json or when stderr is not a terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
PLAN = ["plan", "--demand", str(HERE / "advisor" / "planner" / "demand_small.toml"), "--roofline", "--solver", "gh"]
CHILD = """
import structlog
from omnipilot.logs import configure
from omnipilot.progress import progress
configure("console", "warning")
log = structlog.get_logger("work")
with progress("crunch", json_out={json_out}):
    for i in range(3):
        log.info("work.step_done", step=i)
    log.warning("work.careful", why="a warning still prints")
log.info("work.after")  # the command's own level again: dropped
print("result")
"""


def _run(argv: list[str], tty: bool) -> tuple[int, str, str]:
    """Run argv with stderr on a pseudo-terminal (tty) or a pipe; (rc, stdout, stderr)."""
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("OMNIPILOT_PROGRESS", None)
    if not tty:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
        return res.returncode, res.stdout, res.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    err = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        err += chunk
    out = proc.stdout.read().decode() if proc.stdout else ""
    rc = proc.wait(timeout=120)
    os.close(master)
    return rc, out, err.decode(errors="replace")


def test_steps_show_on_a_terminal_and_warnings_still_print() -> None:
    rc, out, err = _run([sys.executable, "-c", CHILD.format(json_out=False)], tty=True)
    assert rc == 0 and out.strip() == "result", err
    assert "crunch:" in err and "work.step_done" in err and "3 steps" in err, err
    assert "work.careful" in err and "work.after" not in err


def test_nothing_extra_off_a_terminal_or_with_json() -> None:
    rc, out, err = _run([sys.executable, "-c", CHILD.format(json_out=False)], tty=False)
    assert rc == 0 and out.strip() == "result"
    assert "crunch" not in err and "work.step_done" not in err and "work.careful" in err
    rc, out, err = _run([sys.executable, "-c", CHILD.format(json_out=True)], tty=True)
    assert rc == 0 and "crunch" not in err and "work.step_done" not in err and "work.careful" in err


def test_a_real_command_shows_progress_only_on_a_terminal() -> None:
    cmd = [sys.executable, "-m", "omnipilot.cli", *PLAN]
    rc, out, err = _run(cmd, tty=True)
    assert rc == 0 and "plan:" in err and "planner.table" in err, err
    rc, out_pipe, err_pipe = _run(cmd, tty=False)
    assert rc == 0 and "plan:" not in err_pipe
    assert re.sub(r"[\d.]+", "N", out_pipe) == re.sub(r"[\d.]+", "N", out)  # stdout is the same (but timings)
    rc, _, err_json = _run([*cmd, "--json"], tty=True)
    assert rc == 0 and "plan:" not in err_json and "planner.table" not in err_json, err_json
