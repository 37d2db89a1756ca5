"""A background reader of model directories' config.json, so a submission never waits on a
filesystem.

The request path only looks up what is cached (`lookup`, no I/O): a path seen for the first time is
queued, read by the reader thread, and answers the next submission that names it. Each read is
bounded in size (collectors/checkpoint_config.MAX_BYTES per file) and time (`timeout_s`: a hung
network filesystem costs one abandoned helper thread, never the daemon; after `max_stuck` of them
the reader stops reading until they return). Only files the submitting user could read themselves
are read: every directory on the way must be searchable and every file readable by that uid, by
the owner, group (the user's groups) and other mode bits.
"""

from __future__ import annotations

import grp
import os
import pwd
import queue
import stat
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import structlog

from omnipilot.collectors.checkpoint_config import (
    MAX_BYTES,
    CheckpointError,
    CheckpointFacts,
    checkpoint_dir,
    read_checkpoint,
)

log = structlog.get_logger("omnipilot.daemon.checkpoints")

_FILES = ("config.json", "hf_quant_config.json", "model.safetensors.index.json")


@dataclass(frozen=True)
class _Entry:
    facts: CheckpointFacts | None
    at: float
    why: str | None = None


def user_groups(uid: int) -> set[int]:
    """The uid's primary and supplementary groups (NSS: may block, so only the reader calls it)."""
    try:
        pw = pwd.getpwuid(uid)
    except KeyError:
        return set()
    try:
        return {pw.pw_gid, *os.getgrouplist(pw.pw_name, pw.pw_gid)}
    except OSError:
        return {pw.pw_gid, *(g.gr_gid for g in grp.getgrall() if pw.pw_name in g.gr_mem)}


def allowed(st: os.stat_result, uid: int, groups: set[int], want: int) -> bool:
    """Mode-bit check of `want` (4 read, 1 search) for uid: owner bits, else group, else other."""
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode >> 6 & want == want)
    if st.st_gid in groups:
        return bool(st.st_mode >> 3 & want == want)
    return bool(st.st_mode & want == want)


def readable_by(path: Path, uid: int, groups: set[int]) -> bool:
    """Whether uid may read `path` (symlinks followed, as open() would): every directory above the
    real file searchable, the file readable. A path that does not exist is 'readable' (absent)."""
    real = Path(os.path.realpath(path))
    try:
        st = real.stat()
    except FileNotFoundError:
        return True
    if not stat.S_ISREG(st.st_mode) or not allowed(st, uid, groups, 4):
        return False
    for parent in real.parents:
        if not allowed(parent.stat(), uid, groups, 1):
            return False
    return True


def read_as_user(directory: Path, uid: int, max_bytes: int = MAX_BYTES) -> CheckpointFacts:
    """read_checkpoint, after checking that uid could read each file itself."""
    groups = user_groups(uid)
    for name in _FILES:
        if not readable_by(directory / name, uid, groups):
            raise CheckpointError(f"{directory / name} is not readable by uid {uid}")
    return read_checkpoint(directory, max_bytes)


class CheckpointCache:
    """config.json facts per (model path, submitting uid), filled by one reader thread."""

    def __init__(
        self, *, timeout_s: float = 5.0, max_entries: int = 4096, ttl_s: float = 3600.0,
        retry_s: float = 600.0, max_stuck: int = 2, max_bytes: int = MAX_BYTES,
    ) -> None:  # fmt: skip
        self.timeout_s, self.ttl_s, self.retry_s = timeout_s, ttl_s, retry_s
        self.max_entries, self.max_stuck, self.max_bytes = max_entries, max_stuck, max_bytes
        self._entries: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        self._pending: set[tuple[str, int]] = set()
        self._queue: queue.Queue[tuple[str, int] | None] = queue.Queue(maxsize=256)
        self._lock = threading.Lock()
        self._stuck = 0
        self._thread: threading.Thread | None = None

    def lookup(self, model: str, uid: int | None) -> CheckpointFacts | None:
        """Cached facts for a model path, or None (queued for reading when new or stale). No I/O."""
        if uid is None or not model.startswith("/"):
            return None
        key = (model, uid)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            stale = hit is None or now - hit.at > (self.ttl_s if hit.facts else self.retry_s)
            if stale and key not in self._pending:
                try:
                    self._queue.put_nowait(key)
                    self._pending.add(key)
                except queue.Full:
                    pass  # a burst of new paths: the next submission asks again
        return hit.facts if hit is not None else None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="omnipilot-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=self.timeout_s + 1.0)

    def drain(self) -> None:
        """Wait until every queued path has been read (tests, and `status` tooling)."""
        self._queue.join()

    def _run(self) -> None:
        while True:
            key = self._queue.get()
            try:
                if key is None:
                    return
                self._read(key)
            except Exception:  # a bug in one read must not end the reader
                log.exception("checkpoint_read_failed")
            finally:
                self._queue.task_done()

    def _read(self, key: tuple[str, int]) -> None:
        model, uid = key
        result: list[_Entry] = []
        directory = checkpoint_dir(model)
        if directory is None or self._stuck >= self.max_stuck:
            why = "not a checkpoint path" if directory is None else "reader paused: earlier reads hung"
            self._store(key, _Entry(None, time.monotonic(), why))
            return

        def work() -> None:
            try:
                result.append(_Entry(read_as_user(directory, uid, self.max_bytes), time.monotonic()))
            except (CheckpointError, OSError) as exc:
                result.append(_Entry(None, time.monotonic(), str(exc)))

        worker = threading.Thread(target=work, name="omnipilot-checkpoint-read", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():
            self._stuck += 1
            log.warning("checkpoint_read_timeout", path=str(directory), timeout_s=self.timeout_s)
            threading.Thread(target=self._unstick, args=(worker,), daemon=True).start()
            self._store(key, _Entry(None, time.monotonic(), f"reading took over {self.timeout_s:g} s"))
            return
        entry = result[0]
        if entry.why:
            log.info("checkpoint_unread", path=str(directory), uid=uid, why=entry.why)
        self._store(key, entry)

    def _unstick(self, worker: threading.Thread) -> None:
        worker.join()
        self._stuck -= 1

    def _store(self, key: tuple[str, int], entry: _Entry) -> None:
        with self._lock:
            self._pending.discard(key)
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
