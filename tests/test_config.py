"""The settings model, `config check`, and the rendered hook settings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from omnipilot.cli import main
from omnipilot.config import ConfigError, example_config, load_settings
from omnipilot.slurm.hooksettings import SETTINGS_FILE, check_hook_settings, write_hook_settings


def test_shipped_config_is_valid() -> None:
    s = load_settings(example_config())
    assert s.hook.timeout_ms == 50 and s.daemon.initial_mode == "suggest"


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("[hook]\ntimeout_ms = 90000\n", "'hook.timeout_ms'"),
        ("[daemon]\nendpoint = 'http://x'\n", "'daemon.endpoint'"),
        ("[hook]\ntimeout = 5\n", "'hook.timeout'"),
        ("[hook\n", "not valid TOML"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, msg: str) -> None:
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=msg):
        load_settings(p)


def test_config_check_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text("[enforce]\npartitions = 'h100'\n")
    assert main(["config", "check", "--config", str(bad)]) == 2  # bad config: exit 2, as everywhere
    assert "enforce.partitions" in capsys.readouterr().err
    assert main(["config", "check", "--config", str(example_config())]) == 0


def test_rendered_hook_settings_are_valid_lua_and_checked(tmp_path: Path) -> None:
    if shutil.which("lua5.1") is None:
        pytest.skip("lua5.1 not installed (install.sh installs it)")
    s = load_settings(example_config())
    (tmp_path / "job_submit.lua").write_text("-- hook\n")
    write_hook_settings(s, tmp_path)
    assert check_hook_settings(s, tmp_path) == []
    out = subprocess.run(
        [
            "lua5.1",
            "-e",
            f"local t = dofile('{tmp_path / SETTINGS_FILE}'); "
            "print(t.socket, t.timeout_ms, tostring(t.fail_closed))",
        ],
        capture_output=True,
        text=True,
    )
    assert out.stdout.split() == [s.daemon.endpoint, "50", "false"]
    changed = s.model_copy(update={"hook": s.hook.model_copy(update={"timeout_ms": 80})})
    assert "differs" in check_hook_settings(changed, tmp_path)[0]
