"""What `make run`'s Celery processes print while nothing happens: a real worker with an embedded beat
ticking every second on the embedded Valkey. The routine lines (task sent, received, succeeded) show
only with LOG_LEVEL=DEBUG; a failing task is still reported."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

from tests.access.conftest import ROOT, wait_until
from tests.processes import output_of, stop_process, wait_for_banner

ROUTINE = ("Scheduler: Sending due task", "] received", "] succeeded in")


def start_worker_with_beat(tmp_path: Path, broker: str, **env: str) -> subprocess.Popen[str]:
    db = connection.settings_dict
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "LOG_LEVEL"))}
    if db["ENGINE"].endswith("sqlite3"):
        child_env["BKM_SQLITE_PATH"] = db["NAME"]
    else:
        child_env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    child_env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "REDIS_URL": broker,
                      "CELERY_BROKER_URL": broker, "CELERY_RESULT_BACKEND": broker,
                      "BKM_ALERT_MANAGER_INTERVAL": "1", **env})
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat", "--loglevel=INFO",
         "--schedule", str(tmp_path / f"beat-{uuid.uuid4().hex[:6]}"), "--pool", "threads", "--concurrency=1",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for_banner(proc, "")
    assert wait_until(lambda: "ready." in output_of(proc, 0), 60), output_of(proc, 0)
    return proc


@pytest.fixture
def private_broker(redis_url: str) -> str:
    # Its own Valkey database: the session's other workers must not take (or send) these ticks.
    return redis_url.rsplit("/", 1)[0] + "/9"


@pytest.mark.django_db(transaction=True)
def test_an_idle_worker_and_beat_print_nothing_per_tick_but_still_report_a_failing_task(
        tmp_path: Path, private_broker: str) -> None:
    proc = start_worker_with_beat(tmp_path, private_broker)
    try:
        Celery(broker=private_broker).send_task("alarm_backends.tasks.end_stable_flapping", args=["unexpected"])
        assert wait_until(lambda: "raised unexpected: TypeError" in output_of(proc, 0), 30), output_of(proc, 0)
        time.sleep(4)  # four one-second ticks of three periodic tasks
        idle = output_of(proc, 0)
    finally:
        stop_process(proc)
    assert not [line for line in idle.splitlines() if any(r in line for r in ROUTINE)], idle
    assert "ERROR" in idle


@pytest.mark.django_db(transaction=True)
def test_with_log_level_debug_every_tick_is_shown(tmp_path: Path, private_broker: str) -> None:
    proc = start_worker_with_beat(tmp_path, private_broker, LOG_LEVEL="DEBUG")
    try:
        assert wait_until(lambda: all(r in output_of(proc, 0) for r in ROUTINE), 30), output_of(proc, 0)
    finally:
        stop_process(proc)
