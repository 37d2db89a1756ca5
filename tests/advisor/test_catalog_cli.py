"""`omnipilot catalog add --json`: the entry written and where, as one JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnipilot.catalog import Catalog
from omnipilot.cli import main

# Qwen3-8B's config.json (the fields `catalog add` reads)
QWEN3_8B = {"model_type": "qwen3", "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36,
            "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
            "max_position_embeddings": 40960, "tie_word_embeddings": False, "torch_dtype": "bfloat16"}  # fmt: skip
KEYS = {"source", "name", "family", "params_b", "params_from", "written_to", "entry", "toml"}


def test_catalog_add_json_prints_and_writes_the_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = tmp_path / "site-qwen3-8b-ft"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps(QWEN3_8B))

    assert main(["catalog", "add", str(ckpt), "--json"]) == 0  # no --to: printed only
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == KEYS and doc["written_to"] is None
    assert doc["name"] == "site-qwen3-8b-ft" and doc["entry"]["layers"] == 36
    assert doc["toml"].startswith("[[model]]\n") and 'name = "site-qwen3-8b-ft"' in doc["toml"]

    models = tmp_path / "models.toml"
    assert main(["catalog", "add", str(ckpt), "--name", "site/qwen3-8b-ft", "--to", str(models), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == KEYS and doc["written_to"] == str(models)
    spec = Catalog.load(models).model("site/qwen3-8b-ft")
    assert spec is not None and spec.model_dump(mode="json") == doc["entry"]
    assert doc["params_b"] == spec.params_b and doc["family"] == spec.family

    # already there: exit 1, one line on stderr, nothing on stdout (as without --json)
    assert main(["catalog", "add", str(ckpt), "--name", "site/qwen3-8b-ft", "--to", str(models), "--json"]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "already has site/qwen3-8b-ft" in out.err and len(out.err.strip().splitlines()) == 1
    # bad input: exit 2
    assert main(["catalog", "add", str(tmp_path / "missing"), "--json"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.strip().splitlines()) == 1


def test_catalog_show_says_how_the_daemon_sizes_a_name_it_lacks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "show", "acme-lab/Foo-13B-Instruct"]) == 1  # not in the catalog
    out = capsys.readouterr().out
    assert "sized from its name at low confidence" in out and "layer shape is a stand-in taken from" in out
    assert main(["catalog", "show", "acme-lab/Foo-13B-Instruct", "--json"]) == 1
    shown = json.loads(capsys.readouterr().out)
    assert shown["confidence"] == "low" and shown["shape_from_name"]
    # a text model's stand-in is never a vision-language entry (its size counts the vision tower)
    assert not any(w in shown["shape_from_name"].lower() for w in ("-vl-", "vision", "pixtral", "internvl"))
    assert main(["catalog", "show", "my-lab/private-chat"]) == 1  # no size: nothing to size it by
    assert "sized from its name" not in capsys.readouterr().out
