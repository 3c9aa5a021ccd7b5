"""Metric messages in the bk-monitor real-time format (docs/ARCHITECTURE.md, Data contracts: metric message).

One JSON object, or a JSON array of them, per Kafka message:
    {"time": 1573701305, "dimensions": {...}, "metrics": {"load1": 2.77}}
`time` is epoch seconds; a value above 1e12 is milliseconds. A trailing NUL or
newline is stripped. A message with any invalid point is rejected whole (and
dead-lettered by the caller), so a replay of the dead letter never double counts.

The usual shape (integer seconds, scalar dimensions, numeric metrics) is decoded
and type-checked in one C pass (msgspec, about twice as fast as decoding and
then checking in Python); anything else, valid or not, goes through the
orjson path, whose checks name what is wrong. Both accept the same messages
and give the same points, except that a metric sent as an integer arrives as
a float (aggregation is in floats either way).
"""
from __future__ import annotations

import math
from typing import Annotated, Any, NamedTuple, Union

import msgspec
import orjson

from alarm_backends.core.kafka.errors import InvalidMessage

_MS_THRESHOLD = 1e12
_NUMBERS = frozenset((int, float))  # bool is its own type; orjson never yields NaN or infinities
_NESTED = frozenset((dict, list))


class Point(NamedTuple):
    time: int  # epoch seconds
    dimensions: dict[str, Any]
    metrics: dict[str, float]
    # what makes two points at the same second of one series distinct; None = the dimensions
    identity: Any = None


_new_point = tuple.__new__  # Point(...) without the Python-level __new__ of a NamedTuple


class _UsualPoint(msgspec.Struct, gc=False):
    time: Annotated[int, msgspec.Meta(gt=0, lt=int(_MS_THRESHOLD))]
    metrics: Annotated[dict[str, float], msgspec.Meta(min_length=1)]
    dimensions: dict[str, Union[str, int, float, bool, None]] = {}


_decode_usual = msgspec.json.Decoder(Union[_UsualPoint, list[_UsualPoint]]).decode


def decode(raw: bytes | None) -> Any:
    """The JSON value of a message, after stripping a trailing NUL or newline."""
    if not raw:
        raise InvalidMessage("empty message")
    raw = raw.rstrip(b"\x00\n\r")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage(f"not JSON: {exc}") from None


def epoch_seconds(value: Any, where: str, name: str) -> int:
    if type(value) not in (int, float) or not math.isfinite(value) or value <= 0:
        raise InvalidMessage(f"{where}: {name!r} must be a positive epoch number, got {value!r}")
    return int(value / 1000 if value > _MS_THRESHOLD else value)


def check_dimensions(dimensions: Any, where: str, name: str) -> dict[str, Any]:
    if not isinstance(dimensions, dict):
        raise InvalidMessage(f"{where}: {name!r} must be an object")
    if not _NESTED.isdisjoint(map(type, dimensions.values())):
        for key, value in dimensions.items():
            if isinstance(value, (dict, list)):
                raise InvalidMessage(f"{where}: dimension {key!r} must be a scalar")
    return dimensions


def parse_metric_message(raw: bytes | None) -> list[Point]:
    if raw:
        try:
            usual = _decode_usual(raw.rstrip(b"\x00\n\r"))
        except msgspec.MsgspecError:
            pass  # not the usual shape: the checks below say what is wrong, if anything
        else:
            if type(usual) is _UsualPoint:
                return [_new_point(Point, (usual.time, usual.dimensions, usual.metrics, None))]
            if usual:
                return [_new_point(Point, (p.time, p.dimensions, p.metrics, None)) for p in usual]
    return _parse_checked(raw)


def _parse_checked(raw: bytes | None) -> list[Point]:
    data = decode(raw)
    if isinstance(data, dict):
        return [_point(data, 0)]
    if isinstance(data, list):
        if not data:
            raise InvalidMessage("empty array")
        return [_point(item, i) for i, item in enumerate(data)]
    raise InvalidMessage(f"expected a JSON object or array, got {type(data).__name__}")


def _point(item: Any, index: int) -> Point:
    """The common shape checked in one expression; anything else goes through _checked_point,
    which names what is wrong."""
    if type(item) is dict:
        t, metrics, dimensions = item.get("time"), item.get("metrics"), item.get("dimensions")
        if (type(t) is int and 0 < t < _MS_THRESHOLD and type(metrics) is dict and metrics
                and _NUMBERS.issuperset(map(type, metrics.values()))
                and type(dimensions) is dict and _NESTED.isdisjoint(map(type, dimensions.values()))):
            return _new_point(Point, (t, dimensions, metrics, None))
    return _checked_point(item, index)


def _checked_point(item: Any, index: int) -> Point:
    where = f"point {index}"
    if not isinstance(item, dict):
        raise InvalidMessage(f"{where}: expected an object, got {type(item).__name__}")
    ts = epoch_seconds(item.get("time"), where, "time")
    metrics = item.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise InvalidMessage(f"{where}: 'metrics' must be a non-empty object")
    if not _NUMBERS.issuperset(map(type, metrics.values())):
        for name, value in metrics.items():
            if type(value) not in _NUMBERS:
                raise InvalidMessage(f"{where}: metric {name!r} must be a finite number, got {value!r}")
    dimensions = check_dimensions(item.get("dimensions", {}), where, "dimensions")
    return Point(ts, dimensions, metrics)
