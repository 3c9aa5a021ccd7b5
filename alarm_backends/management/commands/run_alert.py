"""The alert builder: `python manage.py run_alert`.

Consumes the internal event topic (and, with --topic, more event topics) as one
consumer group; per batch, one transaction stores the events, dedupes them into
alerts and writes the alert log; offsets are committed after it commits.
SIGTERM/SIGINT finish the batch, commit and leave the group. An outage of the
database or the broker does not stop it: it holds the batch and retries until
they are back (core/resilience.py).
"""
from __future__ import annotations

import argparse
import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from alarm_backends.core.gc_tuning import tune_for_long_lived_state
from alarm_backends.core.kafka.defaults import default_cluster
from alarm_backends.core.observability.process import consumer_probe, start_metrics
from alarm_backends.core.resilience import RetryPolicy
from alarm_backends.core.stop_signals import stop_on_signals
from alarm_backends.management.commands.run_access import ensure_event_topic
from alarm_backends.service.alert.runner import AlertRunner, AlertSettings

logger = logging.getLogger("alarm_backends.alert")


class Command(BaseCommand):
    help = "Build alerts from anomaly and status events."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--topic", action="append", default=[], help="an extra event topic to consume")
        parser.add_argument("--group", default=None, help="consumer group (default: BKM_ALERT_GROUP)")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = stop_on_signals()
        ensure_event_topic()
        topics = (settings.ALARM_EVENT_TOPIC, *options["topic"])
        runner = AlertRunner(AlertSettings(group_id=options["group"] or settings.ALERT_GROUP, topics=topics,
                                           max_future=settings.ACCESS_MAX_FUTURE_SECONDS,
                                           retry=RetryPolicy.from_settings()),
                             cluster=default_cluster())
        metrics = start_metrics("alert", ("database", "kafka"), [consumer_probe("loop", runner), runner.outage],
                                say=self.stdout.write)
        self.stdout.write(f"alert: consuming {list(topics)} as group {runner.settings.group_id}")
        self.stdout.flush()
        tune_for_long_lived_state()
        try:
            runner.run(stop)
        except Exception as exc:
            logger.exception("alert builder stopped")
            raise CommandError(f"alert builder stopped: {exc}") from exc
        finally:
            if metrics is not None:
                metrics.stop()
        self.stdout.write(f"alert: stopped after {runner.messages} messages, {runner.applied} new events, "
                          f"{runner.invalid} dead-lettered")
