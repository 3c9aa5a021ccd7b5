"""The Celery app; it reads every CELERY_* value from Django settings."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("bkmonitor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from alarm_backends.core.observability.worker import install as install_worker_metrics  # noqa: E402

install_worker_metrics()  # metrics and health on BKM_WORKER_METRICS_PORT once a worker is ready
