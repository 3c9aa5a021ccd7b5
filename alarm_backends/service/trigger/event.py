"""Anomaly events: the reference's fields, with ids derived only from what the
event is about, so a replay produces byte-identical events with the same id.

An event's JSON is written with one %-format: ItemEvents holds the formats
of an item's events with the strategy's fields written in, _Series the JSON
of what one series' events share (dimensions, target, dedupe keys), and
SeriesEvents the hashes of one item's series (its dedupe_md5s and the
prefixes of its event and record ids), each computed once and small, so a
million series cost little. Events are Event objects: the JSON that is
produced, readable as a mapping.
Every event says why (`reason`, and for anomalies a `detail` object): the words and fields that depend
only on the strategy are written per item and level by reason.py, so an event adds only its numbers.
build_event and build_status_event build through it and return plain dicts,
so both paths give the same events.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from alarm_backends.service.trigger.reason import LevelReason, fallback_reason

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
    return _md5([strategy_id, target_type, target, bk_biz_id, sorted(dimensions.items())])


class _Tags:
    """The JSON that a series' events and their hashes take from its sorted tags."""

    __slots__ = ("json", "shared")

    def __init__(self, tags: list[tuple[str, Any]], series: _Series) -> None:
        self.json = orjson.dumps(tags, option=_DUMP)  # as it appears in the hashed JSON
        keys = ("strategy_id", "target_type", "target", "bk_biz_id", *[f"tags.{k}" for k, _v in tags])
        # the event fields that follow dedupe_md5 (JSON members, without the braces)
        self.shared = orjson.dumps({"dedupe_keys": keys, "dimensions": orjson.Fragment(series.dimensions_json),
                                    "target_type": series.target_type, "target": series.target},
                                   option=orjson.OPT_NON_STR_KEYS)[1:-1]


class _Series:
    """What the events of every item watching one series share: its dimensions, target and
    tags, and the same with the no-data tag (made when first needed)."""

    __slots__ = ("dimensions", "target_type", "target", "dimensions_json", "dedupe_middle", "tags", "_nodata")

    def __init__(self, dimensions: tuple[tuple[str, Any], ...]) -> None:
        self.dimensions = dict(dimensions)
        self.target_type, self.target = target_of(self.dimensions)
        self.dimensions_json = orjson.dumps(self.dimensions, option=orjson.OPT_NON_STR_KEYS)
        # the dedupe hash is of [strategy_id, target_type, target, bk_biz_id, tags]
        self.dedupe_middle = b",%s,%s," % (orjson.dumps(self.target_type), orjson.dumps(self.target))
        self.tags = _Tags(sorted(self.dimensions.items()), self)
        self._nodata: _Tags | None = None

    def nodata(self) -> _Tags:
        """The tags of the series' no-data alert."""
        if self._nodata is None:
            self._nodata = _Tags(sorted({**self.dimensions, NODATA_TAG: 1}.items()), self)
        return self._nodata


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


def _json(value: Any) -> bytes:
    """JSON to splice into a %-format: its own % signs escaped."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).replace(b"%", b"%%")


@dataclass(frozen=True, slots=True)
class ItemEvents:
    """What the events of every series of one item share: the strategy and the item's query, and
    the %-formats of their JSON with those constant fields written in (the series' and the
    event's own fields are the arguments)."""
    strategy_id: int
    item_id: int
    strategy_name: str
    bk_biz_id: int
    uid: str = ""
    interval: int = 0
    metric: str = ""
    table_id: str = ""
    agg_method: str = ""
    # per level, why its anomalies fire (reason.level_reason); a level not in it gets a plain reason
    levels: Mapping[int, LevelReason] = field(default_factory=dict, compare=False, hash=False)
    anomaly_format: bytes = field(init=False)
    status_formats: tuple[bytes, bytes] = field(init=False)  # the series' own alert, its no-data alert

    def __post_init__(self) -> None:
        heads = [_json({"strategy_id": self.strategy_id, "item_id": self.item_id, "alert_name": name,
                        "bk_biz_id": self.bk_biz_id, "dedupe_md5": ""})[:-2] + _EVENT_HEAD
                 for name in (self.strategy_name, f"{self.strategy_name} (no data)")]
        object.__setattr__(self, "status_formats", tuple(
            head + b'"reason":%s,"origin_data":{},"anomaly_ids":[]}' for head in heads))
        object.__setattr__(self, "anomaly_format", heads[0] + b'"origin_data":{"record_id":"%s.%d","time":%d,'
                           b'"value":%s,"values":{' + _json(self.metric) + b':%s},"dimensions":%s,"interval":'
                           + _json(self.interval) + b',"points":%d,"result_table_id":' + _json(self.table_id)
                           + b'},"anomaly_ids":%s,%s}')

    def reason_of(self, level: int) -> LevelReason:
        reason = self.levels.get(level)
        if reason is None:
            reason = fallback_reason(level, self.agg_method, self.metric)
            if isinstance(self.levels, dict):  # made once per level, like the rest of the item's formats
                self.levels[level] = reason
        return reason


# after `"dedupe_md5":"`: its value, the series' members, then the event's own fields
_EVENT_HEAD = (b'%s",%s,"event_id":"%s","event_type":"%s","severity":%d,"time":%d,"anomaly_time":%d,'
               b'"value":%s,')


class SeriesEvents:
    """The events of one item's series. Per alert (the series' own, or its no-data alert) its
    dedupe_md5 and the JSON of `[dedupe_md5, item_id` that its event ids start with (ids are md5
    of [dedupe_md5, item_id, *tail]); record ids start with the series' md5. Made when first needed."""

    __slots__ = ("item", "series", "_alerts", "_record")

    def __init__(self, item: ItemEvents, dimensions: Mapping[str, Any]) -> None:
        self.item = item
        self.series = _series(tuple(dimensions.items()))
        self._alerts: list[tuple[bytes, bytes] | None] = [None, None]
        self._record = b""

    def _alert(self, nodata: bool) -> tuple[bytes, bytes]:
        alert = self._alerts[nodata]
        if alert is None:
            item, series = self.item, self.series
            tags = series.nodata() if nodata else series.tags
            dedupe = _new_md5(b"[%s%s%s,%s]" % (orjson.dumps(item.strategy_id), series.dedupe_middle,
                                                orjson.dumps(item.bk_biz_id), tags.json)).hexdigest().encode()
            alert = self._alerts[nodata] = (dedupe, b'["%s",%s' % (dedupe, orjson.dumps(item.item_id)))
        return alert

    def anomaly(self, *, level: int, t: int, value: float, anomaly_times: Sequence[int], points: int,
                previous: float | None = None) -> Event:
        """`previous`: the series' value in the window before t, when it has one (it tells by how much a
        ring ratio moved); `anomaly_times` are the level's anomalies in the trigger window."""
        dedupe, id_prefix = self._alert(False)
        record = self._record
        if not record:  # record ids are "<series md5>.<time>"
            record = self._record = _new_md5(b"[%s,%s]" % (orjson.dumps(self.item.uid),
                                                           self.series.tags.json)).hexdigest().encode()
        event_id = _new_md5(b"%s,%d,%d]" % (id_prefix, level, t)).hexdigest()
        value_json = orjson.dumps(value)
        ids = b'["' + b'","'.join([b"%s.%d.%d" % (record, a, level) for a in sorted(anomaly_times)]) + b'"]' \
            if anomaly_times else b"[]"
        json = self.item.anomaly_format % (
            dedupe, self.series.tags.shared, event_id.encode(), b"anomaly", level, t, t, value_json,
            record, t, t, value_json, value_json, self.series.dimensions_json, points, ids,
            self.item.reason_of(level).anomaly(value_json, value, previous, len(anomaly_times)))
        return Event(json, event_id, dedupe.decode(), "anomaly", t)

    def status(self, kind: str, *, level: int, t: int, value: float | None, reason: str = "",
               about_nodata: bool = False) -> Event:
        """recovering / recovered / closed for the series' alert, or no_data (its own alert:
        the dedupe key carries a no-data tag so it never merges with the threshold alert;
        `about_nodata` addresses that alert, e.g. to recover it when data comes back)."""
        kind_json = _STATUS_JSON.get(kind)
        if kind_json is None:
            raise ValueError(f"unknown status event {kind!r}")
        nodata = kind == "no_data" or about_nodata
        dedupe, id_prefix = self._alert(nodata)
        event_id = _new_md5(b"%s,%s,%d,%d]" % (id_prefix, kind_json, level, t)).hexdigest()
        tags = self.series.nodata() if nodata else self.series.tags
        json = self.item.status_formats[nodata] % (dedupe, tags.shared, event_id.encode(), kind.encode(), level, t, t,
                                                   orjson.dumps(value), orjson.dumps(reason))
        return Event(json, event_id, dedupe.decode(), kind, t)


_STATUS_JSON = {kind: orjson.dumps(kind) for kind in STATUS_EVENTS}


def build_event(*, strategy_id: int, item_id: int, strategy_name: str, bk_biz_id: int, level: int, t: int,
                value: float, dimensions: Mapping[str, Any], anomaly_times: Sequence[int], uid: str,
                interval: int, metric: str, table_id: str, points: int, agg_method: str = "",
                levels: Mapping[int, LevelReason] | None = None) -> dict[str, Any]:
    item = ItemEvents(strategy_id=strategy_id, item_id=item_id, strategy_name=strategy_name, bk_biz_id=bk_biz_id,
                      uid=uid, interval=interval, metric=metric, table_id=table_id, agg_method=agg_method,
                      levels=dict(levels or {}))
    return SeriesEvents(item, dimensions).anomaly(level=level, t=t, value=value, anomaly_times=anomaly_times,
                                                  points=points).fields


def build_status_event(kind: str, *, strategy_id: int, item_id: int, strategy_name: str, bk_biz_id: int,
                       level: int, t: int, value: float | None, dimensions: Mapping[str, Any],
                       reason: str = "", about_nodata: bool = False) -> dict[str, Any]:
    item = ItemEvents(strategy_id=strategy_id, item_id=item_id, strategy_name=strategy_name, bk_biz_id=bk_biz_id)
    return SeriesEvents(item, dimensions).status(kind, level=level, t=t, value=value, reason=reason,
                                                 about_nodata=about_nodata).fields
