"""Decision targets without measured rows (issue 15, item 2): cold start and KV-cache peak come from
physics (advisor/physics_targets.py), marked `source: physics`, low confidence, a wide band, until 15
labelled rows train trees; a TTFT SLO that cannot be judged is said in one line, through `advise`
and the daemon's answer and `explain`."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from omnipilot.advisor.arms import Workload, fit_arm, precision_options
from omnipilot.advisor.costmodel import ArmQuery, CostModel, load_bundled, save, train
from omnipilot.advisor.physics_targets import (
    DEFAULT_PHYSICS,
    PHYSICS_TARGETS,
    cold_start_seconds,
    kv_demand,
    physics_estimates,
)
from omnipilot.advisor.training import TrainConfig
from omnipilot.catalog import Catalog
from omnipilot.cli import main
from omnipilot.config import ConfigError, Settings, example_config, load_settings
from omnipilot.daemon.clusterstate.cache import StateCache
from omnipilot.daemon.explain import format_record
from omnipilot.daemon.modes import ModeStore
from omnipilot.daemon.service import LAZY_KEY, AdviceService
from tests.daemon.test_service import req, snapshot

from .costmodel_synth import synthetic_frame

SIZES = ("Qwen/Qwen2.5-7B", "meta-llama/Llama-2-13b-hf", "Qwen/Qwen2.5-32B", "meta-llama/Llama-3.1-70B")
SLO_NOTE = "TTFT not predicted: SLO 0.5 s not checked"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def cols(rows: list[tuple[str, str, int, str, int, int, int]]) -> dict[str, list[Any]]:
    """(model, gpu, tp, precision, concurrency, prompt, output) rows as the cost model's columns."""
    names = ("model", "gpu", "tp", "precision", "concurrency", "prompt_len", "output_len")
    out: dict[str, list[Any]] = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    out["kv_cache_dtype"] = ["auto"] * len(rows)
    return out


def test_cold_start_grows_with_the_bytes_to_load(catalog: Catalog) -> None:
    bf16 = cold_start_seconds(catalog, cols([(m, "H100-80GB", 4, "bf16", 16, 1024, 1024) for m in SIZES]))
    assert np.all(np.diff(bf16) > 0), bf16  # 7B < 13B < 32B < 70B
    assert np.all(bf16 > DEFAULT_PHYSICS.engine_start_s)
    fp8 = cold_start_seconds(catalog, cols([(m, "H100-80GB", 4, "fp8", 16, 1024, 1024) for m in SIZES]))
    assert np.all(fp8 < bf16)  # half the bytes
    # 70B bf16 (141 GB) at the shipped 2 GB/s storage + 60 s engine start
    assert bf16[-1] == pytest.approx(70.6e9 * 2 / 2e9 + 60.0, rel=0.02)


def test_kv_peak_grows_with_concurrency_and_context_and_equals_arms_occupancy(catalog: Catalog) -> None:
    model = "meta-llama/Llama-3.1-8B"
    spec = catalog.model(model)
    gpu = catalog.gpu("H100-80GB")
    assert spec is not None and gpu is not None
    rows = [(model, gpu.name, 1, "bf16", c, p, p // 2) for c in (8, 32, 128) for p in (1024, 4096, 16384)]
    demand = kv_demand(catalog, cols(rows)).reshape(3, 3)
    assert np.all(np.diff(demand, axis=0) > 0) and np.all(np.diff(demand, axis=1) > 0)
    for (_, _, tp, prec, c, p, o), d in zip(rows, demand.ravel(), strict=True):
        opt = next(x for x in precision_options(spec, gpu) if x[0] == prec)
        fit = fit_arm(spec, gpu, tp, opt, Workload(concurrency=c, context=p + o, prompt_len=p, output_len=o))
        assert d == pytest.approx(fit.kv_occupancy, rel=1e-9)  # one formula, not two


def test_more_memory_never_gives_a_higher_kv_fraction(catalog: Catalog) -> None:
    """Every pair of GPU kinds where one has at least the other's memory, on a grid of models, TP,
    precisions, concurrency and context: the larger never shows a higher KV-cache peak."""
    rows = [
        (m, g.name, tp, prec, c, ctx * 3 // 4, ctx // 4)
        for m, g, tp, prec, c, ctx in itertools.product(
            SIZES, catalog.gpus, (1, 2, 4, 8), ("bf16", "fp8", "awq"), (16, 64, 256), (4096, 16384)
        )
    ]
    est = physics_estimates(catalog, cols(rows), PHYSICS_TARGETS)["kv_cache_peak_frac"].values
    frame = pd.DataFrame(rows, columns=["model", "gpu", "tp", "precision", "c", "p", "o"])
    frame["mem"] = [catalog.gpu(g).memory_gb for g in frame["gpu"]]  # type: ignore[union-attr]
    frame["q50"] = est[:, 1]
    pairs = 0
    for _, cell in frame.dropna().groupby(["model", "tp", "precision", "c", "p"]):
        cell = cell.sort_values("mem")
        mem, q = cell["mem"].to_numpy(), cell["q50"].to_numpy()
        for i, j in itertools.combinations(range(len(cell)), 2):
            if mem[j] >= mem[i]:
                pairs += 1
                assert q[j] <= q[i] + 1e-12, cell
    assert pairs > 1000


def test_bundled_model_answers_every_decision_target_with_its_source() -> None:
    model = load_bundled()
    q = ArmQuery(model="Qwen/Qwen2.5-7B", gpu="H100-80GB", tp=1, precision="bf16", concurrency=16,
                 context=4096, prompt_len=3072, output_len=1024)  # fmt: skip
    pred = model.predict([q])[0]
    for t in PHYSICS_TARGETS:
        if t in model.fitted_targets:
            continue  # a site model trained them: trees (below)
        assert model.target_source(t) == "physics"
        assert pred.target_confidence[t] == "low"
        band = pred.targets[t]
        assert band.q10 < band.q50 < band.q90
        assert not any(t in r for r in pred.reasons)  # no "not predicted" line, no per-arm noise
    assert pred.targets["cold_start_s"].q90 / pred.targets["cold_start_s"].q50 == pytest.approx(2.0)
    assert 0 < pred.targets["kv_cache_peak_frac"].q50 < 1
    assert model.target_source("ttft_p50_s") == "trees" and "ttft_p50_s" in pred.targets
    # physics targets change nothing of the arm's own confidence or the ranking target's numbers
    alone = model.predict([q], ["tokens_per_s"])[0]
    assert (
        alone.confidence == pred.confidence and alone.targets["tokens_per_s"] == pred.targets["tokens_per_s"]
    )
    assert model.predict([q], ["sm_active_frac"])[0].reasons[-1].startswith("sm_active_frac: not predicted")


def test_a_kv_cache_past_full_is_a_reason_not_a_silent_number() -> None:
    model = load_bundled()
    base = {"model": "Qwen/Qwen2.5-7B", "gpu": "A100-40GB", "tp": 1, "precision": "bf16",
            "context": 8192, "prompt_len": 6144, "output_len": 2048}  # fmt: skip
    light, heavy = model.predict([ArmQuery(**base, concurrency=4), ArmQuery(**base, concurrency=256)])
    assert heavy.targets["kv_cache_peak_frac"].q50 == 1.0  # clipped: a cache is never fuller than full
    assert any("preempt" in r and r.startswith("kv_cache_peak_frac") for r in heavy.reasons), heavy.reasons
    assert not any("preempt" in r for r in light.reasons)


# --- a site model: trees once 15 labelled rows exist, physics below that ------------------------


@pytest.fixture(scope="module")
def site_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model from synthetic rows: 24 labelled cold starts (trees), 10 KV peaks and 10 TTFTs
    (too few: physics for the KV peak, nothing for TTFT)."""
    frame = synthetic_frame(lengths=(128, 1024))
    vllm = frame.index[frame["engine"] == "vllm"]
    frame["cold_start_s"] = None
    frame["kv_cache_peak_frac"] = None
    frame.loc[vllm[:24], "cold_start_s"] = 300.0 + 10.0 * frame.loc[vllm[:24], "params_b"]
    frame.loc[vllm[:10], "kv_cache_peak_frac"] = 0.5
    config = TrainConfig(targets=("tokens_per_s", "ttft_p50_s", "cold_start_s", "kv_cache_peak_frac"))
    manifest, texts = train(frame, config=config, conformal=False)
    out = tmp_path_factory.mktemp("site") / "model"
    save(out, manifest, texts)
    return out


def test_trees_take_over_at_fifteen_labelled_rows(site_model: Path) -> None:
    model = CostModel.load(site_model)
    assert model.target_source("cold_start_s") == "trees"
    assert model.target_source("kv_cache_peak_frac") == "physics"  # 10 rows: below the 15-row rule
    assert model.target_source("ttft_p50_s") == "none"
    q = ArmQuery(model="meta-llama/Meta-Llama-3-8B", gpu="H100-80GB", tp=1, precision="bf16",
                 concurrency=8, context=2048, prompt_len=1024, output_len=1024)  # fmt: skip
    pred = model.predict([q])[0]
    # the measured ~380 s, not the physics ~68 s (16 GB at 2 GB/s + 60 s)
    assert 300 < pred.targets["cold_start_s"].q50 < 450
    assert pred.target_confidence["kv_cache_peak_frac"] == "low"


def test_evaluate_reports_physics_targets_with_their_source(catalog: Catalog) -> None:
    from omnipilot.advisor.evaluate import evaluate

    frame = synthetic_frame(lengths=(128, 1024))
    frame["cold_start_s"] = None
    frame.loc[:4, "cold_start_s"] = 70.0  # 5 labelled rows: physics is scored on them
    config = TrainConfig(targets=("tokens_per_s", "cold_start_s", "kv_cache_peak_frac"), n_splits=3)
    report = evaluate(frame, catalog=catalog, config=config, quick=True)
    for t, n in (("cold_start_s", 5), ("kv_cache_peak_frac", 0)):
        entry = report["targets"][t]
        assert entry["source"] == "physics" and entry["confidence"] == "low" and entry["fitted"] is False
        assert entry["n_labelled"] == n and "physics" in entry
    assert report["targets"]["cold_start_s"]["mape"] is not None
    assert report["targets"]["kv_cache_peak_frac"]["mape"] is None
    assert report["targets"]["tokens_per_s"]["source"] == "trees"


# --- advise and the daemon: the keys, and an SLO that cannot be judged -------------------------


def _advise(capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, Any]]:
    args = ["advise", "--model", "meta-llama/Meta-Llama-3-8B", "--concurrency", "16", "--context", "4096"]
    assert main([*args, *extra, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out, list) and out
    return out


def test_advise_arms_carry_ttft_cold_start_and_kv_peak_with_their_source(
    capsys: pytest.CaptureFixture[str],
) -> None:
    arms = _advise(capsys, "--slo-ttft-ms", "60000")
    for arm in arms:
        t = arm["targets"]
        assert {"q10", "q50", "q90"} <= set(t["ttft_p50_s"]) and t["ttft_p50_s"]["source"] == "trees"
        for name in PHYSICS_TARGETS:
            assert t[name]["source"] == "physics" and t[name]["confidence"] == "low"
        assert t["tokens_per_s"]["source"] == "trees"
        assert isinstance(arm["slo_ttft_met"], bool)  # judged from the predicted TTFT
        assert arm["utility"]["p_slo_violation"] is not None


def test_a_sites_physics_constants_reach_advise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shipped = {(a["gpu"], a["tp"], a["precision"]): a["targets"] for a in _advise(capsys)}
    # the shipped config plus a site's own read rate: a local NVMe 10x the built-in 2 GB/s
    conf = tmp_path / "omnipilot.toml"
    conf.write_text(example_config().read_text().replace("storage_read_gbs = 2.0", "storage_read_gbs = 20.0"))
    assert "storage_read_gbs = 20.0" in conf.read_text()
    site = {(a["gpu"], a["tp"], a["precision"]): a["targets"] for a in _advise(capsys, "--config", str(conf))}
    assert site.keys() == shipped.keys()
    for arm, t in site.items():
        before, after = shipped[arm]["cold_start_s"]["q50"], t["cold_start_s"]["q50"]
        engine = DEFAULT_PHYSICS.engine_start_s
        assert after < before and after - engine == pytest.approx((before - engine) / 10, rel=0.01), arm
        assert t["kv_cache_peak_frac"] == shipped[arm]["kv_cache_peak_frac"]  # storage is not KV


def test_bad_physics_constants_are_refused_naming_the_key(tmp_path: Path) -> None:
    conf = tmp_path / "omnipilot.toml"
    conf.write_text("[physics]\nstorage_read_gbs = 0\n")
    with pytest.raises(ConfigError, match=r"physics\.storage_read_gbs"):
        load_settings(conf)
    conf.write_text('[physics]\npcie_h2d_gbs_by_kind = { "H100-80GB" = -1 }\n')
    with pytest.raises(ConfigError, match=r"H100-80GB = -1"):
        load_settings(conf)


def test_an_slo_without_a_ttft_prediction_is_said_in_advise(
    site_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arms = _advise(capsys, "--model-dir", str(site_model), "--slo-ttft-ms", "500")
    assert all(a["slo_ttft_met"] is None for a in arms)
    assert all(a["reasons"][0].startswith(SLO_NOTE) for a in arms), [a["reasons"] for a in arms]
    assert all(a["reasons_all"].count(SLO_NOTE) == 1 for a in arms)
    assert main(["advise", "--model", "meta-llama/Meta-Llama-3-8B", "--model-dir", str(site_model),
                 "--slo-ttft-ms", "500"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "note: TTFT is not predicted (no data): the SLO of 500 ms was not checked" in text


def test_an_slo_without_a_ttft_prediction_is_said_by_the_daemon_and_explain(
    site_model: Path, tmp_path: Path
) -> None:
    settings = Settings()
    settings.daemon.state_dir = tmp_path
    settings.model.path = str(site_model)
    state = StateCache(snapshot, 60)
    state.refresh()
    service = AdviceService(settings, state, ModeStore(tmp_path, "suggest"))
    assert service.load_model() is None
    script = "#!/bin/bash\n#OMNIPILOT slo_ttft_ms=500\nvllm serve meta-llama/Meta-Llama-3-8B --max-model-len 4096\n"
    reply, record = service.answer(req(script))
    assert reply.action == "suggest" and reply.user_message
    caution = [line for line in reply.user_message.splitlines() if "caution:" in line]
    assert caution and SLO_NOTE in caution[0], reply.user_message
    record.update(record.pop(LAZY_KEY)())
    assert SLO_NOTE in format_record(record)
