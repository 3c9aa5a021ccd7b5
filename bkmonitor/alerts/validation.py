"""The event contract: what the alert builder accepts, checked before anything is written.

Everything the database would refuse (a NUL character, a non-finite float, an integer too large for its
column) is refused here, so one bad event is dead-lettered instead of failing its whole batch.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bkmonitor.alerts.lifecycle import EVENT_TYPES, EventIn

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_EPOCH_SECONDS = 10**11  # year 5138; a larger value is almost certainly milliseconds
#: The limits of what travels from a metric message into an event. The access stage checks a
#: message's dimensions against these same names (service/access/data/parse.py) and dead-letters it
#: there: a series the alert stage would refuse must never be accepted upstream, or it could never
#: raise an alert and nobody would know (issue 12, section 3).
TARGET_MAX_LENGTH = 255
DIMENSION_INT_MIN, DIMENSION_INT_MAX = INT64_MIN, INT64_MAX
MAX_DEPTH = 32
SEVERITIES = (1, 2, 3)
#: optional fields and their defaults; the ones that are required are checked in `parse_event`
DEFAULTS: dict[str, Any] = {"dedupe_keys": [], "dimensions": {}, "target_type": "", "target": "",
                            "origin_data": {}, "anomaly_ids": [], "value": None, "reason": ""}
# Events from before the access stage set event_type were all anomalies.
DEFAULT_EVENT_TYPE = "anomaly"


class InvalidEvent(ValueError):
    def __init__(self, event_id: str | None, reason: str) -> None:
        super().__init__(f"event {event_id or '(no id)'}: {reason}")
        self.event_id = event_id
        self.reason = reason


def validate_event(event: Any) -> None:
    """Raises InvalidEvent naming the first problem; returns None for a valid event."""
    parse_event(event)


def parse_event(event: Any, raw: bytes | None = None, *,
                not_after: float | None = None) -> tuple[EventIn, dict[str, Any]]:
    """The lifecycle's view of the event and the Event row's fields. `raw`: the JSON text the event
    was decoded from, which lets the storability check run on bytes. `not_after`: the latest event
    time accepted (epoch seconds; the consumer passes the wall clock plus the allowed skew): one
    event from the far future would otherwise open alerts no later event can ever recover."""
    if not isinstance(event, Mapping):
        raise InvalidEvent(None, f"an event must be a JSON object, not {type(event).__name__}")
    raw_id = event.get("event_id")
    event_id = raw_id if isinstance(raw_id, str) and raw_id else None
    check = _Checker(event, event_id)
    if not _plainly_storable(raw):
        _check_storable(event, event_id)
    check.string("event_id", max_length=128, blank=False)
    event_type = event.get("event_type", DEFAULT_EVENT_TYPE)
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:  # a list is unhashable: refuse it by name
        raise InvalidEvent(event_id, f"event_type: must be one of {', '.join(sorted(EVENT_TYPES))}")
    row: dict[str, Any] = {
        "event_id": event_id,
        "event_type": event_type,
        "strategy_id": check.integer("strategy_id", INT64_MIN, INT64_MAX),
        "item_id": check.integer("item_id", INT64_MIN, INT64_MAX),
        "alert_name": check.string("alert_name", max_length=128),
        "severity": check.choice("severity", SEVERITIES),
        "bk_biz_id": check.integer("bk_biz_id", INT32_MIN, INT32_MAX),
        "dedupe_md5": check.string("dedupe_md5", max_length=64, blank=False),
        "dedupe_keys": check.typed("dedupe_keys", list),
        "dimensions": check.typed("dimensions", dict),
        "target_type": check.string("target_type", max_length=32),
        "target": check.string("target", max_length=TARGET_MAX_LENGTH),
        "time": check.integer("time", 0, MAX_EPOCH_SECONDS),
        "value": check.number("value"),
        "origin_data": check.typed("origin_data", dict),
        "anomaly_ids": check.typed("anomaly_ids", list),
        "reason": check.string("reason", max_length=1024),
    }
    row["anomaly_time"] = check.integer("anomaly_time", 0, MAX_EPOCH_SECONDS) if "anomaly_time" in event \
        else row["time"]
    if not_after is not None and max(row["time"], row["anomaly_time"]) > not_after:
        raise check.fail("time", f"{max(row['time'], row['anomaly_time'])} is ahead of the wall clock by more "
                         f"than the allowed skew (latest accepted {int(not_after)})")
    row["raw"] = dict(event)
    parsed = EventIn(
        event_id=row["event_id"], event_type=event_type, dedupe_md5=row["dedupe_md5"], time=row["time"],
        severity=row["severity"], strategy_id=row["strategy_id"], item_id=row["item_id"],
        bk_biz_id=row["bk_biz_id"], alert_name=row["alert_name"], dimensions=row["dimensions"],
        target_type=row["target_type"], target=row["target"], value=row["value"], reason=row["reason"])
    return parsed, row


class _Checker:
    def __init__(self, event: Mapping[str, Any], event_id: str | None) -> None:
        self.event = event
        self.event_id = event_id

    def _get(self, name: str) -> Any:
        if name in self.event:
            return self.event[name]
        if name in DEFAULTS:
            default = DEFAULTS[name]
            return type(default)() if isinstance(default, (list, dict)) else default
        raise InvalidEvent(self.event_id, f"{name}: this field is required")

    def fail(self, name: str, message: str) -> InvalidEvent:
        return InvalidEvent(self.event_id, f"{name}: {message}")

    def string(self, name: str, *, max_length: int, blank: bool = True) -> str:
        value = self._get(name)
        if not isinstance(value, str):
            raise self.fail(name, "must be a string")
        if not blank and not value:
            raise self.fail(name, "must not be empty")
        if len(value) > max_length:
            raise self.fail(name, f"at most {max_length} characters")
        return value

    def integer(self, name: str, minimum: int, maximum: int) -> int:
        value = self._get(name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, "must be an integer")
        if not minimum <= value <= maximum:
            raise self.fail(name, f"must be between {minimum} and {maximum}")
        return value

    def choice(self, name: str, choices: tuple[int, ...]) -> int:
        value = self._get(name)
        if isinstance(value, bool) or value not in choices:
            raise self.fail(name, f"must be one of {', '.join(map(str, choices))}")
        return int(value)

    def number(self, name: str) -> float | None:
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(name, "must be a number or null")
        try:
            number = float(value)
        except OverflowError:
            raise self.fail(name, "is out of range") from None
        if not math.isfinite(number):
            raise self.fail(name, "must be finite")
        return number

    def typed(self, name: str, kind: type) -> Any:
        value = self._get(name)
        if not isinstance(value, kind):
            raise self.fail(name, f"must be a JSON {'object' if kind is dict else 'array'}")
        return value


def _plainly_storable(raw: bytes | None) -> bool:
    """Decoded JSON has string keys, finite numbers and JSON types only; what is left to rule out
    is a NUL character (always escaped as \\u0000 in JSON text) and deep nesting (no deeper than
    the number of brackets)."""
    return raw is not None and b"\\u0000" not in raw and raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH


def _storable(value: Any, depth: int = 0) -> bool:
    """The fast yes/no of _check_storable: no path strings are built for valid events."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and "\x00" not in k and _storable(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_storable(v, depth + 1) for v in value)
    return value is None or isinstance(value, int)


def _check_storable(value: Any, event_id: str | None, path: str = "", depth: int = 0) -> None:
    """No NUL characters, non-finite floats, non-string keys or absurd nesting anywhere in the event."""
    if depth == 0 and _storable(value):
        return
    if depth > MAX_DEPTH:
        raise InvalidEvent(event_id, f"{path or 'event'}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidEvent(event_id, f"{path or 'event'}: contains a NUL character")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEvent(event_id, f"{path}: numbers must be finite")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEvent(event_id, f"{path or 'event'}: object keys must be strings")
            _check_storable(key, event_id, f"{path}.{key}" if path else key, depth + 1)
            _check_storable(item, event_id, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_storable(item, event_id, f"{path}[{index}]", depth + 1)
    elif value is not None and not isinstance(value, int):
        raise InvalidEvent(event_id, f"{path or 'event'}: not a JSON value ({type(value).__name__})")
