"""Alarm strategies in the bk-monitor shape: strategy -> items -> (query config, algorithms); detects per level.

The JSON parts (conditions, algorithm configs, trigger/recovery configs, notice) are validated by
bkmonitor.api.serializers, the single entry point for writes (the admin goes through it too).
"""
from __future__ import annotations

from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F

from bkmonitor.choices import AggMethod, Connector, DataTypeLabel, Level

INT32_MIN, INT32_MAX = -2_147_483_648, 2_147_483_647


def default_notice() -> dict[str, list]:
    return {"user_groups": [], "signal": []}


def default_no_data_config() -> dict[str, Any]:
    return {"is_enabled": False, "continuous": 5, "level": Level.WARNING.value}  # type: ignore[attr-defined]  # no Django stubs: choices look like tuples


class Strategy(models.Model):
    name = models.CharField(max_length=128)
    bk_biz_id = models.IntegerField(validators=[MinValueValidator(INT32_MIN), MaxValueValidator(INT32_MAX)])
    is_enabled = models.BooleanField(default=True)
    labels = models.JSONField(default=list, blank=True)
    notice = models.JSONField(default=default_notice, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False, help_text="+1 on every change")
    creator = models.CharField(max_length=64, blank=True, default="", editable=False)
    update_user = models.CharField(max_length=64, blank=True, default="", editable=False)
    create_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "strategy"
        verbose_name_plural = "strategies"
        constraints = [models.UniqueConstraint(fields=["bk_biz_id", "name"], name="bkmonitor_strategy_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} (biz {self.bk_biz_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            super().save(*args, **kwargs)
            return
        # An expression, so two concurrent saves can never produce the same version.
        self.version = F("version") + 1
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "version", "update_time"}
        super().save(*args, **kwargs)
        self.refresh_from_db(fields=["version"])


class StrategyItem(models.Model):
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=128)
    no_data_config = models.JSONField(default=default_no_data_config, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "strategy item"

    def __str__(self) -> str:
        return self.name


class QueryConfig(models.Model):
    item = models.ForeignKey(StrategyItem, on_delete=models.CASCADE, related_name="query_configs")
    data_type_label = models.CharField(max_length=32, choices=DataTypeLabel.choices, default=DataTypeLabel.TIME_SERIES)
    result_table_id = models.CharField(max_length=128, db_index=True)
    metric_field = models.CharField(max_length=128, db_index=True)
    agg_method = models.CharField(max_length=16, choices=AggMethod.choices)
    agg_interval = models.PositiveIntegerField(help_text="seconds; a multiple of BKM_BASE_INTERVAL_SECONDS")
    agg_dimension = models.JSONField(default=list, blank=True)
    agg_condition = models.JSONField(default=list, blank=True)
    unit = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["id"]
        verbose_name = "query config"

    def __str__(self) -> str:
        return f"{self.agg_method}({self.result_table_id}.{self.metric_field}) / {self.agg_interval}s"


class Algorithm(models.Model):
    item = models.ForeignKey(StrategyItem, on_delete=models.CASCADE, related_name="algorithms")
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    type = models.CharField(max_length=64)
    config = models.JSONField(default=list, blank=True)
    unit_prefix = models.CharField(max_length=32, blank=True, default="",
                                   help_text="unit of the thresholds; empty = the metric's own unit")

    class Meta:
        ordering = ["id"]
        verbose_name = "algorithm"

    def __str__(self) -> str:
        return f"{self.type} (level {self.level})"


class Detect(models.Model):
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="detects")
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    connector = models.CharField(max_length=8, choices=Connector.choices, default=Connector.AND)
    trigger_config = models.JSONField(default=dict)
    recovery_config = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        verbose_name = "detect"
        constraints = [models.UniqueConstraint(fields=["strategy", "level"], name="bkmonitor_detect_one_per_level")]

    def __str__(self) -> str:
        return f"level {self.level}"
