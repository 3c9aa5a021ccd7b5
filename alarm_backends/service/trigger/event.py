"""Anomaly events: the reference's fields, with ids derived only from what the
event is about, so a replay produces byte-identical events with the same id.

SeriesEvents holds what every event of one item's series shares (target,
dedupe keys, the hashed prefixes of its ids, the JSON of its constant fields),
so the access stage computes it once per series instead of once per event.
Its events are Event objects: the JSON that is produced, written once from
that constant head and the event's own fields, and readable as a mapping.
build_event and build_status_event build through it and return plain dicts,
so both paths give the same events.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson

try:  # CPython's built-in md5: the same digests, and ~40% faster than OpenSSL's for short inputs
    from _md5 import md5 as _new_md5
except ImportError:  # a build without it
    _new_md5 = hashlib.md5

_DUMP = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
NODATA_TAG = "__nodata__"
STATUS_EVENTS = ("recovering", "recovered", "closed", "no_data")


def _md5(value: Any) -> str:
    return _new_md5(orjson.dumps(value, option=_DUMP)).hexdigest()


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
    return _dedupe_of(strategy_id, bk_biz_id, target_type, target, sorted(dimensions.items()))


def _dedupe_of(strategy_id: int, bk_biz_id: int, target_type: str, target: str,
               sorted_tags: list[tuple[str, Any]]) -> str:
    return _md5([strategy_id, target_type, target, bk_biz_id, sorted_tags])


class _Series:
    """What the events of every item watching one series share: its dimensions, target and
    sorted tags, with and without the no-data tag."""

    __slots__ = ("dimensions", "target_type", "target", "tags", "keys", "nodata_tags", "nodata_keys")

    def __init__(self, dimensions: tuple[tuple[str, Any], ...]) -> None:
        self.dimensions = dict(dimensions)
        self.target_type, self.target = target_of(self.dimensions)
        self.tags = sorted(self.dimensions.items())
        self.nodata_tags = sorted({**self.dimensions, NODATA_TAG: 1}.items())
        self.keys, self.nodata_keys = (("strategy_id", "target_type", "target", "bk_biz_id",
                                        *(f"tags.{k}" for k, _v in tags)) for tags in (self.tags, self.nodata_tags))


_series = lru_cache(maxsize=65_536)(_Series)  # the cache only saves work


class Event(Mapping[str, Any]):
    """One event as the JSON it is produced as. What the producer and the callers need on the hot
    path (the id, the dedupe key that keys it, the type, the time) are attributes; the other
    fields are read as a mapping, decoded on first read."""

    __slots__ = ("json", "event_id", "dedupe_md5", "event_type", "time", "_fields")

    def __init__(self, json: bytes, event_id: str, dedupe_md5: str, event_type: str, time: int) -> None:
        self.json, self.event_id, self.dedupe_md5, self.event_type, self.time = (json, event_id, dedupe_md5,
                                                                                 event_type, time)
        self._fields: dict[str, Any] | None = None

    @property
    def fields(self) -> dict[str, Any]:
        """The decoded event (a fresh dict per Event: the caller may keep or change it)."""
        if self._fields is None:
            self._fields = orjson.loads(self.json)
        return self._fields

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __repr__(self) -> str:
        return f"Event({self.json.decode()})"


class _Envelope:
    """The fields of one alert's events (the series' own alert, or its no-data alert) as JSON, and
    the JSON of `[dedupe_md5, item_id` that every event id of the alert starts with."""

    __slots__ = ("dedupe_md5", "head", "id_prefix")

    def __init__(self, events: SeriesEvents, nodata: bool) -> None:
        series = events.series
        tags = series.nodata_tags if nodata else series.tags
        self.dedupe_md5 = _dedupe_of(events.strategy_id, events.bk_biz_id, series.target_type, series.target, tags)
        # `{"strategy_id":...,"target":"...",`: what follows is the event's own fields
        self.head = orjson.dumps({
            "strategy_id": events.strategy_id, "item_id": events.item_id,
            "alert_name": f"{events.strategy_name} (no data)" if nodata else events.strategy_name,
            "bk_biz_id": events.bk_biz_id, "dedupe_md5": self.dedupe_md5,
            "dedupe_keys": series.nodata_keys if nodata else series.keys, "dimensions": series.dimensions,
            "target_type": series.target_type, "target": series.target,
        }, option=orjson.OPT_NON_STR_KEYS)[:-1] + b","
        self.id_prefix = orjson.dumps([self.dedupe_md5, events.item_id], option=_DUMP)[:-1]

    def event(self, event_type: str, id_tail: list[Any], level: int, t: int, value: float | None,
              rest: dict[str, Any]) -> Event:
        """The event id is md5 of the JSON of [dedupe_md5, item_id, *id_tail]."""
        event_id = _new_md5(self.id_prefix + orjson.dumps(id_tail, option=_DUMP).replace(b"[", b",", 1)).hexdigest()
        own = orjson.dumps({"event_id": event_id, "event_type": event_type, "severity": level, "time": t,
                            "anomaly_time": t, "value": value, **rest}, option=orjson.OPT_NON_STR_KEYS)
        return Event(self.head + own[1:], event_id, self.dedupe_md5, event_type, t)


class SeriesEvents:
    """The events of one item's series."""

    __slots__ = ("strategy_id", "item_id", "strategy_name", "bk_biz_id", "series", "interval", "metric",
                 "table_id", "uid", "_record_prefix", "_dimensions_json", "_alert", "_nodata_alert")

    def __init__(self, *, strategy_id: int, item_id: int, strategy_name: str, bk_biz_id: int,
                 dimensions: Mapping[str, Any], uid: str = "", interval: int = 0, metric: str = "",
                 table_id: str = "") -> None:
        self.strategy_id, self.item_id, self.strategy_name, self.bk_biz_id = (strategy_id, item_id, strategy_name,
                                                                              bk_biz_id)
        self.series = _series(tuple(dimensions.items()))
        self.interval, self.metric, self.table_id, self.uid = interval, metric, table_id, uid
        self._record_prefix: str | None = None
        self._dimensions_json: orjson.Fragment | None = None
        self._alert: _Envelope | None = None
        self._nodata_alert: _Envelope | None = None

    def _envelope(self, nodata: bool) -> _Envelope:
        if nodata:
            if self._nodata_alert is None:
                self._nodata_alert = _Envelope(self, nodata=True)
            return self._nodata_alert
        if self._alert is None:
            self._alert = _Envelope(self, nodata=False)
        return self._alert

    def anomaly(self, *, level: int, t: int, value: float, anomaly_times: Sequence[int], points: int) -> Event:
        record = self._record_prefix
        if record is None:  # record ids are "<series md5>.<time>"
            record = self._record_prefix = _md5([self.uid, self.series.tags])
            self._dimensions_json = orjson.Fragment(orjson.dumps(self.series.dimensions,
                                                                 option=orjson.OPT_NON_STR_KEYS))
        origin = {"record_id": f"{record}.{t}", "time": t, "value": value, "values": {self.metric: value},
                  "dimensions": self._dimensions_json, "interval": self.interval, "points": points,
                  "result_table_id": self.table_id}
        return self._envelope(False).event("anomaly", [level, t], level, t, value, {
            "origin_data": origin, "anomaly_ids": [f"{record}.{a}.{level}" for a in sorted(anomaly_times)]})

    def status(self, kind: str, *, level: int, t: int, value: float | None, reason: str = "",
               about_nodata: bool = False) -> Event:
        """recovering / recovered / closed for the series' alert, or no_data (its own alert:
        the dedupe key carries a no-data tag so it never merges with the threshold alert;
        `about_nodata` addresses that alert, e.g. to recover it when data comes back)."""
        if kind not in STATUS_EVENTS:
            raise ValueError(f"unknown status event {kind!r}")
        return self._envelope(kind == "no_data" or about_nodata).event(
            kind, [kind, level, t], level, t, value, {"reason": reason, "origin_data": {}, "anomaly_ids": []})


def build_event(*, strategy_id: int, item_id: int, strategy_name: str, bk_biz_id: int, level: int, t: int,
                value: float, dimensions: Mapping[str, Any], anomaly_times: Sequence[int], uid: str,
                interval: int, metric: str, table_id: str, points: int) -> dict[str, Any]:
    series = SeriesEvents(strategy_id=strategy_id, item_id=item_id, strategy_name=strategy_name,
                          bk_biz_id=bk_biz_id, dimensions=dimensions, uid=uid, interval=interval, metric=metric,
                          table_id=table_id)
    return series.anomaly(level=level, t=t, value=value, anomaly_times=anomaly_times, points=points).fields


def build_status_event(kind: str, *, strategy_id: int, item_id: int, strategy_name: str, bk_biz_id: int,
                       level: int, t: int, value: float | None, dimensions: Mapping[str, Any],
                       reason: str = "", about_nodata: bool = False) -> dict[str, Any]:
    series = SeriesEvents(strategy_id=strategy_id, item_id=item_id, strategy_name=strategy_name,
                          bk_biz_id=bk_biz_id, dimensions=dimensions)
    return series.status(kind, level=level, t=t, value=value, reason=reason, about_nodata=about_nodata).fields
