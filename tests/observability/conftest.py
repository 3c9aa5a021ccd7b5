from tests.access.conftest import World, world  # noqa: F401  (the metric world of the access tests, shared)
