"""Metric messages in the bk-monitor real-time format (docs/ARCHITECTURE.md, Data contracts: metric message).

One JSON object, or a JSON array of them, per Kafka message:
    {"time": 1573701305, "dimensions": {...}, "metrics": {"load1": 2.77}}
`time` is epoch seconds; a value above 1e12 is milliseconds. A trailing NUL or
newline is stripped. A message with any invalid point is rejected whole (and
dead-lettered by the caller), so a replay of the dead letter never double counts.

The usual shape (integer seconds or milliseconds, short scalar dimensions, numeric metrics) is
decoded and type-checked in one C pass (msgspec, about twice as fast as decoding and then checking
in Python); anything else, valid or not, goes through the orjson path, whose checks name what is
wrong. Both accept the same messages and give the same points, except that a metric sent as an
integer arrives as a float (aggregation is in floats either way).

What is accepted here is accepted by every later stage (issue 12): dimensions become the
dimensions and target of events, so they are held to the event contract's limits
(bkmonitor/alerts/validation.py) here, at the edge: strings without NUL, integers in int64, and
no target over TARGET_MAX_LENGTH characters whichever of the dimensions a strategy groups by. A
point more than the allowed skew ahead of the wall clock (`not_after`, given by the caller) is
refused too: it would move the partition's watermark so far that every later point is late.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, NamedTuple

import msgspec
import orjson

from alarm_backends.core.kafka.errors import InvalidMessage
from bkmonitor.alerts.validation import DIMENSION_INT_MAX, DIMENSION_INT_MIN, TARGET_MAX_LENGTH

_MS_THRESHOLD = 1e12
_SECONDS_MAX = int(_MS_THRESHOLD)  # the largest time read as seconds (epoch_seconds: above, milliseconds)
_NUMBERS = frozenset((int, float))  # bool is its own type; orjson never yields NaN or infinities
_PLAIN = frozenset((str, float, bool, type(None)))  # dimension values fine as they are, NUL aside
# A target is "<ip>|<cloud id>" or the service instance id (trigger/event.py:target_of), made from
# the dimensions a strategy groups by: with every string among them at most this long, any target
# fits TARGET_MAX_LENGTH by construction (other scalars print in under 30 characters), so the fast
# path needs no per-point check; a longer string takes the checked path (_check_targets).
_FAST_STRING = (TARGET_MAX_LENGTH - 1) // 2
_TARGET_SOURCES = ("bk_target_ip", "ip", "bk_target_cloud_id", "bk_target_service_instance_id")
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
    time: Annotated[int, msgspec.Meta(gt=0)]  # seconds or milliseconds: told apart after decoding
    metrics: Annotated[dict[str, float], msgspec.Meta(min_length=1)]
    dimensions: dict[str, Annotated[str, msgspec.Meta(max_length=_FAST_STRING)]
                     | Annotated[int, msgspec.Meta(ge=DIMENSION_INT_MIN, le=DIMENSION_INT_MAX)]
                     | float | bool | None] = {}


_decode_usual = msgspec.json.Decoder(_UsualPoint | list[_UsualPoint]).decode


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


def check_dimensions(dimensions: Any, where: str, name: str, escaped: bool = True) -> dict[str, Any]:
    """Scalars that every later stage stores as they are (see the module's docstring). A caller that
    knows its message has no `\\u0000` (`escaped` False) spares the per-value loop when no value
    needs a range check."""
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
    for source in _TARGET_SOURCES:
        value = dimensions.get(source)
        if type(value) is str and len(value) > _FAST_STRING:
            _check_targets(dimensions, where)
            break
    return dimensions


def _check_targets(dimensions: dict[str, Any], where: str) -> None:
    """Every target trigger/event.py:target_of can make from the dimensions a strategy groups by (a
    series' dimensions are the strategy's, a missing one None) fits the alert stage's limit: the one
    from the full dimensions alone is not enough, as a strategy grouping by `ip` but not by
    `bk_target_ip` takes its target from `ip`. A series whose events the alert stage refuses could
    never raise an alert."""
    # the cloud id is printed as sent, as None when grouped by but missing, as 0 when not grouped by
    cloud = max(str(dimensions.get("bk_target_cloud_id")), "0", key=len)
    for source in ("bk_target_ip", "ip"):
        ip = dimensions.get(source)
        if ip:
            _refuse_long_target(f"{ip}|{cloud}", source, where)
    instance = dimensions.get("bk_target_service_instance_id")
    if instance:
        _refuse_long_target(str(instance), "bk_target_service_instance_id", where)


def _refuse_long_target(target: str, source: str, where: str) -> None:
    if len(target) > TARGET_MAX_LENGTH:
        raise InvalidMessage(f"{where}: dimension {source!r} makes a target of {len(target)} characters "
                             f"({shown(target)}), for a strategy grouping by it; a target must be at most "
                             f"{TARGET_MAX_LENGTH} characters")


def parse_metric_message(raw: bytes | None, not_after: float = math.inf) -> list[Point]:
    """The message's points; raises InvalidMessage naming the first problem. `not_after`: the
    latest event time accepted, in epoch seconds (the caller's wall clock plus the allowed skew)."""
    if raw and (_BACKSLASH not in raw or _NUL_ESCAPE not in raw):
        try:
            usual = _decode_usual(raw.rstrip(b"\x00\n\r"))
        except (msgspec.MsgspecError, ValueError):
            pass  # not the usual shape (or not UTF-8): the checks below say what is wrong, if anything
        else:
            # one comparison per point: a time up to `latest` is seconds and not ahead; any other is
            # milliseconds or ahead, and _in_seconds tells which
            latest = not_after if not_after < _SECONDS_MAX else _SECONDS_MAX
            if type(usual) is _UsualPoint:
                if usual.time <= latest:
                    return [_new_point(Point, (usual.time, usual.dimensions, usual.metrics, None))]
                return _in_seconds((usual,), not_after)
            if usual:
                return _usual_points(usual, latest, not_after)
    return _parse_checked(raw, not_after)


def _usual_points(usual: list[_UsualPoint], latest: float, not_after: float) -> list[Point]:
    """A list message's points. Its own function: the comprehension would make `latest` a closure
    cell, which costs every single-point message too."""
    points = [_new_point(Point, (p.time, p.dimensions, p.metrics, None)) for p in usual if p.time <= latest]
    return points if len(points) == len(usual) else _in_seconds(usual, not_after)


def _in_seconds(usual: tuple[_UsualPoint, ...] | list[_UsualPoint], not_after: float) -> list[Point]:
    """Decoded points with their times in seconds (epoch_seconds' rule); raises at the first one
    ahead of `not_after`."""
    points = []
    for index, p in enumerate(usual):
        t = p.time
        seconds = int(t / 1000) if t > _MS_THRESHOLD else t
        if seconds > not_after:
            raise too_far_ahead(f"point {index}", "time", t, seconds, not_after)
        points.append(_new_point(Point, (seconds, p.dimensions, p.metrics, None)))
    return points


def _parse_checked(raw: bytes | None, not_after: float = math.inf) -> list[Point]:
    """The rare messages: a float time, a long dimension string, a NUL escape, or something invalid."""
    data = decode(raw)
    assert raw is not None  # decode refuses an empty message
    escaped = _BACKSLASH in raw and _NUL_ESCAPE in raw  # once per message (check_dimensions)
    if isinstance(data, dict):
        return [_checked_point(data, 0, not_after, escaped)]
    if isinstance(data, list):
        if not data:
            raise InvalidMessage("empty array")
        return [_checked_point(item, i, not_after, escaped) for i, item in enumerate(data)]
    raise InvalidMessage(f"expected a JSON object or array, got {type(data).__name__}")


def _checked_point(item: Any, index: int, not_after: float, escaped: bool) -> Point:
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
    dimensions = check_dimensions(item.get("dimensions", {}), where, "dimensions", escaped)
    return Point(ts, dimensions, metrics)
