from tests.metadata.conftest import kafka_row, unreachable_row  # noqa: F401  (shared ClusterInfo fixtures)
