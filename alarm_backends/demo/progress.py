"""The replay's progress display.

Under a process runner (honcho) every write becomes its own prefixed line, so a bar redrawn
with "\\r" turns into a new line per update: there the display writes one line per tenth of
the series (and at least every `heartbeat` seconds on a slow replay). In a terminal it redraws
one line in place. Either way it ends with exactly one closing line: "done" only when every
point was sent, "interrupted at X of Y" otherwise.
"""
from __future__ import annotations

import time
from collections.abc import Callable

WIDTH = 30


def bar(done: int, total: int, width: int = WIDTH) -> str:
    filled = width * done // max(total, 1)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} points ({100 * done // max(total, 1)}%)"


class ReplayProgress:
    """Reports `update(sent)` calls as a progress display; `write` gets complete text (newlines included)."""

    def __init__(self, total: int, write: Callable[[str], None], *, tty: bool, steps: int = 10,
                 heartbeat: float = 30.0, redraw: float = 0.2, clock: Callable[[], float] = time.monotonic) -> None:
        if total < 0:
            raise ValueError(f"total must be >= 0, got {total}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.total = total
        self._write = write
        self._tty = tty
        self._steps = steps
        self._heartbeat = heartbeat
        self._redraw = redraw
        self._clock = clock
        self._started = clock()
        self._last_time = self._started
        self._last_step = 0
        self._drawn = False  # a terminal line without its newline yet

    def update(self, sent: int) -> None:
        now = self._clock()
        if self._tty:
            if now - self._last_time >= self._redraw:
                self._last_time = now
                self._write(f"\rreplay {bar(sent, self.total)}")
                self._drawn = True
            return
        if sent >= self.total:
            return  # "100%" is only ever said by finish(), together with "done"
        step = self._steps * sent // max(self.total, 1)
        if step > self._last_step or now - self._last_time >= self._heartbeat:
            self._last_step = max(self._last_step, step)
            self._last_time = now
            self._write(f"replay {bar(sent, self.total)}\n")

    def finish(self, sent: int) -> None:
        """The closing line: done when all `total` points were sent, interrupted otherwise."""
        elapsed = self._clock() - self._started
        if sent >= self.total:
            self._close(f"replay {bar(sent, self.total)} done in {elapsed:.1f}s")
        else:
            self._close(f"replay interrupted at {sent:,} of {self.total:,} points after {elapsed:.1f}s")

    def _close(self, line: str) -> None:
        # In a terminal, "\r" + erase-line replaces the bar drawn so far (which may be longer than `line`).
        self._write(f"\r\033[K{line}\n" if self._drawn else f"{line}\n")
        self._drawn = False
