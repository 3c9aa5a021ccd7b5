"""A child server process on a free loopback port, started and stopped cleanly."""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be found, started or stopped."""


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    # A kill -9 of the parent must not leave an orphaned broker holding memory.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ManagedProcess(ABC):
    """Base for embedded servers: subclasses say how to find the binary and build argv."""

    name = "service"
    start_attempts = 3
    stop_timeout = 5.0

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, workdir: str | None = None) -> None:
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._workdir = workdir
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @abstractmethod
    def binary(self) -> str:
        """Path of the server executable, or EmbeddedServiceError saying how to get it."""

    @abstractmethod
    def argv(self, binary: str, port: int, workdir: Path) -> list[str]:
        """Command line that serves on host:port in the foreground."""

    def is_ready(self) -> bool:
        return self.port is not None and port_accepts(self.host, self.port)

    # lifecycle
    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 15.0) -> None:
        if self.running:
            return
        binary = self.binary()
        workdir = self._prepare_workdir()
        last_error = ""
        for _ in range(self.start_attempts if self._requested_port is None else 1):
            port = self._requested_port or free_loopback_port()
            self.log_path = workdir / f"{self.name}.log"
            log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
            try:
                self._process = subprocess.Popen(
                    self.argv(binary, port, workdir),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=workdir,
                    preexec_fn=_die_with_parent,
                    # Own session: a Ctrl-C or group SIGTERM reaches the pipeline first; the server
                    # is stopped by its owner after the pipeline has drained into it.
                    start_new_session=True,
                )
            except OSError as exc:
                raise EmbeddedServiceError(f"{self.name}: cannot execute {binary}: {exc}") from exc
            finally:
                log.close()
            self.port = port
            if self._wait_ready(timeout):
                logger.info("%s listening on %s:%s (pid %s)", self.name, self.host, port, self.pid)
                return
            last_error = self._tail_log()
            self._kill()
        raise EmbeddedServiceError(
            f"{self.name} did not become ready within {timeout:.0f}s; last log lines:\n{last_error}"
        )

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, wait up to `timeout`, then SIGKILL (the broker may ignore SIGTERM)."""
        timeout = self.stop_timeout if timeout is None else timeout
        proc = self._process
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                logger.info("%s ignored SIGTERM for %.0fs; killing it", self.name, timeout)
                self._kill()
        self._process = None
        self.port = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> ManagedProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # helpers
    def _prepare_workdir(self) -> Path:
        if self._workdir:
            path = Path(self._workdir)
            path.mkdir(parents=True, exist_ok=True)
            return path
        if self._tmpdir is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix=f"bkm-{self.name}-")
        return Path(self._tmpdir.name)

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            if self.is_ready():
                return True
            time.sleep(0.05)
        return False

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)

    def _tail_log(self, lines: int = 10) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def executable_or_error(path: str | None, name: str, hint: str) -> str:
    if not path or not os.path.isfile(path):
        raise EmbeddedServiceError(f"{name} binary not found ({path or 'no path'}). {hint}")
    if not os.access(path, os.X_OK):
        with contextlib.suppress(OSError):
            os.chmod(path, 0o755)
    return path

