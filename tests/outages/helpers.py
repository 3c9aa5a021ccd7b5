"""Real `run_access` / `run_alert` children with a metrics port, and what they say while an outage lasts."""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from alarm_backends.core.embedded.base import free_loopback_port
from tests.access.conftest import ROOT, World
from tests.processes import output_of


class Child:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc, self.port = proc, port

    def alive(self) -> bool:
        return self.proc.poll() is None

    def assert_alive(self) -> None:
        assert self.alive(), f"the process exited ({self.proc.returncode}):\n{output_of(self.proc)}"

    def ready(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=10) as answer:
                return answer.status, orjson.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read())

    def gauge(self, name: str, **labels: str) -> float | None:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        return None

    def wait_not_ready_for(self, check: str, timeout: float) -> dict[str, Any]:
        """Until /-/ready names `check` as failing (the process staying up all along)."""
        deadline = time.monotonic() + timeout
        while True:
            self.assert_alive()
            status, body = self.ready()
            if status == 503 and check in body["failing"]:
                return body
            assert time.monotonic() < deadline, f"/-/ready never failed {check!r}: {status} {body}"
            time.sleep(0.5)


def start(world: World, command: list[str], banner: str, env: dict[str, str]) -> Child:
    port = free_loopback_port()
    variable = "BKM_ACCESS_METRICS_PORT" if command[0] == "run_access" else "BKM_ALERT_METRICS_PORT"
    full_env = {**world.process_env(), "BKM_OUTAGE_RETRY_MAX": "2", variable: str(port), **env}
    proc = subprocess.Popen([sys.executable, "manage.py", *command], cwd=ROOT, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return Child(world.started(proc, banner), port)


def start_access(world: World, **env: str) -> Child:
    return start(world, ["run_access", "--type", "data"], "access: consuming", env)


def start_alert(world: World, **env: str) -> Child:
    return start(world, ["run_alert"], "alert: consuming",
                 {"BKM_ALERT_GROUP": f"{world.group}-alert", "BKM_ALERT_QOS_PER_MINUTE": "100000", **env})


def count_lines(text: str, fragment: str) -> int:
    return sum(fragment in line for line in text.splitlines())
