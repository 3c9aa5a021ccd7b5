"""Tie a supervised command's whole process tree to its supervisor's life.

`make run` is stopped by a supervisor or `docker stop` with a SIGTERM to one pid,
make's, and make does not pass it on: run_embedded, honcho and every pipeline
process under it used to keep running, orphaned. So run_embedded asks the kernel
for a SIGTERM when its parent exits (any way, kill -9 included) and drains as it
does on its own SIGTERM; it adopts orphaned descendants (child subreaper), so a
process whose parent died before it is still found and stopped; and it runs its
command in a process group of its own, signalled as a whole.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys

import psutil

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def stop_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Receive `signum` when the parent process exits (Linux; elsewhere nothing happens). False
    when the parent exited before the request took effect: then the signal will never come."""
    parent = os.getppid()
    _prctl(_PR_SET_PDEATHSIG, signum)
    return os.getppid() == parent


def adopt_orphans() -> bool:
    """Become the parent of descendants whose own parent dies first (Linux child subreaper)."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def stop_descendants(keep: set[int], timeout: float) -> list[int]:
    """SIGTERM every descendant of this process except `keep` (and theirs), SIGKILL those still
    running after `timeout` seconds, and reap them. Returns the pids that had to be killed."""
    targets: list[psutil.Process] = []
    for child in psutil.Process().children():
        if child.pid in keep:
            continue
        with contextlib.suppress(psutil.NoSuchProcess):
            targets.extend([child, *child.children(recursive=True)])
    for proc in targets:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _gone, alive = psutil.wait_procs(targets, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
    if alive:
        logger.warning("killed %d process(es) that ignored SIGTERM for %.0fs: %s", len(alive), timeout,
                       [p.pid for p in alive])
    return [p.pid for p in alive]
