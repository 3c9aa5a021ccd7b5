"""Send your own metrics and watch them become an alert, against a running `make run`.

    .venv/bin/python examples/send_your_own_metrics.py --token <the token make run printed>

Through the REST API it registers a result table `example.cpu` on its own Kafka
topic and a strategy "Example: CPU usage high" (usage >= 90 in 2 of 3 one-minute
windows); then it produces six metric messages in the bk-monitor format straight
to that topic with confluent-kafka, as any producer of yours would, and polls
the alerts API until the alert they raise is there. Running it again reuses the
table and strategy and sends fresh points (event times are "now"), so it opens
a new alert once the previous one has recovered.

Only the standard library, confluent-kafka and requests are used; the Kafka
address comes from `var/embedded.env` (written by `make run`) unless
BK_MONITOR_KAFKA_HOST and BK_MONITOR_KAFKA_PORT are set.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests
from confluent_kafka import Producer

TABLE, TOPIC, STRATEGY = "example.cpu", "example_cpu", "Example: CPU usage high"
ROOT = Path(__file__).resolve().parents[1]


def kafka_address(var_dir: Path) -> str:
    env = dict(os.environ)
    embedded = var_dir / "embedded.env"
    if "BK_MONITOR_KAFKA_HOST" not in env and embedded.exists():
        env.update(line.split("=", 1) for line in embedded.read_text().splitlines() if "=" in line)
    if "BK_MONITOR_KAFKA_HOST" not in env:
        sys.exit(f"no Kafka address: start `make run` first (it writes {embedded}) or set BK_MONITOR_KAFKA_HOST")
    return f"{env['BK_MONITOR_KAFKA_HOST']}:{env.get('BK_MONITOR_KAFKA_PORT', '9092')}"


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.session.get(f"{self.base}/{path}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.session.post(f"{self.base}/{path}", json=body, timeout=30)
        if response.status_code >= 400:
            sys.exit(f"POST {path}: {response.status_code} {response.text}")
        return response.json()


def strategy_config() -> dict[str, Any]:
    return {
        "name": STRATEGY, "bk_biz_id": 2, "is_enabled": True, "labels": ["example"],
        "items": [{"name": "cpu usage", "query_configs": [{
            "data_type_label": "time_series", "result_table_id": TABLE, "metric_field": "usage",
            "agg_method": "AVG", "agg_interval": 60, "agg_dimension": ["bk_target_ip"], "agg_condition": []}],
            "algorithms": [{"level": 1, "type": "Threshold", "config": [[{"method": "gte", "threshold": 90}]]}],
            "no_data_config": {"is_enabled": False, "continuous": 5, "level": 2}}],
        "detects": [{"level": 1, "connector": "and", "trigger_config": {"count": 2, "check_window": 3},
                     "recovery_config": {"check_window": 2, "status_setter": "recovery"}}],
        "notice": {"user_groups": [], "signal": ["abnormal", "recovered"]},
    }


def ensure_configuration(api: Api, cluster_name: str) -> int:
    """The table, its topic and the strategy; returns the strategy id."""
    clusters = api.get("metadata/clusters/", cluster_name=cluster_name)["results"]
    if not clusters:
        sys.exit(f"no Kafka cluster named {cluster_name!r} in metadata (make run's demo registers 'demo-kafka')")
    if not api.get("metadata/result-tables/", table_id=TABLE)["results"]:
        api.post("metadata/result-tables/", {"table_id": TABLE, "bk_biz_id": 2})
    if not api.get("metadata/kafka-storages/", table_id=TABLE)["results"]:
        api.post("metadata/kafka-storages/", {"table_id": TABLE, "topic": TOPIC, "partition": 1,
                                              "storage_cluster": clusters[0]["cluster_id"], "is_sync_db": True})
    existing = [s for s in api.get("strategies/", search=STRATEGY)["results"] if s["name"] == STRATEGY]
    return existing[0]["id"] if existing else api.post("strategies/", strategy_config())["id"]


def metric_messages(host: str, now: int) -> list[dict[str, Any]]:
    """Six one-minute points ending a few minutes ago: two normal, three hot, then one that moves the
    watermark past the hot windows so they close (windows close in event time, not wall-clock time)."""
    start = now - now % 60 - 6 * 60
    values = [20.0, 25.0, 95.5, 97.0, 96.0, 30.0]
    return [{"time": start + i * 60, "dimensions": {"bk_target_ip": host, "bk_target_cloud_id": "0"},
             "metrics": {"usage": value}} for i, value in enumerate(values)] + [
        {"time": now, "dimensions": {"bk_target_ip": host, "bk_target_cloud_id": "0"}, "metrics": {"usage": 30.0}}]


def send(bootstrap: str, messages: list[dict[str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for message in messages:
        # keyed by the series' dimensions, so one series always lands in one partition
        producer.produce(TOPIC, json.dumps(message).encode(), key=message["dimensions"]["bk_target_ip"])
    if producer.flush(30):
        sys.exit("some messages were not delivered within 30 s")


def wait_for_alert(api: Api, strategy_id: int, after: int, timeout: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for alert in api.get("alerts/", strategy_id=strategy_id, ordering="-id")["results"]:
            if alert["begin_time"] >= after:
                return alert
        time.sleep(1)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--token", required=True, help="an API token (make run prints one: 'demo: API token ...')")
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}", help="the web process")
    parser.add_argument("--var-dir", type=Path, default=Path(os.environ.get("BKM_VAR_DIR", ROOT / "var")))
    parser.add_argument("--cluster", default="demo-kafka", help="the metadata Kafka cluster to put the topic on")
    parser.add_argument("--host", default="web-1", help="the bk_target_ip of the points")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the alert")
    args = parser.parse_args()
    api = Api(args.url, args.token)
    strategy_id = ensure_configuration(api, args.cluster)
    print(f"strategy #{strategy_id} {STRATEGY!r} watches table {TABLE} on topic {TOPIC}")
    messages = metric_messages(args.host, int(time.time()))
    send(kafka_address(args.var_dir), messages)
    print(f"sent {len(messages)} metric messages, e.g. {json.dumps(messages[2])}")
    alert = wait_for_alert(api, strategy_id, messages[0]["time"], args.timeout)
    if alert is None:
        sys.exit(f"no alert within {args.timeout:g} s: are run_access and run_alert running?")
    print(f"alert #{alert['id']} {alert['status']} [severity {alert['severity']}] {alert['dimensions']}: "
          f"{alert.get('reason') or alert['alert_name']}")


if __name__ == "__main__":
    main()
