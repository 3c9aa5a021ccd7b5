"""Strategy fixtures: a result table with its Kafka storage, a valid config, API clients by permission."""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from metadata.models import ClusterInfo, KafkaStorage, ResultTable

BASE = "/api/v1/strategies/"
TABLE = "system.cpu_summary"

CONFIG: dict[str, Any] = {
    "name": "CPU usage high", "bk_biz_id": 2, "is_enabled": True,
    "items": [{"name": "cpu usage",
               "query_configs": [{"data_type_label": "time_series", "result_table_id": TABLE,
                                  "metric_field": "usage", "agg_method": "AVG", "agg_interval": 60,
                                  "agg_dimension": ["bk_target_ip"],
                                  "agg_condition": [{"key": "bk_target_ip", "method": "eq",
                                                     "value": ["10.0.0.1"]}]}],
               "algorithms": [{"level": 1, "type": "Threshold",
                               "config": [[{"method": "gte", "threshold": 90}]]}],
               "no_data_config": {"is_enabled": False, "continuous": 5, "level": 2}}],
    "detects": [{"level": 1, "connector": "and",
                 "trigger_config": {"count": 3, "check_window": 5,
                                    "uptime": {"time_ranges": [{"start": "00:00", "end": "23:59"}]}},
                 "recovery_config": {"check_window": 5, "status_setter": "recovery"}}],
    "notice": {"user_groups": [1], "signal": ["abnormal", "recovered"]},
}


@pytest.fixture
def result_table(db) -> ResultTable:
    cluster = ClusterInfo.objects.create(cluster_name="strategies-offline", domain_name="127.0.0.1", port=1)
    KafkaStorage.objects.create(table_id=TABLE, storage_cluster=cluster)
    return ResultTable.objects.create(table_id=TABLE)


@pytest.fixture
def config(result_table) -> dict[str, Any]:
    """A fresh copy of the docs/ARCHITECTURE.md strategy example (Data contracts: strategy), valid against
    the fixture's result table."""
    return copy.deepcopy(CONFIG)


def make_user(name: str, *codenames: str) -> User:
    user = User.objects.create_user(name, password="pw")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="bkmonitor", codename__in=codenames))
    return user


@pytest.fixture
def writer(db) -> APIClient:
    client = APIClient()
    client.force_login(make_user("writer", "add_strategy", "change_strategy", "delete_strategy", "view_strategy"))
    return client


@pytest.fixture
def reader(db) -> APIClient:
    client = APIClient()
    client.force_login(make_user("reader"))
    return client


@pytest.fixture
def create(writer, config) -> Callable[..., dict[str, Any]]:
    """POST a strategy (the fixture config, with top-level overrides) and return the response JSON."""

    def make(**overrides: Any) -> dict[str, Any]:
        response = writer.post(BASE, {**copy.deepcopy(config), **overrides}, format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return make
