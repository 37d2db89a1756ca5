"""Arms, memory fit and the cheapest-fit rule, on the shipped catalogs."""

from __future__ import annotations

import pytest

from omnipilot.advisor.arms import Workload, enumerate_arms, feasible_arms, precision_options, tp_valid
from omnipilot.advisor.fallback import rank_cheapest_fit
from omnipilot.catalog import Catalog, CatalogError

CAT = Catalog.load()
W = Workload(concurrency=16, context=4096, prompt_len=3072, output_len=1024)


def gpu(name: str):  # type: ignore[no-untyped-def]
    spec = CAT.gpu(name)
    assert spec is not None, name
    return spec


def test_lookup_by_aliases_variants_and_local_paths() -> None:
    assert CAT.gpu("nvidia_a100_40gb") == CAT.gpu("A100") == CAT.gpu("a100")
    m = CAT.model("/scratch/alice/models/Qwen2.5-7B-Instruct")
    assert m is not None and m.name == "Qwen/Qwen2.5-7B"
    assert CAT.precision_of_checkpoint("Qwen/Qwen2.5-7B-Instruct-AWQ") == "awq"
    assert CAT.model("my-lab/unknown-13b") is None


def test_70b_bf16_does_not_fit_one_a100_but_fits_four_h100() -> None:
    m = CAT.model("meta-llama/Llama-3.1-70B-Instruct")
    assert m is not None
    arms = enumerate_arms(m, [(gpu("A100"), 4), (gpu("H100"), 8)], W)
    fits = {(a.arm.gpu, a.arm.tp, a.arm.precision): a.fits for a in arms}
    assert fits[("A100-40GB", 1, "bf16")] is False and fits[("A100-40GB", 4, "bf16")] is False
    assert fits[("H100-80GB", 4, "bf16")] is True and fits[("H100-80GB", 1, "bf16")] is False
    bad = next(a for a in arms if a.arm.gpu == "A100-40GB" and a.arm.tp == 1 and a.arm.precision == "bf16")
    assert "exceed" in bad.reasons[0]


def test_tp_respects_heads_and_node_size() -> None:
    m = CAT.model("Qwen/Qwen2.5-0.5B")  # 14 heads: TP 4 and 8 do not divide them
    assert m is not None and tp_valid(m, 2) and not tp_valid(m, 4)
    arms = enumerate_arms(m, [(gpu("H100"), 8), (gpu("A100"), 2)], W)
    assert {a.arm.tp for a in arms} == {1, 2}


def test_dynamic_fp8_only_where_the_gpu_has_fp8() -> None:
    m = CAT.model("Qwen/Qwen2.5-7B")
    assert m is not None
    assert ("fp8", m.name, "fp8") in precision_options(m, gpu("H100"))
    assert all(p != "fp8" for p, _, _ in precision_options(m, gpu("A100")))  # no FP8 checkpoint named
    own = precision_options(m, gpu("H100"), own_checkpoint="Qwen/Qwen2.5-7B-Instruct")
    assert own[0] == ("bf16", "Qwen/Qwen2.5-7B-Instruct", None)


def test_kv_occupancy_grows_with_concurrency() -> None:
    m = CAT.model("Qwen/Qwen2.5-7B")
    assert m is not None
    lo = feasible_arms(m, [(gpu("A100"), 4)], W, precisions=["bf16"])
    hi = feasible_arms(m, [(gpu("A100"), 4)], W.model_copy(update={"concurrency": 256}), precisions=["bf16"])
    assert hi[0].kv_occupancy == pytest.approx(16 * lo[0].kv_occupancy)


def test_cheapest_fit_prefers_unsaturated_then_cost_then_low_tp() -> None:
    m = CAT.model("Qwen/Qwen2.5-7B")
    assert m is not None
    fits = enumerate_arms(m, [(gpu("A100"), 4), (gpu("H100"), 8)], W.model_copy(update={"concurrency": 128}))
    rates = {g.name: g.cost_per_gpu_hour for g in CAT.gpus}
    ranked = rank_cheapest_fit(fits, rates)
    assert ranked and all(f.fits for f in ranked)
    first_saturated = next((i for i, f in enumerate(ranked) if f.kv_occupancy > 1), len(ranked))
    assert all(f.kv_occupancy > 1 for f in ranked[first_saturated:])
    head = ranked[:first_saturated]
    costs = [f.arm.tp * rates[f.arm.gpu] for f in head]
    assert costs == sorted(costs)


def test_catalog_errors_name_file_entry_and_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "models.toml"
    bad.write_text(
        '[[model]]\nname = "x/y"\nfamily = "f"\nparams_b = -1\nlayers = 2\nheads = 2\nkv_heads = 2\n'
        "head_dim = 64\nmax_context = 1024\n"
    )
    with pytest.raises(CatalogError, match=r"'x/y': field 'params_b'"):
        Catalog.load(models_path=bad)
