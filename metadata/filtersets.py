"""django-filter filtersets for the metadata API (exact and `__in`-style lookups)."""
from __future__ import annotations

import django_filters as filters

from config.api.filtersets import IntegerFilter, StrictFilterSet, column_range

from metadata.choices import ClusterType, SyncStatus
from metadata.models import ClusterInfo, DataSource, KafkaStorage, KafkaTopicInfo, ResultTable

DATA_ID_MIN, DATA_ID_MAX = column_range(DataSource._meta.get_field("bk_data_id"))


class ClusterInfoFilterSet(StrictFilterSet):
    cluster_type = filters.MultipleChoiceFilter(choices=ClusterType.choices)

    class Meta:
        model = ClusterInfo
        fields = {"cluster_name": ["exact", "icontains"], "is_default_cluster": ["exact"],
                  "security_protocol": ["exact"], "domain_name": ["exact", "icontains"]}


class DataSourceFilterSet(StrictFilterSet):
    class Meta:
        model = DataSource
        fields = {"bk_data_id": ["exact", "gte", "lte"], "data_name": ["exact", "icontains"],
                  "is_enabled": ["exact"], "mq_cluster": ["exact"], "etl_config": ["exact"],
                  "bk_tenant_id": ["exact"]}


class KafkaTopicInfoFilterSet(StrictFilterSet):
    bk_data_id = IntegerFilter(field_name="data_source__bk_data_id", min_value=DATA_ID_MIN,
                               max_value=DATA_ID_MAX)
    sync_status = filters.MultipleChoiceFilter(choices=SyncStatus.choices)

    class Meta:
        model = KafkaTopicInfo
        fields = {"topic": ["exact", "icontains"], "data_source": ["exact"]}


class ResultTableFilterSet(StrictFilterSet):
    bk_data_id = IntegerFilter(field_name="data_sources__bk_data_id", distinct=True, min_value=DATA_ID_MIN,
                               max_value=DATA_ID_MAX)

    class Meta:
        model = ResultTable
        fields = {"table_id": ["exact", "icontains", "startswith"], "bk_biz_id": ["exact"],
                  "is_enabled": ["exact"], "schema_type": ["exact"], "default_storage": ["exact"],
                  "bk_tenant_id": ["exact"]}


class KafkaStorageFilterSet(StrictFilterSet):
    sync_status = filters.MultipleChoiceFilter(choices=SyncStatus.choices)

    class Meta:
        model = KafkaStorage
        fields = {"table_id": ["exact", "icontains", "startswith"], "topic": ["exact", "icontains"],
                  "storage_cluster": ["exact"], "is_enabled": ["exact"], "bk_tenant_id": ["exact"],
                  "partition": ["exact", "gte", "lte"]}
