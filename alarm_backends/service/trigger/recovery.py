"""Recovery and no-data decisions for one series, in event time (docs/ARCHITECTURE.md, Semantics: recovery, no-data).

An alert's series recovers once `check_window` consecutive windows no longer
meet the trigger condition of the alert's own level (a less severe level firing
does not hold it back: Semantics: how levels interact); after the first clean window it is "recovering"
(notices held). `status_setter` decides RECOVERED ("recovery") or CLOSED
("close"); the "-nodata" variants also end the alert when the series goes
silent for `check_window` windows (without them, silence leaves the alert to
the no-data close sweep). A series seen before and silent for `continuous`
windows raises a no-data event at the configured level.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RecoveryRule:
    check_window: int
    ends_as: str  # "recovered" or "closed"
    on_nodata: bool

    @classmethod
    def of(cls, recovery_config: dict[str, Any]) -> RecoveryRule:
        setter = str(recovery_config.get("status_setter", "recovery"))
        return cls(check_window=max(1, int(recovery_config.get("check_window", 5))),
                   ends_as="closed" if setter.startswith("close") else "recovered",
                   on_nodata=setter.endswith("-nodata"))


def missing_windows(last_closed: int, watermark: int, interval: int) -> int:
    """Windows after `last_closed` that the watermark has closed."""
    return max(0, (watermark - last_closed) // interval - 1)


def silence_start(last_closed: int, windows: int, interval: int) -> int:
    """Start of the window that completed `windows` silent windows after last_closed."""
    return last_closed + windows * interval
