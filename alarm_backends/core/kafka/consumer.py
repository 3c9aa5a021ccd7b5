"""KafkaConsumer: group or explicit assignment, per-partition commit strategies,
seeks, rebalance notifications and backpressure.

Prefetch defaults (why): librdkafka refills its local queue only when it falls
below `queued.min.messages` (default 100,000). A consumer that does any work
per message drains that queue slower than the fetcher refills it in small
steps, and against our broker that throttles it about 5x (docs/ARCHITECTURE.md,
The embedded broker: 170k msg/s at defaults vs 860k msg/s with 1,000,000). We raise it to
1,000,000 and bound memory with `queued.max.messages.kbytes` (64 MiB by
default, for the single consumer queue whatever the partition count; it may be
overshot by one fetch, `fetch.max.bytes`, 50 MiB at most). Both are settings
(BKM_KAFKA_QUEUED_MIN_MESSAGES, BKM_KAFKA_QUEUED_MAX_KBYTES).

Messages are confluent_kafka.Message objects, returned as they come from the
client (no per-message copy): topic(), partition(), offset(), timestamp(),
key(), value(), headers().
"""
from __future__ import annotations

import concurrent.futures
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from confluent_kafka import (
    OFFSET_END,
    OFFSET_STORED,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec

from alarm_backends.core.kafka import admin
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.commit import TP, Batch, CommitMode, CommitPolicy, OffsetTracker, Throttle
from alarm_backends.core.kafka.defaults import client_timeout, commit_interval, consumer_settings, default_cluster
from alarm_backends.core.kafka.errors import BrokerUnavailable, CommitFailed, ConsumerError, UnsupportedByBroker
from alarm_backends.core.kafka.messages import offset_of, tp_of
from alarm_backends.core.kafka.metrics import COMMITS, CONSUME_ERRORS, CONSUMED_MESSAGES, REBALANCES
from alarm_backends.core.kafka.stats import StatsCollector

logger = logging.getLogger(__name__)

RebalanceListener = Callable[[list[TP]], None]
# An assign listener may return start offsets for some of the gained partitions
# (for example from a state snapshot); the others start from the committed offset.
AssignListener = Callable[[list[TP]], "dict[TP, int] | None"]
ASSIGNMENT_STRATEGIES = ("range", "roundrobin", "cooperative-sticky")
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2
_ZERO_TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAA"  # an all-zero Uuid: the broker keeps no topic ids


def default_commit_policy() -> CommitPolicy:
    interval, every = commit_interval()
    return CommitPolicy(CommitMode.AFTER_PROCESSING, interval, every)


class KafkaConsumer:
    def __init__(self, group_id: str, topics: Sequence[str] | None = None, *,
                 cluster: KafkaClusterConfig | None = None, commit_policy: CommitPolicy | None = None,
                 assignment_strategy: str | None = None, auto_offset_reset: str = "earliest",
                 on_assign: AssignListener | None = None, on_revoke: RebalanceListener | None = None,
                 on_lost: RebalanceListener | None = None,
                 max_pending_per_partition: int | None = None, broker_down_timeout: float | None = None,
                 config: Mapping[str, Any] | None = None) -> None:
        self.group_id = group_id
        self.cluster = cluster or default_cluster()
        self.policy = commit_policy or default_commit_policy()
        self.on_assign_listener = on_assign
        self.on_revoke_listener = on_revoke
        self.on_lost_listener = on_lost or on_revoke
        self.max_pending = max_pending_per_partition
        self.broker_down_timeout = broker_down_timeout if broker_down_timeout is not None else client_timeout()
        self.tracker = OffsetTracker()
        self._throttle = Throttle(self.policy)
        self._assigned: dict[TP, TopicPartition] = {}
        self._positions: dict[TP, int] = {}
        self._skip_before: dict[TP, int] = {}  # seek-to-timestamp filter (broker answers per batch)
        self._down_since: float | None = None
        self._verify_broker = False  # partitions were lost: see get_messages
        self._last_error: str = ""
        self._closed = False
        self._holding = False  # see hold()
        self._admin: AdminClient | None = None
        self._lock = threading.RLock()
        self.rebalances = 0

        settings_conf = consumer_settings()
        if assignment_strategy is not None:
            if assignment_strategy not in ASSIGNMENT_STRATEGIES:
                raise ValueError(f"assignment_strategy: {assignment_strategy!r} "
                                 f"is not one of {list(ASSIGNMENT_STRATEGIES)}")
            settings_conf["partition.assignment.strategy"] = assignment_strategy
        auto = self.policy.mode is CommitMode.AUTO
        conf: dict[str, Any] = {
            **self.cluster.client_config(),
            **settings_conf,
            "group.id": group_id,
            "auto.offset.reset": auto_offset_reset,
            "enable.auto.commit": auto,
            "enable.auto.offset.store": True,
            "auto.commit.interval.ms": max(1, int(self.policy.interval_seconds * 1000)),
            "enable.partition.eof": False,
            "error_cb": self._on_error,
            "on_commit": self._on_commit,
            "statistics.interval.ms": 5000,
            "stats_cb": StatsCollector(group_id),
            "logger": logging.getLogger("librdkafka"),
        }
        conf.update(config or {})
        self.assignment_strategy = conf["partition.assignment.strategy"]
        self._consumer = Consumer(conf)
        if topics:
            self.subscribe(topics)

    # assignment
    def subscribe(self, topics: Sequence[str]) -> None:
        """Join the group for `topics` (replacing any earlier subscription); [] leaves it."""
        if not topics:
            self.unsubscribe()
            return
        self._consumer.subscribe(list(topics), on_assign=self._on_assign, on_revoke=self._on_revoke,
                                 on_lost=self._on_lost)

    def unsubscribe(self) -> None:
        """Leave the group; what was processed on the revoked partitions is committed first."""
        self._consumer.unsubscribe()

    def assign(self, partitions: Iterable[tuple[str, int] | tuple[str, int, int]]) -> None:
        """Explicit assignment, no group membership; (topic, partition[, offset])."""
        tps = [TopicPartition(*p) for p in partitions]
        self._consumer.assign(tps)
        self._track_assigned(tps)

    def assignment(self) -> list[TP]:
        return sorted(self._assigned)

    def _track_assigned(self, tps: list[TopicPartition]) -> list[TP]:
        gained = [(tp.topic, tp.partition) for tp in tps]
        for tp in tps:
            self._assigned[(tp.topic, tp.partition)] = TopicPartition(tp.topic, tp.partition)
        self.tracker.add(gained)
        return gained

    def _forget(self, tps: list[TopicPartition]) -> list[TP]:
        lost = [(tp.topic, tp.partition) for tp in tps]
        for key in lost:
            self._assigned.pop(key, None)
            self._positions.pop(key, None)
            self._skip_before.pop(key, None)
        self.tracker.remove(lost)
        return lost

    def hold(self) -> None:
        """Pause every partition, those assigned from now on included, and serve the group's callbacks
        without consuming: a loop holding its work through an outage calls this at least every
        `max.poll.interval.ms`, or librdkafka leaves the group and the partitions move on unseen."""
        self._holding = True
        self.pause()
        message = self._consumer.poll(0)
        if message is not None and message.error() is None:  # cannot happen once paused; never drop one
            self._consumer.seek(TopicPartition(*tp_of(message), offset_of(message)))

    def release(self) -> None:
        """Consume again after `hold`: every partition resumes where it was."""
        if self._holding:
            self._holding = False
            self.resume()

    def _on_assign(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        gained = self._track_assigned(tps)
        self.rebalances += 1
        REBALANCES.labels(self.group_id, "assign").inc()
        logger.info("group %s: assigned %s", self.group_id, gained)
        starts = self.on_assign_listener(gained) if self.on_assign_listener and gained else None
        if starts or (self._holding and gained):  # assigned here, so that the pause below applies
            starts = starts or {}
            wanted = [TopicPartition(tp.topic, tp.partition, starts.get((tp.topic, tp.partition), OFFSET_STORED))
                      for tp in tps]
            if self.assignment_strategy == "cooperative-sticky":
                consumer.incremental_assign(wanted)
            else:
                consumer.assign(wanted)
            for key, offset in starts.items():
                self._positions[key] = offset
        if self._holding and gained:
            self.pause(gained)  # assigned while the loop holds: nothing of them is fetched until release

    def _on_revoke(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in tps}
        if self.policy.mode is not CommitMode.AUTO:
            self._commit_now(only=revoked, asynchronous=False, swallow=True)
        lost = self._forget(tps)
        REBALANCES.labels(self.group_id, "revoke").inc()
        logger.info("group %s: revoked %s", self.group_id, lost)
        if self.on_revoke_listener and lost:
            self.on_revoke_listener(lost)

    def _on_lost(self, consumer: Consumer, tps: list[TopicPartition]) -> None:
        # The group moved on without us: committing is no longer possible; just forget.
        lost = self._forget(tps)
        self._verify_broker = True
        REBALANCES.labels(self.group_id, "lost").inc()
        logger.warning("group %s: partitions lost %s", self.group_id, lost)
        if self.on_lost_listener and lost:
            self.on_lost_listener(lost)

    # consuming
    def get_messages(self, count: int = 500, timeout: float = 1.0) -> Batch:
        """Up to `count` messages: what is already fetched, or else the first to arrive within
        `timeout` seconds with whatever came with it. librdkafka's consume(count, timeout) waits
        for `count` messages until the timeout even when some are ready; a consumer that caught
        up would add up to `timeout` of latency to every batch."""
        if self._closed:
            raise ConsumerError("consumer is closed")
        if self._verify_broker:
            # Partitions are lost when the group coordinator stops answering (a broker that hangs
            # keeps its connections open, so no error says so for a minute): make sure it answers
            # before consuming on, so that the caller learns of an outage now (BrokerUnavailable).
            self._verify_broker = False
            self.check_broker()
        raw = self._consumer.consume(count, 0)
        if not raw and timeout > 0:
            first = self._consumer.poll(timeout)
            if first is not None:
                raw = [first, *self._consumer.consume(count - 1, 0)] if count > 1 else [first]
        if raw and list(map(Message.error, raw)).count(None) != len(raw):  # a C-speed scan for errors
            raw = self._drop_errors(raw)
        if self._skip_before:
            raw = self._apply_timestamp_seek(raw)
        batch = Batch(raw)
        if raw:
            self._down_since = None
            CONSUMED_MESSAGES.labels(self.group_id).inc(len(raw))
        elif self._down_since is not None and time.monotonic() - self._down_since > self.broker_down_timeout:
            self._confirm_broker_down()
        if self.policy.mode is CommitMode.AFTER_PROCESSING:
            if raw:
                batch.ends = self._advanced_positions()
                self.tracker.delivered(batch)
                if self.max_pending is not None:
                    self._apply_backpressure(batch.ends)
            self.maybe_commit()
        return batch

    def check_broker(self, timeout: float | None = None) -> None:
        """The cluster answers a metadata request within `timeout`, or BrokerUnavailable: what a loop
        riding out a broker outage retries before it consumes again."""
        timeout = timeout if timeout is not None else self.broker_down_timeout
        try:
            self._consumer.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise BrokerUnavailable(self.cluster.bootstrap_servers, self._last_error or str(exc), timeout) from None
        self._down_since = None

    def _confirm_broker_down(self) -> None:
        try:
            self._consumer.list_topics(timeout=min(2.0, self.broker_down_timeout))
        except KafkaException:
            raise BrokerUnavailable(self.cluster.bootstrap_servers, self._last_error,
                                    self.broker_down_timeout) from None
        self._down_since = None  # it came back and there is simply nothing to read

    def _drop_errors(self, raw: list[Message]) -> list[Message]:
        kept = []
        for m in raw:
            err = m.error()
            if err is None:
                kept.append(m)
                continue
            CONSUME_ERRORS.labels(self.group_id).inc()
            if err.fatal():
                raise ConsumerError(f"fatal consumer error on {m.topic()}[{m.partition()}]: {err.str()}")
            logger.warning("consumer %s: %s [%s] %s", self.group_id, m.topic(), m.partition(), err.str())
        return kept

    def _advanced_positions(self) -> dict[TP, int]:
        ends: dict[TP, int] = {}
        for tp in self._consumer.position(list(self._assigned.values())):
            if tp.offset < 0:
                continue
            key = (tp.topic, tp.partition)
            if self._positions.get(key) != tp.offset:
                self._positions[key] = ends[key] = tp.offset
        return ends

    # processing and committing
    def mark_processed(self, messages: Batch | Message | Iterable[Message]) -> None:
        """Mark messages processed; their offsets become committable once contiguous."""
        if self.policy.mode is not CommitMode.AFTER_PROCESSING:
            return
        with self._lock:
            if isinstance(messages, Batch):
                self.tracker.mark_batch(messages)
                ends = messages.ends
            elif isinstance(messages, Message):
                self.tracker.mark_message(messages)
                ends = {tp_of(messages): 0}
            else:
                ends = {}
                for m in messages:
                    self.tracker.mark_message(m)
                    ends[tp_of(m)] = 0
            if self.max_pending is not None:
                self._release_backpressure(ends)

    def maybe_commit(self) -> None:
        if self.policy.mode is CommitMode.AFTER_PROCESSING and self._throttle.due(self.tracker.marked_since_commit):
            self._commit_now(asynchronous=True)

    def commit(self, asynchronous: bool | None = None) -> dict[TP, int]:
        """Commit now. AFTER_PROCESSING: what is processed; SYNC/ASYNC: everything delivered."""
        if self.policy.mode is CommitMode.AFTER_PROCESSING:
            return self._commit_now(asynchronous=bool(asynchronous))
        if self.policy.mode is CommitMode.AUTO:
            return {}
        is_async = self.policy.mode is CommitMode.ASYNC if asynchronous is None else asynchronous
        positions = self._app_positions()
        if not positions:
            return {}
        try:
            self._consumer.commit(  # type: ignore[call-overload]  # stubs overload only Literal asynchronous
                offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()], asynchronous=is_async)
        except KafkaException as exc:
            COMMITS.labels(self.group_id, "error").inc()
            raise CommitFailed(f"group {self.group_id!r}: commit failed: {exc}") from exc
        if not is_async:
            COMMITS.labels(self.group_id, "ok").inc()
        return positions

    def _app_positions(self) -> dict[TP, int]:
        """Last delivered offset + 1 per assigned partition that delivered anything."""
        if not self._assigned:
            return {}
        return {(tp.topic, tp.partition): tp.offset
                for tp in self._consumer.position(list(self._assigned.values())) if tp.offset >= 0}

    def _commit_now(self, only: set[TP] | None = None, asynchronous: bool = False,
                    swallow: bool = False) -> dict[TP, int]:
        with self._lock:
            offsets = self.tracker.to_commit()
            if only is not None:
                offsets = {tp: o for tp, o in offsets.items() if tp in only}
            if not offsets:
                self._throttle.done()
                return {}
            tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
            try:
                result = self._consumer.commit(  # type: ignore[call-overload]  # stubs overload only Literal asynchronous
                    offsets=tps, asynchronous=asynchronous)
            except KafkaException as exc:
                COMMITS.labels(self.group_id, "error").inc()
                if swallow:
                    logger.error("group %s: commit of %s failed: %s", self.group_id, offsets, exc)
                    return {}
                raise CommitFailed(f"group {self.group_id!r}: commit of {offsets} failed: {exc}") from exc
            if not asynchronous and result:
                failed = [tp for tp in result if tp.error is not None]
                if failed and not swallow:
                    raise CommitFailed(f"group {self.group_id!r}: commit failed for {failed}")
            self.tracker.committed(offsets)
            self._throttle.done()
            if not asynchronous:
                COMMITS.labels(self.group_id, "ok").inc()
            return offsets

    def committed(self, timeout: float | None = None) -> dict[TP, int | None]:
        """Offsets the broker holds for this group on the assigned partitions."""
        timeout = timeout if timeout is not None else client_timeout()
        tps = list(self._assigned.values())
        if not tps:
            return {}
        try:
            result = self._consumer.committed(tps, timeout=timeout)
        except KafkaException as exc:
            raise admin.translate(exc, self.cluster, timeout, "committed offsets") from exc
        return {(tp.topic, tp.partition): (tp.offset if tp.offset >= 0 else None) for tp in result}

    # seeking
    def seek(self, offset: int, whence: int = SEEK_SET, partition: int | None = None,
             topic: str | None = None) -> dict[TP, int]:
        """Move assigned partitions (one, or all of a topic, or all): whence 0 absolute,
        1 relative to the current position, 2 relative to the end (offset <= 0)."""
        if whence not in (SEEK_SET, SEEK_CUR, SEEK_END):
            raise ValueError(f"whence must be 0 (absolute), 1 (relative) or 2 (from the end), got {whence}")
        if whence == SEEK_END and offset > 0:
            raise ValueError(f"seeking from the end takes an offset <= 0, got {offset}")
        targets = self._select(topic, partition)
        moved: dict[TP, int] = {}
        for key in targets:
            low, high = self._watermarks(key)
            if whence == SEEK_SET:
                wanted = offset
            elif whence == SEEK_CUR:
                wanted = self._current_position(key, low) + offset
            else:
                wanted = high + offset
            moved[key] = min(max(wanted, low), high)
        self._seek_to(moved)
        return moved

    def seek_to_timestamp(self, timestamp_ms: int, partition: int | None = None,
                          topic: str | None = None) -> dict[TP, int]:
        """Move to the first message with timestamp >= timestamp_ms (the end where none is)."""
        targets = self._select(topic, partition)
        timeout = client_timeout()
        query = [TopicPartition(t, p, int(timestamp_ms)) for t, p in targets]
        try:
            found = self._consumer.offsets_for_times(query, timeout=timeout)
        except KafkaException as exc:
            raise admin.translate(exc, self.cluster, timeout, "offsets for times") from exc
        moved: dict[TP, int] = {}
        for tp in found:
            key = (tp.topic, tp.partition)
            moved[key] = tp.offset if tp.offset >= 0 else self._watermarks(key)[1]
        self._seek_to(moved)
        # Some brokers (the embedded one) answer with the start of the batch holding the
        # timestamp; skip the earlier messages of that batch so the result is exact.
        for key in moved:
            self._skip_before[key] = int(timestamp_ms)
        return moved

    def _apply_timestamp_seek(self, raw: list[Message]) -> list[Message]:
        kept = []
        for m in raw:
            key = tp_of(m)
            floor = self._skip_before.get(key)
            if floor is not None:
                if m.timestamp()[1] < floor:
                    continue
                del self._skip_before[key]
            kept.append(m)
        return kept

    def _select(self, topic: str | None, partition: int | None) -> list[TP]:
        targets = [tp for tp in self._assigned if (topic is None or tp[0] == topic)
                   and (partition is None or tp[1] == partition)]
        if not targets:
            raise ConsumerError(f"no assigned partition matches topic={topic!r} partition={partition!r}; "
                                f"assigned: {sorted(self._assigned)}")
        return targets

    def _watermarks(self, key: TP) -> tuple[int, int]:
        timeout = client_timeout()
        try:
            return self._consumer.get_watermark_offsets(TopicPartition(*key), timeout=timeout, cached=False)
        except KafkaException as exc:
            raise admin.translate(exc, self.cluster, timeout, f"watermarks of {key}") from exc

    def _current_position(self, key: TP, low: int) -> int:
        if key in self._positions:
            return self._positions[key]
        [tp] = self._consumer.position([TopicPartition(*key)])
        if tp.offset >= 0:
            return int(tp.offset)
        committed = self.committed().get(key)
        return committed if committed is not None else low

    def _seek_to(self, offsets: dict[TP, int]) -> None:
        for (topic, partition), offset in offsets.items():
            tp = TopicPartition(topic, partition, offset if offset >= 0 else OFFSET_END)
            try:
                self._consumer.seek(tp)
            except KafkaException:
                # Not fetching yet (just assigned): re-assigning at the offset has the same effect.
                self._consumer.incremental_unassign([TopicPartition(topic, partition)])
                self._consumer.incremental_assign([tp])
            self._positions[(topic, partition)] = offset
            self._skip_before.pop((topic, partition), None)
            self.tracker.reset((topic, partition))

    # where partitions stand: asked once per assignment (never per message), each bounded
    def _admin_client(self, timeout: float) -> AdminClient:
        if self._admin is None:
            self._admin = admin.admin_client(self.cluster, timeout)
        return self._admin

    def identities(self, topics: Iterable[str],
                   timeout: float | None = None) -> tuple[str | None, dict[str, str | None]]:
        """The cluster id and each topic's id: what tells this cluster and this creation of a
        topic from another with the same name. None where the broker has none (an all-zero id)."""
        timeout = timeout if timeout is not None else client_timeout()
        client = self._admin_client(timeout)
        names = sorted(set(topics))
        futures = client.describe_topics(TopicCollection(names), request_timeout=timeout) if names else {}
        cluster_id = admin.cluster_metadata(client, self.cluster, timeout).cluster_id or None
        ids: dict[str, str | None] = {}
        for name, future in futures.items():
            try:
                described = admin.call(self.cluster, timeout, f"describe topic {name!r}",
                                       functools.partial(admin.wait, future, timeout))
            except UnsupportedByBroker:
                ids[name] = None  # a broker older than topic ids
                continue
            topic_id = str(described.topic_id) if described.topic_id is not None else ""
            ids[name] = topic_id if topic_id and topic_id != _ZERO_TOPIC_ID else None
        return cluster_id, ids

    def watermarks(self, keys: Iterable[TP], timeout: float | None = None) -> dict[TP, tuple[int, int]]:
        """(low, high) per partition, all partitions in one request per bound. The high is as the
        broker reports it: see `confirmed_ends` for brokers that report it short."""
        timeout = timeout if timeout is not None else client_timeout()
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        client = self._admin_client(timeout)
        lows, highs = ({(tp.topic, tp.partition): future for tp, future in client.list_offsets(
            {TopicPartition(*key): spec for key in wanted}, request_timeout=timeout).items()}
            for spec in (OffsetSpec.earliest(), OffsetSpec.latest()))

        def offset(future: concurrent.futures.Future[Any], key: TP) -> int:
            return int(admin.call(self.cluster, timeout, f"watermarks of {key[0]}[{key[1]}]",
                                  lambda: admin.wait(future, timeout)).offset)

        return {key: (offset(lows[key], key), offset(highs[key], key)) for key in wanted}

    def confirmed_ends(self, reported: Mapping[TP, int], timeout: float | None = None) -> dict[TP, int]:
        """The offset after each partition's last message, given its reported high watermark.

        The embedded broker (Tansu 0.6) reports as high watermark the last batch's base offset
        plus one, so up to a batch of messages lie past it; reading that one batch to
        end-of-partition gives the true end. On Kafka it gives the high watermark back."""
        timeout = timeout if timeout is not None else client_timeout()
        ends = dict(reported)
        open_keys = {key for key, high in reported.items() if high > 0}
        if not open_keys:
            return ends
        reader = Consumer({**self.cluster.client_config(), "group.id": f"bkm-probe-{uuid.uuid4().hex}",
                           "enable.auto.commit": False, "enable.partition.eof": True,
                           "logger": logging.getLogger("librdkafka")})
        try:
            reader.assign([TopicPartition(t, p, reported[(t, p)] - 1) for t, p in sorted(open_keys)])
            deadline = time.monotonic() + timeout
            while open_keys and time.monotonic() < deadline:
                for m in reader.consume(1000, 0.2):
                    key, err = tp_of(m), m.error()
                    if err is None:
                        ends[key] = max(ends[key], offset_of(m) + 1)
                    elif err.code() == KafkaError._PARTITION_EOF:
                        open_keys.discard(key)
                    else:
                        raise ConsumerError(f"reading the end of {key[0]}[{key[1]}]: {err.str()}")
        finally:
            reader.close()
        if open_keys:
            raise BrokerUnavailable(self.cluster.bootstrap_servers,
                                    f"end of {sorted(open_keys)} not reached", timeout)
        return ends

    # backpressure
    def pause(self, partitions: Iterable[TP] | None = None) -> None:
        keys = list(partitions) if partitions is not None else list(self._assigned)
        self._consumer.pause([TopicPartition(t, p) for t, p in keys])
        for key in keys:
            part = self.tracker.partition(key)
            if part is not None:
                part.paused = True

    def resume(self, partitions: Iterable[TP] | None = None) -> None:
        keys = list(partitions) if partitions is not None else list(self._assigned)
        self._consumer.resume([TopicPartition(t, p) for t, p in keys])
        for key in keys:
            part = self.tracker.partition(key)
            if part is not None:
                part.paused = False

    def paused(self) -> list[TP]:
        return sorted(tp for tp in self._assigned if (p := self.tracker.partition(tp)) is not None and p.paused)

    def _apply_backpressure(self, ends: dict[TP, int]) -> None:
        assert self.max_pending is not None
        behind = [tp for tp in ends if self.tracker.pending(tp) >= self.max_pending
                  and not getattr(self.tracker.partition(tp), "paused", True)]
        if behind:
            logger.info("group %s: pausing %s (%d+ messages unprocessed)", self.group_id, behind, self.max_pending)
            self.pause(behind)

    def _release_backpressure(self, touched: Mapping[TP, int]) -> None:
        assert self.max_pending is not None
        ready = [tp for tp in touched if (p := self.tracker.partition(tp)) is not None and p.paused
                 and self.tracker.pending(tp) < self.max_pending // 2]
        if ready:
            self.resume(ready)

    # lifecycle
    def close(self) -> None:
        """Commit what was processed (synchronously), leave the group, release the client."""
        if self._closed:
            return
        try:
            if self.policy.mode is CommitMode.AFTER_PROCESSING:
                self._commit_now(asynchronous=False, swallow=True)
            elif self.policy.mode in (CommitMode.SYNC, CommitMode.ASYNC):
                try:
                    self.commit(asynchronous=False)
                except CommitFailed as exc:
                    logger.error("group %s: final commit failed: %s", self.group_id, exc)
        finally:
            self._closed = True
            self._consumer.close()

    def __enter__(self) -> KafkaConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # callbacks
    def _on_error(self, err: KafkaError) -> None:
        CONSUME_ERRORS.labels(self.group_id).inc()
        self._last_error = err.str()
        down = err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE)
        if down and self._down_since is None:
            self._down_since = time.monotonic()
        logger.warning("consumer %s: %s", self.group_id, err.str())

    def _on_commit(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        if err is not None and err.code() != KafkaError._NO_OFFSET:
            COMMITS.labels(self.group_id, "error").inc()
            logger.warning("group %s: async commit failed: %s", self.group_id, err.str())
        elif err is None:
            COMMITS.labels(self.group_id, "ok").inc()
