"""OffsetManager: committed offsets, tails and lag of one consumer group on one
topic, always per partition (never one number for a whole topic), and resets
like `kafka-consumer-groups --reset-offsets`."""
from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import OffsetSpec

from alarm_backends.core.kafka import admin
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.defaults import client_timeout, default_cluster
from alarm_backends.core.kafka.errors import ConsumerError, GroupHasActiveMembers, TopicNotFound
from alarm_backends.core.kafka.tail import first_offset_at_or_after
from alarm_backends.core.kafka.topics import validate_topic_name

RESET_TARGETS = ("earliest", "latest", "timestamp", "offsets")
_IDLE_STATES = {"EMPTY", "DEAD", "UNKNOWN"}


@dataclass(frozen=True)
class OffsetChange:
    partition: int
    old: int | None
    new: int


class OffsetManager:
    def __init__(self, group_id: str, topic: str, cluster: KafkaClusterConfig | None = None,
                 timeout: float | None = None) -> None:
        if not group_id:
            raise ValueError("group_id: a consumer group id is required")
        self.group_id = group_id
        self.topic = validate_topic_name(topic)
        self.cluster = cluster or default_cluster()
        self.timeout = timeout if timeout is not None else client_timeout()
        self._client = admin.admin_client(self.cluster, self.timeout)

    # reads
    def partitions(self) -> list[int]:
        md = admin.cluster_metadata(self._client, self.cluster, self.timeout, topic=self.topic)
        topic = md.topics.get(self.topic)
        if topic is None or not topic.partitions:
            raise TopicNotFound(self.topic)
        return sorted(topic.partitions)

    def get_offset(self) -> dict[int, int | None]:
        """Committed offset per partition (None where the group never committed)."""
        request = ConsumerGroupTopicPartitions(
            self.group_id, [TopicPartition(self.topic, p) for p in self.partitions()])
        futures = self._client.list_consumer_group_offsets([request], request_timeout=self.timeout)
        result = admin.call(self.cluster, self.timeout, f"list offsets of group {self.group_id!r}",
                            lambda: admin.wait(futures[self.group_id], self.timeout))
        return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in result.topic_partitions}

    def get_tail(self) -> dict[int, int]:
        """High watermark (next offset to be written) per partition."""
        return self._list_offsets(OffsetSpec.latest())

    def get_head(self) -> dict[int, int]:
        """Low watermark (first offset still stored) per partition."""
        return self._list_offsets(OffsetSpec.earliest())

    def offsets_for_timestamp(self, timestamp_ms: int) -> dict[int, int]:
        """Earliest offset whose timestamp is >= timestamp_ms, or the tail when none is."""
        found = self._list_offsets(OffsetSpec.for_timestamp(int(timestamp_ms)))
        tail = self.get_tail()
        exact = {}
        for p, o in found.items():
            start = o if o >= 0 else tail[p]
            first = first_offset_at_or_after(self.topic, p, start, int(timestamp_ms), self.cluster, self.timeout)
            exact[p] = first if first is not None else max(start, tail[p])
        return exact

    def lag(self) -> dict[int, int]:
        """Messages between the committed offset and the tail, per partition; a partition
        the group never committed counts from the first stored offset."""
        committed, tail = self.get_offset(), self.get_tail()
        head = self.get_head() if any(v is None for v in committed.values()) else {}
        return {p: max(0, tail[p] - (c if (c := committed.get(p)) is not None else head[p]))
                for p in tail}

    def total_lag(self) -> int:
        return sum(self.lag().values())

    def group_state(self) -> str:
        futures = self._client.describe_consumer_groups([self.group_id], request_timeout=self.timeout)
        description = admin.call(self.cluster, self.timeout, f"describe group {self.group_id!r}",
                                 lambda: admin.wait(futures[self.group_id], self.timeout))
        state = getattr(description.state, "name", str(description.state))
        # The embedded broker reports STABLE groups with no member list; trust the state.
        if state in _IDLE_STATES and description.members:
            return "STABLE"
        return state

    # writes
    def set_offset(self, offsets: dict[int, int] | int, force: bool = False) -> list[OffsetChange]:
        """Commit the given offsets for the group. Without force, a partition never moves
        backwards (a stale writer cannot undo progress) and a group with live members is
        left alone; with force, both guards are off."""
        partitions = self.partitions()
        wanted = {p: offsets for p in partitions} if isinstance(offsets, int) else dict(offsets)
        unknown = sorted(set(wanted) - set(partitions))
        if unknown:
            raise ConsumerError(f"topic {self.topic!r} has no partition(s) {unknown} (it has {partitions})")
        if any(o < 0 for o in wanted.values()):
            raise ConsumerError(f"offsets must be >= 0, got {wanted}")
        if not force:
            self._refuse_if_active()
        current = self.get_offset()
        changes = [OffsetChange(p, current.get(p), o) for p, o in sorted(wanted.items())
                   if force or current.get(p) is None or o > current[p]]  # type: ignore[operator]
        if changes:
            self._alter({c.partition: c.new for c in changes})
        return changes

    def reset_consumer_offset(self, to: str = "latest", *, timestamp_ms: int | None = None,
                              offsets: dict[int, int] | None = None, force: bool = False,
                              dry_run: bool = False) -> list[OffsetChange]:
        """Move the group to earliest, latest, a timestamp, or explicit offsets (backwards too).
        Refuses while the group has live members unless force."""
        if to not in RESET_TARGETS:
            raise ValueError(f"to: {to!r} is not one of {list(RESET_TARGETS)}")
        if to == "earliest":
            target = self.get_head()
        elif to == "latest":
            target = self.get_tail()
        elif to == "timestamp":
            if timestamp_ms is None:
                raise ValueError("timestamp_ms is required when to='timestamp'")
            target = self.offsets_for_timestamp(timestamp_ms)
        else:
            if not offsets:
                raise ValueError("offsets is required when to='offsets'")
            target = dict(offsets)
        if not force:
            self._refuse_if_active()
        current = self.get_offset()
        changes = [OffsetChange(p, current.get(p), o) for p, o in sorted(target.items())]
        if not dry_run:
            self._alter(target)
        return changes

    # helpers
    def _refuse_if_active(self) -> None:
        state = self.group_state()
        if state not in _IDLE_STATES:
            raise GroupHasActiveMembers(self.group_id, state)

    def _alter(self, offsets: dict[int, int]) -> None:
        request = ConsumerGroupTopicPartitions(
            self.group_id, [TopicPartition(self.topic, p, o) for p, o in sorted(offsets.items())])
        futures = self._client.alter_consumer_group_offsets([request], request_timeout=self.timeout)
        result = admin.call(self.cluster, self.timeout, f"alter offsets of group {self.group_id!r}",
                            lambda: admin.wait(futures[self.group_id], self.timeout))
        failed = [tp for tp in result.topic_partitions if tp.error is not None]
        if failed:
            raise ConsumerError(f"group {self.group_id!r}: offsets not stored for "
                                + ", ".join(f"partition {tp.partition}: {tp.error.str()}" for tp in failed))

    def _list_offsets(self, spec: OffsetSpec) -> dict[int, int]:
        request = {TopicPartition(self.topic, p): spec for p in self.partitions()}
        futures = self._client.list_offsets(request, request_timeout=self.timeout)
        return {tp.partition: admin.call(self.cluster, self.timeout, f"list offsets of {self.topic!r}",
                                         lambda f=f: admin.wait(f, self.timeout)).offset  # type: ignore[misc]
                for tp, f in futures.items()}


def groups_for_topic(topic: str, cluster: KafkaClusterConfig | None = None,
                     timeout: float | None = None) -> list[str]:
    """Consumer groups that have committed offsets on `topic`."""
    cluster = cluster or default_cluster()
    timeout = timeout if timeout is not None else client_timeout()
    client = admin.admin_client(cluster, timeout)
    listing = admin.call(cluster, timeout, "list consumer groups",
                         lambda: admin.wait(client.list_consumer_groups(request_timeout=timeout), timeout))
    found = []
    for group in sorted(g.group_id for g in listing.valid):
        futures = client.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)],
                                                     request_timeout=timeout)
        result = admin.call(cluster, timeout, f"list offsets of group {group!r}",
                            lambda g=group, f=futures: admin.wait(f[g], timeout))  # type: ignore[misc]
        if any(tp.topic == topic and tp.offset >= 0 for tp in result.topic_partitions or []):
            found.append(group)
    return found
