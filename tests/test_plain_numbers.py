"""Output for people: no scientific notation anywhere numbers are printed (STYLE: one line per idea,
no Python reprs, no exponents)."""

from __future__ import annotations

import math

import pytest

from omnipilot.daemon.reply import _si
from omnipilot.plain_numbers import plain


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (2e-7, "0.0000002"),
        (6.88e-09, "0.00000000688"),
        (0.000123456, "0.000123"),
        (3.14159, "3.14"),
        (999.6, "1,000"),
        (12345, "12,300"),
        (1234567, "1,230,000"),
        (-0.002, "-0.002"),
        (0, "0"),
        (math.nan, "unknown"),
    ],
)
def test_plain_writes_numbers_out_in_full(x: float, text: str) -> None:
    assert plain(x) == text


@pytest.mark.parametrize(("x", "text"), [(999.6, "1k"), (12345, "12.3k"), (1234567, "1.23M"), (53.2, "53.2")])
def test_advice_figures_use_k_and_m_not_exponents(x: float, text: str) -> None:
    assert _si(x) == text


def test_calibrate_prints_value_per_token_without_exponents(capsys: pytest.CaptureFixture[str]) -> None:
    from omnipilot.cli import main

    assert main(["calibrate"]) == 0
    out = capsys.readouterr().out
    assert "value_per_token" in out and "configured value_per_token 0.0000002:" in out
    assert "e-0" not in out and "e+0" not in out
