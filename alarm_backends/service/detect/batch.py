"""Column-wise ("batch") detection: one numpy element per series of an aggregation.

A batch detector answers, for every element i, exactly what the scalar
detector's `on_rounded` answers for values[i] and a history that reads column
element i (NaN = missing). Each algorithm's batch form sits next to its scalar
form in `algorithms/`; this module holds what they share: the exact rounding,
the history protocol, and the compile functions mirroring registry/level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "UFUNCS",
    "BatchDetector",
    "BatchHistory",
    "Flags",
    "Floats",
    "compile_algorithm_batch",
    "compile_level_batch",
    "no_anomaly",
    "round6",
    "rounded_column",
]

Floats = NDArray[np.float64]
Flags = NDArray[np.bool_]


class BatchHistory(Protocol):
    def get(self, timestamp: int) -> Floats | None:
        """Values aligned with the batch (NaN where a series has none); None when no series has one."""
        ...


# (values already rounded with round6, t, interval, history) -> a new array, anomalous per element
BatchDetector = Callable[[Floats, int, int, BatchHistory], Flags]

# compare.METHODS as ufuncs: NaN compares like a Python float NaN (only "neq" holds)
UFUNCS: dict[str, np.ufunc] = {
    "gt": np.greater,
    "gte": np.greater_equal,
    "lt": np.less,
    "lte": np.less_equal,
    "eq": np.equal,
    "neq": np.not_equal,
}

_SCALE = 1e6  # 10**6 is exact in binary64
# From here on x's fraction times 1e6 is exact and one addition rounds right: see _round_big
_SPLIT = 2.0**20


def round6(values: Floats) -> Floats:
    """Elementwise `round(v, 6)`, bit for bit (also -0.0, inf and NaN).

    Python rounds the exact binary value half-to-even and returns the double
    nearest to the resulting decimal. rint(x*1e6)/1e6 computes the same as long
    as y = fl(x*1e6) is below 2**52 and not a half-integer: y and the exact
    product X are multiples of, and at most half of, ulp(y) <= 0.5 apart, so no
    half-integer lies between them and rint picks the integer nearest to X; the
    division by 1e6 is then correctly rounded like Python's strtod. The rest is
    fixed up: |x| >= 2**20 by _round_big, y on a half-integer by _round_tie.
    Such ties are common in ratio bounds: h * 0.9 of a 6-place h often ends in
    5 at the 7th place.
    """
    shape = np.shape(values)
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):  # |x| > 1.8e302 overflows y; fixed below
        y = x * _SCALE
        out = np.rint(y)
        tie = np.abs(y - out) == 0.5
        big = np.abs(y, out=y) >= _SPLIT * _SCALE  # also inf
        np.divide(out, _SCALE, out=out)
        big_at = np.flatnonzero(big)
        if big_at.size == x.size:  # e.g. a bytes metric: skip the gather and scatter
            return _round_big(x).reshape(shape)
        if big_at.size:
            out[big_at] = _round_big(x[big_at])
            tie[big_at] = False
    tie_at = np.flatnonzero(tie)
    if tie_at.size:
        out[tie_at] = _round_tie(x[tie_at])
    return out.reshape(shape)


def _round_tie(x: Floats) -> Floats:
    # y = fl(x*1e6) is a half-integer; the sign of the exact error x*1e6 - y
    # tells which way x rounds. Dekker's product gives that error exactly:
    # Veltkamp's split leaves x's halves 26 bits each, and 1e6 has 14
    # significant bits, so both partial products are exact.
    y = x * _SCALE
    split = x * 134217729.0  # 2**27 + 1
    high = split - (split - x)
    error = (high * _SCALE - y) + (x - high) * _SCALE
    digits = np.where(error > 0, y + 0.5, np.where(error < 0, y - 0.5, np.rint(y)))
    return np.copysign(digits / _SCALE, x)  # -0.0000004 rounds to -0.0, as in Python


def _round_big(x: Floats) -> Floats:
    # x = whole + fraction exactly. For |x| >= 2**20 the fraction is a multiple
    # of ulp(x) with at most 32 significant bits, so fraction*1e6 (1e6 = 15625 *
    # 2**6) is exact and rint rounds it half-even like Python. The decimal
    # result whole + digits/1e6 is either a rounding midpoint of the doubles
    # near x (multiples of 2**-33; then digits/1e6 is exact) or at least
    # 1e-6 * 2**-33 > 2**-53 away from every one, twice the error of digits/1e6:
    # the one addition rounds it as Python's strtod does.
    whole = np.trunc(x)
    rounded = whole + np.rint((x - whole) * _SCALE) / _SCALE
    return np.where(np.isinf(x), x, rounded)  # round(inf, 6) is inf


def rounded_column(history: BatchHistory, timestamp: int) -> Floats | None:
    """round6 of the history column at `timestamp` (NaN = missing), or None when it is absent."""
    column = history.get(timestamp)
    return None if column is None else round6(column)


def no_anomaly(values: Floats, t: int, interval: int, history: BatchHistory) -> Flags:
    return np.zeros(len(values), dtype=bool)


def compile_algorithm_batch(algorithm: dict[str, Any], metric_unit: str = "") -> BatchDetector | None:
    """The batch twin of registry.compile_algorithm; None when the algorithm has no batch form."""
    # registry imports the algorithms, which import this module
    from alarm_backends.service.detect.registry import _scale, parse_algorithm

    parsed = parse_algorithm(algorithm)
    return parsed.spec.batch_detector(_scale(parsed, metric_unit))


def compile_level_batch(
    algorithms: Sequence[dict[str, Any]], connector: str, metric_unit: str = ""
) -> BatchDetector | None:
    """The batch twin of level.compile_level; None when some algorithm has no batch form."""
    from alarm_backends.service.detect.level import validate_connector

    validate_connector(connector)
    compiled = [compile_algorithm_batch(algorithm, metric_unit) for algorithm in algorithms]
    detectors = [d for d in compiled if d is not None]
    if len(detectors) < len(compiled):
        return None
    if not detectors:
        return no_anomaly
    if len(detectors) == 1:
        return detectors[0]
    return _combine(detectors, connector)


def _combine(detectors: Sequence[BatchDetector], connector: str) -> BatchDetector:
    first, rest = detectors[0], detectors[1:]
    if connector == "and":

        def detect_all(values: Floats, t: int, interval: int, history: BatchHistory) -> Flags:
            result = first(values, t, interval, history)
            for detector in rest:
                if not result.any():
                    break
                result &= detector(values, t, interval, history)
            return result

        return detect_all

    def detect_any(values: Floats, t: int, interval: int, history: BatchHistory) -> Flags:
        result = first(values, t, interval, history)
        for detector in rest:
            if result.all():
                break
            result |= detector(values, t, interval, history)
        return result

    return detect_any
