"""What every REST endpoint shares: strict query parameters, ordering and pagination (see each module)."""
