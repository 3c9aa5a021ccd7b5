"""`make run` gives each long-running process a metrics port of its own and prints where."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from alarm_backends.core.embedded.base import free_loopback_port
from alarm_backends.core.kafka.cluster import KafkaClusterConfig

ROOT = Path(__file__).resolve().parents[2]
SHOW = "import os; print('CHILD', *(os.environ.get(v, '-') for v in %r))"
VARIABLES = ("BKM_ACCESS_METRICS_PORT", "BKM_ALERT_METRICS_PORT", "BKM_WORKER_METRICS_PORT")


def test_run_embedded_assigns_free_ports_keeps_a_configured_one_and_prints_each_url(
        kafka_cluster: KafkaClusterConfig, redis_url: str, tmp_path: Path) -> None:
    mine = free_loopback_port()
    host, port = kafka_cluster.bootstrap_servers.split(":")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BKM_", "DJANGO_SETTINGS_MODULE"))}
    env.update({"BK_MONITOR_KAFKA_HOST": host, "BK_MONITOR_KAFKA_PORT": port, "REDIS_URL": redis_url,
                "BKM_VAR_DIR": str(tmp_path), "BKM_ALERT_METRICS_PORT": str(mine)})
    out = subprocess.run([sys.executable, "manage.py", "run_embedded", "--", sys.executable, "-c",
                          SHOW % (VARIABLES,)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    child = next(line.split()[1:] for line in out.stdout.splitlines() if line.startswith("CHILD"))
    printed = dict(re.findall(r"^metrics: (\w+) http://127\.0\.0\.1:(\d+)/metrics$", out.stdout, re.M))
    assert printed == {"access": child[0], "alert": child[1], "worker": child[2]}
    assert child[1] == str(mine)
    assert len(set(child)) == 3 and all(p.isdigit() for p in child)
    assert "METRICS_PORT" not in (tmp_path / "embedded.env").read_text()  # only this run's children get them
