"""The request path: one AdviseRequest → one AdviseReply and its decision record. In memory only."""

from __future__ import annotations

import gc
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from omnipilot.advisor.arms import Arm, Workload
from omnipilot.advisor.decide import Decision, Intent, Prediction, ScoredArm, Scorer, decide
from omnipilot.advisor.prior import LaunchPrior, load_prior
from omnipilot.advisor.utility import judged_slo_s
from omnipilot.catalog import Catalog, CatalogError, ModelSpec
from omnipilot.config import Settings
from omnipilot.daemon.checkpoint_cache import CheckpointCache
from omnipilot.daemon.clusterstate.cache import StateCache, parse_gres
from omnipilot.daemon.clusterstate.queue_term import SnapshotQueue
from omnipilot.daemon.decisionlog import LAZY_KEY
from omnipilot.daemon.gpu_request import Refused, asked_total, env_values, job_tasks, limit_problem
from omnipilot.daemon.intent import Refusal, build_intent
from omnipilot.daemon.jobscript.parse import ParsedJob, parse_job
from omnipilot.daemon.modes import ModeStore
from omnipilot.daemon.protocol import AdviseReply, AdviseRequest
from omnipilot.daemon.reply import (
    EnforcePlan,
    advice_reply,
    arm_text,
    choose_partition,
    enforce_blocker,
    gpu_fields,
    info_reply,
    job_env,
    more_gpu_hours,
)

if TYPE_CHECKING:
    from omnipilot.daemon.model_loading import RequestScorers

log = structlog.get_logger("omnipilot.service")
_TOKEN_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


DECISION_CACHE_SIZE = 1024


def settle_heap() -> None:
    """The model, the catalogs and the imports live as long as the daemon: freeze them out of the
    garbage collector's reach, so that a full collection during a request scans only what requests
    made. After a reload the old model's objects are collected first."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def new_token() -> str:
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(8))


class AdviceService:
    def __init__(self, settings: Settings, state: StateCache, modes: ModeStore) -> None:
        self.settings = settings
        self.state = state
        self.modes = modes
        self.catalog = self._load_catalog()
        self.checkpoints = CheckpointCache()  # config.json of model paths; main.py starts its reader
        self.scorer: RequestScorers | None = None
        self.prior = LaunchPrior([], default_success=settings.prior.default_success)
        self._queue_cache: tuple[float, SnapshotQueue] | None = None
        self.model_version = "none (cheapest-fit rule only)"
        self.counts: dict[str, int] = {}
        self._decisions: dict[tuple[object, ...], Decision] = {}
        self.hook_failures_reported = 0
        self._fail_open_base = 0
        self._fail_open_totals: dict[str, int] = {}
        self._lock = threading.Lock()
        # Set by warm_up, i.e. in the daemon only (not in tests or commands that build a service):
        # the heap is kept settled (see _remember).
        self._serving = False

    def _load_catalog(self) -> Catalog:
        m = self.settings.model
        return Catalog.load(
            Path(m.models_catalog) if m.models_catalog else None,
            Path(m.gpus_catalog) if m.gpus_catalog else None,
        )

    def load_model(self) -> str | None:
        """(Re)load catalogs and the cost model; on failure keep what was serving and say why."""
        from omnipilot.daemon.model_loading import load_scorer

        warning = None
        try:
            catalog = self._load_catalog()
        except CatalogError as exc:
            warning = f"catalog not reloaded: {exc}"
            log.error("catalog_reload_failed", error=str(exc))
            catalog = self.catalog
        try:
            self.prior = load_prior(self.settings, catalog)
        except (OSError, UnicodeDecodeError) as exc:
            log.error("prior_load_failed", error=str(exc), keeping=self.prior.source)
        try:
            scorer, version = load_scorer(self.settings, catalog)
        except Exception as exc:
            msg = f"cost model not loaded, keeping {self.model_version}: {exc}"
            log.error("model_load_failed", error=str(exc), keeping=self.model_version)
            warning = f"{warning}; {msg}" if warning else msg
            with self._lock:
                self.catalog, self._decisions = catalog, {}
            return warning
        with self._lock:
            self.catalog, self.scorer, self.model_version = catalog, scorer, version
            self._decisions = {}
        if self._serving:
            settle_heap()
        log.info("model_loaded", version=version)
        return warning

    def warm_up(self) -> float:
        """Prepare the process to serve (the daemon calls it once, before binding its socket): answer a
        built-in request, so that lazy imports and first calls are paid here rather than by a real
        job, then settle the heap (see settle_heap and _remember). Nothing is compiled: a few ms."""
        t0 = time.perf_counter()
        script = (
            "#!/bin/bash\nvllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2 --max-model-len 4096\n"
        )
        req = AdviseRequest(v=1, id="warm-up", script=script, tres_per_node="gres:gpu:2")
        counts = dict(self.counts)
        for _ in range(2):
            self.answer(req)
        self.counts = counts
        self._serving = True
        settle_heap()
        return (time.perf_counter() - t0) * 1e3

    def _queue_state(self) -> SnapshotQueue:
        """Queue view of the current snapshot, one per snapshot (its estimates are memoised)."""
        snap = self.state.snapshot
        cached = self._queue_cache
        if cached is not None and cached[0] == snap.taken_at:
            return cached[1]
        qs = SnapshotQueue(snap)
        self._queue_cache = (snap.taken_at, qs)
        return qs

    def _decide(self, intent: Intent) -> tuple[Decision, float | None]:
        """decide() is pure in the intent, the snapshot and the loaded model: resubmitted jobs (the
        common case at a site) reuse the answer until the next state refresh or reload. This memo
        is the request path's one cache (the scorer keeps none). Also returns the milliseconds the
        cost model took (None: answered from the memo, or no model)."""
        snap = self.state.snapshot
        key = (intent.model.name, intent.workload, tuple(intent.part_list), intent.gpu_filter,
               intent.own_checkpoint, intent.served, intent.own_weights, tuple(vars(intent.asked).values()), intent.slo_ttft_ms, intent.runtime_h, snap.taken_at, self.model_version)  # fmt: skip
        hit = self._decisions.get(key)
        if hit is not None:
            return hit, None
        scorers, spent = self.scorer, [0.0]
        slo = self._slo_s(intent) is not None
        scorer = None if scorers is None else scorers.with_ttft if slo else scorers.plain
        timed: Scorer | None = None
        if scorer is not None:

            def timed(spec: ModelSpec, work: Workload, arms: Sequence[Arm]) -> list[Prediction]:
                t0 = time.perf_counter()
                try:
                    return scorer(spec, work, arms)
                finally:
                    spent[0] += time.perf_counter() - t0

        hit = decide(
            intent, snap.kinds_by_partition(), self.catalog, self.cost_rates(), scorer=timed,
            gpu_memory_utilization=self.settings.defaults.gpu_memory_utilization,
            utility=self.settings.utility, prior=self.prior, queue=self._queue_state(),
        )  # fmt: skip
        self._remember(key, hit)
        return hit, spent[0] * 1e3 if scorer is not None else None

    def _remember(self, key: tuple[object, ...], decision: Decision) -> None:
        """Memoise a decision. A full memo holds ~700k objects (a decision is ~700): left to the
        garbage collector, every full collection scanned them all, stalling an answer by 0.1-0.4 s
        every few hundred new jobs. So the daemon freezes them out of its reach, after a young
        collection (~20 µs) has freed the few reference cycles a request leaves behind; an evicted
        decision is still freed (by reference counting: decisions hold no cycles)."""
        self._decisions[key] = decision
        if len(self._decisions) > DECISION_CACHE_SIZE:
            self._decisions.pop(next(iter(self._decisions)))
        if self._serving:
            gc.collect(1)
            gc.freeze()

    def _count_fail_opens(self, req: AdviseRequest) -> None:
        """A hook that names itself sends its running total: the largest seen per hook counts, so a
        total re-sent after a lost reply is not added twice (an older hook sends increments)."""
        if req.hook_id is None or req.fail_open_total is None:
            self._fail_open_base += req.fail_open_since_last
        else:
            totals = self._fail_open_totals
            totals[req.hook_id] = max(totals.pop(req.hook_id, 0), req.fail_open_total)
            if len(totals) > 64:  # hooks gone (reloads): keep their counts, forget their ids
                self._fail_open_base += totals.pop(next(iter(totals)))
        self.hook_failures_reported = self._fail_open_base + sum(self._fail_open_totals.values())

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def cost_rates(self) -> dict[str, float]:
        rates = {g.name: g.cost_per_gpu_hour for g in self.catalog.gpus}
        rates.update(self.settings.cost.per_gpu_hour)
        return rates

    def answer(self, req: AdviseRequest) -> tuple[AdviseReply, dict[str, Any]]:
        t0 = time.perf_counter()
        self._count_fail_opens(req)
        mode = self.modes.mode
        token = new_token()
        # What only the log needs is built by its writer thread, after the reply has gone out.
        later: list[Callable[[], dict[str, Any]]] = [
            lambda: {"request": req.model_dump(exclude={"script"}, exclude_none=True)}
        ]
        record: dict[str, Any] = {
            "ts": time.time(),
            "token": token,
            "id": req.id,
            "mode": mode,
            "model_version": self.model_version,
            "uid": req.submit_uid,
            LAZY_KEY: lambda: {k: v for part in later for k, v in part().items()},
        }
        if mode == "off":
            self._count("off")
            return AdviseReply(id=req.id, action="none"), {**record, "outcome": "mode_off"}
        # the job's real GPU count resolves $SLURM_GPUS_ON_NODE even when sbatch flags override #SBATCH
        per_node = parse_gres(req.tres_per_node or req.gres)[1] or None
        parsed = parse_job(
            req.script, req.comment, self.catalog, gpus_per_node=per_node,
            checkpoints=lambda path: self.checkpoints.lookup(path, req.submit_uid), no_args=req.script_args() == [],
            args=req.script_args(),
        )  # fmt: skip
        later.append(lambda: {"parsed": parsed.summary()})
        built = build_intent(req, parsed, self.settings, self.catalog, self.state.snapshot)
        if isinstance(built, Refusal):
            self._count(built.outcome)
            record["outcome"] = built.outcome
            if built.outcome in ("opted_out", "not_serving") or mode == "observe":
                return AdviseReply(id=req.id, action="none"), record
            return info_reply(req, token, built.comment, built.message), record
        intent = built
        decision, score_ms = self._decide(intent)
        later.append(lambda: self._decision_record(intent, decision))
        record["outcome"] = decision.outcome
        self._count(decision.outcome)
        record["confidence"] = decision.choice.confidence if decision.choice else "none"  # metrics, report
        if decision.abstained:
            record["abstained_because"] = decision.notes[-1]
        if decision.choice is None:
            return self._no_choice(req, token, intent, decision, mode), record
        if decision.choice.prediction is not None and decision.choice.prediction.confidence == "low":
            self._count("abstained")
        if mode == "observe":
            record["action"] = "observe"
            return AdviseReply(id=req.id, action="observe", token=token), record
        plan, degraded = (
            self._enforce_plan(req, token, intent, decision, parsed) if mode == "enforce" else (None, None)
        )
        limited = None
        if plan is not None and plan.arm is not None:  # the advised arm is over the job's limits
            record["limited"] = plan.notes[0]
            decision = decision.model_copy(update={"choice": plan.arm})
        elif mode == "suggest":  # a suggestion the job's limits would leave pending helps no one
            within = self._arm_within_limits(req, decision, True, "advised")
            if isinstance(within, str):
                limited = within
            elif within[1] is not None:
                limited = within[1]
                decision = decision.model_copy(update={"choice": within[0]})
            if limited:
                record["limited"] = limited
        reply = advice_reply(req, token, mode, intent, decision, plan, degraded)
        if limited and reply.user_message:
            reply.user_message += "\n  limits: " + limited
        if decision.abstained and reply.user_message:  # issue 5 item 4: the answer says it fell back
            reply.user_message += "\n  fallback: " + decision.notes[-1]
        pitfall = next((u for u in parsed.unresolved if "never reach vLLM" in u), None)
        if pitfall and reply.user_message:  # a script bug the user would otherwise only find at run time
            reply.user_message += "\n  script: " + pitfall
        record.update(
            {
                "action": reply.action,
                "degraded": degraded,
                "set": reply.set,
                "env": reply.env,
                "script_rewritten": reply.script is not None,
                "decide_ms": (time.perf_counter() - t0) * 1e3,
                "score_ms": score_ms,
            }
        )
        return reply, record

    def _no_choice(
        self, req: AdviseRequest, token: str, intent: Intent, decision: Decision, mode: str
    ) -> AdviseReply:
        if mode == "observe":
            return AdviseReply(id=req.id, action="observe", token=token)
        name = intent.model.name
        if decision.outcome == "no_fit":
            where = (
                f"; the smallest single-node arm that would fit elsewhere is {decision.smallest_elsewhere}"
                if decision.smallest_elsewhere
                else "; no single-node arm of any known GPU kind fits"
            )
            text = f"no fit: {name} does not fit on any single node this job may use"
            msg = (
                f"omnipilot: {name} at context {intent.workload.context} does not fit in the memory of any "
                f"single node you may use{where}. Job left unchanged."
            )
            return info_reply(req, token, text, msg)
        text = "no advice: " + "; ".join(decision.notes or ["no usable GPU partitions"])
        return info_reply(req, token, text, "omnipilot: " + text + ". Job left unchanged.")

    def _enforce_plan(
        self, req: AdviseRequest, token: str, intent: Intent, decision: Decision, parsed: ParsedJob
    ) -> tuple[EnforcePlan | None, str | None]:
        from omnipilot.daemon.jobscript.rewrite import rewrite_srun_gpus, rewrite_vllm

        e = self.settings.enforce
        part = (req.partition or "").split(",")[0]
        if e.partitions and part not in e.partitions:
            return None, f"enforce is scoped to partitions {', '.join(e.partitions)}"
        if e.accounts and (req.account or "") not in e.accounts:
            return None, f"enforce is scoped to accounts {', '.join(e.accounts)}"
        blocker = enforce_blocker(req, intent, decision, e.allow_low_confidence)
        if blocker is None and ((parsed.dp or 1) > 1 or (parsed.pp or 1) > 1):
            # the GPU request covers several replicas or stages: rewriting it to one arm would break the job
            blocker = "the job runs data- or pipeline-parallel replicas; OmniPilot advises one replica and does not resize it"
        if blocker is None and decision.abstained and not e.allow_low_confidence:
            blocker = (
                "the model is not confident about the best arm; the fallback rule's choice is only suggested"
            )
        if blocker:
            return None, blocker
        snap = self.state.snapshot
        within = self._arm_within_limits(req, decision, e.allow_low_confidence)
        if isinstance(within, str):
            return None, within
        choice, limited = within
        gpus = choice.arm.tp
        picked = choose_partition(req, choice, snap, gpus)
        if isinstance(picked, str):
            return None, picked
        partition = picked.partition
        if not e.allow_more_gpu_hours:
            more = more_gpu_hours(req, snap, gpus, partition)
            if more:
                return None, more
        script = None
        needs_rewrite = (parsed.tp != choice.arm.tp and parsed.tp is not None) or (
            (intent.asked.precision or "bf16") != choice.arm.precision
        )
        if needs_rewrite:
            new_model = choice.arm.checkpoint if choice.arm.checkpoint != intent.model_name else None
            quant = choice.arm.quantization_flag or ("none" if parsed.quantization else None)
            res = rewrite_vllm(
                req.script or "", parsed, model=new_model, tp=choice.arm.tp, quantization=quant
            )
            if res.script is None:
                return None, f"the vllm command could not be rewritten safely ({res.reason})"
            if req.script_truncated:
                return None, "the script was too long to be sent whole, so it cannot be rewritten"
            if req.script_sanitized:
                return None, "the script is not valid UTF-8 (or reached the daemon altered), so it is not rewritten"
            script = res.script
        try:
            fields = gpu_fields(req, choice, partition, picked.resources)
            gpu_env = env_values(
                req, gpus, str(choice.gres_type), picked.resources.cpus_per_gpu, picked.resources.mem_per_gpu_mb
            )
        except Refused as exc:
            return None, str(exc)
        srun = rewrite_srun_gpus(
            script if script is not None else req.script or "", old_gpus=asked_total(req), gpus=gpus,
            gres_type=str(choice.gres_type), job_tasks=job_tasks(req),
            job_cpus=picked.resources.cpus, job_mem_mb=picked.resources.mem_mb,
        )  # fmt: skip
        if srun.script is None:
            return None, f"an srun line's GPU options could not be rewritten safely ({srun.reason})"
        if srun.changed:
            if req.script_truncated or req.script_sanitized:
                return None, "the script was not sent whole and unaltered, so its srun lines cannot be rewritten"
            script = srun.script
        lowered_steps = [c for c in srun.changed if " -> " in c]  # a step's --cpus-per-gpu, lowered to fit
        return EnforcePlan(
            set=fields,
            env={**gpu_env, **job_env(choice, token)},
            script=script,
            partition=partition,
            notes=[*([limited] if limited else []), *picked.resources.lowered, *lowered_steps],
            arm=choice if limited else None,
        ), None

    def _arm_within_limits(
        self, req: AdviseRequest, decision: Decision, allow_low: bool, verb: str = "enforced"
    ) -> tuple[ScoredArm, str | None] | str:
        """The advised arm when the job's QOS and association GPU limits admit it; else the best-ranked
        arm they admit (with a note saying why it replaced the advice); else why none fits."""
        choice = decision.choice
        assert choice is not None
        snap = self.state.snapshot
        own = snap.partitions.get((req.partition or "").split(",")[0])
        problem = limit_problem(snap.limits, req, own, str(choice.gres_type), choice.arm.tp)
        if problem is None:
            return choice, None
        for s in decision.ranked:
            unsure = s.prediction is None or s.prediction.confidence == "low"
            if s is choice or (unsure and not allow_low):
                continue
            if limit_problem(snap.limits, req, own, str(s.gres_type), s.arm.tp) is None:
                return s, (
                    f"the advised {arm_text(choice)} is over the job's limits ({problem}); "
                    f"{arm_text(s)}, the best arm within them, is {verb}"
                )
        return f"{problem}, and no advised arm fits within it"

    def _slo_s(self, intent: Intent) -> float | None:
        return judged_slo_s(intent.slo_ttft_ms, self.settings.utility)

    def _decision_record(self, intent: Intent, decision: Decision) -> dict[str, Any]:
        return {
            "outcome": decision.outcome,
            "rule": decision.rule,
            "notes": decision.notes,
            "abstained": decision.abstained,
            "model": intent.model.name,
            "workload": intent.workload.model_dump(),
            # the TTFT SLO the utility judged (the job's tag, else the site's); null: none, TTFT not scored
            "slo_ttft_s": self._slo_s(intent),
            "assumed": intent.assumed,
            "asked": intent.asked.model_dump(exclude_none=True),
            "arms": [
                {
                    "gpu": s.arm.gpu,
                    "tp": s.arm.tp,
                    "precision": s.arm.precision,
                    "checkpoint": s.arm.checkpoint,
                    "partitions": s.partitions,
                    "cost_per_hour": s.cost_per_hour,
                    "kv_occupancy": round(s.fit.kv_occupancy, 3),
                    "fit_reasons": s.fit.reasons,
                    "prediction": s.prediction.model_dump() if s.prediction else None,
                    "utility": s.utility.model_dump() if s.utility else None,
                }
                for s in decision.ranked
            ],
            "choice": (
                {
                    "gpu": decision.choice.arm.gpu,
                    "tp": decision.choice.arm.tp,
                    "precision": decision.choice.arm.precision,
                }
                if decision.choice
                else None
            ),
            "smallest_elsewhere": decision.smallest_elsewhere,
        }
