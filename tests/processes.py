"""Child consumer processes whose output is read while they run.

A child writes its log to a pipe; a pipe nobody reads fills up (64 KiB) and the
child then blocks in write() while holding its partitions. So once a child has
printed its banner, a thread keeps reading its output for the test to inspect.
"""
from __future__ import annotations

import signal
import subprocess
import threading
import weakref


class Output:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)

    def text(self, wait: float = 0.0) -> str:
        self._thread.join(wait)
        return "".join(self.lines)


_OUTPUTS: "weakref.WeakKeyDictionary[subprocess.Popen[str], Output]" = weakref.WeakKeyDictionary()


def wait_for_banner(proc: subprocess.Popen[str], banner: str) -> subprocess.Popen[str]:
    """Block until the child prints a line starting with `banner`, then keep draining its output."""
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(banner):
            _OUTPUTS[proc] = Output(proc)
            return proc
    raise AssertionError(f"{banner!r} never printed; exit status {proc.wait()}:\n{''.join(seen)}")


def output_of(proc: subprocess.Popen[str], wait: float = 5.0) -> str:
    """What the child printed after its banner (everything, once it has exited)."""
    drained = _OUTPUTS.get(proc)
    if drained is not None:
        return drained.text(wait if proc.poll() is not None else 0.0)
    out, _ = proc.communicate(timeout=wait)
    return out or ""


def stop_process(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """SIGTERM a consumer process; it must drain and exit 0. Returns what it printed."""
    proc.send_signal(signal.SIGTERM)
    if proc not in _OUTPUTS:
        out, _ = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, out
        return out
    proc.wait(timeout=timeout)
    out = output_of(proc, wait=timeout)
    assert proc.returncode == 0, out
    return out
