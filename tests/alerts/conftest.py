"""Alert fixtures: events in the pipeline's contract, built by a small factory."""
from __future__ import annotations

import hashlib
from typing import Any

DIMENSIONS = {"bk_target_ip": "10.0.0.1", "bk_target_cloud_id": 0}


def make_event(time: int, kind: str = "anomaly", severity: int = 2, *, key: str = "cpu-10.0.0.1",
               strategy_id: int = 1, value: float = 95.0, reason: str = "", tag: str = "",
               dimensions: dict[str, Any] | None = None, bk_biz_id: int = 2) -> dict[str, Any]:
    """A deterministic event: the same arguments give the same event_id and content (as a replay does)."""
    event_id = hashlib.md5(f"{key}|{kind}|{severity}|{time}|{tag}".encode()).hexdigest()
    dims = DIMENSIONS if dimensions is None else dimensions
    event: dict[str, Any] = {
        "event_id": event_id, "event_type": kind, "strategy_id": strategy_id, "item_id": 11,
        "alert_name": "CPU usage high", "severity": severity, "bk_biz_id": bk_biz_id, "dedupe_md5": key,
        "dedupe_keys": ["strategy_id", "target_type", "target", "bk_biz_id", "tags.bk_target_ip"],
        "dimensions": dict(dims), "target_type": "HOST", "target": "10.0.0.1|0", "time": time,
        "anomaly_time": time, "value": value, "origin_data": {"time": time, "value": value},
        "anomaly_ids": [f"{event_id}.{severity}"],
    }
    if kind == "closed":
        event["reason"] = reason or "no data"
    return event
