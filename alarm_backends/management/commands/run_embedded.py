"""Run the embedded broker and Valkey in the foreground.

    python manage.py run_embedded                      # serve until Ctrl-C / SIGTERM
    python manage.py run_embedded -- python manage.py runserver   # and run a child with their addresses

Services that are already configured (BK_MONITOR_KAFKA_HOST, REDIS_URL) are not started.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from alarm_backends.core.embedded import EmbeddedServiceError, supervise
from alarm_backends.core.embedded.base import free_loopback_port
from alarm_backends.core.embedded.stack import start_stack
from alarm_backends.core.observability.ports import MAKE_RUN_PROCESSES, announce_lines, assign_metrics_ports
from alarm_backends.core.stop_signals import StopSignals


class Command(BaseCommand):
    help = "Start the embedded Kafka broker and Valkey (where not configured) and keep them running."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--env-file", default=str(settings.VAR_DIR / "embedded.env"),
                            help="where to write the services' addresses as KEY=VALUE lines")
        parser.add_argument("child", nargs=argparse.REMAINDER,
                            help="after --: a command to run with the services' addresses in its environment")

    def handle(self, *args: Any, **options: Any) -> None:
        child = [a for a in options["child"] if a != "--"] if options["child"] else []
        try:
            stack = start_stack(want_kafka=settings.KAFKA_CLUSTER is None, want_redis=not settings.REDIS_URL)
        except EmbeddedServiceError as exc:
            raise CommandError(str(exc)) from exc
        signals = StopSignals()
        stop, received = signals.stop, signals.received
        # stopped with whoever started us (make told to stop by its pid alone), and able to find
        # what our child's children leave behind
        if not supervise.stop_with_parent(signal.SIGTERM):
            signals.trigger()  # orphaned before we could ask: stop now
        supervise.adopt_orphans()
        try:
            metrics = assign_metrics_ports(MAKE_RUN_PROCESSES, settings.METRICS_PORT_VARIABLES,
                                           settings.METRICS_PORTS, free_loopback_port) if child else {}
            self._announce(stack.env, options["env_file"])  # not the ports: they are this run's children's
            for line in announce_lines(MAKE_RUN_PROCESSES, settings.METRICS_PORT_VARIABLES, settings.METRICS_PORTS,
                                       metrics, settings.METRICS_ADDR) if child else []:
                self.stdout.write(line)
            self.stdout.flush()
            if child:
                exit_code = self._run_child(child, {**stack.env, **metrics}, stop, received)
                if exit_code in (-signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGINT):
                    exit_code = 0  # stopped on purpose (directly, or a runner reporting it like a shell)
                if exit_code:
                    raise CommandError(f"{' '.join(child)} exited with status {exit_code}", returncode=exit_code)
            else:
                stop.wait()
        finally:
            # pipeline processes left running (a child that died without stopping its own) are
            # stopped before the services they drain into
            supervise.stop_descendants(keep={s.pid for s in stack.services if s.pid}, timeout=10)
            self.stdout.write("stopping embedded services")
            stack.stop()

    def _announce(self, env: dict[str, str], env_file: str) -> None:
        os.makedirs(os.path.dirname(env_file) or ".", exist_ok=True)
        with open(env_file, "w") as fh:
            fh.writelines(f"{k}={v}\n" for k, v in env.items())
        for key, value in env.items():
            self.stdout.write(f"{key}={value}")
        if not env:
            self.stdout.write("nothing to start: Kafka and Redis are configured externally")
        self.stdout.flush()

    def _run_child(self, argv: list[str], env: dict[str, str], stop: threading.Event, received: list[int]) -> int:
        # the child's own children (a process runner's `python ...`) must find this interpreter first
        path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
        # A group of its own: stopping signals the child's whole group once, whoever told us (a
        # Ctrl-C or a SIGTERM to our group no longer reaches it twice).
        proc = subprocess.Popen(argv, env={**os.environ, **env, "PATH": path}, start_new_session=True)
        while proc.poll() is None:
            if stop.wait(0.2):
                supervise.signal_group(proc.pid, received[-1] if received else signal.SIGTERM)
                try:
                    return proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    supervise.signal_group(proc.pid, signal.SIGKILL)
                    return proc.wait()
        return proc.returncode
