"""Event strategy configs in the shape the strategy API returns, and custom event messages
(docs/ARCHITECTURE.md, Data contracts: custom event message)."""
from __future__ import annotations

from typing import Any

import orjson

from tests.access.strategies import threshold_strategy

DATA_ID = 1_500_001


def event_strategy(*, event: str = "disk_full", table: str = "custom.events", count: int = 3,
                   check_window: int = 5, threshold: float = 1, interval: int = 60,
                   dimensions: list[str] | None = None, conditions: list[dict[str, Any]] | None = None,
                   sid: int = 1, iid: int = 11) -> dict[str, Any]:
    """Threshold on the count of `event` per window, N-of-M over windows."""
    strategy = threshold_strategy(sid=sid, iid=iid, table=table, threshold=threshold, method="gte", count=count,
                                  check_window=check_window, interval=interval, agg_method="COUNT")
    strategy["name"] = f"{event} strategy {sid}"
    strategy["items"][0]["query_configs"] = [{
        "data_type_label": "event", "data_source_label": "custom", "result_table_id": table,
        "custom_event_name": event, "agg_method": "COUNT", "agg_interval": interval,
        "agg_dimension": ["bk_target_ip"] if dimensions is None else dimensions,
        "agg_condition": conditions or []}]
    return strategy


def custom_event(t_ms: int, target: str = "10.0.0.1", name: str = "disk_full", content: str = "/data is full",
                 **dimension: Any) -> dict[str, Any]:
    return {"event_name": name, "event": {"content": content}, "target": target,
            "dimension": dimension, "timestamp": t_ms}


def message(*events: dict[str, Any]) -> bytes:
    return orjson.dumps({"data_id": DATA_ID, "data": list(events)})
