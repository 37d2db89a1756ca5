"""An ordinary user runs the user-facing commands from a site's checkout, as a site would install it.

install.sh runs as root, but `omnipilot` is run by every user of the cluster. This copies the
checkout's files into a world-readable directory under /tmp (as a site puts one under /opt or
/srv), hard-links the venv that runs these tests beside it (its base interpreter, file modes and
packages unchanged; only the two files that name the checkout's path are rewritten), and runs
commands there as `nobody`. It fails where the venv is built on an interpreter in root's home, where
root's umask made the installed files unreadable, or where a command writes into the checkout.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# the checkout this test runs from (tests/ sits at its root)
REPO_ROOT = Path(__file__).resolve().parents[2]
USER = "nobody"
SAMPLE = Path("slurm") / "minicluster" / "samples" / "01-qwen7b-a100.sbatch"
# what a checkout holds that a site's copy would not: build and cache output, local state
_NOT_SOURCE = shutil.ignore_patterns(
    ".venv",
    ".git",
    "var",
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "switching to an ordinary user needs root"
    if shutil.which("runuser") is None:
        return "runuser (util-linux) is not installed"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"there is no user {USER!r} on this machine"
    if sys.prefix == sys.base_prefix:
        return "the tests do not run in a virtualenv (run install.sh)"
    return None


def _relink_venv(src: Path, dst: Path) -> None:
    """The venv beside the copy: hard links where one filesystem holds both (fast), else a copy."""
    res = subprocess.run(["cp", "-al", str(src), str(dst)], capture_output=True, text=True)
    if res.returncode != 0:
        shutil.rmtree(dst, ignore_errors=True)
        subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def _rewrite(path: Path, old: str, new: str) -> None:
    """Replace a hard-linked file by a new one (never edit it in place: that would edit the original)."""
    text = path.read_text().replace(old, new)
    mode = path.stat().st_mode & 0o7777
    path.unlink()
    path.write_text(text)
    path.chmod(mode)


@pytest.fixture(scope="module")
def site_checkout() -> Iterator[Path]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    # not pytest's tmp_path: root's pytest-of-root directory is closed to other users
    base = Path(tempfile.mkdtemp(prefix="omnipilot-site-", dir="/tmp"))
    try:
        base.chmod(0o755)
        root = base / "omnipilot"
        shutil.copytree(REPO_ROOT, root, symlinks=True, ignore=_NOT_SOURCE)
        venv = Path(sys.prefix)
        _relink_venv(venv, root / ".venv")
        old_root, old_venv = str(REPO_ROOT), str(venv)
        # the editable install (a finder module and .pth naming the checkout) and the entry point's
        # shebang are the only files of a venv that name where it lives
        for site in (root / ".venv" / "lib").glob("python3*/site-packages"):
            for f in [*site.glob("__editable__*"), *site.glob("*.pth"), *site.glob("*.egg-link")]:
                if f.is_file() and old_root in f.read_text():
                    _rewrite(f, old_root, str(root))
        _rewrite(root / ".venv" / "bin" / "omnipilot", old_venv, str(root / ".venv"))
        home = base / "home"
        home.mkdir()
        shutil.chown(home, USER)  # an ordinary user has a home of their own to write caches into
        yield root
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _as_user(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(root.parent / "home"), "LANG": "C.UTF-8"}
    return subprocess.run(
        [shutil.which("runuser") or "runuser", "-u", USER, "--", *args], cwd=root.parent / "home", env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def _ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, f"{res.args} as {USER}: exit {res.returncode}\n{res.stderr[-2000:]}"
    return res.stdout


def test_the_venv_runs_for_an_ordinary_user_from_the_site_checkout(site_checkout: Path) -> None:
    py = str(site_checkout / ".venv" / "bin" / "python")
    where = _ok(
        _as_user(
            site_checkout, py, "-c", "import omnipilot, sys; print(omnipilot.__file__, sys._base_executable)"
        )
    )
    module, base = where.split()
    # the copy's code answers, not the original checkout's (a stale editable path would hide that)
    assert module.startswith(str(site_checkout)), where
    assert not base.startswith("/root/"), f"the venv is built on {base}, in root's home"


def test_user_facing_commands_work_for_an_ordinary_user(site_checkout: Path) -> None:
    exe = str(site_checkout / ".venv" / "bin" / "omnipilot")
    assert "usage: omnipilot" in _ok(_as_user(site_checkout, exe, "--help"))
    seen = _ok(_as_user(site_checkout, exe, "script", "check", str(site_checkout / SAMPLE)))
    assert "serving job: yes" in seen and "Qwen/Qwen2.5-7B" in seen
    advice = _ok(_as_user(site_checkout, exe, "advise", "--model", "Qwen/Qwen2.5-7B", "--json"))
    assert '"tokens_per_s"' in advice and '"confidence"' in advice
    # nothing was written into the checkout on the user's behalf (they could not have)
    assert not any(p.owner() == USER for p in site_checkout.rglob("*") if not p.is_symlink())
