"""Servers and runners for the Lua-side tests: a scripted real pyzmq ROUTER, raw non-ZMTP servers,
and a runner for the lua5.1 harnesses in tests/slurm/lua/. Needs `lua5.1`, `lua-socket` and
`lua-cjson` (Debian)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zmq

REPO = Path(__file__).resolve().parents[2]
SLURM_DIR = REPO / "slurm"
LUA_DIR = Path(__file__).resolve().parent / "lua"

# handler(request_body) -> (delay_s, reply_body or None for "never answer")
Handler = Callable[[bytes], tuple[float, bytes | None]]


def _lua_missing() -> str | None:
    if shutil.which("lua5.1") is None:
        return "lua5.1 is not installed (apt-get install lua5.1 lua-socket lua-cjson)"
    probe = subprocess.run(
        ["lua5.1", "-e", 'require("socket"); require("socket.unix"); require("cjson")'],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"lua-socket/lua-cjson missing for lua5.1: {probe.stderr.strip()}"
    return None


_MISSING = _lua_missing()
requires_lua = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")


def _request_body(frames: list[bytes]) -> tuple[list[bytes], bytes]:
    """(envelope, body) of a request; the hook's raw script frame after the JSON (docs/wire-protocol.md)
    is put back into the JSON as the daemon does, so tests read one request either way."""
    if len(frames) == 4 and frames[1] == b"":
        req = json.loads(frames[2])
        req["script"] = frames[3].decode("utf-8", errors="replace")
        return frames[:2], json.dumps(req, ensure_ascii=False).encode()
    return frames[:-1], frames[-1]


class ScriptedRouter:
    """A real pyzmq ROUTER on its own thread. Each request body goes to `handler`, whose reply is
    sent after the returned delay (None: never answered). Bodies received are kept in order."""

    def __init__(self, endpoint: str, handler: Handler, sockopts: dict[int, int] | None = None) -> None:
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        for opt, value in (sockopts or {}).items():
            self._sock.setsockopt(opt, value)
        self._sock.bind(endpoint)
        self.endpoint: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.received: list[bytes] = []
        self._handler = handler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        pending: list[tuple[float, list[bytes]]] = []
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        while not self._stop.is_set():
            if poller.poll(2):
                frames = self._sock.recv_multipart()
                envelope, body = _request_body(frames)
                self.received.append(body)
                delay, reply = self._handler(body)
                if reply is not None:
                    pending.append((time.monotonic() + delay, [*envelope, reply]))
            now = time.monotonic()
            for item in [p for p in pending if p[0] <= now]:
                pending.remove(item)
                self._sock.send_multipart(item[1])
        self._sock.close(0)
        self._ctx.term()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class RawServer:
    """A stream server that is not ZMTP: it sends `greeting` (may be empty) on accept, then
    holds the connection open (or closes it at once with close_at_once)."""

    def __init__(self, family: int, address: str | tuple[str, int], greeting: bytes, close_at_once: bool):
        self._srv = socket.socket(family, socket.SOCK_STREAM)
        self._srv.bind(address)
        self._srv.listen(8)
        self._srv.settimeout(0.05)
        self.address = self._srv.getsockname()
        self._greeting, self._close_at_once = greeting, close_at_once
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._srv.accept()
            except TimeoutError:
                continue
            if self._greeting:
                conn.sendall(self._greeting)
            if self._close_at_once:
                conn.close()
            else:
                self._conns.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._conns:
            conn.close()
        self._srv.close()


def run_lua(script: str, arg: str, spec: dict[str, Any], timeout_s: float = 30) -> list[dict[str, Any]]:
    """Run a harness under lua5.1 with `spec` as JSON on stdin; return its JSON output lines."""
    proc = subprocess.run(
        ["lua5.1", str(LUA_DIR / script), arg],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert proc.returncode == 0, f"lua5.1 {script} failed: {proc.stderr}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
