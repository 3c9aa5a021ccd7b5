"""Fixtures for the fault tests: the access stage's world (a metric topic registered in metadata, an
event topic, the API), shared with tests/access."""
from __future__ import annotations

from tests.access.conftest import world  # noqa: F401 - a fixture, registered by being imported here
