"""Starts the daemon: settings → catalog, cost model, state cache, mode, decision log, servers."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import structlog

from omnipilot.config import Settings
from omnipilot.daemon.clusterstate.cache import StateCache, select_backend
from omnipilot.daemon.control import ControlServer, allowed_uids
from omnipilot.daemon.decisionlog import DecisionLog
from omnipilot.daemon.modes import MODES, ModeStore
from omnipilot.daemon.server import Server
from omnipilot.daemon.service import AdviceService
from omnipilot.logs import configure

log = structlog.get_logger("omnipilot.daemon")


def run_daemon(settings: Settings) -> int:
    configure(settings.daemon.log_format, settings.daemon.log_level)
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
    try:
        log.info("warmed_up", ms=round(service.warm_up(), 1))
    except Exception:  # a bug the warm-up hits would cost one fail-open job, never the daemon
        log.exception("warm_up_failed")
    server = Server(settings.daemon.endpoint, settings.daemon.max_message_bytes, service.answer, dlog.write)
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
                "counts": {**service.counts, "errors": server.errors},
                "state_age_s": round(snap.age_s(), 1) if snap.taken_at else None,
                "state_freshness": snap.freshness(settings.state.fresh_s, settings.state.stale_s),
                "hook_failures_reported": service.hook_failures_reported,
                "endpoint": settings.daemon.endpoint,
            }
        if cmd == "reload":
            warning = service.load_model()
            return {"ok": True, "model_version": service.model_version, "warning": warning}
        return {"ok": False, "error": f"unknown command {cmd!r} (mode, status, reload)"}

    ctl = ControlServer(
        Path(settings.daemon.control_socket), allowed_uids(settings.daemon.slurm_user), control
    )
    ctl.start()
    server.bind()

    def reload_on_hup() -> None:
        service.load_model()

    server.install_signal_handlers(on_hup=reload_on_hup)
    log.info("daemon_started", mode=modes.mode, model=service.model_version, pid=os.getpid())
    try:
        server.serve_forever()
    finally:
        ctl.stop()
        state.stop()
        dlog.close()
        if settings.daemon.endpoint.startswith("ipc://"):
            Path(settings.daemon.endpoint.removeprefix("ipc://")).unlink(missing_ok=True)
        log.info("daemon_stopped")
    return 0
