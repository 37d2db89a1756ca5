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


def test_explain_shows_a_decision_to_its_owner_only(tmp_path: Path) -> None:
    """The explain socket takes any local user (0666); the handler compares the peer's uid (from
    SO_PEERCRED) with the job owner's recorded in the decision."""
    from omnipilot.config import Settings
    from omnipilot.daemon.control import explain_socket
    from omnipilot.daemon.decisionlog import DecisionLog
    from omnipilot.daemon.main import explain_handler

    settings = Settings()
    settings.daemon.state_dir = tmp_path
    dlog = DecisionLog(settings.decision_log_path, 1_000_000, 2)
    me = os.geteuid()
    dlog.write({"token": "mine1234", "uid": me, "outcome": "advised"})
    dlog.write({"token": "their123", "uid": me + 1, "outcome": "advised"})
    path = explain_socket(tmp_path / "control.sock")
    srv = ControlServer(path, None, explain_handler(settings, admins={me + 2}), mode=0o666)
    srv.start()
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666
        assert control_call(path, {"cmd": "explain", "token": "mine1234"})["record"]["token"] == "mine1234"
        with pytest.raises(ControlError, match="another user's job"):
            control_call(path, {"cmd": "explain", "token": "their123"})
        with pytest.raises(ControlError, match="no decision"):
            control_call(path, {"cmd": "explain", "token": "nosuch12"})
        with pytest.raises(ControlError, match="letters and digits"):
            control_call(path, {"cmd": "explain", "token": "../../etc"})
    finally:
        srv.stop()
        dlog.close()


def test_a_second_daemon_does_not_take_the_sockets(tmp_path: Path) -> None:
    from omnipilot.config import Settings
    from omnipilot.daemon.main import AlreadyRunning, claim_sockets

    settings = Settings()
    settings.daemon.control_socket = tmp_path / "control.sock"
    settings.daemon.endpoint = f"ipc://{tmp_path}/omnipilot.sock"
    fd = claim_sockets(settings)
    try:
        with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
            claim_sockets(settings)
    finally:
        os.close(fd)
    # no lock held, but a process answers on the socket (a daemon that predates the lock)
    live = _server(tmp_path / "control.sock", {os.geteuid()})
    try:
        with pytest.raises(AlreadyRunning, match="already answers"):
            claim_sockets(settings)
        assert (tmp_path / "control.sock").exists()  # the live socket is left alone
    finally:
        live.stop()
    os.close(claim_sockets(settings))  # a stale lock file and no live socket: this one starts
