"""Catalog look-ups shared by the importers: base model, family, size, GPU kind and memory.

Unknown names are kept raw with a note (docs/history.md "Unknown GPU kinds and models"):
the row stays in the history, its `family`/`gpu_memory_gb` stay unknown, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omnipilot.catalog import Catalog


@dataclass
class ModelAxes:
    model: str
    checkpoint: str | None
    family: str | None
    params_b: float | None
    active_params_b: float | None
    notes: list[str] = field(default_factory=list)

    def row_fields(self) -> dict[str, object]:
        """The HistoryRow fields these axes fill (one place for every importer)."""
        return {"model": self.model, "checkpoint": self.checkpoint, "family": self.family,
                "params_b": self.params_b, "active_params_b": self.active_params_b}  # fmt: skip


@dataclass
class GpuAxes:
    gpu: str
    memory_gb: float | None
    notes: list[str] = field(default_factory=list)


def model_axes(catalog: Catalog, raw: str) -> ModelAxes:
    """Base model, family and size of a data file's model name: exact catalog names first, then a
    catalog name the raw name extends (a quantized copy such as `GLM-5.2-FP8`, noted as such)."""
    found = catalog.resolve(raw)
    if found is None or found.confidence != "high":
        note = f"model {raw!r} is not in etc/models.toml: raw name kept, family and size unknown"
        return ModelAxes(raw, raw, None, None, None, [note])
    spec = found.spec
    notes = [] if spec.name == raw else [f"checkpoint {raw!r} -> base model {spec.name!r} (catalog)"]
    if found.note:
        notes.append(found.note)
    return ModelAxes(spec.name, raw, spec.family, spec.params_b, spec.active_params_b, notes)


def gpu_axes(catalog: Catalog, raw: str, memory_gb: float | None = None) -> GpuAxes:
    """GPU kind by name; where the source states the memory size, prefer the kind of that size."""
    spec = catalog.gpu(raw)
    if spec is not None and memory_gb is not None and abs(spec.memory_gb - memory_gb) > 1:
        sized = catalog.gpu(f"{raw}-{memory_gb:g}GB") or catalog.gpu(f"{raw} {memory_gb:g}GB")
        spec = sized if sized is not None else spec
    if spec is None:
        note = f"GPU kind {raw!r} is not in etc/gpus.toml: raw name kept, memory unknown"
        return GpuAxes(raw, memory_gb, [note])
    notes = [] if spec.name == raw else [f"GPU {raw!r} -> kind {spec.name!r} (catalog)"]
    return GpuAxes(spec.name, spec.memory_gb, notes)
