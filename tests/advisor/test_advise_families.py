"""`advise` answers every family the catalog lists (issue 14): arms with predictions, and an
honest confidence — low, with the reason, for a family no measured row covers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from omnipilot.cli import main
from tests.test_catalog_models import FAMILY_EXAMPLES

SINGLE_NODE = sorted(n for n, f in FAMILY_EXAMPLES.items() if f != "kimi_k2")


def _advise(model: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    rc = main(["advise", "--model", model, "--concurrency", "16", "--context", "4096", "--json"])
    return rc, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("model", SINGLE_NODE)
def test_advise_answers_with_predictions(model: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _advise(model, capsys)
    assert rc == 0
    arms = out["arms"] if isinstance(out, dict) else out
    assert arms, model
    for arm in arms:
        assert "tokens_per_s" in arm["targets"], arm
        assert arm["confidence"] in ("high", "medium", "low")
        if arm["confidence"] == "low":
            assert arm["reasons"], arm


def test_unmeasured_family_is_low_confidence_with_its_reason(capsys: pytest.CaptureFixture[str]) -> None:
    _, out = _advise("google/gemma-4-31B-it", capsys)
    arms = out["arms"] if isinstance(out, dict) else out
    assert all(a["confidence"] == "low" for a in arms)
    assert any("family gemma4 not measured" in r for a in arms for r in a["reasons"])


def test_kimi_k2_gets_no_single_node_arm(capsys: pytest.CaptureFixture[str]) -> None:
    _, out = _advise("moonshotai/Kimi-K2-Instruct", capsys)
    arms = out["arms"] if isinstance(out, dict) else out
    assert arms == []
