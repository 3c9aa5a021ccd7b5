"""Every failure a client can cause becomes a 4xx with a JSON body; Kafka trouble a 502/503."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from alarm_backends.core.kafka.errors import BrokerUnavailable, KafkaStorageError, TopicNotFound
from metadata.crypto import SecretDecryptionError


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class ClusterUnreachable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "cluster_unreachable"


class KafkaFailure(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "kafka_error"


def django_errors(exc: DjangoValidationError) -> dict[str, list[str]] | list[str]:
    if not hasattr(exc, "error_dict"):
        return exc.messages
    errors = exc.message_dict
    if NON_FIELD_ERRORS in errors:
        errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop(NON_FIELD_ERRORS)
    return errors


def _protected_message(exc: ProtectedError) -> str:
    owners = sorted({f"{o._meta.verbose_name} {o}" for o in exc.protected_objects})
    shown = ", ".join(owners[:10]) + (f" and {len(owners) - 10} more" if len(owners) > 10 else "")
    return f"cannot delete: still used by {shown}"


def translate(exc: Exception) -> Exception:
    if isinstance(exc, ProtectedError):
        return Conflict(_protected_message(exc))
    if isinstance(exc, IntegrityError):
        return Conflict("conflicts with an existing object (a unique value is already taken); reload and retry")
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(django_errors(exc))
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge("request body is larger than the allowed maximum")
    if isinstance(exc, DataError):
        return exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [
            "a value is out of range or not storable (e.g. a NUL character or a number too large)"]})
    if isinstance(exc, TopicNotFound):
        return exceptions.NotFound(str(exc))
    if isinstance(exc, BrokerUnavailable):
        return ClusterUnreachable(str(exc))
    if isinstance(exc, SecretDecryptionError):
        return KafkaFailure(f"cluster credentials: {exc}")
    if isinstance(exc, KafkaStorageError):
        return KafkaFailure(str(exc))
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = translate(exc)
    if isinstance(exc, exceptions.ValidationError) and not isinstance(exc.detail, dict):
        # A 400 is always an object keyed by what is wrong (the schema's ValidationErrors), never a bare list.
        exc = exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.detail})
    return drf_exception_handler(exc, context)
