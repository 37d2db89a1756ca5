"""Why the advice abstained, as one of a few fixed causes (for metrics labels and report charts):
the reasons themselves are free text naming values ("context 32768 above the measured 16384")."""

from __future__ import annotations

import re

# (pattern on the reason text, cause): the first match names the cause
CAUSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"not in the catalog"), "not_in_catalog"),
    (re.compile(r"\bcontext\b[^;]*(above|below) the measured"), "context_outside_measured"),
    (re.compile(r"\bconcurrency\b[^;]*(above|below) the measured"), "concurrency_outside_measured"),
    (re.compile(r"(above|below) the measured"), "workload_outside_measured"),
    (re.compile(r"model \S+ not measured"), "model_not_measured"),
    (re.compile(r"not measured"), "arm_not_measured"),
    (re.compile(r"no prediction"), "no_prediction"),
)


def abstain_cause(reason: str) -> str:
    return next((label for pattern, label in CAUSES if pattern.search(reason)), "other")
