"""The support envelope: what a target was measured on, and how far a query lies outside it.

Fitted on a target's labelled training rows and stored with the model. At prediction every
out-of-envelope axis is named in words and sets the confidence, independently of the interval
width (the paper's §4.3: intervals fail out of distribution, so width cannot be the guardrail):

- low (abstain): a numeric axis outside the measured range, or a category never measured
  (family, GPU kind, precision, engine, load regime, TP degree);
- medium: every axis in range, but a combination never measured (this precision on this GPU
  kind, this family on this GPU kind, this TP on this GPU kind) or a base model with no rows of
  its own;
- high: otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict

from omnipilot.advisor.features import Columns, factor

Confidence = Literal["high", "medium", "low"]
CONFIDENCE_ORDER: dict[str, int] = {"high": 0, "medium": 1, "low": 2}

# (axis key, words in reasons, how a value prints)
NUMERIC_AXES: tuple[tuple[str, str, str], ...] = (
    ("params_b", "model size", "{:g}B"),
    ("context_len", "context", "{:.0f}"),
    ("concurrency", "concurrency", "{:.0f}"),
    ("prompt_len", "prompt length", "{:.0f}"),
    ("output_len", "output length", "{:.0f}"),
)
CATEGORY_AXES: tuple[tuple[str, str], ...] = (
    ("family", "model family"),
    ("gpu", "GPU kind"),
    ("precision", "precision"),
    ("tp", "TP degree"),
    ("engine", "engine"),
    ("load_regime", "load regime"),
)
PAIR_AXES: tuple[tuple[str, str], ...] = (("gpu", "precision"), ("family", "gpu"), ("gpu", "tp"))
_CHECKED_AXES: tuple[str, ...] = (*(k for k, _ in CATEGORY_AXES), "model")


class _EnvelopeIndex(NamedTuple):
    """Lookup sets of one envelope: per category axis (measured set, (words, measured list))."""

    categories: dict[str, tuple[frozenset[str], tuple[str, str]]]
    pairs: dict[str, frozenset[tuple[str, str]]]
    models: frozenset[str]


class NumericRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lo: float
    hi: float


class Envelope(BaseModel):
    """Measured support of one target; learned state, serialisable into the model manifest."""

    model_config = ConfigDict(extra="forbid")

    n_rows: int
    ranges: dict[str, NumericRange]
    categories: dict[str, list[str]]
    pairs: dict[str, list[list[str]]]
    models: list[str]

    @classmethod
    def fit(cls, cols: Columns) -> Envelope:
        n = len(cols["model"])
        ranges: dict[str, NumericRange] = {}
        for key, _, _ in NUMERIC_AXES:
            vals = axis_values(cols, key)
            vals = vals[np.isfinite(vals)]
            if len(vals):
                ranges[key] = NumericRange(lo=float(vals.min()), hi=float(vals.max()))
        categories = {key: sorted({_cat(v) for v in cols[key]}) for key, _ in CATEGORY_AXES}
        pairs = {
            f"{a}|{b}": sorted(
                [list(p) for p in {(_cat(x), _cat(y)) for x, y in zip(cols[a], cols[b], strict=True)}]
            )
            for a, b in PAIR_AXES
        }
        return cls(
            n_rows=n,
            ranges=ranges,
            categories=categories,
            pairs=pairs,
            models=sorted({_cat(m) for m in cols["model"]}),
        )

    def check(self, cols: Columns) -> list[tuple[Confidence, list[str]]]:
        """Per row: the confidence and the reasons (empty when high)."""
        n = len(cols["model"])
        low: list[list[str]] = [[] for _ in range(n)]
        medium: list[list[str]] = [[] for _ in range(n)]
        self._check_numeric(cols, low)
        # Each axis as (distinct texts, row codes): membership is tested once per distinct value,
        # and rows are visited only for the values that fail.
        text = {key: _texts(cols[key]) for key in _CHECKED_AXES}
        index = self.lookup
        for key, _ in CATEGORY_AXES:
            allowed, (axis, measured) = index.categories[key]
            uniq, codes = text[key]
            bad = [u not in allowed for u in uniq]
            why = [
                f"{axis} {u} not measured (measured: {measured})" if b else ""
                for u, b in zip(uniq, bad, strict=True)
            ]
            for i in _rows_failing(codes, bad):
                low[i].append(why[codes[i]])
        keep = np.array([not r for r in low], dtype=bool)
        for a, b in PAIR_AXES:
            seen = index.pairs.get(f"{a}|{b}", frozenset())
            (ua, ca), (ub, cb) = text[a], text[b]
            combo = ca * len(ub) + cb
            bad = [(ua[c // len(ub)], ub[c % len(ub)]) not in seen for c in range(len(ua) * len(ub))]
            words: dict[int, str] = {}
            for i in _rows_failing(combo, bad, keep):
                c = int(combo[i])
                if c not in words:
                    words[c] = _pair_words(a, b, {a: ua[ca[i]], b: ub[cb[i]]})
                medium[i].append(words[c])
        um, cm = text["model"]
        for i in _rows_failing(cm, [u not in index.models for u in um], keep):
            medium[i].append(f"model {um[cm[i]]} not measured (its family is)")
        return [
            ("low", lo) if lo else ("medium", med) if med else ("high", [])
            for lo, med in zip(low, medium, strict=True)
        ]

    @cached_property
    def lookup(self) -> _EnvelopeIndex:
        # Learned state is never mutated after fit/load, so the lookup sets are built once.
        words = dict(CATEGORY_AXES)
        return _EnvelopeIndex(
            categories={
                key: (
                    frozenset(self.categories.get(key, [])),
                    (words[key], ", ".join(self.categories.get(key, []))),
                )
                for key, _ in CATEGORY_AXES
            },
            pairs={k: frozenset((a, b) for a, b in v) for k, v in self.pairs.items()},
            models=frozenset(self.models),
        )

    def _check_numeric(self, cols: Columns, low: list[list[str]]) -> None:
        for key, words, fmt in NUMERIC_AXES:
            rng = self.ranges.get(key)
            if rng is None:
                continue
            vals = axis_values(cols, key)
            # 1e-9 relative slack: values read back from JSON must not flag their own bounds.
            above = np.flatnonzero(vals > rng.hi * (1 + 1e-9))
            below = np.flatnonzero(vals < rng.lo * (1 - 1e-9))
            for i in above:
                low[i].append(f"{words} {fmt.format(vals[i])} above the measured {fmt.format(rng.hi)}")
            for i in below:
                low[i].append(f"{words} {fmt.format(vals[i])} below the measured {fmt.format(rng.lo)}")


def axis_values(cols: Columns, key: str) -> np.ndarray:
    """Numeric axis as floats; context falls back to prompt + output (as the featurizer does)."""
    n = len(cols["model"])
    raw = cols.get(key)
    vals = np.full(n, math.nan) if raw is None else _floats(raw)
    if key == "context_len":
        floor = axis_values(cols, "prompt_len") + axis_values(cols, "output_len")
        vals = np.where(np.isnan(vals), floor, vals)
    return vals


def worst(a: Confidence, b: Confidence) -> Confidence:
    return a if CONFIDENCE_ORDER[a] >= CONFIDENCE_ORDER[b] else b


def _num(v: object) -> float:
    if v is None:
        return math.nan
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _floats(raw: Any) -> np.ndarray:
    arr = np.asarray(raw)
    if arr.dtype.kind in "iuf":  # already numbers (query columns, numeric frame columns): no per-row work
        return arr.astype(float)
    return np.array([_num(v) for v in raw], dtype=float)


def _texts(values: Iterable[object]) -> tuple[list[str], np.ndarray]:
    """(distinct category texts, each row's index into them)."""
    uniq, codes = factor(values)
    texts = [_cat(u) for u in uniq]
    # 1 and 1.0 are distinct values with one text: merge them so texts are unique.
    first = {t: i for i, t in reversed(list(enumerate(texts)))}
    if len(first) == len(texts):
        return texts, codes
    remap = np.array([first[t] for t in texts], dtype=np.intp)
    return texts, remap[codes]


def _rows_failing(codes: np.ndarray, bad: list[bool], keep: np.ndarray | None = None) -> list[int]:
    """Rows (ascending) whose code is marked bad, among `keep` rows."""
    if not any(bad):
        return []
    mask = np.array(bad, dtype=bool)[codes]
    if keep is not None:
        mask &= keep
    return [int(i) for i in np.flatnonzero(mask)]


def _cat(v: object) -> str:
    """Category as text; ints and int-valued floats (TP read from a frame) print without '.0'."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "unknown"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, np.integer):
        return str(int(v))
    return str(v)


def _pair_words(a: str, b: str, row: Mapping[str, str]) -> str:
    if b == "tp":
        return f"TP {row[b]} on {row[a]} not measured"
    if a == "gpu":
        return f"{row[b]} on {row[a]} not measured"
    return f"{row[a]} on {row[b]} not measured"
