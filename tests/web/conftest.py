"""The web process as `make run` starts it: collectstatic, then the Procfile's `web:` command
(gunicorn, DEBUG off) on a free port, against the test database."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.db import connection

from alarm_backends.core.embedded.base import free_loopback_port, port_accepts

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class WebServer:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as honcho sends it on Ctrl-C; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


def procfile_command(name: str) -> str:
    """The command line of one Procfile entry, so the test runs exactly what `make run` runs."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        match = re.match(rf"^{re.escape(name)}:\s*(.+)$", line)
        if match:
            return match.group(1)
    raise AssertionError(f"Procfile has no {name}: line")


def web_env(var_dir: Path, port: int) -> dict[str, str]:
    """`make run`'s environment for the web process: production settings, DEBUG unset, the test database."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "DJANGO_DEBUG", "DJANGO_SETTINGS_MODULE", "BKM_SQLITE_PATH"))}
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["BKM_SQLITE_PATH"] = db["NAME"]
    else:
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    # run_embedded puts the interpreter's directory first on PATH for the Procfile's commands
    env.update({"BKM_VAR_DIR": str(var_dir), "BKM_WEB_PORT": str(port),
                "PATH": os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])})
    return env


def start_web(var_dir: Path, timeout: float = 60) -> WebServer:
    port = free_loopback_port()
    env = web_env(var_dir, port)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                   cwd=ROOT, env=env, check=True)
    log = var_dir / "web.log"
    with log.open("wb") as out:  # a file, not a pipe: the access log must never block the server
        proc = subprocess.Popen(["sh", "-c", f"exec {procfile_command('web')}"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    server = WebServer(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + timeout
    while not port_accepts("127.0.0.1", port):
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"the web process did not listen on {port}:\n{server.output()}")
        time.sleep(0.1)
    return server


def create_admin(username: str, password: str) -> User:
    """A superuser the server can log in: the test settings' fast MD5 hasher is unknown to production settings,
    so the hash is written with the production default (few iterations: Django upgrades it on login)."""
    user = User.objects.create_superuser(username, f"{username}@example.com")
    user.password = PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt(), iterations=1000)
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def web_server(transactional_db: None, tmp_path: Path) -> Iterator[WebServer]:
    """Function-scoped: rows the test commits are what the server reads, and the flush follows its stop."""
    server = start_web(tmp_path)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.stop()
