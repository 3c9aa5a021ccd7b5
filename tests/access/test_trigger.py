from zoneinfo import ZoneInfo

import pytest

from alarm_backends.service.trigger.event import build_event, dedupe_md5, target_of
from alarm_backends.service.trigger.nofm import count_in_window, in_uptime, prune, window_start

UTC = ZoneInfo("UTC")


def test_the_trigger_window_is_t_minus_check_window_units_plus_one_through_t() -> None:
    assert window_start(600, 5, 60) == 301
    # anomalies at 300 fall out, 360..600 count
    assert count_in_window([300, 360, 420, 600], 600, 5, 60) == 3
    assert count_in_window([300, 360, 420, 600], 600, 6, 60) == 4


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
    assert prune([60, 120, 300, 360], 360, 3, 60) == [300, 360]


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
