"""Free-text reasons as one of a few fixed causes (for metrics labels and report charts): the reasons
themselves name values ("context 32768 above the measured 16384"). One matcher, several tables."""

from __future__ import annotations

import re

Causes = tuple[tuple[re.Pattern[str], str], ...]

# (pattern on the reason text, cause): the first match names the cause
CAUSES: Causes = (
    (re.compile(r"not in the catalog"), "not_in_catalog"),
    (re.compile(r"\bcontext\b[^;]*(above|below) the measured"), "context_outside_measured"),
    (re.compile(r"\bconcurrency\b[^;]*(above|below) the measured"), "concurrency_outside_measured"),
    (re.compile(r"(above|below) the measured"), "workload_outside_measured"),
    (re.compile(r"model \S+ not measured"), "model_not_measured"),
    (re.compile(r"not measured"), "arm_not_measured"),
    (re.compile(r"no prediction"), "no_prediction"),
)


def cause_of(text: str, causes: Causes) -> str:
    """The label of the first pattern that matches `text`; "other" when none does."""
    return next((label for pattern, label in causes if pattern.search(text)), "other")


def abstain_cause(reason: str) -> str:
    return cause_of(reason, CAUSES)
