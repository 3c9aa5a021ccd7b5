import time
from collections.abc import Callable

import pytest

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from confluent_kafka import Message

from alarm_backends.core.kafka.commit import Batch, CommitMode, CommitPolicy
from alarm_backends.core.kafka.consumer import SEEK_CUR, SEEK_END, SEEK_SET, KafkaConsumer
from alarm_backends.core.kafka.errors import BrokerUnavailable, ConsumerError
from alarm_backends.core.kafka.offsets import OffsetManager
from alarm_backends.core.kafka.producer import KafkaProducer
from tests.kafka.helpers import consumer, drain, make_topic, produce_one_per_batch, wait_for


def fill(cluster: KafkaClusterConfig, topic: str, partitions: int, per_partition: int) -> None:
    producer = KafkaProducer(cluster, config={"linger.ms": 0})
    for p in range(partitions):
        for i in range(per_partition):
            producer.produce(topic, f"p{p}-{i}", key=f"k{i}", partition=p)
    producer.flush(10)


def test_messages_carry_topic_partition_offset_timestamp_key_value_and_headers(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    KafkaProducer(kafka_cluster).send_messages(topic_name, {"v": 1}, key="k", headers=[("trace-id", b"t-1")])
    with consumer(kafka_cluster, f"g-{topic_name}", [topic_name]) as c:
        [m] = drain(c, 1)
    assert (m.topic(), m.partition(), m.offset()) == (topic_name, 0, 0)
    assert m.key() == b"k" and m.value() == b'{"v":1}'
    assert m.headers() == [("trace-id", b"t-1")]
    assert abs(m.timestamp()[1] / 1000 - time.time()) < 60


def test_per_partition_offsets_survive_a_consumer_restart_with_uneven_progress(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name, partitions=3)
    fill(kafka_cluster, topic_name, 3, 10)
    group = f"g-{topic_name}"
    progress = {0: 4, 1: 7, 2: 0}  # messages processed per partition before the restart
    with consumer(kafka_cluster, group, [topic_name]) as first:
        got = drain(first, 30, mark=False)
        assert len(got) == 30
        first.mark_processed([m for m in got if m.offset() < progress[m.partition()]])
    assert OffsetManager(group, topic_name, kafka_cluster).get_offset() == {0: 4, 1: 7, 2: None}

    with consumer(kafka_cluster, group, [topic_name]) as second:
        again = drain(second, 30 - 11)
    firsts = {p: min(m.offset() for m in again if m.partition() == p) for p in range(3)}
    assert firsts == progress
    assert len(again) == 19


def test_only_the_contiguous_processed_prefix_is_committed(kafka_cluster: KafkaClusterConfig,
                                                           topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    fill(kafka_cluster, topic_name, 1, 6)
    c = consumer(kafka_cluster, f"g-{topic_name}")
    c.assign([(topic_name, 0, 0)])
    try:
        got = drain(c, 6, mark=False)
        by_offset = {m.offset(): m for m in got}
        c.mark_processed([by_offset[0], by_offset[1], by_offset[3], by_offset[4]])  # 2 still running
        assert c.commit() == {(topic_name, 0): 2}
        c.mark_processed(by_offset[2])
        assert c.commit() == {(topic_name, 0): 5}
        assert c.committed() == {(topic_name, 0): 5}
    finally:
        c.close()


def test_a_crash_before_commit_redelivers_the_unprocessed_messages_and_nothing_else(
        kafka_cluster: KafkaClusterConfig, topic_name: str, tmp_path) -> None:
    import subprocess
    import sys

    make_topic(kafka_cluster, topic_name, partitions=2)
    fill(kafka_cluster, topic_name, 2, 20)
    group = f"g-{topic_name}"
    script = tmp_path / "worker.py"
    script.write_text(f"""
import os, sys, time, django
sys.path.insert(0, {str(__import__('pathlib').Path(__file__).resolve().parents[2])!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.commit import CommitPolicy
from alarm_backends.core.kafka.consumer import KafkaConsumer
c = KafkaConsumer({group!r}, cluster=KafkaClusterConfig(hosts=({kafka_cluster.bootstrap_servers!r},)),
                  commit_policy=CommitPolicy(interval_seconds=0))
c.assign([({topic_name!r}, 0, 0), ({topic_name!r}, 1, 0)])
got = []
while len(got) < 40:
    got += c.get_messages(100, 0.5)
# processed: the first 12 of partition 0 and the first 5 of partition 1; the rest is in flight
c.mark_processed([m for m in got if m.offset() < (12 if m.partition() == 0 else 5)])
c.get_messages(1, 0.1)  # the throttled commit goes out here
time.sleep(1)
print("READY", flush=True)
time.sleep(600)
""")
    worker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "READY"
    finally:
        worker.kill()  # kill -9: no close(), no final commit
        worker.wait()
    c = consumer(kafka_cluster, group)
    c.assign([(topic_name, 0), (topic_name, 1)])  # resume from the committed offsets
    try:
        redelivered = drain(c, 23)
        assert c.get_messages(100, 0.5) == []
    finally:
        c.close()
    assert sorted((m.partition(), m.offset()) for m in redelivered) == (
        [(0, o) for o in range(12, 20)] + [(1, o) for o in range(5, 20)])


def test_seek_absolute_relative_and_from_the_end_per_partition(kafka_cluster: KafkaClusterConfig,
                                                               topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name, partitions=2)
    for p in range(2):
        produce_one_per_batch(kafka_cluster, topic_name, [f"{p}-{i}".encode() for i in range(10)], partition=p)
    c = consumer(kafka_cluster, f"g-{topic_name}")
    c.assign([(topic_name, 0, 0), (topic_name, 1, 0)])
    try:
        assert len(drain(c, 20)) == 20
        assert c.seek(3, SEEK_SET, partition=0) == {(topic_name, 0): 3}
        assert [m.value() for m in drain(c, 7)] == [f"0-{i}".encode() for i in range(3, 10)]
        assert c.seek(-4, SEEK_CUR, partition=0) == {(topic_name, 0): 6}
        assert [m.offset() for m in drain(c, 4)] == [6, 7, 8, 9]
        assert c.seek(-2, SEEK_END, partition=1) == {(topic_name, 1): 8}
        assert [(m.partition(), m.offset()) for m in drain(c, 2)] == [(1, 8), (1, 9)]
        with pytest.raises(ValueError, match="whence must be"):
            c.seek(0, 5)
        with pytest.raises(ConsumerError, match="no assigned partition"):
            c.seek(0, partition=9)
    finally:
        c.close()


def test_seek_to_a_timestamp_starts_at_the_first_message_at_or_after_it(kafka_cluster: KafkaClusterConfig,
                                                                         topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    base = 1_700_000_000_000
    producer = KafkaProducer(kafka_cluster, config={"linger.ms": 50})
    for i in range(10):  # one batch: the broker only indexes batch starts
        producer._producer.produce(topic_name, f"m{i}".encode(), timestamp=base + i * 1000)
    producer.flush(5)
    c = consumer(kafka_cluster, f"g-{topic_name}")
    c.assign([(topic_name, 0, 0)])
    try:
        drain(c, 10)
        c.seek_to_timestamp(base + 6500)
        got = drain(c, 3)
        assert [m.value() for m in got] == [b"m7", b"m8", b"m9"]
        assert got[0].timestamp()[1] == base + 7000
    finally:
        c.close()


@pytest.mark.parametrize("mode", [CommitMode.SYNC, CommitMode.ASYNC])
def test_manual_commit_strategies_commit_what_was_delivered_when_asked(
        kafka_cluster: KafkaClusterConfig, topic_name: str, mode: CommitMode) -> None:
    make_topic(kafka_cluster, topic_name)
    fill(kafka_cluster, topic_name, 1, 5)
    group = f"g-{topic_name}"
    c = consumer(kafka_cluster, group, commit_policy=CommitPolicy(mode))
    c.assign([(topic_name, 0, 0)])
    try:
        drain(c, 5, mark=False)
        assert c.committed() == {(topic_name, 0): None}  # nothing happens by itself
        c.commit()
        assert wait_for(lambda: c.committed() == {(topic_name, 0): 5}, poll=lambda: c.get_messages(1, 0.05))
        c.seek(1)
        taken: list = []
        assert wait_for(lambda: len(taken) == 2, poll=lambda: taken.extend(c.get_messages(2 - len(taken), 0.2)))
    finally:
        c.close()
    # close() commits what was delivered last (the seek moved it back to 3)
    assert OffsetManager(group, topic_name, kafka_cluster).get_offset() == {0: 3}


def test_auto_commit_commits_delivered_offsets_in_the_background(kafka_cluster: KafkaClusterConfig,
                                                                 topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    fill(kafka_cluster, topic_name, 1, 5)
    c = consumer(kafka_cluster, f"g-{topic_name}", [topic_name],
                 commit_policy=CommitPolicy(CommitMode.AUTO, interval_seconds=0.2))
    try:
        drain(c, 5, mark=False)
        assert wait_for(lambda: c.committed() == {(topic_name, 0): 5}, poll=lambda: c.get_messages(1, 0.1))
    finally:
        c.close()


def test_commit_after_processing_is_throttled_by_message_count(kafka_cluster: KafkaClusterConfig,
                                                               topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    produce_one_per_batch(kafka_cluster, topic_name, [b"x"] * 8)
    c = consumer(kafka_cluster, f"g-{topic_name}",
                 commit_policy=CommitPolicy(interval_seconds=3600, every_messages=5))
    c.assign([(topic_name, 0, 0)])
    try:
        got = drain(c, 8, mark=False)
        c.mark_processed(got[:4])
        c.get_messages(1, 0.1)
        assert c.committed() == {(topic_name, 0): None}  # 4 < 5: not yet
        c.mark_processed(got[4:6])
        c.get_messages(1, 0.1)
        assert wait_for(lambda: c.committed() == {(topic_name, 0): 6}, poll=lambda: c.get_messages(1, 0.05))
    finally:
        c.close()
    # close() always commits what was processed, throttle or not
    assert OffsetManager(f"g-{topic_name}", topic_name, kafka_cluster).get_offset() == {0: 6}


def thirty_behind(cluster: KafkaClusterConfig, topic: str) -> KafkaConsumer:
    """A consumer assigned to a topic of 30 messages that pauses with 10 unprocessed."""
    make_topic(cluster, topic)
    produce_one_per_batch(cluster, topic, [b"x"] * 30)
    c = consumer(cluster, f"g-{topic}", max_pending_per_partition=10)
    c.assign([(topic, 0, 0)])
    return c


def test_a_consumer_behind_pauses_its_partition_and_resumes_once_it_catches_up(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    c = thirty_behind(kafka_cluster, topic_name)
    try:
        held = drain(c, 10, mark=False)
        assert len(held) >= 10
        assert c.paused() == [(topic_name, 0)]
        c.mark_processed(held)
        assert c.paused() == []
        assert len(held) + len(drain(c, 30 - len(held))) == 30
    finally:
        c.close()


def released(c: KafkaConsumer, expected: int, until: Callable[[], bool] = lambda: False,
             timeout: float = 20.0) -> tuple[list[Batch], Message]:
    """Batches of `expected` messages in all (or until `until()`), each released as soon as it
    arrived, and one of their messages kept aside."""
    batches: list[Batch] = []
    kept = None
    deadline = time.monotonic() + timeout
    while sum(b.size for b in batches) < expected and not until() and time.monotonic() < deadline:
        batch = c.get_messages(3, 0.2)
        if batch:
            kept = kept or batch[0]
            batch.release()
            batches.append(batch)
    assert kept is not None
    return batches, kept


def test_a_released_batch_drops_its_messages_and_is_committed_once_marked_whole(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    c = thirty_behind(kafka_cluster, topic_name)
    try:
        batches, kept = released(c, 30, until=lambda: bool(c.paused()))
        assert all(len(b) == 0 for b in batches) and 10 <= sum(b.size for b in batches) < 30
        assert c.paused() == [(topic_name, 0)]  # what is pending is counted from the released batches
        with pytest.raises(ValueError, match="released batch"):
            c.mark_processed(kept)
        assert c.commit() == {}  # nothing marked yet
        for batch in batches:
            c.mark_processed(batch)
        assert c.paused() == []
        assert len(drain(c, 30 - sum(b.size for b in batches))) == 30 - sum(b.size for b in batches)
        c.commit()
        assert c.committed() == {(topic_name, 0): 30}
    finally:
        c.close()


def test_cooperative_sticky_member_keeps_its_partitions_when_a_second_member_joins(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name, partitions=4)
    fill(kafka_cluster, topic_name, 4, 5)
    group = f"g-{topic_name}"
    revoked: list = []
    a = consumer(kafka_cluster, group, [topic_name], assignment_strategy="cooperative-sticky",
                 on_revoke=revoked.extend)
    b = None
    try:
        got = drain(a, 20)
        assert len(got) == 20 and len(a.assignment()) == 4
        before = set(a.assignment())
        b = consumer(kafka_cluster, group, [topic_name], assignment_strategy="cooperative-sticky")
        assert wait_for(lambda: len(a.assignment()) == 2 and len(b.assignment()) == 2, timeout=30,
                        poll=lambda: (a.get_messages(10, 0.1), b.get_messages(10, 0.1)))
        kept = set(a.assignment())
        assert kept < before
        assert set(revoked) == before - kept  # only what moved was revoked
        # what was processed on the moved partitions was committed on revoke
        assert OffsetManager(group, topic_name, kafka_cluster).get_offset() == {p: 5 for p in range(4)}
    finally:
        a.close()
        if b is not None:
            b.close()


def test_the_assignment_strategy_comes_from_settings_or_the_constructor(kafka_cluster: KafkaClusterConfig) -> None:
    c = consumer(kafka_cluster, "g-strategy")
    r = consumer(kafka_cluster, "g-strategy", assignment_strategy="range")
    try:
        assert c.assignment_strategy == "cooperative-sticky"
        assert r.assignment_strategy == "range"
        with pytest.raises(ValueError, match="assignment_strategy"):
            consumer(kafka_cluster, "g", assignment_strategy="sticky-ish")
    finally:
        c.close()
        r.close()


def test_a_broker_that_is_down_gives_a_clear_error_in_bounded_time() -> None:
    down = KafkaClusterConfig(hosts=("127.0.0.1:1",))
    c = consumer(down, "g-down", ["nowhere"], broker_down_timeout=2)
    started = time.monotonic()
    try:
        with pytest.raises(BrokerUnavailable, match=r"127.0.0.1:1 unreachable within 2s"):
            while time.monotonic() - started < 20:
                c.get_messages(10, 0.5)
    finally:
        c.close()
    assert time.monotonic() - started < 10


def test_a_caught_up_consumer_gets_what_arrived_without_waiting_for_a_full_batch(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    fill(kafka_cluster, topic_name, 1, 3)
    with consumer(kafka_cluster, f"g-{topic_name}", [topic_name]) as c:
        assert len(drain(c, 3)) == 3  # caught up
        fill(kafka_cluster, topic_name, 1, 2)
        got: list = []
        waited = []
        deadline = time.monotonic() + 20
        while len(got) < 2 and time.monotonic() < deadline:
            started = time.monotonic()
            batch = c.get_messages(5000, 30.0)  # far more than will come, far longer than needed
            waited.append(time.monotonic() - started)
            got += batch
    assert [m.value() for m in got] == [b"p0-0", b"p0-1"]
    assert max(waited) < 10  # returned with what came, not after the 30 s timeout
