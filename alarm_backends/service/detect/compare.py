"""Comparison methods and the 6-place rounding every comparison goes through."""

from __future__ import annotations

import operator
from collections.abc import Callable

PRECISION = 6

Comparator = Callable[[float, float], bool]

METHODS: dict[str, Comparator] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}


def rounded(value: float) -> float:
    return round(value, PRECISION)
