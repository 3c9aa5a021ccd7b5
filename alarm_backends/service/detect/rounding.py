"""Detectors that round the value once.

Every algorithm compares the value rounded to 6 places. A detector built with
`rounding` exposes the comparison on an already rounded value as
`detector.on_rounded`, so a caller running several detectors on one value (the
access stage, per closed window) rounds it once instead of once per detector.
"""
from __future__ import annotations

from collections.abc import Callable

from alarm_backends.service.detect.compare import rounded
from alarm_backends.service.detect.history import Detector, History

RoundedDetector = Callable[[float, int, int, History], bool]  # the value is already rounded


def rounding(on_rounded: RoundedDetector) -> Detector:
    def detect(value: float, t: int, interval: int, history: History) -> bool:
        return on_rounded(rounded(value), t, interval, history)

    detect.on_rounded = on_rounded  # type: ignore[attr-defined]
    return detect


def on_rounded(detector: Detector) -> RoundedDetector | None:
    """The detector's comparison on a rounded value, when it offers one."""
    return getattr(detector, "on_rounded", None)
