"""The package as a site installs it: each module has one name, the folders import only downward,
and no module imports another that imports it back."""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import omnipilot

# The design's layers, lowest first: a folder may import from the folders before it, never after.
LAYERS = ("omnipilot", "omnipilot.collectors", "omnipilot.advisor", "omnipilot.daemon", "omnipilot.slurm")
TOP_LEVEL_NAMES = ("daemon", "advisor", "collectors", "slurm", "etc")


def _package_files() -> dict[str, Path]:
    """Every module of the installed package by its dotted name."""
    out: dict[str, Path] = {}
    for layer in (*LAYERS, "omnipilot.etc"):
        pkg = importlib.import_module(layer)
        for root in pkg.__path__:
            base = Path(root)
            for path in base.rglob("*.py"):
                rel = path.relative_to(base).with_suffix("")
                if "standin" in rel.parts:  # the stand-in `vllm` package is data for demo jobs
                    continue
                parts = [p for p in rel.parts if p != "__init__"]
                name = ".".join([layer, *parts])
                if layer == "omnipilot" and parts and f"omnipilot.{parts[0]}" in LAYERS:
                    continue
                out[name] = path
    return out


def _imports(path: Path, name: str) -> set[str]:
    """Modules of the package this file imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                base = name.rsplit(".", node.level)[0]
                found.add(f"{base}.{node.module}")
            else:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("omnipilot")}


def _layer(module: str) -> int:
    return max(i for i, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + "."))


def test_every_module_imports_under_one_name_only(tmp_path: Path) -> None:
    modules = sorted(_package_files())
    assert len(modules) > 80
    code = (
        "import importlib, json, sys\n"
        f"mods = {modules!r}\n"
        "failed = {}\n"
        "for m in mods:\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except Exception as exc:\n"
        "        failed[m] = f'{type(exc).__name__}: {exc}'\n"
        f"top = sorted(k for k in sys.modules if k.split('.')[0] in {TOP_LEVEL_NAMES!r})\n"
        "print(json.dumps({'failed': failed, 'top': top}))\n"
    )
    # a fresh interpreter in a folder that is not the checkout: what a site's python sees
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.splitlines()[-1])
    assert out["failed"] == {}
    assert out["top"] == [], f"modules loaded under a top-level name: {out['top']}"


def test_folders_import_only_downward() -> None:
    files = _package_files()
    upward = []
    for name, path in files.items():
        for target in _imports(path, name):
            if target in files or any(target.startswith(m + ".") for m in files):
                if _layer(target) > _layer(name) and _layer(name) != 0:
                    upward.append(f"{name} imports {target}")
    # the root package's cli.py names command modules as strings only; nothing else in the root
    # package imports a folder above it
    for name, path in files.items():
        if _layer(name) == 0:
            upward += [f"{name} imports {t}" for t in _imports(path, name) if _layer(t) > 0]
    assert upward == []


def test_no_module_imports_one_that_imports_it_back() -> None:
    files = _package_files()
    graph = {
        name: {t for t in _imports(path, name) if t in files and t != name} for name, path in files.items()
    }
    cycles = []
    for name, targets in graph.items():
        # a cycle through this module: some module it reaches imports it again
        seen, stack = set(), list(targets)
        while stack:
            m = stack.pop()
            if m == name:
                cycles.append(name)
                break
            if m not in seen:
                seen.add(m)
                stack.extend(graph.get(m, ()))
    assert cycles == [], f"modules on an import cycle: {sorted(cycles)}"


def test_the_package_is_not_the_checkout_folder() -> None:
    # the tests import the installed package; the checkout's root is not on sys.path
    root = Path(omnipilot.__file__).resolve().parent.parent
    assert str(root) not in [str(Path(p).resolve()) for p in sys.path if p]
