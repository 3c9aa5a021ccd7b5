"""The OpenAPI schema declares every status an operation really answers, with the body it comes with.

drf-spectacular documents only the success response, so a client (or a schema-driven test) met 400s,
401s, 404s and 409s the schema said could not happen. Here each operation gets the error responses
its view can produce: 400 for every API view (unknown query parameters are refused everywhere, bodies
and filters are validated), 401/403 where authentication is required, 404 on detail routes and on
paginated lists (a page past the last), 409 on writes (a unique value taken, a row still in use), 413
and 415 where a JSON body is read, and 502/503 on the operations that talk to a Kafka cluster.
"""
from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent, get_doc
from rest_framework import serializers

from config.api.filter_schema import document_filter, document_query_value, filter_fields
from config.api.lookups import RangeCheckedLookupMixin
from config.api.params import StrictQueryParamsMixin

BODY_METHODS = ("POST", "PUT", "PATCH")
WRITE_ACTIONS = ("create", "update", "partial_update", "destroy")

#: status -> when it happens, as the schema says it
DESCRIPTIONS = {
    "400": "invalid input: the keys name each wrong query parameter or body field (a path into the body for "
           "nested fields, non_field_errors for the whole body, detail for an unreadable body)",
    "401": "no credentials or invalid ones (send `Authorization: Token <key>` or log in)",
    "403": "authenticated, but without the permission this operation needs",
    "404": "no such object, or a page past the last one",
    "409": "conflicts with the stored state (a unique value already taken, a row still in use, "
           "an alert in a state that does not allow it)",
    "413": "the request body is larger than the allowed maximum",
    "415": "the request body is not JSON",
    "502": "the Kafka cluster answered with an error",
    "503": "the Kafka cluster could not be reached",
}


class ErrorDetailSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="what went wrong, in words")


VALIDATION_ERRORS_SCHEMA = {
    "type": "object",
    "description": DESCRIPTIONS["400"],
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "string"},
            {"type": "object"},
        ],
    },
}


def _own_doc(view_class: type) -> str:
    # A view without a docstring inherits one from a mixin ("refuses query parameters...", "a delete
    # that would..."), which says nothing about the endpoint: document only what the view itself says.
    return get_doc(view_class) if vars(view_class).get("__doc__") else ""


class AutoSchema(SpectacularAutoSchema):
    def get_description(self) -> str:  # type: ignore[override]
        action_or_method = getattr(self.view, getattr(self.view, "action", self.method.lower()), None)
        return get_doc(action_or_method) or _own_doc(self.view.__class__)

    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        parameters = super()._get_filter_parameters()
        filters = filter_fields(self.view)
        for parameter in parameters:
            document_filter(parameter, filters.get(parameter["name"]))
        return parameters

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter.get("in") == "query":
                document_query_value(parameter)
        return parameters

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "rejects_unknown_fields", False):
            schema["additionalProperties"] = False  # a misspelt key is a 400, so the schema allows none
        return schema

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            responses.setdefault(code, self._error_response(code))
        return responses

    def _error_codes(self) -> list[str]:
        codes: list[str] = []
        action = getattr(self.view, "action", None)
        if isinstance(self.view, StrictQueryParamsMixin) or self.method in BODY_METHODS:
            codes.append("400")
        if self._requires_auth():
            codes += ["401", "403"]
        if self._has_path_object() or (self._is_list_view() and self._get_paginator() is not None):
            codes.append("404")
        if action in WRITE_ACTIONS or action in getattr(self.view, "conflict_actions", ()):
            codes.append("409")
        if self.method in BODY_METHODS and self.get_request_serializer() is not None:
            codes += ["413", "415"]
        if action in getattr(self.view, "kafka_actions", ()):
            codes += ["502", "503"]
        return codes

    def _requires_auth(self) -> bool:
        auths = self.get_auth()
        return bool(auths) and {} not in auths

    def _has_path_object(self) -> bool:
        return "{" in self.path

    def _resolve_path_parameters(self, variables: list[str]) -> list[dict[str, Any]]:
        parameters = super()._resolve_path_parameters(variables)
        if isinstance(self.view, RangeCheckedLookupMixin):
            bounds = self.view.lookup_bounds()
            for parameter in parameters:
                if parameter["schema"].get("type") == "integer" and bounds is not None:
                    parameter["schema"].update(minimum=bounds[0], maximum=bounds[1])
                    parameter["description"] = (f"{parameter.get('description', '').rstrip('.')}; "
                                                f"beyond {bounds[0]}..{bounds[1]} there is no such object (404)")
        return parameters

    def _error_response(self, code: str) -> dict[str, Any]:
        if code == "400":
            component = ResolvedComponent(name="ValidationErrors", type=ResolvedComponent.SCHEMA,
                                          object="ValidationErrors", schema=VALIDATION_ERRORS_SCHEMA)
            self.registry.register_on_missing(component)
            return {"content": {"application/json": {"schema": component.ref}}, "description": DESCRIPTIONS[code]}
        response = self._get_response_for_code(ErrorDetailSerializer, code, direction="response")
        response["description"] = DESCRIPTIONS[code]
        return response
