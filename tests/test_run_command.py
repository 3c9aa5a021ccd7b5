"""The README's run command, as a new user runs it: start, see the first alert
through the API, send metrics of one's own and see their alert, stop cleanly."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from alarm_backends.core.embedded.base import port_accepts
from tests.processes import ROOT, start_make_run

pytestmark = pytest.mark.broker  # make run starts an embedded broker of its own



def test_make_run_raises_the_demo_alerts_then_an_alert_from_a_users_own_metrics_and_stops_cleanly(
        tmp_path: Path) -> None:
    run = start_make_run(tmp_path)
    proc, lines, port, env = run.proc, run.lines, run.port, run.env
    token = None
    first_alert = None
    try:
        deadline = time.monotonic() + 150
        while first_alert is None and time.monotonic() < deadline:
            assert proc.poll() is None, "\n".join(lines[-40:])
            if token is None:
                found = [m.group(1) for line in lines if (m := re.search(r"API token ([0-9a-f]{40})", line))]
                token = found[0] if found else None
            if token and port_accepts("127.0.0.1", port):
                response = requests.get(f"http://127.0.0.1:{port}/api/v1/alerts/?ordering=id",
                                        headers={"Authorization": f"Token {token}"}, timeout=5)
                assert response.status_code == 200, response.text
                results = response.json()["results"]
                first_alert = results[0] if results else None
            time.sleep(0.5)
        assert first_alert is not None, "no alert within 150 s:\n" + "\n".join(lines[-60:])
        assert first_alert["alert_name"].startswith("Machine temperature")
        assert first_alert["dimensions"] == {"bk_target_ip": "machine-1"}
        anonymous = requests.get(f"http://127.0.0.1:{port}/api/v1/alerts/", timeout=5)
        assert anonymous.status_code in (401, 403)
        # the README's "send your own data" example, copied as a user would run it
        example = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "examples/send_your_own_metrics.py",
                                  "--token", token, "--url", f"http://127.0.0.1:{port}", "--var-dir", str(tmp_path)],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert example.returncode == 0, example.stdout + example.stderr + "\n".join(lines[-40:])
        assert re.search(r"alert #\d+ ABNORMAL \[severity 1\] \{'bk_target_ip': 'web-1'\}: avg\(usage\) = 9\d",
                         example.stdout), example.stdout
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = run.output()
    assert "access: stopped after" in output and "alert: stopped after" in output, output[-3000:]
    assert "stopping embedded services" in output
    deadline = time.monotonic() + 10
    while port_accepts("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not port_accepts("127.0.0.1", port)
