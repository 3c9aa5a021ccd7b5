"""Typed reads from an algorithm config; each failure names its field and rule."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from alarm_backends.service.detect.errors import AlgorithmConfigError

_MISSING = object()


def mapping(value: Any, field: str, allowed_keys: Collection[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AlgorithmConfigError(field, f"must be an object, got {type(value).__name__}")
    unknown = sorted(str(key) for key in value if key not in allowed_keys)
    if unknown:
        raise AlgorithmConfigError(
            f"{field}.{unknown[0]}", f"unknown key; allowed keys are {', '.join(sorted(allowed_keys))}"
        )
    return value


def is_number(value: Any) -> bool:
    # bool is an int subclass, but `true` is never a meaningful threshold
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _required(config: Mapping[str, Any], key: str, field: str, nullable: bool, kind: str) -> tuple[str, Any]:
    """(path, value) of a key that must be present; None only when null is allowed."""
    path = f"{field}.{key}"
    value = config.get(key, _MISSING)
    if value is _MISSING:
        raise AlgorithmConfigError(path, "is required")
    if value is None and not nullable:
        raise AlgorithmConfigError(path, f"must be {kind}, got null")
    return path, value


def number(
    config: Mapping[str, Any],
    key: str,
    field: str,
    *,
    minimum: float | None = None,
    below: float | None = None,
    nullable: bool = False,
) -> float | None:
    """A finite number, optionally in [minimum, below); None only if `nullable`."""
    path, value = _required(config, key, field, nullable, "a number")
    if value is None:
        return None
    if not is_number(value):
        raise AlgorithmConfigError(path, f"must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise AlgorithmConfigError(path, f"must be >= {minimum:g}, got {value!r}")
    if below is not None and value >= below:
        raise AlgorithmConfigError(path, f"must be < {below:g}, got {value!r}")
    return float(value)


def integer(
    config: Mapping[str, Any],
    key: str,
    field: str,
    *,
    minimum: int,
    maximum: int,
    nullable: bool = False,
) -> int | None:
    """An integer in [minimum, maximum]; None only if `nullable`."""
    path, value = _required(config, key, field, nullable, "an integer")
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise AlgorithmConfigError(path, f"must be an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise AlgorithmConfigError(path, f"must be between {minimum} and {maximum}, got {value!r}")
    return value


def choice(
    config: Mapping[str, Any],
    key: str,
    field: str,
    choices: Collection[str],
    *,
    default: str | None = None,
) -> str:
    path = f"{field}.{key}"
    value = config.get(key, _MISSING)
    if value is _MISSING:
        if default is None:
            raise AlgorithmConfigError(path, "is required")
        return default
    if not isinstance(value, str) or value not in choices:
        raise AlgorithmConfigError(path, f"must be one of {', '.join(choices)}, got {value!r}")
    return value
