"""An alert's log as people read it: consecutive repeats of one operation folded into one entry with a count.

Why at read time and not in the writer: each stored row belongs to the event that caused it (its event_id),
so the builder's replays and crash recovery stay idempotent by construction (a replayed event finds its row,
or writes the same one), whereas folding rows as they are written would make a row's content depend on how
events were batched. The stored rows and the events table keep everything; only the presentation folds.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class LogRow(Protocol):
    time: int
    op: str
    operator: str
    event_id: str
    description: str


@dataclass(frozen=True)
class LogRun:
    """One or more consecutive log rows with the same operation (and, for manual ones, the same operator)."""
    first: LogRow
    last: LogRow
    count: int

    @property
    def summary(self) -> str:
        """"LOWER_SEVERITY_DROPPED x238, 2013-12-16 10:01:00 - 13:59:00 UTC", or the one row's op and time."""
        start = _utc(self.first.time)
        if self.count == 1:
            return f"{self.first.op} at {start.strftime('%Y-%m-%d %H:%M:%S')} UTC"
        end = _utc(self.last.time)
        end_format = "%H:%M:%S" if end.date() == start.date() else "%Y-%m-%d %H:%M:%S"
        return (f"{self.first.op} x{self.count}, {start.strftime('%Y-%m-%d %H:%M:%S')} - "
                f"{end.strftime(end_format)} UTC")


def _utc(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def collapse(rows: Iterable[LogRow]) -> list[LogRun]:
    """Fold runs of rows (in log order) that repeat the previous row's op and operator."""
    runs: list[LogRun] = []
    for row in rows:
        if runs:
            previous = runs[-1]
            if previous.first.op == row.op and previous.first.operator == row.operator:
                runs[-1] = LogRun(previous.first, row, previous.count + 1)
                continue
        runs.append(LogRun(row, row, 1))
    return runs
