"""One row per replay the demo started: a row without `finished_at` is a replay that was
interrupted (or whose process died) and does not count as applied."""
from __future__ import annotations

from django.db import models


class DemoReplay(models.Model):
    topic = models.CharField(max_length=255)
    total = models.PositiveIntegerField(help_text="points in the series")
    sent = models.PositiveIntegerField(default=0, help_text="points delivered to the broker")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True, help_text="set only once every point was delivered")

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "demo replay"

    def __str__(self) -> str:
        state = f"finished {self.finished_at:%Y-%m-%d %H:%M}" if self.finished_at else "not finished"
        return f"replay of {self.sent}/{self.total} points to {self.topic} ({state})"
