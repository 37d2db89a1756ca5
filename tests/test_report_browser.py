"""`omnipilot report` rendered in a real browser: Debian's headless Chromium, driven by Playwright
(its own browser download is never used). Every image must load (naturalWidth > 0), the page must
make no network request and log no console error; at least 3 plots, no file besides index.html."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from omnipilot.collectors.seed import default_data_dir

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


def _report(out: Path, *args: str, env: dict[str, str] | None = None) -> None:
    res = subprocess.run([sys.executable, "-m", "omnipilot.cli", "report", "--out", str(out), *args],
                         capture_output=True, text=True, timeout=600, env=env)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]  # self-contained: nothing else to ship


def render(page_path: Path, tmp: Path) -> dict[str, Any]:
    """Open the page in headless Chromium; what a reader's browser would see and do."""
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (install.sh installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    requests: list[str] = []
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp / "profile"), executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )  # a new --user-data-dir: nothing from another session
        try:
            page = ctx.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri(), wait_until="load")
            images = page.evaluate(
                "[...document.images].map(i => ({w: i.naturalWidth, h: i.naturalHeight, done: i.complete,"
                " src: i.src.slice(0, 30)}))"
            )
            title = page.title()
        finally:
            ctx.close()
    # the page's own file:// load is the only request; inline data: images are not fetched
    others = [u for u in requests if u != page_path.as_uri() and not u.startswith("data:")]
    return {"images": images, "requests": others, "errors": errors, "title": title}


def _check(seen: dict[str, Any], at_least: int) -> None:
    assert seen["title"] == "OmniPilot report"
    assert len(seen["images"]) >= at_least, seen["images"]
    assert all(i["done"] and i["w"] > 0 and i["h"] > 0 for i in seen["images"]), seen["images"]
    assert all(i["src"].startswith("data:image/png") for i in seen["images"])
    assert seen["requests"] == [], seen["requests"]
    assert seen["errors"] == [], seen["errors"]


@pytest.fixture(scope="module")
def seed_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from omnipilot.collectors.seed import build_seed

    try:
        data = default_data_dir()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    out = tmp_path_factory.mktemp("seed") / "history.jsonl"
    build_seed(data, out)
    return out


def test_report_on_the_bundled_model_alone(seed_history: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    _report(out, "--history", str(seed_history), "--decision-log", str(tmp_path / "none.jsonl"))
    text = (out / "index.html").read_text()
    assert "Predicted vs measured" in text and "Placement backtest" in text and "No decisions" in text
    assert "The precision decision" in text and "Error by confidence band" in text
    assert "paired-ratio check" in text  # the backtest cannot judge choosing an H200: says so
    assert "http://" not in text and "https://" not in text and "<script" not in text
    _check(render(out / "index.html", tmp_path), at_least=3)


def test_report_with_nothing_but_the_model(tmp_path: Path) -> None:
    """A fresh install: no history built, no decision log; the cost model's own manifest still plots."""
    out = tmp_path / "report"
    _report(out, "--history", str(tmp_path / "missing.jsonl"), "--decision-log", str(tmp_path / "none.jsonl"))
    text = (out / "index.html").read_text()
    assert "What the cost model predicts" in text and "No history at" in text and "No decisions" in text
    assert "http://" not in text and "https://" not in text and "<script" not in text
    _check(render(out / "index.html", tmp_path), at_least=3)


def _records(n: int) -> list[dict[str, Any]]:
    now = time.time()
    recs = []
    for i in range(n):
        low = i % 5 == 0
        rec: dict[str, Any] = {
            "ts": now - 86400 * (i % 4), "token": f"t{i:07d}", "mode": "suggest",
            "outcome": "advised" if i % 7 else "no_fit", "confidence": "low" if low else ("high" if i % 2 else "medium"),
            "asked": {"gpu_kind": "A100-40GB", "tp": 2, "precision": "bf16"},
            "choice": {"gpu": "H100-80GB" if i % 3 else "A100-40GB", "tp": 1 if i % 3 else 2, "precision": "fp8" if i % 3 else "bf16"},
        }  # fmt: skip
        if low and rec["outcome"] == "advised":
            rec["abstained_because"] = (
                "the best-utility arm h100x1 tp1 is low-confidence (tokens_per_s: low confidence: context "
                "32768 above the measured 16384): the cheapest-fit rule's arm is advised instead"
            )
        recs.append(rec)
    recs.append({"ts": now, "token": "off", "mode": "off", "outcome": "mode_off"})
    return recs


def test_report_with_a_sites_decision_log(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in _records(40)) + "not json\n")
    out = tmp_path / "report"
    # no history: the decision sections stand on their own
    _report(out, "--history", str(tmp_path / "missing.jsonl"), "--decision-log", str(log))
    text = (out / "index.html").read_text()
    assert "Decisions over time" in text and "Asked vs advised" in text
    assert "requests inside the measured envelope" in text and "No history at" in text
    _check(render(out / "index.html", tmp_path), at_least=3)
