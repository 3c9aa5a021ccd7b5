"""Shared constants and builders for the detect tests."""
from __future__ import annotations

from typing import Any

from alarm_backends.service.detect.history import MappingHistory

INTERVAL = 60
DAY = 86400
WEEK = 7 * DAY
T = 1000 * DAY  # a window start aligned to the interval and to midnight


def algorithm(kind: str, config: Any, unit_prefix: str | None = None, level: int = 1) -> dict[str, Any]:
    algo: dict[str, Any] = {"level": level, "type": kind, "config": config}
    if unit_prefix is not None:
        algo["unit_prefix"] = unit_prefix
    return algo


def history_before(offsets_to_values: dict[int, float | None], t: int = T) -> MappingHistory:
    """History given as {seconds before t: value}."""
    return MappingHistory({t - offset: value for offset, value in offsets_to_values.items()})


def points_before(step: int, values: list[float | None], t: int = T) -> MappingHistory:
    """values[0] sits one step before t, values[1] two steps before, ..."""
    return history_before({(k + 1) * step: v for k, v in enumerate(values)}, t)
