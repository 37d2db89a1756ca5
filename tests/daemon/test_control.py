"""The control channel: JSON over a 0600 unix socket, peer uid checked with SO_PEERCRED."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from omnipilot.daemon.control import ControlError, ControlServer, allowed_uids, control_call


def _server(path: Path, uids: set[int]) -> ControlServer:
    def handler(req: dict[str, Any], uid: int) -> dict[str, Any]:
        return {"ok": True, "echo": req, "uid": uid}

    srv = ControlServer(path, uids, handler)
    srv.start()
    return srv


def test_allowed_peer_gets_an_answer_and_socket_is_0600(tmp_path: Path) -> None:
    path = tmp_path / "ctl.sock"
    srv = _server(path, {os.geteuid()})
    try:
        reply = control_call(path, {"cmd": "status"})
        assert reply["echo"] == {"cmd": "status"} and reply["uid"] == os.geteuid()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        srv.stop()


def test_other_uid_is_refused_by_peer_credentials(tmp_path: Path) -> None:
    path = tmp_path / "ctl.sock"
    srv = _server(path, {12345})  # the caller's uid is not in the allowed set
    try:
        with pytest.raises(ControlError, match=r"uid \d+ may not control OmniPilot"):
            control_call(path, {"cmd": "mode", "set": "off"})
    finally:
        srv.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_unprivileged_user_cannot_even_connect(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    path = tmp_path / "ctl.sock"
    srv = _server(path, allowed_uids("root"))
    code = (
        f"from omnipilot.daemon.control import control_call; control_call({str(path)!r}, {{'cmd': 'status'}})"
    )
    try:
        res = subprocess.run(
            ["runuser", "-u", "nobody", "--", sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert res.returncode != 0 and "ermission denied" in res.stderr
    finally:
        srv.stop()


def test_no_daemon_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="is the daemon running"):
        control_call(tmp_path / "absent.sock", {"cmd": "status"})
