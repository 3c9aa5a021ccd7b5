"""/metrics, /-/healthy and /-/ready of the web process (included at the site root)."""
from __future__ import annotations

from django.urls import path

from alarm_backends.core.observability.views import HealthyView, MetricsView, ReadyView

urlpatterns = [
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("-/healthy", HealthyView.as_view(), name="healthy"),
    path("-/ready", ReadyView.as_view(), name="ready"),
]
