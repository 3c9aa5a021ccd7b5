"""The flapping sweep on the pipeline's event clock, the Celery tasks, and `run_alert_manager`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from io import StringIO
from pathlib import Path

import orjson
import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from alarm_backends import tasks
from alarm_backends.core.embedded.base import free_loopback_port
from alarm_backends.service.alert.manager.checks import end_flapping
from bkmonitor.alerts.builder import apply_events
from bkmonitor.models import Alert
from tests.alert_manager.conftest import Setup, anomaly
from tests.alerts.conftest import make_event
from tests.observability.scrape import scrape, value

ROOT = Path(__file__).resolve().parents[2]


def flapping_alert() -> Alert:
    events = []
    for i in range(3):
        events += [make_event(1000 + 120 * i), make_event(1000 + 120 * i + 60, "recovered")]
    apply_events(events + [make_event(1360)])
    alert = Alert.objects.get(status="ABNORMAL")
    assert alert.is_flapping
    return alert


def test_flapping_ends_once_the_access_watermark_is_past_the_stable_period_and_only_once(setup: Setup):
    alert = flapping_alert()
    setup.write_progress(0, updated=0.0, max_time=1360 + 1799, items={})
    assert end_flapping(setup.redis, setup.cfg)["ended"] == []
    setup.write_progress(0, updated=0.0, max_time=1360 + 1800, items={})
    assert end_flapping(setup.redis, setup.cfg) == {"event_time": 1360 + 1800, "ended": [alert.id]}
    assert end_flapping(setup.redis, setup.cfg)["ended"] == []
    assert alert.logs.filter(op="FLAPPING_END").count() == 1


def test_without_any_access_progress_flapping_is_measured_on_the_wall_clock(setup: Setup):
    alert = flapping_alert()  # opened at event time 1360, long before now
    assert end_flapping(setup.redis, setup.cfg)["ended"] == [alert.id]


@pytest.fixture
def manager_settings(setup: Setup):
    """The tasks and the command read the group from the settings."""
    previous = settings.ACCESS_DATA_GROUP
    settings.ACCESS_DATA_GROUP = setup.cfg.group
    yield setup
    settings.ACCESS_DATA_GROUP = previous


def test_the_celery_tasks_run_the_checks_and_are_in_the_beat_schedule(manager_settings: Setup):
    strategy = manager_settings.create_strategy()
    manager_settings.update_strategy(strategy, is_enabled=False)
    assert tasks.check_strategy_alerts.apply().get()["checked"] == 0
    assert tasks.end_stable_flapping.apply().get()["ended"] == []
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"alarm_backends.tasks.check_strategy_alerts", "alarm_backends.tasks.check_pipeline",
            "alarm_backends.tasks.end_stable_flapping", "metadata.tasks.reconcile_topics"} <= scheduled


def test_run_alert_manager_once_runs_every_check_and_exits(manager_settings: Setup, kafka_cluster):
    strategy = manager_settings.create_strategy()
    apply_events([anomaly(strategy, 1_700_000_000, level=2)])
    manager_settings.update_strategy(strategy, is_enabled=False)
    out = StringIO()
    call_command("run_alert_manager", "--once", stdout=out)
    lines = out.getvalue().splitlines()
    results = orjson.loads(lines[1])
    assert set(results) == {"strategies", "pipeline", "flapping", "qos"} and results["strategies"]["closed"] == 1
    assert lines[-1] == "alert manager: stopped after 1 passes"
    assert Alert.objects.get().close_reason == "strategy disabled"


def test_run_alert_manager_stops_on_sigterm_between_passes_and_serves_its_passes_as_metrics(
        setup: Setup, redis_url: str, kafka_cluster):
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL")}
    if db["ENGINE"].endswith("sqlite3"):
        env["BKM_SQLITE_PATH"] = db["NAME"]
    else:
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    port = free_loopback_port()
    host, kafka_port = kafka_cluster.bootstrap_servers.split(",")[0].rsplit(":", 1)
    env.update({"REDIS_URL": redis_url, "BKM_ACCESS_DATA_GROUP": setup.cfg.group,
                "DJANGO_SETTINGS_MODULE": "config.settings", "BKM_ALERT_MANAGER_METRICS_PORT": str(port),
                "BK_MONITOR_KAFKA_HOST": host, "BK_MONITOR_KAFKA_PORT": kafka_port})
    proc = subprocess.Popen([sys.executable, "manage.py", "run_alert_manager", "--interval", "30"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("alert manager: running every 30s")
    assert proc.stdout.readline().startswith(f"manager: metrics on http://127.0.0.1:{port}/metrics")
    first_pass = proc.stdout.readline()
    assert "strategies" in orjson.loads(first_pass)
    base = f"http://127.0.0.1:{port}"
    assert value(scrape(base), "bkm_alert_manager_passes_total", outcome="ok") == 1
    ready = requests.get(f"{base}/-/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert {check["name"] for check in ready.json()["checks"]} == {"database", "redis", "kafka", "loop", "outage"}
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and rest.strip().endswith("alert manager: stopped after 1 passes")
