"""Observability: Prometheus metrics of the pipeline stages, readiness checks, and the
small HTTP server each long-running process serves them on."""
