"""Installs the hook (`omnipilot hook install`) and renders its own settings (`omnipilot_settings.lua`)
from omnipilot.toml.

The file sits beside job_submit.lua. After writing it, job_submit.lua is touched so that
slurmctld, which reloads the hook when its mtime changes, picks the new settings up.
"""

from __future__ import annotations

import os
from pathlib import Path

from omnipilot.config import Settings
from omnipilot.paths import packaged

SETTINGS_FILE = "omnipilot_settings.lua"


def _lua_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_hook_settings(settings: Settings) -> str:
    h = settings.hook
    lines = [
        "-- Written by `omnipilot hook render` from etc/omnipilot.toml; edit that file, not this one.",
        "return {",
        f"  socket = {_lua_str(settings.daemon.endpoint)},",
        f"  timeout_ms = {h.timeout_ms},",
        f"  fail_closed = {'true' if h.fail_closed else 'false'},",
        f"  kill_switch = {_lua_str(str(h.kill_switch))},",
        f"  breaker_failures = {h.breaker_failures},",
        f"  breaker_cooloff_s = {h.breaker_cooloff_s:g},",
        f"  max_script_bytes = {h.max_script_bytes},",
        f"  max_reply_bytes = {max(settings.daemon.max_message_bytes, 4 * h.max_script_bytes)},",
        # the hook bounds what it sends by what the daemon takes: libzmq drops a larger peer unanswered
        f"  max_request_bytes = {settings.daemon.max_message_bytes},",
        "}",
    ]
    return "\n".join(lines) + "\n"


def write_hook_settings(settings: Settings, directory: Path) -> Path:
    """Write the settings atomically beside job_submit.lua and touch the hook so slurmctld reloads it."""
    target = directory / SETTINGS_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_text(render_hook_settings(settings))
    os.chmod(tmp, 0o644)
    tmp.replace(target)
    hook = directory / "job_submit.lua"
    if hook.exists():
        os.utime(hook)
    return target


def check_hook_settings(settings: Settings, directory: Path) -> list[str]:
    """Problems with the rendered settings in `directory` (empty list: they match the TOML)."""
    target = directory / SETTINGS_FILE
    if not (directory / "job_submit.lua").exists():
        return [f"{directory}/job_submit.lua does not exist: install the hook there"]
    if not target.exists():
        return [f"{target} does not exist: run `omnipilot hook render --hook-dir {directory}`"]
    if target.read_text() != render_hook_settings(settings):
        return [
            f"{target} differs from what the config renders: run `omnipilot hook render --hook-dir {directory}`"
        ]
    return []


HOOK_FILES = ("job_submit.lua", "omnipilot_zmtp.lua")


def install_hook(settings: Settings, directory: Path) -> list[Path]:
    """Put the hook in place as an admin would: the Lua files shipped in the package, then the rendered
    settings beside them (which touches job_submit.lua, so a running slurmctld reloads it).
    Files are replaced atomically and only when they differ."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in HOOK_FILES:
        src = packaged("omnipilot.slurm", name)
        dst = directory / name
        data = src.read_bytes()
        if not dst.exists() or dst.read_bytes() != data:
            tmp = dst.with_suffix(".tmp")
            tmp.write_bytes(data)
            os.chmod(tmp, 0o644)
            tmp.replace(dst)
        written.append(dst)
    written.append(write_hook_settings(settings, directory))
    return written
