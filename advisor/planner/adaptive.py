"""AGH, the adaptive greedy heuristic: GH from several class orders × two waste weights
(multi-start: rate ↓/↑, tightest error, tightest latency, heaviest load, seeded random orders),
then on the cheapest starts a local search:

- optional greedy rounds (`greedy_rounds`, off by default): relocate one class's share, swap a
  configuration's whole load elsewhere (M3's re-sharding as a move), consolidate (drop a replica,
  push the overflow into spare capacity), ruin-and-recreate;
- the fleet search (fleet_search.py): drop / swap / add whole replicas, each candidate fleet
  routed exactly by a small LP over its active configurations, which splits and merges every
  class's shares between replicas at once and packs fractional replica use.

Greedy moves are screened for all targets at once with numpy, then applied to a copy of the state
and kept only if the exact cost falls and every constraint still holds.
"""

from __future__ import annotations

import time

import numpy as np

from omnipilot.advisor.planner.coefficients import Table
from omnipilot.advisor.planner.fleet_search import FleetRouter, Routed
from omnipilot.advisor.planner.greedy import (
    _precheck,
    candidate_mask,
    construct,
    default_order,
    explain_failure,
)
from omnipilot.advisor.planner.plan import InfeasibleDemand, Plan
from omnipilot.advisor.planner.state import State

TOL = 1e-7


def _ceil(v: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.where(v > TOL, np.ceil(v - TOL), 0.0)
    return out


def _valid(s: State) -> bool:
    return s.feasible_resources() and bool(np.all(s.err <= s.t.error_slo + 1e-10))


def _commit(s: State, trial: State) -> bool:
    if _valid(trial) and trial.cost() < s.cost() - 1e-9:
        s.__dict__.update(trial.__dict__)
        return True
    return False


def _move(s: State, moves: list[tuple[int, int, int, float]]) -> State:
    """A copy of s with (class, from, to, share) moves applied and replicas fitted to load."""
    trial = s.copy()
    touched: set[int] = set()
    for i, a, b, share in moves:
        trial.route(i, a, -share)
        trial.route(i, b, share)
        touched.update((a, b))
    for c in touched:
        trial.set_replicas(c, trial.need(c))
    return trial


def _screen(
    s: State, c: int, add_load: np.ndarray, dpen: np.ndarray, freed: int, targets: np.ndarray
) -> np.ndarray:
    """Approximate cost change of moving load off c (freeing `freed` replicas) onto each target."""
    t = s.t
    dr = np.maximum(_ceil(s.L[targets] + add_load) - s.r[targets], 0.0)
    gpu_after = (
        s.gpus[t.gpu_of[targets]]
        + dr * t.tp[targets]
        - np.where(t.gpu_of[targets] == t.gpu_of[c], freed * t.tp[c], 0)
    )
    new_model = (s.model_reps[t.model_of[targets]] == 0) & (dr > 0)
    delta = (
        s.rent[targets] * dr
        - s.rent[c] * freed
        + dpen
        + np.where(new_model, t.load_cost[t.model_of[targets]], 0.0)
    )
    ok = np.isfinite(add_load) & (gpu_after <= s.avail[t.gpu_of[targets]]) & (targets != c)
    out: np.ndarray = np.where(ok, delta, np.inf)
    return out


def _try_best(
    s: State, delta: np.ndarray, targets: np.ndarray, build: list[int], c: int, tries: int = 3
) -> bool:
    order = np.argsort(delta)[:tries]
    for k in order:
        if not delta[k] < -1e-9:
            return False
        moves = [(i, c, int(targets[k]), float(s.x[i, c])) for i in build]
        if _commit(s, _move(s, moves)):
            return True
    return False


def relocate(s: State, allowed: np.ndarray) -> bool:
    """Move one class's share on one configuration elsewhere; first improving pair wins."""
    improved = False
    for c in np.nonzero(s.r)[0]:
        for i in np.nonzero(s.x[:, c])[0]:
            targets = np.nonzero(allowed[i])[0]
            share = s.x[i, c]
            freed = int(s.r[c] - (_ceil(np.array([s.L[c] - share * s.load_c[i, c]]))[0]))
            add = share * s.load_c[i, targets]
            dpen = share * (s.pen[i, targets] - s.pen[i, c])
            err_ok = s.err[i] + share * (s.t.error[i, targets] - s.t.error[i, c]) <= s.t.error_slo[i] + 1e-10
            delta = np.where(err_ok, _screen(s, int(c), add, dpen, freed, targets), np.inf)
            improved |= _try_best(s, delta, targets, [int(i)], int(c))
            if s.r[c] == 0:
                break
    return improved


def swap(s: State, allowed: np.ndarray) -> bool:
    """Move all of a configuration's load to one other configuration (includes TP up/down)."""
    t = s.t
    improved = False
    for c in np.nonzero(s.r)[0]:
        users = np.nonzero(s.x[:, c])[0]
        if not len(users):
            continue
        shares = s.x[users, c][:, None]
        ok_all = allowed[users].all(axis=0)
        add = np.where(ok_all, (shares * np.where(allowed[users], s.load_c[users], 0.0)).sum(axis=0), np.inf)
        dpen = (shares * (np.where(allowed[users], s.pen[users], 0.0) - s.pen[users, c][:, None])).sum(axis=0)
        err_after = s.err[users][:, None] + shares * (t.error[users] - t.error[users, c][:, None])
        err_ok = (err_after <= t.error_slo[users][:, None] + 1e-10).all(axis=0)
        targets = np.arange(t.n_configs)
        delta = np.where(err_ok, _screen(s, int(c), add, dpen, int(s.r[c]), targets), np.inf)
        improved |= _try_best(s, delta, targets, [int(i) for i in users], int(c))
    return improved


def consolidate(s: State) -> bool:
    """Drop one replica of a configuration, pushing its overflow into other deployments' spare."""
    t = s.t
    improved = False
    for c in np.argsort(s.L - s.r + 1.0)[::-1]:  # least loaded last replica first
        if s.r[c] == 0 or not s.x[:, c].any():
            continue
        trial = s.copy()
        excess = trial.L[c] - (trial.r[c] - 1)
        for i in np.argsort(-trial.x[:, c]):
            if excess <= TOL or trial.x[i, c] <= 0:
                break
            spare = np.where(t.allowed[i] & (trial.r > 0), trial.r - trial.L, 0.0)
            spare[c] = 0.0
            for c2 in np.argsort(trial.pen[i] + np.where(spare > TOL, 0.0, np.inf)):
                if spare[c2] <= TOL or excess <= TOL or not np.isfinite(trial.pen[i, c2]):
                    break
                share = min(trial.x[i, c], excess / trial.load_c[i, c], spare[c2] / trial.load_c[i, c2])
                room = t.error_slo[i] - trial.err[i]
                de = t.error[i, c2] - t.error[i, c]
                if de > 0:
                    share = min(share, max(room, 0.0) / de)
                if share <= TOL:
                    continue
                trial.route(int(i), int(c), -share)
                trial.route(int(i), int(c2), share)
                excess -= share * trial.load_c[i, c]
        trial.set_replicas(int(c), trial.need(int(c)))
        improved |= _commit(s, trial)
    return improved


def ruin_recreate(s: State, allowed: np.ndarray, rng: np.random.Generator, deadline: float) -> bool:
    """Empty one active configuration (plus, half the time, a random second one) and let GH
    re-place the freed shares; keeps the result when it is cheaper."""
    t = s.t
    improved = False
    active = np.nonzero(s.r)[0]
    for c in active[np.argsort(s.L[active] / s.r[active])]:
        if time.perf_counter() > deadline:
            break
        if s.r[c] == 0:
            continue
        ruined = [int(c)]
        others = np.setdiff1d(np.nonzero(s.r)[0], ruined)
        if len(others) and rng.random() < 0.5:
            ruined.append(int(rng.choice(others)))
        trial = s.copy()
        users: set[int] = set()
        for cc in ruined:
            for i in np.nonzero(trial.x[:, cc])[0]:
                users.add(int(i))
                trial.route(int(i), cc, -float(trial.x[i, cc]))
            trial.set_replicas(cc, 0)
        order = sorted(users, key=lambda i: -float(t.rate_s[i]))
        for waste in (1.0, 0.3):
            try:
                rebuilt = construct(t, order, allowed, start=trial, waste=waste)
            except InfeasibleDemand:
                continue
            rebuilt.trim()
            improved |= _commit(s, rebuilt)
    return improved


def local_search(
    s: State, allowed: np.ndarray, deadline: float, rng: np.random.Generator, rounds: int = 1_000
) -> State:
    s.trim()
    for _ in range(rounds):
        if time.perf_counter() > deadline:
            break
        moved = relocate(s, allowed)
        moved |= swap(s, allowed)
        moved |= consolidate(s)
        if not moved:
            moved = ruin_recreate(s, allowed, rng, deadline)
        if not moved:
            break
    return s


def start_orders(t: Table, n_random: int, seed: int) -> list[list[int]]:
    """GH default (rate ↓), rate ↑, tightest error first, tightest latency first, heaviest load
    first, then seeded random permutations (the paper's multi-start construction)."""
    min_load = np.where(t.allowed, t.load, np.inf).min(axis=1)
    slo = np.array([c.delay_slo_s for c in t.instance.classes])
    orders = [
        default_order(t),
        list(np.argsort(t.rate_s)),
        list(np.argsort(t.error_slo, kind="stable")),
        list(np.argsort(slo, kind="stable")),
        list(np.argsort(-min_load, kind="stable")),
    ]
    rng = np.random.default_rng(seed)
    orders += [list(rng.permutation(t.n_classes)) for _ in range(n_random)]
    unique: dict[tuple[int, ...], list[int]] = {tuple(int(v) for v in o): [int(v) for v in o] for o in orders}
    return list(unique.values())


def _construct_pool(
    t: Table, allowed: np.ndarray, n_random: int, seed: int, deadline: float
) -> tuple[list[State], InfeasibleDemand | None]:
    pool: list[State] = []
    failure: InfeasibleDemand | None = None
    for order in start_orders(t, n_random, seed):
        for waste in (1.0, 0.3):
            try:
                s = construct(t, order, allowed, waste=waste)
                s.trim()
                pool.append(s)
            except InfeasibleDemand as exc:
                failure = exc
        if time.perf_counter() > deadline and pool:
            break
    return pool, failure


def _seeded(t: Table, allowed: np.ndarray, start: np.ndarray) -> State | None:
    """One more GH pass that uses the carried fleet's capacity first."""
    seeded = State(t)
    for c in np.nonzero(start)[0]:
        seeded.set_replicas(int(c), int(start[c]))
    if not seeded.feasible_resources():
        return None
    try:
        s = construct(t, default_order(t), allowed, start=seeded)
    except InfeasibleDemand:
        return None  # the carried fleet cannot be extended; the fresh starts stand
    s.trim()
    return s


def solve_agh(
    t: Table,
    n_random: int = 4,
    top_m: int = 3,
    time_budget_s: float = 3.0,
    seed: int = 0,
    start: np.ndarray | None = None,
    greedy_rounds: int = 0,
) -> Plan:
    """AGH. `time_budget_s` bounds the whole run (the constructions stop early when it is spent,
    after at least one succeeded). `start` replicas (e.g. the previous window's fleet) seed one
    more GH pass, which uses their capacity first; replicas left idle are then trimmed.

    Each of the `top_m` cheapest starts goes through `greedy_rounds` rounds of the greedy moves
    (off by default: measured slower and no better than what follows), then the fleet search
    (fleet_search.py: drop/swap/add replicas, routing re-solved exactly by a small LP)."""
    t0 = time.perf_counter()
    deadline = t0 + time_budget_s
    _precheck(t)
    allowed = candidate_mask(t)
    pool, failure = _construct_pool(t, allowed, n_random, seed, deadline)
    if start is not None:
        seeded = _seeded(t, allowed, start)
        if seeded is not None:
            pool.append(seeded)
    if not pool:
        assert failure is not None
        raise explain_failure(t, failure)
    pool.sort(key=State.cost)
    rng = np.random.default_rng(seed)
    router = FleetRouter(t, t.allowed)
    best: Routed | None = None
    best_state: State | None = None
    for s in pool[:top_m]:
        s = local_search(s, t.allowed, deadline, rng, greedy_rounds)
        routed = router.route(s.r)
        if routed is not None and routed.cost <= s.cost() + 1e-9:
            routed = router.improve(routed, deadline)
            if best is None or routed.cost < best.cost:
                best = routed
        elif best_state is None or s.cost() < best_state.cost():
            best_state = s
    runtime = time.perf_counter() - t0
    if best is not None and (best_state is None or best.cost <= best_state.cost()):
        plan = Plan("agh", best.replicas.copy(), best.routing, best.unmet, runtime_s=runtime)
    else:
        assert best_state is not None
        plan = best_state.to_plan("agh", runtime)
    plan.notes["starts"] = float(len(pool))
    plan.notes["routing_lps"] = float(router.solves)
    return plan
