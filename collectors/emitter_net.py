"""The emitter's HTTP side: readiness polling, `/metrics` scrapes, and the optional load driver."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from omnipilot.collectors.prom_text import Scrape, parse_metrics


def _get(url: str, timeout_s: float = 5.0) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as res:
            return bytes(res.read()) if res.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def get_json(url: str) -> dict[str, Any] | None:
    raw = _get(url)
    try:
        data = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def wait_ready(
    base: str, proc: subprocess.Popen[bytes], timeout_s: float, stop: Callable[[], bool]
) -> float | None:
    """Time `/v1/models` first answered 200; None if the process exited, was stopped, or timed out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop():
        if proc.poll() is not None:
            return None
        if _get(base + "/v1/models", timeout_s=2.0) is not None:
            return time.time()
        time.sleep(0.2)
    return None


def scrape(base: str) -> Scrape | None:
    raw = _get(base + "/metrics")
    return parse_metrics(raw.decode("utf-8", "replace"), time.time()) if raw is not None else None


def drive_load(base: str, model: str, n: int, concurrency: int, prompt_len: int, output_len: int) -> int:
    """Send n completions with `concurrency` clients; → how many succeeded."""
    body = json.dumps(
        {
            "model": model,
            "prompt": " ".join(["hello"] * prompt_len),
            "max_tokens": output_len,
            "ignore_eos": True,
            "temperature": 0.0,
        }
    ).encode()
    ok = 0
    lock = threading.Lock()

    def one(_: int) -> None:
        nonlocal ok
        req = urllib.request.Request(
            base + "/v1/completions", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=600) as res:
                res.read()
                if res.status == 200:
                    with lock:
                        ok += 1
        except (urllib.error.URLError, OSError):
            pass

    with ThreadPoolExecutor(max_workers=max(concurrency, 1)) as pool:
        list(pool.map(one, range(n)))
    return ok
