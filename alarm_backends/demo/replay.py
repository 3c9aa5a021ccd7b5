"""Replay a NAB series through Kafka as bk-monitor metric messages, paced, reporting its progress."""
from __future__ import annotations

import csv
import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.demo.progress import ReplayProgress

DATA = Path(__file__).resolve().parent / "data"


def read_series(name: str = "machine_temperature_system_failure.csv") -> list[tuple[int, float]]:
    with open(DATA / name, newline="") as fh:
        return [(int(dt.datetime.fromisoformat(row["timestamp"]).replace(tzinfo=dt.UTC).timestamp()),
                 float(row["value"])) for row in csv.DictReader(fh)]


def messages(series: list[tuple[int, float]], host: str, metric: str) -> Iterator[bytes]:
    for t, value in series:
        yield orjson.dumps({"time": t, "dimensions": {"bk_target_ip": host, "bk_target_cloud_id": "0"},
                            "metrics": {metric: value}})


def replay(producer: KafkaProducer, topic: str, series: list[tuple[int, float]], *, host: str, metric: str,
           rate: float, stop: threading.Event, progress: ReplayProgress) -> int:
    """Send `series` at `rate` points/s (0 = as fast as possible) until done or `stop` is set; returns the
    points sent. The points are flushed to the broker before the closing progress line says how far it got."""
    if rate < 0:
        raise ValueError(f"rate must be >= 0 points per second, got {rate}")
    sent = 0
    started = time.monotonic()
    for payload in messages(series, host, metric):
        if stop.is_set():
            break
        producer.produce(topic, payload, key=host)
        sent += 1
        if rate > 0:
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0.05:
                producer.poll(0)
                stop.wait(ahead)
        progress.update(sent)
    producer.flush(30)
    progress.finish(sent)
    return sent
