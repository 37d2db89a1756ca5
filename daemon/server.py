"""The daemon's ZeroMQ server: a ROUTER socket answering the hook, one message at a time.

Per message: size check → validate → answer from memory → send → write its record → read the next.
A message is [JSON] or [JSON, script] after the REQ delimiter (the hook sends the script as a raw
second frame: no JSON escaping, so its size is what it measured). A message that cannot be answered
gets an error reply naming the problem (that job fails open; the hook's breaker is not touched);
nothing a client sends can stop the loop. See docs/wire-protocol.md.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
import zmq

from omnipilot.daemon.protocol import AdviseReply, AdviseRequest, ProtocolError, decode_request, request_id_of
from omnipilot.daemon.redact import redact_text

log = structlog.get_logger("omnipilot.server")

Answer = Callable[[AdviseRequest], tuple[AdviseReply, dict[str, Any]]]
AfterReply = Callable[[dict[str, Any], AdviseRequest], None]


class Server:
    def __init__(self, endpoint: str, max_bytes: int, answer: Answer, after_reply: AfterReply) -> None:
        self.endpoint = endpoint
        self.max_bytes = max_bytes
        self.answer = answer
        self.after_reply = after_reply
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, max_bytes + 1024)  # libzmq drops the peer on larger frames
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self._stop = threading.Event()
        self.errors = 0

    def bind(self, mode: int = 0o660) -> None:
        if self.endpoint.startswith("ipc://"):
            path = Path(self.endpoint.removeprefix("ipc://"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            self.sock.bind(self.endpoint)
            os.chmod(path, mode)
        else:
            self.sock.bind(self.endpoint)
        log.info("listening", endpoint=self.endpoint)

    def stop(self, *_: object) -> None:
        self._stop.set()

    def install_signal_handlers(self, on_hup: Callable[[], None]) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGHUP, lambda *_: on_hup())

    def serve_forever(self) -> None:
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self._stop.is_set():
            if not dict(poller.poll(200)):
                continue
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                continue
            self.handle(frames)
        self.sock.close(0)

    def handle(self, frames: list[bytes]) -> None:
        t0 = time.perf_counter()
        ident, parts = frames[0], frames[1:]
        # a REQ peer sends (and expects back) the empty delimiter frame before the body
        envelope = [ident]
        if len(parts) >= 2 and parts[0] == b"":
            envelope, parts = [ident, b""], parts[1:]
        body = parts[0] if parts else b""
        record: dict[str, Any] | None = None
        req: AdviseRequest | None = None
        try:
            if not 1 <= len(parts) <= 2:
                raise ProtocolError(f"a request is one JSON frame and at most a script frame, not {len(parts)} frames")
            req = decode_request(body, self.max_bytes, parts[1] if len(parts) == 2 else None)
            reply, record = self.answer(req)
            # the comment is stored by Slurm where every user can read it; the message is printed
            own = (reply.token,) if reply.token else ()
            if reply.comment:
                reply.comment = redact_text(reply.comment, own)
            if reply.user_message:
                reply.user_message = redact_text(reply.user_message, own)
        except ProtocolError as exc:
            self.errors += 1
            log.warning("bad_request", error=str(exc), bytes=sum(len(p) for p in parts))
            reply = AdviseReply(id=request_id_of(body) or "?", status="error", error=str(exc))
        except Exception as exc:  # a bug must cost one fail-open job, not the daemon
            self.errors += 1
            log.exception("answer_failed")
            rid = req.id if req is not None else request_id_of(body)
            reply = AdviseReply(id=rid or "?", status="error", error=f"internal error: {type(exc).__name__}")
            record = None
        try:
            self.sock.send_multipart([*envelope, reply.encode()], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            log.warning("reply_failed", error=str(exc))
        ms = (time.perf_counter() - t0) * 1000.0
        if record is not None and req is not None:
            record["latency_ms"] = round(ms, 3)
            self.after_reply(record, req)
