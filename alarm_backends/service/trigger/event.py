"""Anomaly events: the reference's fields, with ids derived only from what the
event is about, so a replay produces byte-identical events with the same id."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson

_DUMP = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _md5(value: Any) -> str:
    return hashlib.md5(orjson.dumps(value, option=_DUMP)).hexdigest()


def target_of(dimensions: Mapping[str, Any]) -> tuple[str, str]:
    ip = dimensions.get("bk_target_ip") or dimensions.get("ip")
    if ip:
        return "HOST", f"{ip}|{dimensions.get('bk_target_cloud_id', 0)}"
    instance = dimensions.get("bk_target_service_instance_id")
    if instance:
        return "SERVICE", str(instance)
    return "", ""


def dedupe_md5(strategy_id: int, bk_biz_id: int, target_type: str, target: str,
               dimensions: Mapping[str, Any]) -> str:
    """md5 over strategy id, target type/target, bk_biz_id and the dimension tags."""
    return _md5([strategy_id, target_type, target, bk_biz_id, sorted(dimensions.items())])


@lru_cache(maxsize=65_536)
def _keys(strategy_id: int, bk_biz_id: int, dimensions: tuple[tuple[str, Any], ...], nodata: bool
          ) -> tuple[str, str, str, list[str]]:
    """(target type, target, dedupe md5, dedupe keys) of a series' events: the same for every
    event of the series, so they are hashed once (the cache only saves work)."""
    dims = dict(dimensions)
    tags = {**dims, NODATA_TAG: 1} if nodata else dims
    target_type, target = target_of(dims)
    dedupe = dedupe_md5(strategy_id, bk_biz_id, target_type, target, tags)
    return target_type, target, dedupe, ["strategy_id", "target_type", "target", "bk_biz_id",
                                         *(f"tags.{k}" for k in sorted(tags))]


def _envelope(event_type: str, *, event_id_parts: list[Any], strategy_id: int, item_id: int, alert_name: str,
              bk_biz_id: int, level: int, t: int, value: float | None, dimensions: Mapping[str, Any],
              nodata: bool) -> dict[str, Any]:
    """The fields every event carries; the event id hashes the dedupe key and `event_id_parts`."""
    target_type, target, dedupe, dedupe_keys = _keys(strategy_id, bk_biz_id, tuple(dimensions.items()), nodata)
    return {
        "event_id": _md5([dedupe, *event_id_parts]),
        "event_type": event_type,
        "strategy_id": strategy_id,
        "item_id": item_id,
        "alert_name": alert_name,
        "severity": level,
        "bk_biz_id": bk_biz_id,
        "dedupe_md5": dedupe,
        "dedupe_keys": list(dedupe_keys),
        "dimensions": dict(dimensions),
        "target_type": target_type,
        "target": target,
        "time": t,
        "anomaly_time": t,
        "value": value,
    }


@lru_cache(maxsize=65_536)
def _series_md5(uid: str, dimensions: tuple[tuple[str, Any], ...]) -> str:
    return _md5([uid, sorted(dimensions)])


def build_event(*, strategy_id: int, item_id: int, strategy_name: str, bk_biz_id: int, level: int, t: int,
                value: float, dimensions: Mapping[str, Any], anomaly_times: Sequence[int], uid: str,
                interval: int, metric: str, table_id: str, points: int) -> dict[str, Any]:
    event = _envelope("anomaly", event_id_parts=[item_id, level, t], strategy_id=strategy_id, item_id=item_id,
                      alert_name=strategy_name, bk_biz_id=bk_biz_id, level=level, t=t, value=value,
                      dimensions=dimensions, nodata=False)
    series = _series_md5(uid, tuple(dimensions.items()))  # record ids are "<series md5>.<time>"
    event["origin_data"] = {"record_id": f"{series}.{t}", "time": t, "value": value, "values": {metric: value},
                            "dimensions": dict(dimensions), "interval": interval, "points": points,
                            "result_table_id": table_id}
    event["anomaly_ids"] = [f"{series}.{a}.{level}" for a in sorted(anomaly_times)]
    return event


NODATA_TAG = "__nodata__"
STATUS_EVENTS = ("recovering", "recovered", "closed", "no_data")


def build_status_event(kind: str, *, strategy_id: int, item_id: int, strategy_name: str, bk_biz_id: int,
                       level: int, t: int, value: float | None, dimensions: Mapping[str, Any],
                       reason: str = "", about_nodata: bool = False) -> dict[str, Any]:
    """recovering / recovered / closed for the series' alert, or no_data (its own alert:
    the dedupe key carries a no-data tag so it never merges with the threshold alert;
    `about_nodata` addresses that alert, e.g. to recover it when data comes back)."""
    if kind not in STATUS_EVENTS:
        raise ValueError(f"unknown status event {kind!r}")
    nodata = kind == "no_data" or about_nodata
    event = _envelope(kind, event_id_parts=[item_id, kind, level, t], strategy_id=strategy_id, item_id=item_id,
                      alert_name=f"{strategy_name} (no data)" if nodata else strategy_name, bk_biz_id=bk_biz_id,
                      level=level, t=t, value=value, dimensions=dimensions,
                      nodata=nodata)
    event.update(reason=reason, origin_data={}, anomaly_ids=[])
    return event
