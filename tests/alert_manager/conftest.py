"""Alert manager fixtures: a strategy stored through the API, alerts opened through the builder with the
access stage's own events, and the manager's settings scoped to a fresh access group per test."""
from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
import redis
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from alarm_backends.core.storage.redis import get_client
from alarm_backends.service.access.data.runner import progress_key
from alarm_backends.service.alert.manager.checks import LOCK_PREFIX, STATE_PREFIX, ManagerSettings
from alarm_backends.service.alert.manager.health import HealthLimits
from alarm_backends.service.trigger.event import build_event, build_status_event
from metadata.models import ClusterInfo, KafkaStorage, ResultTable

DIMENSIONS = {"bk_target_ip": "10.0.0.1"}
STRATEGY: dict[str, Any] = {
    "name": "CPU usage high", "bk_biz_id": 2, "is_enabled": True,
    "items": [{"name": "cpu usage",
               "query_configs": [{"data_type_label": "time_series", "result_table_id": "", "metric_field": "usage",
                                  "agg_method": "AVG", "agg_interval": 60, "agg_dimension": ["bk_target_ip"],
                                  "agg_condition": []}],
               "algorithms": [{"level": 1, "type": "Threshold", "config": [[{"method": "gte", "threshold": 90}]]},
                              {"level": 2, "type": "Threshold", "config": [[{"method": "gte", "threshold": 80}]]}],
               "no_data_config": {"is_enabled": True, "continuous": 5, "level": 2}}],
    "detects": [{"level": 1, "connector": "and",
                 "trigger_config": {"count": 1, "check_window": 1,
                                    "uptime": {"time_ranges": [{"start": "09:00", "end": "18:00"}]}},
                 "recovery_config": {"check_window": 5, "status_setter": "recovery"}},
                {"level": 2, "connector": "and", "trigger_config": {"count": 1, "check_window": 1},
                 "recovery_config": {"check_window": 5, "status_setter": "recovery"}}],
    "notice": {"user_groups": [], "signal": ["abnormal"]},
}


@dataclass
class Setup:
    api: APIClient
    table: str
    topic: str
    cfg: ManagerSettings
    redis: redis.Redis

    def create_strategy(self, **overrides: Any) -> dict[str, Any]:
        config = copy.deepcopy(STRATEGY)
        config["items"][0]["query_configs"][0]["result_table_id"] = self.table
        config.update(overrides)
        response = self.api.post("/api/v1/strategies/", config, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    def update_strategy(self, strategy: dict[str, Any], **changes: Any) -> dict[str, Any]:
        response = self.api.patch(f"/api/v1/strategies/{strategy['id']}/", changes, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    def write_progress(self, partition: int, *, updated: float, max_time: int, items: dict[str, int],
                       offset: int = 0) -> None:
        """A checkpoint record, as the access runner writes it."""
        self.redis.hset(progress_key(self.cfg.group), f"{self.topic}:{partition}", orjson.dumps({
            "updated": updated, "offset": offset, "max_time": max_time, "watermark": max_time, "late": 0,
            "items": items}))


def anomaly(strategy: dict[str, Any], t: int, level: int = 1, dimensions: dict[str, Any] | None = None,
            item: int = 0) -> dict[str, Any]:
    """The access stage's anomaly event for the strategy's item."""
    spec = strategy["items"][item]
    return build_event(strategy_id=strategy["id"], item_id=spec["id"], strategy_name=strategy["name"],
                       bk_biz_id=strategy["bk_biz_id"], level=level, t=t, value=95.0,
                       dimensions=DIMENSIONS if dimensions is None else dimensions, anomaly_times=[t],
                       uid=f"{strategy['id']}.{spec['id']}", interval=60, metric="usage", table_id="t", points=1)


def no_data(strategy: dict[str, Any], t: int, dimensions: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = strategy["items"][0]
    return build_status_event("no_data", strategy_id=strategy["id"], item_id=spec["id"],
                              strategy_name=strategy["name"], bk_biz_id=strategy["bk_biz_id"], level=2, t=t,
                              value=0.0, dimensions=DIMENSIONS if dimensions is None else dimensions)


@pytest.fixture
def setup(transactional_db: None, redis_url: str) -> Iterator[Setup]:
    suffix = uuid.uuid4().hex[:8]
    table, topic = f"am{suffix}.cpu", f"bkm_am_{suffix}"
    cluster = ClusterInfo.objects.create(cluster_name=f"am-{suffix}", domain_name="127.0.0.1", port=1)
    ResultTable.objects.create(table_id=table)
    KafkaStorage.objects.create(table_id=table, topic=topic, partition=2, storage_cluster=cluster)
    api = APIClient()
    api.force_authenticate(User.objects.create_superuser(f"am{suffix}", password="pw"))
    cfg = ManagerSettings(group=f"am-access-{suffix}", tz=ZoneInfo("UTC"), lock_ttl_ms=30_000,
                          limits=HealthLimits(stall_seconds=120, max_lag=1000, max_delay_seconds=900),
                          event_group=f"am-events-{suffix}")
    client = get_client(redis_url)
    yield Setup(api, table, topic, cfg, client)
    client.delete(progress_key(cfg.group), f"{STATE_PREFIX}{cfg.group}", progress_key(cfg.event_group),
                  f"{STATE_PREFIX}{cfg.event_group}",
                  *(f"{LOCK_PREFIX}{cfg.group}:{name}" for name in ("strategies", "pipeline", "flapping")))
