"""The strategy serializer: the whole strategy document in, the same document out
(docs/ARCHITECTURE.md, Data contracts: strategy).

Errors come back flat, keyed by path ("items[0].algorithms[1].config[0][0].threshold").
"""
from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.utils.serializer_helpers import ReturnDict

from bkmonitor.api.exceptions import flatten_errors
from bkmonitor.api.parts import (
    AlgorithmSerializer,
    DetectSerializer,
    NoDataConfigSerializer,
    NoticeField,
    QueryConfigSerializer,
    StrictSerializer,
    algorithm_errors,
)
from bkmonitor.choices import Level
from bkmonitor.models import Strategy
from bkmonitor.models.strategy import INT32_MAX, INT32_MIN, default_no_data_config, default_notice
from bkmonitor.strategies.shape import strategy_to_dict
from bkmonitor.strategies.write import save_strategy

ONE_QUERY_CONFIG = ("exactly one query config per item is supported for now "
                    "(multi-query expressions are not implemented)")


class ItemSerializer(StrictSerializer):
    id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                  help_text="keeps the item on update; omit to create a new item")
    name = serializers.CharField(max_length=128)
    query_configs = QueryConfigSerializer(many=True, min_length=1, max_length=1,
                                          error_messages={"min_length": ONE_QUERY_CONFIG,
                                                          "max_length": ONE_QUERY_CONFIG})
    algorithms = AlgorithmSerializer(many=True, min_length=1, max_length=32)
    no_data_config = NoDataConfigSerializer(default=default_no_data_config)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unit = attrs["query_configs"][0].get("unit", "")
        if unit:
            errors = {j: e for j, a in enumerate(attrs["algorithms"]) if (e := algorithm_errors(a, unit))}
            if errors:
                raise serializers.ValidationError({"algorithms": errors})
        return attrs


class StrategySerializer(StrictSerializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=128)
    bk_biz_id = serializers.IntegerField(min_value=INT32_MIN, max_value=INT32_MAX)
    is_enabled = serializers.BooleanField(default=True)
    labels = serializers.ListField(child=serializers.CharField(max_length=64), default=list, max_length=32)
    items = ItemSerializer(many=True, min_length=1, max_length=100)
    detects = DetectSerializer(many=True, min_length=1, max_length=len(Level))
    notice = NoticeField(default=default_notice)
    version = serializers.IntegerField(read_only=True)
    create_time = serializers.DateTimeField(read_only=True)
    update_time = serializers.DateTimeField(read_only=True)

    @property
    def errors(self) -> ReturnDict:
        return ReturnDict(flatten_errors(super().errors), serializer=self)

    def validate_labels(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        self._check_name(attrs, errors)
        self._check_item_ids(attrs["items"], errors)
        self._check_levels(attrs, errors)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _check_name(self, attrs: dict[str, Any], errors: dict[str, list[str]]) -> None:
        same = Strategy.objects.filter(bk_biz_id=attrs["bk_biz_id"], name=attrs["name"])
        if self.instance is not None:
            same = same.exclude(pk=self.instance.pk)
        if same.exists():
            errors["name"] = [f"a strategy named {attrs['name']!r} already exists in business {attrs['bk_biz_id']}"]

    def _check_item_ids(self, items: list[dict[str, Any]], errors: dict[str, list[str]]) -> None:
        if self.instance is None:
            for item in items:
                item.pop("id", None)  # a create (or a copy of another strategy) makes new items
            return
        own = set(self.instance.items.values_list("pk", flat=True))
        seen: set[int] = set()
        for index, item in enumerate(items):
            item_id = item.get("id")
            if item_id is None:
                continue
            if item_id not in own:
                errors[f"items[{index}].id"] = [f"strategy {self.instance.pk} has no item {item_id}; "
                                                "omit id to add a new item"]
            elif item_id in seen:
                errors[f"items[{index}].id"] = [f"item {item_id} is listed twice"]
            seen.add(item_id)

    def _check_levels(self, attrs: dict[str, Any], errors: dict[str, list[str]]) -> None:
        detect_levels: dict[int, int] = {}
        for index, detect in enumerate(attrs["detects"]):
            if detect["level"] in detect_levels:
                errors[f"detects[{index}].level"] = [f"level {detect['level']} already has a detect "
                                                     f"(detects[{detect_levels[detect['level']]}])"]
            detect_levels.setdefault(detect["level"], index)
        used: set[int] = set()
        for index, item in enumerate(attrs["items"]):
            levels = {a["level"] for a in item["algorithms"]}
            used |= levels
            unused = sorted(set(detect_levels) - levels)
            if unused:
                errors[f"items[{index}].algorithms"] = [
                    f"no algorithm for level {_levels(unused)}, which detects configures; "
                    "add one or remove that detect"]
        undetected = sorted(used - set(detect_levels))
        if undetected:
            errors["detects"] = [f"level {_levels(undetected)} has algorithms but no detect; "
                                 "add a detect for each level the algorithms use"]

    def to_representation(self, instance: Strategy) -> dict[str, Any]:
        return strategy_to_dict(instance)

    def create(self, validated_data: dict[str, Any]) -> Strategy:
        return save_strategy(validated_data, user=self._user_name())

    def update(self, instance: Strategy, validated_data: dict[str, Any]) -> Strategy:
        return save_strategy(validated_data, instance=instance, user=self._user_name())

    def _user_name(self) -> str:
        request = self.context.get("request")
        return getattr(getattr(request, "user", None), "username", "") or ""


def _levels(levels: list[int]) -> str:
    return ", ".join(f"{lv} ({Level(lv).label})" for lv in levels)
