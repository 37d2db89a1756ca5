"""One measured Argonne run as its CSV file states it, before it becomes a history row."""

from __future__ import annotations

from dataclasses import dataclass, field

from omnipilot.collectors.rows import SourceRef


@dataclass
class Measurement:
    """One measured run as a file states it; `None` = the file does not say."""

    hardware: str
    gpus: int
    framework: str
    model: str
    base_model: str
    prompt_len: int
    output_len: int | None
    batch: int
    latency_s: float | None = None
    throughput: float | None = None
    weight: str | None = None
    kv: str | None = None
    parallelism: str | None = None
    kv_cache_enabled: bool | None = None
    avg_power_raw: float | None = None
    ttft_s: float | None = None
    refs: list[SourceRef] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def key(self) -> tuple[object, ...]:
        """Same run in two files = same axes and the same measured time to 10 significant digits."""
        anchor = self.latency_s if self.latency_s is not None else self.ttft_s
        return (
            self.hardware,
            self.gpus,
            self.framework,
            self.base_model,
            self.prompt_len,
            self.batch,
            f"{anchor:.10g}" if anchor is not None else None,
        )
