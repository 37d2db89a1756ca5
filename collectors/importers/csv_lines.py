"""CSV reading that keeps 1-based file line numbers and never shifts columns silently.

Argonne trap: some rows hold `Weight = fp8, KV Cache = fp8` without quotes, so they have one
field more than the header. The only repair applied is the documented one (`repair_split_field`);
any other field-count mismatch becomes a `Problem`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from omnipilot.collectors.store import Problem

Repair = Callable[[list[str], list[str]], list[str] | None]


@dataclass(frozen=True)
class CsvRecord:
    line: int
    values: dict[str, str]
    repaired: str | None = None  # what repair rule was applied, in words


def read_csv(path: Path, label: str, repair: Repair | None = None) -> Iterator[CsvRecord | Problem]:
    """Yield one record per data line (header stripped of stray spaces), or a Problem for it."""
    with path.open(newline="", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    if not lines:
        yield Problem(label, 1, "empty file: expected a CSV header", "")
        return
    header = [h.strip() for h in next(csv.reader([lines[0]]))]
    for lineno, raw in enumerate(lines[1:], start=2):
        if not raw.strip():
            continue
        fields = next(csv.reader([raw]))
        note = None
        if len(fields) != len(header) and repair is not None:
            fixed = repair(header, fields)
            if fixed is not None:
                fields, note = fixed, "rejoined an unquoted comma inside the precision field"
        if len(fields) != len(header):
            reason = f"{len(fields)} fields under {len(header)} headers (no documented repair applies)"
            yield Problem(label, lineno, reason, raw)
            continue
        yield CsvRecord(lineno, dict(zip(header, (f.strip() for f in fields), strict=True)), note)


def repair_split_field(column: str, first: str, second: str) -> Repair:
    """Rule: a row with exactly one field too many, whose `column` field starts with `first` and
    the next with `second`, had an unquoted comma inside `column`: join the two with ', '."""

    def _repair(header: list[str], fields: list[str]) -> list[str] | None:
        if column not in header or len(fields) != len(header) + 1:
            return None
        i = header.index(column)
        if fields[i].strip().startswith(first) and fields[i + 1].strip().startswith(second):
            return [*fields[:i], f"{fields[i].strip()}, {fields[i + 1].strip()}", *fields[i + 2 :]]
        return None

    return _repair
