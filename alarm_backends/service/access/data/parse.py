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

What is accepted here is accepted by every later stage (issue 12): dimensions become the
dimensions and target of events, so they are held to the event contract's limits
(bkmonitor/alerts/validation.py) here, at the edge: strings without NUL, integers in int64, a
target of at most TARGET_MAX_LENGTH characters. A point more than the allowed skew ahead of the
wall clock (`not_after`, given by the caller) is refused too: it would move the partition's
watermark so far that every later point is late.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, NamedTuple, Union

import msgspec
import orjson

from alarm_backends.core.kafka.errors import InvalidMessage
from alarm_backends.service.trigger.event import target_of
from bkmonitor.alerts.validation import DIMENSION_INT_MAX, DIMENSION_INT_MIN, TARGET_MAX_LENGTH

_MS_THRESHOLD = 1e12
_NUMBERS = frozenset((int, float))  # bool is its own type; orjson never yields NaN or infinities
_NESTED = frozenset((dict, list))
_PLAIN = frozenset((str, float, bool, type(None)))  # dimension values fine as they are, NUL aside
# A target is "<ip>|<cloud id>" (trigger/event.py:target_of): with every dimension string at most
# this long it fits TARGET_MAX_LENGTH by construction, so the fast path needs no per-point check;
# a longer string takes the checked path, which measures the target itself.
_FAST_STRING = (TARGET_MAX_LENGTH - 1) // 2
# NUL never appears raw in JSON text, only escaped as \u0000: a message without a backslash (escapes
# are rare in metrics) or without that escape has none. The backslash is looked for as an int: bytes'
# `in` then goes straight to memchr, where a bytes needle first fails (and clears) an int conversion.
_BACKSLASH, _NUL_ESCAPE = ord("\\"), b"\\u0000"


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
    dimensions: dict[str, Union[Annotated[str, msgspec.Meta(max_length=_FAST_STRING)],
                                Annotated[int, msgspec.Meta(ge=DIMENSION_INT_MIN, le=DIMENSION_INT_MAX)],
                                float, bool, None]] = {}


_decode_usual = msgspec.json.Decoder(Union[_UsualPoint, list[_UsualPoint]]).decode


def decode(raw: bytes | None) -> Any:
    """The JSON value of a message, after stripping a trailing NUL or newline."""
    if not raw:
        raise InvalidMessage("empty message")
    raw = raw.rstrip(b"\x00\n\r")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage(f"not JSON: {_not_utf8(raw) or exc}") from None


def _not_utf8(raw: bytes) -> str | None:
    """orjson reports bad UTF-8 as "surrogates not allowed" at char 0: say which byte, and where."""
    try:
        raw.decode()
    except UnicodeDecodeError as exc:
        return f"not UTF-8: byte {raw[exc.start:exc.start + 1]!r} at offset {exc.start} ({exc.reason})"
    return None


def shown(value: Any, limit: int = 60) -> str:
    """A value in an error message, cut short: the reason of a 5 MB message must stay readable."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def epoch_seconds(value: Any, where: str, name: str, not_after: float = math.inf) -> int:
    if type(value) not in (int, float) or not math.isfinite(value) or value <= 0:
        raise InvalidMessage(f"{where}: {name!r} must be a positive epoch number, got {shown(value)}")
    seconds = int(value / 1000 if value > _MS_THRESHOLD else value)
    if seconds > not_after:
        raise too_far_ahead(where, name, value, seconds, not_after)
    return seconds


def too_far_ahead(where: str, name: str, value: Any, seconds: int, not_after: float) -> InvalidMessage:
    return InvalidMessage(f"{where}: {name!r} {shown(value)} is {seconds - not_after:.0f} s past the latest time "
                          f"accepted ({int(not_after)}: the wall clock plus BKM_ACCESS_MAX_FUTURE_SECONDS); "
                          "a point from the future would make every later point late")


def check_dimensions(dimensions: Any, where: str, name: str, escaped: bool = True,
                     long: bool = True) -> dict[str, Any]:
    """Scalars that every later stage stores as they are (see the module's docstring). A caller that
    knows its message has no `\\u0000` (`escaped` False) or is too short to hold a target over the
    limit (`long` False) spares those checks."""
    if not isinstance(dimensions, dict):
        raise InvalidMessage(f"{where}: {name!r} must be an object")
    if escaped or not _PLAIN.issuperset(map(type, dimensions.values())):
        for key, value in dimensions.items():
            kind = type(value)
            if kind is str:
                if "\x00" in value:
                    raise InvalidMessage(f"{where}: dimension {shown(key)} contains a NUL character")
            elif kind is int:
                if not DIMENSION_INT_MIN <= value <= DIMENSION_INT_MAX:
                    raise InvalidMessage(f"{where}: dimension {shown(key)} must be an integer between "
                                         f"{DIMENSION_INT_MIN} and {DIMENSION_INT_MAX}, got {shown(value)}")
            elif kind is dict or kind is list:
                raise InvalidMessage(f"{where}: dimension {shown(key)} must be a scalar")
            if "\x00" in key:
                raise InvalidMessage(f"{where}: dimension name {shown(key)} contains a NUL character")
    if long:
        _target_type, target = target_of(dimensions)
        if len(target) > TARGET_MAX_LENGTH:
            raise InvalidMessage(f"{where}: its target {shown(target)} (from bk_target_ip or ip and "
                                 "bk_target_cloud_id, or bk_target_service_instance_id) must be at most "
                                 f"{TARGET_MAX_LENGTH} characters")
    return dimensions


def parse_metric_message(raw: bytes | None, not_after: float = math.inf) -> list[Point]:
    """The message's points; raises InvalidMessage naming the first problem. `not_after`: the
    latest event time accepted, in epoch seconds (the caller's wall clock plus the allowed skew)."""
    if raw and (_BACKSLASH not in raw or _NUL_ESCAPE not in raw):
        try:
            usual = _decode_usual(raw.rstrip(b"\x00\n\r"))
        except (msgspec.MsgspecError, ValueError):
            pass  # not the usual shape (or not UTF-8): the checks below say what is wrong, if anything
        else:
            if type(usual) is _UsualPoint:
                if usual.time > not_after:
                    raise too_far_ahead("point 0", "time", usual.time, usual.time, not_after)
                return [_new_point(Point, (usual.time, usual.dimensions, usual.metrics, None))]
            if usual:
                for index, p in enumerate(usual):
                    if p.time > not_after:
                        raise too_far_ahead(f"point {index}", "time", p.time, p.time, not_after)
                return [_new_point(Point, (p.time, p.dimensions, p.metrics, None)) for p in usual]
    return _parse_checked(raw, not_after)


def _parse_checked(raw: bytes | None, not_after: float = math.inf) -> list[Point]:
    data = decode(raw)
    assert raw is not None  # decode refuses an empty message
    # once per message: what its points' dimensions cannot hold (check_dimensions)
    hints = (_BACKSLASH in raw and _NUL_ESCAPE in raw, len(raw) > TARGET_MAX_LENGTH)
    if isinstance(data, dict):
        return [_point(data, 0, not_after, hints)]
    if isinstance(data, list):
        if not data:
            raise InvalidMessage("empty array")
        return [_point(item, i, not_after, hints) for i, item in enumerate(data)]
    raise InvalidMessage(f"expected a JSON object or array, got {type(data).__name__}")


def _point(item: Any, index: int, not_after: float, hints: tuple[bool, bool]) -> Point:
    """The common shape checked in one expression; anything else goes through _checked_point,
    which names what is wrong."""
    if type(item) is dict:
        t, metrics, dimensions = item.get("time"), item.get("metrics"), item.get("dimensions")
        if (type(t) is int and 0 < t < _MS_THRESHOLD and t <= not_after and type(metrics) is dict and metrics
                and _NUMBERS.issuperset(map(type, metrics.values())) and type(dimensions) is dict
                and not (hints[0] or hints[1]) and _PLAIN.issuperset(map(type, dimensions.values()))):
            return _new_point(Point, (t, dimensions, metrics, None))
    return _checked_point(item, index, not_after, hints)


def _checked_point(item: Any, index: int, not_after: float, hints: tuple[bool, bool]) -> Point:
    where = f"point {index}"
    if not isinstance(item, dict):
        raise InvalidMessage(f"{where}: expected an object, got {type(item).__name__}")
    ts = epoch_seconds(item.get("time"), where, "time", not_after)
    metrics = item.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise InvalidMessage(f"{where}: 'metrics' must be a non-empty object")
    if not _NUMBERS.issuperset(map(type, metrics.values())):
        for name, value in metrics.items():
            if type(value) not in _NUMBERS:
                raise InvalidMessage(f"{where}: metric {shown(name)} must be a finite number, got {shown(value)}")
    dimensions = check_dimensions(item.get("dimensions", {}), where, "dimensions", *hints)
    return Point(ts, dimensions, metrics)
