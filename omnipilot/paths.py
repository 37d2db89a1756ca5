"""Where OmniPilot finds its packaged files and where it writes its own.

Packaged files (catalogs, the example config, the Lua hook, the bundled model, the demo's samples and
stand-ins) are read through importlib.resources, so a wheel installed anywhere works the same as a
checkout. What the program writes goes under the configured state directory or the XDG directories,
never into the installed package.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

SITE_CONFIG = Path("/etc/omnipilot/omnipilot.toml")


def packaged(package: str, *parts: str) -> Path:
    """A file or folder shipped inside the package (e.g. `packaged("omnipilot.etc", "models.toml")`).

    The package is always installed unpacked (pip, editable or not), so the resource is a real path
    that subprocesses (slurmd, lua5.1, sbatch) can be given."""
    node = resources.files(package).joinpath(*parts)
    path = Path(str(node))
    if not path.exists():
        raise FileNotFoundError(f"packaged file {package}:{'/'.join(parts)} is missing (reinstall omnipilot)")
    return path


def data_home() -> Path:
    """Per-user data: `$XDG_DATA_HOME/omnipilot`, else `~/.local/share/omnipilot`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "omnipilot"


def checkout_root() -> Path | None:
    """The source checkout this package runs from (editable install), or None for an installed wheel."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "daemon").is_dir() else None


def shared_data_dir() -> Path | None:
    """The public measured data: `$OMNIPILOT_SHARED_DATA`, else `../shared/data` beside a checkout."""
    env = os.environ.get("OMNIPILOT_SHARED_DATA")
    if env:
        return Path(env)
    root = checkout_root()
    return root.parent / "shared" / "data" if root else None


def default_history() -> Path:
    """The seed history that `history build-seed` writes and `train`/`record`/`evaluate` read."""
    env = os.environ.get("OMNIPILOT_HISTORY")
    return Path(env) if env else data_home() / "history" / "history.jsonl"


def default_models_dir() -> Path:
    """Where `train` and `retrain` put new model folders unless told otherwise."""
    return data_home() / "models"
