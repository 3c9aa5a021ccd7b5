"""Schema-driven fuzzing of the metadata API: valid and invalid inputs from the OpenAPI schema, never a 5xx.

Bounded: a fixed number of examples per operation, derandomized so a failure reproduces. The live-Kafka
actions (sync, status, tail, consumer-groups) are left to the targeted tests: a 503 for an unreachable
cluster is their correct answer, not a server bug.
"""
from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from metadata.models import ClusterInfo, DataSource, KafkaStorage, KafkaTopicInfo, ResultTable
from tests.fuzz import fuzz_operation

EXAMPLES_PER_OPERATION = 12
LIVE_ACTIONS = ("/sync/", "/status/", "/tail/", "/consumer-groups/")


def operations():
    raw = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(raw)
    found = [result.ok() for result in schema.get_all_operations()]
    # Deletes last, so the rows the other operations aim at still exist.
    for operation in sorted(found, key=lambda op: op.method.upper() == "DELETE"):
        if operation.path.startswith("/api/v1/metadata/") and not operation.path.endswith(LIVE_ACTIONS):
            yield operation


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_fuzzing_the_metadata_api_from_its_schema_finds_no_server_error(transactional_db, mode):
    user = User.objects.create_superuser("fuzz", "f@example.com", "pw")
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    cluster = ClusterInfo.objects.create(cluster_name="fuzz", domain_name="127.0.0.1", port=1)
    source = DataSource.objects.create(data_name="fuzz", mq_cluster=cluster)
    topic = KafkaTopicInfo.objects.create(data_source=source)
    storage = KafkaStorage.objects.create(table_id="fuzz.t", storage_cluster=cluster)
    table = ResultTable.objects.create(table_id="fuzz.t")
    table.data_sources.add(source)
    # Half the runs aim at rows that exist, so detail operations get past the 404.
    existing = {"clusters": cluster.pk, "data-sources": source.pk, "kafka-topic-infos": topic.pk,
                "kafka-storages": storage.pk, "result-tables": table.pk}
    app = get_wsgi_application()
    failures: list[str] = []
    checked = 0
    for operation in operations():
        pins: list[dict | None] = [None]
        has_body = operation.method.upper() in ("POST", "PUT", "PATCH")
        if "{" in operation.path and (mode == schemathesis.GenerationMode.POSITIVE or has_body):
            name = "cluster_id" if "{cluster_id}" in operation.path else "id"
            pins.append({name: existing[operation.path.split("/")[4]]})
        for pinned in pins:
            fuzz_operation(operation, app=app, headers=headers, mode=mode, pinned=pinned,
                           max_examples=EXAMPLES_PER_OPERATION, failures=failures)
            checked += 1
    assert checked >= 41  # every CRUD operation of the five resources (random and real ids), plus the alias
    assert failures == []
