"""Prometheus metrics of the daemon, served on a local HTTP port when `[metrics] enabled = true`.

Counted after the reply has gone out (from the decision record the server hands its writer), so a
job never waits on them; the rest (mode, model version, cluster-state age, fail-opens the hook
reported) is read when Prometheus scrapes. Label values come from short fixed vocabularies: free
text (abstention reasons, enforce blockers) is mapped onto a cause, never exported as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from omnipilot.advisor.abstain_causes import Causes, abstain_cause, cause_of
from omnipilot.config import Settings
from omnipilot.daemon.modes import MODES

if TYPE_CHECKING:
    from omnipilot.daemon.clusterstate.cache import StateCache
    from omnipilot.daemon.modes import ModeStore
    from omnipilot.daemon.protocol import AdviseRequest
    from omnipilot.daemon.service import AdviceService

log = structlog.get_logger("omnipilot.metrics")

# seconds; the hook's shipped timeout (50 ms) falls between two buckets' edges on purpose
ANSWER_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0)

_ENFORCE_CAUSES: Causes = (
    (re.compile(r"scoped to partitions"), "partition_scope"),
    (re.compile(r"scoped to accounts"), "account_scope"),
    (re.compile(r"pins nodes or features"), "pinned_nodes"),
    (re.compile(r"no cost model"), "no_model"),
    (re.compile(r"not confident"), "low_confidence"),
    (re.compile(r"multi-node"), "multi_node"),
    (re.compile(r"replicas"), "data_or_pipeline_parallel"),
    (re.compile(r"MaxTime|time limit"), "time_limit"),
    (re.compile(r"too long to be sent whole"), "script_truncated"),
    (re.compile(r"could not be rewritten"), "rewrite_unsafe"),
    (re.compile(r"GPU-hours|gpu hours", re.IGNORECASE), "more_gpu_hours"),
)


class _Readings(Collector):
    """What is read at scrape time: nothing on the request path keeps these up to date."""

    def __init__(
        self, service: AdviceService, modes: ModeStore, state: StateCache, late: Callable[[], int]
    ) -> None:
        self.service, self.modes, self.state, self.late = service, modes, state, late

    def collect(self) -> Iterator[Metric]:
        mode = GaugeMetricFamily("omnipilot_mode", "1 for the daemon's current mode", labels=["mode"])
        current = self.modes.mode
        for m in MODES:
            mode.add_metric([m], 1.0 if m == current else 0.0)
        yield mode
        model = GaugeMetricFamily("omnipilot_model_info", "the cost model serving (1)", labels=["version"])
        model.add_metric([self.service.model_version], 1.0)
        yield model
        snap = self.state.snapshot
        age = GaugeMetricFamily("omnipilot_cluster_state_age_seconds", "age of the cluster-state snapshot")
        age.add_metric([], snap.age_s() if snap.taken_at else float("nan"))
        yield age
        fail = CounterMetricFamily(
            "omnipilot_hook_fail_open", "jobs the hook let through unadvised (reported with its next request)"
        )
        fail.add_metric([], float(self.service.hook_failures_reported))
        yield fail
        late = CounterMetricFamily(
            "omnipilot_hook_late_answers", "answers that came after the hook had given up (the hook reported them)"
        )
        late.add_metric([], float(self.late()))
        yield late


class DaemonMetrics:
    def __init__(
        self, settings: Settings, service: AdviceService, modes: ModeStore, state: StateCache,
        late: Callable[[], int] = lambda: 0,
    ) -> None:  # fmt: skip
        self.registry = CollectorRegistry(auto_describe=True)
        self.timeout_s = settings.hook.timeout_ms / 1000.0
        r = self.registry
        self.decisions = Counter(
            "omnipilot_decisions", "answered requests by mode, outcome and the advised arm's confidence",
            ["mode", "outcome", "confidence"], registry=r,
        )  # fmt: skip
        self.answer_time = Histogram(
            "omnipilot_answer_seconds", "time from a request's arrival to its reply being sent",
            buckets=ANSWER_BUCKETS, registry=r,
        )  # fmt: skip
        self.slow = Counter(
            "omnipilot_answers_over_hook_timeout", "answers the daemon itself took longer than the hook's timeout over",
            registry=r,
        )  # fmt: skip
        self.abstentions = Counter(
            "omnipilot_abstentions", "low-confidence best arms, the cheapest-fit rule advised instead",
            ["reason"], registry=r,
        )  # fmt: skip
        self.rewrites = Counter(
            "omnipilot_enforce_rewrites", "enforced jobs by what was rewritten", ["cause"], registry=r
        )
        self.refusals = Counter(
            "omnipilot_enforce_refusals", "enforce-mode jobs only suggested, by why", ["cause"], registry=r
        )
        r.register(_Readings(service, modes, state, late))
        self.url: str | None = None

    def serve(self, address: str, port: int) -> str:
        server, _thread = start_http_server(port, addr=address, registry=self.registry)
        host, bound = server.server_address[:2]
        shown = f"[{host!s}]" if ":" in str(host) else str(host)
        self.url = f"http://{shown}:{bound}/metrics"
        log.info("metrics_serving", url=self.url)
        return self.url

    def observe(self, record: dict[str, Any]) -> None:
        """Count one answered request from its decision record (after its reply was sent)."""
        self.decisions.labels(
            str(record.get("mode", "?")), str(record.get("outcome", "?")), str(record.get("confidence", "none"))
        ).inc()
        ms = record.get("latency_ms")
        if isinstance(ms, int | float):
            self.answer_time.observe(ms / 1000.0)
            if ms / 1000.0 > self.timeout_s:
                self.slow.inc()
        because = record.get("abstained_because")
        if because:
            self.abstentions.labels(abstain_cause(str(because))).inc()
        if record.get("mode") != "enforce":
            return
        if record.get("degraded"):
            self.refusals.labels(cause_of(str(record["degraded"]), _ENFORCE_CAUSES)).inc()
        elif record.get("action") == "enforce":
            if record.get("set"):
                self.rewrites.labels("gpu_request").inc()
            if record.get("script_rewritten"):
                self.rewrites.labels("script").inc()

    def after(
        self, write: Callable[[dict[str, Any], AdviseRequest], None]
    ) -> Callable[[dict[str, Any], AdviseRequest], None]:
        """The server's after-reply callback: count, then hand the record to the decision log."""

        def counted(record: dict[str, Any], req: AdviseRequest) -> None:
            try:
                self.observe(record)
            except Exception:  # a metrics bug must never cost a decision record
                log.exception("metrics_failed")
            write(record, req)

        return counted


def start_metrics(
    settings: Settings, service: AdviceService, modes: ModeStore, state: StateCache,
    late: Callable[[], int] = lambda: 0,
) -> DaemonMetrics | None:  # fmt: skip
    """The daemon's metrics, serving; None when `[metrics]` is off or its port cannot be bound.
    `late` counts the answers the hook reported it had given up on."""
    m = settings.metrics
    if not m.enabled:
        return None
    metrics = DaemonMetrics(settings, service, modes, state, late)
    try:
        metrics.serve(m.address, m.port)
    except OSError as exc:  # the advice matters more than its metrics: serve on without them
        log.error("metrics_not_served", address=m.address, port=m.port, error=str(exc))
        return None
    return metrics
