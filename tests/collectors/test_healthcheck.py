"""The GPU health check's reading of NVML (through the stand-in) and of the kernel log, and its drain
reason as the daemon's state layer judges it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnipilot.collectors import healthcheck as hc
from omnipilot.collectors.nvml import load_nvml
from omnipilot.daemon.clusterstate.snapshot import NodeState, is_health_fault

HEALTHY = {"name": "NVIDIA H200", "remapped_rows": [0, 0, 0, 0], "ecc_uncorrected_volatile": 0}
KLOG = """[  10.000001] nvidia: loading out-of-tree module taints kernel.
[ 120.500000] NVRM: Xid (PCI:0000:18:00): 13, pid=4242, name=python, Graphics Exception
[ 130.250000] NVRM: Xid (PCI:0000:19:00): 79, pid=0, name=, GPU has fallen off the bus.
"""


def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *devices: dict[str, object]) -> object:
    f = tmp_path / "gpus.json"
    f.write_text(json.dumps({"devices": list(devices)}))
    monkeypatch.setenv("OMNIPILOT_NVML_STANDIN", str(f))
    nv, why = load_nvml()
    assert nv is not None and getattr(nv, "STANDIN", False), why
    return nv


@pytest.mark.parametrize(
    ("device", "kind"),
    [
        ({**HEALTHY, "remapped_rows": [0, 0, 1, 0]}, "row_remap_pending"),
        ({**HEALTHY, "remapped_rows": [0, 2, 0, 1]}, "row_remap_failure"),
        ({**HEALTHY, "ecc_uncorrected_volatile": 3}, "ecc_uncorrectable"),
    ],
)
def test_each_nvml_fault_class_is_found_and_its_reason_reads_as_a_gpu_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, device: dict[str, object], kind: str
) -> None:
    nv = standin(tmp_path, monkeypatch, HEALTHY, device)
    faults, gpus = hc.nvml_faults(nv)
    assert gpus == 2 and [(f.kind, f.gpu) for f in faults] == [(kind, "1")]
    reason = hc.reason_text(faults)
    assert reason.startswith(hc.REASON_PREFIX) and is_health_fault(reason), reason
    node = NodeState(name="n", partitions=["p"], gres_type="h200", gpus_total=8, gpus_used=0,
                     states=["IDLE", "DRAIN"], reason=reason)  # fmt: skip
    assert node.health_fault and not node.usable


def test_healthy_gpus_have_no_fault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nv = standin(tmp_path, monkeypatch, HEALTHY, HEALTHY)
    assert hc.nvml_faults(nv) == ([], 2)


def test_xids_since_the_last_run_only_and_application_xids_do_not_drain() -> None:
    events = hc.parse_kernel_log(KLOG.splitlines())
    assert [(e.xid, e.pci, e.t) for e in events] == [(13, "0000:18:00", 120.5), (79, "0000:19:00", 130.25)]
    faults, ignored, state = hc.new_xid_faults(events, hc.XidState(), "boot-1")
    assert [f.detail for f in faults] == ["XID 79"] and len(ignored) == 1 and "XID 13" in ignored[0]
    assert is_health_fault(hc.reason_text(faults))
    # the next run: the same lines are not new; the XID 79 stays standing until reboot or resume
    again, ignored2, state2 = hc.new_xid_faults(events, state, "boot-1")
    assert again == [] and ignored2 == [] and [f.detail for f in state2.standing] == ["XID 79"]
    later = [*events, *hc.parse_kernel_log(["[ 200.000000] NVRM: Xid (PCI:0000:18:00): 48, DBE"])]
    new, _, state3 = hc.new_xid_faults(later, state2, "boot-1")
    assert [f.detail for f in new] == ["XID 48"] and len(state3.standing) == 2
    # a reboot: kernel time restarts, the old faults are gone with the old boot
    _, _, rebooted = hc.new_xid_faults([], state3, "boot-2")
    assert rebooted.standing == [] and rebooted.boot_id == "boot-2"


def test_kmsg_records_are_read_too() -> None:
    (e,) = hc.parse_kernel_log(["3,812,130250000,-;NVRM: Xid (PCI:0000:19:00): 94, Contained ECC error"])
    assert (e.xid, e.t) == (94, 130.25)


def test_node_name_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURMD_NODENAME", "gpu-17")
    assert hc.node_name("explicit") == "explicit" and hc.node_name(None) == "gpu-17"
    monkeypatch.delenv("SLURMD_NODENAME")
    assert hc.node_name(None)  # the short host name
