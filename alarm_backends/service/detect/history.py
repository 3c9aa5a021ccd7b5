from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol


class History(Protocol):
    def get(self, timestamp: int) -> float | None:
        """The aggregated value of the window starting at `timestamp`, or None."""
        ...


class MappingHistory:
    """History over a plain {timestamp: value} mapping."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[int, float | None] | None = None) -> None:
        self._values: dict[int, float | None] = dict(values or {})

    def get(self, timestamp: int) -> float | None:
        return self._values.get(timestamp)


EMPTY_HISTORY: History = MappingHistory()

# A compiled algorithm: (value, t, interval, history) -> anomalous?
Detector = Callable[[float, int, int, History], bool]
