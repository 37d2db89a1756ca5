"""Argonne importer: each trap of PROVENANCE.md on small synthetic files, then the real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnipilot.catalog import Catalog
from omnipilot.collectors.importers import argonne

HEAD = "Hardware,Num of Hardware,Framework,Model,Input Output Length,Batch Size,Latency,Throughput\n"
QHEAD = "Hardware,Num of Hardware,Framework,Model,Input Output Length,Batch Size,kv_cache_dtype,latency,throughput\n"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def _line(hw: str, fw: str, length: int, batch: int, latency: float, ratio: float = 2.0) -> str:
    throughput = ratio * length * batch / latency
    return f"{hw},1,{fw},meta-llama/Meta-Llama-3-8B,{length},{batch},{latency!r},{throughput!r}\n"


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_total_throughput_ratio_checked(tmp_path: Path, catalog: Catalog) -> None:
    _write(
        tmp_path,
        "All_results.csv",
        HEAD
        + _line("Nvidia H100 GPU", "vLLM", 128, 16, 2.5)
        + _line("Nvidia H100 GPU", "vLLM", 256, 16, 3.5, ratio=1.0)
        + _line("Nvidia H100 GPU", "llama.cpp", 128, 16, 4.0),
    )
    res = argonne.import_dir(tmp_path, catalog)
    assert res.problems == []
    by_len = {(r.engine, r.prompt_len): r for r in res.rows}
    good = by_len[("vllm", 128)]
    assert good.targets.tokens_per_s == pytest.approx(2 * 128 * 16 / 2.5)
    assert good.targets.output_tokens_per_s == pytest.approx(128 * 16 / 2.5)
    assert good.targets.requests_per_s == pytest.approx(16 / 2.5)
    assert good.context_len == 256 and good.concurrency == 16 and good.load_regime == "fixed_batch"
    off = by_len[("vllm", 256)]
    assert off.targets.tokens_per_s is None and off.targets.latency_s == 3.5
    assert any("not 2.00" in n for n in off.provenance.notes)
    cpp = by_len[("llama.cpp", 128)]
    assert cpp.targets.tokens_per_s is None
    assert any("llama.cpp" in n and "no known definition" in n for n in cpp.provenance.notes)


def test_fp16_maps_to_bf16_with_note(tmp_path: Path, catalog: Catalog) -> None:
    _write(tmp_path, "All_results.csv", HEAD + _line("Nvidia A100 GPU", "vLLM", 128, 1, 1.0))
    (row,) = argonne.import_dir(tmp_path, catalog).rows
    assert row.precision == "bf16" and row.kv_cache_dtype == "auto"
    assert "measured fp16" in " ".join(row.provenance.notes)
    assert row.gpu == "A100-40GB" and row.gpu_memory_gb == 40
    assert row.model == "meta-llama/Meta-Llama-3-8B" and row.family == "llama3"


def test_unquoted_comma_repaired_by_rule_or_quarantined(tmp_path: Path, catalog: Catalog) -> None:
    _write(
        tmp_path,
        "quant_all_results.csv",
        QHEAD
        + "Nvidia H100 GPU,1,vLLM,meta-llama/Meta-Llama-3-8B,128,1,Weight = fp8, KV Cache = fp8,1.0,256.0\n"
        + 'Nvidia H100 GPU,1,vLLM,meta-llama/Meta-Llama-3-8B,128,2,"Weight = fp16, KV Cache = fp8",1.0,512.0\n'
        + "Nvidia H100 GPU,1,vLLM,meta-llama/Meta-Llama-3-8B,128,4,fp8,extra,1.0,1024.0\n",
    )
    res = argonne.import_dir(tmp_path, catalog)
    by_batch = {r.concurrency: r for r in res.rows}
    assert by_batch[1].precision == "fp8" and by_batch[1].kv_cache_dtype == "fp8"
    assert by_batch[1].targets.latency_s == 1.0 and by_batch[1].targets.tokens_per_s == 256.0
    assert any("unquoted comma" in n for n in by_batch[1].provenance.notes)
    assert by_batch[2].precision == "bf16" and by_batch[2].kv_cache_dtype == "fp8"
    assert 4 not in by_batch
    (problem,) = res.problems
    assert problem.line == 4 and problem.path.endswith("quant_all_results.csv")
    assert "10 fields under 9 headers" in problem.reason


def test_overlapping_files_merge_into_one_row(tmp_path: Path, catalog: Catalog) -> None:
    base = _line("Nvidia A100 GPU", "vLLM", 1024, 16, 25.05)
    _write(tmp_path, "All_results.csv", HEAD + _line("Nvidia A100 GPU", "vLLM", 128, 1, 1.0) + base)
    _write(
        tmp_path, "power_results.csv", HEAD.rstrip("\n") + ",avg_power\n" + base.rstrip("\n") + ",292973.44\n"
    )
    _write(
        tmp_path,
        "ttft_itl_results.csv",
        "Hardware,Num of Hardware,Framework,Model,Input Length,Output Length,Batch Size,TTFT Latency,end_latency \n"
        "Nvidia A100 GPU,1,vLLM,meta-llama/Meta-Llama-3-8B,1024,1,16,1.03,25.05\n",
    )
    _write(
        tmp_path,
        "ttft_results.csv",
        "Hardware,Num of Hardware,Framework,Model,Input Length,Output Length,Batch Size,Latency\n"
        "Nvidia A100 GPU,1,vLLM,meta-llama/Meta-Llama-3-8B,1024,1,16,1.03\n",
    )
    res = argonne.import_dir(tmp_path, catalog)
    assert res.problems == [] and len(res.rows) == 2
    (merged,) = [r for r in res.rows if r.prompt_len == 1024]
    refs = [(f.path.rsplit("/", 1)[-1], f.line) for f in merged.provenance.files]
    assert refs == [
        ("All_results.csv", 3),
        ("power_results.csv", 2),
        ("ttft_itl_results.csv", 2),
        ("ttft_results.csv", 2),
    ]
    assert merged.targets.power_avg_w == pytest.approx(292.97344)
    assert merged.targets.ttft_p50_s == 1.03 and merged.output_len == 1024


def test_bad_power_unit_is_quarantined(tmp_path: Path, catalog: Catalog) -> None:
    _write(
        tmp_path,
        "power_results.csv",
        HEAD.rstrip("\n")
        + ",avg_power\n"
        + _line("Nvidia A100 GPU", "vLLM", 128, 1, 1.0).rstrip("\n")
        + ",5\n",
    )
    res = argonne.import_dir(tmp_path, catalog)
    assert res.rows == []
    (problem,) = res.problems
    assert problem.line == 2 and "avg_power 5 fits neither milliwatts nor watts" in problem.reason


def test_unknown_gpu_kind_kept_raw_with_note(tmp_path: Path, catalog: Catalog) -> None:
    _write(tmp_path, "All_results.csv", HEAD + _line("Acme Tensor Brick", "vLLM", 128, 1, 1.0))
    (row,) = argonne.import_dir(tmp_path, catalog).rows
    assert row.gpu == "Acme Tensor Brick" and row.gpu_memory_gb is None
    assert any("not in etc/gpus.toml" in n for n in row.provenance.notes)


def test_real_files_every_line_accounted_for(shared_data: Path, catalog: Catalog) -> None:
    folder = shared_data / argonne.DATASET
    res = argonne.import_dir(folder, catalog)
    data_lines = sum(len((folder / f).read_text().splitlines()) - 1 for f in argonne.FILES)
    refs = sum(len(r.provenance.files) for r in res.rows)
    assert refs + len(res.problems) == data_lines  # nothing dropped silently
    assert len({r.content_hash for r in res.rows}) == len(res.rows)  # overlaps merged, no twins
    repaired = [r for r in res.rows if any("unquoted comma" in n for n in r.provenance.notes)]
    assert len(repaired) == 20 and all(r.precision == "fp8" for r in repaired)
    assert all(r.checkpoint == "neuralmagic/Meta-Llama-3-8B-Instruct-FP8" for r in repaired)
    power = [r for r in res.rows if r.targets.power_avg_w is not None]
    assert len(power) == 40 and all(150 < (r.targets.power_avg_w or 0) < 700 for r in power)
    for r in res.rows:
        if r.engine not in ("llama.cpp",) and r.targets.tokens_per_s is not None:
            lat, n = r.targets.latency_s or 0, (r.prompt_len or 0) * (r.concurrency or 0)
            assert r.targets.tokens_per_s * lat / n == pytest.approx(2.0, rel=0.01)
    assert not any(r.engine == "llama.cpp" and r.targets.tokens_per_s for r in res.rows)
