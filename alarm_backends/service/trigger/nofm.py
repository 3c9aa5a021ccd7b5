"""N-of-M triggering per level (docs/ARCHITECTURE.md, Semantics: trigger), pure functions.

For an anomaly at time t, levels are tried from the most severe (1 fatal) down;
the anomalies of that level in [t - (check_window*unit - 1), t] are counted and
the level fires when the count reaches the trigger count. Outside the uptime
ranges nothing fires (anomalies are still recorded, so the count is right when
the range opens).
"""
from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Sequence
from zoneinfo import ZoneInfo


def window_span(check_window: int, unit: int) -> int:
    """The trigger window at t is [t - span, t]."""
    return check_window * unit - 1


def count_in_window(times: Sequence[int], t: int, span: int) -> int:
    """Anomalies in [t - span, t]; `times` ascending and none after t (windows close in order)."""
    return len(times) - bisect_left(times, t - span)


def in_uptime(t: int, ranges: Sequence[tuple[int, int]], tz: ZoneInfo) -> bool:
    """Ranges are (start, end) minutes of the day, inclusive; end < start wraps midnight."""
    if not ranges:
        return True
    local = dt.datetime.fromtimestamp(t, tz)
    minute = local.hour * 60 + local.minute
    for start, end in ranges:
        if start <= end and start <= minute <= end:
            return True
        if start > end and (minute >= start or minute <= end):
            return True
    return False


def prune(times: list[int], t: int, span: int) -> list[int]:
    """The anomalies (ascending) that can still fall in a window ending at or after t."""
    return times[bisect_left(times, t - span):]
