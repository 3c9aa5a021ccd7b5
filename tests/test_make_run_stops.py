"""`make run` stops whole when it is told to stop: by a SIGTERM to make's pid alone (what a
supervisor or `docker stop` sends) as by one to its process group (Ctrl-C, a terminal closed).
Every process it started, pipeline, web server, Celery, demo and embedded services, is gone."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from alarm_backends.core.embedded.base import port_accepts
from tests.processes import start_make_run

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.broker  # make run starts an embedded broker of its own
READY = ("access: consuming", "alert: consuming")  # the consumers announce themselves once running


def _start_make_run(tmp_path: Path) -> tuple[subprocess.Popen[str], list[str], int]:
    run = start_make_run(tmp_path)
    return run.proc, run.lines, run.port


def _running_tree(proc: subprocess.Popen[str], lines: list[str], port: int) -> list[psutil.Process]:
    """make's descendants once every part of the pipeline runs (none of them has exited)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "".join(lines[-40:])
        text = "".join(lines)
        if all(banner in text for banner in READY) and " ready." in text and port_accepts("127.0.0.1", port):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("make run did not come up within 90 s:\n" + "".join(lines[-60:]))
    return psutil.Process(proc.pid).children(recursive=True)


def _alive(procs: list[psutil.Process]) -> list[str]:
    left = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:  # a zombie has stopped; only unreaped
                left.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return left


def _by_pid(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGTERM)


def _by_group(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("stop", [_by_pid, _by_group], ids=["sigterm-to-make-alone", "sigterm-to-the-group"])
def test_every_process_make_run_started_is_gone_after_it_is_told_to_stop(
        tmp_path: Path, stop: Callable[[subprocess.Popen[str]], None]) -> None:
    proc, lines, port = _start_make_run(tmp_path)
    tree: list[psutil.Process] = []
    try:
        tree = _running_tree(proc, lines, port)
        names = " ".join(" ".join(p.cmdline()) for p in tree)
        for part in ("run_embedded", "honcho", "run_access", "run_alert", "celery", "run_demo", "gunicorn",
                     "valkey-server", "broker"):
            assert part in names, f"{part} not running under make run: {names}"
        stop(proc)
        deadline = time.monotonic() + 60
        while _alive(tree) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _alive(tree), "still running 60 s after the SIGTERM:\n" + "\n".join(_alive(tree))
        assert not port_accepts("127.0.0.1", port)
        assert "stopping embedded services" in "".join(lines)
    finally:
        for p in [psutil.Process(proc.pid), *tree] if proc.poll() is None else tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()  # only what this test started, should it fail
        proc.wait(timeout=10)
