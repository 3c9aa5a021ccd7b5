"""Event strategies on plain data: custom events counted per window through the metric path (no broker)."""
from __future__ import annotations

from typing import Any

from alarm_backends.service.access.data.index import StrategyIndex
from alarm_backends.service.access.data.processor import AccessProcessor
from alarm_backends.service.access.data.state import PartitionState
from alarm_backends.service.access.event.parse import parse_event_message
from tests.access.strategies import threshold_strategy
from tests.event_access.strategies import custom_event, event_strategy, message

TOPIC = "bkm_custom_events"
TABLES = {"custom.events": TOPIC, "system.cpu_summary": "bkm_cpu"}
T0 = 1_700_000_040 - 1_700_000_040 % 60
DB = [{"key": "module", "method": "eq", "value": ["db"]}]


def ms(minute: int, second: int = 0) -> int:
    return (T0 + minute * 60 + second) * 1000


def run(strategies: list[dict[str, Any]], messages: list[bytes]) -> tuple[list[dict[str, Any]], PartitionState]:
    index = StrategyIndex(strategies, TABLES, data_type_label="event")
    processor = AccessProcessor(index, parser=parse_event_message)
    state = PartitionState(0)
    events: list[dict[str, Any]] = []
    for raw in messages:
        processor.ingest(state, TOPIC, raw)
        events.extend(e for e in processor.close_windows(state) if e["event_type"] == "anomaly")
    return events, state


def test_an_event_index_holds_only_event_items_keyed_by_the_event_name() -> None:
    strategies = [threshold_strategy(sid=1, iid=11), event_strategy(sid=2, iid=21)]
    events = StrategyIndex(strategies, TABLES, data_type_label="event")
    metrics = StrategyIndex(strategies, TABLES)
    assert list(events.items) == ["2.21"] and events.topics == [TOPIC]
    assert [(agg.metric, i.uid, i.agg_method) for group in events.groups_for_topic(TOPIC) for agg in group.aggs
            for i in agg.items] == [("disk_full", "2.21", "COUNT")]
    assert list(metrics.items) == ["1.11"] and metrics.topics == ["bkm_cpu"]


def test_three_disk_full_events_in_five_windows_raise_one_anomaly_at_the_third() -> None:
    strategy = event_strategy(count=3, check_window=5, conditions=DB)
    events, _ = run([strategy], [
        message(custom_event(ms(0), module="db")),
        message(custom_event(ms(1), name="cpu_hot", module="db"), custom_event(ms(1), module="web")),
        message(custom_event(ms(2, 30), module="db")),
        message(custom_event(ms(3), name="cpu_hot", module="db"), custom_event(ms(3), module="web")),
        message(custom_event(ms(4, 59), module="db")),
        message(custom_event(ms(5), name="heartbeat")),  # moves event time on: minute 4 closes
    ])
    assert [(e["time"] - T0, e["severity"], e["value"]) for e in events] == [(240, 1, 1.0)]
    assert events[0]["dimensions"] == {"bk_target_ip": "10.0.0.1"}
    assert events[0]["origin_data"]["values"] == {"disk_full": 1.0}
    assert len(events[0]["anomaly_ids"]) == 3


def test_other_event_names_and_dimensions_that_fail_the_conditions_raise_nothing() -> None:
    strategy = event_strategy(count=1, check_window=1, conditions=DB)
    events, state = run([strategy], [
        message(*(custom_event(ms(m), name="cpu_hot", module="db") for m in range(3))),
        message(*(custom_event(ms(m), module="web") for m in range(3))),
        message(custom_event(ms(9), name="heartbeat")),
    ])
    assert events == [] and state.windows.points == 0


def test_a_threshold_on_the_count_sees_every_distinct_event_but_not_a_resent_one() -> None:
    strategy = event_strategy(count=1, check_window=1, threshold=3, dimensions=[])
    events, _ = run([strategy], [
        message(custom_event(ms(0), target="10.0.0.1"), custom_event(ms(0), target="10.0.0.2")),
        message(custom_event(ms(0), target="10.0.0.1")),  # the same event again: still 2
        message(custom_event(ms(1), target="10.0.0.3"), custom_event(ms(1, 1), target="10.0.0.3"),
                custom_event(ms(1, 1), target="10.0.0.3", content="/logs is full")),  # 3 distinct events
        message(custom_event(ms(2), name="heartbeat")),
    ])
    assert [(e["time"] - T0, e["value"], e["dimensions"]) for e in events] == [(60, 3.0, {})]


def test_the_alert_level_and_series_follow_the_agg_dimension() -> None:
    strategy = event_strategy(count=2, check_window=3, dimensions=["bk_target_ip", "module"])
    events, _ = run([strategy], [
        message(custom_event(ms(0), module="db"), custom_event(ms(0), module="web")),
        message(custom_event(ms(1), module="db")),
        message(custom_event(ms(2), name="heartbeat")),
    ])
    assert [(e["time"] - T0, e["dimensions"]) for e in events] == [
        (60, {"bk_target_ip": "10.0.0.1", "module": "db"})]


def test_a_snapshot_remembers_which_events_a_window_counted() -> None:
    index = StrategyIndex([event_strategy(count=1, check_window=1, threshold=2)], TABLES, data_type_label="event")
    processor = AccessProcessor(index, parser=parse_event_message)
    first, replayed = PartitionState(0), message(custom_event(ms(0), module="db"))
    processor.ingest(first, TOPIC, replayed)
    restored = PartitionState.load(first.dump(index.fingerprints), 0, index)
    assert processor.ingest(restored, TOPIC, replayed) == 0 and restored.windows.duplicates == 1
    processor.ingest(restored, TOPIC, message(custom_event(ms(1), name="heartbeat")))
    assert processor.close_windows(restored) == []  # one event counted once: below the threshold of 2
