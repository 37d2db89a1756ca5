"""The enumerated configurations (model × GPU kind × TP × precision) and the dense per-(class,
configuration) coefficient table every solver and the checker read. Enumerating configurations
keeps the MILP free of bilinear terms (planner_spec.md §4) and lets replicas be integers."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import structlog

from omnipilot.advisor.planner.instance import Instance, PlannerInputError
from omnipilot.advisor.planner.rates import RateProvider, RateQuery
from omnipilot.catalog import Catalog, GpuSpec, ModelSpec

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Config:
    model: str
    gpu: str
    tp: int
    precision: str

    @property
    def label(self) -> str:
        return f"{self.model} on {self.tp}x{self.gpu} {self.precision}"


@dataclass
class Table:
    """Dense arrays indexed [class, config]; a pair that is not allowed has allowed=False,
    rate 0 and infinite delay. Costs are over the whole horizon. The derived arrays are cached
    (the heuristics read them in their inner loops); change the instance with
    `dataclasses.replace`, which starts a fresh cache."""

    instance: Instance
    configs: list[Config]
    rent: np.ndarray  # [C] cost of one replica over the horizon
    gpu_of: np.ndarray  # [C] index into instance.gpus
    model_of: np.ndarray  # [C] index into instance.models
    tp: np.ndarray  # [C] GPUs per replica
    allowed: np.ndarray  # [I, C] bool
    mu: np.ndarray  # [I, C] requests/s per replica at the class's bound
    delay: np.ndarray  # [I, C] seconds
    error: np.ndarray  # [I, C]
    concurrency: np.ndarray  # [I, C]
    sources: dict[str, int] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.instance.classes)

    @property
    def n_configs(self) -> int:
        return len(self.configs)

    @cached_property
    def rate_s(self) -> np.ndarray:
        return np.array([c.rate_per_h / 3600.0 for c in self.instance.classes])

    @cached_property
    def load(self) -> np.ndarray:
        """[I, C] replicas needed to carry the whole of class i on c, headroom and margin included."""
        with np.errstate(divide="ignore"):
            per = np.where(self.allowed, self.rate_s[:, None] / np.where(self.mu > 0, self.mu, 1.0), np.inf)
        out: np.ndarray = per / (1.0 - self.instance.headroom) * (1.0 + self.instance.margin)
        return out

    @cached_property
    def penalty(self) -> np.ndarray:
        """[I, C] delay-penalty cost of routing the whole of class i to c over the horizon."""
        inst = self.instance
        rho_lam = np.array([c.delay_penalty * c.rate_per_h for c in inst.classes]) * inst.horizon_h
        out: np.ndarray = np.where(
            self.allowed, rho_lam[:, None] * np.where(self.allowed, self.delay, 0.0), 0.0
        )
        return out

    @cached_property
    def unmet_cost(self) -> np.ndarray:
        inst = self.instance
        return np.array([c.unmet_penalty * c.rate_per_h * inst.horizon_h for c in inst.classes])

    @cached_property
    def error_slo(self) -> np.ndarray:
        """The error bound the solvers plan on: the class's bound ÷ (1 + margin)."""
        return self.error_bound / (1.0 + self.instance.margin)

    @cached_property
    def error_bound(self) -> np.ndarray:
        """The classes' own error bounds (what the checker and the stress test judge)."""
        return np.array([c.error_slo for c in self.instance.classes])

    @cached_property
    def delay_bound(self) -> np.ndarray:
        """The classes' own latency bounds; the table's pairs meet them ÷ (1 + margin)."""
        return np.array([c.delay_slo_s for c in self.instance.classes])

    @cached_property
    def max_unmet(self) -> np.ndarray:
        return np.array([c.max_unmet for c in self.instance.classes])

    @cached_property
    def available(self) -> np.ndarray:
        return np.array([g.available for g in self.instance.gpus])

    @cached_property
    def load_cost(self) -> np.ndarray:
        return np.array([m.load_cost for m in self.instance.models])


def _resolve(inst: Instance, cat: Catalog) -> tuple[list[ModelSpec], list[GpuSpec]]:
    models, gpus = [], []
    for m in inst.models:
        spec = cat.model(m.name)
        if spec is None:
            raise PlannerInputError(f"model {m.name!r} is not in etc/models.toml: add it or fix the name")
        models.append(spec)
    for g in inst.gpus:
        gspec = cat.gpu(g.kind)
        if gspec is None:
            raise PlannerInputError(f"GPU kind {g.kind!r} is not in etc/gpus.toml: add it or fix the name")
        gpus.append(gspec)
    return models, gpus


def enumerate_configs(inst: Instance) -> tuple[list[Config], list[tuple[int, int]]]:
    """Every (model, precision, GPU kind, TP) that could ever be built: TP within a node and
    within the pool. Returns configs and their (model index, gpu index)."""
    configs: list[Config] = []
    index: list[tuple[int, int]] = []
    for mi, m in enumerate(inst.models):
        for prec in m.precisions:
            for gi, g in enumerate(inst.gpus):
                for tp in sorted(inst.tp_degrees):
                    if tp <= g.gpus_per_node and tp <= g.available:
                        configs.append(Config(m.name, g.kind, tp, prec))
                        index.append((mi, gi))
    return configs, index


def build_table(inst: Instance, provider: RateProvider, catalog: Catalog | None = None) -> Table:
    """Price every (class, configuration) pair with the provider; filter by memory and latency."""
    cat = catalog or Catalog.load()
    mspecs, gspecs = _resolve(inst, cat)
    configs, index = enumerate_configs(inst)
    n_i, n_c = len(inst.classes), len(configs)
    queries = [
        RateQuery(
            mspecs[mi],
            gspecs[gi],
            cfg.tp,
            cfg.precision,
            cls.prompt_tokens,
            cls.output_tokens,
            cls.kv_tokens,
            cls.delay_slo_s / (1.0 + inst.margin),
        )
        for cls in inst.classes
        for cfg, (mi, gi) in zip(configs, index, strict=True)
    ]
    estimates = provider.estimate(queries)
    mu = np.zeros((n_i, n_c))
    delay = np.full((n_i, n_c), np.inf)
    conc = np.zeros((n_i, n_c), dtype=int)
    sources: dict[str, int] = {}
    for k, est in enumerate(estimates):
        if est is not None:
            i, c = divmod(k, n_c)
            mu[i, c], delay[i, c], conc[i, c] = est.requests_per_s, est.latency_s, est.concurrency
            sources[est.source] = sources.get(est.source, 0) + 1
    slo = np.array([c.delay_slo_s for c in inst.classes]) / (1.0 + inst.margin)
    allowed = (mu > 0) & (delay <= slo[:, None])
    err16 = np.array([[inst.models[mi].error_on(cls.name) for mi, _ in index] for cls in inst.classes])
    perr = np.array([inst.precision_error.get(cfg.precision, 1.0) for cfg in configs])
    price = np.array([_price(inst, gspecs, gi) for _, gi in index])
    tp = np.array([cfg.tp for cfg in configs])
    log.info("planner.table", classes=n_i, configs=n_c, allowed_pairs=int(allowed.sum()), sources=sources)
    return Table(
        instance=inst,
        configs=configs,
        rent=price * tp * inst.horizon_h,
        gpu_of=np.array([gi for _, gi in index], dtype=int),
        model_of=np.array([mi for mi, _ in index], dtype=int),
        tp=tp,
        allowed=allowed,
        mu=np.where(allowed, mu, 0.0),
        delay=np.where(allowed, delay, np.inf),
        error=err16 * perr[None, :],
        concurrency=conc,
        sources=sources,
    )


def _price(inst: Instance, gspecs: list[GpuSpec], gi: int) -> float:
    pool = inst.gpus[gi]
    return pool.cost_per_gpu_hour if pool.cost_per_gpu_hour is not None else gspecs[gi].cost_per_gpu_hour
