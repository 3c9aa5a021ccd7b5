"""Reads need a login; writes, enable and disable need the model permissions."""
from __future__ import annotations

from typing import Any

from rest_framework.permissions import DjangoModelPermissions


class StrategyPermissions(DjangoModelPermissions):
    #: custom actions -> the permission verb they need (POST would otherwise mean "add")
    action_verbs = {"enable": "change", "disable": "change"}

    def has_permission(self, request: Any, view: Any) -> bool:
        verb = self.action_verbs.get(getattr(view, "action", None) or "")
        if verb is None:
            return super().has_permission(request, view)
        if not request.user or not request.user.is_authenticated:
            return False
        model = self._queryset(view).model
        return request.user.has_perm(f"{model._meta.app_label}.{verb}_{model._meta.model_name}")
