"""Renders the hook's own settings (`omnipilot_settings.lua`) from etc/omnipilot.toml.

The file sits beside job_submit.lua. After writing it, job_submit.lua is touched so that
slurmctld, which reloads the hook when its mtime changes, picks the new settings up.
"""

from __future__ import annotations

import os
from pathlib import Path

from omnipilot.config import Settings

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
