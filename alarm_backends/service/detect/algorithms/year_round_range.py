"""YearRoundRange: |v| against the same time on each of the previous days."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from alarm_backends.service.detect.algorithms.amplitude import DailyComparison
from alarm_backends.service.detect.algorithms.base import DAY
from alarm_backends.service.detect.batch import (
    UFUNCS,
    BatchDetector,
    BatchHistory,
    Flags,
    Floats,
    round6,
    rounded_column,
)
from alarm_backends.service.detect.compare import METHODS, Comparator, rounded
from alarm_backends.service.detect.history import Detector, History
from alarm_backends.service.detect.rounding import rounding


def year_round_range_anomaly(
    value: float, past: Iterable[float | None], ratio: float, shock: float, op: Comparator
) -> bool:
    """Any i with |v| op |v(t-(i+1) days)|*ratio + shock; `past` is rounded, None = missing day."""
    magnitude = abs(value)
    return any(then is not None and op(magnitude, rounded(abs(then) * ratio + shock)) for then in past)


@dataclass(frozen=True, slots=True)
class YearRoundRange:
    config: DailyComparison
    uses_unit: ClassVar[bool] = True

    @classmethod
    def parse(cls, config: Any, field: str = "config") -> YearRoundRange:
        return cls(DailyComparison.parse_config(config, field))

    def history_offsets(self, interval: int) -> list[int]:
        return [day * DAY for day in range(1, self.config.days + 1)]

    def detector(self, scale: float = 1.0) -> Detector:
        ratio, shock = self.config.ratio, self.config.shock * scale
        op = METHODS[self.config.method]
        day_offsets = tuple(self.history_offsets(0))

        def on_rounded(value: float, t: int, interval: int, history: History) -> bool:
            get = history.get
            past = (None if (h := get(t - offset)) is None else rounded(h) for offset in day_offsets)
            return year_round_range_anomaly(value, past, ratio, shock, op)

        return rounding(on_rounded)

    def batch_detector(self, scale: float = 1.0) -> BatchDetector:
        ratio, shock = self.config.ratio, self.config.shock * scale
        op = UFUNCS[self.config.method]
        day_offsets = tuple(self.history_offsets(0))

        def detect(values: Floats, t: int, interval: int, history: BatchHistory) -> Flags:
            magnitude = np.abs(values)
            anomalous = np.zeros(len(values), dtype=bool)
            for offset in day_offsets:
                then = rounded_column(history, t - offset)
                if then is not None:
                    # "neq" holds for NaN, so missing days are masked out, not left to the comparison
                    anomalous |= op(magnitude, round6(np.abs(then) * ratio + shock)) & ~np.isnan(then)
            return anomalous

        return detect
