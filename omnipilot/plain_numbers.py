"""Numbers for people: a few significant digits, never scientific notation ("0.0000002", not "2e-07";
"12,300", not "1.23e+04"). Python's `g` format switches to exponents below 0.0001 and from a million
on, which the people reading OmniPilot's output should never meet."""

from __future__ import annotations

import math


def plain(x: float, sig: int = 3) -> str:
    """`x` rounded to `sig` significant digits, written out in full; thousands grouped with commas."""
    if not math.isfinite(x):
        return "unknown" if math.isnan(x) else ("infinite" if x > 0 else "minus infinite")
    if x == 0:
        return "0"
    digits = sig - 1 - math.floor(math.log10(abs(x)))
    rounded = round(x, digits)
    if rounded != 0 and math.floor(math.log10(abs(rounded))) != math.floor(math.log10(abs(x))):
        digits -= 1  # 999.6 rounds up a decade: one decimal fewer keeps `sig` digits
        rounded = round(x, digits)
    text = f"{rounded:,.{max(digits, 0)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
