"""Make Kafka match the metadata, or say precisely how it differs.

`compute_drift` is pure (plain data in, plain data out); `reconcile` talks to
one cluster through the Kafka layer's TopicManager; `reconcile_all` walks every
managed topic, cluster by cluster, within a time budget per cluster.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone

from alarm_backends.core.kafka.errors import (
    BrokerUnavailable,
    KafkaStorageError,
    TopicAlreadyExists,
    TopicNotFound,
    UnsupportedByBroker,
)
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.topics import TopicDescription, TopicManager
from metadata.choices import SyncStatus
from metadata.crypto import SecretDecryptionError

logger = logging.getLogger(__name__)

PARTITIONS = "partitions"
REPLICATION_FACTOR = "replication_factor"
MIN_CALL_TIMEOUT = 0.5
BROKER_DEFAULT = None  # a config absent from the live description: the broker's default applies


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_description(cls, live: TopicDescription) -> TopicSpec:
        return cls(live.name, live.partition_count, live.replication_factor, dict(live.configs))


@dataclass(frozen=True)
class Drift:
    attribute: str
    desired: int | str
    live: int | str | None
    fixable: bool
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        live = "broker default" if self.live is BROKER_DEFAULT else self.live
        text = f"{self.attribute}: desired {self.desired}, live {live}"
        return f"{text} ({self.reason})" if self.reason else text


def _normalize(key: str, value: str) -> object:
    value = str(value).strip()
    if key == "cleanup.policy":
        return frozenset(p.strip().lower() for p in value.split(",") if p.strip())
    try:
        return int(value)
    except ValueError:
        return value.lower()


def compute_drift(desired: TopicSpec, live: TopicSpec) -> list[Drift]:
    """Differences that matter, attribute by attribute. Configs we do not manage are ignored."""
    drift: list[Drift] = []
    if live.partitions < desired.partitions:
        drift.append(Drift(PARTITIONS, desired.partitions, live.partitions, True))
    elif live.partitions > desired.partitions:
        drift.append(Drift(PARTITIONS, desired.partitions, live.partitions, False,
                           f"cannot decrease partitions from {live.partitions} to {desired.partitions}: "
                           "Kafka only adds partitions; create a new topic to shrink"))
    if live.replication_factor != desired.replication_factor:
        drift.append(Drift(REPLICATION_FACTOR, desired.replication_factor, live.replication_factor, False,
                           "changing the replication factor needs a partition reassignment; "
                           "not done automatically"))
    for key, want in sorted(desired.configs.items()):
        have = live.configs.get(key)
        if have is None or _normalize(key, have) != _normalize(key, want):
            drift.append(Drift(key, want, have, True))
    return drift


@dataclass
class ReconcileResult:
    topic: str
    status: str
    dry_run: bool
    drift: list[Drift] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    error: str = ""
    live: dict[str, object] | None = None
    checked_at: str = field(default_factory=lambda: timezone.now().isoformat())

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["drift"] = [d.as_dict() for d in self.drift]
        return data

    def summary(self) -> str:
        parts = [f"{self.topic}: {self.status}"]
        if self.actions:
            parts.append("; ".join(self.actions))
        if self.refused:
            parts.append("refused: " + "; ".join(self.refused))
        if self.drift:
            parts.append("drift: " + "; ".join(str(d) for d in self.drift))
        if self.error:
            parts.append(self.error)
        return " - ".join(parts)


class TopicTarget(Protocol):
    """What reconcile needs from a model (KafkaStorage, KafkaTopicInfo)."""

    def topic_spec(self) -> TopicSpec: ...
    def topic_cluster(self) -> Any: ...
    def kafka_cluster_config(self) -> KafkaClusterConfig: ...
    def record_sync(self, result: ReconcileResult) -> None: ...


def describe_live(live: TopicDescription) -> dict[str, object]:
    return {
        "name": live.name,
        "partitions": live.partition_count,
        "replication_factor": live.replication_factor,
        "configs": dict(sorted(live.configs.items())),
        "partition_details": [
            {"id": p.id, "leader": p.leader, "replicas": list(p.replicas), "isrs": list(p.isrs)}
            for p in live.partitions
        ],
    }


def reconcile_with(manager: TopicManager, spec: TopicSpec, apply: bool) -> ReconcileResult:
    """One topic against one live cluster. Kafka errors propagate to the caller."""
    result = ReconcileResult(spec.name, SyncStatus.IN_SYNC, dry_run=not apply)
    try:
        live = manager.describe_topic(spec.name)
    except TopicNotFound:
        if not apply:
            result.status = SyncStatus.MISSING
            result.actions.append(f"would create topic with {spec.partitions} partition(s), "
                                  f"replication factor {spec.replication_factor}, configs {spec.configs}")
            return result
        try:
            manager.create_topic(spec.name, spec.partitions, spec.replication_factor, spec.configs)
            result.actions.append(f"created topic with {spec.partitions} partition(s), "
                                  f"replication factor {spec.replication_factor}, configs {spec.configs}")
        except TopicAlreadyExists:
            pass  # another worker created it a moment ago: compare with what is there now
        live = manager.describe_topic(spec.name)

    drift = compute_drift(spec, TopicSpec.from_description(live))
    if drift and apply:
        _apply(manager, spec, drift, result)
        live = manager.describe_topic(spec.name)
        drift = compute_drift(spec, TopicSpec.from_description(live))
    elif drift:
        result.actions.extend(f"would set {d}" for d in drift if d.fixable)
        result.refused.extend(f"{d.attribute}: {d.reason}" for d in drift if not d.fixable)
    result.drift = drift
    result.live = describe_live(live)
    result.status = SyncStatus.DRIFTED if drift else SyncStatus.IN_SYNC
    return result


def _apply(manager: TopicManager, spec: TopicSpec, drift: list[Drift], result: ReconcileResult) -> None:
    configs = {d.attribute: str(d.desired) for d in drift if d.fixable and d.attribute in spec.configs}
    if configs:
        manager.alter_topic(spec.name, config=configs)
        result.actions.append("altered configs " + ", ".join(f"{k}={v}" for k, v in sorted(configs.items())))
    for d in drift:
        if d.attribute == PARTITIONS and d.fixable:
            try:
                manager.alter_topic(spec.name, partitions=spec.partitions)
                result.actions.append(f"increased partitions from {d.live} to {d.desired}")
            except UnsupportedByBroker as exc:
                result.refused.append(f"partitions: cannot increase from {d.live} to {d.desired}: {exc}")
        elif not d.fixable:
            result.refused.append(f"{d.attribute}: {d.reason}")


def _failed(spec: TopicSpec, apply: bool, exc: BaseException) -> ReconcileResult:
    status = SyncStatus.CLUSTER_UNREACHABLE if isinstance(exc, BrokerUnavailable) else SyncStatus.ERROR
    return ReconcileResult(spec.name, status, dry_run=not apply, error=str(exc))


def reconcile(target: TopicTarget, apply: bool = True, timeout: float | None = None) -> ReconcileResult:
    spec = target.topic_spec()
    try:
        manager = TopicManager(target.kafka_cluster_config(), timeout=timeout)
        return reconcile_with(manager, spec, apply)
    except (ValueError, SecretDecryptionError) as exc:
        return ReconcileResult(spec.name, SyncStatus.ERROR, dry_run=not apply, error=f"cluster config: {exc}")
    except KafkaStorageError as exc:
        return _failed(spec, apply, exc)


# every managed topic


def managed_targets() -> list[TopicTarget]:
    from metadata.models import KafkaStorage, KafkaTopicInfo

    storages = KafkaStorage.objects.filter(is_enabled=True).select_related("storage_cluster")
    topics = KafkaTopicInfo.objects.filter(data_source__is_enabled=True).select_related("data_source__mq_cluster")
    return [*storages, *topics]


@dataclass
class ClusterRun:
    cluster: str
    results: list[tuple[TopicTarget, ReconcileResult]] = field(default_factory=list)
    skipped: list[TopicTarget] = field(default_factory=list)
    error: str = ""


def reconcile_all(apply: bool = True, targets: Iterable[TopicTarget] | None = None,
                  cluster_budget: float | None = None, timeout: float | None = None,
                  clock: Callable[[], float] = time.monotonic) -> list[ClusterRun]:
    """Reconcile every target, each cluster within its own time budget; records every status.

    Idempotent: a second run against an unchanged cluster finds nothing to do.
    """
    budget = cluster_budget if cluster_budget is not None else settings.METADATA_RECONCILE_CLUSTER_BUDGET_SECONDS
    by_cluster: dict[object, list[TopicTarget]] = defaultdict(list)
    for target in (managed_targets() if targets is None else targets):
        by_cluster[target.topic_cluster()].append(target)
    return [_reconcile_cluster(cluster, items, apply, budget, timeout, clock)
            for cluster, items in by_cluster.items()]


def _reconcile_cluster(cluster, targets: list[TopicTarget], apply: bool,  # type: ignore[no-untyped-def]
                       budget: float, timeout: float | None, clock: Callable[[], float]) -> ClusterRun:
    run = ClusterRun(cluster.cluster_name if cluster is not None else "-")
    deadline = clock() + budget
    # No single call may outlive the budget, but a call needs some time to succeed at all.
    per_call = max(MIN_CALL_TIMEOUT, min(timeout or settings.KAFKA_CLIENT_TIMEOUT_SECONDS, budget))
    try:
        manager = TopicManager(targets[0].kafka_cluster_config(), timeout=per_call)
        description = manager.describe_cluster()
        cluster.record_status(broker_count=len(description.brokers))
    except (ValueError, SecretDecryptionError, KafkaStorageError) as exc:
        run.error = str(exc) if isinstance(exc, KafkaStorageError) else f"cluster config: {exc}"
        if cluster is not None and isinstance(exc, KafkaStorageError):
            cluster.record_status(error=run.error)
        for target in targets:
            result = (_failed(target.topic_spec(), apply, exc) if isinstance(exc, KafkaStorageError)
                      else ReconcileResult(target.topic_spec().name, SyncStatus.ERROR, not apply, error=run.error))
            target.record_sync(result)
            run.results.append((target, result))
        return run
    for target in targets:
        if clock() >= deadline:
            run.skipped.append(target)
            continue
        spec = target.topic_spec()
        try:
            result = reconcile_with(manager, spec, apply)
        except KafkaStorageError as exc:
            result = _failed(spec, apply, exc)
        target.record_sync(result)
        run.results.append((target, result))
    if run.skipped:
        logger.warning("reconcile: cluster %s used its %ss budget; %d topic(s) left for the next run",
                       run.cluster, budget, len(run.skipped))
    return run
