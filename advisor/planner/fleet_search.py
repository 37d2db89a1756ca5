"""AGH's repair/merge pass: a local search over the replica vector (the fleet) in which every
candidate fleet is routed exactly by a small LP over its active configurations only.

Given the replicas, the best routing is an LP (coverage, routed-average error, capacity), and on a
plan's handful of active configurations it has a few hundred columns, so HiGHS solves it in about
a millisecond. The LP splits and merges every class's shares between the fleet's replicas at
once — the move the greedy relocate/consolidate steps only approximate — so the search itself
only has to move whole replicas:

- drop: one replica fewer of an active configuration;
- swap: one replica of an active configuration exchanged for one of any other configuration;
- add: one more replica where its lower delay penalty pays for its rent.

Candidates are screened for all configurations at once with the LP's duals (the value of one
more replica's capacity, greedily filled with the classes whose reduced cost is most negative),
and only the best few are re-solved exactly; a move is kept only if the exact cost falls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from omnipilot.advisor.planner.coefficients import Table
from omnipilot.advisor.planner.milp_model import quiet_stdout

INF = highspy.kHighsInf
OPTIMAL = highspy.HighsModelStatus.kOptimal


@dataclass
class Routed:
    """A fleet with its exact routing: total cost, shares, unmet shares and the LP duals."""

    replicas: np.ndarray  # [C] int
    cost: float
    routing: np.ndarray  # [I, C]
    unmet: np.ndarray  # [I]
    cov_dual: np.ndarray  # [I]
    err_dual: np.ndarray  # [I]
    cap_dual: np.ndarray  # [C], 0 off the fleet


class FleetRouter:
    """Routes fixed fleets of one table; the coefficient arrays are cached once (no pydantic in
    the loop) and one HiGHS object is reused."""

    def __init__(self, t: Table, allowed: np.ndarray) -> None:
        self.t = t
        self.allowed = allowed
        self.load = np.where(allowed, t.load, np.inf)
        self.pen = t.penalty
        self.err = np.where(allowed, t.error, 0.0)
        self.err_slo = t.error_slo
        self.max_unmet = t.max_unmet
        self.unmet_cost = t.unmet_cost
        self.rent = t.rent
        self.load_cost = t.load_cost
        self.gpu_of, self.model_of, self.tp = t.gpu_of, t.model_of, t.tp
        self.avail = t.available
        self.budget = t.instance.budget if t.instance.budget is not None else np.inf
        self.max_models = t.instance.max_models or len(t.instance.models)
        self.n_i, self.n_c = t.n_classes, t.n_configs
        with quiet_stdout():
            self.h = highspy.Highs()  # type: ignore[no-untyped-call]
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("threads", 1)
        self.solves = 0

    def fixed_cost(self, r: np.ndarray) -> float:
        used = np.unique(self.model_of[r > 0])
        return float(self.rent @ r + self.load_cost[used].sum())

    def resources_ok(self, r: np.ndarray) -> bool:
        gpus = np.bincount(self.gpu_of, weights=r * self.tp, minlength=len(self.avail))
        n_models = len(np.unique(self.model_of[r > 0]))
        return (
            bool(np.all(gpus <= self.avail + 1e-9))
            and self.fixed_cost(r) <= self.budget * (1 + 1e-9)
            and n_models <= self.max_models
        )

    def route(self, r: np.ndarray) -> Routed | None:
        """The exact routing of fleet r, or None when it cannot carry the demand."""
        act = np.nonzero(r)[0]
        n_i, n_a = self.n_i, len(act)
        ii, kk = np.nonzero(self.allowed[:, act])
        cc = act[kk]
        n_x = len(ii)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n_x + n_i, 2 * n_i + n_a
        lp.col_cost_ = np.concatenate([self.pen[ii, cc], self.unmet_cost])
        lp.col_lower_ = np.zeros(n_x + n_i)
        lp.col_upper_ = np.concatenate([np.ones(n_x), self.max_unmet])
        lp.row_lower_ = np.concatenate([np.ones(n_i), np.full(n_i + n_a, -INF)])
        lp.row_upper_ = np.concatenate([np.ones(n_i), self.err_slo, r[act].astype(float)])
        index = np.empty(3 * n_x + n_i, dtype=np.int32)
        value = np.empty(3 * n_x + n_i)
        index[0 : 3 * n_x : 3], value[0 : 3 * n_x : 3] = ii, 1.0
        index[1 : 3 * n_x : 3], value[1 : 3 * n_x : 3] = n_i + ii, self.err[ii, cc]
        index[2 : 3 * n_x : 3], value[2 : 3 * n_x : 3] = 2 * n_i + kk, self.load[ii, cc]
        index[3 * n_x :], value[3 * n_x :] = np.arange(n_i), 1.0
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.concatenate([3 * np.arange(n_x + 1), 3 * n_x + 1 + np.arange(n_i)]).astype(
            np.int32
        )
        lp.a_matrix_.index_ = index
        lp.a_matrix_.value_ = value
        self.h.clearSolver()
        self.h.passModel(lp)
        self.h.run()
        self.solves += 1
        if self.h.getModelStatus() != OPTIMAL:
            return None
        sol = self.h.getSolution()
        col, dual = np.asarray(sol.col_value), np.asarray(sol.row_dual)
        routing = np.zeros((n_i, self.n_c))
        routing[ii, cc] = np.clip(col[:n_x], 0.0, 1.0)
        cap = np.zeros(self.n_c)
        cap[act] = dual[2 * n_i :]
        obj = float(self.h.getInfo().objective_function_value)
        return Routed(
            r.copy(),
            self.fixed_cost(r) + obj,
            routing,
            np.clip(col[n_x:], 0.0, None),
            dual[:n_i],
            dual[n_i : 2 * n_i],
            cap,
        )

    def replica_value(self, cur: Routed) -> np.ndarray:
        """[C] estimated LP saving of one more replica of each configuration: fill one unit of
        load with the classes whose reduced cost (capacity excluded) is most negative."""
        d = self.pen - cur.cov_dual[:, None] - self.err * cur.err_dual[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            gain_per_load = np.where(self.allowed & (d < 0), -d / self.load, 0.0)
        order = np.argsort(-gain_per_load, axis=0)
        g = np.take_along_axis(gain_per_load, order, axis=0)
        lo = np.take_along_axis(np.where(self.allowed, self.load, 0.0), order, axis=0)
        # capacity already there absorbs demand first; a full class takes at most its load
        spare = np.maximum(cur.replicas - (cur.routing * np.where(self.allowed, self.load, 0.0)).sum(0), 0)
        # error: a class may send b at most the share that the most accurate active route can
        # balance, s·e_b + (1 − s)·e_best ≤ E (optimistic, as the LP may rebalance)
        act = cur.replicas > 0
        e_best = np.where(self.allowed & act[None, :], self.err, np.inf).min(axis=1)
        e_best = np.minimum(e_best, np.where(self.allowed, self.err, np.inf).min(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            s_max = np.where(
                self.err > e_best[:, None] + 1e-12,
                (self.err_slo - e_best)[:, None] / (self.err - e_best[:, None]),
                1.0,
            )
        s_max = np.clip(s_max, 0.0, 1.0) - cur.routing
        lo = lo * np.take_along_axis(np.maximum(s_max, 0.0), order, axis=0)
        before = np.minimum(np.cumsum(lo, axis=0) - lo, 1.0 + spare)
        after = np.minimum(np.cumsum(lo, axis=0), 1.0 + spare)
        value: np.ndarray = (g * np.maximum(after - np.maximum(before, spare), 0.0)).sum(axis=0)
        return value

    def improve(self, cur: Routed, deadline: float, tries: int = 40) -> Routed:
        """Drop, swap and add moves until none lowers the exact cost or the deadline passes."""
        while time.perf_counter() < deadline:
            nxt = self._one_pass(cur, deadline, tries)
            if nxt is None:
                break
            cur = nxt
        return cur

    def _gpus(self, r: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.bincount(self.gpu_of, weights=r * self.tp, minlength=len(self.avail))
        return out

    def candidate_moves(self, cur: Routed, limit: int, stuck: np.ndarray) -> list[tuple[int, int]]:
        """The `limit` most promising swaps (configuration losing a replica, gaining one) and adds
        (-1, gaining), by estimated cost change, all screened at once. Moves over a GPU pool are
        left out, and where dropping a replica of an active configuration alone was infeasible
        (`stuck`), only a configuration that admits every class it carries may replace it."""
        r = cur.replicas
        act = np.nonzero(r)[0]
        loss = -cur.cap_dual[act]  # LP cost of one unit less capacity there (duals are ≤ 0)
        gain = self.replica_value(cur)
        free = (self.avail - self._gpus(r))[self.gpu_of]
        add = np.where(free >= self.tp, self.rent - gain, np.inf)
        same = self.gpu_of[None, :] == self.gpu_of[act][:, None]
        fits = (free >= self.tp)[None, :] | (
            same & (free[None, :] + self.tp[act][:, None] >= self.tp[None, :])
        )
        # a stuck replica's overflow must fit on one replica of the newcomer (plus its spare)
        load0 = np.where(self.allowed, self.load, 0.0)
        used = (cur.routing * load0).sum(axis=0)
        over = np.maximum(used[act] - (r[act] - 1), 0.0) / np.maximum(used[act], 1e-12)
        moved = cur.routing[:, act].T @ np.where(self.allowed, self.load, 1e6)  # [A, C]
        takes = over[:, None] * moved <= 1.0 + np.maximum(r - used, 0.0)[None, :] + 1e-9
        fits &= takes | ~stuck[act][:, None]
        swap = np.where(fits, (self.rent - gain)[None, :], np.inf) - (self.rent[act] - loss)[:, None]
        swap[np.arange(len(act)), act] = np.inf
        # the best few per active configuration, so one of them cannot crowd out the others
        per = max(1, limit // (len(act) + 1))
        moves: list[tuple[float, int, int]] = []
        for k, a in enumerate(act):
            moves += [(float(swap[k, b]), int(a), int(b)) for b in np.argsort(swap[k])[:per]]
        moves += [(float(add[b]), -1, int(b)) for b in np.argsort(add)[:per]]
        moves.sort(key=lambda m: m[0])
        return [(a, b) for e, a, b in moves if np.isfinite(e)]

    def _try(self, cur: Routed, a: int, b: int) -> Routed | None:
        trial = cur.replicas.copy()
        if a >= 0:
            trial[a] -= 1
        if b >= 0:
            trial[b] += 1
        if not self.resources_ok(trial):
            return None
        return self.route(trial)

    def _one_pass(self, cur: Routed, deadline: float, tries: int) -> Routed | None:
        """First improvement: drops (cheapest estimate first), then screened swaps and adds."""
        act = np.nonzero(cur.replicas)[0]
        stuck = np.zeros(self.n_c, dtype=bool)
        for a in act[np.argsort(-cur.cap_dual[act] - self.rent[act])]:
            out = self._try(cur, int(a), -1)
            if out is None:
                stuck[a] = True
            elif out.cost < cur.cost - 1e-7:
                return out
        for a, b in self.candidate_moves(cur, tries, stuck):
            if time.perf_counter() > deadline:
                return None
            out = self._try(cur, a, b)
            if out is not None and out.cost < cur.cost - 1e-7:
                return out
        return None
