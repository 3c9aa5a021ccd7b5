"""The replay's progress display, on real replays into the embedded broker: readable under a process
runner (one line per tenth, no blank lines), redrawn in place in a terminal, "done" only at the end,
and "interrupted" when stopped midway."""
from __future__ import annotations

import io
import re
import threading

import pytest

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.kafka.topics import TopicManager
from alarm_backends.demo.progress import ReplayProgress
from alarm_backends.demo.replay import read_series, replay
from tests.demo.conftest import count_messages

pytestmark = pytest.mark.broker


def run_replay(cluster: KafkaClusterConfig, topic: str, points: int, *, rate: float, tty: bool = False,
               stop_after: float | None = None, **progress: float) -> tuple[int, str]:
    TopicManager(cluster, timeout=5).create_topic(topic, partitions=1)
    series = read_series()[:points]
    out = io.StringIO()
    stop = threading.Event()
    timer = threading.Timer(stop_after, stop.set) if stop_after is not None else None
    if timer:
        timer.start()
    try:
        sent = replay(KafkaProducer(cluster), topic, series, host="machine-1", metric="temperature", rate=rate,
                      stop=stop, progress=ReplayProgress(len(series), out.write, tty=tty, **progress))
    finally:
        if timer:
            timer.cancel()
    return sent, out.getvalue()


def test_under_a_process_runner_the_replay_prints_a_line_per_tenth_with_no_blank_lines_and_done_last(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    sent, output = run_replay(kafka_cluster, topic_name, 500, rate=0)

    assert sent == 500
    assert "\r" not in output and output.endswith("\n")
    lines = output[:-1].split("\n")
    assert all(line.strip() for line in lines), output
    assert [re.search(r"\((\d+)%\)", line).group(1) for line in lines] == [  # type: ignore[union-attr]
        "10", "20", "30", "40", "50", "60", "70", "80", "90", "100"]
    assert [line for line in lines if "done" in line] == [lines[-1]]
    assert lines[-1].startswith("replay [##############################] 500/500 points (100%) done in ")
    assert count_messages(kafka_cluster, topic_name) == 500


def test_a_slow_replay_still_prints_a_line_every_heartbeat_between_tenths(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    # 40 points at 50/s take 0.8 s: tenths come every 0.08 s, so a 0.05 s heartbeat adds lines between them.
    sent, output = run_replay(kafka_cluster, topic_name, 40, rate=50, heartbeat=0.05)

    lines = output[:-1].split("\n")
    assert sent == 40 and all(lines)
    assert len(lines) > 10
    assert [line for line in lines if "done" in line] == [lines[-1]]


def test_a_replay_stopped_midway_says_where_it_was_interrupted_and_never_says_done(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    sent, output = run_replay(kafka_cluster, topic_name, 1000, rate=500, stop_after=0.5)

    assert 0 < sent < 1000
    assert "done" not in output and "(100%)" not in output
    lines = output[:-1].split("\n")
    assert all(lines), output
    assert re.fullmatch(rf"replay interrupted at {sent:,} of 1,000 points after \d+\.\ds", lines[-1]), lines[-1]
    assert count_messages(kafka_cluster, topic_name) == sent  # what it says it sent is what the broker has


def test_in_a_terminal_the_bar_is_redrawn_in_place_and_the_closing_line_replaces_it(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    sent, output = run_replay(kafka_cluster, topic_name, 200, rate=400, tty=True, redraw=0.05)

    assert sent == 200
    assert output.count("\n") == 1 and output.endswith("\n")  # one line in the end, no scrolling
    redraws = output.split("\r")[1:]
    assert len(redraws) >= 3 and all(r.startswith("replay [") for r in redraws[:-1])
    assert redraws[-1].startswith("\033[Kreplay [##############################] 200/200 points (100%) done in ")


def test_an_interrupted_replay_in_a_terminal_ends_its_line_with_the_interruption(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    sent, output = run_replay(kafka_cluster, topic_name, 1000, rate=500, tty=True, redraw=0.05, stop_after=0.5)

    assert 0 < sent < 1000 and "done" not in output
    assert re.search(rf"\r\033\[Kreplay interrupted at {sent:,} of 1,000 points after \d+\.\ds\n\Z", output), output
    assert output.count("\n") == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"total": -1}, "total must be >= 0, got -1"),
    ({"total": 10, "steps": 0}, "steps must be >= 1, got 0"),
])
def test_a_progress_display_with_impossible_bounds_is_rejected_naming_the_bound(
        kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ReplayProgress(write=io.StringIO().write, tty=False, **kwargs)  # type: ignore[arg-type]


def test_a_negative_replay_rate_is_rejected_before_anything_is_sent(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    with pytest.raises(ValueError, match=re.escape("rate must be >= 0 points per second, got -1")):
        run_replay(kafka_cluster, topic_name, 10, rate=-1)
    assert count_messages(kafka_cluster, topic_name, quiet=0.5) == 0
