"""The daemon's ZeroMQ server: a ROUTER socket answering the hook, one message at a time.

Per message: size check → validate → answer from memory → send → then log. A message that cannot
be answered gets an error reply (the hook fails open on it); nothing a client sends can stop the loop.
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

log = structlog.get_logger("omnipilot.server")

Answer = Callable[[AdviseRequest], tuple[AdviseReply, dict[str, Any]]]
AfterReply = Callable[[dict[str, Any]], None]


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
        ident, body = frames[0], frames[-1]
        record: dict[str, Any] | None = None
        try:
            req = decode_request(body, self.max_bytes)
            reply, record = self.answer(req)
        except ProtocolError as exc:
            self.errors += 1
            log.warning("bad_request", error=str(exc), bytes=len(body))
            reply = AdviseReply(id=request_id_of(body) or "?", status="error", error=str(exc))
        except Exception as exc:  # a bug must cost one fail-open job, not the daemon
            self.errors += 1
            log.exception("answer_failed")
            reply = AdviseReply(id=request_id_of(body) or "?", status="error", error=f"internal error: {exc}")
        # a REQ peer expects the empty delimiter frame back before the body
        envelope = [ident, b""] if len(frames) >= 3 else [ident]
        try:
            self.sock.send_multipart([*envelope, reply.encode()], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            log.warning("reply_failed", error=str(exc))
        ms = (time.perf_counter() - t0) * 1000.0
        if record is not None:
            record["latency_ms"] = round(ms, 3)
            self.after_reply(record)
