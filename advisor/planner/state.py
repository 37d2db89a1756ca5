"""Incremental bookkeeping shared by GH and AGH: replicas, load in replica units, routing, GPUs
and spend in use, routed error per class. Moves update it in O(1) per touched pair, so the
heuristics stay fast; the independent checker (feasibility.py) verifies the final plan."""

from __future__ import annotations

import math

import numpy as np

from omnipilot.advisor.planner.coefficients import Table
from omnipilot.advisor.planner.plan import Plan

EPS = 1e-9


class State:
    def __init__(self, t: Table) -> None:
        self.t = t
        self.load_c = t.load  # [I, C] replica units for a whole class (inf where not allowed)
        self.pen = t.penalty
        self.rent = t.rent
        self.avail = t.available
        self.budget = t.instance.budget if t.instance.budget is not None else math.inf
        self.max_models = t.instance.max_models or len(t.instance.models)
        self.r = np.zeros(t.n_configs, dtype=int)
        self.L = np.zeros(t.n_configs)
        self.x = np.zeros((t.n_classes, t.n_configs))
        self.u = np.zeros(t.n_classes)
        self.gpus = np.zeros(len(t.instance.gpus), dtype=int)
        self.err = np.zeros(t.n_classes)
        self.model_reps = np.zeros(len(t.instance.models), dtype=int)

    def copy(self) -> State:
        s = State.__new__(State)
        s.__dict__.update(self.__dict__)
        for k in ("r", "L", "x", "u", "gpus", "err", "model_reps"):
            setattr(s, k, getattr(self, k).copy())
        return s

    @property
    def spend(self) -> float:
        """Money actually spent: rent plus one-off model loads (what the budget caps)."""
        return float(self.rent @ self.r + self.t.load_cost[self.model_reps > 0].sum())

    @property
    def n_models(self) -> int:
        return int((self.model_reps > 0).sum())

    def cost(self) -> float:
        return float(self.spend + np.sum(self.pen * self.x) + self.t.unmet_cost @ self.u)

    def set_replicas(self, c: int, n: int) -> None:
        d = n - int(self.r[c])
        self.r[c] = n
        self.gpus[self.t.gpu_of[c]] += d * int(self.t.tp[c])
        self.model_reps[self.t.model_of[c]] += d

    def route(self, i: int, c: int, share: float) -> None:
        """Add (or with a negative share, remove) routing of class i to c."""
        new = self.x[i, c] + share
        if new < EPS:
            share, new = -self.x[i, c], 0.0
        self.x[i, c] = new
        self.L[c] += share * self.load_c[i, c]
        self.err[i] += share * self.t.error[i, c]
        if new == 0.0 and not self.x[:, c].any():
            self.L[c] = 0.0  # no drift left behind on an emptied configuration

    def need(self, c: int) -> int:
        """Replicas the current load of c needs."""
        return math.ceil(self.L[c] - 1e-7) if self.L[c] > 1e-7 else 0

    def trim(self) -> None:
        for c in np.nonzero(self.r)[0]:
            n = self.need(int(c))
            if n < self.r[c]:
                self.set_replicas(int(c), n)

    def feasible_resources(self) -> bool:
        return (
            bool(np.all(self.gpus <= self.avail))
            and self.spend <= self.budget * (1 + 1e-9)
            and (self.n_models <= self.max_models)
        )

    def to_plan(self, solver: str, runtime_s: float) -> Plan:
        return Plan(solver, self.r.copy(), self.x.copy(), self.u.copy(), runtime_s=runtime_s)
