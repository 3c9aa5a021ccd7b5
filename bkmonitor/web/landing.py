"""The landing page at `/`: where a new user (or the admin's "View site" link) arrives.

It is public because it holds no data, only what runs and where to go next.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.views.generic import TemplateView


@dataclass(frozen=True)
class Process:
    name: str
    command: str
    role: str


@dataclass(frozen=True)
class Link:
    url: str
    title: str
    what: str


PROCESSES = (
    Process("web", "gunicorn config.wsgi", "this site: the admin, the REST API and its docs"),
    Process("access", "python manage.py run_access --type data",
            "metric access: reads metric topics, aggregates, detects and triggers anomaly events"),
    Process("event access", "python manage.py run_access --type event",
            "custom-event access: the same for custom event topics; start it when event strategies exist"),
    Process("alert", "python manage.py run_alert", "alert builder: turns anomaly events into alerts"),
    Process("worker", "celery -A config worker", "Celery worker: topic reconciliation and the alert manager"),
    Process("beat", "celery -A config beat", "Celery beat: schedules the periodic tasks"),
    Process("demo", "python manage.py run_demo",
            "make run only: a demo strategy fed with a replayed temperature series"),
)

LINKS = (
    Link("/admin/", "Admin", "strategies, alerts, clusters and topics"),
    Link("/api/docs/", "API docs", "every endpoint, tried out from the browser"),
    Link("/api/v1/", "API root", "the list of endpoints (needs a login or a token)"),
    Link("/api/v1/alerts/", "Alerts", "the alerts, browsable (needs a login or a token)"),
    Link("/metrics", "Metrics", "Prometheus metrics of this process"),
)


class LandingView(TemplateView):
    template_name = "web/landing.html"
    extra_context = {"processes": PROCESSES, "links": LINKS}
