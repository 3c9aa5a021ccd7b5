"""Why an event fired, in words (`reason`) and in fields (`detail`).

Events are written on the hot path, so everything that depends only on the strategy (the aggregation
"avg(usage)", each level's rule "Threshold >= 90", its trigger "3 of 5 windows", the recovery and no-data
rules) is written once per item and level, already JSON-escaped, into %-formats; an event adds only its
numbers. The comparison that held is said exactly where it costs a few comparisons (a Threshold's AND-group,
a ring ratio against the previous window); elsewhere the configured rule and the value are stated, never a
guess at what a column-wise detector matched.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from alarm_backends.service.detect import units
from alarm_backends.service.detect.algorithms.amplitude import RingRatioAmplitude, YearRoundAmplitude
from alarm_backends.service.detect.algorithms.ratio import AdvancedRatio, SimpleRatio
from alarm_backends.service.detect.algorithms.threshold import Threshold
from alarm_backends.service.detect.algorithms.year_round_range import YearRoundRange
from alarm_backends.service.detect.compare import METHODS, rounded
from alarm_backends.service.detect.errors import AlgorithmConfigError
from alarm_backends.service.detect.registry import parse_algorithm

OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "==", "neq": "!="}
#: the event contract caps `reason` at 1024 characters; the constant parts stay well below it
MAX_RULE = 300
MAX_NAME = 120


def number(value: float) -> str:
    """90 rather than 90.0: thresholds read as they were configured."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _escaped(text: str) -> bytes:
    """`text` as it sits inside a JSON string in a %-format: quotes and non-ASCII escaped by orjson, % doubled."""
    return orjson.dumps(text)[1:-1].replace(b"%", b"%%")


def aggregation(method: str, metric: str) -> str:
    return f"{method.lower()}({_clip(metric, MAX_NAME)})" if method else _clip(metric, MAX_NAME)


def _group_text(group: Sequence[Any]) -> str:
    return " and ".join(f"{OPS[c.method]} {number(c.threshold)}" for c in group)


def _sides(floor: float | None, ceil: float | None) -> str:
    parts = ([f"a drop of {number(floor)}% or more"] if floor else []) + \
            ([f"a rise of {number(ceil)}% or more"] if ceil else [])
    return " or ".join(parts)


def describe(spec: Any) -> str:
    """The configured rule of one parsed algorithm, in words."""
    if isinstance(spec, Threshold):
        groups = spec.groups
        if len(groups) == 1:
            return _group_text(groups[0])
        return " or ".join(f"({_group_text(g)})" if len(g) > 1 else _group_text(g) for g in groups)
    if isinstance(spec, SimpleRatio):
        against = "the same time a week before" if spec.period else "the previous window"
        return f"{_sides(spec.floor, spec.ceil)} against {against}"
    if isinstance(spec, AdvancedRatio):
        unit = "days (same time)" if spec.period else "windows"
        sides = []
        if spec.floor:
            sides.append(f"a drop of {number(spec.floor)}% or more against the {spec.fetch_type} of the previous "
                         f"{spec.floor_points} {unit}")
        if spec.ceil:
            sides.append(f"a rise of {number(spec.ceil)}% or more against the {spec.fetch_type} of the previous "
                         f"{spec.ceil_points} {unit}")
        return " or ".join(sides)
    if isinstance(spec, RingRatioAmplitude):
        return (f"|change from the previous window| >= previous * {number(spec.ratio)} + {number(spec.shock)}, "
                f"both values >= {number(spec.threshold)}")
    if isinstance(spec, YearRoundAmplitude):
        c = spec.config
        return (f"|change from the previous window| {OPS[c.method]} the same change on one of the previous "
                f"{c.days} days * {number(c.ratio)} + {number(c.shock)}")
    if isinstance(spec, YearRoundRange):
        c = spec.config
        return (f"|value| {OPS[c.method]} |value at the same time on one of the previous {c.days} days| "
                f"* {number(c.ratio)} + {number(c.shock)}")
    return type(spec).__name__


class _Held:
    """Says which part of a level's rule held for a value: a constant where that is all that can be said."""

    __slots__ = ("constant", "thresholds", "ring", "fallback")

    def __init__(self, constant: bytes | None = None,
                 thresholds: tuple[tuple[tuple[tuple[Any, float], ...], bytes], ...] = (),
                 ring: tuple[float | None, float | None] | None = None, fallback: bytes = b"") -> None:
        self.constant = constant
        self.thresholds = thresholds  # ((compiled AND-group, its text), ...) in config order
        self.ring = ring  # a SimpleRingRatio's (floor, ceil): compared with the previous window
        self.fallback = fallback

    def __call__(self, value: float, previous: float | None) -> bytes:
        if self.constant is not None:
            return self.constant
        v = rounded(value)
        for group, text in self.thresholds:
            for op, threshold in group:
                if not op(v, threshold):
                    break
            else:
                return text
        if self.ring is not None and previous is not None:
            return self._ring(v, rounded(previous))
        return self.fallback

    def _ring(self, v: float, h: float) -> bytes:
        floor, ceil = self.ring  # type: ignore[misc]
        if floor and (v or h) and v <= rounded(h * (100 - floor) / 100):
            return _escaped(f"<= {number(h)} * (100-{number(floor)})/100 of the previous window")
        if ceil and (v or h) and v >= rounded(h * (100 + ceil) / 100):
            return _escaped(f">= {number(h)} * (100+{number(ceil)})/100 of the previous window")
        return self.fallback


def _scale(spec: Any, unit_prefix: str, metric_unit: str) -> float:
    if not getattr(spec, "uses_unit", False) or not unit_prefix:
        return 1.0
    return units.conversion_factor(unit_prefix, metric_unit) or 1.0


def _held_of(parsed: list[tuple[str, Any, str]], connector: str, metric_unit: str) -> tuple[_Held, str]:
    """What to say held, and the level's whole rule in words."""
    texts = [describe(spec) + (f" ({prefix})" if prefix else "") for _kind, spec, prefix in parsed]
    joiner = f" {connector} "
    rule = _clip(joiner.join(f"{kind} {text}" for (kind, _s, _p), text in zip(parsed, texts, strict=True)), MAX_RULE)
    if not parsed:
        return _Held(constant=b""), rule
    if len(parsed) == 1:
        kind, spec, prefix = parsed[0]
        if isinstance(spec, Threshold) and len(spec.groups) == 1:
            return _Held(constant=_escaped(_clip(texts[0], MAX_RULE))), rule
        if kind == "SimpleRingRatio":
            return _Held(ring=(spec.floor, spec.ceil), fallback=_escaped(_clip(f"({texts[0]})", MAX_RULE))), rule
        if not isinstance(spec, Threshold):
            return _Held(constant=_escaped(_clip(f"({texts[0]})", MAX_RULE))), rule
    if connector == "and" and not any(isinstance(s, Threshold) and len(s.groups) > 1 for _k, s, _p in parsed):
        return _Held(constant=_escaped(_clip(f"({rule})", MAX_RULE))), rule
    # a Threshold's AND-groups are cheap to re-check; an "or" of other algorithms is stated as configured
    thresholds = []
    for _kind, spec, prefix in parsed:
        if isinstance(spec, Threshold):
            scale = _scale(spec, prefix, metric_unit)
            for group in spec.groups:
                compiled = tuple((METHODS[c.method], rounded(c.threshold * scale)) for c in group)
                suffix = f" ({prefix})" if prefix else ""
                thresholds.append((compiled, _escaped(_clip(_group_text(group) + suffix, MAX_RULE))))
    others = [f"{k} {t}" for (k, s, _p), t in zip(parsed, texts, strict=True) if not isinstance(s, Threshold)]
    if connector == "and":
        fallback = _escaped(_clip(f"({rule})", MAX_RULE))
    elif len(others) == 1:  # no Threshold held, so the only other algorithm did
        fallback = _escaped(_clip(f"({others[0]})", MAX_RULE))
    else:
        fallback = _escaped(_clip(f"(one of: {'; '.join(others) or rule})", MAX_RULE))
    return _Held(thresholds=tuple(thresholds), fallback=fallback), rule


@dataclass(frozen=True, slots=True)
class LevelReason:
    """One level's reasons: `anomaly(value_json, value, previous, count)` gives the JSON members
    `"reason":...,"detail":{...}` of an anomaly event; `status_reason(kind, ...)` the reason of the others."""
    level: int
    aggregation: str
    rule: str
    trigger: str  # "3 of 5 windows"
    held: _Held
    anomaly_format: bytes

    def anomaly(self, value_json: bytes, value: float, previous: float | None, count: int) -> bytes:
        held = self.held(value, previous)
        return self.anomaly_format % (value_json, held, count, value_json, held, count)

    def rule_text(self) -> str:
        return f"level {self.level} ({self.rule}, {self.trigger})"


def level_reason(*, level: int, method: str, metric: str, algorithms: Sequence[Mapping[str, Any]],
                 connector: str, trigger_count: int, check_window: int, metric_unit: str = "") -> LevelReason:
    agg = aggregation(method, metric)
    parsed: list[tuple[str, Any, str]] = []
    for algorithm in algorithms:
        try:
            p = parse_algorithm(algorithm)
        except AlgorithmConfigError:  # stored strategies were validated; describe what there is, do not fail
            parsed.append((str(algorithm.get("type")), object(), ""))
            continue
        parsed.append((p.type, p.spec, p.unit_prefix))
    held, rule = _held_of(parsed, connector, metric_unit)
    names = _clip(f" {connector} ".join(kind for kind, _s, _p in parsed) or "no algorithm", MAX_NAME)
    trigger = f"{trigger_count} of {check_window} windows"
    detail_head = _json_members({"aggregation": agg, "method": method, "metric": metric, "level": level,
                                 "algorithms": [{k: v for k, v in a.items() if k != "id"} for a in algorithms],
                                 "connector": connector, "rule": rule, "trigger_count": trigger_count,
                                 "check_window": check_window})
    anomaly_format = (b'"reason":"' + _escaped(agg) + b' = %s %s, ' + _escaped(f"{names} at level {level}, ")
                      + b'%d' + _escaped(f" of {check_window} windows (needs {trigger_count})") + b'","detail":{'
                      + detail_head + b',"value":%s,"comparison":"%s","count":%d}')
    return LevelReason(level, agg, rule, trigger, held, anomaly_format)


def fallback_reason(level: int, method: str, metric: str) -> LevelReason:
    """For events built without the strategy's levels (tools and tests): the value and the count only."""
    agg = aggregation(method, metric)
    anomaly_format = (b'"reason":"' + _escaped(agg) + b' = %s%s, ' + _escaped(f"level {level}, ") + b'%d'
                      + b' anomalous windows","detail":{' + _json_members({"aggregation": agg, "level": level})
                      + b',"value":%s,"comparison":"%s","count":%d}')
    return LevelReason(level, agg, "", "", _Held(constant=b""), anomaly_format)


def _json_members(value: dict[str, Any]) -> bytes:
    """An object's members without braces, ready for a %-format."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)[1:-1].replace(b"%", b"%%")


@dataclass(frozen=True, slots=True)
class StatusReasons:
    """The reasons of one item's status events, as %-templates taking the value (`repr`)."""
    recovering: str
    recovered: str
    closed: str  # recovery_config.status_setter close
    nodata_end: str  # a -nodata status_setter ended it
    nodata_close: str  # no data for max(trigger window, 30 min)
    no_data: str
    data_back: str

    @staticmethod
    def say(template: str, value: float | None) -> str:
        return template % ("none" if value is None else repr(float(value)))


def _template(text: str) -> str:
    return text.replace("%", "%%")


def status_reasons(reason: LevelReason, *, check_window: int, setter: str, close_after: int, interval: int,
                   nodata_continuous: int) -> StatusReasons:
    agg, rule = _template(reason.aggregation), _template(reason.rule_text())
    setter = _template(setter)
    return StatusReasons(
        recovering=f"recovering: {agg} = %s no longer meets {rule}; {check_window} such windows in a row end "
                   f"the alert",
        recovered=f"recovered after {check_window} windows in a row not meeting {rule}: last {agg} = %s",
        closed=f"closed (recovery_config.status_setter {setter}) after {check_window} windows in a row not "
               f"meeting {rule}: last {agg} = %s",
        nodata_end=f"no data for {check_window} windows (recovery_config.status_setter {setter}): last {agg} = %s",
        nodata_close=f"no data for {close_after} windows ({close_after * interval // 60} min, the longer of the "
                     f"trigger window and 30 min): last {agg} = %s",
        no_data=f"no data for {nodata_continuous} windows (no_data_config.continuous {nodata_continuous}): "
                f"last {agg} = %s",
        data_back=f"data is back: {agg} = %s",
    )
