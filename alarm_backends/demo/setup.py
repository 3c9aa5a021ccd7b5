"""The demo's configuration: the embedded cluster in metadata, a result table and
its topic for the machine-temperature series, a few strategies, and a login."""
from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.errors import TopicAlreadyExists
from alarm_backends.core.kafka.topics import TopicManager
from bkmonitor.api.serializers import StrategySerializer
from bkmonitor.models import Strategy
from bkmonitor.strategies.write import save_strategy
from metadata.models import ClusterInfo, KafkaStorage, ResultTable

TABLE = "demo.machine_temperature"
TOPIC = "bkm_demo_machine_temperature"
HOST = "machine-1"


def _detect(level: int, count: int, window: int, recovery: int) -> dict[str, Any]:
    return {"level": level, "connector": "and", "trigger_config": {"count": count, "check_window": window},
            "recovery_config": {"check_window": recovery, "status_setter": "recovery"}}


def _item(name: str, algorithms: list[dict[str, Any]], agg: str = "AVG") -> dict[str, Any]:
    return {"name": name, "query_configs": [{
        "data_type_label": "time_series", "result_table_id": TABLE, "metric_field": "temperature",
        "agg_method": agg, "agg_interval": 300, "agg_dimension": ["bk_target_ip"], "agg_condition": []}],
        "algorithms": algorithms, "no_data_config": {"is_enabled": False, "continuous": 5, "level": 2}}


STRATEGIES: list[dict[str, Any]] = [
    {"name": "Machine temperature too low (failure precursor)", "bk_biz_id": 2, "is_enabled": True, "labels": ["demo"],
     "items": [_item("temperature low", [
         {"level": 1, "type": "Threshold", "config": [[{"method": "lte", "threshold": 30}]]},
         {"level": 2, "type": "Threshold", "config": [[{"method": "lte", "threshold": 50}]]}])],
     "detects": [_detect(1, 3, 5, 3), _detect(2, 3, 5, 3)],
     "notice": {"user_groups": [], "signal": ["abnormal", "recovered"]}},
    {"name": "Machine temperature sudden drop", "bk_biz_id": 2, "is_enabled": True, "labels": ["demo"],
     "items": [_item("temperature drop", [
         {"level": 3, "type": "SimpleRingRatio", "config": {"floor": 25, "ceil": 0}}])],
     "detects": [_detect(3, 1, 1, 2)],
     "notice": {"user_groups": [], "signal": ["abnormal"]}},
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str | None  # None when an existing user kept its password (stored hashed: nobody can print it)
    token: str


def ensure_metadata(cluster: KafkaClusterConfig) -> None:
    host, port = cluster.bootstrap_servers.split(",")[0].rsplit(":", 1)
    with transaction.atomic():
        kafka, _ = ClusterInfo.objects.update_or_create(
            cluster_name="demo-kafka", defaults={"domain_name": host, "port": int(port), "cluster_type": "kafka"})
        ResultTable.objects.get_or_create(table_id=TABLE, defaults={"bk_biz_id": 2})
        KafkaStorage.objects.update_or_create(table_id=TABLE, defaults={"topic": TOPIC, "partition": 1,
                                                                        "storage_cluster": kafka})
    topics = TopicManager(cluster)
    if not topics.topic_exists(TOPIC):
        with contextlib.suppress(TopicAlreadyExists):
            topics.create_topic(TOPIC, partitions=1, config={"retention.ms": "-1"})


def ensure_strategies() -> list[Strategy]:
    created = []
    for config in STRATEGIES:
        existing = Strategy.objects.filter(name=config["name"]).first()
        if existing is not None:
            created.append(existing)
            continue
        serializer = StrategySerializer(data=config)
        serializer.is_valid(raise_exception=True)
        created.append(save_strategy(serializer.validated_data, user="demo"))
    return created


def ensure_login(username: str = "admin", password: str | None = None) -> DemoLogin:
    """The demo's superuser and API token. A new user gets `password` or a random one; an existing user
    gets `password` only when one is given (how a developer resets the demo's login) and otherwise
    keeps its own. The token is kept: it is this development machine's own user."""
    user = User.objects.filter(username=username).first()
    if user is None:
        password = password or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username, password=password)
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    token, _ = Token.objects.get_or_create(user=user)
    return DemoLogin(username, password, token.key)
