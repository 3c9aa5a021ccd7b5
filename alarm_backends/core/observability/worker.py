"""Metrics and health for the Celery worker, wired through Celery's signals.

The server starts in the worker's main process when it is ready (worker_ready)
and task counters are kept where tasks run. With the threads or solo pool that
is the same process, so /metrics shows them. With the prefork pool tasks run in
child processes whose counters the parent cannot serve (that would take
prometheus_client's multiprocess mode: a shared directory of mmap files and its
own restrictions), so the Procfile runs the worker with `--pool threads` and a
prefork worker says at start that its task counters are not served.

Imported by config/celery.py in every process, so nothing here touches Django
or opens anything until a signal fires in a worker.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_ready, worker_shutdown

from alarm_backends.core.observability.metrics import TASK_SECONDS, TASKS

logger = logging.getLogger("alarm_backends.observability")

_started: dict[str, float] = {}  # task id -> time.monotonic() at prerun (threads pool: several at once)
_lock = threading.Lock()
_server: Any = None


def _on_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id is not None:
        with _lock:
            _started[task_id] = time.monotonic()


def _on_postrun(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    with _lock:
        began = _started.pop(task_id, None) if task_id is not None else None
    name = getattr(task, "name", None) or "unknown"
    TASKS.labels(name, (state or "unknown").lower()).inc()
    if began is not None:
        TASK_SECONDS.labels(name).observe(time.monotonic() - began)


def _on_ready(sender: Any = None, **_: Any) -> None:
    global _server
    from alarm_backends.core.observability.process import start_metrics

    # Ready once consuming (this signal), as long as the services its tasks use are reachable.
    _server = start_metrics("worker", ("database", "redis", "kafka"), say=logger.info)
    pool = type(getattr(getattr(sender, "controller", None), "pool", None)).__module__
    if _server is not None and "prefork" in pool:
        logger.warning("worker: tasks run in prefork child processes; their bkm_celery_task* counters are not "
                       "served on this port (run the worker with --pool threads or --pool solo)")


def _on_shutdown(**_: Any) -> None:
    if _server is not None:
        _server.stop()


def install() -> None:
    """Connect the handlers; weak=False so they live as long as the process, whoever imported us."""
    task_prerun.connect(_on_prerun, weak=False)
    task_postrun.connect(_on_postrun, weak=False)
    worker_ready.connect(_on_ready, weak=False)
    worker_shutdown.connect(_on_shutdown, weak=False)
