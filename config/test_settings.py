"""Settings for the test suite: PostgreSQL when DATABASE_URL is set or a local
PostgreSQL answers on 127.0.0.1:5432, SQLite otherwise (BKM_TEST_DB=sqlite forces it)."""
import os
import socket


def _local_postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


if (
    "DATABASE_URL" not in os.environ
    and os.environ.get("BKM_TEST_DB", "auto") != "sqlite"
    and _local_postgres_reachable()
):
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/bkmonitor"

# Tests on PostgreSQL count as a production-like deployment, which must name its key (config/secret.py).
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users only

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not memory: the suite starts real consumer processes that share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405

# Static files come straight from the apps, as under runserver, so that no test depends on a collectstatic run.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
