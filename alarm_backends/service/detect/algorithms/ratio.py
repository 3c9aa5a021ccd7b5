"""Ring ratio / year round: a drop of `floor`% or a rise of `ceil`% against history.

A side whose percentage is 0 or null is not checked (bk-monitor only builds the
floor/ceil expression when that value is set), so {"floor": 0, "ceil": 10}
only alarms on rises.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from alarm_backends.service.detect.algorithms.base import DAY, MAX_DAYS, MAX_POINTS, WEEK
from alarm_backends.service.detect.batch import (
    BatchDetector,
    BatchHistory,
    Flags,
    Floats,
    no_anomaly,
    round6,
    rounded_column,
)
from alarm_backends.service.detect.compare import rounded
from alarm_backends.service.detect.errors import AlgorithmConfigError
from alarm_backends.service.detect.history import Detector, History
from alarm_backends.service.detect.rounding import rounding
from alarm_backends.service.detect.validation import choice, integer, mapping, number

FETCH_TYPES = ("avg", "last")

# sum() of floats is compensated (Neumaier) from Python 3.12 on; the batch mean adds up the same way
COMPENSATED_SUM = sys.version_info >= (3, 12)


def ratio_anomaly(
    value: float,
    floor_history: float | None,
    ceil_history: float | None,
    floor: float | None,
    ceil: float | None,
) -> bool:
    """(v or h) and (v <= h*(100-floor)/100 or v >= h*(100+ceil)/100), per side.

    Inputs are rounded already; a side with no history (None) is not anomalous.
    """
    if (
        floor
        and floor_history is not None
        and (value or floor_history)
        and value <= rounded(floor_history * (100 - floor) / 100)
    ):
        return True
    return bool(
        ceil
        and ceil_history is not None
        and (value or ceil_history)
        and value >= rounded(ceil_history * (100 + ceil) / 100)
    )


def aggregate_history(points: list[float | None], n: int, fetch_type: str) -> float | None:
    """Mean (avg) or last of the n previous points, newest first, skipping missing ones.

    "last" is the oldest present point of the n, as in bk-monitor: the value n
    points (days) ago, or the nearest present one after it.
    """
    present = [p for p in points[:n] if p is not None]
    if not present:
        return None
    if fetch_type == "avg":
        return rounded(sum(present) / len(present))
    return present[-1]


def ratio_anomaly_batch(
    values: Floats, floor_history: Floats | None, ceil_history: Floats | None, floor: float | None, ceil: float | None
) -> Flags:
    """ratio_anomaly per element; a NaN (missing) history fails every comparison, as None does."""
    anomalous = np.zeros(len(values), dtype=bool)
    if floor and floor_history is not None:
        bound = round6(floor_history * (100 - floor) / 100)
        anomalous |= ((values != 0) | (floor_history != 0)) & (values <= bound)
    if ceil and ceil_history is not None:
        bound = round6(ceil_history * (100 + ceil) / 100)
        anomalous |= ((values != 0) | (ceil_history != 0)) & (values >= bound)
    return anomalous


def python_sum(columns: Sequence[Floats], compensated: bool = COMPENSATED_SUM) -> tuple[Floats, Floats]:
    """Per element: what sum() gives for the present (non-NaN) values in column order, and their count."""
    total = np.zeros(len(columns[0]))
    compensation = np.zeros_like(total)
    count = np.zeros_like(total)
    for column in columns:
        present = ~np.isnan(column)
        count += present
        x = np.where(present, column, 0.0)  # adding 0.0 changes neither the total nor the compensation
        if compensated:  # CPython's loop, step for step
            new_total = total + x
            compensation += np.where(np.abs(total) >= np.abs(x), (total - new_total) + x, (x - new_total) + total)
            total = new_total
        else:
            total += x
    if compensated:
        total = np.where((compensation != 0) & np.isfinite(compensation), total + compensation, total)
    return total, count


def aggregate_history_batch(columns: Sequence[Floats | None], n: int, fetch_type: str) -> Floats | None:
    """aggregate_history per element over rounded columns, newest first; NaN = no point, None = no column."""
    present = [column for column in columns[:n] if column is not None]
    if not present:
        return None
    if fetch_type == "avg":
        total, count = python_sum(present)
        with np.errstate(invalid="ignore"):  # 0/0 = NaN where a series has no point
            return round6(total / count)
    last = present[0]
    for column in present[1:]:
        last = np.where(np.isnan(column), last, column)
    return last


def _floor(config: Mapping[str, Any], field: str) -> float | None:
    # floor >= 100 turns "dropped by floor%" into "v <= 0 or less": a threshold, not a ratio
    return number(config, "floor", field, minimum=0, below=100, nullable=True)


def _ceil(config: Mapping[str, Any], field: str) -> float | None:
    return number(config, "ceil", field, minimum=0, nullable=True)


def _require_a_side(floor: float | None, ceil: float | None, field: str) -> None:
    if not floor and not ceil:
        raise AlgorithmConfigError(field, "floor and ceil are both 0 or null; set at least one of them")


@dataclass(frozen=True, slots=True)
class SimpleRatio:
    floor: float | None
    ceil: float | None
    period: int | None  # seconds back to the compared point; None = one detection interval
    uses_unit: ClassVar[bool] = False

    @classmethod
    def parse_ring(cls, config: Any, field: str = "config") -> SimpleRatio:
        return cls._parse(config, field, None)

    @classmethod
    def parse_year(cls, config: Any, field: str = "config") -> SimpleRatio:
        return cls._parse(config, field, WEEK)

    @classmethod
    def _parse(cls, config: Any, field: str, period: int | None) -> SimpleRatio:
        cfg = mapping(config, field, ("floor", "ceil"))
        floor, ceil = _floor(cfg, field), _ceil(cfg, field)
        _require_a_side(floor, ceil, field)
        return cls(floor or None, ceil or None, period)

    def history_offsets(self, interval: int) -> list[int]:
        return [self.period or interval]

    def detector(self, scale: float = 1.0) -> Detector:
        floor, ceil, period = self.floor, self.ceil, self.period

        def on_rounded(value: float, t: int, interval: int, history: History) -> bool:
            h = history.get(t - (period or interval))
            if h is None:
                return False
            h = rounded(h)
            return ratio_anomaly(value, h, h, floor, ceil)

        return rounding(on_rounded)

    def batch_detector(self, scale: float = 1.0) -> BatchDetector:
        floor, ceil, period = self.floor, self.ceil, self.period

        def detect(values: Floats, t: int, interval: int, history: BatchHistory) -> Flags:
            h = rounded_column(history, t - (period or interval))
            if h is None:
                return no_anomaly(values, t, interval, history)
            return ratio_anomaly_batch(values, h, h, floor, ceil)

        return detect


@dataclass(frozen=True, slots=True)
class AdvancedRatio:
    floor: float | None
    ceil: float | None
    floor_points: int  # 0 when the floor side is off
    ceil_points: int
    fetch_type: str
    period: int | None  # seconds between compared points; None = one detection interval
    uses_unit: ClassVar[bool] = False

    @classmethod
    def parse_ring(cls, config: Any, field: str = "config") -> AdvancedRatio:
        return cls._parse(config, field, None, MAX_POINTS)

    @classmethod
    def parse_year(cls, config: Any, field: str = "config") -> AdvancedRatio:
        return cls._parse(config, field, DAY, MAX_DAYS)

    @classmethod
    def _parse(cls, config: Any, field: str, period: int | None, max_points: int) -> AdvancedRatio:
        cfg = mapping(config, field, ("floor", "ceil", "floor_interval", "ceil_interval", "fetch_type"))
        floor, ceil = _floor(cfg, field), _ceil(cfg, field)
        floor_n = integer(cfg, "floor_interval", field, minimum=1, maximum=max_points, nullable=True)
        ceil_n = integer(cfg, "ceil_interval", field, minimum=1, maximum=max_points, nullable=True)
        fetch_type = choice(cfg, "fetch_type", field, FETCH_TYPES, default="avg")
        _require_a_side(floor, ceil, field)
        if floor and floor_n is None:
            raise AlgorithmConfigError(f"{field}.floor_interval", "is required when floor is set")
        if ceil and ceil_n is None:
            raise AlgorithmConfigError(f"{field}.ceil_interval", "is required when ceil is set")
        return cls(
            floor or None,
            ceil or None,
            floor_n if floor and floor_n else 0,
            ceil_n if ceil and ceil_n else 0,
            fetch_type,
            period,
        )

    def history_offsets(self, interval: int) -> list[int]:
        step = self.period or interval
        return [k * step for k in range(1, max(self.floor_points, self.ceil_points) + 1)]

    def detector(self, scale: float = 1.0) -> Detector:
        floor, ceil, period, fetch_type = self.floor, self.ceil, self.period, self.fetch_type
        floor_n, ceil_n = self.floor_points, self.ceil_points
        depth = range(1, max(floor_n, ceil_n) + 1)

        def on_rounded(value: float, t: int, interval: int, history: History) -> bool:
            step = period or interval
            points = []
            for k in depth:
                p = history.get(t - k * step)
                points.append(None if p is None else rounded(p))
            floor_h = aggregate_history(points, floor_n, fetch_type) if floor_n else None
            ceil_h = aggregate_history(points, ceil_n, fetch_type) if ceil_n else None
            return ratio_anomaly(value, floor_h, ceil_h, floor, ceil)

        return rounding(on_rounded)

    def batch_detector(self, scale: float = 1.0) -> BatchDetector:
        floor, ceil, period, fetch_type = self.floor, self.ceil, self.period, self.fetch_type
        floor_n, ceil_n = self.floor_points, self.ceil_points
        depth = range(1, max(floor_n, ceil_n) + 1)

        def detect(values: Floats, t: int, interval: int, history: BatchHistory) -> Flags:
            step = period or interval
            columns = [rounded_column(history, t - k * step) for k in depth]
            floor_h = aggregate_history_batch(columns, floor_n, fetch_type) if floor_n else None
            ceil_h = floor_h if ceil_n == floor_n else aggregate_history_batch(columns, ceil_n, fetch_type)
            return ratio_anomaly_batch(values, floor_h, ceil_h, floor, ceil)

        return detect
