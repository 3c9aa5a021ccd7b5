"""The alert manager without Celery beat: `python manage.py run_alert_manager [--once] [--interval S]`.

Runs the same checks as the beat tasks (they take the same Redis locks, so running this next to beat,
or twice, is harmless). SIGTERM/SIGINT let the current pass finish and stop before the next one. A pass that fails
because the database, Redis or the broker is down is counted as an error and the loop goes on:
the next pass is the retry (logged when the outage begins and when it ends, not per pass).
"""
from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import orjson
from django.conf import settings
from django.core.management.base import BaseCommand

from alarm_backends.core.observability.metrics import MANAGER_PASSES
from alarm_backends.core.observability.process import start_metrics
from alarm_backends.core.observability.server import LoopProbe
from alarm_backends.core.resilience import Outage
from alarm_backends.core.stop_signals import stop_on_signals
from alarm_backends.service.alert.manager.checks import run_all

logger = logging.getLogger("alarm_backends.alert.manager")


class Command(BaseCommand):
    help = "Run the alert manager's periodic checks in a loop (or once)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--interval", type=float, default=None,
                            help="seconds between passes (default: BKM_ALERT_MANAGER_INTERVAL)")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = stop_on_signals()
        interval = options["interval"] if options["interval"] is not None \
            else float(settings.BKM_ALERT_MANAGER_INTERVAL_SECONDS)
        self.stdout.write(f"alert manager: running every {interval:g}s" if not options["once"]
                          else "alert manager: one pass")
        self.stdout.flush()
        passes = 0
        last_pass = time.monotonic()
        # ready while its passes keep coming: a pass waits `interval`, so a stall is two missed passes
        probe = LoopProbe("loop", lambda: last_pass, max(float(settings.HEALTH_LOOP_STALL_SECONDS), 2 * interval))
        outage = Outage("alert-manager", ("database", "redis", "kafka"))
        metrics = None if options["once"] else start_metrics("manager", ("database", "redis", "kafka"),
                                                             [probe, outage], say=self.stdout.write)
        try:
            while not stop.is_set():
                try:
                    results = run_all()
                except Exception as exc:
                    MANAGER_PASSES.labels("error").inc()
                    if options["once"] or outage.begin(exc) is None:
                        raise
                    last_pass = time.monotonic()  # alive: the outage probe says why it is not ready
                    stop.wait(interval)
                    continue
                outage.recovered()
                MANAGER_PASSES.labels("ok").inc()
                passes += 1
                last_pass = time.monotonic()
                self.stdout.write(orjson.dumps(results, default=str).decode())
                self.stdout.flush()
                if options["once"]:
                    break
                stop.wait(interval)
        finally:
            if metrics is not None:
                metrics.stop()
        self.stdout.write(f"alert manager: stopped after {passes} passes")
