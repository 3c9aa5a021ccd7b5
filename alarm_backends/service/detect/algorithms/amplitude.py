"""Amplitude: the size of a change against a threshold or against past changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from alarm_backends.service.detect.algorithms.base import DAY, MAX_DAYS
from alarm_backends.service.detect.batch import (
    UFUNCS,
    BatchDetector,
    BatchHistory,
    Flags,
    Floats,
    no_anomaly,
    round6,
    rounded_column,
)
from alarm_backends.service.detect.compare import METHODS, Comparator, rounded
from alarm_backends.service.detect.history import Detector, History
from alarm_backends.service.detect.rounding import rounding
from alarm_backends.service.detect.validation import choice, integer, mapping, number


def ring_ratio_amplitude_anomaly(value: float, prev: float, ratio: float, shock: float, threshold: float) -> bool:
    """v >= threshold and prev >= threshold and |prev - v| >= prev*ratio + shock (inputs rounded)."""
    return value >= threshold and prev >= threshold and rounded(abs(prev - value)) >= rounded(prev * ratio + shock)


def year_round_amplitude_anomaly(
    value: float,
    prev: float,
    past_pairs: Iterable[tuple[float | None, float | None]],
    ratio: float,
    shock: float,
    op: Comparator,
) -> bool:
    """Any day i with |v - v(t-Δ)| op |v(t-i days) - v(t-i days-Δ)|*ratio + shock.

    `past_pairs` yields (v(t-i days), v(t-i days-Δ)), rounded; a day with a
    missing point is skipped.
    """
    change = rounded(abs(value - prev))
    for then, before in past_pairs:
        if then is not None and before is not None and op(change, rounded(abs(then - before) * ratio + shock)):
            return True
    return False


def _rounded_or_none(value: float | None) -> float | None:
    return None if value is None else rounded(value)


@dataclass(frozen=True, slots=True)
class RingRatioAmplitude:
    ratio: float
    shock: float
    threshold: float
    uses_unit: ClassVar[bool] = True

    @classmethod
    def parse(cls, config: Any, field: str = "config") -> RingRatioAmplitude:
        cfg = mapping(config, field, ("ratio", "shock", "threshold"))
        ratio, shock, threshold = (number(cfg, key, field) for key in ("ratio", "shock", "threshold"))
        assert ratio is not None and shock is not None and threshold is not None
        return cls(ratio, shock, threshold)

    def history_offsets(self, interval: int) -> list[int]:
        return [interval]

    def detector(self, scale: float = 1.0) -> Detector:
        ratio, shock, threshold = self.ratio, self.shock * scale, rounded(self.threshold * scale)

        def on_rounded(value: float, t: int, interval: int, history: History) -> bool:
            prev = history.get(t - interval)
            if prev is None:
                return False
            return ring_ratio_amplitude_anomaly(value, rounded(prev), ratio, shock, threshold)

        return rounding(on_rounded)

    def batch_detector(self, scale: float = 1.0) -> BatchDetector:
        ratio, shock, threshold = self.ratio, self.shock * scale, rounded(self.threshold * scale)

        def detect(values: Floats, t: int, interval: int, history: BatchHistory) -> Flags:
            prev = rounded_column(history, t - interval)
            if prev is None:
                return no_anomaly(values, t, interval, history)
            # a missing (NaN) prev fails `prev >= threshold`
            jump = round6(np.abs(prev - values)) >= round6(prev * ratio + shock)
            return (values >= threshold) & (prev >= threshold) & jump

        return detect


@dataclass(frozen=True, slots=True)
class DailyComparison:
    """The (ratio, shock, days, method) config shared with YearRoundRange."""

    ratio: float
    shock: float
    days: int
    method: str

    @classmethod
    def parse_config(cls, config: Any, field: str) -> DailyComparison:
        cfg: Mapping[str, Any] = mapping(config, field, ("ratio", "shock", "days", "method"))
        ratio, shock = number(cfg, "ratio", field), number(cfg, "shock", field)
        days = integer(cfg, "days", field, minimum=1, maximum=MAX_DAYS)
        method = choice(cfg, "method", field, tuple(METHODS))
        assert ratio is not None and shock is not None and days is not None
        return cls(ratio, shock, days, method)


@dataclass(frozen=True, slots=True)
class YearRoundAmplitude:
    config: DailyComparison
    uses_unit: ClassVar[bool] = True

    @classmethod
    def parse(cls, config: Any, field: str = "config") -> YearRoundAmplitude:
        return cls(DailyComparison.parse_config(config, field))

    def history_offsets(self, interval: int) -> list[int]:
        offsets = {interval}
        for day in range(1, self.config.days + 1):
            offsets.update((day * DAY, day * DAY + interval))
        return sorted(offsets)

    def detector(self, scale: float = 1.0) -> Detector:
        ratio, shock = self.config.ratio, self.config.shock * scale
        op = METHODS[self.config.method]
        day_offsets = tuple(day * DAY for day in range(1, self.config.days + 1))

        def on_rounded(value: float, t: int, interval: int, history: History) -> bool:
            prev = history.get(t - interval)
            if prev is None:
                return False
            get = history.get
            pairs = (
                (_rounded_or_none(get(t - offset)), _rounded_or_none(get(t - offset - interval)))
                for offset in day_offsets
            )
            return year_round_amplitude_anomaly(value, rounded(prev), pairs, ratio, shock, op)

        return rounding(on_rounded)

    def batch_detector(self, scale: float = 1.0) -> BatchDetector:
        ratio, shock = self.config.ratio, self.config.shock * scale
        op = UFUNCS[self.config.method]
        day_offsets = tuple(day * DAY for day in range(1, self.config.days + 1))

        def detect(values: Floats, t: int, interval: int, history: BatchHistory) -> Flags:
            prev = rounded_column(history, t - interval)
            if prev is None:
                return no_anomaly(values, t, interval, history)
            change = round6(np.abs(values - prev))
            anomalous = np.zeros(len(values), dtype=bool)
            for offset in day_offsets:
                then, before = rounded_column(history, t - offset), rounded_column(history, t - offset - interval)
                if then is None or before is None:
                    continue
                # "neq" holds for NaN, so missing points are masked out, not left to the comparison
                holds = op(change, round6(np.abs(then - before) * ratio + shock))
                anomalous |= holds & ~(np.isnan(then) | np.isnan(before))
            return anomalous & ~np.isnan(prev)

        return detect
