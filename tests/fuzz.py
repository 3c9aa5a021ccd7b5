"""One schemathesis operation run against the WSGI app: any 5xx is recorded, never raised."""
from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable


def fuzz_operation(operation: Any, *, app: Any, headers: dict[str, str], mode: Any, pinned: dict[str, Any] | None,
                   max_examples: int, failures: list[str]) -> bool:
    """False when nothing could be generated (e.g. negative mode with every input pinned)."""

    @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=pinned))
    def call(case: Any) -> None:
        response = case.call(app=app, headers=headers)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} query={case.query} "
                            f"body={case.body!r:.300} -> {response.status_code} {response.text[:300]}")

    try:
        call()
    except Unsatisfiable:
        return False
    return True
