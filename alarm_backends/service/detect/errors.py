from __future__ import annotations


class AlgorithmConfigError(ValueError):
    """An algorithm dict that cannot be detected with; `field` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
