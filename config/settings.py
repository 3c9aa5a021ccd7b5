"""Django settings. Every value that varies by deployment comes from the
environment through the strict readers in config.env; nothing else in the
code base reads os.environ for configuration."""
from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_float, env_int, env_list, env_port, env_str
from config.secret import resolve_secret_key
from config.tools.kafka import get_kafka_cluster_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BKM_VAR_DIR", str(BASE_DIR / "var")) or BASE_DIR / "var")

DEBUG = env_bool("DJANGO_DEBUG", False)
_database_url = env_str("DATABASE_URL")
# Unset: a random key generated once into var/ (mode 0600) on the embedded SQLite; any other database is a
# production deployment and must set it (config/secret.py).
SECRET_KEY = resolve_secret_key(env_str("DJANGO_SECRET_KEY"), var_dir=VAR_DIR,
                                production=bool(_database_url) or env_bool("BKM_REQUIRE_SECRET_KEY", False))
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # runserver (DJANGO_DEBUG on) then serves static files through WhiteNoise too, as gunicorn does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "bkmonitor",
    "bkmonitor.web",
    "metadata",
    "apm",
    "alarm_backends",
    "alarm_backends.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files in every mode, from the web process itself (no separate file server to set up).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# Database: DATABASE_URL (PostgreSQL in production, MySQL/MariaDB supported), else SQLite.
if _database_url:
    try:
        DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # an unreachable host must fail a connect or a query within seconds, not TCP's ~2 minutes (or
        # never, mid-query): the loops riding out an outage retry, and SIGTERM waits for the attempt
        DATABASES["default"]["OPTIONS"] = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10,
                                           "keepalives_interval": 5, "keepalives_count": 3,
                                           **DATABASES["default"].get("OPTIONS", {})}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("BKM_SQLITE_PATH", str(VAR_DIR / "db.sqlite3")),
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis / Valkey: REDIS_URL, else the embedded Valkey started by run_embedded.
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# Kafka: BK_MONITOR_KAFKA_* (see config/tools/kafka.py); None means the embedded broker.
KAFKA_CLUSTER = get_kafka_cluster_config()
KAFKA_PRODUCER = {
    "linger.ms": env_int("BKM_KAFKA_LINGER_MS", 20, minimum=0),
    "batch.size": env_int("BKM_KAFKA_BATCH_SIZE", 16384, minimum=1),
    "compression.type": env_choice(
        "BKM_KAFKA_COMPRESSION", "snappy", ("none", "gzip", "snappy", "lz4", "zstd")
    ),
    "max.in.flight.requests.per.connection": env_int("BKM_KAFKA_MAX_IN_FLIGHT", 5, minimum=1, maximum=5),
    "message.timeout.ms": env_int("BKM_KAFKA_DELIVERY_TIMEOUT_MS", 30000, minimum=1000),
}
KAFKA_CONSUMER = {
    "partition.assignment.strategy": env_choice(
        "BKM_KAFKA_ASSIGNMENT_STRATEGY", "cooperative-sticky", ("range", "roundrobin", "cooperative-sticky")
    ),
    "session.timeout.ms": env_int("BKM_KAFKA_SESSION_TIMEOUT_MS", 10000, minimum=1000),
    # Prefetch: see alarm_backends/core/kafka/consumer.py for why these values.
    "queued.min.messages": env_int("BKM_KAFKA_QUEUED_MIN_MESSAGES", 1_000_000, minimum=1),
    "queued.max.messages.kbytes": env_int("BKM_KAFKA_QUEUED_MAX_KBYTES", 65536, minimum=1024),
}
KAFKA_COMMIT_INTERVAL_SECONDS = env_float("BKM_KAFKA_COMMIT_INTERVAL", 1.0, minimum=0.0)
KAFKA_COMMIT_EVERY_MESSAGES = env_int("BKM_KAFKA_COMMIT_EVERY", 10000, minimum=1)
KAFKA_TOPIC_PREFIX = env_str("BKM_KAFKA_TOPIC_PREFIX", "bkm") or "bkm"
KAFKA_CLIENT_TIMEOUT_SECONDS = env_float("BKM_KAFKA_CLIENT_TIMEOUT", 10.0, minimum=0.5)

# Access (metric and custom event streams -> anomaly events)
ACCESS_DATA_GROUP = env_str("BKM_ACCESS_DATA_GROUP", "bkm-access-data") or "bkm-access-data"
ACCESS_EVENT_GROUP = env_str("BKM_ACCESS_EVENT_GROUP", "bkm-access-event") or "bkm-access-event"
ALARM_EVENT_TOPIC = env_str("BKM_ALARM_EVENT_TOPIC", "bkm_alarm_events") or "bkm_alarm_events"
ALARM_EVENT_TOPIC_PARTITIONS = env_int("BKM_ALARM_EVENT_TOPIC_PARTITIONS", 3, minimum=1)
ACCESS_ALLOWED_LATENESS_SECONDS = env_int("BKM_ACCESS_ALLOWED_LATENESS", 60, minimum=0)
ACCESS_SNAPSHOT_INTERVAL_SECONDS = env_float("BKM_ACCESS_SNAPSHOT_INTERVAL", 5.0, minimum=0.0)
ACCESS_HISTORY_MEMORY_SECONDS = env_int("BKM_ACCESS_HISTORY_MEMORY_SECONDS", 3 * 3600, minimum=0)
# A point (access) or event (alert consumer) further ahead of the wall clock than this is dead-lettered:
# one would move its partition's watermark so far that every later point is late. One value for both
# stages, so that what access emits the alert consumer accepts.
ACCESS_MAX_FUTURE_SECONDS = env_int("BKM_ACCESS_MAX_FUTURE_SECONDS", 300, minimum=0)
# A caught-up partition with no message for this long follows the other partitions' event time, so its
# silent series still get no-data and their alerts close (docs/ARCHITECTURE.md, Semantics: idle partitions).
ACCESS_IDLE_SECONDS = env_float("BKM_ACCESS_IDLE_SECONDS", 180.0, minimum=0.1)
ALERT_GROUP = env_str("BKM_ALERT_GROUP", "bkm-alert-builder") or "bkm-alert-builder"
# Riding out an outage of the broker, Redis or the database (alarm_backends/core/resilience.py): the first
# retry after this many seconds, doubling (with jitter) up to the cap, for as long as the outage lasts.
OUTAGE_RETRY_INITIAL_SECONDS = env_float("BKM_OUTAGE_RETRY_INITIAL", 0.5, minimum=0.01)
OUTAGE_RETRY_MAX_SECONDS = env_float("BKM_OUTAGE_RETRY_MAX", 30.0, minimum=0.1)

# observability (alarm_backends/core/observability): each long-running process serves /metrics, /-/healthy
# and /-/ready on its own port: its variable below, else BKM_METRICS_PORT (one process per container);
# unset: not served. env_port(name, 0) returns 0 only when unset (an explicit 0 is rejected), hence `or None`.
METRICS_PORT = env_port("BKM_METRICS_PORT", 0) or None
METRICS_PORT_VARIABLES = {"access": "BKM_ACCESS_METRICS_PORT", "access_event": "BKM_ACCESS_EVENT_METRICS_PORT",
                          "alert": "BKM_ALERT_METRICS_PORT", "worker": "BKM_WORKER_METRICS_PORT",
                          "manager": "BKM_ALERT_MANAGER_METRICS_PORT", "relay": "BKM_RELAY_METRICS_PORT"}
METRICS_PORTS = {process: env_port(name, 0) or None for process, name in METRICS_PORT_VARIABLES.items()}
METRICS_ADDR = env_str("BKM_METRICS_ADDR", "127.0.0.1") or "127.0.0.1"
# The web process's /metrics needs a token or session like the API unless this is set (health never does).
METRICS_PUBLIC = env_bool("BKM_METRICS_PUBLIC", False)
HEALTH_TIMEOUT_SECONDS = env_float("BKM_HEALTH_TIMEOUT", 2.0, minimum=0.1)
HEALTH_LOOP_STALL_SECONDS = env_float("BKM_HEALTH_LOOP_STALL", 60.0, minimum=1.0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC") or "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# Filled by `manage.py collectstatic` (make run does it) and served by WhiteNoise: the same files in
# development and production. Names are not hashed so that a template renders without a collected
# manifest (tests, a forgotten collectstatic shows as 404s, not as 500s on every admin page).
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Files browsers ask for at the site root whatever the page says (/favicon.ico).
WHITENOISE_ROOT = BASE_DIR / "bkmonitor" / "web" / "root"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # declares every error status an operation answers, not only its success (config/api/schema.py)
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "config.api.filters.SearchFilter",
        "config.api.filters.OrderingFilter",
    ],
    # page_size up to config.api.pagination.MAX_PAGE_SIZE (1000); page and page_size read strictly
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "bk-alarm pipeline API",
    "VERSION": "1.0.0",
    # The docs pages load their JavaScript and CSS from this server (drf-spectacular-sidecar), never a CDN:
    # they must work offline and not change under us.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema and its docs need a login like the API they describe; the schema does not list itself.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get components of their own: they omit read-only fields and refuse unknown keys.
    "COMPONENT_SPLIT_REQUEST": True,
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("BKM_MAX_REQUEST_BYTES", 1_048_576, minimum=1024)

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
# Celery's routine chatter (beat sending each periodic task, the worker receiving it and its result) is
# six lines a minute on an idle pipeline, so it shows only at DEBUG (retries too: Celery logs them at INFO);
# warnings and task failures (ERROR) still show. Celery keeps these levels: it replaces only the root
# logger's handlers.
_CELERY_ROUTINE_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {name: {"level": "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"}
                for name in _CELERY_ROUTINE_LOGGERS},
}

# demo (`manage.py run_demo`, one of `make run`'s processes)
DEMO_WEB_PORT = env_port("BKM_WEB_PORT", 8000)  # only to print the demo's URLs
DEMO_RATE = env_float("BKM_DEMO_RATE", 600.0, minimum=0.0)  # points per second, 0: as fast as possible
DEMO_ADMIN_PASSWORD = env_str("BKM_DEMO_ADMIN_PASSWORD")  # set (or reset) the demo admin's password
# once: replay only if no earlier run delivered the whole series (recorded in the database); always: every run.
DEMO_REPLAY = env_choice("BKM_DEMO_REPLAY", "once", ("once", "always"))

# metadata
# Fernet key for secrets stored in metadata (SASL / SSL key passwords). Unset: derived from SECRET_KEY (dev only).
METADATA_SECRET_KEY = env_str("BKM_METADATA_SECRET_KEY")
METADATA_RECONCILE_INTERVAL_SECONDS = env_int("BKM_METADATA_RECONCILE_INTERVAL", 300, minimum=10)
METADATA_RECONCILE_CLUSTER_BUDGET_SECONDS = env_float("BKM_METADATA_RECONCILE_CLUSTER_BUDGET", 60.0, minimum=1.0)
METADATA_TAIL_MAX_COUNT = env_int("BKM_METADATA_TAIL_MAX_COUNT", 500, minimum=1, maximum=10000)
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "metadata-reconcile-topics": {
        "task": "metadata.tasks.reconcile_topics",
        "schedule": float(METADATA_RECONCILE_INTERVAL_SECONDS),
    },
}

# strategies
# Every agg_interval must be a positive multiple of this (seconds).
BKM_BASE_INTERVAL_SECONDS = env_int("BKM_BASE_INTERVAL_SECONDS", 60, minimum=1)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}), "ConnectorEnum": "bkmonitor.choices.Connector"}

# alerts
# QoS: more new alerts than this per (strategy, severity) in one event-time minute are created blocked.
BKM_ALERT_QOS_PER_MINUTE = env_int("BKM_ALERT_QOS_PER_MINUTE", 100, minimum=1)
# Until the latest stored event time is this far past a minute's end, an alert arriving late but ranked earlier
# (open time, dedupe_md5) still takes an admitted alert's place; after it, that minute's verdicts are final.
BKM_ALERT_QOS_SETTLE_SECONDS = env_int("BKM_ALERT_QOS_SETTLE_SECONDS", 120, minimum=0)
# Flapping: more state changes than this within the window (event-time seconds) mark the next alert flapping;
# it stops flapping once its series has been stable this long.
BKM_ALERT_FLAPPING_CHANGES = env_int("BKM_ALERT_FLAPPING_CHANGES", 6, minimum=1)
BKM_ALERT_FLAPPING_WINDOW = env_int("BKM_ALERT_FLAPPING_WINDOW", 3600, minimum=1)
BKM_ALERT_FLAPPING_STABLE = env_int("BKM_ALERT_FLAPPING_STABLE", 1800, minimum=1)
# Alerts use the strategies' Level choices as "severity": one enum name for both.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}), "LevelEnum": "bkmonitor.choices.Level"}

# alert manager
# Periodic checks (Celery beat, or `manage.py run_alert_manager` without beat): alerts whose strategy changed
# or that are outside uptime are closed; pipeline health and strategy-wide no-data; the end of flapping; the
# QoS lock rows of minutes settled long ago are deleted.
BKM_ALERT_MANAGER_INTERVAL_SECONDS = env_int("BKM_ALERT_MANAGER_INTERVAL", 60, minimum=1)
BKM_ALERT_MANAGER_LOCK_TTL_SECONDS = env_int("BKM_ALERT_MANAGER_LOCK_TTL", 300, minimum=10)
# The access pipeline is degraded when a partition with lag has not checkpointed for this long, when the
# access group's total lag is over the limit, or when a lagging partition's watermark is this far behind.
BKM_PIPELINE_STALL_SECONDS = env_int("BKM_PIPELINE_STALL_SECONDS", 120, minimum=1)
BKM_PIPELINE_MAX_LAG = env_int("BKM_PIPELINE_MAX_LAG", 100_000, minimum=0)
BKM_PIPELINE_MAX_DELAY_SECONDS = env_int("BKM_PIPELINE_MAX_DELAY_SECONDS", 900, minimum=1)
_ALERT_MANAGER_TICK = {"schedule": float(BKM_ALERT_MANAGER_INTERVAL_SECONDS),
                       "options": {"expires": float(BKM_ALERT_MANAGER_INTERVAL_SECONDS)}}
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "alert-manager-strategy-alerts": {"task": "alarm_backends.tasks.check_strategy_alerts", **_ALERT_MANAGER_TICK},
    "alert-manager-pipeline": {"task": "alarm_backends.tasks.check_pipeline", **_ALERT_MANAGER_TICK},
    "alert-manager-flapping": {"task": "alarm_backends.tasks.end_stable_flapping", **_ALERT_MANAGER_TICK},
    "alert-manager-qos-minutes": {"task": "alarm_backends.tasks.prune_qos_minutes", **_ALERT_MANAGER_TICK},
}
