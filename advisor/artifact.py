"""The model artifact: a folder of LightGBM text models plus `manifest.json`. No pickle.

The manifest carries what a reader needs to trust the model without re-running anything: format
version, model version (date + data-hash prefix), training-row count, data hash, model hash
(over the model texts), library versions, the feature layout, and per target the row count, the
conformal offsets, the envelope and the evaluation metrics. Loading checks every part and fails
with `ModelLoadError` naming the file and what to do; a caller that holds a model keeps it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import lightgbm as lgb
from pydantic import BaseModel, ConfigDict, ValidationError

from omnipilot.advisor.envelope import Envelope
from omnipilot.advisor.features import FeatureSpec
from omnipilot.advisor.quantile import QUANTILES, QuantileModel
from omnipilot.advisor.training import BaseKind

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_RETRAIN = "retrain it with `omnipilot train`"


class ModelLoadError(RuntimeError):
    """A model folder is missing, corrupt or incompatible; the message says which file and why."""


class TargetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_rows: int
    columns: list[int]
    files: list[str]
    file_sha256: list[str]
    base: BaseKind
    base_shift: float
    base_fill: float
    offset: float
    offset_random_fold: float
    crossing_rate: float
    envelope: Envelope
    metrics: dict[str, float] = {}


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format_version: int
    version: str
    created: str
    n_rows: int
    data_hash: str
    model_hash: str
    libraries: dict[str, str]
    feature_spec: FeatureSpec
    feature_names: list[str]
    train_config: dict[str, object]
    data_sources: list[str] = []
    targets: dict[str, TargetEntry]
    unfitted: dict[str, str] = {}


def model_hash(texts: dict[str, list[str]]) -> str:
    """Hash over every target's model texts, in a fixed order (the reproducibility check)."""
    h = hashlib.sha256()
    for target in sorted(texts):
        for text in texts[target]:
            h.update(target.encode())
            h.update(hashlib.sha256(text.encode()).digest())
    return h.hexdigest()


def model_file_names(target: str) -> list[str]:
    return [f"{target}.q{round(q * 100):02d}.txt" for q in QUANTILES]


def write_artifact(path: Path, manifest: Manifest, texts: dict[str, list[str]]) -> None:
    """Write the model texts, then the manifest last (a reader never sees a manifest without files)."""
    path.mkdir(parents=True, exist_ok=True)
    for target, items in texts.items():
        for name, text in zip(manifest.targets[target].files, items, strict=True):
            (path / name).write_text(text)
    tmp = path / (MANIFEST + ".tmp")
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n")
    tmp.replace(path / MANIFEST)


def read_manifest(path: Path) -> Manifest:
    file = path / MANIFEST
    try:
        raw = json.loads(file.read_text())
    except FileNotFoundError as exc:
        raise ModelLoadError(f"no model at {path}: {MANIFEST} is missing; {_RETRAIN}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"model manifest {file} is not readable JSON ({exc}); {_RETRAIN}") from exc
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version != FORMAT_VERSION:
        raise ModelLoadError(
            f"model manifest {file} has format_version {version!r}; this OmniPilot reads "
            f"{FORMAT_VERSION}; {_RETRAIN}"
        )
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ModelLoadError(f"model manifest {file}: field {where!r}: {first['msg']}; {_RETRAIN}") from exc
    expected = manifest.feature_spec.names()
    if manifest.feature_names != expected:
        raise ModelLoadError(
            f"model at {path} was trained with a different feature layout than this OmniPilot builds "
            f"({len(manifest.feature_names)} vs {len(expected)} features); {_RETRAIN}"
        )
    return manifest


def read_models(path: Path, manifest: Manifest) -> tuple[dict[str, QuantileModel], dict[str, list[str]]]:
    """Every target's boosters, each file checked against its recorded hash and shape."""
    models: dict[str, QuantileModel] = {}
    texts: dict[str, list[str]] = {}
    for target, entry in manifest.targets.items():
        boosters = []
        texts[target] = []
        for name, sha in zip(entry.files, entry.file_sha256, strict=True):
            file = path / name
            try:
                text = file.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise ModelLoadError(f"model file {file} is not readable ({exc}); {_RETRAIN}") from exc
            if hashlib.sha256(text.encode()).hexdigest() != sha:
                raise ModelLoadError(f"model file {file} does not match the hash in {MANIFEST}; {_RETRAIN}")
            try:
                booster = lgb.Booster(model_str=text)
            except lgb.basic.LightGBMError as exc:
                raise ModelLoadError(
                    f"model file {file} is not a LightGBM model ({exc}); {_RETRAIN}"
                ) from exc
            if booster.num_feature() != len(entry.columns):
                raise ModelLoadError(
                    f"model file {file} expects {booster.num_feature()} features, manifest says "
                    f"{len(entry.columns)}; {_RETRAIN}"
                )
            boosters.append(booster)
            texts[target].append(text)
        models[target] = QuantileModel(boosters, entry.columns)
    if model_hash(texts) != manifest.model_hash:
        raise ModelLoadError(f"model texts at {path} do not match model_hash in {MANIFEST}; {_RETRAIN}")
    return models, texts


def file_sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_error_if_missing(path: Path) -> None:
    if not path.is_dir():
        raise ModelLoadError(f"no model folder at {path}; {_RETRAIN}")


def load_manifest_and_models(path: Path) -> tuple[Manifest, dict[str, QuantileModel]]:
    """Read and verify a model folder (raises ModelLoadError)."""
    load_error_if_missing(path)
    manifest = read_manifest(path)
    models, _ = read_models(path, manifest)
    return manifest, models
