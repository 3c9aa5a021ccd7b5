"""The alert domain: lifecycle (pure), builder (events -> alerts, transactional), manual operations, sweeps."""
