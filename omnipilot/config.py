"""`omnipilot.toml` → one validated settings model. Errors name the key and the bad value.

Which file: `--config`, else `$OMNIPILOT_CONFIG`, else /etc/omnipilot/omnipilot.toml when it exists,
else the example shipped in the package (etc/omnipilot.toml), whose paths are production defaults."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from omnipilot.paths import SITE_CONFIG, packaged

Mode = Literal["off", "observe", "suggest", "enforce"]


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key, the value and what is accepted."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DaemonSettings(_Section):
    endpoint: str = Field("ipc:///run/omnipilot/omnipilot.sock", description="ZeroMQ endpoint the hook calls")
    control_socket: Path = Path("/run/omnipilot/control.sock")
    state_dir: Path = Path("/var/lib/omnipilot")
    slurm_user: str = "slurm"
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_message_bytes: int = Field(262_144, ge=4096, le=16_777_216)
    initial_mode: Mode = "suggest"

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if not (v.startswith("ipc://") or v.startswith("tcp://")):
            raise ValueError("must start with ipc:// or tcp://")
        return v


class HookSettings(_Section):
    timeout_ms: int = Field(50, ge=1, le=5000)
    fail_closed: bool = False
    kill_switch: Path = Path("/etc/slurm/omnipilot.disabled")
    breaker_failures: int = Field(3, ge=1)
    breaker_cooloff_s: float = Field(30.0, ge=0)
    max_script_bytes: int = Field(65_536, ge=1024, le=4_194_304)


class EnforceSettings(_Section):
    partitions: list[str] = Field(default_factory=list, description="empty = every partition")
    accounts: list[str] = Field(default_factory=list, description="empty = every account")
    allow_low_confidence: bool = Field(False, description="enforce even when the model abstained")
    allow_more_gpu_hours: bool = Field(
        False, description="enforce an arm that asks for more GPU-hours (GPUs x time limit) than the job did"
    )


class DefaultsSettings(_Section):
    concurrency: int = Field(64, ge=1)
    context_cap: int = Field(8192, ge=256, description="context when neither tag nor --max-model-len says")
    prompt_frac: float = Field(
        0.25, gt=0, lt=1, description="prompt tokens per request, as a share of the context"
    )
    output_frac: float = Field(
        0.0625, gt=0, lt=1, description="output tokens per request, as a share of the context"
    )
    time_limit_min: int = Field(60, ge=1, description="runtime when the job and partition give none")
    gpu_memory_utilization: float = Field(0.9, gt=0.1, le=1.0)


class CostSettings(_Section):
    unit: str = "SU"
    per_gpu_hour: dict[str, float] = Field(default_factory=dict, description="overrides etc/gpus.toml")


class StateSettings(_Section):
    refresh_s: float = Field(10.0, gt=0)
    fresh_s: float = Field(30.0, gt=0)
    stale_s: float = Field(300.0, gt=0)
    backend: Literal["auto", "cli", "pyslurm"] = "auto"


class DecisionLogSettings(_Section):
    path: str = "decisions.jsonl"
    max_bytes: int = Field(50_000_000, ge=10_000)
    keep: int = Field(5, ge=1)


class MetricsSettings(_Section):
    """Prometheus metrics of the daemon (daemon/metrics.py); docs/operations.md "## Metrics"."""

    enabled: bool = Field(False, description="serve /metrics over HTTP")
    address: str = Field("127.0.0.1", description="address the metrics port binds to (keep it local)")
    port: int = Field(9464, ge=0, le=65535, description="0 = any free port (status names it)")


class ModelSettings(_Section):
    path: str = Field("", description="cost-model directory; empty = the bundled model")
    models_catalog: str = ""
    gpus_catalog: str = ""


class LaunchCountEntry(_Section):
    """One row of the configured launch-success table (used when no cluster harvest is present)."""

    gpu: str = Field(description="GPU kind (catalog name or alias)")
    gpus: int = Field(ge=1, description="GPUs per job")
    successes: int = Field(ge=0)
    failures: int = Field(ge=0)


class PriorSettings(_Section):
    """The beta-binomial launch-success prior (advisor/prior.py, DECISIONS.md §7)."""

    cluster_history: str = Field("", description="harvest file; empty = <state_dir>/cluster_history.jsonl")
    default_success: float = Field(0.95, gt=0, le=1, description="flat rate when no counts exist at all")
    strength: float = Field(0.0, ge=0, description="pseudo-jobs of the pool; 0 = estimate from the counts")
    min_strength: float = Field(4.0, gt=0, description="floor of the estimated strength (pseudo-jobs)")
    min_serving_s: float = Field(300.0, ge=0, description="a job that ran this long counts as launched")
    table: list[LaunchCountEntry] = Field(default_factory=list)


class AnchorEntry(_Section):
    """An operator's decision that value-per-token calibration must reproduce."""

    model: str
    gpu: str
    tp: int = Field(ge=1)
    precision: Literal["bf16", "fp8", "awq", "gptq"] | None = Field(default=None, description="empty = any")
    concurrency: int | None = Field(default=None, ge=1, description="empty = defaults.concurrency")
    context: int | None = Field(default=None, ge=256, description="empty = defaults.context_cap")


class UtilitySettings(_Section):
    """Economic utility of an arm (advisor/utility.py); units in docs/configuration.md."""

    enabled: bool = Field(True, description="false = rank by the cheapest-fit rule even with a model")
    value_per_token: float = Field(2e-7, ge=0, description="cost units per served (input+output) token")
    throughput_weight: float = Field(1.0, ge=0, description="multiplies the value term")
    compute_weight: float = Field(1.0, ge=0, description="multiplies GPU-hours x cost per GPU-hour")
    power_weight: float = Field(0.0, ge=0, description="multiplies the predicted energy cost")
    energy_cost_per_kwh: float = Field(0.15, ge=0, description="cost units per kWh for the power term")
    kv_knee: float = Field(0.85, gt=0, le=2.0, description="KV occupancy where the discount starts")
    kv_exponent: float = Field(1.0, ge=0, description="discount = (knee / occupancy) ** exponent")
    slo_ttft_s: float = Field(0.0, ge=0, description="site TTFT SLO in seconds; 0 = none (a job's slo= wins)")
    slo_cost_per_hour: float = Field(5.0, ge=0, description="cost units per hour x P(TTFT > SLO)")
    slo_max_violation: float = Field(0.1, ge=0, le=1, description="above this P(TTFT > SLO): excluded")
    restart_hours: float = Field(0.5, ge=0, description="hours of the arm's GPUs lost per failed launch")
    queue_cost_per_hour: float = Field(2.0, ge=0, description="cost units per hour a job waits in the queue")
    queue_typical_job_h: float = Field(2.0, gt=0, description="mean hold time of a queued GPU job (hours)")
    queue_max_wait_h: float = Field(24.0, gt=0, description="cap of the queue-wait estimate (hours)")
    fallback_on_low_confidence: bool = Field(True, description="low-confidence best arm -> cheapest-fit rule")
    fallback_max_slowdown: float = Field(
        0.8, gt=0, le=1,
        description="a low-confidence best arm: the user's own request is kept unless the fallback arm's "
        "median is at least this share of the request's and it is cheaper by the utility",
    )  # fmt: skip
    min_share_of_request: float = Field(
        0.5, ge=0, le=1,
        description="an arm whose KV cache cannot hold the job's sequences (occupancy > 1) and that is "
        "predicted below this share of the job's own request's median tokens/s ranks last (0: off)",
    )  # fmt: skip
    anchors: list[AnchorEntry] = Field(default_factory=list, description="`omnipilot calibrate` anchors")


# The paper's decision targets (collectors/rows.py DECISION_TARGETS); config.py stays import-light.
_GATE_TARGETS: tuple[str, ...] = (
    "tokens_per_s",
    "requests_per_s",
    "ttft_p50_s",
    "cold_start_s",
    "kv_cache_peak_frac",
    "power_avg_w",
)
_ALL_TARGETS: frozenset[str] = frozenset((*_GATE_TARGETS, "sm_active_frac", "tensor_active_frac"))


class GateSettings(_Section):
    """The regression-gated update loop (advisor/gate.py, `omnipilot retrain`; docs/retraining.md)."""

    model_dir: str = Field("", description="versioned models + `current` link; empty = <state_dir>/models")
    seed_history: str = Field("", description="empty = $OMNIPILOT_HISTORY, else ~/.local/share/omnipilot/history/history.jsonl")
    site_histories: list[str] = Field(default_factory=list, description="site histories retrained on")
    targets: list[str] = Field(default_factory=lambda: list(_GATE_TARGETS), description="gated targets")
    max_mape_regression_pp: float = Field(0.5, ge=0, le=100, description="percentage points of MAPE")
    coverage_min: float = Field(0.70, gt=0, lt=1, description="held-out-cell q10-q90 coverage, lower edge")
    coverage_max: float = Field(0.90, gt=0, le=1, description="held-out-cell q10-q90 coverage, upper edge")
    require_no_fewer_rows: bool = Field(True, description="a candidate never trains on fewer rows")
    max_new_row_bias: float = Field(
        2.0, ge=0, description="new rows off the current model's median by more (factor): reject; 0 = off"
    )
    keep_versions: int = Field(5, ge=2, description="promoted versions kept (current and previous always)")

    @field_validator("targets")
    @classmethod
    def _targets(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if t not in _ALL_TARGETS]
        if bad:
            raise ValueError(f"unknown target(s) {bad}: choose from {sorted(_ALL_TARGETS)}")
        if not v:
            raise ValueError("name at least one target (tokens_per_s is the decision target)")
        return v

    @model_validator(mode="after")
    def _band(self) -> GateSettings:
        if self.coverage_min >= self.coverage_max:
            raise ValueError(
                f"coverage_min {self.coverage_min} must be below coverage_max {self.coverage_max}"
            )
        return self


class PhysicsSettings(_Section):
    """The constants of the physics estimates of cold start and KV-cache peak, the decision targets no
    measured row trains yet (docs/costmodel.md, "Targets without measured rows"). A site sets the
    ones it knows better, above all its file system's read rate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    storage_read_gbs: float = Field(
        2.0, gt=0, description="checkpoint read rate of one node, GB/s (parallel file system client)"
    )
    pcie_h2d_gbs: float = Field(25.0, gt=0, description="host-to-device GB/s per GPU (PCIe Gen4 x16, measured)")
    # a table given in omnipilot.toml replaces this one whole: list every kind that differs
    pcie_h2d_gbs_by_kind: dict[str, float] = Field(
        default_factory=lambda: {
            "H100-80GB": 50.0,  # PCIe Gen5 x16
            "H200-141GB": 50.0,
            "MI300X-192GB": 50.0,
            "GH200-96GB": 400.0,  # NVLink-C2C to the Grace CPU's memory
        },
        description="per GPU kind (catalog name) where it differs from pcie_h2d_gbs",
    )
    engine_start_s: float = Field(
        60.0, ge=0, description="vLLM start without the weights: imports, CUDA/NCCL init, profiling, graphs"
    )
    cold_start_band: float = Field(2.0, gt=1, description="q10 = q50 / band, q90 = q50 x band")
    kv_band: float = Field(1.5, gt=1, description="q10 = q50 / band, q90 = q50 x band (clipped at 1)")
    kv_warn_frac: float = Field(0.9, gt=0, description="a KV peak from here on is a reason: preemption risk")

    @field_validator("pcie_h2d_gbs_by_kind")
    @classmethod
    def _positive_rates(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [f"{k} = {r:g}" for k, r in v.items() if not r > 0]
        if bad:
            raise ValueError(f"host-to-device rates must be above 0 GB/s: {', '.join(bad)}")
        return v


class Settings(_Section):
    daemon: DaemonSettings = DaemonSettings()
    hook: HookSettings = HookSettings()
    enforce: EnforceSettings = EnforceSettings()
    defaults: DefaultsSettings = DefaultsSettings()
    cost: CostSettings = CostSettings()
    state: StateSettings = StateSettings()
    decision_log: DecisionLogSettings = DecisionLogSettings()
    metrics: MetricsSettings = MetricsSettings()
    model: ModelSettings = ModelSettings()
    utility: UtilitySettings = UtilitySettings()
    prior: PriorSettings = PriorSettings()
    gate: GateSettings = GateSettings()
    physics: PhysicsSettings = PhysicsSettings()
    # the file these settings were read from (None: built in code); status and the daemon name it
    _source: Path | None = PrivateAttr(None)

    @property
    def source(self) -> Path | None:
        return self._source

    @source.setter
    def source(self, path: Path | None) -> None:
        self._source = path

    @property
    def decision_log_path(self) -> Path:
        p = Path(self.decision_log.path)
        return p if p.is_absolute() else self.daemon.state_dir / p


def example_config() -> Path:
    """The example configuration shipped in the package."""
    return packaged("omnipilot.etc", "omnipilot.toml")


def config_path(explicit: str | Path | None = None) -> Path:
    """The configuration file in use: `--config`, `$OMNIPILOT_CONFIG`, the site file, the example."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("OMNIPILOT_CONFIG")
    if env:
        return Path(env)
    return SITE_CONFIG if SITE_CONFIG.is_file() else example_config()


def is_example(path: Path) -> bool:
    return path.resolve() == example_config().resolve()


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from `config_path(path)`; raises ConfigError naming the file, key and value."""
    path = config_path(path)
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"config file {path} is a directory") from exc
    except PermissionError as exc:
        raise ConfigError(f"config file {path} is not readable by this user") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    settings = settings_from_dict(raw, source=str(path))
    settings.source = path
    return settings


def settings_from_dict(raw: dict[str, object], source: str = "<config>") -> Settings:
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            value = err.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            msgs.append(f"{source}: key {key!r}: {err['msg']}{shown}")
        raise ConfigError("; ".join(msgs)) from exc
