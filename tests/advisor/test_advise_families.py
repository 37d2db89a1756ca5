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


def test_advise_reads_models_the_catalog_lacks_as_the_daemon_does(capsys: pytest.CaptureFixture[str]) -> None:
    # a fine-tune of a catalog model: sized as its base, said in a note
    assert main(["advise", "--model", "myorg/Qwen2.5-7B-Instruct-sft-v2", "--concurrency", "16"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Qwen/Qwen2.5-7B ") and "taken as a fine-tune of Qwen/Qwen2.5-7B-Instruct" in text
    # an unknown family whose name states its size: a stand-in shape, low confidence, never a prediction
    rc, arms = _advise("acme-lab/Foo-13B-Instruct", capsys)
    assert rc == 0 and arms and all(a["confidence"] == "low" for a in arms)
    assert all(a["targets"].get("tokens_per_s") is None for a in arms)
    assert main(["advise", "--model", "acme-lab/Foo-13B-Instruct"]) == 0
    assert "layer shape is a stand-in taken from" in capsys.readouterr().out
    # no size in the name: said, not guessed
    assert main(["advise", "--model", "my-lab/private-chat"]) == 0
    text = capsys.readouterr().out
    assert "(no arm: the model's size is not known; its name states none)" in text
    assert "no feasible arm" not in text


def test_advise_says_a_tp_the_arms_do_not_have(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advise", "--model", "Qwen/Qwen2.5-7B", "--tp", "3"]) == 0
    assert "note: TP 3 is not among the arms: they are TP 1, 2, 4, 8" in capsys.readouterr().out


@pytest.mark.parametrize("model", ["Qwen/Qwen2.5-VL-7B-Instruct", "Qwen/Qwen3-VL-30B-A3B-Instruct-FP8"])
def test_a_vlm_is_answered_from_its_language_familys_measurements(
    model: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out = _advise(model, capsys)
    arms = out["arms"] if isinstance(out, dict) else out
    assert rc == 0 and arms
    # its family is measured, the checkpoint is not: never high, never refused as an unknown family
    assert all(a["confidence"] in ("medium", "low") for a in arms)
    assert not any("family" in r and "not measured (measured:" in r for a in arms for r in a["reasons"])
    assert all(a["targets"].get("tokens_per_s") for a in arms)


@pytest.mark.parametrize(
    ("model", "family"),
    [("tencent/Hunyuan-A13B-Instruct", "hunyuan_v1_moe"), ("moonshotai/Kimi-Linear-48B-A3B-Instruct", "kimi_linear")],
)
def test_a_new_unmeasured_family_gets_arms_at_low_confidence(
    model: str, family: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out = _advise(model, capsys)
    arms = out["arms"] if isinstance(out, dict) else out
    assert rc == 0 and arms
    assert all(a["confidence"] == "low" for a in arms)
    assert all(any(f"family {family} not measured" in r for r in a["reasons"]) for a in arms)
