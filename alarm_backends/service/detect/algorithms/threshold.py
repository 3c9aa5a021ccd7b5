"""Threshold: a list of AND-groups OR-ed together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from alarm_backends.service.detect.batch import UFUNCS, BatchDetector, BatchHistory, Flags, Floats
from alarm_backends.service.detect.compare import METHODS, Comparator, rounded
from alarm_backends.service.detect.errors import AlgorithmConfigError
from alarm_backends.service.detect.history import Detector, History
from alarm_backends.service.detect.rounding import rounding
from alarm_backends.service.detect.validation import choice, mapping, number

CompiledGroups = Sequence[Sequence[tuple[Comparator, float]]]


def threshold_anomaly(value: float, groups: CompiledGroups) -> bool:
    """Any group whose every (op, threshold) holds for `value` (all already rounded)."""
    for group in groups:
        for op, threshold in group:
            if not op(value, threshold):
                break
        else:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Condition:
    method: str
    threshold: float


@dataclass(frozen=True, slots=True)
class Threshold:
    groups: tuple[tuple[Condition, ...], ...]
    uses_unit: ClassVar[bool] = True

    @classmethod
    def parse(cls, config: Any, field: str = "config") -> Threshold:
        if not isinstance(config, list) or not config:
            raise AlgorithmConfigError(
                field, 'must be a non-empty list of AND-groups, e.g. [[{"method": "gte", "threshold": 90}]]'
            )
        groups = []
        for i, group in enumerate(config):
            group_field = f"{field}[{i}]"
            if not isinstance(group, list) or not group:
                raise AlgorithmConfigError(group_field, "must be a non-empty list of {method, threshold} conditions")
            conditions = []
            for j, raw in enumerate(group):
                cond_field = f"{group_field}[{j}]"
                cond = mapping(raw, cond_field, ("method", "threshold"))
                method = choice(cond, "method", cond_field, tuple(METHODS))
                threshold = number(cond, "threshold", cond_field)
                assert threshold is not None
                conditions.append(Condition(method, threshold))
            groups.append(tuple(conditions))
        return cls(tuple(groups))

    def history_offsets(self, interval: int) -> list[int]:
        return []

    def _thresholds(self, scale: float) -> tuple[tuple[tuple[str, float], ...], ...]:
        return tuple(tuple((c.method, rounded(c.threshold * scale)) for c in group) for group in self.groups)

    def detector(self, scale: float = 1.0) -> Detector:
        compiled = tuple(tuple((METHODS[m], th) for m, th in group) for group in self._thresholds(scale))

        def on_rounded(value: float, t: int, interval: int, history: History) -> bool:
            return threshold_anomaly(value, compiled)

        return rounding(on_rounded)

    def batch_detector(self, scale: float = 1.0) -> BatchDetector:
        compiled = tuple(tuple((UFUNCS[m], th) for m, th in group) for group in self._thresholds(scale))

        def detect(values: Floats, t: int, interval: int, history: BatchHistory) -> Flags:
            anomalous = np.zeros(len(values), dtype=bool)
            for (first_op, first_threshold), *rest in compiled:
                holds = first_op(values, first_threshold)
                for op, threshold in rest:
                    holds &= op(values, threshold)
                anomalous |= holds
            return anomalous

        return detect
