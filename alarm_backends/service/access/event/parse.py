"""Custom events in the bk-monitor report format, as metric points
(docs/ARCHITECTURE.md, Data contracts: custom event message).

    {"data_id": 1500001,
     "data": [{"event_name": "disk_full", "event": {"content": "/data is 100% full"},
               "target": "10.0.0.1", "dimension": {"module": "db"}, "timestamp": 1619426493000}]}

Each event becomes a Point with metrics {event_name: 1}, so an event strategy
(agg_method COUNT) counts events per window through the metric path unchanged.
`target` becomes the bk_target_ip dimension; the content stays out of the
dimensions (it would make every event its own series) but is part of the
point's identity, so two different events at the same second both count while
a re-sent one does not. A message with any invalid event is rejected whole, and so is one with
an event from further ahead than `not_after` or dimensions beyond the event contract's limits (the
same contract as metric points: data/parse.py).
"""
from __future__ import annotations

import math
from typing import Any

from alarm_backends.core.kafka.errors import InvalidMessage
from alarm_backends.service.access.data.parse import Point, check_dimensions, decode, epoch_seconds, shown


def parse_event_message(raw: bytes | None, not_after: float = math.inf) -> list[Point]:
    data = decode(raw)
    if not isinstance(data, dict):
        raise InvalidMessage(f"expected a JSON object, got {type(data).__name__}")
    data_id = data.get("data_id")
    if type(data_id) is not int or data_id <= 0:
        raise InvalidMessage(f"'data_id' must be a positive integer, got {shown(data_id)}")
    events = data.get("data")
    if not isinstance(events, list) or not events:
        raise InvalidMessage("'data' must be a non-empty array of events")
    return [_point(event, i, not_after) for i, event in enumerate(events)]


def _point(event: Any, index: int, not_after: float) -> Point:
    where = f"event {index}"
    if not isinstance(event, dict):
        raise InvalidMessage(f"{where}: expected an object, got {type(event).__name__}")
    name = event.get("event_name")
    if not isinstance(name, str) or not name:
        raise InvalidMessage(f"{where}: 'event_name' must be a non-empty string, got {shown(name)}")
    timestamp = event.get("timestamp")
    t = epoch_seconds(timestamp, where, "timestamp", not_after)
    body = event.get("event", {})
    if not isinstance(body, dict):
        raise InvalidMessage(f"{where}: 'event' must be an object")
    content = body.get("content", "")
    if not isinstance(content, str):
        raise InvalidMessage(f"{where}: 'event.content' must be a string, got {type(content).__name__}")
    target = event.get("target", "")
    if not isinstance(target, str):
        raise InvalidMessage(f"{where}: 'target' must be a string, got {type(target).__name__}")
    if "\x00" in target:  # named as sent: the dimension check would name the bk_target_ip it becomes
        raise InvalidMessage(f"{where}: 'target' contains a NUL character")
    dimensions = event.get("dimension", {})
    if not isinstance(dimensions, dict):
        raise InvalidMessage(f"{where}: 'dimension' must be an object")
    # the target is checked as the dimension it becomes, with the others, so the limits see what
    # the strategies will group by
    dimensions = {**dimensions, "bk_target_ip": target} if target else dict(dimensions)
    check_dimensions(dimensions, where, "dimension")
    return Point(t, dimensions, {name: 1.0}, (timestamp, content, tuple(sorted(dimensions.items()))))
