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

Outages (alarm_backends/core/resilience.py): a Redis call in the middle of a batch (look-backs, seed
claims), a dead-letter topic's creation and a partition's assignment (snapshot load, offsets) are
retried in place until the service answers, and the event producer waits for room in its queue, so
an outage never cuts a batch or an assignment in half. The messages already fetched go on being
processed until a step fails for the outage (typically the checkpoint: the producer's flush or the
snapshot writes); then the loop pauses every partition, keeps its state and the batches not yet
checkpointed, and retries (resume: the services answer, then the checkpoint) with capped backoff
until they are back, still serving the group's callbacks so that it stays a member and hands over
what it loses. After an outage every partition's snapshot is rewritten, so a Redis that came back
empty gets them all. A batch that fails half-way for any other reason is never checkpointed: half
of it is in the state, so the runner stops without saving anything and the partitions replay from
their last snapshot.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import orjson
import redis
from django.db import DatabaseError
from confluent_kafka import Message

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.commit import TP, Batch
from alarm_backends.core.kafka.consumer import KafkaConsumer
from alarm_backends.core.kafka.dlq import DeadLetterPolicy, DeadLetterQueue
from alarm_backends.core.kafka.errors import InvalidMessage, KafkaStorageError
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.observability.metrics import ACCESS_IDLE_ADVANCES, ACCESS_STATE_REBUILDS, AccessStage
from alarm_backends.core.resilience import (
    HOLDING_PRODUCER,
    Outage,
    RetryPolicy,
    Stopped,
    dependency_of,
)
from alarm_backends.service.access.data.history import LongHistory
from alarm_backends.service.access.data.index import StrategyIndex
from alarm_backends.service.access.data.processor import AccessProcessor
from alarm_backends.service.access.data.state import Origin, PartitionState, stale_snapshot
from alarm_backends.service.access.rebuild import SeedClaims, open_alerts, seed
from alarm_backends.service.access.types import ACCESS_TYPES
from alarm_backends.service.trigger.event import Event

logger = logging.getLogger(__name__)
T = TypeVar("T")


def progress_key(group_id: str) -> str:
    return f"bkm:access:progress:{group_id}"

CLOSE_EVERY = 500  # messages between window-closing passes inside a batch
IDLE_CHECK_EVERY = 2.0  # seconds between idle checks (one watermark request for the quiet partitions)
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
    idle_seconds: float = 180.0  # a caught-up partition silent this long follows its topic's clock
    retry: RetryPolicy = RetryPolicy()  # backoff while the broker, Redis or the database is down
    max_future: float = 300.0  # a point further ahead of the wall clock is dead-lettered (seconds)


class AccessRunner:
    def __init__(self, settings: AccessSettings, *, cluster: KafkaClusterConfig, redis_client: redis.Redis,
                 load_strategies: StrategySource, strategy_version: VersionSource,
                 on_events: Callable[[list[Event], float], None] | None = None) -> None:
        self.settings = settings
        self.redis = redis_client
        self._load_strategies = load_strategies
        self._strategy_version = strategy_version
        self._on_events = on_events
        self._stop = threading.Event()  # run()'s: a hold in the middle of a step ends on SIGTERM
        self.producer = KafkaProducer.get_instance(cluster, **HOLDING_PRODUCER)
        self.dead_letters = DeadLetterQueue(self.producer, DeadLetterPolicy(), guard=self._in_place)
        self.states: dict[TP, PartitionState] = {}
        self.access_type = ACCESS_TYPES[settings.access_type]
        self.index = StrategyIndex([], {}, data_type_label=self.access_type.data_type_label)
        self.processor = AccessProcessor(self.index, long_history=LongHistory(redis_client, self._in_place),
                                         memory_seconds=settings.memory_seconds, tz=ZoneInfo(settings.timezone),
                                         parser=self.access_type.parser, max_future=settings.max_future)
        self.processor.claims = SeedClaims(redis_client, settings.group_id, self._in_place)
        self._idle_since: dict[TP, tuple[int | None, float]] = {}  # offset, and since when (monotonic)
        self._last_idle_check = time.monotonic()
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
        self.outage = Outage(settings.group_id, ("kafka", "redis", "database"), settings.retry)
        self._torn = False  # a batch is being applied: its partitions' state is half-updated until it ends
        self._save_state = True  # False once the state must not be checkpointed any more (see close)
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
        """Step until `stop`, riding out outages. Any other failure stops the loop; a batch that failed
        half-way is then not checkpointed (close), so nothing half-done is ever saved as complete."""
        self._stop = self.producer.stop = stop
        completed = False
        try:
            while not stop.is_set():
                try:
                    self.step()
                except Exception as exc:
                    if not self._ride_out(exc, stop):
                        raise
            completed = True
        finally:
            self.close(checkpoint=completed)

    def _ride_out(self, exc: Exception, stop: threading.Event) -> bool:
        """Hold the work through an outage until the services answer and it is checkpointed (True), or
        refuse (False): not an outage, or a batch was cut half-way, which no retry can make whole."""
        if stop.is_set() and (isinstance(exc, Stopped) or dependency_of(exc) is not None):
            logger.warning("access group %s: stopped during an outage (%s)%s", self.settings.group_id, exc,
                           "; the batch in hand is not saved, its partitions replay from their last snapshot"
                           if self._torn else "")
            return True  # the loop ends; close() saves nothing half-done
        if self._torn:
            logger.error("access group %s: a batch failed half-way (%s: %s); its partitions' state is not "
                         "saved, they replay from their last snapshot", self.settings.group_id,
                         type(exc).__name__, exc)
            return False
        if self.outage.begin(exc) is None:
            return False
        self._dirty |= set(self.states)  # a Redis that came back empty gets every snapshot back, idle ones too
        self.consumer.hold()  # from here on nothing is fetched, yet the group's callbacks are served
        if self.outage.ride_out(self._resume, stop, heartbeat=self._serve_group)[0]:
            self.consumer.release()
        return True

    def _in_place(self, call: Callable[[], T]) -> T:
        """`call` retried where it stands through an outage (Redis mid-batch, an assignment): work that
        cannot be put down half-done waits for the service instead. Raises Stopped on SIGTERM."""
        return self.outage.call(call, self._stop, heartbeat=self._beat)

    def _serve_group(self) -> None:
        """While riding out an outage: stay a member of the group (librdkafka leaves it when nobody polls
        for max.poll.interval.ms) and run its callbacks, so that partitions revoked or lost meanwhile
        are dropped here and never checkpointed over their new owner's snapshots."""
        self._beat()
        self.consumer.hold()

    def _resume(self) -> None:
        """What must go through before consuming again: the broker, Redis and the database answer (the
        strategy version), then the work held is checkpointed."""
        self.consumer.check_broker()
        self.redis.ping()
        self.reload()
        self.checkpoint()

    def _beat(self) -> None:
        self.last_step = time.monotonic()  # alive and retrying; the outage probe says why it is not ready

    def step(self) -> int:
        self._maybe_reload()
        batch = self.consumer.get_messages(self.settings.batch_size, self.settings.poll_timeout)
        if batch:
            self._torn = True  # until the whole batch is in the state: a failure in between must not be saved
            self._process(batch)
            self._torn = False
        self._check_idle()
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
        """Close what the watermarks passed and produce its events. The closed windows leave the state
        before their events are queued: a failure in between leaves the state torn (never checkpointed)."""
        torn, self._torn = self._torn, True
        self._close_torn(keys)
        self._torn = torn

    def _close_torn(self, keys: set[TP]) -> None:
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

    def close(self, checkpoint: bool = True) -> None:
        """Checkpoint and leave the group. Without `checkpoint`, or after a batch failed half-way, nothing
        is saved (the hand-over on leaving included): the partitions replay from their last snapshot."""
        self._save_state = checkpoint and not self._torn
        try:
            if self._save_state:
                self._final_checkpoint()
        finally:
            self.consumer.close()

    def _final_checkpoint(self) -> None:
        try:
            self.checkpoint()
        except Exception as exc:
            self.outage.tolerate(exc, "the last checkpoint (the work since the one before is replayed from it)")
            self._save_state = False  # the hand-over would only wait on the same outage

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
        to the partition as it is now; the others start from the committed (or reset) offset.
        Through an outage it waits for Redis and the broker: a partition must never start without its
        snapshot (librdkafka would assign it at its committed offset if this callback raised)."""
        return self._in_place(lambda: self._assign(gained))

    def _assign(self, gained: list[TP]) -> dict[TP, int]:
        raw = self.redis.mget([self.snapshot_key(k) for k in gained])
        saved = {key: PartitionState.load(blob, self.settings.lateness, self.index)
                 for key, blob in zip(gained, raw, strict=True) if blob is not None}
        origins = self._origins(gained)
        usable = self._usable_snapshots(saved, origins)
        starts: dict[TP, int] = {}
        stateless = [key for key in gained if key not in usable]
        committed = self.consumer.committed() if stateless else {}
        for key in gained:
            state = usable.get(key) or PartitionState(self.settings.lateness)
            state.origin = origins[key]  # from here on its offsets are this incarnation's
            self.states[key] = state
            if state.offset is not None:
                starts[key] = state.offset
        logger.info("access: gained %s, resuming from snapshots at %s", gained, starts)
        # consumed before (a committed offset) yet without state: its open alerts must not be orphaned
        rebuilt = [key for key in stateless if committed.get(key) is not None]
        for key in rebuilt:
            self.states[key].offset = committed[key]  # where its state now stands (the consumer resumes there)
        if rebuilt:
            self._rebuild(rebuilt)
        return starts

    def _rebuild(self, keys: list[TP]) -> None:
        """Seed the open alerts of the items read from these partitions' topics (access/rebuild.py)."""
        for key in keys:
            logger.warning("access group %s: resuming %s[%d] without state: rebuilding open alerts from the "
                           "database", self.settings.group_id, *key)
        ACCESS_STATE_REBUILDS.labels(self.settings.group_id).inc(len(keys))
        topics = {topic for topic, _ in keys}
        items = [item for topic in topics for group in self.index.groups_for_topic(topic)
                 for agg in group.aggs for item in agg.items]
        try:
            alerts = open_alerts(items)
        except DatabaseError as exc:
            # a rebalance callback must not die; the alerts stay open until the manager or a later rebuild
            logger.error("access group %s: could not read the open alerts to rebuild %s: %s; their recoveries "
                         "will not be emitted by this assignment", self.settings.group_id, keys, exc)
            return
        for key in keys:
            count = seed(self.states[key], self.index, key[0], alerts)
            self._dirty.add(key)
            logger.info("access group %s: %s[%d] rebuilt with %d open alerts", self.settings.group_id, *key, count)

    # idle partitions
    def _check_idle(self) -> None:
        """A partition that got no message for `idle_seconds` while caught up follows its topic's
        event-time clock (the highest max_time of the group's other partitions, never past the wall
        clock), so its silent series still get no-data and their alerts close. A partition behind
        (lag) is never idle: a backlog is not silence. docs/ARCHITECTURE.md, Semantics: idle partitions."""
        now = time.monotonic()
        if now - self._last_idle_check < IDLE_CHECK_EVERY:
            return
        self._last_idle_check = now
        for key in [k for k in self._idle_since if k not in self.states]:
            del self._idle_since[key]
        for key, state in self.states.items():
            seen = self._idle_since.get(key)
            if seen is None or seen[0] != state.offset:
                self._idle_since[key] = (state.offset, now)
        quiet = [key for key, (offset, since) in self._idle_since.items()
                 if offset is not None and now - since >= self.settings.idle_seconds]
        if not quiet:
            return
        try:
            clocks = self._topic_clocks({topic for topic, _ in quiet})
            candidates = [key for key in quiet if clocks.get(key, 0) > self.states[key].windows.max_time]
            highs = self.consumer.watermarks(candidates) if candidates else {}
        except (redis.RedisError, KafkaStorageError) as exc:
            logger.warning("access group %s: idle check skipped: %s", self.settings.group_id, exc)
            return
        advanced = set()
        for key in candidates:
            state = self.states[key]
            if state.offset is not None and state.offset >= highs[key][1]:
                state.windows.max_time = clocks[key]
                advanced.add(key)
        if advanced:
            ACCESS_IDLE_ADVANCES.labels(self.settings.group_id).inc(len(advanced))
            self._close(advanced)
            self._dirty |= advanced  # the advanced clock goes into the snapshot: replays resume from it

    def _topic_clocks(self, topics: set[str]) -> dict[TP, int]:
        """Per partition of these topics: the highest max_time of the topic's other partitions (this
        process's, and the group's progress records written recently), capped at the wall clock."""
        latest: dict[TP, int] = {key: s.windows.max_time for key, s in self.states.items() if key[0] in topics}
        fresh_after = time.time() - self.settings.idle_seconds - 2 * self.settings.snapshot_interval
        for field, raw in self.redis.hgetall(self.progress_key).items():
            topic, _, partition = field.decode().rpartition(":")
            record = orjson.loads(raw)
            key = (topic, int(partition))
            if topic in topics and key not in self.states and record.get("updated", 0) >= fresh_after:
                latest[key] = max(latest.get(key, 0), int(record.get("max_time") or 0))
        wall = int(time.time())
        return {key: min(wall, max((t for k, t in latest.items() if k[0] == key[0] and k != key), default=0))
                for key in self.states if key[0] in topics}

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
        if self._save_state:
            try:
                self.checkpoint(only=set(lost))
            except Exception as exc:
                self.outage.tolerate(exc, f"handing over {lost} with their state (the new owner replays them "
                                          f"from their last snapshot)")
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
