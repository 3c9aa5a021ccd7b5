"""Algorithm dicts -> validated specs -> compiled detectors."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from alarm_backends.service.detect import units
from alarm_backends.service.detect.algorithms.amplitude import RingRatioAmplitude, YearRoundAmplitude
from alarm_backends.service.detect.algorithms.base import AlgorithmSpec
from alarm_backends.service.detect.algorithms.ratio import AdvancedRatio, SimpleRatio
from alarm_backends.service.detect.algorithms.threshold import Threshold
from alarm_backends.service.detect.algorithms.year_round_range import YearRoundRange
from alarm_backends.service.detect.errors import AlgorithmConfigError
from alarm_backends.service.detect.history import Detector, History

__all__ = [
    "ALGORITHM_TYPES",
    "AlgorithmConfigError",
    "ParsedAlgorithm",
    "compile_algorithm",
    "is_anomaly",
    "parse_algorithm",
    "required_history",
    "validate_algorithm",
]

logger = logging.getLogger(__name__)

_PARSERS: dict[str, Callable[[Any, str], AlgorithmSpec]] = {
    "Threshold": Threshold.parse,
    "SimpleRingRatio": SimpleRatio.parse_ring,
    "SimpleYearRound": SimpleRatio.parse_year,
    "AdvancedRingRatio": AdvancedRatio.parse_ring,
    "AdvancedYearRound": AdvancedRatio.parse_year,
    "RingRatioAmplitude": RingRatioAmplitude.parse,
    "YearRoundAmplitude": YearRoundAmplitude.parse,
    "YearRoundRange": YearRoundRange.parse,
}

ALGORITHM_TYPES: tuple[str, ...] = tuple(_PARSERS)

# {"level": 1, "type": "Threshold", "config": ..., "unit_prefix": "%"}
AlgorithmDict = dict[str, Any]

LEVELS = (1, 2, 3)

# (unit_prefix, metric_unit) pairs already warned about, so a bad strategy logs once, not per point
_warned_unit_pairs: set[tuple[str, str]] = set()


@dataclass(frozen=True, slots=True)
class ParsedAlgorithm:
    type: str
    spec: AlgorithmSpec
    unit_prefix: str


def parse_algorithm(algorithm: Any, metric_unit: str = "") -> ParsedAlgorithm:
    """Validate an algorithm dict; a non-empty `metric_unit` also checks unit_prefix against it."""
    if not isinstance(algorithm, Mapping):
        raise AlgorithmConfigError("algorithm", f"must be an object, got {type(algorithm).__name__}")
    kind = algorithm.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise AlgorithmConfigError(
            "type", f"unknown algorithm type {kind!r}; expected one of {', '.join(ALGORITHM_TYPES)}"
        )
    if "level" in algorithm and (algorithm["level"] not in LEVELS or isinstance(algorithm["level"], bool)):
        raise AlgorithmConfigError("level", f"must be 1 (fatal), 2 (warning) or 3 (remind), got {algorithm['level']!r}")
    if "config" not in algorithm:
        raise AlgorithmConfigError("config", "is required")
    spec = parser(algorithm["config"], "config")
    assert isinstance(kind, str)
    prefix = _unit_prefix(algorithm.get("unit_prefix"))
    if (prefix and metric_unit and units.is_known(metric_unit)
            and units.conversion_factor(prefix, metric_unit) is None):
        raise AlgorithmConfigError(
            "unit_prefix",
            f"{prefix!r} is a {units.dimension(prefix)} unit and cannot be compared with the metric's "
            f"unit {metric_unit!r} ({units.dimension(metric_unit)})",
        )
    return ParsedAlgorithm(kind, spec, prefix)


def _unit_prefix(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not units.is_known(value):
        raise AlgorithmConfigError(
            "unit_prefix",
            f'unknown unit {value!r}; use "" for the metric\'s own unit or one of {", ".join(units.UNITS)}',
        )
    return value


def validate_algorithm(algorithm: AlgorithmDict, metric_unit: str = "") -> None:
    parse_algorithm(algorithm, metric_unit)


def required_history(algorithm: AlgorithmDict, interval: int) -> list[int]:
    """Offsets in seconds before t (ascending) whose values the algorithm reads."""
    return parse_algorithm(algorithm).spec.history_offsets(interval)


def _scale(parsed: ParsedAlgorithm, metric_unit: str) -> float:
    if not parsed.spec.uses_unit or not parsed.unit_prefix:
        return 1.0
    factor = units.conversion_factor(parsed.unit_prefix, metric_unit)
    if factor is not None:
        return factor
    pair = (parsed.unit_prefix, metric_unit)
    if pair not in _warned_unit_pairs:
        _warned_unit_pairs.add(pair)
        logger.warning(
            "detect: unit_prefix %r cannot be converted to metric unit %r; comparing raw numbers",
            parsed.unit_prefix,
            metric_unit,
        )
    return 1.0


def compile_algorithm(algorithm: AlgorithmDict, metric_unit: str = "") -> Detector:
    """A detector (value, t, interval, history) -> bool with the config parsed once.

    Incompatible units are not an error here (the strategy was stored already):
    the detector compares raw numbers and the mismatch is logged once.
    """
    parsed = parse_algorithm(algorithm)
    return parsed.spec.detector(_scale(parsed, metric_unit))


_DETECTOR_CACHE_SIZE = 4096
_detectors: dict[tuple[str, ...], Detector] = {}


def cached_detector(key: tuple[str, ...], build: Callable[[], Detector]) -> Detector:
    """Memoise compiled detectors for the dict-taking convenience functions."""
    detector = _detectors.get(key)
    if detector is None:
        if len(_detectors) >= _DETECTOR_CACHE_SIZE:
            _detectors.clear()
        detector = _detectors[key] = build()
    return detector


def cache_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def is_anomaly(
    algorithm: AlgorithmDict, value: float, t: int, interval: int, history: History, metric_unit: str = ""
) -> bool:
    """One-off detection; hot paths should keep the result of compile_algorithm instead."""
    detector = cached_detector(
        ("algorithm", cache_key(algorithm), metric_unit), lambda: compile_algorithm(algorithm, metric_unit)
    )
    return detector(value, t, interval, history)
