"""Strategy configs in the shape of docs/ARCHITECTURE.md (Data contracts: strategy), as the strategy
API returns them."""
from __future__ import annotations

from typing import Any


def threshold_strategy(*, sid: int = 1, iid: int = 11, table: str = "system.cpu_summary", metric: str = "usage",
                       threshold: float = 90, method: str = "gte", count: int = 3, check_window: int = 5,
                       interval: int = 60, agg_method: str = "AVG", dimensions: list[str] | None = None,
                       conditions: list[dict[str, Any]] | None = None, uptime: list[dict[str, str]] | None = None,
                       extra_levels: list[tuple[int, float]] = ()) -> dict[str, Any]:
    algorithms = [{"level": 1, "type": "Threshold", "config": [[{"method": method, "threshold": threshold}]]}]
    detects = [{"level": 1, "connector": "and",
                "trigger_config": {"count": count, "check_window": check_window,
                                   **({"uptime": {"time_ranges": uptime}} if uptime else {})},
                "recovery_config": {"check_window": 5, "status_setter": "recovery"}}]
    for level, value in extra_levels:
        algorithms.append({"level": level, "type": "Threshold", "config": [[{"method": method, "threshold": value}]]})
        detects.append({"level": level, "connector": "and",
                        "trigger_config": {"count": count, "check_window": check_window},
                        "recovery_config": {"check_window": 5, "status_setter": "recovery"}})
    return {
        "id": sid, "name": f"strategy {sid}", "bk_biz_id": 2, "is_enabled": True, "labels": [],
        "items": [{"id": iid, "name": "item", "query_configs": [{
            "data_type_label": "time_series", "result_table_id": table, "metric_field": metric,
            "agg_method": agg_method, "agg_interval": interval,
            "agg_dimension": ["bk_target_ip"] if dimensions is None else dimensions,
            "agg_condition": conditions or []}],
            "algorithms": algorithms,
            "no_data_config": {"is_enabled": False, "continuous": 5, "level": 2}}],
        "detects": detects,
        "notice": {"user_groups": [1], "signal": ["abnormal", "recovered"]},
    }


def ring_ratio_strategy(*, sid: int = 2, iid: int = 21, table: str = "system.cpu_summary", metric: str = "usage",
                        ceil: float = 50, floor: float = 50) -> dict[str, Any]:
    strategy = threshold_strategy(sid=sid, iid=iid, table=table, metric=metric, count=1, check_window=1)
    strategy["items"][0]["algorithms"] = [
        {"level": 2, "type": "SimpleRingRatio", "config": {"floor": floor, "ceil": ceil}}]
    strategy["detects"][0]["level"] = 2
    return strategy
