"""Bad input, by kind: a catalogue of the messages that once stopped a partition (issue 12), and
hypothesis strategies for random bytes, random JSON and random field values."""
from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import strategies as st

T0 = 1_700_000_040 - 1_700_000_040 % 60
YEAR_2100 = 4_102_444_800
YEAR_3_000_000 = 3_000_000 * 31_556_952  # seconds; above 1e12 it reads as milliseconds: still year ~4970
MB = 1_000_000


def metric_message(t: Any = T0, value: Any = 95.0, ip: Any = "10.0.0.1", **dimensions: Any) -> dict[str, Any]:
    return {"time": t, "dimensions": {"bk_target_ip": ip, "bk_target_cloud_id": "0", **dimensions},
            "metrics": {"usage": value}}


def padded_invalid(size: int) -> bytes:
    """An invalid metric message of about `size` bytes: its time is not a number."""
    return orjson.dumps(metric_message(t="yesterday", pad="x" * size))


#: kind -> (raw metric message, what its dead letter's reason says)
POISON_METRICS: dict[str, tuple[bytes, str]] = {
    "not UTF-8": (orjson.dumps(metric_message()).replace(b"10.0.0.1", b"10.\xff.0.1"), "not UTF-8"),
    "time above 2**63": (orjson.dumps(metric_message(t=2**63 + 1)), "past the latest time accepted"),
    "year 2100 in seconds": (orjson.dumps(metric_message(t=YEAR_2100)), "past the latest time accepted"),
    "year 2100 in milliseconds": (orjson.dumps(metric_message(t=YEAR_2100 * 1000)), "past the latest time accepted"),
    "year 3,000,000": (orjson.dumps(metric_message(t=YEAR_3_000_000)), "past the latest time accepted"),
    "300-character bk_target_ip": (orjson.dumps(metric_message(ip="1" * 300)), "at most 255 characters"),
    "dimension beyond int64": (orjson.dumps(metric_message(k=2**64 - 1)), "must be an integer between"),
    "NUL in a dimension": (orjson.dumps(metric_message(ip="10.0.0.1\x00")), "NUL character"),
    "1 MB invalid": (padded_invalid(MB), "'time' must be a positive epoch number"),
    "5 MB invalid": (padded_invalid(5 * MB), "'time' must be a positive epoch number"),
}


# random field values: what a careless or hostile producer sends
WEIRD_SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),  # past int64 both ways (orjson reads up to u64)
    st.sampled_from([2**63 - 1, 2**63, 2**63 + 1, 2**64 - 1, -(2**63), 0, -1, 10**15, YEAR_2100,
                     YEAR_2100 * 1000, YEAR_3_000_000, T0, T0 * 1000]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "", "1e400", "0x10", "\x00", "10.0.0.1\x00"]),
    st.text(max_size=20),
    st.text(min_size=120, max_size=300),  # around the target limit
)
WEIRD_VALUES = st.recursive(WEIRD_SCALARS, lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


def to_json(value: Any) -> bytes:
    """Any Python value as JSON text (the standard library writes integers of any size, as a producer could)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


@st.composite
def corrupted(draw: st.DrawFn, raw: bytes) -> bytes:
    """`raw` with one byte replaced by one that is not UTF-8 (inside a string or not)."""
    position = draw(st.integers(min_value=0, max_value=max(len(raw) - 1, 0)))
    bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"]))
    return raw[:position] + bad + raw[position + 1:]


@st.composite
def metric_field_values(draw: st.DrawFn) -> bytes:
    """A metric message of the right shape whose fields take random values."""
    point = metric_message()
    fields = draw(st.sets(st.sampled_from(["time", "value", "ip", "cloud", "k", "dimensions", "metrics"]),
                          min_size=1))
    for field in sorted(fields, key=lambda name: name in ("dimensions", "metrics")):  # whole objects last
        value = draw(WEIRD_VALUES)
        if field == "value":
            point["metrics"]["usage"] = value
        elif field == "ip":
            point["dimensions"]["bk_target_ip"] = value
        elif field == "cloud":
            point["dimensions"]["bk_target_cloud_id"] = value
        elif field == "k":
            point["dimensions"]["k"] = value
        else:
            point[field] = value
    message: Any = [point, metric_message()] if draw(st.booleans()) else point
    return to_json(message)


@st.composite
def event_field_values(draw: st.DrawFn) -> bytes:
    """A custom event report of the right shape whose fields take random values."""
    event: dict[str, Any] = {"event_name": "disk_full", "event": {"content": "/data is full"}, "target": "10.0.0.1",
                             "dimension": {"module": "db"}, "timestamp": T0 * 1000}
    report: dict[str, Any] = {"data_id": 1500001, "data": [event]}
    fields = draw(st.sets(st.sampled_from(["data_id", "data", "event_name", "event", "content", "target",
                                           "dimension", "module", "timestamp"]), min_size=1))
    for field in sorted(fields, key=lambda name: name in ("data", "event", "dimension")):  # whole objects last
        value = draw(WEIRD_VALUES)
        if field in report:
            report[field] = value
        elif field == "content":
            event["event"] = {"content": value}
        elif field == "module":
            event["dimension"] = {"module": value}
        else:
            event[field] = value
    return to_json(report)


def any_message(fields: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Random bytes, random JSON, random field values, and the same made not UTF-8."""
    shaped = st.one_of(fields, JSON_VALUES.map(to_json))
    return st.one_of(st.binary(max_size=200), shaped, shaped.flatmap(corrupted))
