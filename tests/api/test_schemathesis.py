"""Schemathesis against the whole API, from the schema the app serves, with every check it has.

Every operation is called with bounded, derandomized examples (schema-valid ones, with random and with
existing ids, and schema-violating ones), authenticated with a real token, against rows that exist.
Each response goes through all of schemathesis's checks: no server error, a status the schema
declares, a body and headers matching it, invalid data refused, valid data accepted, authentication
enforced. The Kafka operations talk to the embedded broker, the strategy change signal to Valkey.
"""
from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from bkmonitor.models import Alert, AlertLog, Event
from metadata.models import ClusterInfo, DataSource, KafkaStorage, KafkaTopicInfo, ResultTable
from tests.strategies.conftest import CONFIG, TABLE

EXAMPLES_PER_RUN = 10
#: A schema-valid body may still break a rule JSON Schema cannot state: a unique name already taken, a
#: referenced row that does not exist, a field that only goes with another one, a host name. For request
#: bodies, positive_data_acceptance is replaced by: such a refusal is a 400 naming fields of the body.
BODY_METHODS = ("POST", "PUT", "PATCH")
#: the first path segment after /api/v1/ (and metadata/) -> the fixture row a pinned run aims at
RESOURCE = re.compile(r"^/api/v1/(?:metadata/)?([\w-]+)/\{")


@dataclass
class Run:
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    statuses: set[tuple[str, int]] = field(default_factory=set)


def _broker_address(cluster: KafkaClusterConfig) -> tuple[str, int]:
    host, _, port = cluster.hosts[0].rpartition(":")
    return host, int(port)


def _rows(user: User, kafka_cluster: KafkaClusterConfig) -> dict[str, int]:
    """Rows the pinned runs aim at; writes to a cluster go to a spare one, so the broker's row stays right."""
    host, port = _broker_address(kafka_cluster)
    cluster = ClusterInfo.objects.create(cluster_name="fuzz", domain_name=host, port=port)
    spare = ClusterInfo.objects.create(cluster_name="fuzz-spare", domain_name=host, port=port)
    source = DataSource.objects.create(data_name="fuzz", mq_cluster=cluster)
    topic = KafkaTopicInfo.objects.create(data_source=source)
    storage = KafkaStorage.objects.create(table_id=TABLE, storage_cluster=cluster)
    table = ResultTable.objects.create(table_id=TABLE)
    table.data_sources.add(source)
    client = APIClient()
    client.force_authenticate(user)
    created = client.post("/api/v1/strategies/", copy.deepcopy(CONFIG), format="json")
    assert created.status_code == 201, created.content
    strategy = created.json()
    alert = Alert.objects.create(
        alert_name="fuzz", strategy_id=strategy["id"], item_id=strategy["items"][0]["id"], bk_biz_id=2, severity=1,
        dedupe_md5="f" * 32, dimensions={"bk_target_ip": "10.0.0.1"}, open_time=1_700_000_000,
        first_anomaly_time=1_700_000_000, begin_time=1_700_000_000, latest_time=1_700_000_060)
    event = Event.objects.create(
        event_id="fuzz-1", alert=alert, event_type="anomaly", strategy_id=alert.strategy_id, item_id=alert.item_id,
        alert_name="fuzz", severity=1, bk_biz_id=2, dedupe_md5=alert.dedupe_md5, time=1_700_000_000,
        anomaly_time=1_700_000_000, value=95.0)
    AlertLog.objects.create(alert=alert, dedupe_md5=alert.dedupe_md5, time=1_700_000_000, op="CREATE",
                            event_id=event.event_id)
    return {"clusters": cluster.pk, "clusters-write": spare.pk, "data-sources": source.pk,
            "kafka-topic-infos": topic.pk, "kafka-storages": storage.pk,
            "result-tables": table.pk, "strategies": strategy["id"], "alerts": alert.pk, "events": event.pk}


def _pins(operation: Any, rows: dict[str, int]) -> list[dict[str, int] | None]:
    """Random ids always; for a detail route also the fixture row, so the run gets past the 404."""
    match = RESOURCE.match(operation.path)
    if match is None:
        return [None]
    resource = match.group(1)
    if resource == "clusters" and operation.method.upper() in ("PUT", "PATCH", "DELETE"):
        resource = "clusters-write"
    name = re.search(r"\{(\w+)\}", operation.path).group(1)
    return [None, {name: rows[resource]}]


def _operations(schema: Any) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    # Deletes last, so the rows the other operations aim at still exist while they run.
    return sorted(found, key=lambda op: op.method.upper() == "DELETE")


def _names_body_fields(case: Any, errors: dict[str, Any]) -> None:
    sent = case.body if isinstance(case.body, dict) else {}
    named = {key.split(".")[0].split("[")[0] for key in errors}
    assert named and named <= set(sent) | {"non_field_errors"}, f"a 400 that names no field of the body: {errors}"


def _fuzz(operation: Any, mode: GenerationMode, pinned: dict[str, int] | None, headers: dict[str, str],
          run: Run) -> None:
    @settings(max_examples=EXAMPLES_PER_RUN, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=pinned))
    def call(case: Any) -> None:
        response = case.call(headers=headers)
        run.requests += 1
        run.statuses.add((operation.label, response.status_code))
        body_rules = operation.method.upper() in BODY_METHODS and mode is GenerationMode.POSITIVE
        try:
            case.validate_response(response, headers=headers, transport_kwargs={"headers": headers},
                                   excluded_checks=[positive_data_acceptance] if body_rules else None)
            if body_rules and response.status_code == 400:
                _names_body_fields(case, response.json())
        except (BaseExceptionGroup, AssertionError) as failed:
            # schemathesis's FailureGroup: one entry per failed check
            run.failures.append(f"{operation.label} [{mode.value}] {case.formatted_path} query={case.query} "
                                f"body={case.body!r:.300} -> {response.status_code} {response.text[:300]}\n"
                                f"{failed}")

    # e.g. a negative run whose only input is pinned: nothing left to break
    with contextlib.suppress(Unsatisfiable):
        call()


@pytest.fixture
def fuzz_run(transactional_db: None, kafka_cluster: KafkaClusterConfig, redis_url: str) -> Iterator[Run]:
    user = User.objects.create_superuser("fuzz", "fuzz@example.com", "pw")
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    rows = _rows(user, kafka_cluster)
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), headers=headers)
    run = Run()
    operations = _operations(schema)
    for operation in operations:
        for pinned in _pins(operation, rows):
            _fuzz(operation, GenerationMode.POSITIVE, pinned, headers, run)
        _fuzz(operation, GenerationMode.NEGATIVE, None, headers, run)
    run.statuses.add(("operations", len(operations)))
    yield run


def test_every_operation_answers_only_statuses_and_bodies_its_schema_declares_and_never_a_server_error(
        fuzz_run: Run) -> None:
    assert fuzz_run.failures == [], f"{len(fuzz_run.failures)} failures:\n\n" + "\n\n".join(fuzz_run.failures[:40])
    operations = dict(fuzz_run.statuses).get("operations", 0)
    assert operations >= 54, operations  # every operation of both APIs
    assert fuzz_run.requests >= 1400, fuzz_run.requests  # bounded: 10 examples per run, three runs per route
    # The pinned runs got past the 404 into the operations themselves.
    assert {("GET /api/v1/alerts/{id}/", 200), ("POST /api/v1/alerts/{id}/ack/", 200),
            ("GET /api/v1/metadata/kafka-storages/{id}/status/", 200), ("POST /api/v1/strategies/{id}/disable/", 200)} \
        <= fuzz_run.statuses
