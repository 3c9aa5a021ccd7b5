"""The demo: configure a metric topic and strategies, print how to log in, and replay the
NAB machine-temperature failure series through Kafka so alerts are raised and recovered
within a minute. Stays up afterwards (the process runner stops every process when one
exits) until SIGTERM.

A second run finds the replay recorded in the database and does not send it again (unless
asked): it says when it was applied and how many alerts it left, and how to log in, since the
admin's password was only printed by the run that created the user."""
from __future__ import annotations

import argparse
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.defaults import default_cluster
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.stop_signals import stop_on_signals
from alarm_backends.demo.models import DemoReplay
from alarm_backends.demo.progress import ReplayProgress
from alarm_backends.demo.replay import read_series, replay
from alarm_backends.demo.setup import HOST, TOPIC, DemoLogin, ensure_login, ensure_metadata, ensure_strategies
from alarm_backends.demo.state import alert_count, applied_replay, end_replay, start_replay
from bkmonitor.models import Strategy


def _when(record: DemoReplay) -> str:
    assert record.finished_at is not None, "only a finished replay has a date to report"
    return f"{timezone.localtime(record.finished_at):%Y-%m-%d %H:%M %Z}"


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rate must be a number of points per second, got {value!r}") from None
    if not rate >= 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"--rate must be >= 0 points per second, got {value!r}")
    return rate


class Command(BaseCommand):
    help = "Load the demo configuration and replay a real series through Kafka (once, unless asked again)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--rate", type=_rate, default=None,
                            help="points per second, 0: as fast as possible (default: BKM_DEMO_RATE, 600)")
        parser.add_argument("--replay", choices=("once", "always"), default=None,
                            help="once: skip the replay if an earlier run delivered it all; always: replay again "
                                 "(default: BKM_DEMO_REPLAY, once)")
        parser.add_argument("--exit", action="store_true", help="exit after the replay instead of staying up")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = stop_on_signals()
        cluster = default_cluster()
        ensure_metadata(cluster)
        strategies = ensure_strategies()
        login = ensure_login(password=settings.DEMO_ADMIN_PASSWORD)
        web = f"http://127.0.0.1:{settings.DEMO_WEB_PORT}"
        self._say(f"demo: {len(strategies)} strategies on topic {TOPIC}: " + "; ".join(s.name for s in strategies))
        self._print_login(login, web)
        rate = settings.DEMO_RATE if options["rate"] is None else options["rate"]
        self._replay_unless_applied(cluster, stop, rate, options["replay"] or settings.DEMO_REPLAY, strategies, web)
        if not options["exit"]:
            stop.wait()

    def _print_login(self, login: DemoLogin, web: str) -> None:
        if login.password:
            self._say(f"demo: admin login {login.username} / {login.password} at {web}/admin/")
        else:
            self._say(f"demo: admin user {login.username!r} already exists: log in at {web}/admin/ with the password "
                      "printed when it was created")
            self._say(f"demo: to set a new one: python manage.py changepassword {login.username} "
                      "(or start the demo with BKM_DEMO_ADMIN_PASSWORD=<password>)")
        self._say(f"demo: API token {login.token}  (curl -H 'Authorization: Token {login.token}' "
                  f"{web}/api/v1/alerts/)")

    def _replay_unless_applied(self, cluster: KafkaClusterConfig, stop: threading.Event, rate: float, mode: str,
                               strategies: list[Strategy], web: str) -> None:
        applied = applied_replay(TOPIC)
        if applied is None:
            self._replay(cluster, stop, rate)
        elif mode == "once":
            alerts = alert_count(strategies)
            self._say(f"demo: the demo's replay was applied on {_when(applied)}: {alerts} "
                      f"{'alert exists' if alerts == 1 else 'alerts exist'} (see {web}/api/v1/alerts/)")
            self._say("demo: not replaying it again (BKM_DEMO_REPLAY=always would: the same points give the same "
                      "events, which change no alert)")
        else:
            # Fresh embedded services re-derive the same events, which the builder already stored; a broker
            # and Redis that kept the access state see points behind its watermark, counted late and dropped.
            self._say(f"demo: replaying again (BKM_DEMO_REPLAY=always), although it was applied on {_when(applied)}: "
                      "its events are already stored, so no alert changes")
            self._replay(cluster, stop, rate)

    def _replay(self, cluster: KafkaClusterConfig, stop: threading.Event, rate: float) -> None:
        series = read_series()
        record = start_replay(TOPIC, len(series))
        progress = ReplayProgress(len(series), self._write_raw, tty=self.stdout.isatty())
        sent = replay(KafkaProducer(cluster), TOPIC, series, host=HOST, metric="temperature", rate=rate,
                      stop=stop, progress=progress)
        end_replay(record, sent)

    def _write_raw(self, text: str) -> None:
        # ending="": the progress display writes its own newlines (and none while redrawing a terminal line).
        self.stdout.write(text, ending="")
        self.stdout.flush()

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
