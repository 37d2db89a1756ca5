"""The daemon's mode (off / observe / suggest / enforce), persisted so it survives restarts."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import get_args

import structlog

from omnipilot.config import Mode

log = structlog.get_logger("omnipilot.modes")
MODES: tuple[str, ...] = get_args(Mode)


class ModeStore:
    def __init__(self, state_dir: Path, initial: str) -> None:
        self.path = state_dir / "mode.json"
        self._mode = initial
        if self.path.exists():
            try:
                saved = json.loads(self.path.read_text())["mode"]
                if saved in MODES:
                    self._mode = saved
                else:
                    log.warning("mode_file_invalid", path=str(self.path), mode=saved, using=initial)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("mode_file_unreadable", path=str(self.path), error=str(exc), using=initial)

    @property
    def mode(self) -> str:
        return self._mode

    def set(self, mode: str, by_uid: int | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"mode": mode, "set_at": time.time(), "by_uid": by_uid}))
        os.replace(tmp, self.path)
        log.info("mode_changed", old=self._mode, new=mode, by_uid=by_uid)
        self._mode = mode
