"""Start a long-running process's metrics server when its port is configured.

Ports come from settings: the process's own variable (BKM_ACCESS_METRICS_PORT,
...) or else BKM_METRICS_PORT, which suits one process per container. Unset:
nothing is served, as before.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

from alarm_backends.core.observability.server import LoopProbe, MetricsServer, Probe, readiness, serve

logger = logging.getLogger("alarm_backends.observability")


def metrics_port(process: str) -> int | None:
    ports: dict[str, int | None] = settings.METRICS_PORTS
    if process not in ports:
        raise ValueError(f"unknown process {process!r} for a metrics port; known: {sorted(ports)}")
    return ports[process] or settings.METRICS_PORT


def consumer_probe(name: str, runner: Any) -> LoopProbe:
    """The runner's loop stepped within BKM_HEALTH_LOOP_STALL seconds; says how many partitions it holds."""
    def assigned() -> str:
        try:
            return f"{len(runner.consumer.assignment())} partitions assigned"
        except RuntimeError:  # the loop thread is changing the assignment right now
            return "assignment changing"
    return LoopProbe(name, lambda: runner.last_step, float(settings.HEALTH_LOOP_STALL_SECONDS), assigned)


def start_metrics(process: str, dependencies: Iterable[str], probes: Iterable[Probe] = (),
                  say: Callable[[str], None] | None = None) -> MetricsServer | None:
    port = metrics_port(process)
    if port is None:
        return None
    server = serve(port, settings.METRICS_ADDR, readiness(dependencies, probes))
    line = f"{process}: metrics on {server.url}/metrics (health: /-/healthy, /-/ready)"
    (say or logger.info)(line)
    return server
