from tests.access.conftest import World, world  # noqa: F401  (the same metric world, shared)
