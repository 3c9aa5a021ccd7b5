"""A level's algorithms combined by the detect's connector."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alarm_backends.service.detect.errors import AlgorithmConfigError
from alarm_backends.service.detect.history import Detector, History
from alarm_backends.service.detect.registry import AlgorithmDict, cache_key, cached_detector, compile_algorithm
from alarm_backends.service.detect.rounding import on_rounded, rounding

CONNECTORS = ("and", "or")


def _never(value: float, t: int, interval: int, history: History) -> bool:
    return False


def validate_connector(connector: Any) -> None:
    if connector not in CONNECTORS:
        raise AlgorithmConfigError("connector", f'must be "and" or "or", got {connector!r}')


def compile_level(algorithms: Sequence[AlgorithmDict], connector: str, metric_unit: str = "") -> Detector:
    """One detector for the level: all algorithms anomalous ("and") or any ("or")."""
    validate_connector(connector)
    detectors = tuple(compile_algorithm(algorithm, metric_unit) for algorithm in algorithms)
    if not detectors:
        return _never
    if len(detectors) == 1:
        return detectors[0]
    parts = tuple(on_rounded(d) for d in detectors)
    if all(parts):  # round the value once for all of them
        return rounding(_combine(parts, connector))  # type: ignore[arg-type]
    return _combine(detectors, connector)


def _combine(detectors: Sequence[Detector], connector: str) -> Detector:
    if connector == "and":

        def detect_all(value: float, t: int, interval: int, history: History) -> bool:
            return all(detector(value, t, interval, history) for detector in detectors)

        return detect_all

    def detect_any(value: float, t: int, interval: int, history: History) -> bool:
        return any(detector(value, t, interval, history) for detector in detectors)

    return detect_any


def detect_level(
    algorithms: list[AlgorithmDict],
    connector: str,
    value: float,
    t: int,
    interval: int,
    history: History,
    metric_unit: str = "",
) -> bool:
    """True when the level is anomalous; an empty algorithm list never is."""
    detector = cached_detector(
        ("level", cache_key(algorithms), str(connector), metric_unit),
        lambda: compile_level(algorithms, connector, metric_unit),
    )
    return detector(value, t, interval, history)
