"""The Celery worker: a real worker process on the embedded Valkey serves its metrics port."""
from __future__ import annotations

import subprocess
import sys

import requests
from celery import Celery

from alarm_backends.core.embedded.base import free_loopback_port
from tests.access.conftest import ROOT, World, wait_until
from tests.observability.scrape import scrape, value
from tests.processes import output_of, stop_process, wait_for_banner

TASK = "alarm_backends.tasks.end_stable_flapping"


def test_the_worker_port_counts_the_tasks_it_ran_and_is_ready_once_consuming(world: World) -> None:
    port = free_loopback_port()
    queue = f"q-{world.group}"  # the session's Valkey is shared: no other worker takes our task
    env = {**world.process_env(), "BKM_WORKER_METRICS_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO",
                             "--pool", "threads", "--concurrency=1", "--without-gossip", "--without-mingle",
                             "-Q", queue], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    world.children.append(proc)
    wait_for_banner(proc, "")  # keep its output drained from here on
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: f"worker: metrics on {url}/metrics" in output_of(proc, 0), 60), output_of(proc, 0)
        response = requests.get(f"{url}/-/ready", timeout=10)
        assert response.status_code == 200, response.text
        assert [c["name"] for c in response.json()["checks"]] == ["database", "redis", "kafka"]
        before = value(scrape(url), "bkm_celery_tasks_total", task=TASK, outcome="success") or 0
        client = Celery(broker=world.redis_url)
        for _ in range(2):
            client.send_task(TASK, queue=queue)
        assert wait_until(lambda: value(scrape(url), "bkm_celery_tasks_total", task=TASK,
                                        outcome="success") == before + 2, 30), output_of(proc, 0)
        assert value(scrape(url), "bkm_celery_task_seconds_count", task=TASK) == before + 2
    finally:
        stop_process(proc)
