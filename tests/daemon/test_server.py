"""The ZeroMQ server with a real REQ peer: answers, error replies, and survival of bad input."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from omnipilot.daemon.protocol import AdviseReply, AdviseRequest
from omnipilot.daemon.server import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    logged: list[dict[str, Any]] = []

    def answer(req: AdviseRequest) -> tuple[AdviseReply, dict[str, Any]]:
        if req.name == "boom":
            raise RuntimeError("bug in the advisor")
        return AdviseReply(id=req.id, action="suggest", comment=f"ok {req.name}"), {"id": req.id}

    endpoint = f"ipc://{tmp_path}/s.sock"
    srv = Server(endpoint, 4096, answer, lambda rec, req: logged.append(rec))
    srv.bind()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield endpoint, logged
    srv.stop()
    t.join(timeout=5)


def _ask(endpoint: str, body: bytes) -> dict[str, Any]:
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    s.send(body)
    assert s.poll(5000), "no reply"
    out: dict[str, Any] = json.loads(s.recv())
    s.close()
    return out


def test_answers_and_logs_after_reply(server: tuple[str, list[dict[str, Any]]]) -> None:
    endpoint, logged = server
    r = _ask(endpoint, json.dumps({"v": 1, "id": "a1", "name": "job"}).encode())
    assert r["id"] == "a1" and r["comment"] == "ok job"
    # the record is written after the reply has gone out, before the next request is read
    assert _ask(endpoint, json.dumps({"v": 1, "id": "a2", "name": "job"}).encode())["id"] == "a2"
    assert [r["id"] for r in logged[:1]] == ["a1"] and logged[0]["latency_ms"] >= 0


@pytest.mark.parametrize(
    ("body", "err"),
    [
        (b"{{{", "not JSON"),
        (json.dumps({"v": 1, "id": "big", "script": "x" * 5000}).encode(), "exceeds the limit"),
        (json.dumps({"v": 1, "id": "b2", "name": "boom"}).encode(), "internal error"),
    ],
)
def test_bad_input_gets_error_reply_and_server_lives(
    server: tuple[str, list[dict[str, Any]]], body: bytes, err: str
) -> None:
    endpoint, _ = server
    r = _ask(endpoint, body)
    assert r["status"] == "error" and err in r["error"]
    assert _ask(endpoint, json.dumps({"v": 1, "id": "after"}).encode())["status"] == "ok"
