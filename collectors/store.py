"""The append-only history store: `history.jsonl`, one `HistoryRow` per line.

Durability rules (docs/history.md):
- every append is one `write` of whole, newline-terminated lines under an exclusive `flock`,
  followed by `fsync`, so concurrent writers never interleave and a crash can only leave a torn
  *last* line; earlier rows are never rewritten;
- a torn last line left by an earlier crash is copied to the quarantine side file and cut off
  before the next append, so it is never glued to the next row;
- appends are idempotent by `content_hash`: a measurement already stored is counted as a duplicate;
- `read()` never drops anything silently: every bad line comes back as a `Problem` naming the file
  and the 1-based line, and `quarantine()` copies bad lines to `<name>.quarantine.jsonl`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import structlog
from pydantic import ValidationError

from omnipilot.collectors.rows import HistoryRow, Targets

log = structlog.get_logger(__name__)

AXIS_COLUMNS: tuple[str, ...] = (
    "model",
    "checkpoint",
    "family",
    "params_b",
    "active_params_b",
    "gpu",
    "gpu_memory_gb",
    "tp",
    "pp",
    "precision",
    "kv_cache_dtype",
    "engine",
    "load_regime",
    "context_len",
    "prompt_len",
    "output_len",
    "concurrency",
    "request_rate",
    "kind",
    "content_hash",
)
TARGET_COLUMNS: tuple[str, ...] = tuple(Targets.model_fields)
FRAME_COLUMNS: tuple[str, ...] = (*AXIS_COLUMNS, *TARGET_COLUMNS, "engine_version", "source")


@dataclass(frozen=True)
class AppendResult:
    added: int
    duplicates: int


@dataclass(frozen=True)
class Problem:
    """One line that is not a valid row: where it is and why."""

    path: str
    line: int
    reason: str
    raw: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


# A row is a few KB; a longer line is not parsed at all (bounded work per line, bounded quarantine).
MAX_LINE_CHARS = 1_000_000


def quarantine_path(path: Path) -> Path:
    """`history.jsonl` -> `history.quarantine.jsonl` (same folder)."""
    stem = path.name[: -len(".jsonl")] if path.name.endswith(".jsonl") else path.name
    return path.with_name(f"{stem}.quarantine.jsonl")


def parse_line(raw: str, path: str, lineno: int) -> HistoryRow | Problem:
    """One JSONL line -> a validated row whose hash matches its content, or the problem with it."""
    if len(raw) > MAX_LINE_CHARS:
        return Problem(path, lineno, f"line of {len(raw)} characters is longer than a row can be ({MAX_LINE_CHARS})", raw[:200] + "...")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return Problem(path, lineno, f"not JSON ({exc.msg} at column {exc.colno})", raw)
    except RecursionError:  # `[` x 1000: the C scanner recurses once per level
        return Problem(path, lineno, "not a row: JSON nested too deeply", raw[:200])
    if not isinstance(data, dict):
        return Problem(path, lineno, "not a JSON object", raw)
    try:
        row = HistoryRow.model_validate(data)
    except RecursionError:
        return Problem(path, lineno, "schema violation: a value nested too deeply", raw[:200])
    except ValidationError as exc:
        errs = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()[:5]
        )
        return Problem(path, lineno, f"schema violation: {errs}", raw)
    expected = row.compute_hash()
    if not row.content_hash:
        return row.with_hash()
    if row.content_hash != expected:
        return Problem(
            path, lineno, f"content_hash {row.content_hash} does not match the content ({expected})", raw
        )
    return row


def _iter_lines(blob: bytes, start_line: int = 1) -> Iterator[tuple[int, str]]:
    for i, chunk in enumerate(blob.split(b"\n"), start=start_line):
        text = chunk.decode("utf-8", errors="replace").strip()
        if text:
            yield i, text


class HistoryStore:
    """An append-only JSONL history at `path` (created on first append)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.quarantine_file = quarantine_path(self.path)
        # hashes seen so far and the byte offset up to which they were read (the file only grows)
        self._hashes: set[str] = set()
        self._offset = 0
        self._lines = 0

    # ---------------------------------------------------------------- writing
    def append(self, rows: Iterable[HistoryRow]) -> AppendResult:
        """Append the rows not yet stored (by content hash); one write, under lock, fsynced."""
        prepared = [self._hashed(r) for r in rows]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked() as fd:
            self._repair_torn_tail(fd)
            self._refresh_index(fd)
            new: list[HistoryRow] = []
            seen_now: set[str] = set()
            for row in prepared:
                if row.content_hash in self._hashes or row.content_hash in seen_now:
                    continue
                seen_now.add(row.content_hash)
                new.append(row)
            if new:
                blob = "".join(r.model_dump_json(exclude_none=True) + "\n" for r in new).encode()
                _write_all(fd, blob)
                os.fsync(fd)
                self._hashes |= seen_now
                self._offset += len(blob)
                self._lines += len(new)
        result = AppendResult(added=len(new), duplicates=len(prepared) - len(new))
        log.info("history.append", path=str(self.path), added=result.added, duplicates=result.duplicates)
        return result

    @staticmethod
    def _hashed(row: HistoryRow) -> HistoryRow:
        expected = row.compute_hash()
        if not row.content_hash:
            return row.with_hash()
        if row.content_hash != expected:
            raise ValueError(
                f"row for {row.model} on {row.gpu} carries content_hash {row.content_hash} but its "
                f"content hashes to {expected}: clear content_hash or fix the row"
            )
        return row

    @contextmanager
    def _locked(self) -> Iterator[int]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _repair_torn_tail(self, fd: int) -> None:
        """A file not ending in a newline holds a torn last line: quarantine it and cut it off."""
        size = os.fstat(fd).st_size
        if size == 0:
            return
        if os.pread(fd, 1, size - 1) == b"\n":
            return
        window = min(size, 1 << 20)
        tail = os.pread(fd, window, size - window)
        cut = tail.rfind(b"\n")
        keep = size - window + cut + 1 if cut >= 0 else 0
        if cut < 0 and window < size:
            raise RuntimeError(f"{self.path}: last line is over 1 MiB and unterminated; inspect by hand")
        torn = os.pread(fd, size - keep, keep).decode("utf-8", errors="replace")
        lineno = os.pread(fd, keep, 0).count(b"\n") + 1
        problem = Problem(str(self.path), lineno, "torn last line (unterminated write, e.g. a crash)", torn)
        self._write_quarantine([problem])
        os.ftruncate(fd, keep)
        os.fsync(fd)
        if self._offset > keep:
            self._offset, self._lines, self._hashes = 0, 0, set()
        log.warning("history.torn_line_quarantined", path=str(self.path), line=lineno, bytes=size - keep)

    def _refresh_index(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        if size < self._offset:  # replaced behind our back: start over
            self._offset, self._lines, self._hashes = 0, 0, set()
        if size == self._offset:
            return
        blob = os.pread(fd, size - self._offset, self._offset)
        end = blob.rfind(b"\n") + 1
        for _, text in _iter_lines(blob[:end]):
            try:
                h = json.loads(text).get("content_hash")
            except (ValueError, AttributeError, RecursionError):
                continue
            if isinstance(h, str) and h:
                self._hashes.add(h)
        self._lines += blob[:end].count(b"\n")
        self._offset += end

    # ---------------------------------------------------------------- reading
    def read(self) -> tuple[list[HistoryRow], list[Problem]]:
        """All valid rows (first of each content hash) and a `Problem` for every other line."""
        if not self.path.exists():
            return [], []
        with self.path.open("rb") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
            try:
                blob = fh.read()
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        rows: list[HistoryRow] = []
        problems: list[Problem] = []
        first_line: dict[str, int] = {}
        torn = bool(blob) and not blob.endswith(b"\n")
        last_no = blob.count(b"\n") + 1
        for lineno, text in _iter_lines(blob):
            if torn and lineno == last_no:
                problems.append(Problem(str(self.path), lineno, "torn last line (unterminated)", text))
                continue
            parsed = parse_line(text, str(self.path), lineno)
            if isinstance(parsed, Problem):
                problems.append(parsed)
            elif parsed.content_hash in first_line:
                reason = f"duplicate of line {first_line[parsed.content_hash]} (same content_hash)"
                problems.append(Problem(str(self.path), lineno, reason, text))
            else:
                first_line[parsed.content_hash] = lineno
                rows.append(parsed)
        return rows, problems

    def quarantine(self, problems: Iterable[Problem]) -> int:
        """Copy bad lines to the side file (once each); the store itself is never rewritten."""
        return self._write_quarantine(list(problems))

    def _write_quarantine(self, problems: list[Problem]) -> int:
        if not problems:
            return 0
        qpath = self.quarantine_file
        qpath.parent.mkdir(parents=True, exist_ok=True)
        # the copied lines are the history's own text: readable by no one the history is not readable by
        try:
            mode = self.path.stat().st_mode & 0o666
        except OSError:
            mode = 0o600
        fd = os.open(qpath, os.O_RDWR | os.O_CREAT | os.O_APPEND, mode)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            known = _quarantine_keys(fd)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            lines = []
            for p in problems:
                key = _problem_key(p)
                if key in known:
                    continue
                known.add(key)
                rec = {
                    "path": p.path,
                    "line": p.line,
                    "reason": p.reason,
                    "raw": p.raw,
                    "at": now,
                    "key": key,
                }
                lines.append(json.dumps(rec, sort_keys=True) + "\n")
            if lines:
                _write_all(fd, "".join(lines).encode())
                os.fsync(fd)
            return len(lines)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _problem_key(p: Problem) -> str:
    return hashlib.sha256(f"{p.path}\0{p.line}\0{p.raw}".encode()).hexdigest()[:24]


def _quarantine_keys(fd: int) -> set[str]:
    size = os.fstat(fd).st_size
    keys: set[str] = set()
    for _, text in _iter_lines(os.pread(fd, size, 0)):
        try:
            k = json.loads(text).get("key")
        except (ValueError, AttributeError, RecursionError):
            continue
        if isinstance(k, str):
            keys.add(k)
    return keys


def _write_all(fd: int, blob: bytes) -> None:
    # A regular-file write normally takes everything at once; loop for the rare short write.
    view = memoryview(blob)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def rows_frame(rows: Iterable[HistoryRow]) -> pd.DataFrame:
    """Rows -> a DataFrame with exactly `FRAME_COLUMNS` (the cost model's training view)."""
    records = []
    for r in rows:
        rec: dict[str, object] = {c: getattr(r, c) for c in AXIS_COLUMNS}
        rec.update(r.targets.model_dump())
        rec["engine_version"] = r.stack.engine_version
        rec["source"] = r.provenance.source
        records.append(rec)
    return pd.DataFrame.from_records(records, columns=list(FRAME_COLUMNS))


def load_frame(path: Path | str) -> pd.DataFrame:
    """The history at `path` as a DataFrame (bad lines are skipped and logged, never guessed at)."""
    rows, problems = HistoryStore(path).read()
    for p in problems:
        log.warning("history.bad_line", path=p.path, line=p.line, reason=p.reason)
    return rows_frame(rows)
