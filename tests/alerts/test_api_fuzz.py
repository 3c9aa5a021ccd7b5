"""Schema-driven fuzzing of the alert and event API (filters, ids, ack/close bodies): never a 5xx."""
from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from bkmonitor.alerts.builder import apply_events
from bkmonitor.models import Alert, Event
from tests.alerts.conftest import make_event
from tests.fuzz import fuzz_operation

PREFIXES = ("/api/v1/alerts/", "/api/v1/events/")
EXAMPLES_PER_OPERATION = 15


def operations():
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith(PREFIXES):
            yield operation


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_fuzzing_the_alert_api_from_its_schema_finds_no_server_error(transactional_db, mode):
    user = User.objects.create_superuser("fuzz", "f@example.com", "pw")
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    apply_events([make_event(1_700_000_000 + 60 * i, key=f"k{i % 3}", severity=1 + i % 3) for i in range(9)])
    pins = {"/api/v1/alerts/": Alert.objects.order_by("id").first().id,
            "/api/v1/events/": Event.objects.order_by("id").first().id}
    app = get_wsgi_application()
    failures: list[str] = []
    checked = 0
    for operation in operations():
        for pinned in ([None, {"id": pins[operation.path[:15]]}] if "{id}" in operation.path else [None]):
            if not fuzz_operation(operation, app=app, headers=headers, mode=mode, pinned=pinned,
                                  max_examples=EXAMPLES_PER_OPERATION, failures=failures):
                continue
            checked += 1
    assert not failures, "\n".join(failures[:20])
    assert checked >= 6
