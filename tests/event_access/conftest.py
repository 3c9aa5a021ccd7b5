from tests.access.conftest import World, world  # noqa: F401  (the metric world; its topic carries custom events here)
