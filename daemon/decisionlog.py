"""The decision log: one JSON line per answered request, written after the reply has gone out.

Never holds the script text or secrets; mode 0640; rotated by size (`decisions.jsonl.1` …).
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("omnipilot.decisionlog")

# A record may carry a callable under this key: the writer thread calls it and merges the result,
# so building the full ranking never delays the reply.
LAZY_KEY = "_lazy"

_SECRET_RE = re.compile(
    r"(hf_[A-Za-z0-9]{6,}|(?i:[A-Z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD)[A-Z0-9_]*)\s*=\s*\S+)"
)


def redact(text: str) -> str:
    return _SECRET_RE.sub("[redacted]", text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k != "script"}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


class DecisionLog:
    """Appends records from a writer thread so the request path only enqueues."""

    def __init__(self, path: Path, max_bytes: int, keep: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._q: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=10_000)
        self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def write(self, record: dict[str, Any]) -> None:
        try:
            self._q.put_nowait(record)
        except queue.Full:
            log.error("decision_log_queue_full", token=record.get("token"))

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            rec = self._q.get()
            if rec is None:
                return
            try:
                lazy = rec.pop(LAZY_KEY, None)
                if callable(lazy):
                    rec = {**rec, **lazy()}
                self._append(json.dumps(_scrub(rec), separators=(",", ":"), default=str) + "\n")
            except Exception as exc:  # a log failure must never take the daemon down
                log.error("decision_log_write_failed", error=str(exc))

    def _append(self, line: str) -> None:
        if self.path.exists() and self.path.stat().st_size + len(line) > self.max_bytes:
            self._rotate()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def _rotate(self) -> None:
        for i in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))


def find_decision(path: Path, token: str) -> dict[str, Any] | None:
    """The record with this token, searching the current file and then the rotated ones."""
    candidates = [path, *sorted(path.parent.glob(path.name + ".*"), key=lambda p: p.name)]
    for p in candidates:
        if not p.exists():
            continue
        with p.open() as fh:
            for line in fh:
                if f'"token":"{token}"' in line:
                    try:
                        rec: dict[str, Any] = json.loads(line)
                        return rec
                    except json.JSONDecodeError:
                        continue
    return None
