"""The access consumer loop: read metric (or custom event) topics, run the processor, produce events,
and checkpoint so that a crash or a rebalance loses and corrupts nothing.

Durability order at every checkpoint (every `snapshot_interval` seconds, on
revoke and on stop): (1) flush the event producer and the dead-letter queue,
(2) write each touched partition's state snapshot to Redis with the offset of
its next message, (3) mark the checkpointed batches processed, so the commit
that follows never runs ahead of a snapshot. A partition's new owner, after a
rebalance or a restart, loads its snapshot and starts at the snapshot's
offset; the messages after it are replayed and, because processing is
deterministic, re-emit exactly the events that were lost, with the same ids.
Without a snapshot a partition starts from its committed offset. A snapshot records the
cluster and topic incarnation (topic id) its offset belongs to; one from elsewhere, or whose
offset lies outside the partition's watermarks, is dropped with a warning, never resumed.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import redis
from confluent_kafka import Message

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.commit import TP, Batch
from alarm_backends.core.kafka.consumer import KafkaConsumer
from alarm_backends.core.kafka.dlq import DeadLetterPolicy, DeadLetterQueue
from alarm_backends.core.kafka.errors import InvalidMessage
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.observability.metrics import AccessStage
from alarm_backends.service.access.data.history import LongHistory
from alarm_backends.service.access.data.index import StrategyIndex
from alarm_backends.service.access.data.processor import AccessProcessor
from alarm_backends.service.access.data.state import Origin, PartitionState, stale_snapshot
from alarm_backends.service.access.types import ACCESS_TYPES
from alarm_backends.service.trigger.event import Event

logger = logging.getLogger(__name__)


def progress_key(group_id: str) -> str:
    return f"bkm:access:progress:{group_id}"

CLOSE_EVERY = 500  # messages between window-closing passes inside a batch
StrategySource = Callable[[], tuple[list[dict[str, Any]], dict[str, str]]]  # (strategies, topic by table)
VersionSource = Callable[[], str]


@dataclass(frozen=True)
class AccessSettings:
    group_id: str
    event_topic: str
    lateness: int = 60
    snapshot_interval: float = 5.0
    reload_check_interval: float = 2.0
    batch_size: int = 5000
    poll_timeout: float = 0.2
    memory_seconds: int = 3 * 3600
    timezone: str = "UTC"
    consumer_config: dict[str, Any] | None = None
    access_type: str = "data"  # a key of ACCESS_TYPES: metric or custom event topics


class AccessRunner:
    def __init__(self, settings: AccessSettings, *, cluster: KafkaClusterConfig, redis_client: redis.Redis,
                 load_strategies: StrategySource, strategy_version: VersionSource,
                 on_events: Callable[[list[Event], float], None] | None = None) -> None:
        self.settings = settings
        self.redis = redis_client
        self._load_strategies = load_strategies
        self._strategy_version = strategy_version
        self._on_events = on_events
        self.producer = KafkaProducer.get_instance(cluster)
        self.dead_letters = DeadLetterQueue(self.producer, DeadLetterPolicy())
        self.states: dict[TP, PartitionState] = {}
        self.access_type = ACCESS_TYPES[settings.access_type]
        self.index = StrategyIndex([], {}, data_type_label=self.access_type.data_type_label)
        self.processor = AccessProcessor(self.index, long_history=LongHistory(redis_client),
                                         memory_seconds=settings.memory_seconds, tz=ZoneInfo(settings.timezone),
                                         parser=self.access_type.parser)
        self._pending: list[Batch] = []
        self._dirty: set[TP] = set()
        self._last_snapshot = time.monotonic()
        self._checkpoint_seconds = 0.0
        self._last_reload_check = 0.0
        self.consumer = KafkaConsumer(
            settings.group_id, cluster=cluster, on_assign=self._on_assign, on_revoke=self._on_revoke,
            on_lost=self._on_lost,
            config={"topic.metadata.refresh.interval.ms": 5000, **(settings.consumer_config or {})})
        self.messages = 0
        self.invalid = 0
        self.events = 0
        self.stage = AccessStage(settings.group_id)
        self.last_step = time.monotonic()  # read by the readiness probe
        self.reload(force=True)

    # strategies
    def reload(self, force: bool = False) -> bool:
        version = self._strategy_version()
        if not force and version == self.index.version:
            return False
        strategies, topics_by_table = self._load_strategies()
        index = StrategyIndex(strategies, topics_by_table, version=version,
                              data_type_label=self.access_type.data_type_label)
        changed = index.changed_items(self.index)
        gone = set(self.index.aggs) - set(index.aggs)
        gone_groups = set(self.index.groups) - set(index.groups)
        for state in self.states.values():
            state.drop(changed, gone, gone_groups)
        old_topics = self.index.topics
        self.index = index
        self.processor.index = index
        for skipped in index.skipped:
            logger.warning("access: %s", skipped)
        if index.topics != old_topics or force:
            logger.info("access: subscribing to %s (%d items)", index.topics, len(index.items))
            self.consumer.subscribe(index.topics)
        return True

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._last_reload_check >= self.settings.reload_check_interval:
            self._last_reload_check = now
            self.reload()

    # the loop
    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.step()
        finally:
            self.close()

    def step(self) -> int:
        self._maybe_reload()
        batch = self.consumer.get_messages(self.settings.batch_size, self.settings.poll_timeout)
        if batch:
            self._process(batch)
        # at least snapshot_interval apart, and never more than ~20% of the time in checkpoints
        if time.monotonic() - self._last_snapshot >= max(self.settings.snapshot_interval,
                                                         4 * self._checkpoint_seconds):
            self.checkpoint()
        self.last_step = time.monotonic()
        return len(batch)

    def _process(self, batch: Batch) -> None:
        ingest_many = self.processor.ingest_many
        touched: set[TP] = set()
        unclosed: set[TP] = set()
        failures: list[tuple[Any, InvalidMessage]] = []
        since_close = points = late = 0
        size, i = len(batch), 0
        topics, partitions = list(map(Message.topic, batch)), list(map(Message.partition, batch))
        while i < size:
            # a run: consecutive messages of one partition, up to the next window-closing pass
            topic, partition = topics[i], partitions[i]
            end, j = min(size, i + CLOSE_EVERY - since_close), i + 1
            while j < end and partitions[j] == partition and topics[j] == topic:
                j += 1
            run = batch[i:j]
            key = (topic, partition)
            state = self.states.get(key)
            if state is None:
                state = self.states[key] = PartitionState(self.settings.lateness)
            touched.add(key)
            unclosed.add(key)
            late_before = state.windows.late
            filed, invalid = ingest_many(state, topic, list(map(Message.value, run)))
            points += filed
            late += state.windows.late - late_before
            failures.extend((run[position], exc) for position, exc in invalid)
            state.offset = run[-1].offset() + 1
            since_close += j - i
            i = j
            if since_close >= CLOSE_EVERY:
                # windows close as soon as they can, not after the whole batch (results do not
                # depend on when closing runs: lateness is decided per message)
                self._close(unclosed)
                unclosed, since_close = set(), 0
        self._close(unclosed)
        self.messages += size
        self.invalid += len(failures)
        self.stage.batch(size, len(failures), points, late)  # once per batch: nothing per message
        self.dead_letters.settle(size, failures, self.settings.group_id)
        batch.release()  # marked processed at the next checkpoint; its messages are not needed till then
        self._pending.append(batch)
        self._dirty |= touched

    def _close(self, keys: set[TP]) -> None:
        events: list[Event] = []
        closed_before = self.processor.windows_closed
        for key in keys:
            events.extend(self.processor.close_windows(self.states[key]))
        if self.processor.windows_closed != closed_before:
            self.stage.windows_closed.inc(self.processor.windows_closed - closed_before)
        if not events:
            return
        closed_at = time.time()
        self.producer.produce_batch(self.settings.event_topic, [(event.dedupe_md5, event.json) for event in events])
        self.events += len(events)
        self.stage.events(Counter(map(attrgetter("event_type"), events)))
        if self._on_events is not None:
            self._on_events(events, closed_at)

    def checkpoint(self, only: set[TP] | None = None) -> None:
        """Make every effect so far durable, then let the offsets be committed."""
        started = time.monotonic()
        self.producer.flush()
        self.dead_letters.flush()
        keys = [k for k in self._dirty if only is None or k in only]
        watermarks: dict[TP, int] = {}
        if keys:
            pipe = self.redis.pipeline(transaction=False)
            fingerprints = self.index.fingerprints
            now = time.time()
            for key in keys:
                state = self.states.get(key)
                if state is not None and state.offset is not None:
                    pipe.set(self.snapshot_key(key), state.dump(fingerprints))
                    watermarks[key] = state.windows.watermark
                    pipe.hset(self.progress_key, f"{key[0]}:{key[1]}", orjson.dumps({
                        "updated": now, "offset": state.offset, "max_time": state.windows.max_time,
                        "watermark": state.windows.watermark, "late": state.windows.late,
                        "items": self.processor.item_seen(state)}))
            pipe.execute()
            self._dirty.difference_update(keys)
        if only is None:
            for batch in self._pending:
                self.consumer.mark_processed(batch)
            self._pending = []
        self._last_snapshot = time.monotonic()
        self._checkpoint_seconds = self._last_snapshot - started
        self.stage.checkpoint(self._checkpoint_seconds, watermarks, set(self.states))

    def close(self) -> None:
        try:
            self.checkpoint()
        finally:
            self.consumer.close()

    @property
    def progress_key(self) -> str:
        """Per partition: wall-clock time of the last checkpoint, event-time watermark, and
        the latest closed window per item (read by the lag-aware no-data and health checks)."""
        return progress_key(self.settings.group_id)

    # rebalances
    def snapshot_key(self, key: TP) -> str:
        return f"bkm:access:snapshot:{self.settings.group_id}:{key[0]}:{key[1]}"

    def _on_assign(self, gained: list[TP]) -> dict[TP, int]:
        """Fresh state, or the snapshot's state and its offset where the snapshot still belongs
        to the partition as it is now; the others start from the committed (or reset) offset."""
        raw = self.redis.mget([self.snapshot_key(k) for k in gained])
        saved = {key: PartitionState.load(blob, self.settings.lateness, self.index)
                 for key, blob in zip(gained, raw, strict=True) if blob is not None}
        origins = self._origins(gained)
        usable = self._usable_snapshots(saved, origins)
        starts: dict[TP, int] = {}
        for key in gained:
            state = usable.get(key) or PartitionState(self.settings.lateness)
            state.origin = origins[key]  # from here on its offsets are this incarnation's
            self.states[key] = state
            if state.offset is not None:
                starts[key] = state.offset
        logger.info("access: gained %s, resuming from snapshots at %s", gained, starts)
        return starts

    def _origins(self, keys: list[TP]) -> dict[TP, Origin]:
        cluster_id, topic_ids = self.consumer.identities({topic for topic, _ in keys})
        return {key: Origin(cluster_id, topic_ids.get(key[0])) for key in keys}

    def _usable_snapshots(self, saved: dict[TP, PartitionState],
                          origins: dict[TP, Origin]) -> dict[TP, PartitionState]:
        """The snapshots whose offset belongs to the partition as it is now. A snapshot from another
        cluster or an earlier creation of the topic, or whose offset lies outside the partition,
        would skip (or never see) data if resumed: it is dropped, loudly."""
        resumable = {key: state for key, state in saved.items() if state.offset is not None}
        bounds = self.consumer.watermarks(resumable)
        short = {key: bounds[key][1] for key, state in resumable.items() if state.offset > bounds[key][1]}
        ends = self.consumer.confirmed_ends(short) if short else {}
        usable: dict[TP, PartitionState] = {}
        for key, state in resumable.items():
            low, high = bounds[key][0], ends.get(key, bounds[key][1])
            reason = stale_snapshot(state.offset, state.origin, origins[key], low, high)
            if reason is None:
                if state.origin is None:
                    logger.info("access group %s: the snapshot of %s[%d] predates origins; its offset %d is "
                                "inside [%d, %d], resuming from it", self.settings.group_id, *key, state.offset,
                                low, high)
                usable[key] = state
                continue
            logger.warning("access group %s: dropping the snapshot of %s[%d] at offset %d (the partition's "
                           "watermarks are low %d, high %d): %s; the partition starts from its committed (or "
                           "reset) offset with fresh state", self.settings.group_id, *key, state.offset, low, high,
                           reason)
        return usable

    def _on_revoke(self, lost: list[TP]) -> None:
        self.checkpoint(only=set(lost))
        for key in lost:
            self.states.pop(key, None)
            self._dirty.discard(key)
        logger.info("access: handed over %s with their state", lost)

    def _on_lost(self, lost: list[TP]) -> None:
        # Another member may own these already: writing our (older) snapshot would undo its work.
        for key in lost:
            self.states.pop(key, None)
            self._dirty.discard(key)
        logger.warning("access: lost %s without a handover; the new owner replays from its snapshot", lost)
