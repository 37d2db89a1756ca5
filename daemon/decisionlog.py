"""The decision log: one JSON line per answered request, written right after the reply has gone out
and before the next request is read, so every answered job has its record, even after SIGKILL.

`write()` per record, no fsync (a record costs the next request well under a millisecond); fsync on
rotation and close. Never holds the script text or secrets (daemon/redact.py); mode 0640; rotated by
size (`decisions.jsonl.1` ...). Whether the hook used an answer is known only at the hook's next
request (it names the requests it gave up on): that request's record carries it under `settles`, and
`find_decision` joins the two (docs/operations.md, "The decision log").
"""

from __future__ import annotations

import json
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

import structlog

from omnipilot.daemon.redact import redact_json, redact_patterns

log = structlog.get_logger("omnipilot.decisionlog")

# A record may carry a callable under this key: write() calls it and merges the result (the full
# ranking), after the reply has gone out.
LAZY_KEY = "_lazy"
_MAX_HOOKS = 64  # hook states remembered (one per slurmctld and hook reload)
_MAX_ABANDONED = 1024


class HookRequest(Protocol):
    """What write() reads of the request a record answers (daemon/protocol.py's AdviseRequest)."""

    id: str
    hook_id: str | None
    given_up: list[str]


def _without_script(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_script(v) for k, v in value.items() if k != "script"}
    if isinstance(value, list):
        return [_without_script(v) for v in value]
    return value


def encode_record(record: dict[str, Any]) -> str:
    """The record as stored: one line, no script text anywhere, secrets redacted. The ranking (most
    of the line) holds no values the user named, only model and GPU names: it gets the pattern rules
    alone, which keeps the whole write under a millisecond (docs/operations.md)."""
    rec = _without_script(record)
    arms = rec.pop("arms", None)
    text = str(redact_json(json.dumps(rec, separators=(",", ":"), default=str)))
    if arms is not None:
        ranked = redact_patterns(json.dumps(arms, separators=(",", ":"), default=str))
        text = f'{text[:-1]}{"," if len(text) > 2 else ""}"arms":{ranked}}}'
    return text + "\n"


class DecisionLog:
    """Appends records in the serving thread, with one write() each, on a file kept open."""

    def __init__(self, path: Path, max_bytes: int, keep: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = self._open()
        # hook id -> [(request id, token, outcome)] answered since that hook's previous request
        self._pending: OrderedDict[str, list[tuple[str, str, str]]] = OrderedDict()
        # ids the hook gave up on before their answer was written (their requests crossed)
        self._abandoned: OrderedDict[str, None] = OrderedDict()
        # answers the hook gave up on, by outcome: status counts those jobs once, as fail-opens
        self.given_up: dict[str, int] = {}

    def _open(self) -> int:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._size = os.fstat(fd).st_size
        return fd

    def write(self, record: dict[str, Any], req: HookRequest | None = None) -> None:
        """Store one record; a failure is logged, never raised (the daemon keeps serving)."""
        try:
            lazy = record.pop(LAZY_KEY, None)
            if callable(lazy):
                record = {**record, **lazy()}
            if req is not None:
                self._settle(record, req)
            self._append(encode_record(record).encode())
        except Exception as exc:  # a log failure must never take the daemon down
            log.error("decision_log_write_failed", error=str(exc), token=record.get("token"))

    def _settle(self, record: dict[str, Any], req: HookRequest) -> None:
        """Mark what this request tells about the hook's earlier answers, and remember this one."""
        gave_up = set(req.given_up)
        hook = req.hook_id
        if hook is None:
            return
        token, outcome = record.get("token"), str(record.get("outcome"))
        if req.id in self._abandoned:  # a stale request, read after the hook's later ones: no news
            del self._abandoned[req.id]
            record["hook_used"] = False
            self.given_up[outcome] = self.given_up.get(outcome, 0) + 1
            return
        earlier = self._pending.pop(hook, [])
        used = [tok for rid, tok, _ in earlier if rid not in gave_up]
        lost = [tok for rid, tok, _ in earlier if rid in gave_up]
        for rid, _, outcome in earlier:
            if rid in gave_up:
                self.given_up[outcome] = self.given_up.get(outcome, 0) + 1
        known = {rid for rid, _, _ in earlier}
        for rid in gave_up - known:  # given up before its answer was written: settled when it is
            self._abandoned[rid] = None
            if len(self._abandoned) > _MAX_ABANDONED:
                self._abandoned.popitem(last=False)
        if used or lost:
            record["settles"] = {"used": used, "given_up": lost}
        if isinstance(token, str):
            self._pending[hook] = [(req.id, token, outcome)]
            self._pending.move_to_end(hook)
            if len(self._pending) > _MAX_HOOKS:
                self._pending.popitem(last=False)

    def close(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError:
            pass
        os.close(self._fd)

    def _append(self, line: bytes) -> None:
        if self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        os.write(self._fd, line)
        self._size += len(line)

    def _rotate(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        for i in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._fd = self._open()


# ------------------------------------------------------------------ lookup
_CHUNK = 1 << 20


def _log_files(path: Path) -> list[Path]:
    """The current file and the rotated ones, newest first."""
    rotated = []
    for p in path.parent.glob(path.name + ".*"):
        suffix = p.name[len(path.name) + 1 :]
        if suffix.isdigit():
            rotated.append((int(suffix), p))
    return [path, *(p for _, p in sorted(rotated))]


def _lines_with(path: Path, needle: bytes) -> list[tuple[int, bytes]]:
    """(offset, line) of every line holding `needle`, read in chunks: the daemon answers explain from
    a thread, and a long scan in one piece would hold the interpreter lock from its request path."""
    found: list[tuple[int, bytes]] = []
    try:
        fh = path.open("rb")
    except OSError:
        return found
    with fh:
        offset, carry = 0, b""
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            block, carry = data[:cut], data[cut:]
            pos = block.find(needle)
            while pos >= 0:
                start = block.rfind(b"\n", 0, pos) + 1
                end = block.find(b"\n", pos)
                found.append((offset + start, block[start:end]))
                pos = block.find(needle, end)
            offset += cut
            time.sleep(0)  # let the serving thread run between chunks
    return found


def find_decision(path: Path, token: str) -> dict[str, Any] | None:
    """The record with this token (current file, then the rotated ones), with `hook_used` filled in
    from a later record's `settles` when the record itself could not say."""
    if not token or not token.isalnum():
        return None
    files = _log_files(path)
    for n, p in enumerate(files):
        for offset, line in _lines_with(p, f'"token":"{token}"'.encode()):
            try:
                rec: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            if rec.get("token") != token:
                continue
            if "hook_used" not in rec:
                rec["hook_used"] = _hook_used(files[: n + 1], p, offset, token)
            return rec
    return None


def _hook_used(newer: list[Path], home: Path, offset: int, token: str) -> bool | None:
    """True/False where a later record of the same hook settles it, None while none does."""
    needle = f'"{token}"'.encode()
    for p in reversed(newer):  # oldest of the candidates first: the settling record follows closely
        for at, line in _lines_with(p, needle):
            if p == home and at <= offset:
                continue
            try:
                settles = json.loads(line).get("settles") or {}
            except (ValueError, AttributeError):
                continue
            if token in settles.get("used", []):
                return True
            if token in settles.get("given_up", []):
                return False
    return None
