"""Schema-driven fuzzing of the strategy API (bodies, filters, ids), valid and invalid inputs: never a 5xx."""
from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.strategies.conftest import BASE, CONFIG
from tests.fuzz import fuzz_operation

EXAMPLES_PER_OPERATION = 10
# Whole-document bodies are slow to generate from the schema; test_fuzz.py damages them far more thoroughly.
EXAMPLES_PER_BODY_OPERATION = 2


def operations():
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    found = [result.ok() for result in schema.get_all_operations()]
    for operation in sorted(found, key=lambda op: op.method.upper() == "DELETE"):
        if operation.path.startswith(BASE):
            yield operation


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_fuzzing_the_strategy_api_from_its_schema_finds_no_server_error(transactional_db, result_table, mode):
    user = User.objects.create_superuser("fuzz", "f@example.com", "pw")
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    client = APIClient()
    client.force_authenticate(user)
    existing = client.post(BASE, CONFIG, format="json").json()["id"]
    app = get_wsgi_application()
    failures: list[str] = []
    checked = 0
    for operation in operations():
        pins: list[dict | None] = [None]
        if "{id}" in operation.path:
            pins.append({"id": existing})
        for pinned in pins:
            method = operation.method.upper()
            body = method in ("PUT", "PATCH") or (method == "POST" and operation.path == BASE)
            examples = EXAMPLES_PER_BODY_OPERATION if body else EXAMPLES_PER_OPERATION
            if not fuzz_operation(operation, app=app, headers=headers, mode=mode, pinned=pinned,
                                  max_examples=examples, failures=failures):
                continue  # negative mode with a pinned id and no body: nothing left to make invalid
            checked += 1
    assert checked >= 10
    assert failures == []
