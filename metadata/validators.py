"""Field validators; every message names the field and the rule it broke."""
from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from alarm_backends.core.kafka.errors import InvalidTopicName
from alarm_backends.core.kafka.topics import MAX_TOPIC_NAME_LENGTH, validate_topic_name

TABLE_ID_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?$")
APP_NAME_RE = re.compile(r"^[a-z0-9_-]{1,50}$")


def validate_kafka_topic(value: str) -> None:
    try:
        validate_topic_name(value)
    except InvalidTopicName as exc:
        raise ValidationError(
            "topic %(value)r is not a legal Kafka topic name: %(reason)s "
            "(rule: 1-%(max)d characters from [a-zA-Z0-9._-], not '.' or '..')",
            code="invalid_topic",
            params={"value": value, "reason": exc.reason, "max": MAX_TOPIC_NAME_LENGTH},
        ) from None


def validate_table_id(value: str) -> None:
    if not TABLE_ID_RE.match(value or ""):
        raise ValidationError(
            "table_id %(value)r must have the form 'db.table' (letters, digits, '_' and '-' on each side of one '.')",
            code="invalid_table_id",
            params={"value": value},
        )


def validate_retention(value: int) -> None:
    if value == -1 or value > 0:
        return
    raise ValidationError(
        "retention %(value)s is not allowed: use -1 (keep forever) or a positive number of milliseconds",
        code="invalid_retention",
        params={"value": value},
    )


def validate_host(value: str) -> None:
    if not HOST_RE.match(value or ""):
        raise ValidationError(
            "host %(value)r is not a host name or IP address (optionally with ':port')",
            code="invalid_host",
            params={"value": value},
        )
    if ":" in value.rsplit("]", 1)[-1]:
        port = int(value.rsplit(":", 1)[1])
        if not 1 <= port <= 65535:
            raise ValidationError("host %(value)r has port %(port)s outside 1-65535",
                                  code="invalid_host", params={"value": value, "port": port})


def validate_extra_hosts(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
        raise ValidationError("extra_hosts must be a list of 'host' or 'host:port' strings", code="invalid_hosts")
    for host in value:
        validate_host(host)


def validate_labels(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 64 for v in value):
        raise ValidationError("labels must be a list of strings of 1-64 characters", code="invalid_labels")
    if any("\x00" in v for v in value):
        raise ValidationError("labels must not contain NUL characters", code="invalid_labels")


def validate_json_object(value: object) -> None:
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", code="invalid_object")
    if "\x00" in repr(value):
        raise ValidationError("must not contain NUL characters", code="invalid_object")


def validate_app_name(value: str) -> None:
    if not APP_NAME_RE.match(value or ""):
        raise ValidationError(
            "app_name %(value)r must be 1-50 characters from lowercase letters, digits, '_' and '-'",
            code="invalid_app_name", params={"value": value},
        )
