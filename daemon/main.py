"""Starts the daemon: claim its sockets → settings → catalog, cost model, state cache, mode, decision
log, servers (the hook's, control, explain)."""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path
from typing import Any

import structlog

from omnipilot.config import Settings
from omnipilot.daemon.clusterstate.cache import StateCache, select_backend
from omnipilot.daemon.control import ControlServer, allowed_uids, explain_socket
from omnipilot.daemon.decisionlog import DecisionLog, find_decision
from omnipilot.daemon.metrics import start_metrics
from omnipilot.daemon.modes import MODES, ModeStore
from omnipilot.daemon.server import Server
from omnipilot.daemon.service import AdviceService
from omnipilot.logs import configure

log = structlog.get_logger("omnipilot.daemon")


class AlreadyRunning(RuntimeError):
    """Another daemon serves these sockets: this one must not take them over."""


def _answers(path: Path) -> bool:
    """Whether a process accepts connections on this unix socket (a stale file refuses them)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def claim_sockets(settings: Settings) -> int:
    """Take the daemon's lock (a file beside the control socket, held while it runs) and make sure no
    other process serves its sockets; returns the lock's fd. A second daemon started by hand would
    otherwise rebind both sockets, orphan the real one, and remove them when it exits."""
    d = settings.daemon
    lock_path = d.control_socket.with_name(d.control_socket.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    sockets = [d.control_socket]
    if d.endpoint.startswith("ipc://"):
        sockets.append(Path(d.endpoint.removeprefix("ipc://")))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise AlreadyRunning(
            f"another OmniPilot daemon (pid {pid}) already serves {d.endpoint} and {d.control_socket}; "
            "this one does not start. Stop that one first (systemctl stop omnipilot), "
            "or give this one other paths with --config"
        ) from None
    live = [str(p) for p in sockets if _answers(p)]
    if live:
        os.close(fd)
        raise AlreadyRunning(
            f"a process already answers on {', '.join(live)} (a daemon that holds no lock at {lock_path}?); "
            "this one does not start. Stop that process first"
        )
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def explain_handler(settings: Settings, admins: set[int]) -> Any:
    """The explain socket's handler: a decision goes to the job's owner (the submit uid the hook
    sent) or an admin (root, SlurmUser); anyone else is told it is another user's job."""
    path = settings.decision_log_path

    def explain(req: dict[str, Any], uid: int) -> dict[str, Any]:
        token = req.get("token")
        if req.get("cmd") != "explain" or not isinstance(token, str) or not token.isalnum() or len(token) > 32:
            return {"ok": False, "error": "ask with {\"cmd\": \"explain\", \"token\": TOKEN} (letters and digits)"}
        rec = find_decision(path, token)
        if rec is None:
            return {"ok": False, "error": f"no decision with token {token} in the daemon's log"}
        if uid not in admins and rec.get("uid") != uid:
            log.warning("explain_denied", uid=uid, token=token)
            return {"ok": False, "error": f"decision {token} is about another user's job: only its owner or an admin may read it"}
        return {"ok": True, "record": rec}

    return explain


def _warn_if_unreachable(path: Path) -> None:
    """Users reach the explain socket only through directories they may traverse (o+x)."""
    for d in path.parents:
        try:
            closed = not os.stat(d).st_mode & 0o001
        except OSError:
            return
        if closed:
            log.warning(
                "explain_socket_unreachable", socket=str(path), directory=str(d),
                hint="users cannot run `omnipilot explain` through the daemon: make the directory o+x "
                "(RuntimeDirectoryMode=0755 in the systemd unit)",
            )  # fmt: skip
            return


def run_daemon(settings: Settings) -> int:
    configure(settings.daemon.log_format, settings.daemon.log_level)
    lock_fd = claim_sockets(settings)  # raises AlreadyRunning before anything is bound or removed
    settings.daemon.state_dir.mkdir(parents=True, exist_ok=True)
    state = StateCache(select_backend(settings.state.backend).read, settings.state.refresh_s)
    state.refresh()  # before serving: the first answers should not see an empty cluster
    state.start()
    modes = ModeStore(settings.daemon.state_dir, settings.daemon.initial_mode)
    dlog = DecisionLog(
        settings.decision_log_path, settings.decision_log.max_bytes, settings.decision_log.keep
    )
    service = AdviceService(settings, state, modes)
    service.load_model()
    service.checkpoints.start()  # reads model directories' config.json off the request path
    try:
        log.info("warmed_up", ms=round(service.warm_up(), 1))
    except Exception:  # a bug the warm-up hits would cost one fail-open job, never the daemon
        log.exception("warm_up_failed")
    metrics = start_metrics(settings, service, modes, state, lambda: sum(dict(dlog.given_up).values()))
    after_reply = metrics.after(dlog.write) if metrics else dlog.write  # counted after the reply is sent
    server = Server(settings.daemon.endpoint, settings.daemon.max_message_bytes, service.answer, after_reply)
    admins = allowed_uids(settings.daemon.slurm_user)
    started = time.time()

    def control(req: dict[str, Any], uid: int) -> dict[str, Any]:
        cmd = req.get("cmd")
        if cmd == "mode":
            if req.get("set"):
                if req["set"] not in MODES:
                    return {
                        "ok": False,
                        "error": f"unknown mode {req['set']!r}: choose one of {', '.join(MODES)}",
                    }
                modes.set(str(req["set"]), by_uid=uid)
            return {"ok": True, "mode": modes.mode}
        if cmd == "status":
            snap = state.snapshot
            return {
                "ok": True,
                "pid": os.getpid(),
                "uptime_s": time.time() - started,
                "mode": modes.mode,
                "model_version": service.model_version,
                # each job counted once: an answer the hook gave up on is one of its fail-opens
                "counts": {
                    **{k: v - dlog.given_up.get(k, 0) for k, v in service.counts.items()},
                    "errors": server.errors,
                },
                "answered_too_late": sum(dlog.given_up.values()),
                "state_age_s": round(snap.age_s(), 1) if snap.taken_at else None,
                "state_freshness": snap.freshness(settings.state.fresh_s, settings.state.stale_s),
                "hook_failures_reported": service.hook_failures_reported,
                "endpoint": settings.daemon.endpoint,
                "metrics_url": metrics.url if metrics else None,
            }
        if cmd == "reload":
            warning = service.load_model()
            if warning:  # something was not reloaded: the admin's command must fail, naming it
                return {"ok": False, "error": f"reload failed: {warning}", "model_version": service.model_version}
            return {"ok": True, "model_version": service.model_version}
        return {"ok": False, "error": f"unknown command {cmd!r} (mode, status, reload)"}

    ctl = ControlServer(Path(settings.daemon.control_socket), admins, control)
    ctl.start()
    explainer = ControlServer(
        explain_socket(settings.daemon.control_socket), None, explain_handler(settings, admins), mode=0o666
    )
    explainer.start()
    _warn_if_unreachable(explainer.path)
    server.bind()

    def reload_on_hup() -> None:
        service.load_model()

    server.install_signal_handlers(on_hup=reload_on_hup)
    log.info("daemon_started", mode=modes.mode, model=service.model_version, pid=os.getpid())
    try:
        server.serve_forever()
    finally:
        ctl.stop()
        explainer.stop()
        state.stop()
        service.checkpoints.stop()
        dlog.close()
        if settings.daemon.endpoint.startswith("ipc://"):
            Path(settings.daemon.endpoint.removeprefix("ipc://")).unlink(missing_ok=True)
        log.info("daemon_stopped")
        os.close(lock_fd)
    return 0
