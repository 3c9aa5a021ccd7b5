"""Gauges read from the database when the web process is scraped: what is open right now.

Read at scrape time (a custom Collector) rather than kept up to date by the
builder, so every web replica reports the same truth and nothing drifts after a
restart. Only ABNORMAL alerts are counted: at most one per dedupe key, so the
query stays small however long the alert history grows.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count, Min
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bkmonitor.choices import Level
from bkmonitor.models import Alert
from bkmonitor.models.alert import AlertStatus

logger = logging.getLogger(__name__)


class OpenAlertsCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("bkm_alerts_query_up", "1 when the open-alert gauges below could be read")
        try:
            rows = list(Alert.objects.filter(status=AlertStatus.ABNORMAL).values("severity")
                        .annotate(n=Count("id"), created=Min("create_time"), begin=Min("begin_time")))
        except DatabaseError as exc:
            logger.warning("metrics: open alerts could not be read: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        by_severity = {row["severity"]: row["n"] for row in rows}
        open_alerts = GaugeMetricFamily("bkm_alerts_open", "Open (ABNORMAL) alerts", labels=["severity"])
        for level in Level.values:  # every severity, zeros included: a series that vanishes cannot be alerted on
            open_alerts.add_metric([str(level)], by_severity.get(level, 0))
        yield open_alerts
        created = [row["created"] for row in rows if row["created"] is not None]
        age = GaugeMetricFamily("bkm_alerts_oldest_open_age_seconds",
                                "Wall-clock seconds since the oldest open alert was opened (0: none open)")
        age.add_metric([], max(0.0, time.time() - min(created).timestamp()) if created else 0.0)
        yield age
        begins = [row["begin"] for row in rows if row["begin"] is not None]
        if begins:  # event time: for a replay of old data it is far from the wall clock, hence a separate gauge
            begin = GaugeMetricFamily("bkm_alerts_oldest_open_begin_timestamp_seconds",
                                      "Event-time begin of the oldest open alert")
            begin.add_metric([], min(begins))
            yield begin
