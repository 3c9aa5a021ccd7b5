"""Services of a test's own, to stop, pause and kill without touching the session's: a Tansu broker,
a Valkey, a PostgreSQL cluster; and a metric world (tests/access/conftest.py) on top of them."""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from alarm_backends.core.embedded import EmbeddedKafkaBroker, EmbeddedValkey
from alarm_backends.core.embedded.base import free_loopback_port
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from tests.access.conftest import ROOT, World, kill_children, world  # noqa: F401  (world: a shared fixture)
from tests.access.conftest import make_world as make_access_world


def make_world(cluster: KafkaClusterConfig, redis_url: str, partitions: int = 2) -> World:
    """As tests/access/conftest.py's `world`, on the given broker and Redis."""
    return make_access_world(cluster, redis_url, partitions, prefix="out")


@contextlib.contextmanager
def children_killed(target: World) -> Iterator[World]:
    try:
        yield target
    finally:
        kill_children(target)


@pytest.fixture
def own_broker() -> Iterator[EmbeddedKafkaBroker]:
    """A broker only this test uses: pausing it (SIGSTOP) stops nobody else."""
    broker = EmbeddedKafkaBroker()
    broker.start()
    try:
        yield broker
    finally:
        if broker.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(broker.pid, signal.SIGCONT)
        broker.stop()


@pytest.fixture
def own_valkey() -> Iterator[EmbeddedValkey]:
    valkey = EmbeddedValkey()
    valkey.start()
    try:
        yield valkey
    finally:
        valkey.stop()


def kill(valkey: EmbeddedValkey) -> int:
    """kill -9 the Valkey; its port, to start an empty one on later."""
    port = valkey.port
    assert valkey.pid is not None and port is not None
    os.kill(valkey.pid, signal.SIGKILL)
    valkey.stop()  # reaps it and removes its directory
    return port


# PostgreSQL of the test's own (never the machine's shared one)
@dataclass
class Postgres:
    bin_dir: Path
    data: Path
    port: int
    user: str | None  # the OS user that runs it (initdb refuses root)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/bkm"

    def ctl(self, *args: str) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args)

    def start(self) -> None:
        self.ctl("-l", str(self.data / "server.log"), "-o",
                 f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data}", "start")

    def stop(self) -> None:
        self.ctl("-m", "fast", "stop")

    def _run(self, *argv: str) -> None:
        subprocess.run(argv, check=True, capture_output=True, user=self.user, cwd=self.data)


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture
def own_postgres() -> Iterator[Postgres]:
    bin_dir = _postgres_bin()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL binaries (/usr/lib/postgresql/*/bin/initdb) are missing on CI: "
                        "install the postgresql package")
        pytest.skip("PostgreSQL binaries (/usr/lib/postgresql/*/bin/initdb) are not installed")
    user = None
    root = Path(tempfile.mkdtemp(prefix="bkm-outage-pg-"))
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        user = "postgres"
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data = root / "data"
    pg = Postgres(bin_dir, data, free_loopback_port(), user)
    try:
        subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True, user=user, cwd=root)
        pg.start()
        subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "bkm"],
                       check=True, capture_output=True, user=user, cwd=root)
        yield pg
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            pg.ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def database_alias(url: str, alias: str = "outage_pg") -> str:
    """A Django connection to the test's own PostgreSQL, to read what the child process stored."""
    import dj_database_url

    config: dict[str, Any] = dj_database_url.parse(url)
    configured = connections.configure_settings({"default": dict(config), alias: config})
    connections.settings[alias] = configured[alias]
    return alias
