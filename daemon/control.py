"""The daemon's unix sockets that take one JSON line per connection and answer one.

The control socket (mode 0600): only root and the configured SlurmUser may use it; the peer's uid is
read with SO_PEERCRED, so file permissions are not the only guard. Commands: status, mode (get or
set), reload. The explain socket (mode 0666, beside it): any user may connect; the handler gets the
peer's uid and shows a decision only to the job's owner or an admin.
"""

from __future__ import annotations

import json
import os
import pwd
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("omnipilot.control")

Handler = Callable[[dict[str, Any], int], dict[str, Any]]


def allowed_uids(slurm_user: str) -> set[int]:
    uids = {0}
    try:
        uids.add(pwd.getpwnam(slurm_user).pw_uid)
    except KeyError:
        log.warning("slurm_user_unknown", user=slurm_user)
    return uids


def peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def explain_socket(control_socket: Path) -> Path:
    """Where the explain socket lives: beside the control socket (docs/operations.md)."""
    return control_socket.with_name("explain.sock")


class ControlServer:
    """uids=None: every local user may connect (the handler decides what each may see)."""

    def __init__(self, path: Path, uids: set[int] | None, handler: Handler, mode: int = 0o600) -> None:
        self.path = path
        self.uids = uids
        self.handler = handler
        self.mode = mode
        self._sock: socket.socket | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, self.mode)
        sock.listen(8)
        sock.settimeout(0.5)
        self._sock = sock
        threading.Thread(target=self._loop, name="control", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._sock:
            self._sock.close()
        self.path.unlink(missing_ok=True)

    def _loop(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(2.0)
        uid = peer_uid(conn)
        try:
            data = b""  # read the request first, so a refused client gets its answer, not a broken pipe
            while not data.endswith(b"\n") and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            if self.uids is not None and uid not in self.uids:
                log.warning("control_denied", uid=uid)
                reply: dict[str, Any] = {
                    "ok": False,
                    "error": f"uid {uid} may not control OmniPilot (root or SlurmUser only)",
                }
            else:
                req = json.loads(data or b"{}")
                if not isinstance(req, dict):
                    raise ValueError("a request is one JSON object")
                reply = self.handler(req, uid)
        except (ValueError, RecursionError) as exc:
            reply = {"ok": False, "error": f"bad request: {str(exc)[:200]}"}
        except Exception as exc:  # a bug costs this one request, never the socket's thread
            log.exception("control_failed")
            reply = {"ok": False, "error": f"internal error: {type(exc).__name__}"}
        try:
            conn.sendall(json.dumps(reply).encode() + b"\n")
        except OSError:
            pass


class ControlError(RuntimeError):
    pass


def control_call(path: Path, request: dict[str, Any], timeout_s: float = 5.0) -> dict[str, Any]:
    """Send one command to a running daemon; ControlError says why it could not be done."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        sock.connect(str(path))
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except FileNotFoundError as exc:
        raise ControlError(f"no daemon control socket at {path}: is the daemon running?") from exc
    except (ConnectionRefusedError, TimeoutError) as exc:
        raise ControlError(f"the daemon at {path} does not answer ({exc})") from exc
    except PermissionError as exc:
        raise ControlError(f"permission denied on {path}: run as root or SlurmUser") from exc
    except OSError as exc:
        raise ControlError(f"cannot reach the daemon at {path}: {exc.strerror or exc}") from exc
    finally:
        sock.close()
    try:
        reply: dict[str, Any] = json.loads(data)
    except ValueError as exc:
        raise ControlError(f"the daemon at {path} sent no answer (it may have stopped)") from exc
    if not reply.get("ok", False):
        raise ControlError(str(reply.get("error", "the daemon refused")))
    return reply
