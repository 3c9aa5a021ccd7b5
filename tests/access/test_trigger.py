from zoneinfo import ZoneInfo

import orjson
import pytest

from alarm_backends.service.trigger.event import ItemEvents, SeriesEvents, build_event, dedupe_md5, target_of
from alarm_backends.service.trigger.nofm import count_in_window, in_uptime, prune, window_span

UTC = ZoneInfo("UTC")


def test_the_trigger_window_is_t_minus_check_window_units_plus_one_through_t() -> None:
    assert 600 - window_span(5, 60) == 301
    # anomalies at 300 fall out, 360..600 count
    assert count_in_window([300, 360, 420, 600], 600, window_span(5, 60)) == 3
    assert count_in_window([300, 360, 420, 600], 600, window_span(6, 60)) == 4


@pytest.mark.parametrize("hhmm, ranges, expected", [
    ((0, 0), [(0, 1439)], True),
    ((23, 59), [(0, 1439)], True),
    ((12, 0), [(540, 1080)], True),
    ((8, 59), [(540, 1080)], False),
    ((23, 30), [(1320, 360)], True),  # 22:00-06:00 wraps midnight
    ((7, 0), [(1320, 360)], False),
    ((7, 0), [], True),
])
def test_uptime_ranges_gate_firing(hhmm: tuple[int, int], ranges: list, expected: bool) -> None:
    t = 1_700_000_000 - 1_700_000_000 % 86400 + hhmm[0] * 3600 + hhmm[1] * 60
    assert in_uptime(t, ranges, UTC) is expected


def test_pruning_keeps_only_anomalies_that_can_still_count() -> None:
    assert prune([60, 120, 300, 360], 360, window_span(3, 60)) == [300, 360]


def test_events_are_deterministic_and_dedupe_by_strategy_target_biz_and_tags() -> None:
    kwargs = dict(strategy_id=7, item_id=3, strategy_name="CPU high", bk_biz_id=2, level=1, t=600, value=95.0,
                  dimensions={"bk_target_ip": "10.0.0.1", "bk_target_cloud_id": "0"}, anomaly_times=[540, 600],
                  uid="7.3", interval=60, metric="usage", table_id="system.cpu", points=6)
    first, again = build_event(**kwargs), build_event(**kwargs)
    assert first == again
    assert first["target_type"] == "HOST" and first["target"] == "10.0.0.1|0"
    assert first["dedupe_md5"] == dedupe_md5(7, 2, "HOST", "10.0.0.1|0", kwargs["dimensions"])
    later = build_event(**{**kwargs, "t": 660})
    assert later["dedupe_md5"] == first["dedupe_md5"] and later["event_id"] != first["event_id"]
    other = build_event(**{**kwargs, "dimensions": {"bk_target_ip": "10.0.0.2", "bk_target_cloud_id": "0"}})
    assert other["dedupe_md5"] != first["dedupe_md5"]
    assert len(first["anomaly_ids"]) == 2 and first["anomaly_ids"][0].endswith(".540.1")


def test_a_series_without_host_dimensions_has_no_target() -> None:
    assert target_of({"region": "sh"}) == ("", "")


def test_an_event_is_produced_as_json_that_reads_back_as_the_same_fields_whatever_the_names_hold() -> None:
    dimensions = {"bk_target_ip": "10.0.0.1", "bk_target_cloud_id": "0", "mount": "/data \"x\" 100%"}
    item = ItemEvents(strategy_id=7, item_id=3, strategy_name="Disk \u00e9 > 90%s", bk_biz_id=2, uid="7.3", interval=60,
                      metric="usage", table_id="system.disk")
    series = SeriesEvents(item, dimensions)
    anomaly = series.anomaly(level=1, t=600, value=95.5, anomaly_times=[600, 540], points=6)
    decoded = orjson.loads(anomaly.json)
    assert decoded == dict(anomaly) == build_event(
        strategy_id=7, item_id=3, strategy_name="Disk \u00e9 > 90%s", bk_biz_id=2, level=1, t=600, value=95.5,
        dimensions=dimensions, anomaly_times=[540, 600], uid="7.3", interval=60, metric="usage",
        table_id="system.disk", points=6)
    assert (anomaly.event_id, anomaly.dedupe_md5, anomaly.event_type, anomaly.time) == (
        decoded["event_id"], decoded["dedupe_md5"], "anomaly", 600)
    assert decoded["origin_data"]["dimensions"] == dimensions and decoded["origin_data"]["values"] == {"usage": 95.5}

    recovered = series.status("recovered", level=1, t=900, value=10.0)
    assert orjson.loads(recovered.json) == dict(recovered)
    assert recovered.dedupe_md5 == anomaly.dedupe_md5 and recovered.event_type == "recovered"
    assert recovered["origin_data"] == {} and recovered["anomaly_ids"] == []
    nodata = series.status("no_data", level=2, t=900, value=0.0)
    assert nodata.dedupe_md5 != anomaly.dedupe_md5 and nodata["alert_name"] == "Disk \u00e9 > 90%s (no data)"


def test_changing_one_events_fields_leaves_the_others_and_its_json_alone() -> None:
    series = SeriesEvents(ItemEvents(strategy_id=7, item_id=3, strategy_name="cpu", bk_biz_id=2, uid="7.3", interval=60,
                                     metric="usage"), {"bk_target_ip": "10.0.0.1"})
    first, second = (series.anomaly(level=1, t=t, value=95.0, anomaly_times=[t], points=1) for t in (600, 660))
    first.fields["dimensions"]["bk_target_ip"] = "changed"
    first.fields["dedupe_keys"].append("changed")
    assert second["dimensions"] == {"bk_target_ip": "10.0.0.1"} and "changed" not in second["dedupe_keys"]
    assert orjson.loads(first.json)["dimensions"] == {"bk_target_ip": "10.0.0.1"}
