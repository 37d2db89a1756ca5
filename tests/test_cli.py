"""The `omnipilot` command: one table of commands, each with help and examples, --version, exit 2 on
an unknown command; `--help` starts without the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from omnipilot import __version__
from omnipilot.cli import COMMANDS, EXAMPLES, build_parser, main


def test_every_command_is_registered_by_its_module_and_has_examples() -> None:
    parser = build_parser()
    registered = set(parser._subparsers._group_actions[0].choices) if parser._subparsers else set()  # type: ignore[attr-defined]
    assert set(COMMANDS) == registered, "COMMANDS and the modules' register() disagree"
    assert set(EXAMPLES) == set(COMMANDS), "every command shows examples in its --help"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_shows_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"omnipilot {command}" in out


def test_version_and_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"omnipilot {__version__}"
    assert main(["no-such-command"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_help_does_not_import_pandas_or_lightgbm() -> None:
    code = (
        "import sys\n"
        "from omnipilot.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "import json; print(json.dumps(sorted(m for m in ('pandas', 'lightgbm', 'numpy') if m in sys.modules)))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(res.stdout.splitlines()[-1]) == []


def test_advise_reads_the_config_it_is_given(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    # a file named with --config must be valid; the usual lookup may fall back to the defaults
    assert main(["advise", "--model", "Qwen/Qwen2.5-7B-Instruct", "--gpu", "h100", "--config", "/nonexistent.toml"]) == 2
    assert "/nonexistent.toml does not exist" in capsys.readouterr().err
