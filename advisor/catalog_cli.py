"""`omnipilot catalog add PATH_OR_CONFIG`: write a model catalog entry from a checkpoint's
config.json (a site adds models without code); `omnipilot catalog show NAME`: how a model string
resolves, with what its name says."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from pydantic import BaseModel

from omnipilot.catalog import Catalog, CatalogError, ModelSpec
from omnipilot.cli_options import add_json_arg, print_json
from omnipilot.collectors.checkpoint_config import (
    CheckpointError,
    CheckpointFacts,
    checkpoint_dir,
    facts_from_config,
    read_checkpoint,
    read_json,
)
from omnipilot.model_name import read_name, shape_from_name


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("catalog", help="add a model to the catalog from its config.json; show an entry")
    sub = p.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="write a [[model]] entry from a checkpoint directory or a config.json")
    add.add_argument("source", help="checkpoint directory, HF-cache path or config.json file")
    add.add_argument("--name", help="the model's name (default: the config's _name_or_path, else the path)")
    add.add_argument("--family", help="architecture family (default: read from the name, else model_type)")
    add.add_argument("--to", type=Path, help="append the entry to this models.toml (default: print it)")
    add_json_arg(add)
    add.set_defaults(func=_add)
    show = sub.add_parser("show", help="how a model name or path resolves in the catalog")
    show.add_argument("model")
    add_json_arg(show)
    show.set_defaults(func=_show)


class CatalogAddResult(BaseModel):
    """What `catalog add --json` prints: the entry, its TOML text and where it went."""

    source: str
    name: str
    family: str
    params_b: float
    params_from: str  # "config.json" or "safetensors index"
    written_to: Path | None  # the models.toml appended to; None when only printed (no --to)
    entry: ModelSpec
    toml: str


def _facts(source: str) -> CheckpointFacts:
    path = Path(source)
    if path.is_file():
        cfg = read_json(path)
        if cfg is None:
            raise CheckpointError(f"{path} holds no JSON object")
        return facts_from_config(cfg, str(path))
    directory = checkpoint_dir(str(path.resolve())) or path
    return read_checkpoint(directory)


def _default_name(source: str, facts: CheckpointFacts) -> str:
    cache = re.search(r"models--([^/]+?)--([^/]+)", source)
    if cache:
        return f"{cache.group(1)}/{cache.group(2)}"
    given: str | None = facts.name_or_path
    if given and not given.startswith("/") and given.count("/") <= 1:
        return given
    path = Path(source)
    return (path.parent if path.is_file() else path).resolve().name


def toml_entry(spec: ModelSpec) -> str:
    """One [[model]] table, only the fields that are set."""
    lines = ["[[model]]"]
    for key, value in spec.model_dump(exclude_none=True, exclude_defaults=False).items():
        if value in ([], {}) or (key == "scope" and value == "single_node"):
            continue
        lines.append(f"{key} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _add(args: argparse.Namespace) -> int:
    try:
        facts = _facts(args.source)
    except CheckpointError as exc:
        print(f"omnipilot catalog add: {exc}", file=sys.stderr)
        return 2
    name = args.name or _default_name(args.source, facts)
    family = args.family or read_name(name).family
    spec = facts.spec(name, family)
    if spec is None:
        print(
            f"omnipilot catalog add: {args.source}: config.json lacks the layer count, heads or context "
            "length needed for an entry",
            file=sys.stderr,
        )
        return 2
    spec = spec.model_copy(update={"note": f"written by `omnipilot catalog add` (params_b from {facts.params_from})"})
    entry = toml_entry(spec)

    def result(written_to: Path | None) -> CatalogAddResult:
        return CatalogAddResult(source=args.source, name=name, family=spec.family, params_b=spec.params_b,
                                params_from=facts.params_from, written_to=written_to, entry=spec, toml=entry)  # fmt: skip

    if args.to is None:
        if args.json:
            print_json(result(None))
        else:
            print(entry, end="")
        return 0
    existing = Catalog.load(args.to) if args.to.exists() else None
    if existing is not None and existing.model(name) is not None:
        print(f"omnipilot catalog add: {args.to} already has {name}", file=sys.stderr)
        return 1
    with args.to.open("a") as fh:
        fh.write(("\n" if args.to.exists() and args.to.stat().st_size else "") + entry)
    try:
        Catalog.load(args.to)
    except CatalogError as exc:
        print(f"omnipilot catalog add: {args.to} no longer loads: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_json(result(args.to))
        return 0
    print(f"added {name} to {args.to} (family {spec.family}, {spec.params_b:g}B params)")
    return 0


def _show(args: argparse.Namespace) -> int:
    catalog = Catalog.load()
    found = catalog.resolve(args.model)
    named = read_name(args.model)
    out: dict[str, object] = {"model": args.model, "name_says": named.model_dump(exclude_none=True)}
    # what the daemon does with a name the catalog lacks that states its size (low confidence)
    shaped = shape_from_name(catalog, args.model, named) if found is None else None
    if found is not None:
        out |= {"entry": found.spec.name, "matched": found.matched, "how": found.how,
                "confidence": found.confidence, "note": found.note}  # fmt: skip
    elif shaped is not None:
        out |= {"shape_from_name": shaped.donor, "confidence": "low", "note": shaped.note}
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0 if found else 1
    if found is None:
        print(f"{args.model}: not in the catalog")
        if shaped is not None:
            print(f"  sized from its name at low confidence: {shaped.note}")
    else:
        print(f"{args.model}: {found.spec.name} ({found.how}, confidence {found.confidence})")
        if found.note:
            print(f"  {found.note}")
        spec = found.spec
        size = f"{spec.params_b:g}B" + (f" ({spec.active_params_b:g}B active)" if spec.active_params_b else "")
        print(f"  family {spec.family}, {size}, {spec.layers} layers, context {spec.max_context}"
              + (f", released as {spec.shipped}" if spec.shipped else "")
              + ("" if spec.scope == "single_node" else f", scope {spec.scope}"))  # fmt: skip
    said = ", ".join(f"{k} {getattr(named, k) if k != 'quantization' else named.quantization.method}"  # type: ignore[union-attr]
                     for k in named.inferred)  # fmt: skip
    print(f"  the name says: {said or 'nothing OmniPilot reads'}")
    return 0 if found else 1
