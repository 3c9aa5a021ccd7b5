"""Events say why they fired: the aggregated value, the rule and comparison that held, the trigger count,
and for recovery and no-data events what ended or opened them (on plain data, no broker)."""
from __future__ import annotations

import orjson

from alarm_backends.service.trigger.event import ItemEvents, SeriesEvents
from alarm_backends.service.trigger.reason import level_reason
from tests.access.strategies import ring_ratio_strategy, threshold_strategy
from tests.access.test_processor import ALL, T0, minutes, msg, run


def recovery(strategy: dict, check_window: int, setter: str = "recovery") -> dict:
    strategy["detects"][0]["recovery_config"] = {"check_window": check_window, "status_setter": setter}
    return strategy


def test_an_anomaly_event_states_the_value_rule_comparison_and_trigger_count_in_words_and_fields() -> None:
    events, _ = run([threshold_strategy(count=3, check_window=5)], minutes([10, 95, 20, 96, 97.25, 10]))
    [event] = events
    assert event["reason"] == "avg(usage) = 97.25 >= 90, Threshold at level 1, 3 of 5 windows (needs 3)"
    detail = event["detail"]
    assert (detail["aggregation"], detail["method"], detail["metric"], detail["value"]) == (
        "avg(usage)", "AVG", "usage", 97.25)
    assert (detail["level"], detail["rule"], detail["comparison"], detail["connector"]) == (
        1, "Threshold >= 90", ">= 90", "and")
    assert (detail["count"], detail["trigger_count"], detail["check_window"]) == (3, 3, 5)
    assert detail["algorithms"] == [{"level": 1, "type": "Threshold",
                                     "config": [[{"method": "gte", "threshold": 90}]]}]


def test_a_threshold_with_several_groups_names_the_group_that_held() -> None:
    strategy = threshold_strategy(count=1, check_window=1)
    strategy["items"][0]["algorithms"][0]["config"] = [
        [{"method": "gte", "threshold": 90}, {"method": "lt", "threshold": 95}], [{"method": "lte", "threshold": 5}]]
    events, _ = run([strategy], minutes([92, 50, 3, 50]))
    assert [e["detail"]["comparison"] for e in events] == [">= 90 and < 95", "<= 5"]
    assert events[1]["reason"] == "avg(usage) = 3.0 <= 5, Threshold at level 1, 1 of 1 windows (needs 1)"
    assert events[1]["detail"]["rule"] == "Threshold (>= 90 and < 95) or <= 5"


def test_a_ring_ratio_anomaly_states_what_it_was_compared_with() -> None:
    events, _ = run([ring_ratio_strategy(ceil=20, floor=50)], minutes([100, 130, 60, 60]))
    assert [e["detail"]["comparison"] for e in events] == [
        ">= 100 * (100+20)/100 of the previous window", "<= 130 * (100-50)/100 of the previous window"]
    assert events[0]["reason"].startswith("avg(usage) = 130.0 >= 100 * (100+20)/100 of the previous window, "
                                          "SimpleRingRatio at level 2")
    assert events[0]["detail"]["rule"] == ("SimpleRingRatio a drop of 50% or more or a rise of 20% or more against "
                                           "the previous window")


def test_recovering_and_recovered_events_say_which_rule_stopped_holding_and_the_last_value() -> None:
    strategy = recovery(threshold_strategy(count=1, check_window=1), 2)
    events, _ = run([strategy], minutes([95, 40, 30, 20]), kinds=ALL)
    assert [e["event_type"] for e in events] == ["anomaly", "recovering", "recovered"]
    assert events[1]["reason"] == ("recovering: avg(usage) = 40.0 no longer meets level 1 (Threshold >= 90, 1 of 1 "
                                   "windows); 2 such windows in a row end the alert")
    assert events[2]["reason"] == ("recovered after 2 windows in a row not meeting level 1 (Threshold >= 90, 1 of 1 "
                                   "windows): last avg(usage) = 30.0")


def test_a_no_data_event_and_the_recovery_when_data_returns_say_why() -> None:
    strategy = threshold_strategy(count=1, check_window=1)
    strategy["items"][0]["no_data_config"] = {"is_enabled": True, "continuous": 3, "level": 2}
    stream = minutes([12]) + [msg(T0 + i * 60, 10, "10.0.0.2") for i in range(1, 6)] + [msg(T0 + 360, 14)]
    events, _ = run([strategy], stream + [msg(T0 + 420, 10, "10.0.0.2")], kinds=ALL)
    mine = [(e["event_type"], e["reason"]) for e in events if e["dimensions"]["bk_target_ip"] == "10.0.0.1"]
    assert mine == [("no_data", "no data for 3 windows (no_data_config.continuous 3): last avg(usage) = 12.0"),
                    ("recovered", "data is back: avg(usage) = 14.0")]


def test_names_with_quotes_percent_signs_and_non_ascii_read_back_intact_and_ids_do_not_change() -> None:
    metric = 'disk "used" 100%s \u00e9'
    reasons = {1: level_reason(level=1, method="MAX", metric=metric, connector="and", trigger_count=1,
                               check_window=1, algorithms=[{"level": 1, "type": "Threshold",
                                                            "config": [[{"method": "gt", "threshold": 0.5}]]}])}
    plain = ItemEvents(strategy_id=7, item_id=3, strategy_name="x", bk_biz_id=2, uid="7.3", interval=60,
                       metric=metric)
    explained = ItemEvents(strategy_id=7, item_id=3, strategy_name="x", bk_biz_id=2, uid="7.3", interval=60,
                           metric=metric, agg_method="MAX", levels=reasons)
    dims = {"bk_target_ip": "10.0.0.1"}
    before = SeriesEvents(plain, dims).anomaly(level=1, t=600, value=0.75, anomaly_times=[600], points=1)
    after = SeriesEvents(explained, dims).anomaly(level=1, t=600, value=0.75, anomaly_times=[600], points=1)
    decoded = orjson.loads(after.json)
    assert decoded["reason"] == f"max({metric}) = 0.75 > 0.5, Threshold at level 1, 1 of 1 windows (needs 1)"
    assert decoded["detail"]["metric"] == metric
    assert after.event_id == before.event_id
    assert {k: v for k, v in decoded.items() if k not in ("reason", "detail")} == \
        {k: v for k, v in orjson.loads(before.json).items() if k not in ("reason", "detail")}


def test_a_reason_stays_within_the_event_contracts_1024_characters_however_large_the_strategy() -> None:
    groups = [[{"method": "gte", "threshold": 1000 + i}, {"method": "lt", "threshold": 2000 + i}] for i in range(200)]
    algorithms = [{"level": 1, "type": "Threshold", "config": groups}] * 20
    reason = level_reason(level=1, method="AVG", metric="m" * 5000, connector="or", trigger_count=1,
                          check_window=1, algorithms=algorithms)
    decoded = orjson.loads(b"{" + reason.anomaly(b"1500.5", 1500.5, None, 1) + b"}")
    assert len(decoded["reason"]) <= 1024 and decoded["detail"]["comparison"] == ">= 1000 and < 2000"
