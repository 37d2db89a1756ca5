"""Slurm accounting for the mini cluster: MariaDB + slurmdbd under the cluster's own state dir.

Opt-in (`MiniCluster.up(accounting=True)`, `omnipilot cluster up --accounting`). MariaDB runs as
root from a private datadir on its own 127.0.0.1 port and unix socket (so it never touches a
site's /run/mysqld); slurmdbd reads `slurmdbd.conf` beside `$SLURM_CONF` (22.05 takes no `-f`),
mode 600. The cluster is registered with `sacctmgr` before slurmctld first starts, otherwise
slurmctld stops with "CLUSTER ID MISMATCH" (SLURM_NOTES.md).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from pathlib import Path

import structlog

log = structlog.get_logger("omnipilot.minicluster.accounting")

DB_NAME = "slurm_acct_db"
DB_USER = "slurm"
ACCOUNT = "omni"
# TRES names that make sacct report GPU counts per kind (`gres/gpu:h100=2` in AllocTRES)
GPU_TRES = ("gres/gpu", "gres/gpu:a100", "gres/gpu:h100", "gres/gpu:h200")


class AccountingError(RuntimeError):
    pass


def conf_lines(db_port: int, dbd_port: int, host: str) -> list[str]:
    """slurm.conf lines that replace `AccountingStorageType=accounting_storage/none`."""
    del db_port  # slurmctld talks only to slurmdbd
    return [
        "AccountingStorageType=accounting_storage/slurmdbd",
        f"AccountingStorageHost={host}",
        f"AccountingStoragePort={dbd_port}",
        f"AccountingStorageTRES={','.join(GPU_TRES)}",
        "AccountingStoreFlags=job_comment",
        # as sites run it: only users with an association submit, and QOS/association limits
        # (MaxTRESPerJob, GrpTRES...) hold jobs back; enforce must respect them (issue 13)
        "AccountingStorageEnforce=associations,limits,qos",
    ]


def write_slurmdbd_conf(state_dir: Path, db_port: int, dbd_port: int, host: str, password: str) -> Path:
    path = state_dir / "etc" / "slurmdbd.conf"
    text = (
        "\n".join(
            [
                "# Written by `omnipilot cluster up --accounting`.",
                "AuthType=auth/munge",
                f"DbdHost={host}",
                "DbdAddr=127.0.0.1",
                f"DbdPort={dbd_port}",
                "SlurmUser=root",
                f"PidFile={state_dir}/run/slurmdbd.pid",
                f"LogFile={state_dir}/log/slurmdbd.log",
                "DebugLevel=info",
                "StorageType=accounting_storage/mysql",
                "StorageHost=127.0.0.1",  # TCP: "localhost" would make libmysql use /run/mysqld/mysqld.sock
                f"StoragePort={db_port}",
                f"StorageUser={DB_USER}",
                f"StoragePass={password}",
                f"StorageLoc={DB_NAME}",
            ]
        )
        + "\n"
    )
    path.write_text(text)
    path.chmod(0o600)  # slurmdbd refuses a readable file holding the password
    return path


class MariaDb:
    """A private MariaDB server: datadir, socket and pid file under `<state>/mysql`."""

    def __init__(self, state_dir: Path, port: int) -> None:
        self.dir = state_dir / "mysql"
        self.datadir = self.dir / "data"
        self.socket = self.dir / "mysqld.sock"
        self.pidfile = self.dir / "mysqld.pid"
        self.port = port

    def _client(self, sql: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["mariadb", "--no-defaults", "-S", str(self.socket), "-u", "root", "-e", sql],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def start(self) -> int:
        for exe in ("mariadbd", "mariadb-install-db"):
            if shutil.which(exe) is None:
                raise AccountingError(
                    f"{exe} is not installed: run install.sh (apt-get install mariadb-server)"
                )
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.datadir / "mysql").exists():
            res = subprocess.run(
                [
                    "mariadb-install-db",
                    "--no-defaults",
                    "--user=root",
                    f"--datadir={self.datadir}",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if res.returncode != 0:
                raise AccountingError(f"mariadb-install-db failed: {res.stderr.strip()[-400:]}")
        self.pidfile.unlink(missing_ok=True)
        subprocess.Popen(
            [
                "mariadbd",
                "--no-defaults",
                "--user=root",
                f"--datadir={self.datadir}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.pidfile}",
                f"--log-error={self.dir}/mariadbd.log",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
                "--performance-schema=OFF",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (
                self.pidfile.exists()
                and self.pidfile.read_text().strip()
                and self._client("SELECT 1").returncode == 0
            ):
                return int(self.pidfile.read_text().strip())
            time.sleep(0.2)
        raise AccountingError(f"MariaDB did not start; see {self.dir}/mariadbd.log")

    def grant(self, password: str) -> None:
        # created beforehand: MariaDB 11.8 slurmdbd dies creating it itself (SLURM_NOTES.md 24.11 §7)
        sql = (
            f"CREATE DATABASE IF NOT EXISTS {DB_NAME}; "
            f"CREATE USER IF NOT EXISTS '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{password}'; "
            f"ALTER USER '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{password}'; "
            f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'127.0.0.1'; FLUSH PRIVILEGES;"
        )
        res = self._client(sql)
        if res.returncode != 0:
            raise AccountingError(f"could not create the accounting database: {res.stderr.strip()}")


def new_password() -> str:
    return secrets.token_hex(12)


def start_slurmdbd(state_dir: Path, env: dict[str, str], timeout_s: float = 60.0) -> int:
    pidfile = state_dir / "run" / "slurmdbd.pid"
    pidfile.unlink(missing_ok=True)
    res = subprocess.run(["slurmdbd"], env=env, capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise AccountingError(
            f"slurmdbd failed to start ({res.returncode}): {res.stderr.strip()}; "
            f"see {state_dir}/log/slurmdbd.log"
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pidfile.exists() and pidfile.read_text().strip():
            probe = subprocess.run(
                ["sacctmgr", "-n", "-P", "list", "cluster"],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            if probe.returncode == 0:
                return int(pidfile.read_text().strip())
        time.sleep(0.3)
    raise AccountingError(f"slurmdbd did not answer in {timeout_s:.0f}s; see {state_dir}/log/slurmdbd.log")


def register(cluster: str, users: list[str], env: dict[str, str]) -> None:
    """Cluster, one account and the users' associations (idempotent: 'already exists' is fine)."""
    cmds = [
        ["sacctmgr", "-i", "add", "cluster", cluster],
        [
            "sacctmgr",
            "-i",
            "add",
            "account",
            ACCOUNT,
            f"cluster={cluster}",
            "description=omnipilot",
            "organization=omnipilot",
        ],
        *[["sacctmgr", "-i", "add", "user", u, f"account={ACCOUNT}", f"cluster={cluster}"] for u in users],
    ]
    for cmd in cmds:
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
        out = (res.stdout + res.stderr).lower()
        if res.returncode != 0 and "already exist" not in out and "nothing new added" not in out:
            raise AccountingError(f"{' '.join(cmd)} failed: {(res.stdout + res.stderr).strip()}")
