"""agg_condition compiled once into a predicate over a point's dimensions.

Conditions are key/method/value triples joined by the `condition` ("and"/"or")
of each one after the first, evaluated left to right with "and" binding tighter
than "or" (the reference builds OR-ed groups of AND-ed conditions).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]
METHODS = ("eq", "neq", "include", "exclude", "gt", "gte", "lt", "lte", "reg", "nreg")


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _one(cond: dict[str, Any]) -> Predicate:
    key, method = cond["key"], cond["method"]
    raw = cond.get("value", [])
    values = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    texts = frozenset(str(v) for v in values)
    if method == "eq":
        return lambda d: str(d.get(key, "")) in texts
    if method == "neq":
        return lambda d: str(d.get(key, "")) not in texts
    if method == "include":
        return lambda d: any(v in str(d.get(key, "")) for v in texts)
    if method == "exclude":
        return lambda d: not any(v in str(d.get(key, "")) for v in texts)
    if method in ("reg", "nreg"):
        patterns = [re.compile(str(v)) for v in values]
        hit: Predicate = lambda d: any(p.search(str(d.get(key, ""))) for p in patterns)  # noqa: E731
        return hit if method == "reg" else (lambda d: not hit(d))
    if method in ("gt", "gte", "lt", "lte"):
        bounds = [n for n in (_number(v) for v in values) if n is not None]
        compare = {"gt": float.__gt__, "gte": float.__ge__, "lt": float.__lt__, "lte": float.__le__}[method]

        def numeric(d: dict[str, Any]) -> bool:
            n = _number(d.get(key))
            return n is not None and any(compare(n, b) for b in bounds)
        return numeric
    raise ValueError(f"agg_condition: unknown method {method!r} (use one of {list(METHODS)})")


def compile_conditions(conditions: Sequence[dict[str, Any]] | None) -> Predicate | None:
    """None when there is nothing to check (the hot path then skips the call)."""
    if not conditions:
        return None
    groups: list[list[Predicate]] = [[]]
    for i, cond in enumerate(conditions):
        if i and str(cond.get("condition", "and")).lower() == "or":
            groups.append([])
        groups[-1].append(_one(cond))
    if len(groups) == 1 and len(groups[0]) == 1:
        return groups[0][0]
    return lambda d: any(all(p(d) for p in group) for group in groups)
