"""`manage.py run_demo` run twice against the test database and the embedded broker: the second run
says how to log in and that the replay was already applied, and does not send it again; an
interrupted replay (a real SIGTERM) is not taken as applied."""
from __future__ import annotations

import io
import os
import re
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.topics import TopicManager
from alarm_backends.demo.models import DemoReplay
from alarm_backends.demo.replay import read_series
from alarm_backends.demo.setup import TOPIC
from bkmonitor.alerts.builder import apply_events
from bkmonitor.models import Strategy
from tests.alerts.conftest import make_event
from tests.demo.conftest import count_messages

pytestmark = [pytest.mark.broker, pytest.mark.django_db]

SERIES = len(read_series())


@pytest.fixture(autouse=True)
def keep_signal_handlers() -> Iterator[None]:
    """The command installs SIGTERM/SIGINT handlers in this process; give pytest its own back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.fixture
def demo_settings(settings: Any, kafka_cluster: KafkaClusterConfig) -> Any:
    settings.DEMO_ADMIN_PASSWORD = None
    settings.DEMO_REPLAY = "once"
    settings.DEMO_WEB_PORT = 8123
    return settings


def run_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("run_demo", "--exit", *args, stdout=out)
    return out.getvalue()


def test_a_second_run_prints_how_to_log_in_says_the_replay_was_applied_and_does_not_replay_it(
        demo_settings: Any, kafka_cluster: KafkaClusterConfig) -> None:
    before = count_messages(kafka_cluster, TOPIC) if _topic_exists(kafka_cluster) else 0
    first = run_demo("--rate", "0")
    password = re.search(r"admin login admin / (\S+) at http://127.0.0.1:8123/admin/", first)
    token = re.search(r"API token ([0-9a-f]{40})", first)
    assert password and token, first
    assert User.objects.get(username="admin").check_password(password.group(1))
    assert re.search(rf"replay \[#+\] {SERIES:,}/{SERIES:,} points \(100%\) done in ", first), first
    assert count_messages(kafka_cluster, TOPIC) == before + SERIES
    # What the pipeline would have built from it: one alert of a demo strategy, through the real builder.
    strategy = Strategy.objects.get(name__startswith="Machine temperature too low")
    apply_events([make_event(1_386_000_000, strategy_id=strategy.pk, key="demo-machine-1")])

    second = run_demo("--rate", "0")

    assert "replay [" not in second and "done" not in second
    assert "admin login" not in second  # the password is stored hashed: nobody can print it again
    assert ("demo: admin user 'admin' already exists: log in at http://127.0.0.1:8123/admin/ with the password "
            "printed when it was created\n") in second
    assert ("demo: to set a new one: python manage.py changepassword admin "
            "(or start the demo with BKM_DEMO_ADMIN_PASSWORD=<password>)\n") in second
    assert f"API token {token.group(1)}" in second
    applied = DemoReplay.objects.get()
    assert applied.sent == SERIES and applied.finished_at is not None
    assert (f"demo: the demo's replay was applied on {applied.finished_at:%Y-%m-%d %H:%M} UTC: 1 alert exists "
            "(see http://127.0.0.1:8123/api/v1/alerts/)") in second
    assert "not replaying it again" in second
    assert count_messages(kafka_cluster, TOPIC) == before + SERIES  # nothing sent the second time


def test_the_admin_password_from_the_environment_resets_an_existing_admin_and_is_printed(
        demo_settings: Any) -> None:
    run_demo("--rate", "0")
    demo_settings.DEMO_ADMIN_PASSWORD = "a-new-demo-password"

    second = run_demo()

    assert "demo: admin login admin / a-new-demo-password at http://127.0.0.1:8123/admin/" in second
    assert User.objects.get(username="admin").check_password("a-new-demo-password")


def test_asking_for_the_replay_again_sends_it_again_and_says_why_no_alert_changes(
        demo_settings: Any, kafka_cluster: KafkaClusterConfig) -> None:
    run_demo("--rate", "0")
    before = count_messages(kafka_cluster, TOPIC)

    again = run_demo("--rate", "0", "--replay", "always")

    assert "demo: replaying again (BKM_DEMO_REPLAY=always), although it was applied on " in again
    assert re.search(rf"{SERIES:,}/{SERIES:,} points \(100%\) done in ", again), again
    assert count_messages(kafka_cluster, TOPIC) == before + SERIES
    assert DemoReplay.objects.filter(finished_at__isnull=False).count() == 2


def test_a_replay_interrupted_by_sigterm_says_so_is_not_taken_as_applied_and_the_next_run_replays_it(
        demo_settings: Any, kafka_cluster: KafkaClusterConfig) -> None:
    # About 4.5 s of replay at 5,000 points/s; SIGTERM lands in the middle of it.
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        interrupted = run_demo("--rate", "5000")
    finally:
        timer.cancel()

    stopped = re.search(rf"replay interrupted at ([\d,]+) of {SERIES:,} points after", interrupted)
    assert stopped, interrupted
    assert 0 < int(stopped.group(1).replace(",", "")) < SERIES
    assert "done" not in interrupted and "\n\n" not in interrupted
    assert DemoReplay.objects.get().finished_at is None

    next_run = run_demo("--rate", "0")

    assert "was applied on" not in next_run
    assert re.search(rf"{SERIES:,}/{SERIES:,} points \(100%\) done in ", next_run), next_run


@pytest.mark.parametrize("rate", ["-5", "fast", "nan"])
def test_an_impossible_rate_is_rejected_naming_the_option(demo_settings: Any, rate: str) -> None:
    with pytest.raises(CommandError, match="--rate must be"):
        run_demo("--rate", rate)
    assert not DemoReplay.objects.exists()


def _topic_exists(cluster: KafkaClusterConfig) -> bool:
    return TopicManager(cluster, timeout=5).topic_exists(TOPIC)
