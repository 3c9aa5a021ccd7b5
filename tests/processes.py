"""Child consumer processes whose output is read while they run.

A child writes its log to a pipe; a pipe nobody reads fills up (64 KiB) and the
child then blocks in write() while holding its partitions. So once a child has
printed its banner, a thread keeps reading its output for the test to inspect.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from alarm_backends.core.embedded.base import free_loopback_port

ROOT = Path(__file__).resolve().parents[1]


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


_OUTPUTS: weakref.WeakKeyDictionary[subprocess.Popen[str], Output] = weakref.WeakKeyDictionary()


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


@dataclass
class MakeRun:
    """`make run` started as a user starts it, in a session of its own, its output read as it comes."""

    proc: subprocess.Popen[str]
    port: int
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def output(self, wait: float = 10.0) -> str:
        """Everything printed so far; after the process ended, all of it (the reader drains the pipe)."""
        if self.reader is not None:
            self.reader.join(wait)
        return "".join(self.lines)


def start_make_run(var_dir: Path) -> MakeRun:
    """The README's run command on a free port and a var folder of its own, configured by nothing but
    defaults: services the suite configured for itself (broker, Redis, database) are left out."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BK_MONITOR_KAFKA", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"))}
    port = free_loopback_port()
    env.update({"BKM_VAR_DIR": str(var_dir), "PORT": str(port), "BKM_DEMO_ADMIN_PASSWORD": "pw-for-test"})
    proc = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    run = MakeRun(proc, port, env)
    run.reader = threading.Thread(target=lambda: run.lines.extend(proc.stdout or []), daemon=True)
    run.reader.start()
    return run
