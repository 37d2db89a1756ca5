"""The daemon's background config.json reader: no I/O on lookup, read for the next submission,
only what the submitting user may read."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnipilot.catalog import Catalog
from omnipilot.daemon.checkpoint_cache import CheckpointCache, readable_by
from omnipilot.daemon.jobscript.parse import parse_job

NOBODY = 65534
CFG = {"model_type": "qwen3", "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36,
       "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
       "max_position_embeddings": 40960, "quantization_config": {"quant_method": "awq", "bits": 4}}  # fmt: skip


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder every user may search (pytest's own tmp root is private to its user)."""
    d = Path(tempfile.mkdtemp(dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d)


def _checkpoint(tmp_path: Path, mode: int) -> Path:
    d = tmp_path / "ckpt" / "Qwen3-8B-support-bot"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(CFG))
    os.chmod(d / "config.json", mode)
    for p in (d, d.parent, tmp_path):
        os.chmod(p, 0o755)
    return d


def test_first_submission_queues_the_next_one_knows(open_dir: Path) -> None:
    d = _checkpoint(open_dir, 0o644)
    cache = CheckpointCache()
    cache.start()
    try:
        script = f"#!/bin/bash\n#SBATCH --gres=gpu:h100:1\nvllm serve {d}\n"
        look = lambda p: cache.lookup(p, NOBODY)  # noqa: E731
        first = parse_job(script, None, Catalog.load(), checkpoints=look)
        assert first.quantization_detail is None  # nothing read on the request path
        cache.drain()
        second = parse_job(script, None, Catalog.load(), checkpoints=look)
        assert second.quantization == "awq" and second.sources["quantization"] == "config.json"
        assert second.precision == "awq" and second.model_name == "Qwen/Qwen3-8B"
        assert any("config.json has the shape" in n for n in second.model_notes)
    finally:
        cache.stop()


def test_a_file_the_user_cannot_read_is_not_read(open_dir: Path) -> None:
    d = _checkpoint(open_dir, 0o600)  # owned by the test's user, not readable by nobody
    if os.stat(d / "config.json").st_uid == NOBODY:
        return
    assert not readable_by(d / "config.json", NOBODY, {NOBODY})
    assert readable_by(d / "config.json", os.getuid(), set())
    cache = CheckpointCache()
    cache.start()
    try:
        assert cache.lookup(str(d), NOBODY) is None
        cache.drain()
        assert cache.lookup(str(d), NOBODY) is None
        assert cache.lookup(str(d), None) is None  # unknown submitter: never read
    finally:
        cache.stop()


def test_directory_search_permission_matters(open_dir: Path) -> None:
    d = _checkpoint(open_dir, 0o644)
    os.chmod(d, 0o700)
    assert not readable_by(d / "config.json", NOBODY, {NOBODY})
