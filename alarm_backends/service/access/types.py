"""The streams `run_access --type` runs, one consumer loop for all: which strategy
items a stream serves and how its messages are parsed."""
from __future__ import annotations

from dataclasses import dataclass

from alarm_backends.service.access.data.parse import parse_metric_message
from alarm_backends.service.access.data.processor import Parser
from alarm_backends.service.access.event.parse import parse_event_message


@dataclass(frozen=True)
class AccessType:
    data_type_label: str  # of the query configs whose items this stream evaluates
    parser: Parser


ACCESS_TYPES = {
    "data": AccessType("time_series", parse_metric_message),
    "event": AccessType("event", parse_event_message),
}
