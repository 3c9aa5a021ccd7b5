"""Strategy admin: the strategy is edited as its API JSON and validated by the API's serializer."""
from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from bkmonitor.api.serializers import StrategySerializer
from bkmonitor.models import Strategy
from bkmonitor.strategies.shape import strategy_to_dict
from bkmonitor.strategies.write import save_strategy, set_enabled

READ_ONLY_KEYS = ("id", "version", "create_time", "update_time")
EXAMPLE = {
    "name": "CPU usage high", "bk_biz_id": 2, "is_enabled": True, "labels": [],
    "items": [{"name": "cpu usage",
               "query_configs": [{"data_type_label": "time_series", "result_table_id": "system.cpu_summary",
                                  "metric_field": "usage", "agg_method": "AVG", "agg_interval": 60,
                                  "agg_dimension": ["bk_target_ip"], "agg_condition": []}],
               "algorithms": [{"level": 1, "type": "Threshold", "config": [[{"method": "gte", "threshold": 90}]]}],
               "no_data_config": {"is_enabled": False, "continuous": 5, "level": 2}}],
    "detects": [{"level": 1, "connector": "and", "trigger_config": {"count": 3, "check_window": 5},
                 "recovery_config": {"check_window": 5, "status_setter": "recovery"}}],
    "notice": {"user_groups": [], "signal": ["abnormal", "recovered"]},
}


class PrettyJSONField(forms.JSONField):
    def prepare_value(self, value: Any) -> str:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class StrategyConfigForm(forms.ModelForm):
    config = PrettyJSONField(widget=forms.Textarea(attrs={"rows": 40, "cols": 110, "style": "font-family:monospace"}),
                             help_text="the strategy as the API's JSON (docs/ARCHITECTURE.md, "
                                       "Data contracts: strategy); items keep their ids")

    class Meta:
        model = Strategy
        fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            document = strategy_to_dict(self.instance)
            self.initial["config"] = {k: v for k, v in document.items() if k not in READ_ONLY_KEYS}
        else:
            self.initial["config"] = EXAMPLE
        self.serializer: StrategySerializer | None = None

    def clean_config(self) -> Any:
        config = self.cleaned_data["config"]
        serializer = StrategySerializer(self.instance if self.instance.pk else None, data=config)
        if not serializer.is_valid():
            raise forms.ValidationError([f"{path}: {message}" for path, msgs in serializer.errors.items()
                                         for message in msgs])
        self.serializer = serializer
        return config

    def _post_clean(self) -> None:
        """Validation is the serializer's; the model form has no fields of its own."""


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    form = StrategyConfigForm
    list_display = ("name", "bk_biz_id", "is_enabled", "item_count", "levels", "version", "update_time")
    list_filter = ("is_enabled", "bk_biz_id")
    search_fields = ("name", "items__name", "items__query_configs__result_table_id",
                     "items__query_configs__metric_field")
    readonly_fields = ("version", "creator", "update_user", "create_time", "update_time", "summary")
    fieldsets = ((None, {"fields": ("config",)}),
                 ("Overview", {"fields": ("summary", "version", "creator", "update_user", "create_time",
                                          "update_time")}))
    actions = ("enable_strategies", "disable_strategies")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Strategy]:
        return super().get_queryset(request).annotate(item_total=Count("items", distinct=True)).prefetch_related(
            "detects", "items__query_configs")

    @admin.display(description="items", ordering="item_total")
    def item_count(self, obj: Strategy) -> int:
        return getattr(obj, "item_total", 0)

    @admin.display(description="levels")
    def levels(self, obj: Strategy) -> str:
        return ", ".join(d.get_level_display() for d in sorted(obj.detects.all(), key=lambda d: d.level)) or "-"

    @admin.display(description="summary")
    def summary(self, obj: Strategy) -> str:
        if not obj.pk:
            return "-"
        lines = [f"{item.name}: {q}" for item in obj.items.all() for q in item.query_configs.all()]
        return format_html("<pre>{}</pre>", "\n".join(lines) or "-")

    def save_model(self, request: HttpRequest, obj: Strategy, form: StrategyConfigForm, change: bool) -> None:
        assert form.serializer is not None
        saved = save_strategy(form.serializer.validated_data, instance=obj if change else None,
                              user=request.user.get_username())
        for name in ("pk", "name", "bk_biz_id", "is_enabled", "version"):
            setattr(obj, name, getattr(saved, name))

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """save_model wrote the whole document."""

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Strategy], enabled: bool) -> None:
        changed = sum(set_enabled(s, enabled, user=request.user.get_username()) for s in queryset)
        verb = "enabled" if enabled else "disabled"
        self.message_user(request, f"{changed} strateg{'y' if changed == 1 else 'ies'} {verb}; "
                                   f"{queryset.count() - changed} already were", messages.SUCCESS)

    @admin.action(description="Enable selected strategies", permissions=["change"])
    def enable_strategies(self, request: HttpRequest, queryset: QuerySet[Strategy]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected strategies", permissions=["change"])
    def disable_strategies(self, request: HttpRequest, queryset: QuerySet[Strategy]) -> None:
        self._set_enabled(request, queryset, False)


from bkmonitor import admin_alerts  # noqa: E402,F401  registers the alert, log and event admins
