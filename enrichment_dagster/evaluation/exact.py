"""Exact-number helpers shared by both consensus methods.

Every ratio is a :class:`~fractions.Fraction` so that a 3/5 boundary, a CV of exactly 0.15
or a score difference of exactly 0.1 gives the same verdict on every Python version.
"""

from __future__ import annotations

import math
from difflib import SequenceMatcher
from fractions import Fraction
from typing import Any


def decimal_fraction(number: int | float) -> Fraction | None:
    """The decimal the model wrote, not its binary approximation (0.4 - 0.3 is exactly 0.1).

    Non-finite values have no rational value and are returned as None.
    """
    if isinstance(number, int):
        return Fraction(number)
    if not math.isfinite(number):
        return None
    return Fraction(repr(number))


def parse_number(text: str) -> Fraction | None:
    """Parse ``"0.65"``, ``"$120,000"`` or ``" 5 "``; None when it is not a finite number."""
    cleaned = text.replace(",", "").replace("$", "").strip()
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return decimal_fraction(value)


def coerce_confidence(raw: Any) -> Fraction | None:
    """A self-reported confidence as a number in [0, 1], or None when unusable.

    Strings such as ``"0.65"`` crashed the old evaluator; they are accepted here (and listed
    as anomalies by the loader). Booleans are rejected: ``True`` is not a confidence.
    """
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        value = decimal_fraction(raw)
    elif isinstance(raw, str):
        value = parse_number(raw)
    else:
        return None
    if value is None or not 0 <= value <= 1:
        return None
    return value


def similarity(a: str, b: str) -> Fraction:
    """``difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()`` as an exact fraction.

    Default ``autojunk=True`` is kept on purpose: it is what the old method measured.
    """
    left, right = a.lower(), b.lower()
    total = len(left) + len(right)
    if total == 0:
        return Fraction(1)
    blocks = SequenceMatcher(None, left, right).get_matching_blocks()
    return Fraction(2 * sum(block.size for block in blocks), total)


def percent(value: Fraction | None, digits: int = 3) -> float | None:
    """A rate as a percentage rounded half-even on the exact value."""
    if value is None:
        return None
    return float(round(value * 100, digits))


def mean(values: list[Fraction]) -> Fraction | None:
    return sum(values, Fraction(0)) / len(values) if values else None
