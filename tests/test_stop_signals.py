"""Commands stop on the first SIGTERM/SIGINT, however many follow and however close together."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from alarm_backends.core.stop_signals import StopSignals

ROOT = Path(__file__).resolve().parents[1]


class _NestingEvent(threading.Event):
    """An event whose set() is interrupted by a second signal, as a signal arriving mid-handler does."""

    def __init__(self) -> None:
        super().__init__()
        self.handler = None

    def set(self) -> None:
        with self._cond:  # the lock Event.set() holds while a nested handler runs
            if self.handler is not None:
                handler, self.handler = self.handler, None
                handler(signal.SIGTERM, None)
            self._flag = True
            self._cond.notify_all()


def test_a_signal_arriving_while_the_first_sets_the_stop_event_does_not_deadlock() -> None:
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        event = _NestingEvent()
        signals = StopSignals(event)
        event.handler = signals._on_signal
        done = threading.Event()
        worker = threading.Thread(target=lambda: (signals._on_signal(signal.SIGINT, None), done.set()), daemon=True)
        worker.start()
        assert done.wait(5), "the nested signal deadlocked on the event's lock"
        assert event.is_set() and signals.received == [signal.SIGINT, signal.SIGTERM]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_a_burst_of_sigterms_stops_a_command_once_and_promptly() -> None:
    code = ("import sys, time; from alarm_backends.core.stop_signals import stop_on_signals; "
            "stop = stop_on_signals(); print('ready', flush=True); "
            "stop.wait(60); time.sleep(0.2); print('stopped', flush=True)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    started = time.monotonic()
    for _ in range(200):
        os.kill(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and out.strip() == "stopped"
    assert time.monotonic() - started < 5
