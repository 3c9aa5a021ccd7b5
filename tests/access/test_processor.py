"""The access stage end to end on plain data: messages in, events out (no broker)."""
from typing import Any

import orjson

from alarm_backends.service.access.data.index import StrategyIndex
from alarm_backends.service.access.data.processor import AccessProcessor
from alarm_backends.service.access.data.state import PartitionState
from tests.access.strategies import ring_ratio_strategy, threshold_strategy

TOPIC = "bkm_system.cpu_summary"
ALL = ("anomaly", "recovering", "recovered", "closed", "no_data")
TABLES = {"system.cpu_summary": TOPIC}
T0 = 1_700_000_040 - 1_700_000_040 % 60  # aligned to the minute


def msg(t: int, value: float, ip: str = "10.0.0.1", metric: str = "usage", **dims: Any) -> bytes:
    return orjson.dumps({"time": t, "dimensions": {"bk_target_ip": ip, **dims}, "metrics": {metric: value}})


def run(strategies: list[dict], messages: list[bytes], lateness: int = 0,
        kinds: tuple[str, ...] = ("anomaly",)) -> tuple[list[dict], PartitionState]:
    processor = AccessProcessor(StrategyIndex(strategies, TABLES))
    state = PartitionState(lateness)
    events: list[dict] = []
    for raw in messages:
        processor.ingest(state, TOPIC, raw)
        events.extend(e for e in processor.close_windows(state) if e["event_type"] in kinds)
    return events, state


def minutes(values: list[float], ip: str = "10.0.0.1", start: int = T0) -> list[bytes]:
    return [msg(start + i * 60, v, ip) for i, v in enumerate(values)]


def test_three_anomalies_in_five_windows_fire_at_the_third_with_exact_times() -> None:
    values = [10, 95, 20, 96, 97, 98, 10, 10]
    events, _ = run([threshold_strategy(count=3, check_window=5)], minutes(values))
    # anomalies at minutes 1, 3, 4, 5: the third (minute 4) fires, and so does minute 5 (4 in window)
    assert [e["time"] for e in events] == [T0 + 240, T0 + 300]
    first = events[0]
    assert (first["severity"], first["strategy_id"], first["item_id"], first["value"]) == (1, 1, 11, 97.0)
    assert first["dimensions"] == {"bk_target_ip": "10.0.0.1"}
    assert len(first["anomaly_ids"]) == 3


def test_anomalies_outside_the_check_window_do_not_count() -> None:
    values = [95, 10, 10, 10, 10, 96, 97, 10]  # minute 0 falls out of [t-299, t] by minute 6
    events, _ = run([threshold_strategy(count=3, check_window=5)], minutes(values))
    assert events == []


def test_the_most_severe_level_that_triggers_wins() -> None:
    strategy = threshold_strategy(threshold=95, count=1, check_window=1, extra_levels=[(2, 80), (3, 50)])
    events, _ = run([strategy], minutes([60, 85, 99, 10]))
    assert [(e["time"] - T0, e["severity"]) for e in events] == [(0, 3), (60, 2), (120, 1)]


def test_series_are_grouped_by_agg_dimension_and_filtered_by_agg_condition() -> None:
    strategy = threshold_strategy(count=1, check_window=1,
                                  conditions=[{"key": "bk_target_ip", "method": "neq", "value": ["10.0.0.9"]}])
    messages = [msg(T0, 95, "10.0.0.1"), msg(T0, 99, "10.0.0.9"), msg(T0, 91, "10.0.0.2"), msg(T0 + 60, 1, "10.0.0.1")]
    events, _ = run([strategy], messages)
    assert sorted(e["dimensions"]["bk_target_ip"] for e in events) == ["10.0.0.1", "10.0.0.2"]


def test_windows_aggregate_with_the_agg_method_before_detection() -> None:
    strategy = threshold_strategy(count=1, check_window=1, agg_method="MAX", threshold=90)
    messages = [msg(T0 + 5, 10), msg(T0 + 20, 95), msg(T0 + 40, 20), msg(T0 + 60, 0)]
    events, _ = run([strategy], messages)
    assert [e["value"] for e in events] == [95.0]
    avg, _ = run([threshold_strategy(count=1, check_window=1, threshold=90)], messages)
    assert avg == []  # the average (41.67) is not anomalous


def test_ring_ratio_compares_with_the_previous_window_of_the_same_series() -> None:
    events, _ = run([ring_ratio_strategy(ceil=50, floor=50)], minutes([100, 120, 200, 190, 10, 10]))
    assert [(e["time"] - T0, e["severity"], e["value"]) for e in events] == [(120, 2, 200.0), (240, 2, 10.0)]


def test_uptime_gates_firing() -> None:
    hhmm = lambda t: f"{(t // 3600) % 24:02d}:{(t // 60) % 60:02d}"  # noqa: E731
    closed_hours = threshold_strategy(count=1, check_window=1,
                                      uptime=[{"start": hhmm(T0 + 3600), "end": hhmm(T0 + 7200)}])
    events, _ = run([closed_hours], minutes([95, 95, 10]))
    assert events == []


def test_replaying_from_a_snapshot_emits_exactly_what_an_uninterrupted_run_emits() -> None:
    strategies = [threshold_strategy(count=2, check_window=3), ring_ratio_strategy()]
    values = [10, 95, 96, 20, 300, 10, 97, 98, 99, 5, 10, 50]
    messages = [m for ip in ("10.0.0.1", "10.0.0.2") for m in minutes(values, ip)]
    messages.sort(key=lambda raw: orjson.loads(raw)["time"])
    whole, _ = run(strategies, messages, kinds=ALL)

    index = StrategyIndex(strategies, TABLES)
    processor = AccessProcessor(index)
    state = PartitionState(0)
    before: list[dict] = []
    for raw in messages[:9]:
        processor.ingest(state, TOPIC, raw)
        before.extend(processor.close_windows(state))
    fingerprints = {uid: spec.fingerprint for uid, spec in index.items.items()}
    snapshot = state.dump(fingerprints)
    restored = PartitionState.load(snapshot, 0, index)
    after: list[dict] = []
    for raw in messages[9:]:
        processor.ingest(restored, TOPIC, raw)
        after.extend(processor.close_windows(restored))
    assert before + after == whole
    assert len(whole) >= 4


def test_a_changed_item_starts_afresh_and_the_others_keep_their_state() -> None:
    keep, change = threshold_strategy(sid=1, iid=11, count=2), threshold_strategy(sid=3, iid=31, count=2)
    index = StrategyIndex([keep, change], TABLES)
    fingerprints = {uid: spec.fingerprint for uid, spec in index.items.items()}
    processor = AccessProcessor(index)
    state = PartitionState(0)
    for raw in minutes([95, 10]):
        processor.ingest(state, TOPIC, raw)
        processor.close_windows(state)
    snapshot = state.dump(fingerprints)

    changed = threshold_strategy(sid=3, iid=31, count=2, threshold=50)
    new_index = StrategyIndex([keep, changed], TABLES)
    assert new_index.changed_items(index) == {"3.31"}
    restored = PartitionState.load(snapshot, 0, new_index)
    [memory] = restored.memory.values()  # both items read one aggregation: its history is kept
    [table] = restored.tables.values()
    slot = table.slot_of[("10.0.0.1",)]
    assert (memory.last_closed[slot], memory.last_value[slot]) == (T0, 95.0)
    assert set(memory.items[slot]) == {"1.11"}
    assert memory.items[slot]["1.11"].anomalies == {1: [T0]}


def kinds(events: list[dict]) -> list[tuple[str, int, int]]:
    return [(e["event_type"], e["time"] - T0, e["severity"]) for e in events]


def recovery(strategy: dict, check_window: int, setter: str = "recovery") -> dict:
    strategy["detects"][0]["recovery_config"] = {"check_window": check_window, "status_setter": setter}
    return strategy


def test_an_alerting_series_is_recovering_after_one_clean_window_and_recovered_after_check_window() -> None:
    strategy = recovery(threshold_strategy(count=1, check_window=1), 3)
    events, _ = run([strategy], minutes([95, 10, 10, 96, 10, 10, 10, 10]), kinds=ALL)
    assert kinds(events) == [("anomaly", 0, 1), ("recovering", 60, 1), ("anomaly", 180, 1),
                             ("recovering", 240, 1), ("recovered", 360, 1)]
    assert events[-1]["value"] == 10.0  # the recovery value


def test_a_window_that_still_meets_the_trigger_condition_is_not_clean() -> None:
    strategy = recovery(threshold_strategy(count=2, check_window=3), 2)
    events, _ = run([strategy], minutes([95, 95, 10, 10, 10, 10]), kinds=ALL)
    # anomalies at 0 and 60: at 120 the window [120-179, 120] still holds 2 of them (condition met),
    # at 180 it holds 1: the first clean window
    assert [k for k in kinds(events) if k[0] != "anomaly"] == [("recovering", 180, 1), ("recovered", 240, 1)]


def test_status_setter_close_ends_the_alert_as_closed_with_a_reason() -> None:
    strategy = recovery(threshold_strategy(count=1, check_window=1), 1, "close")
    events, _ = run([strategy], minutes([95, 10, 10]), kinds=ALL)
    assert kinds(events) == [("anomaly", 0, 1), ("closed", 60, 1)]
    assert "status_setter close" in events[-1]["reason"]


def test_a_series_silent_for_continuous_windows_raises_one_no_data_event_and_recovers_when_data_returns() -> None:
    strategy = threshold_strategy(count=1, check_window=1)
    strategy["items"][0]["no_data_config"] = {"is_enabled": True, "continuous": 3, "level": 2}
    quiet = minutes([10, 10], ip="10.0.0.1") + [msg(T0 + i * 60, 10, "10.0.0.2") for i in range(2, 9)]
    back = [msg(T0 + 9 * 60, 10, "10.0.0.1"), msg(T0 + 10 * 60, 10, "10.0.0.2"), msg(T0 + 11 * 60, 10, "10.0.0.2")]
    events, _ = run([strategy], sorted(quiet, key=lambda r: orjson.loads(r)["time"]) + back, kinds=ALL)
    got = [(e["event_type"], e["dimensions"]["bk_target_ip"], e["time"] - T0, e["severity"]) for e in events]
    assert got == [("no_data", "10.0.0.1", 240, 2), ("recovered", "10.0.0.1", 540, 2)]
    assert events[0]["dedupe_md5"] == events[1]["dedupe_md5"]


def test_the_nodata_variant_of_status_setter_ends_an_alert_when_its_series_goes_silent() -> None:
    strategy = recovery(threshold_strategy(count=1, check_window=1), 2, "close-nodata")
    silent = minutes([95]) + [msg(T0 + i * 60, 10, "10.0.0.2") for i in range(1, 6)]
    events, _ = run([strategy], silent, kinds=ALL)
    mine = [(e["event_type"], e["time"] - T0) for e in events if e["dimensions"]["bk_target_ip"] == "10.0.0.1"]
    assert mine == [("anomaly", 0), ("closed", 120)]
    [closed] = [e for e in events if e["event_type"] == "closed"]
    assert closed["reason"] == ("no data for 2 windows (recovery_config.status_setter close-nodata): "
                                "last avg(usage) = 95.0")


def test_no_data_decisions_do_not_depend_on_batch_boundaries() -> None:
    strategy = threshold_strategy(count=1, check_window=1)
    strategy["items"][0]["no_data_config"] = {"is_enabled": True, "continuous": 2, "level": 3}
    stream = minutes([10]) + [msg(T0 + i * 60, 10, "10.0.0.2") for i in range(1, 5)] + [msg(T0 + 300, 10)]
    stream += [msg(T0 + 360, 10, "10.0.0.2"), msg(T0 + 420, 10, "10.0.0.2")]
    one_by_one, _ = run([strategy], stream, kinds=ALL)
    processor = AccessProcessor(StrategyIndex([strategy], TABLES))
    state = PartitionState(0)
    for raw in stream:  # all at once: one close pass at the end
        processor.ingest(state, TOPIC, raw)
    at_once = processor.close_windows(state)
    key = lambda e: e["event_id"]  # noqa: E731
    assert sorted(at_once, key=key) == sorted(one_by_one, key=key)
    assert {e["event_type"] for e in at_once} == {"no_data", "recovered"}


def test_an_open_alert_whose_series_has_no_data_for_thirty_minutes_is_closed_with_that_reason() -> None:
    strategy = recovery(threshold_strategy(count=1, check_window=1), 5)
    stream = minutes([95]) + [msg(T0 + i * 60, 10, "10.0.0.2") for i in range(1, 35)]
    events, _ = run([strategy], stream, kinds=ALL)
    mine = [(e["event_type"], e["time"] - T0, e["reason"]) for e in events
            if e["dimensions"]["bk_target_ip"] == "10.0.0.1"]
    assert mine == [("anomaly", 0, "avg(usage) = 95.0 >= 90, Threshold at level 1, 1 of 1 windows (needs 1)"),
                    ("closed", 1800, "no data for 30 windows (30 min, the longer of the trigger window and 30 min): "
                                     "last avg(usage) = 95.0")]
