"""The demo as its own app, so that what it did (its replays) is kept in the database the demo's alerts
live in: a second `make run` must know the replay already happened even though the embedded broker
starts empty."""
from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "alarm_backends.demo"
    label = "demo"
    verbose_name = "demo"
    default_auto_field = "django.db.models.BigAutoField"
