"""The demo: configure a metric topic and strategies, print a login, and replay the
NAB machine-temperature failure series through Kafka so alerts are raised and
recovered within a minute. Stays up afterwards (the process runner stops every
process when one exits) until SIGTERM."""
from __future__ import annotations

import argparse
import os
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from alarm_backends.core.kafka.defaults import default_cluster
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.demo.replay import read_series, replay
from alarm_backends.demo.setup import HOST, TOPIC, ensure_login, ensure_metadata, ensure_strategies


class Command(BaseCommand):
    help = "Load the demo configuration and replay a real series through Kafka."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--rate", type=float, default=float(os.environ.get("BKM_DEMO_RATE", "600")),
                            help="points per second (0: as fast as possible)")
        parser.add_argument("--exit", action="store_true", help="exit after the replay instead of staying up")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        cluster = default_cluster()
        ensure_metadata(cluster)
        strategies = ensure_strategies()
        login = ensure_login(password=os.environ.get("BKM_DEMO_ADMIN_PASSWORD") or None)
        self.stdout.write(f"demo: {len(strategies)} strategies on topic {TOPIC}: "
                          + "; ".join(s.name for s in strategies))
        web = f"http://127.0.0.1:{os.environ.get('BKM_WEB_PORT', '8000')}"
        if login.password:
            self.stdout.write(f"demo: admin login {login.username} / {login.password} at {web}/admin/")
        self.stdout.write(f"demo: API token {login.token}  (curl -H 'Authorization: Token {login.token}' "
                          f"{web}/api/v1/alerts/)")
        self.stdout.flush()
        series = read_series()
        replay(KafkaProducer(cluster), TOPIC, series, host=HOST, metric="temperature", rate=options["rate"],
               stop=stop, out=self.stdout)
        if not options["exit"]:
            stop.wait()
