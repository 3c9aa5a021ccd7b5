"""N-of-M triggering per level (DESIGN.md section 5), pure functions.

For an anomaly at time t, levels are tried from the most severe (1 fatal) down;
the anomalies of that level in [t - (check_window*unit - 1), t] are counted and
the level fires when the count reaches the trigger count. Outside the uptime
ranges nothing fires (anomalies are still recorded, so the count is right when
the range opens).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo


def window_span(check_window: int, unit: int) -> int:
    """The trigger window at t is [t - span, t]."""
    return check_window * unit - 1


def window_start(t: int, check_window: int, unit: int) -> int:
    return t - window_span(check_window, unit)


def count_in_window(anomaly_times: Iterable[int], t: int, check_window: int, unit: int) -> int:
    low = window_start(t, check_window, unit)
    return sum(1 for a in anomaly_times if low <= a <= t)


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


def prune(anomaly_times: list[int], t: int, check_window: int, unit: int) -> list[int]:
    """Drop anomalies that can no longer fall in any future window ending at or after t."""
    low = window_start(t, check_window, unit)
    return [a for a in anomaly_times if a >= low]
