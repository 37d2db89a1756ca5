"""Property-based fuzzing of the daemon's request socket: whatever a peer sends (nesting, sizes, types,
encodings, truncation, extra frames), it gets an answer or nothing, the server keeps running, and the
next valid request is answered correctly. The real server and request path (the bundled model) run in
a thread; hypothesis drives a real REQ/DEALER peer. Bounded: a fixed number of examples, no deadline
per example (the machine is shared), derandomized so a failure reproduces."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnipilot.config import Settings
from omnipilot.daemon.clusterstate.cache import StateCache
from omnipilot.daemon.decisionlog import DecisionLog
from omnipilot.daemon.modes import ModeStore
from omnipilot.daemon.protocol import decode_request
from omnipilot.daemon.server import Server
from omnipilot.daemon.service import AdviceService

from .test_service import QWEN, snapshot

MAX_BYTES = 262_144
FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,  # nothing written into the checkout: derandomized runs need no example database
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

VALID = {
    "v": 1, "type": "advise", "id": "valid", "script": QWEN, "partition": "a100",
    "tres_per_node": "gres:gpu:a100:2", "part_list": ["a100", "h100", "h200", "gpu"],
}  # fmt: skip


class Daemon:
    def __init__(self, tmp: Path) -> None:
        s = Settings()
        s.daemon.state_dir = tmp
        state = StateCache(snapshot, 60)
        state.refresh()
        self.service = AdviceService(s, state, ModeStore(tmp, "suggest"))
        self.service.load_model()
        self.log = DecisionLog(tmp / "decisions.jsonl", 10_000_000, 2)
        self.endpoint = f"ipc://{tmp}/fuzz.sock"
        self.server = Server(self.endpoint, MAX_BYTES, self.service.answer, self.log.write)
        self.server.bind()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()

    def send(self, frames: list[bytes], kind: int = zmq.REQ, wait_ms: int = 3000) -> list[bytes] | None:
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.endpoint)
        try:
            s.send_multipart(frames)
            if not s.poll(wait_ms):
                return None
            answer: list[bytes] = s.recv_multipart()
            return answer
        finally:
            s.close()

    def assert_alive(self, rid: str) -> None:
        """The next valid request is answered, correctly, and its record is written."""
        reply = self.send([json.dumps({**VALID, "id": rid}).encode()])
        assert reply is not None, "the daemon did not answer a valid request after the fuzz case"
        doc = json.loads(reply[-1])
        assert doc["id"] == rid and doc["status"] == "ok" and doc["action"] == "suggest", doc
        assert self.thread.is_alive()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("fuzz"))
    yield d
    d.server.stop()
    d.thread.join(timeout=5)
    d.log.close()


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=12), kids, max_size=5),
    max_leaves=30,
)
fields = st.sampled_from(
    ["v", "id", "script", "comment", "partition", "part_list", "argv", "tres_per_node", "gres", "time_limit",
     "num_nodes", "submit_uid", "given_up", "hook_id", "fail_open_total", "fail_open_since_last", "type"]
)  # fmt: skip


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """A mostly-valid request with some fields replaced by values of any type."""
    doc: dict[str, Any] = dict(VALID)
    for key in draw(st.lists(fields, max_size=4)):
        doc[key] = draw(json_values)
    return json.dumps(doc).encode()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


bodies = st.one_of(
    st.binary(max_size=2048),
    requests(),
    requests().map(lambda b: b[: len(b) // 2]),  # truncated
    st.integers(900, 130_000).map(nested),  # the 2 KB message that killed the daemon, and deeper (under the limit)
    st.integers(900, 50_000).map(lambda n: b'{"v":1,"id":"x","argv":' + nested(n) + b"}"),
    st.text(max_size=500).map(lambda t: t.encode("utf-16")),
    st.sampled_from([b"", b"null", b"[]", b"1e999999", b'"x"', b'{"v":1e400,"id":"x"}', b"\xff\xfe\x00"]),
)


@FUZZ
@given(body=bodies, extra=st.lists(st.binary(max_size=64), max_size=2), dealer=st.booleans())
def test_any_message_leaves_the_daemon_answering(daemon: Daemon, body: bytes, extra: list[bytes], dealer: bool) -> None:
    frames = [body, *extra]
    if dealer:  # no REQ envelope: the frames arrive as they are
        daemon.send(frames, zmq.DEALER, wait_ms=500)
    else:
        reply = daemon.send(frames)
        assert reply is not None, "a REQ peer got no answer"
        doc = json.loads(reply[-1])
        assert doc["status"] in ("ok", "error")
        if doc["status"] == "error":
            assert "Traceback" not in doc["error"] and len(doc["error"]) < 400
    daemon.assert_alive("after")


def test_oversize_request_gets_an_error_reply_not_a_dropped_peer(daemon: Daemon) -> None:
    big = json.dumps({**VALID, "id": "big", "script": "x" * (MAX_BYTES + 10)}).encode()
    reply = daemon.send([big])
    assert reply is not None and json.loads(reply[-1])["error"].startswith("request of")
    daemon.assert_alive("after-big")


def test_script_as_a_raw_second_frame_is_read_unescaped(daemon: Daemon) -> None:
    meta = json.dumps({k: v for k, v in VALID.items() if k != "script"} | {"id": "raw"}).encode()
    reply = daemon.send([meta, (QWEN + "\x01" * 30_000).encode()])
    assert reply is not None and json.loads(reply[-1])["action"] == "suggest"
    req = decode_request(meta, MAX_BYTES, b"\x00\x01vllm serve x")
    assert req.script == "\x00\x01vllm serve x"
