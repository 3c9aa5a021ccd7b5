"""The access consumer: `python manage.py run_access --type data|event`.

`data` reads metric topics, `event` custom event topics (docs/ARCHITECTURE.md,
Data contracts: custom event message); both run the same loop, each as its own
consumer group, into the same event topic.

Owns the loop, the signals and the drain: SIGTERM/SIGINT finish the current
batch, checkpoint (events flushed, state snapshotted, offsets committed) and
leave the group. An outage of the broker, Redis or the database does not stop
it: a call in the middle of a batch waits for the service, the messages already
fetched are processed until a checkpoint fails, and then it pauses its
partitions, holds its uncommitted work and retries until they are back
(core/resilience.py, service/access/data/runner.py). SIGTERM during an outage
stops it without saving anything half-done. Configured only by the environment
(see config/settings.py).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from alarm_backends.core.gc_tuning import tune_for_long_lived_state
from alarm_backends.core.kafka.defaults import default_cluster
from alarm_backends.core.kafka.errors import TopicAlreadyExists
from alarm_backends.core.kafka.topics import TopicManager
from alarm_backends.core.observability.process import consumer_probe, start_metrics
from alarm_backends.core.resilience import RetryPolicy
from alarm_backends.core.stop_signals import stop_on_signals
from alarm_backends.service.access.data.runner import AccessRunner, AccessSettings
from alarm_backends.service.access.data.sources import load_strategies, redis_client, strategy_version
from alarm_backends.service.access.types import ACCESS_TYPES

logger = logging.getLogger("alarm_backends.access")


def ensure_event_topic() -> None:
    topics = TopicManager()
    if not topics.topic_exists(settings.ALARM_EVENT_TOPIC):
        with contextlib.suppress(TopicAlreadyExists):
            topics.create_topic(settings.ALARM_EVENT_TOPIC, partitions=settings.ALARM_EVENT_TOPIC_PARTITIONS)


class Command(BaseCommand):
    help = "Consume metric (data) or custom event streams, detect and trigger, produce anomaly events."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--type", choices=sorted(ACCESS_TYPES), default="data", help="which access stream to run")
        parser.add_argument("--group", default=None,
                            help="consumer group (default: BKM_ACCESS_DATA_GROUP or BKM_ACCESS_EVENT_GROUP)")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = stop_on_signals()
        ensure_event_topic()
        default_group = settings.ACCESS_EVENT_GROUP if options["type"] == "event" else settings.ACCESS_DATA_GROUP
        data_type_label = ACCESS_TYPES[options["type"]].data_type_label
        runner = AccessRunner(
            AccessSettings(
                group_id=options["group"] or default_group,
                access_type=options["type"],
                event_topic=settings.ALARM_EVENT_TOPIC,
                lateness=settings.ACCESS_ALLOWED_LATENESS_SECONDS,
                snapshot_interval=settings.ACCESS_SNAPSHOT_INTERVAL_SECONDS,
                memory_seconds=settings.ACCESS_HISTORY_MEMORY_SECONDS,
                idle_seconds=settings.ACCESS_IDLE_SECONDS,
                timezone=settings.TIME_ZONE,
                max_future=settings.ACCESS_MAX_FUTURE_SECONDS,
                retry=RetryPolicy.from_settings(),
            ),
            cluster=default_cluster(), redis_client=redis_client(),
            load_strategies=functools.partial(load_strategies, data_type_label), strategy_version=strategy_version,
        )
        metrics = start_metrics("access_event" if options["type"] == "event" else "access",
                                ("database", "redis", "kafka"), [consumer_probe("loop", runner), runner.outage],
                                say=self.stdout.write)
        self.stdout.write(f"access: consuming {runner.index.topics or 'nothing yet'} "
                          f"as group {runner.settings.group_id}")
        self.stdout.flush()
        tune_for_long_lived_state()
        try:
            runner.run(stop)
        except Exception as exc:  # a crash is redelivered from the last checkpoint; say why we stopped
            logger.exception("access stopped")
            raise CommandError(f"access stopped: {exc}") from exc
        finally:
            if metrics is not None:
                metrics.stop()
        self.stdout.write(f"access: stopped after {runner.messages} messages, {runner.events} events, "
                          f"{runner.invalid} dead-lettered")
