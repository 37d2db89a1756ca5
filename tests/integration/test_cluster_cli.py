"""`omnipilot cluster up|status|down --json` against the session's mini cluster (already running:
`up` then starts nothing and says so) and an empty state directory (`down` stops nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnipilot.cli import main

from .conftest import Cluster


@pytest.mark.slurm
def test_cluster_up_json_on_a_running_cluster_names_what_runs(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(cluster.info.state_dir)
    assert main(["cluster", "up", "--state-dir", state, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["state_dir"] == state and doc["started"] == []
    assert {"slurmctld", "omnipilot-daemon"} <= set(doc["already_running"]) <= set(doc["processes"])
    assert doc["control_socket"] == str(cluster.info.control_socket)
    assert doc["endpoint"] == cluster.info.endpoint and doc["ctld_port"] == cluster.info.ctld_port
    assert doc["env"] == {k: str(v) for k, v in cluster.info.env().items()}
    assert "db_password" not in doc  # the document may land in a CI log
    assert main(["cluster", "status", "--state-dir", state, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["up"] is True


def test_cluster_down_json_with_nothing_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cluster", "down", "--state-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"state_dir": str(tmp_path.resolve()), "stopped": []}
