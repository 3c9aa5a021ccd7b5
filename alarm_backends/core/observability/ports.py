"""Metrics ports for the processes `make run` starts together on one machine.

Each process needs a port of its own there; a variable the user already set is
kept, the others get a free loopback port, passed to the children through their
environment and announced so a user knows where to look.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

MAKE_RUN_PROCESSES = ("access", "alert", "worker")  # the Procfile's long-running processes with a metrics port


def assign_metrics_ports(processes: Iterable[str], variables: Mapping[str, str], configured: Mapping[str, int | None],
                         free_port: Callable[[], int]) -> dict[str, str]:
    """Environment entries (variable -> port) for the processes whose port is not configured."""
    assigned: dict[str, str] = {}
    taken = {port for port in configured.values() if port}
    for process in processes:
        if process not in variables:
            raise ValueError(f"no metrics port variable for process {process!r}; known: {sorted(variables)}")
        if configured.get(process):
            continue
        port = free_port()
        while port in taken:  # a free port can still be one the user gave another process that is not up yet
            port = free_port()
        taken.add(port)
        assigned[variables[process]] = str(port)
    return assigned


def announce_lines(processes: Iterable[str], variables: Mapping[str, str], configured: Mapping[str, int | None],
                   assigned: Mapping[str, str], addr: str) -> list[str]:
    lines = []
    for process in processes:
        port = assigned.get(variables[process]) or configured.get(process)
        if port:
            lines.append(f"metrics: {process} http://{addr}:{port}/metrics")
    return lines
