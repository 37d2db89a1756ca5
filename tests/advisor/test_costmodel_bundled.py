"""The committed model: it loads, answers, and retraining on the same data reproduces its hashes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from omnipilot.advisor.costmodel import BUNDLED_DIR, ArmQuery, load_bundled, train
from omnipilot.cli import main

REPO = Path(__file__).resolve().parents[2]


def _shared_data() -> Path:
    env = os.environ.get("OMNIPILOT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def test_bundled_model_loads_and_abstains_on_unmeasured_precisions() -> None:
    model = load_bundled()
    assert "tokens_per_s" in model.fitted_targets
    q = {
        "model": "meta-llama/Meta-Llama-3-8B",
        "gpu": "A100",
        "tp": 1,
        "concurrency": 16,
        "context": 2048,
        "prompt_len": 1024,
        "output_len": 1024,
    }
    bf16, awq, gptq = model.predict([ArmQuery(precision=p, **q) for p in ("bf16", "awq", "gptq")])  # type: ignore[arg-type]
    assert bf16.confidence == "high"
    for p in (awq, gptq):
        assert p.confidence == "low"
        assert any(f"precision {p.query.precision} not measured" in r for r in p.reasons)


def test_retraining_reproduces_the_committed_hashes(tmp_path: Path) -> None:
    data = _shared_data()
    if not data.is_dir():
        pytest.skip(f"public data not found at {data} (set OMNIPILOT_SHARED_DATA)")
    from omnipilot.collectors.seed import build_seed
    from omnipilot.collectors.store import load_frame

    out = tmp_path / "history.jsonl"
    build_seed(data, out, rebuild=True)
    committed = json.loads((BUNDLED_DIR / "manifest.json").read_text())
    manifest, _ = train(load_frame(out), conformal=False)  # the boosters do not depend on the CV
    assert manifest.data_hash == committed["data_hash"], (
        "the seed history differs from the data the bundled model was trained on: "
        "retrain it with `omnipilot train` (and commit advisor/bundled_model/)"
    )
    assert manifest.model_hash == committed["model_hash"]


def test_advise_json_and_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "advise",
            "--model",
            "Qwen/Qwen2-7B",
            "--concurrency",
            "16",
            "--context",
            "1024",
            "--prompt-len",
            "512",
            "--output-len",
            "512",
            "--gpu",
            "a100",
            "--json",
        ]
    )
    assert rc == 0
    arms = json.loads(capsys.readouterr().out)
    assert arms and {a["gpu"] for a in arms} == {"A100-40GB"}
    for a in arms:
        assert set(a) >= {"gpu", "tp", "precision", "targets", "confidence", "reasons"}
    assert arms[0]["confidence"] == "high"
    batch = tmp_path / "req.jsonl"
    batch.write_text(
        "\n".join(
            [
                json.dumps(
                    {"model": "Qwen/Qwen2-7B", "concurrency": 8, "context": 1024, "gpu": "Nvidia B999"}
                ),
                "{broken",
                json.dumps(
                    {
                        "model": "Qwen/Qwen2-7B",
                        "concurrency": 8,
                        "context": 1024,
                        "tp": 1,
                        "precision": "bf16",
                    }
                ),
            ]
        )
        + "\n"
    )
    rc = main(["advise", "--batch", str(batch)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc == 1 and len(lines) == 3
    unknown = json.loads(lines[0])
    assert unknown[0]["confidence"] == "low" and "B999" in " ".join(unknown[0]["reasons"])
    assert "error" in json.loads(lines[1])
    assert all(a["tp"] == 1 and a["precision"] == "bf16" for a in json.loads(lines[2]))
