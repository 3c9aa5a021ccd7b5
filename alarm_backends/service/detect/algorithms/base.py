from __future__ import annotations

from typing import Protocol

from alarm_backends.service.detect.batch import BatchDetector
from alarm_backends.service.detect.history import Detector

DAY = 86400
WEEK = 7 * DAY

# Upper bounds keep required_history (and the history store) finite.
MAX_POINTS = 1440
MAX_DAYS = 365


class AlgorithmSpec(Protocol):
    @property
    def uses_unit(self) -> bool:
        """True when the config holds absolute values (thresholds, shock) that unit_prefix applies to."""
        ...

    def history_offsets(self, interval: int) -> list[int]:
        """Seconds before t whose values the detector reads, ascending."""
        ...

    def detector(self, scale: float = 1.0) -> Detector:
        """`scale` turns the config's absolute values into the metric's unit."""
        ...

    def batch_detector(self, scale: float = 1.0) -> BatchDetector | None:
        """The same detection over a column of series (see batch.py), or None when there is no batch form."""
        ...
