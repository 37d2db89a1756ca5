"""Progress of a long command on stderr, on a terminal only: nothing with `--json`, nothing when stderr
is a file or a pipe (so scripts and CI logs read as before), nothing with OMNIPILOT_PROGRESS=0.

The steps are the info events the work already logs (`train.target_fitted`, `backtest.fold`,
`seed.imported`, ...): while a command runs under `progress(...)`, those events move one line on
stderr instead of being dropped by the command's warning level; warnings and errors print as before.
The line's clock moves between steps too, so a long fit never looks like a hang.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING,
           "error": logging.ERROR, "critical": logging.CRITICAL, "exception": logging.ERROR}  # fmt: skip
_REFRESH_S = 0.5


def wanted(json_out: bool = False) -> bool:
    """Whether progress is shown: stderr is a terminal, no `--json`, not switched off."""
    if json_out or os.environ.get("OMNIPILOT_PROGRESS", "") == "0":
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def _step_text(event: Mapping[str, Any]) -> str:
    name = str(event.get("event", ""))
    extra = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("event", "timestamp", "level"))
    return f"{name} {extra}".strip()[:60]


@contextmanager
def progress(label: str, json_out: bool = False, total: int | None = None) -> Iterator[None]:
    """Show `label`, a step count (of `total` when known) and the elapsed time while the block runs."""
    if not wanted(json_out):
        yield
        return
    from tqdm import tqdm

    cols, rows = _size()
    bar = tqdm(total=total, desc=label, unit=" steps", file=sys.stderr, leave=False, ncols=cols, nrows=rows,
               bar_format="{desc}: {n_fmt}" + ("/{total_fmt}" if total else "") + " steps, {elapsed}{postfix}")  # fmt: skip
    old = structlog.get_config()
    threshold = _threshold(old)
    lock = threading.Lock()

    def to_bar(_: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if _LEVELS.get(method, logging.INFO) < threshold:
            with lock:
                bar.update(1)
                bar.set_postfix_str(_step_text(event), refresh=True)
            raise structlog.DropEvent
        with lock:
            bar.clear()  # the warning prints on a clean line; the refresher draws the bar again
        return event

    stop = threading.Event()

    def refresh() -> None:
        while not stop.wait(_REFRESH_S):
            with lock:
                bar.refresh()

    # info events must reach the processor, and loggers first used now must not be cached with it
    structlog.configure(
        processors=[to_bar, *old["processors"]],
        wrapper_class=structlog.make_filtering_bound_logger(min(threshold, logging.INFO)),
        cache_logger_on_first_use=False,
    )
    ticker = threading.Thread(target=refresh, name="progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join(timeout=2)
        structlog.configure(
            processors=old["processors"],
            wrapper_class=old["wrapper_class"],
            cache_logger_on_first_use=old["cache_logger_on_first_use"],
        )
        with lock:
            bar.close()


def _threshold(config: Mapping[str, Any]) -> int:
    """The level below which the command's logging drops events (its filtering wrapper's)."""
    wrapper = config.get("wrapper_class")
    for name, level in sorted(_LEVELS.items(), key=lambda kv: kv[1]):
        method = getattr(wrapper, name, None)
        # structlog's filtering wrappers replace the methods below their level with one no-op
        if method is not None and getattr(method, "__name__", "") not in ("_nop", "nop"):
            return level
    return logging.INFO


def _size() -> tuple[int, int]:
    """The terminal's columns and rows; one that reports none (a bare pseudo-terminal: tqdm would
    then hide the line) gets $COLUMNS/$LINES or 80 x 24."""
    try:
        cols, rows = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        cols = rows = 0

    def env(name: str, default: int) -> int:
        v = os.environ.get(name, "")
        return int(v) if v.isdigit() and int(v) > 0 else default

    return cols if cols > 0 else env("COLUMNS", 80), rows if rows > 0 else env("LINES", 24)
