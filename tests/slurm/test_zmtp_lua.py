"""The pure-Lua ZMTP 3 client (slurm/omnipilot_zmtp.lua) against a real pyzmq ROUTER and against
servers that are not ZMTP, run under lua5.1 as slurmctld would run it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zmq

from .lua_servers import SLURM_DIR, RawServer, ScriptedRouter, requires_lua, run_lua

pytestmark = requires_lua

# A timing bound for "fails within the timeout plus a few ms", loose enough for 2 shared cores.
SLACK_MS = 40
_SIG = b"\xff" + b"\0" * 8 + b"\x7f"  # ZMTP greeting signature


def _endpoint(kind: str, short_dir: Path) -> str:
    return f"ipc://{short_dir}/d.sock" if kind == "ipc" else "tcp://127.0.0.1:*"


def _client(endpoint: str, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = run_lua(
        "zmtp_client.lua", str(SLURM_DIR), {"endpoint": endpoint, "requests": requests}
    )
    return out


def _sized_reply(body: bytes) -> tuple[float, bytes | None]:
    """Request 'N:...' is answered with N bytes (so the test picks short or long frames)."""
    size = int(body.split(b":", 1)[0])
    return 0.0, bytes((i % 26) + 97 for i in range(size))


@pytest.mark.parametrize("kind", ["ipc", "tcp"])
def test_short_and_long_frames_both_ways(
    kind: str, short_dir: Path, router_factory: Callable[..., ScriptedRouter]
) -> None:
    router = router_factory(_endpoint(kind, short_dir), _sized_reply)
    sizes = [0, 200, 255, 256, 300, 70000]
    bodies = [f"{n}:".encode() + b"x" * n for n in sizes]  # request bodies cross 255 bytes too
    out = _client(router.endpoint, [{"body": b.decode(), "timeout_ms": 2000} for b in bodies])
    assert [o.get("err") for o in out] == [None] * len(sizes)
    assert [len(o["reply"]) for o in out] == sizes
    assert out[2]["reply"] == _sized_reply(b"255:")[1].decode()  # type: ignore[union-attr]
    assert router.received == bodies
    # The first request connects; the rest reuse the cached, handshaken connection.
    assert [o["cached_before"] for o in out] == [False] + [True] * (len(sizes) - 1)


def test_never_answering_daemon_times_out_near_the_deadline(
    short_dir: Path, router_factory: Callable[..., ScriptedRouter]
) -> None:
    router = router_factory(_endpoint("ipc", short_dir), lambda body: (0.0, None))
    out = _client(router.endpoint, [{"body": "q", "timeout_ms": 100}])
    assert out[0]["err"] == "timeout"
    assert 95 <= out[0]["ms"] <= 100 + SLACK_MS


@pytest.mark.parametrize("pause_ms", [0, 250])
def test_late_reply_is_never_taken_for_the_next_request(
    pause_ms: int, short_dir: Path, router_factory: Callable[..., ScriptedRouter]
) -> None:
    def handler(body: bytes) -> tuple[float, bytes | None]:
        return (0.15 if body == b"slow" else 0.0), b"answer-to:" + body

    router = router_factory(_endpoint("ipc", short_dir), handler)
    out = _client(
        router.endpoint,
        [
            {"body": "slow", "timeout_ms": 50},
            {"body": "next-1", "timeout_ms": 1000, "sleep_ms": pause_ms},
            {"body": "next-2", "timeout_ms": 1000},
        ],
    )
    assert out[0]["err"] == "timeout"
    assert out[1]["cached_before"] is False  # dropped on the timeout
    assert [o.get("reply") for o in out[1:]] == ["answer-to:next-1", "answer-to:next-2"]


def test_reply_above_the_size_limit_is_refused_then_the_client_recovers(
    short_dir: Path, router_factory: Callable[..., ScriptedRouter]
) -> None:
    router = router_factory(_endpoint("ipc", short_dir), _sized_reply)
    out = _client(
        router.endpoint,
        [
            {"body": "2000:", "timeout_ms": 1000, "max_reply_bytes": 1000},
            {"body": "1000:", "timeout_ms": 1000, "max_reply_bytes": 1000},
            {"body": "300:", "timeout_ms": 1000, "max_reply_bytes": 299},
        ],
    )
    assert out[0]["err"].startswith("reply too large (2000 bytes > limit 1000)")
    assert out[1].get("err") is None and len(out[1]["reply"]) == 1000
    assert out[1]["cached_before"] is False
    assert out[2]["err"].startswith("reply too large")


def test_daemon_restart_behind_a_cached_connection(
    short_dir: Path, router_factory: Callable[..., ScriptedRouter]
) -> None:
    endpoint = _endpoint("ipc", short_dir)
    first = router_factory(endpoint, lambda body: (0.0, b"first:" + body))

    # The client holds the first daemon's connection, then the daemon is replaced while it sleeps.
    def restart() -> None:
        first.close()
        router_factory(endpoint, lambda body: (0.0, b"second:" + body))

    timer = threading.Timer(0.3, restart)
    timer.start()
    out = _client(
        endpoint, [{"body": "a", "timeout_ms": 500}, {"body": "b", "timeout_ms": 500, "sleep_ms": 800}]
    )
    timer.join()
    assert [o.get("reply") for o in out] == ["first:a", "second:b"]


def test_heartbeat_commands_between_frames_are_skipped(
    short_dir: Path, router_factory: Callable[..., ScriptedRouter]
) -> None:
    # libzmq sends PING commands every 10 ms while the reply waits 120 ms.
    router = router_factory(_endpoint("ipc", short_dir), lambda body: (0.12, b"ok"), {zmq.HEARTBEAT_IVL: 10})
    out = _client(router.endpoint, [{"body": "q", "timeout_ms": 1000}, {"body": "r", "timeout_ms": 1000}])
    assert [o.get("reply") for o in out] == ["ok", "ok"]


@pytest.mark.parametrize(
    ("greeting", "close_at_once", "expected"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n".ljust(64, b" "), False, "protocol: peer is not a ZMTP peer"),
        (_SIG + b"\x02\x00" + b"NULL".ljust(52, b"\0"), False, "protocol: unsupported ZMTP"),
        (_SIG + b"\x03\x01" + b"CURVE".ljust(52, b"\0"), False, "protocol: peer wants"),
        (b"", True, "closed by daemon"),
        (b"", False, "timeout"),
    ],
    ids=["http", "zmtp2", "curve", "closes", "silent"],
)
@pytest.mark.parametrize("family", ["unix", "tcp"])
def test_non_zmtp_server_fails_cleanly(
    family: str,
    greeting: bytes,
    close_at_once: bool,
    expected: str,
    short_dir: Path,
    raw_factory: Callable[..., RawServer],
) -> None:
    if family == "unix":
        server = raw_factory(socket.AF_UNIX, str(short_dir / "raw.sock"), greeting, close_at_once)
        endpoint = f"ipc://{server.address}"
    else:
        server = raw_factory(socket.AF_INET, ("127.0.0.1", 0), greeting, close_at_once)
        endpoint = f"tcp://127.0.0.1:{server.address[1]}"
    out = _client(endpoint, [{"body": "q", "timeout_ms": 150}, {"body": "q", "timeout_ms": 150}])
    for result in out:  # the second request gets a fresh connection and the same clear failure
        assert result["err"].startswith(expected), result
        assert result["ms"] <= 150 + SLACK_MS
        if expected != "timeout":
            assert result["ms"] < 100  # a broken peer is detected at once, not by the deadline


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("ipc:///nonexistent-omnipilot/d.sock", "connect: no such file or directory"),
        ("tcp://127.0.0.1:1", "connect: connection refused"),
        ("http://127.0.0.1:5555", "bad endpoint 'http://127.0.0.1:5555'"),
    ],
)
def test_daemon_down_or_bad_endpoint_fails_fast(endpoint: str, expected: str) -> None:
    out = _client(endpoint, [{"body": "q", "timeout_ms": 50}])
    assert out[0]["err"].startswith(expected)
    assert out[0]["ms"] < 50
