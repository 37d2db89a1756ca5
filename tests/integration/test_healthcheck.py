"""`omnipilot healthcheck` on the mini cluster (real scontrol): each GPU fault class drains the node
with a reason the daemon's state layer reads as a GPU fault; healthy again, only its own drain is
lifted; a healthy node and a node an admin drained are left alone. NVML is the stand-in
(collectors/nvml_standin.py) and the kernel log a file, since this machine has no GPU."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnipilot.collectors.healthcheck import REASON_PREFIX, node_state
from omnipilot.daemon.clusterstate.cache import select_backend

from .conftest import Cluster

pytestmark = pytest.mark.slurm

NODE = "h200-1"
HEALTHY = {"name": "NVIDIA H200", "remapped_rows": [0, 0, 0, 0], "ecc_uncorrected_volatile": 0}
XID_79 = "[ 130.250000] NVRM: Xid (PCI:0000:19:00): 79, pid=0, name=, GPU has fallen off the bus.\n"
XID_13 = "[ 140.000000] NVRM: Xid (PCI:0000:18:00): 13, pid=4242, name=python, Graphics Exception\n"


class Node:
    def __init__(self, cluster: Cluster, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.cluster, self.gpus, self.klog, self.state = cluster, tmp / "gpus.json", tmp / "kern.log", tmp / "hc.json"
        self.klog.write_text("[   1.000000] Linux version 6.1.0\n")
        self.set_gpus(HEALTHY, HEALTHY)
        for k, v in cluster.info.env().items():  # the state layer's backend asks this cluster's scontrol
            monkeypatch.setenv(k, v)

    def set_gpus(self, *devices: dict[str, object]) -> None:
        self.gpus.write_text(json.dumps({"devices": list(devices)}))

    def check(self, node: str = NODE) -> tuple[int, dict[str, object]]:
        env = {**self.cluster.env, "OMNIPILOT_NVML_STANDIN": str(self.gpus)}
        res = subprocess.run(
            [sys.executable, "-m", "omnipilot.cli", "healthcheck", "--node", node, "--kernel-log", str(self.klog),
             "--state-file", str(self.state), "--json"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert res.returncode in (0, 1), res.stderr
        doc: dict[str, object] = json.loads(res.stdout)
        return res.returncode, doc

    def scontrol(self, *args: str) -> None:
        subprocess.run(["scontrol", "update", f"NodeName={NODE}", *args], check=True, env=self.cluster.env)

    def judged(self, node: str = NODE) -> tuple[bool, bool, str]:
        """(usable, health fault, reason) as the daemon's state layer reads the node."""
        n = select_backend("cli").read().nodes[node]
        return n.usable, n.health_fault, n.reason


@pytest.fixture
def node(cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Node]:
    n = Node(cluster, tmp_path, monkeypatch)
    try:
        yield n
    finally:  # the session's other tests use this node: never leave it drained
        flags, _ = node_state(NODE)
        if {"DRAIN", "DRAINED", "DRAINING"} & set(flags):
            n.scontrol("State=RESUME")
        deadline = time.monotonic() + 90  # after a resume slurmctld pings the node before it schedules there
        while not n.judged()[0]:
            assert time.monotonic() < deadline, node_state(NODE)
            time.sleep(0.5)


def fault_rows(n: Node) -> None:
    n.set_gpus(HEALTHY, {**HEALTHY, "remapped_rows": [0, 0, 1, 0]})


def fault_row_failure(n: Node) -> None:
    n.set_gpus(HEALTHY, {**HEALTHY, "remapped_rows": [0, 4, 0, 1]})


def fault_ecc(n: Node) -> None:
    n.set_gpus({**HEALTHY, "ecc_uncorrected_volatile": 2}, HEALTHY)


def fault_xid(n: Node) -> None:
    with n.klog.open("a") as fh:
        fh.write(XID_13 + XID_79)


@pytest.mark.parametrize(
    ("make_fault", "words"),
    [(fault_rows, "row remap pending"), (fault_row_failure, "row remap failure"),
     (fault_ecc, "uncorrectable ECC"), (fault_xid, "XID 79")],
)  # fmt: skip
def test_each_fault_class_drains_the_node(node: Node, make_fault: object, words: str) -> None:
    rc, doc = node.check()
    assert rc == 0 and doc["action"] == "none" and node.judged()[0], doc  # healthy: usable, left alone
    assert callable(make_fault)
    make_fault(node)
    rc, doc = node.check()
    assert rc == 1 and doc["action"] == "drained", doc
    usable, fault, reason = node.judged()
    assert not usable and fault and reason.startswith(REASON_PREFIX) and words in reason, reason
    if make_fault is fault_xid:
        rc, doc = node.check()  # the XID is not new now, but it stands until reboot or an admin's resume
        assert rc == 1 and doc["action"] == "drained" and not node.judged()[0]
        node.scontrol("State=RESUME")  # the admin has dealt with it
    else:
        node.set_gpus(HEALTHY, HEALTHY)  # the GPU was reset / replaced
    rc, doc = node.check()
    assert rc == 0 and doc["action"] in ("resumed", "none"), doc
    n = select_backend("cli").read().nodes[NODE]
    # resumed: no drain and no current fault (slurmctld marks it NOT_RESPONDING until its next ping)
    assert not {"DRAIN", "DRAINED", "DRAINING"} & set(n.states) and not n.health_fault, n


def test_a_healthy_node_is_left_alone(node: Node) -> None:
    rc, doc = node.check()
    assert rc == 0 and doc["action"] == "none" and doc["faults"] == [] and doc["nvml"] == "stand-in"
    flags, _ = node_state(NODE)
    assert not {"DRAIN", "DRAINED", "DRAINING"} & set(flags)


def test_an_admins_drain_is_kept_even_when_healthy_or_faulty(node: Node) -> None:
    node.scontrol("State=DRAIN", "Reason=maintenance window")
    rc, doc = node.check()
    assert rc == 0 and doc["action"] == "none"
    fault_ecc(node)
    rc, doc = node.check()
    assert rc == 1 and doc["action"] == "left"
    assert node.judged()[2] == "maintenance window"
