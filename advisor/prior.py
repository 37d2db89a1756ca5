"""Launch-success prior per (GPU kind × GPU count): beta-binomial shrinkage toward the pool (paper §3.3.2).

    p(kind, n) = (successes + m · pool) / (jobs + m)

`pool` is the pooled success rate of every counted job; `m` (pseudo-jobs) is configured or
estimated from the spread of the per-configuration rates by the method of moments, so a
configuration seen once stays near the pool while one seen a thousand times speaks for itself.
The counts come from the cluster harvest (`cluster_history.jsonl` read by collectors/harvest.py,
counted by collectors/launch_stats.py with the DECISIONS.md §7 launch rule) when present, else
from `[prior] table` in etc/omnipilot.toml; with no counts at all every arm gets
`default_success`. The harvest is observational and confounded: the prior feeds only the
utility's failure term, never placement truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import structlog
from pydantic import BaseModel, ConfigDict, Field

from omnipilot.catalog import Catalog
from omnipilot.collectors.harvest import ClusterHistory
from omnipilot.collectors.launch_stats import launch_counts
from omnipilot.config import PriorSettings, Settings

log = structlog.get_logger(__name__)

# Used when `strength` is 0 and fewer than two configurations have counts (nothing to estimate from).
FALLBACK_STRENGTH = 20.0
MAX_STRENGTH = 1e6


class LaunchCount(BaseModel):
    """Launch outcomes of one configuration."""

    model_config = ConfigDict(frozen=True)

    gpu: str
    gpus: int = Field(ge=1)
    successes: int = Field(ge=0)
    failures: int = Field(ge=0)

    @property
    def jobs(self) -> int:
        return self.successes + self.failures


class PriorEstimate(BaseModel):
    rate: float
    successes: int
    failures: int
    pool: float
    strength: float
    source: str


class LaunchPrior:
    """Shrunken success rate per configuration; immutable after construction."""

    def __init__(
        self,
        counts: Sequence[LaunchCount],
        *,
        default_success: float = 0.95,
        strength: float = 0.0,
        min_strength: float = 4.0,
        source: str = "config",
    ) -> None:
        self.table: dict[tuple[str, int], LaunchCount] = {}
        self._rates: dict[tuple[str, int], float] = {}
        for c in counts:
            prev = self.table.get((c.gpu, c.gpus))
            s, f = (prev.successes, prev.failures) if prev else (0, 0)
            self.table[(c.gpu, c.gpus)] = LaunchCount(
                gpu=c.gpu, gpus=c.gpus, successes=s + c.successes, failures=f + c.failures
            )
        jobs = sum(c.jobs for c in self.table.values())
        self.source = source if jobs else "default"
        self.pool = sum(c.successes for c in self.table.values()) / jobs if jobs else default_success
        self.strength = (
            strength if strength > 0 else estimate_strength(list(self.table.values()), min_strength)
        )

    def estimate(self, gpu: str, gpus: int) -> PriorEstimate:
        c = self.table.get((gpu, gpus))
        s, f = (c.successes, c.failures) if c else (0, 0)
        rate = (s + self.strength * self.pool) / (s + f + self.strength)
        return PriorEstimate(
            rate=rate, successes=s, failures=f, pool=self.pool, strength=self.strength, source=self.source
        )

    def success(self, gpu: str, gpus: int) -> float:
        # the request path asks once per arm; the table never changes after construction
        key = (gpu, gpus)
        rate = self._rates.get(key)
        if rate is None:
            rate = self._rates[key] = self.estimate(gpu, gpus).rate
        return rate


def estimate_strength(counts: Sequence[LaunchCount], min_strength: float) -> float:
    """Method-of-moments pseudo-count m of the beta prior from the per-configuration rates.

    The job-weighted variance of the rates minus what binomial sampling alone would give is the
    between-configuration variance τ²; for a beta(m·μ, m·(1−μ)) prior, τ² = μ(1−μ)/(m+1).
    """
    seen = [c for c in counts if c.jobs > 0]
    if len(seen) < 2:
        return FALLBACK_STRENGTH
    n = sum(c.jobs for c in seen)
    mu = sum(c.successes for c in seen) / n
    spread = mu * (1.0 - mu)
    if spread <= 0:
        return MAX_STRENGTH  # every configuration always succeeds (or always fails): no spread to keep
    s2 = sum(c.jobs * (c.successes / c.jobs - mu) ** 2 for c in seen) / n
    tau2 = s2 - spread * len(seen) / n
    if tau2 <= 0:
        return MAX_STRENGTH  # the rates differ no more than sampling noise: trust the pool
    return float(min(max(spread / tau2 - 1.0, min_strength), MAX_STRENGTH))


def counts_from_harvest(
    table: Mapping[tuple[str, int], tuple[int, int]], catalog: Catalog
) -> tuple[list[LaunchCount], list[str]]:
    """`collectors.launch_stats.launch_counts()` output → counts on catalog kinds, and unknown kinds."""
    out: list[LaunchCount] = []
    unknown: list[str] = []
    for (gpu, n), (ok, bad) in table.items():
        kind = _kind(gpu, catalog)
        if kind is None:
            unknown.append(gpu)
            continue
        out.append(LaunchCount(gpu=kind, gpus=n, successes=ok, failures=bad))
    return out, sorted(set(unknown))


def _kind(name: str | None, catalog: Catalog) -> str | None:
    if not name:
        return None
    spec = catalog.gpu(name) or catalog.gpu_for_gres_type(name)
    return spec.name if spec else None


def harvest_path(settings: Settings) -> Path:
    p = settings.prior.cluster_history
    return Path(p) if p else settings.daemon.state_dir / "cluster_history.jsonl"


def load_prior(settings: Settings, catalog: Catalog) -> LaunchPrior:
    """The prior from the harvest when present, else from `[prior] table`, else the flat default."""
    cfg: PriorSettings = settings.prior
    path = harvest_path(settings)
    kwargs = {
        "default_success": cfg.default_success,
        "strength": cfg.strength,
        "min_strength": cfg.min_strength,
    }
    if path.is_file():
        rows = ClusterHistory(path).rows()
        counts, unknown = counts_from_harvest(launch_counts(rows, min_serving_s=cfg.min_serving_s), catalog)
        log.info(
            "prior.loaded",
            source=str(path),
            jobs=len(rows),
            configurations=len(counts),
            kinds_not_in_catalog=unknown,
        )
        if counts:
            return LaunchPrior(counts, source=f"harvest {path}", **kwargs)
    table = []
    for e in cfg.table:
        kind = _kind(e.gpu, catalog)
        if kind is None:
            log.warning("prior.unknown_gpu", gpu=e.gpu, hint="add it to etc/gpus.toml or fix [prior] table")
            continue
        table.append(LaunchCount(gpu=kind, gpus=e.gpus, successes=e.successes, failures=e.failures))
    return LaunchPrior(table, source="config [prior] table", **kwargs)
