"""The periodic half of the alert manager (issue 5): sweeps that need no message to trigger them.

Decisions are pure functions over plain data (`strategy_checks`, `health`, `nodata`); `checks` reads the
database, Redis and Kafka, decides, and applies the outcome as events through the alert builder, so
every effect is idempotent by event id. Each check runs under a Redis lock (`lock`).
"""
