"""The built wheel, installed non-editable into a fresh venv on Debian's /usr/bin/python3 and used from
a folder that is not the checkout, works for the commands a site runs first."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")
SAMPLE = """#!/bin/bash
#SBATCH --gres=gpu:a100:2
module load cuda
vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2 --max-model-len 8192
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not SYSTEM_PYTHON.exists():
        pytest.skip("Debian's /usr/bin/python3 is not installed (install.sh installs it)")
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    # Built from a copy: setuptools leaves build/ in the source folder, and a stale build/lib there
    # could put deleted modules into the next wheel.
    src = root / "src"
    shutil.copytree(
        CHECKOUT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "var", "*.egg-info", "__pycache__")
    )
    # no build isolation: the venv's setuptools builds it, so the test needs no network
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)],
        capture_output=True, text=True, timeout=300, cwd=root,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(dist.glob("omnipilot-*.whl"))
    venv = root / "venv"
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # The dependencies come from the test venv (read-only, through a .pth line: its own .pth files,
    # the editable install among them, are not processed); omnipilot itself only from the wheel.
    Path(purelib, "omnipilot-test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    inst = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert inst.returncode == 0, inst.stderr[-3000:]
    yield venv
    shutil.rmtree(root, ignore_errors=True)


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNIPILOT_", "PYTHON", "VIRTUAL_ENV"))}
    env["HOME"] = str(cwd)  # nothing of the caller's; writes would land here, never in the package
    res = subprocess.run(
        [str(venv / "bin" / "omnipilot"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in res.stderr, res.stderr
    return res


def test_the_package_comes_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    res = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import omnipilot.daemon.server as m; print(m.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert res.stdout.strip().startswith(str(installed)), res.stdout
    assert not res.stdout.startswith(str(CHECKOUT))


def test_commands_work_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    version = _run(installed, tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("omnipilot ")

    check = _run(installed, tmp_path, "config", "check", "--json")
    assert check.returncode == 0, check.stderr
    doc = json.loads(check.stdout)
    assert doc["ok"] and doc["example"] and doc["config"].startswith(str(installed))

    advise = _run(
        installed, tmp_path, "advise", "--model", "Qwen/Qwen2.5-7B-Instruct", "--concurrency", "64",
        "--context", "8192", "--gpu", "h100", "--json",
    )  # fmt: skip
    assert advise.returncode == 0, advise.stderr
    arms = json.loads(advise.stdout)
    assert arms and all(a["gpu"] == "H100-80GB" for a in arms)
    assert "tokens_per_s" in arms[0]["targets"]

    script = tmp_path / "job.sbatch"
    script.write_text(SAMPLE)
    parsed = _run(installed, tmp_path, "script", "check", "--json", str(script))
    assert parsed.returncode == 0, parsed.stderr
    job = json.loads(parsed.stdout)
    assert job["model"] == "Qwen/Qwen2.5-7B-Instruct" and job["tp"] == 2

    hook_dir = tmp_path / "etc-slurm"
    hook = _run(installed, tmp_path, "hook", "install", "--hook-dir", str(hook_dir), "--json")
    assert hook.returncode == 0, hook.stderr
    names = sorted(p.name for p in hook_dir.iterdir())
    assert names == ["job_submit.lua", "omnipilot_settings.lua", "omnipilot_zmtp.lua"]
    assert "timeout_ms = 50" in (hook_dir / "omnipilot_settings.lua").read_text()
    again = _run(installed, tmp_path, "config", "check", "--hook-dir", str(hook_dir))
    assert again.returncode == 0, again.stderr


def test_bad_config_exits_2_with_a_message(installed: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[hook]\ntimeout_ms = 'fast'\n")
    res = _run(installed, tmp_path, "config", "check", "--config", str(bad))
    assert res.returncode == 2
    assert "hook.timeout_ms" in res.stderr


def test_mypy_strict_is_clean_on_the_installed_package(installed: Path, tmp_path: Path) -> None:
    if shutil.which("mypy", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mypy is not installed in this venv (install.sh installs the dev tools)")
    purelib = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    res = subprocess.run(
        [
            str(Path(sys.executable).parent / "mypy"),
            "--config-file", str(CHECKOUT / "pyproject.toml"),
            "--strict",
            "--cache-dir", str(tmp_path / "mypy-cache"),
            "-p", "omnipilot",
        ],
        cwd=tmp_path, env={**os.environ, "MYPYPATH": purelib}, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-5000:] + res.stderr[-2000:]
    assert "Success" in res.stdout
