"""Provision an APM application's data sources and topics; disable or delete without losing data silently."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from alarm_backends.core.kafka.errors import TopicNotFound
from alarm_backends.core.kafka.topics import TopicManager
from apm.models import ApmApplication, ApmDataSource
from metadata.choices import ClusterType
from metadata.models import ClusterInfo, DataSource, KafkaTopicInfo, ResultTable
from metadata.reconcile import ReconcileResult

ETL_CONFIG = {ApmDataSource.Kind.TRACE: "bk_flat_batch", ApmDataSource.Kind.METRIC: "bk_standard_v2_time_series"}
TYPE_LABEL = {ApmDataSource.Kind.TRACE: "log", ApmDataSource.Kind.METRIC: "time_series"}


def default_kafka_cluster() -> ClusterInfo:
    cluster = ClusterInfo.objects.filter(cluster_type=ClusterType.KAFKA, is_default_cluster=True).first()
    if cluster is None:
        raise ValueError("cluster: no default kafka cluster is configured; choose one")
    return cluster


def apm_topic(app: ApmApplication, kind: str) -> str:
    return f"{settings.KAFKA_TOPIC_PREFIX}_apm_{app.bk_biz_id}_{app.app_name}_{kind}"


def apm_table_id(app: ApmApplication, kind: str) -> str:
    return f"{app.bk_biz_id}_bkapm_{kind}_{app.app_name}.__default__"


def provision_application(app: ApmApplication, cluster: ClusterInfo | None = None, partitions: int = 1,
                          sync: bool = True) -> list[ReconcileResult]:
    """Save the application with a trace and a metric data source, each with its topic and result table.

    sync=True creates the topics now (results returned); otherwise the periodic reconcile does it.
    """
    cluster = cluster or default_kafka_cluster()
    with transaction.atomic():
        app.full_clean()
        app.save()
        for kind in ApmDataSource.Kind.values:
            source = DataSource(data_name=f"bkapm_{app.bk_biz_id}_{app.app_name}_{kind}", mq_cluster=cluster,
                                etl_config=ETL_CONFIG[kind], type_label=TYPE_LABEL[kind], creator=app.creator,
                                is_enabled=app.is_enabled)
            source.full_clean(exclude=["bk_data_id"])
            source.save()
            info = KafkaTopicInfo(data_source=source, topic=apm_topic(app, kind), partition=partitions)
            info.full_clean()
            info.save()
            table = ResultTable(table_id=apm_table_id(app, kind), bk_biz_id=app.bk_biz_id, labels=["apm", kind])
            table.full_clean()
            table.save()
            table.data_sources.add(source)
            ApmDataSource.objects.create(application=app, kind=kind, data_source=source, result_table_id=table.table_id,
                                         app_name=app.app_name, bk_biz_id=app.bk_biz_id)
    infos = [s.data_source.kafka_topic for s in app.data_sources.select_related("data_source__kafka_topic")]
    if sync:
        return [info.ensure_topic(apply=True) for info in infos]
    from metadata.tasks import sync_topic_infos

    ids = [info.pk for info in infos]
    transaction.on_commit(lambda: sync_topic_infos.delay(ids))
    return []


def set_enabled(app: ApmApplication, enabled: bool) -> None:
    """Disabling stops consuming and reconciling; topics and data stay."""
    with transaction.atomic():
        app.is_enabled = enabled
        app.save(update_fields=["is_enabled", "update_time"])
        DataSource.objects.filter(apm__application=app).update(is_enabled=enabled)


@dataclass
class DeleteReport:
    kept_topics: list[str] = field(default_factory=list)
    deleted_topics: list[str] = field(default_factory=list)


def delete_application(app: ApmApplication, delete_topics: bool = False, timeout: float | None = None) -> DeleteReport:
    """Delete the application. Topics (and their data sources, disabled) are kept unless delete_topics."""
    report = DeleteReport()
    sources = list(ApmDataSource.objects.filter(application=app).select_related("data_source__kafka_topic",
                                                                               "data_source__mq_cluster"))
    if not delete_topics:
        with transaction.atomic():
            DataSource.objects.filter(apm__in=sources).update(is_enabled=False)
            app.delete()
        report.kept_topics = [s.topic for s in sources]
        return report
    # Kafka first: if a topic cannot be deleted, nothing is removed from the database either.
    for source in sources:
        info = source.data_source.kafka_topic
        with contextlib.suppress(TopicNotFound):
            TopicManager(info.kafka_cluster_config(), timeout=timeout).delete_topic(info.topic)
        report.deleted_topics.append(info.topic)
    with transaction.atomic():
        for source in sources:
            ResultTable.objects.filter(table_id=source.result_table_id).delete()
            data_source = source.data_source
            source.delete()
            data_source.delete()
        app.delete()
    return report
