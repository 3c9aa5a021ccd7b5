"""Strategy-wide no-data decisions (plain data): event-time and wall-clock silence, recovery."""
from __future__ import annotations

from alarm_backends.service.alert.manager.health import PartitionProgress
from alarm_backends.service.alert.manager.nodata import (
    NoDataItem, TopicActivity, decide, last_window, next_activity, nodata_items, silence_time)

ITEM = NoDataItem(uid="7.70", strategy_id=7, item_id=70, strategy_name="cpu", bk_biz_id=2, topic="bkm_cpu",
                  interval=60, continuous=5, level=2)
NEED = 5 * 60


def record(partition: int, items: dict[str, int], watermark: int = 0, max_time: int = 0, updated: float = 0.0,
           topic: str = "bkm_cpu") -> PartitionProgress:
    return PartitionProgress(topic, partition, updated, 0, max_time, watermark, items)


def test_the_items_last_window_is_the_latest_over_the_partitions_of_its_topic():
    records = [record(0, {"7.70": 600}), record(1, {"7.70": 900, "7.71": 1200}), record(0, {"7.70": 5000}, topic="x")]
    assert last_window(records, ITEM) == 900
    assert last_window([record(0, {"7.71": 60})], ITEM) is None


def test_an_item_is_silent_once_continuous_windows_after_its_last_one_have_closed_in_event_time():
    # windows 660..900 closed with no data once the watermark passes 960
    assert silence_time(ITEM, 600, None, 600 + NEED, 0) is None
    assert silence_time(ITEM, 600, None, 600 + NEED + 60, 0) == 600 + NEED


def test_a_topic_that_receives_nothing_is_silent_after_continuous_intervals_of_wall_clock():
    assert silence_time(ITEM, 600, None, 600, idle_seconds=NEED - 1) is None
    assert silence_time(ITEM, 600, None, 600, idle_seconds=NEED) == 600 + NEED


def test_an_item_that_never_had_a_window_counts_from_its_anchor():
    assert silence_time(ITEM, None, 1200, 1200 + NEED + 60, 0) == 1200 + NEED
    assert silence_time(ITEM, None, None, 10_000, 10_000) is None


def test_a_silent_item_without_an_open_alert_gets_a_no_data_event_at_its_last_window_plus_continuous():
    assert decide(ITEM, 600, None, 2000, 0, open_begin=None) == ("no_data", 900)
    assert decide(ITEM, 600, None, 700, 0, open_begin=None) is None


def test_an_open_no_data_alert_is_not_opened_again_while_the_silence_lasts():
    assert decide(ITEM, 600, None, 5000, 10_000, open_begin=900) is None


def test_an_open_no_data_alert_recovers_when_a_later_window_closes():
    assert decide(ITEM, 960, None, 1100, 0, open_begin=900) == ("recovered", 960)
    # data back before the silence was noticed (wall-clock case): never earlier than the alert's begin
    assert decide(ITEM, 660, None, 1100, 0, open_begin=900) == ("recovered", 900)


def test_the_topic_activity_moves_only_when_max_time_advances():
    first = next_activity(None, [record(0, {}, max_time=500, updated=10.0)], "bkm_cpu", now=20.0)
    assert first == TopicActivity(500, 10.0)
    same = next_activity(first, [record(0, {}, max_time=500, updated=50.0)], "bkm_cpu", now=60.0)
    assert same == first
    moved = next_activity(first, [record(0, {}, max_time=500, updated=50.0), record(1, {}, max_time=560,
                                                                                    updated=55.0)], "bkm_cpu", 60.0)
    assert moved == TopicActivity(560, 55.0)


def test_a_topic_with_no_progress_is_idle_from_when_the_manager_first_looked():
    assert next_activity(None, [], "bkm_cpu", now=100.0) == TopicActivity(None, 100.0)
    assert next_activity(TopicActivity(None, 100.0), [], "bkm_cpu", now=200.0) == TopicActivity(None, 100.0)


def test_only_enabled_time_series_items_with_no_data_enabled_and_a_topic_are_checked():
    def strategy(sid: int, enabled: bool = True, nodata: bool = True, table: str = "sys.cpu",
                 label: str = "time_series") -> dict:
        return {"id": sid, "name": f"s{sid}", "bk_biz_id": 2, "is_enabled": enabled, "items": [{
            "id": sid * 10, "query_configs": [{"data_type_label": label, "result_table_id": table,
                                               "agg_interval": 120}],
            "no_data_config": {"is_enabled": nodata, "continuous": 3, "level": 1}}]}

    configs = [strategy(1), strategy(2, enabled=False), strategy(3, nodata=False), strategy(4, table="nowhere"),
               strategy(5, label="event")]
    assert nodata_items(configs, {"sys.cpu": "bkm_cpu"}) == [
        NoDataItem("1.10", 1, 10, "s1", 2, "bkm_cpu", interval=120, continuous=3, level=1)]


def test_a_topic_with_lag_is_receiving_data_and_its_idle_clock_restarts():
    previous = TopicActivity(500, 10.0)
    assert next_activity(previous, [record(0, {}, max_time=500, updated=10.0)], "bkm_cpu", 900.0, lagging=True) \
        == TopicActivity(500, 900.0)
    assert next_activity(previous, [], "bkm_cpu", 900.0, lagging=True) == TopicActivity(None, 900.0)
