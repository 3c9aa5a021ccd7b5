"""The events the manager applies, with ids that depend only on what they are about."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from alarm_backends.service.trigger.event import NODATA_TAG, build_status_event, dedupe_md5

PIPELINE_ALERT_NAME = "pipeline degraded"
NODATA_SUFFIX = " (no data)"


def _md5(value: Any) -> str:
    return hashlib.md5(orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)).hexdigest()


def is_nodata_alert(strategy_id: int, bk_biz_id: int, target_type: str, target: str,
                    dimensions: Mapping[str, Any], alert_dedupe: str) -> bool:
    """No-data alerts carry a tag in their dedupe key only, so recompute the key to tell them apart."""
    tagged = {**dimensions, NODATA_TAG: 1}
    return dedupe_md5(strategy_id, bk_biz_id, target_type, target, tagged) == alert_dedupe


def close_event(*, dedupe: str, strategy_id: int, item_id: int, alert_name: str, bk_biz_id: int, severity: int,
                latest_time: int, dimensions: Mapping[str, Any], is_nodata: bool, reason: str) -> dict[str, Any]:
    """A `closed` event for one alert at its latest time, so every run builds the same event."""
    name = alert_name[:-len(NODATA_SUFFIX)] if is_nodata and alert_name.endswith(NODATA_SUFFIX) else alert_name
    event = build_status_event("closed", strategy_id=strategy_id, item_id=item_id, strategy_name=name,
                               bk_biz_id=bk_biz_id, level=severity, t=latest_time, value=None,
                               dimensions=dimensions, reason=reason, about_nodata=is_nodata)
    if event["dedupe_md5"] != dedupe:  # e.g. an alert from another event source: address it directly
        event["dedupe_md5"] = dedupe
        event["event_id"] = _md5([dedupe, item_id, "closed", severity, latest_time])
    return event


def pipeline_dimensions(group: str) -> dict[str, str]:
    return {"component": "access", "group": group}


def pipeline_event(kind: str, *, group: str, started: int, t: int, reasons: Sequence[str] = (),
                   total_lag: int = 0) -> dict[str, Any]:
    """The "pipeline degraded" alert of one episode: `anomaly` opens it, `recovered` ends it. The ids
    depend on the group and the episode's start only, so repeating either changes nothing."""
    dimensions = pipeline_dimensions(group)
    dedupe = dedupe_md5(0, 0, "", "", dimensions)
    return {
        "event_id": _md5(["pipeline", group, started, kind]),
        "event_type": kind,
        "strategy_id": 0,
        "item_id": 0,
        "alert_name": PIPELINE_ALERT_NAME,
        "severity": 1,
        "bk_biz_id": 0,
        "dedupe_md5": dedupe,
        "dedupe_keys": ["strategy_id", "target_type", "target", "bk_biz_id", "tags.component", "tags.group"],
        "dimensions": dimensions,
        "target_type": "",
        "target": "",
        "time": t,
        "anomaly_time": t,
        "value": float(total_lag),
        "reason": "; ".join(reasons)[:1024],
        "origin_data": {"reasons": list(reasons), "total_lag": total_lag, "episode_started": started},
        "anomaly_ids": [],
    }
