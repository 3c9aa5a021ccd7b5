"""Stop a long-running command on SIGTERM/SIGINT, safely.

A Python signal handler runs in the main thread between bytecodes, and a second
signal can run a second handler inside the first. `threading.Event.set()` takes
the event's (non-reentrant) lock, so a handler that calls it can be entered again
while the first call holds the lock, and the process deadlocks in its own handler:
seen when `make run` was stopped by a SIGTERM to its group and, a moment later, by
the parent-death signal, and run_embedded never stopped its children. Here the
first signal sets a plain flag before touching the event, and any later one only
records itself, so `Event.set()` is entered once.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterable


class StopSignals:
    """`stop` is set by the first of `signums`; `received` lists every signal that came."""

    def __init__(self, stop: threading.Event | None = None,
                 signums: Iterable[int] = (signal.SIGTERM, signal.SIGINT)) -> None:
        self.stop = stop if stop is not None else threading.Event()
        self.received: list[int] = []
        self._triggered = False
        for signum in signums:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.received.append(signum)
        if self._triggered:  # a nested or later signal: the event is set, or being set by the first
            return
        self._triggered = True
        self.stop.set()

    def trigger(self) -> None:
        """Stop as if signalled (from the main thread, outside any handler)."""
        self._triggered = True
        self.stop.set()

    @property
    def last(self) -> int:
        return self.received[-1] if self.received else signal.SIGTERM


def stop_on_signals() -> threading.Event:
    """The usual case: an event set by the first SIGTERM or SIGINT."""
    return StopSignals().stop
