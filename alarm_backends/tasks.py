"""Celery tasks of the alarm backends: the alert manager's periodic checks (thin wrappers over
alarm_backends.service.alert.manager.checks). Each is idempotent and takes a Redis lock, so a beat
tick delivered twice, or two workers running it at once, changes nothing twice."""
from __future__ import annotations

from typing import Any

from celery import shared_task

from alarm_backends.service.alert.manager import checks

# A missed tick is covered by the next one: no retries, and acks early so a lost worker does not replay it.
_PERIODIC = {"ignore_result": True, "acks_late": False}


@shared_task(**_PERIODIC)
def check_strategy_alerts() -> dict[str, Any]:
    """Close alerts whose strategy, item, level or dimensions are gone, or that are outside uptime."""
    return checks.check_strategy_alerts()


@shared_task(**_PERIODIC)
def check_pipeline() -> dict[str, Any]:
    """Pipeline health ("pipeline degraded" alert) and, on a healthy pipeline, strategy-wide no-data."""
    return checks.check_pipeline()


@shared_task(**_PERIODIC)
def end_stable_flapping() -> dict[str, Any]:
    return checks.end_flapping()


@shared_task(**_PERIODIC)
def prune_qos_minutes() -> dict[str, Any]:
    """Delete the QoS lock rows of minutes settled long ago (the table would otherwise only grow)."""
    return checks.prune_qos_minutes()
