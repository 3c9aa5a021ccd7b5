"""Model permissions for reads too (view_*), and for the custom actions."""
from __future__ import annotations

from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        action_perms: dict[str, str] = getattr(view, "action_permissions", {})
        action = getattr(view, "action", None)
        if action in action_perms:
            if not request.user or not request.user.is_authenticated:
                return False
            model = self._queryset(view).model
            return request.user.has_perm(f"{model._meta.app_label}.{action_perms[action]}_{model._meta.model_name}")
        return super().has_permission(request, view)
