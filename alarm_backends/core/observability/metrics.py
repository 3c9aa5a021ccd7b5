"""The pipeline stages' Prometheus metrics, one definition each.

They are incremented once per batch or per window-closing pass, never per
message or point: the access stage handles over 100,000 messages/s, where even
a lock-free counter increment per message would show in its CPU per message.
Labels carry the consumer group, so two stages in one process (tests, or a
deployment running both) never mix their numbers.
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# access (metric and custom-event streams)
ACCESS_MESSAGES = Counter("bkm_access_messages", "Messages consumed by the access stage", ["group"])
ACCESS_INVALID = Counter("bkm_access_invalid_messages",
                         "Messages rejected whole and dead-lettered by the access stage", ["group"])
ACCESS_POINTS = Counter("bkm_access_points_filed",
                        "Points filed into open windows (a point counts once per group of series it feeds)",
                        ["group"])
ACCESS_LATE = Counter("bkm_access_late_points",
                      "Points that arrived after the watermark had passed their window (counted per aggregation "
                      "they would have fed, not merged)", ["group"])
ACCESS_WINDOWS_CLOSED = Counter("bkm_access_windows_closed", "Windows the watermark closed (per group of series)",
                                ["group"])
ACCESS_EVENTS = Counter("bkm_access_events", "Events produced to the event topic", ["group", "event_type"])
ACCESS_CHECKPOINT_SECONDS = Histogram(
    "bkm_access_checkpoint_seconds", "Checkpoint duration: flush events and dead letters, write snapshots",
    ["group"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
ACCESS_LAST_CHECKPOINT = Gauge("bkm_access_last_checkpoint_timestamp_seconds",
                               "Wall-clock time of the last completed checkpoint", ["group"])
ACCESS_WATERMARK = Gauge("bkm_access_watermark_timestamp_seconds",
                         "Event-time watermark of a partition at its last checkpoint", ["group", "topic", "partition"])
ACCESS_STATE_REBUILDS = Counter("bkm_access_state_rebuilds",
                                "Partitions resumed without their state (snapshot missing or dropped) after the "
                                "group had committed offsets there: open alerts were re-read from the database",
                                ["group"])
ACCESS_IDLE_ADVANCES = Counter("bkm_access_idle_advances",
                               "Times an idle, caught-up partition's event-time clock was moved to its topic's",
                               ["group"])

# alert builder
ALERT_MESSAGES = Counter("bkm_alert_messages", "Event messages consumed by the alert builder", ["group"])
ALERT_EVENTS_APPLIED = Counter("bkm_alert_events_applied",
                               "New events stored and applied (replayed duplicates excluded)", ["group"])
ALERT_INVALID = Counter("bkm_alert_invalid_messages", "Event messages dead-lettered by the alert builder",
                        ["group"])
ALERT_TRANSACTION_SECONDS = Histogram(
    "bkm_alert_transaction_seconds", "One batch's database transaction (store events, dedupe, alert log)",
    ["group"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
ALERTS_CHANGED = Counter("bkm_alerts_changed", "Alerts the builder opened, ended or updated", ["group", "kind"])

# riding out outages (alarm_backends/core/resilience.py): per loop, set on each change of state, never per attempt
DEPENDENCY_UP = Gauge("bkm_dependency_up", "1 while the loop reaches the dependency, 0 during an outage it rides out",
                      ["group", "dependency"])
PROCESS_DEGRADED = Gauge("bkm_process_degraded",
                         "1 while the loop holds its uncommitted work through an outage and consumes nothing more",
                         ["group"])
OUTAGES = Counter("bkm_outages", "Outages of a dependency the loop rode out (counted when they begin)",
                  ["group", "dependency"])

# Celery worker
# alert manager (run_alert_manager's loop; under Celery its passes are tasks, counted as such)
MANAGER_PASSES = Counter("bkm_alert_manager_passes", "Passes of the alert manager's checks", ["outcome"])

TASKS = Counter("bkm_celery_tasks", "Celery tasks finished by this worker", ["task", "outcome"])
TASK_SECONDS = Histogram("bkm_celery_task_seconds", "Celery task run time", ["task"],
                         buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0))


class AccessStage:
    """The access metrics of one consumer group, bound once: a batch then costs a few increments."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.messages = ACCESS_MESSAGES.labels(group)
        self.invalid = ACCESS_INVALID.labels(group)
        self.points = ACCESS_POINTS.labels(group)
        self.late = ACCESS_LATE.labels(group)
        self.windows_closed = ACCESS_WINDOWS_CLOSED.labels(group)
        self.checkpoint_seconds = ACCESS_CHECKPOINT_SECONDS.labels(group)
        self.last_checkpoint = ACCESS_LAST_CHECKPOINT.labels(group)
        self._watermarked: set[tuple[str, int]] = set()

    def batch(self, messages: int, invalid: int, points: int, late: int) -> None:
        self.messages.inc(messages)
        if invalid:
            self.invalid.inc(invalid)
        if points:
            self.points.inc(points)
        if late:
            self.late.inc(late)

    def events(self, by_type: dict[str, int]) -> None:
        for event_type, count in by_type.items():
            ACCESS_EVENTS.labels(self.group, event_type).inc(count)

    def checkpoint(self, seconds: float, watermarks: dict[tuple[str, int], int], owned: set[tuple[str, int]]
                   ) -> None:
        """After a checkpoint: its duration, and the watermark of each partition it wrote. Partitions
        no longer owned stop being reported, so a handed-over partition shows one owner's watermark."""
        self.checkpoint_seconds.observe(seconds)
        self.last_checkpoint.set_to_current_time()
        for (topic, partition), watermark in watermarks.items():
            ACCESS_WATERMARK.labels(self.group, topic, str(partition)).set(watermark)
        self._watermarked |= set(watermarks)
        for topic, partition in self._watermarked - owned:
            ACCESS_WATERMARK.remove(self.group, topic, str(partition))
        self._watermarked &= owned


class AlertStage:
    """The alert builder's metrics of one consumer group, bound once."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.messages = ALERT_MESSAGES.labels(group)
        self.applied = ALERT_EVENTS_APPLIED.labels(group)
        self.invalid = ALERT_INVALID.labels(group)
        self.transaction_seconds = ALERT_TRANSACTION_SECONDS.labels(group)
        self.opened = ALERTS_CHANGED.labels(group, "opened")
        self.ended = ALERTS_CHANGED.labels(group, "ended")
        self.updated = ALERTS_CHANGED.labels(group, "updated")

    def transaction(self, seconds: float, applied: int, opened: int, ended: int, updated: int) -> None:
        self.transaction_seconds.observe(seconds)
        self.applied.inc(applied)
        self.opened.inc(opened)
        self.ended.inc(ended)
        self.updated.inc(updated)

    def batch(self, messages: int, invalid: int) -> None:
        self.messages.inc(messages)
        if invalid:
            self.invalid.inc(invalid)
