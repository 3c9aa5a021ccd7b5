"""Replay a NAB series through Kafka as bk-monitor metric messages, paced, with a progress bar."""
from __future__ import annotations

import csv
import datetime as dt
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import orjson

from alarm_backends.core.kafka.producer import KafkaProducer

DATA = Path(__file__).resolve().parent / "data"


def read_series(name: str = "machine_temperature_system_failure.csv") -> list[tuple[int, float]]:
    with open(DATA / name, newline="") as fh:
        return [(int(dt.datetime.fromisoformat(row["timestamp"]).replace(tzinfo=dt.timezone.utc).timestamp()),
                 float(row["value"])) for row in csv.DictReader(fh)]


def messages(series: list[tuple[int, float]], host: str, metric: str) -> Iterator[bytes]:
    for t, value in series:
        yield orjson.dumps({"time": t, "dimensions": {"bk_target_ip": host, "bk_target_cloud_id": "0"},
                            "metrics": {metric: value}})


def bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // max(total, 1)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} points ({100 * done // max(total, 1)}%)"


def replay(producer: KafkaProducer, topic: str, series: list[tuple[int, float]], *, host: str, metric: str,
           rate: float, stop: threading.Event, out: TextIO = sys.stdout, report_every: float = 2.0) -> int:
    """Send `series` at `rate` points/s (0 = as fast as possible); returns the points sent."""
    total, sent = len(series), 0
    started = last_report = time.monotonic()
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
        if time.monotonic() - last_report >= report_every:
            last_report = time.monotonic()
            producer.poll(0)
            print(f"replay {bar(sent, total)}", file=out, flush=True)
    producer.flush(30)
    print(f"replay {bar(sent, total)} done in {time.monotonic() - started:.1f}s", file=out, flush=True)
    return sent
