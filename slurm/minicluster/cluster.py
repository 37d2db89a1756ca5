"""A real Slurm cluster on one machine, for the demo and the tests.

Debian's slurmctld + one slurmd per node (`slurmd -N NAME`, each with its own port, spool, pid and
log) + munge, with fake GPU GRES backed by character devices, all state under one directory, as
root, no systemd. `up` is idempotent; `down` stops only the processes `up` recorded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import structlog
from pydantic import BaseModel

from omnipilot.config import example_config
from omnipilot.paths import packaged
from omnipilot.slurm.minicluster import accounting as acct

log = structlog.get_logger("omnipilot.minicluster")

HOOK_FILES = ("job_submit.lua", "omnipilot_zmtp.lua")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
MUNGE_MARKER = Path("/run/munge/omnipilot-minicluster.started")  # a mini cluster started munged
MUNGE_LOG = Path("/var/log/munge/munged.log")
CGROUP_ROOT = Path("/sys/fs/cgroup")
# Lines of a daemon's log that say why it stopped: Slurm's "error:"/"fatal:", munged's "Error:",
# MariaDB's "[ERROR]"
_WHY_RE = re.compile(r"\b(fatal|error)\b", re.IGNORECASE)
# Errors Debian's Slurm logs on every start and that never stop it: it is built with PMIx, which is
# not installed, and MpiDefault=none does not use it
_BENIGN_RE = re.compile(r"mpi/pmix|pmi/pmix|MPI: Cannot create context", re.IGNORECASE)


class NodeDef(BaseModel):
    name: str
    gres_type: str
    gpus: int
    partition: str
    cpus: int = 32
    memory_mb: int = 256_000


NODES: tuple[NodeDef, ...] = (
    NodeDef(name="a100-1", gres_type="a100", gpus=4, partition="a100"),
    NodeDef(name="h100-1", gres_type="h100", gpus=8, partition="h100"),
    NodeDef(name="h100-2", gres_type="h100", gpus=8, partition="h100"),
    NodeDef(name="h200-1", gres_type="h200", gpus=8, partition="h200"),
)
# Partitions a site restricts, for the enforce tests (each holds one H100 node, so a rewrite to H100
# would try it before the two-node `h100` partition): the daemon must see why a job may not go there.
# The group has no members anywhere (AllowGroups of an unresolvable group); the account is one no
# test job uses; MaxMemPerNode is below what any job gets by DefMemPerCPU.
RESTRICTED_PARTITIONS: tuple[tuple[str, str], ...] = (
    ("h100-grp", "AllowGroups=omnipilot-nobody-is-in"),
    ("h100-acct", "AllowAccounts=omnipilot-other"),
    ("h100-mem", "MaxMemPerNode=1000"),
)
RESTRICTED_NODE = "h100-1"
# Memory counted as sites count it (CR_Core_Memory): a job without --mem* gets DefMemPerCPU per CPU,
# so GPU jobs on one node share its RealMemory instead of each taking all of it.
DEF_MEM_PER_CPU_MB = 2000


class ClusterError(RuntimeError):
    pass


class ClusterInfo(BaseModel):
    state_dir: Path
    slurm_conf: Path
    ctld_port: int
    node_ports: dict[str, int]
    endpoint: str
    control_socket: Path
    omnipilot_config: Path
    pids: dict[str, int] = {}
    slurm_version: str = ""
    # accounting (opt-in): MariaDB + slurmdbd on their own ports, see slurm/minicluster/accounting.py
    accounting: bool = False
    db_port: int | None = None
    dbd_port: int | None = None
    db_password: str | None = None

    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.slurm_conf), "OMNIPILOT_CONFIG": str(self.omnipilot_config)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and ") Z " not in stat.read_text()


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def cgroup_conf_lines(version: str, cgroup_mounted: bool) -> list[str]:
    """cgroup.conf for this machine; empty means no cgroup.conf at all.

    slurmd 24.11 initialises a cgroup plugin even with proctrack/linuxproc and task/none, and stops
    with "No filesystem mounted on /sys/fs/cgroup" where nothing is mounted there (a chroot);
    `CgroupPlugin=disabled` (24.05+) avoids that. 22.05 has no such value: that line stops its slurmd,
    and it needs no cgroup.conf anyway (SLURM_NOTES.md, 24.11 §6).
    """
    if cgroup_mounted or not version or _version_tuple(version) < (24, 5):
        return []
    return [
        "# Written by `omnipilot cluster up`: /sys/fs/cgroup is not mounted here (a chroot?), and",
        "# slurmd 24.05+ would stop without it. On a machine with cgroups this file is not written.",
        "CgroupPlugin=disabled",
    ]


def log_offset(path: Path) -> int:
    """Where a log ends now, so that only what a start adds to it is read afterwards."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def why_it_failed(path: Path, offset: int = 0, most: int = 4) -> list[str]:
    """The lines a daemon logged after `offset` that say why it stopped: its fatal lines and the last
    errors before them (a daemon stops right after saying why), at most `most`; the last lines where
    none says error or fatal."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    why = [line for line in lines if _WHY_RE.search(line) and not _BENIGN_RE.search(line)]
    if not why:
        return lines[-3:]
    fatal = [line for line in why if "fatal" in line.lower()][-most:]
    room = most - len(fatal)
    errors = [line for line in why if line not in fatal][-room:] if room > 0 else []
    keep = set(fatal) | set(errors)
    return [line for line in why if line in keep]


def _failure(what: str, log_path: Path, offset: int, stderr: str = "") -> ClusterError:
    """A start failure that names the cause: the daemon's stderr and the lines its log gave why."""
    why = [line for line in stderr.strip().splitlines() if line.strip()][-4:] + why_it_failed(
        log_path, offset
    )
    said = "\n  ".join(why) if why else f"(nothing in {log_path} or on stderr)"
    return ClusterError(f"{what}; {log_path} says:\n  {said}")


def slurm_version() -> str:
    """The installed Slurm's version ('22.05.8'); sinfo --version needs a config, slurmctld -V does not."""
    try:
        out = subprocess.run(["slurmctld", "-V"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip().split()[-1] if out.stdout.strip() else ""


class MiniCluster:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir.resolve()
        self.info_path = self.dir / "cluster.json"

    # --- configuration -------------------------------------------------------------------
    def info(self) -> ClusterInfo | None:
        if not self.info_path.exists():
            return None
        return ClusterInfo.model_validate_json(self.info_path.read_text())

    def _save(self, info: ClusterInfo) -> None:
        tmp = self.info_path.with_suffix(".tmp")
        tmp.write_text(info.model_dump_json(indent=2))
        tmp.replace(self.info_path)

    def _layout(self, accounting: bool = False) -> ClusterInfo:
        for sub in ("etc", "state", "spool", "run", "log", "dev", "omnipilot"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        info = self.info()
        if info is None:
            info = ClusterInfo(
                state_dir=self.dir,
                slurm_conf=self.dir / "etc" / "slurm.conf",
                ctld_port=_free_port(),
                node_ports={n.name: _free_port() for n in NODES},
                endpoint=f"ipc://{self.dir}/run/omnipilot.sock",
                control_socket=self.dir / "run" / "omnipilot-control.sock",
                omnipilot_config=self.dir / "etc" / "omnipilot.toml",
            )
        info.slurm_version = slurm_version()
        if accounting and not info.accounting:
            info.accounting = True
            info.db_port, info.dbd_port, info.db_password = _free_port(), _free_port(), acct.new_password()
        self._write_slurm_conf(info)
        self._write_gres(info)
        self._write_cgroup_conf(info)
        self._write_omnipilot_config(info)
        self._install_hook()
        self._save(info)
        return info

    def _write_slurm_conf(self, info: ClusterInfo) -> None:
        host = socket.gethostname().split(".")[0]
        d = self.dir
        lines = [
            "# Written by `omnipilot cluster up`: a one-host cluster for the demo and the tests.",
            "ClusterName=omnipilot",
            f"SlurmctldHost={host}(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"SlurmctldPort={info.ctld_port}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"StateSaveLocation={d}/state",
            f"SlurmdSpoolDir={d}/spool/%n",
            f"SlurmctldPidFile={d}/run/slurmctld.pid",
            f"SlurmdPidFile={d}/run/slurmd-%n.pid",
            f"SlurmctldLogFile={d}/log/slurmctld.log",
            f"SlurmdLogFile={d}/log/slurmd-%n.log",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            f"DefMemPerCPU={DEF_MEM_PER_CPU_MB}",
            "MpiDefault=none",
            "ReturnToService=2",
            "SlurmdParameters=config_overrides",
            "GresTypes=gpu",
            "JobSubmitPlugins=lua",
            "SchedulerType=sched/backfill",
            "SchedulerParameters=sched_interval=2",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "JobAcctGatherType=jobacct_gather/none",
            "MessageTimeout=10",
            "SlurmctldTimeout=30",
            "SlurmdTimeout=60",
            "KillWait=2",
            "MinJobAge=600",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
        ]
        if info.accounting and info.db_port and info.dbd_port:
            at = lines.index("AccountingStorageType=accounting_storage/none")
            lines[at : at + 1] = acct.conf_lines(info.db_port, info.dbd_port, host)
        for n in NODES:
            lines.append(
                f"NodeName={n.name} NodeAddr=127.0.0.1 NodeHostname={host} Port={info.node_ports[n.name]} "
                f"CPUs={n.cpus} RealMemory={n.memory_mb} Gres=gpu:{n.gres_type}:{n.gpus} State=UNKNOWN"
            )
        parts: dict[str, list[str]] = {}
        for n in NODES:
            parts.setdefault(n.partition, []).append(n.name)
        all_nodes = ",".join(n.name for n in NODES)
        lines.append(
            f"PartitionName=gpu Nodes={all_nodes} Default=YES MaxTime=2-00:00:00 DefaultTime=01:00:00 State=UP"
        )
        for p, names in parts.items():
            lines.append(
                f"PartitionName={p} Nodes={','.join(names)} MaxTime=2-00:00:00 DefaultTime=01:00:00 State=UP"
            )
        for p, limit in RESTRICTED_PARTITIONS:
            lines.append(
                f"PartitionName={p} Nodes={RESTRICTED_NODE} {limit} MaxTime=2-00:00:00 "
                "DefaultTime=01:00:00 State=UP"
            )
        info.slurm_conf.write_text("\n".join(lines) + "\n")

    def _write_gres(self, info: ClusterInfo) -> None:
        lines = ["AutoDetect=off"]
        for n in NODES:
            files = []
            for i in range(n.gpus):
                dev = self.dir / "dev" / f"{n.name}-gpu{i}"
                if not dev.exists():
                    # jobs only get CUDA_VISIBLE_DEVICES when the GRES files are character devices
                    subprocess.run(["mknod", str(dev), "c", "1", "3"], check=True)
                files.append(str(dev))
            lines.append(
                f"NodeName={n.name} Name=gpu Type={n.gres_type} File={self.dir}/dev/{n.name}-gpu[0-{n.gpus - 1}]"
            )
        (info.slurm_conf.parent / "gres.conf").write_text("\n".join(lines) + "\n")

    def _write_cgroup_conf(self, info: ClusterInfo) -> None:
        """Slurm reads cgroup.conf beside slurm.conf: ours is written only where this machine needs
        one, and removed where it does not (a state dir moved out of a chroot)."""
        path = info.slurm_conf.parent / "cgroup.conf"
        lines = cgroup_conf_lines(info.slurm_version, os.path.ismount(CGROUP_ROOT))
        if lines:
            path.write_text("\n".join(lines) + "\n")
            log.info("cgroup_conf_written", path=str(path), reason="/sys/fs/cgroup not mounted")
        else:
            path.unlink(missing_ok=True)

    def _write_omnipilot_config(self, info: ClusterInfo) -> None:
        src = example_config().read_text()
        override = (
            "\n# --- written by `omnipilot cluster up`: paths of this mini cluster ---\n"
            f'[daemon]\nendpoint = "{info.endpoint}"\ncontrol_socket = "{info.control_socket}"\n'
            f'state_dir = "{self.dir}/omnipilot"\nslurm_user = "root"\nlog_format = "json"\n'
            f'[hook]\nkill_switch = "{self.dir}/etc/omnipilot.disabled"\n'
            "[metrics]\nenabled = true\nport = 0\n"  # any free port: `omnipilot status` names it
        )
        info.omnipilot_config.write_text(_merge_toml_sections(src, override))

    def _install_hook(self) -> None:
        """Copy the hook beside slurm.conf, where slurmctld looks for it (as an admin would install it)."""
        for name in HOOK_FILES:
            src = packaged("omnipilot.slurm", name)
            dst = self.dir / "etc" / name
            if not src.exists():
                raise ClusterError(f"{src} is missing: the checkout is incomplete")
            if not dst.exists() or dst.read_bytes() != src.read_bytes():
                tmp = dst.with_suffix(".tmp")
                shutil.copyfile(src, tmp)
                tmp.replace(dst)

    # --- processes ------------------------------------------------------------------------
    def up(
        self, *, with_daemon: bool = True, timeout_s: float = 60.0, accounting: bool = False
    ) -> ClusterInfo:
        info = self._layout(accounting)
        self._render_hook_settings(info)
        env = {**os.environ, **info.env()}
        if not self._munge_ok():
            self._start_munge(info)
        if info.accounting:
            self._start_accounting(info, env)
        if not _alive(info.pids.get("slurmctld", -1)):
            self._spawn(
                info,
                "slurmctld",
                ["slurmctld", "-f", str(info.slurm_conf)],
                env,
                self.dir / "run" / "slurmctld.pid",
            )
        for n in NODES:
            key = f"slurmd:{n.name}"
            if not _alive(info.pids.get(key, -1)):
                self._spawn(
                    info,
                    key,
                    ["slurmd", "-N", n.name, "-f", str(info.slurm_conf)],
                    env,
                    self.dir / "run" / f"slurmd-{n.name}.pid",
                )
        if with_daemon and not _alive(info.pids.get("omnipilot-daemon", -1)):
            self._start_daemon(info, env)
        self._save(info)
        self._wait_nodes(env, timeout_s)
        return info

    def _start_accounting(self, info: ClusterInfo, env: dict[str, str]) -> None:
        """MariaDB, slurmdbd, then the cluster's registration: all before slurmctld starts."""
        assert info.db_port and info.dbd_port and info.db_password
        host = socket.gethostname().split(".")[0]
        db = acct.MariaDb(self.dir, info.db_port)
        logs = {"mariadbd": db.dir / "mariadbd.log", "slurmdbd": self._log_of("slurmdbd")}
        offsets = {k: log_offset(p) for k, p in logs.items()}
        step = "mariadbd"
        try:
            if not _alive(info.pids.get("mariadbd", -1)):
                info.pids["mariadbd"] = db.start()
                self._save(info)
                db.grant(info.db_password)
            step = "slurmdbd"
            if not _alive(info.pids.get("slurmdbd", -1)):
                acct.write_slurmdbd_conf(self.dir, info.db_port, info.dbd_port, host, info.db_password)
                info.pids["slurmdbd"] = acct.start_slurmdbd(self.dir, env)
                self._save(info)
            step = ""
            acct.register("omnipilot", ["root"], env)
        except acct.AccountingError as exc:
            if step:
                raise _failure(str(exc), logs[step], offsets[step]) from exc
            raise ClusterError(str(exc)) from exc

    def _munge_ok(self) -> bool:
        if not MUNGE_SOCKET.exists():
            return False
        enc = subprocess.run(["munge", "-n"], capture_output=True)
        return enc.returncode == 0

    def _start_munge(self, info: ClusterInfo) -> None:
        if shutil.which("munged") is None and not Path("/usr/sbin/munged").exists():
            raise ClusterError("munged is not installed: run install.sh (apt-get install munge)")
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        if not Path("/etc/munge/munge.key").exists():
            key = subprocess.run(
                ["runuser", "-u", "munge", "--", "mungekey", "--create"], capture_output=True, text=True
            )
            if key.returncode != 0:
                raise ClusterError(f"mungekey --create failed ({key.returncode}): {key.stderr.strip()}")
        offset = log_offset(MUNGE_LOG)
        res = subprocess.run(
            ["runuser", "-u", "munge", "--", "/usr/sbin/munged"], capture_output=True, text=True
        )
        if res.returncode != 0:
            raise _failure(f"munged failed to start ({res.returncode})", MUNGE_LOG, offset, res.stderr)
        pidfile = Path("/run/munge/munged.pid")
        for _ in range(50):
            if self._munge_ok() and pidfile.exists():
                info.pids["munged"] = int(pidfile.read_text().strip())
                MUNGE_MARKER.write_text(str(info.pids["munged"]))
                return
            time.sleep(0.1)
        raise _failure("munged did not start", MUNGE_LOG, offset, res.stderr)

    def _log_of(self, key: str) -> Path:
        """The log a Slurm daemon of this cluster writes (the paths slurm.conf names)."""
        if key.startswith("slurmd:"):
            return self.dir / "log" / f"slurmd-{key.split(':', 1)[1]}.log"
        return self.dir / "log" / f"{key}.log"

    def _spawn(self, info: ClusterInfo, key: str, cmd: list[str], env: dict[str, str], pidfile: Path) -> None:
        pidfile.unlink(missing_ok=True)
        logf = self._log_of(key)
        offset = log_offset(logf)
        # The daemons fork into the background at once: a fatal error after that shows only in
        # their log, so the log is read for why, not just the exit status.
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise _failure(f"{key} failed to start ({res.returncode})", logf, offset, res.stderr)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if pidfile.exists() and pidfile.read_text().strip():
                info.pids[key] = int(pidfile.read_text().strip())
                self._save(info)  # recorded at once: a later failing step must not orphan it
                return
            if time.monotonic() > deadline - 8.0 and not _running(cmd):
                break  # the forked daemon has exited already: no point waiting out the deadline
            time.sleep(0.1)
        raise _failure(f"{key} did not start (no pid file {pidfile.name})", logf, offset, res.stderr)

    def _start_daemon(self, info: ClusterInfo, env: dict[str, str]) -> None:
        exe = Path(os.environ.get("OMNIPILOT_PYTHON", "")) if os.environ.get("OMNIPILOT_PYTHON") else None
        python = str(exe) if exe else sys.executable
        logf = (self.dir / "log" / "omnipilot-daemon.log").open("ab")
        proc = subprocess.Popen(
            [python, "-m", "omnipilot.cli", "daemon", "--config", str(info.omnipilot_config)],
            env=env,
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        info.pids["omnipilot-daemon"] = proc.pid
        self._save(info)
        # ready = it answers on its control socket (a SIGKILLed daemon leaves its socket files behind)
        from omnipilot.daemon.control import ControlError, control_call

        sock = Path(info.endpoint.removeprefix("ipc://"))
        for _ in range(200):
            if sock.exists():
                try:
                    control_call(info.control_socket, {"cmd": "status"})
                    return
                except ControlError:
                    pass
            if proc.poll() is not None:
                raise ClusterError(
                    f"the OmniPilot daemon exited ({proc.returncode}); see {self.dir}/log/omnipilot-daemon.log"
                )
            time.sleep(0.05)
        raise ClusterError(
            f"the OmniPilot daemon did not open {sock}; see {self.dir}/log/omnipilot-daemon.log"
        )

    def _render_hook_settings(self, info: ClusterInfo) -> None:
        from omnipilot.config import load_settings
        from omnipilot.slurm.hooksettings import write_hook_settings

        write_hook_settings(load_settings(info.omnipilot_config), self.dir / "etc")

    def _wait_nodes(self, env: dict[str, str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            res = subprocess.run(
                ["sinfo", "-h", "-N", "-o", "%N %t"], env=env, capture_output=True, text=True
            )
            last = res.stdout + res.stderr
            states = {}
            for line in res.stdout.split("\n"):
                if line.strip():
                    name, st = line.split()
                    states[name] = st
            if (
                res.returncode == 0
                and len(states) == len(NODES)
                and all(s.rstrip("*") in ("idle", "mix", "alloc") for s in states.values())
            ):
                return
            time.sleep(0.5)
        info = self.info()
        dead = [
            k for k, pid in (info.pids if info else {}).items() if k.startswith("slurm") and not _alive(pid)
        ]
        if dead:  # a daemon that started and then stopped: its log says why
            raise _failure(
                f"nodes not ready after {timeout_s:.0f}s, {', '.join(dead)} stopped", self._log_of(dead[0]), 0
            )
        raise ClusterError(f"nodes not ready after {timeout_s:.0f}s: {last.strip()}; see {self.dir}/log")

    def stop_daemon(self) -> None:
        info = self.info()
        if info is None:
            return
        pid = info.pids.pop("omnipilot-daemon", None)
        if pid is not None:
            _terminate(pid)
        self._save(info)

    def start_daemon(self) -> None:
        info = self.info()
        if info is None:
            raise ClusterError(f"no cluster in {self.dir}: run `omnipilot cluster up` first")
        if not _alive(info.pids.get("omnipilot-daemon", -1)):
            self._start_daemon(info, {**os.environ, **info.env()})
            self._save(info)

    def down(self) -> list[str]:
        info = self.info()
        if info is None:
            return []
        stopped = []
        order = [
            "omnipilot-daemon",
            *[k for k in info.pids if k.startswith("slurmd:")],
            "slurmctld",
            "slurmdbd",
            "mariadbd",
        ]
        for key in order:
            pid = info.pids.pop(key, None)
            if pid is not None and _alive(pid):
                _terminate(pid)
                stopped.append(key)
        # munged is shared by every mini cluster on the host: the last one down stops it, if one of them
        # started it (another cluster may have found it running and still need it)
        info.pids.pop("munged", None)
        if MUNGE_MARKER.exists() and not _other_slurm_daemons():
            pid = int(MUNGE_MARKER.read_text().strip() or -1)
            if _alive(pid):
                _terminate(pid)
                stopped.append("munged")
            MUNGE_MARKER.unlink(missing_ok=True)
        self._save(info)
        return stopped

    def status(self) -> dict[str, object]:
        info = self.info()
        if info is None:
            return {"state_dir": str(self.dir), "up": False, "processes": {}}
        procs = {k: {"pid": v, "alive": _alive(v)} for k, v in info.pids.items()}
        up = bool(procs) and all(p["alive"] for p in procs.values())
        return {
            "state_dir": str(self.dir),
            "up": up,
            "slurm_version": info.slurm_version,
            "processes": procs,
            "env": info.env(),
        }


def _running(cmd: list[str]) -> bool:
    """Whether the daemon `cmd` forked off still runs: a process of that program whose arguments
    include all of cmd's (they name this cluster's slurm.conf and the node)."""
    want = set(cmd[1:])
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = path.read_bytes().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if args and Path(args[0]).name == Path(cmd[0]).name and want <= set(args[1:]):
            return True
    return False


def _other_slurm_daemons() -> bool:
    """Whether any slurmctld/slurmdbd still runs beside us (ours are stopped before this is asked).

    Only processes under the same root directory count: a chroot shares the host's process list
    but has its own /run/munge, so the host's daemons never use a munged started in the chroot.
    """
    ours = os.stat("/")
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() not in ("slurmctld", "slurmdbd"):
                continue
            root = os.stat(comm.parent / "root")
        except OSError:
            continue
        if (root.st_dev, root.st_ino) == (ours.st_dev, ours.st_ino):
            return True
    return False


def _terminate(pid: int, wait_s: float = 10.0) -> None:
    try:
        os.kill(pid, 15)
    except OSError:
        return
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, 9)
    except OSError:
        pass


def _merge_toml_sections(base: str, override: str) -> str:
    """Append override sections to a TOML text, dropping the keys they replace from the base.

    TOML forbids defining a table twice, so the overriding keys are moved into the base's tables.
    """
    import tomllib

    over = tomllib.loads(override)
    out: list[str] = []
    section = ""
    for line in base.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            section = stripped.strip("[]").strip()
            out.append(line)
            for key, val in over.get(section, {}).items():
                out.append(
                    f"{key} = {json.dumps(str(val)) if not isinstance(val, bool) else str(val).lower()}"
                )
            continue
        key = stripped.split("=", 1)[0].strip() if "=" in stripped and not stripped.startswith("#") else None
        if key and key in over.get(section, {}):
            continue
        out.append(line)
    present = {line.strip().strip("[]").strip() for line in base.splitlines() if line.strip().startswith("[")}
    for sec, vals in over.items():
        if sec not in present:
            out.append(f"[{sec}]")
            for key, val in vals.items():
                out.append(
                    f"{key} = {json.dumps(str(val)) if not isinstance(val, bool) else str(val).lower()}"
                )
    return "\n".join(out) + "\n"
