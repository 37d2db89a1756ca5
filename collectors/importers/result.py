"""What an importer hands back: converted rows and the lines it could not convert."""

from __future__ import annotations

from dataclasses import dataclass, field

from omnipilot.collectors.rows import HistoryRow
from omnipilot.collectors.store import Problem


@dataclass
class ImportResult:
    rows: list[HistoryRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def extend(self, other: ImportResult) -> None:
        self.rows.extend(other.rows)
        self.problems.extend(other.problems)
