"""The metrics and health endpoints of a long-running process, on a port of its own.

    /metrics   the process's Prometheus registry (prometheus_client's own WSGI app)
    /-/healthy liveness: the process answers (200 while this thread runs)
    /-/ready   readiness: the services it needs are reachable AND its loop made
               progress recently (JSON naming each check; 200 or 503)

The server runs on daemon threads (prometheus_client's ThreadingWSGIServer), so a
scrape never waits for the consumer loop and never delays it. It is unauthenticated
like any Prometheus target and binds BKM_METRICS_ADDR (loopback by default): it
exposes counters and the names of failing checks, never messages or credentials.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import orjson
from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from alarm_backends.core.observability.health import Check, Report, dependencies_report

logger = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """A scrape every few seconds would drown the process's own log."""


@dataclass
class LoopProbe:
    """Readiness of a process's main loop: it stepped recently. The loop records its own progress
    (one float store per step, nothing per message); the probe only reads it."""

    name: str
    last_progress: Callable[[], float]  # time.monotonic() of the loop's last completed step
    stall_seconds: float
    detail: Callable[[], str] | None = None

    def check(self) -> Check:
        age = time.monotonic() - self.last_progress()
        extra = f"; {self.detail()}" if self.detail is not None else ""
        if age > self.stall_seconds:
            return Check(self.name, False,
                         f"Stalled: no loop step for {age:.1f}s (limit {self.stall_seconds:g}s){extra}")
        return Check(self.name, True, f"last step {age:.1f}s ago{extra}")


class Probe(Protocol):
    """Anything that reports its own readiness as a named Check (a LoopProbe, a loop's resilience.Outage)."""

    def check(self) -> Check: ...


def readiness(dependencies: Iterable[str], probes: Iterable[Probe] = ()) -> Callable[[], Report]:
    names, loops = tuple(dependencies), tuple(probes)

    def report() -> Report:
        return Report(dependencies_report(names).checks + tuple(probe.check() for probe in loops))
    return report


def _json(start_response: Callable[..., Any], status: str, body: dict[str, object]) -> list[bytes]:
    payload = orjson.dumps(body)
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def make_app(ready: Callable[[], Report], registry: CollectorRegistry = REGISTRY) -> Callable[..., list[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/-/healthy":
            return _json(start_response, "200 OK", {"status": "alive"})
        if path == "/-/ready":
            report = ready()
            status = "200 OK" if report.ok else "503 Service Unavailable"
            return _json(start_response, status, report.as_dict(details=False))
        return _json(start_response, "404 Not Found",
                     {"error": f"no such path {path!r}; try /metrics, /-/healthy or /-/ready"})
    return app


@dataclass
class MetricsServer:
    httpd: WSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = cast("tuple[str, int]", self.httpd.server_address[:2])  # a TCP server
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def serve(port: int, addr: str, ready: Callable[[], Report], registry: CollectorRegistry = REGISTRY
          ) -> MetricsServer:
    """Serve on addr:port (0: a free port) from a daemon thread; raises OSError naming the port if taken."""
    try:
        httpd = make_server(addr, port, make_app(ready, registry), ThreadingWSGIServer, handler_class=_QuietHandler)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot serve metrics on {addr}:{port}: {exc.strerror}") from exc
    thread = threading.Thread(target=httpd.serve_forever, name=f"bkm-metrics-{port}", daemon=True)
    thread.start()
    return MetricsServer(httpd, thread)
