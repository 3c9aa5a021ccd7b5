from __future__ import annotations

from django.apps import AppConfig


class WebConfig(AppConfig):
    """An app of its own so that its templates and static files are found like any app's."""

    name = "bkmonitor.web"
    label = "bkmonitor_web"
