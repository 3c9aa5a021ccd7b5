"""Which open alerts the strategy sweep closes, and with which reason (plain data, no database)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from alarm_backends.service.alert.manager.strategy_checks import (
    DIMENSION_CHANGED, ITEM_REMOVED, LEVEL_REMOVED, NODATA_DISABLED, OUTSIDE_UPTIME, STRATEGY_DELETED,
    STRATEGY_DISABLED, ItemView, OpenAlert, StrategyView, alerts_to_close, close_reason, strategy_views,
    uptime_ranges)

UTC = ZoneInfo("UTC")
NOON = 1_700_000_000 - 1_700_000_000 % 86_400 + 12 * 3600  # 12:00 UTC on some day
CONFIG = {
    "id": 7, "name": "cpu", "bk_biz_id": 2, "is_enabled": True,
    "items": [{"id": 70, "query_configs": [{"agg_dimension": ["bk_target_ip"], "agg_interval": 60}],
               "algorithms": [{"level": 1}, {"level": 2}],
               "no_data_config": {"is_enabled": True, "continuous": 5, "level": 3}}],
    "detects": [{"level": 1, "trigger_config": {"uptime": {"time_ranges": [{"start": "09:00", "end": "18:00"}]}}},
                {"level": 2, "trigger_config": {"count": 1}}],
}


def alert(**overrides) -> OpenAlert:
    fields = {"id": 1, "strategy_id": 7, "item_id": 70, "severity": 1, "dimensions": {"bk_target_ip": "10.0.0.1"}}
    return OpenAlert(**{**fields, **overrides})


def views(known: dict[int, bool] | None = None, configs: list | None = None) -> dict[int, StrategyView]:
    return strategy_views([CONFIG] if configs is None else configs, {7: True} if known is None else known)


def test_an_alert_that_its_strategy_still_produces_is_kept():
    assert close_reason(alert(), views()[7], NOON, UTC) is None


def test_an_alert_whose_strategy_was_deleted_is_closed_as_strategy_deleted():
    assert close_reason(alert(), views({}, []).get(7), NOON, UTC) == STRATEGY_DELETED


def test_an_alert_whose_strategy_was_disabled_is_closed_as_strategy_disabled():
    assert close_reason(alert(), views({7: False}, [])[7], NOON, UTC) == STRATEGY_DISABLED


def test_an_alert_whose_item_was_removed_is_closed_as_item_removed():
    assert close_reason(alert(item_id=71), views()[7], NOON, UTC) == ITEM_REMOVED


def test_an_alert_whose_level_has_no_algorithm_any_more_is_closed_as_level_removed():
    assert close_reason(alert(severity=3), views()[7], NOON, UTC) == LEVEL_REMOVED


def test_an_alert_whose_dimensions_are_not_the_agg_dimension_keys_is_closed_as_dimension_changed():
    moved = alert(dimensions={"bk_target_ip": "10.0.0.1", "device": "eth0"})
    assert close_reason(moved, views()[7], NOON, UTC) == DIMENSION_CHANGED
    assert close_reason(alert(dimensions={}), views()[7], NOON, UTC) == DIMENSION_CHANGED


def test_a_no_data_alert_is_checked_against_the_no_data_level_not_the_algorithm_levels():
    assert close_reason(alert(severity=3, is_nodata=True), views()[7], NOON, UTC) is None
    assert close_reason(alert(severity=1, is_nodata=True), views()[7], NOON, UTC) == LEVEL_REMOVED


def test_a_no_data_alert_is_closed_when_its_items_no_data_check_is_disabled():
    config = {**CONFIG, "items": [{**CONFIG["items"][0], "no_data_config": {"is_enabled": False}}]}
    assert close_reason(alert(severity=3, is_nodata=True), views(configs=[config])[7], NOON, UTC) == NODATA_DISABLED


def test_the_strategy_wide_no_data_alert_has_no_dimensions_and_is_not_a_dimension_change():
    assert close_reason(alert(severity=3, is_nodata=True, dimensions={}), views()[7], NOON, UTC) is None


def test_an_alert_at_a_level_with_uptime_is_closed_once_the_wall_clock_is_outside_every_range():
    assert close_reason(alert(), views()[7], NOON, UTC) is None
    assert close_reason(alert(), views()[7], NOON + 7 * 3600, UTC) == OUTSIDE_UPTIME  # 19:00


def test_uptime_is_read_in_the_configured_time_zone():
    # 12:00 UTC is 20:00 in Shanghai: outside 09:00-18:00 there
    assert close_reason(alert(), views()[7], NOON, ZoneInfo("Asia/Shanghai")) == OUTSIDE_UPTIME


def test_a_level_without_uptime_ranges_is_never_outside_uptime():
    assert close_reason(alert(severity=2), views()[7], NOON + 7 * 3600, UTC) is None


def test_a_structural_reason_wins_over_uptime():
    assert close_reason(alert(item_id=71), views()[7], NOON + 7 * 3600, UTC) == ITEM_REMOVED


def test_uptime_ranges_may_wrap_midnight():
    assert uptime_ranges({"uptime": {"time_ranges": [{"start": "22:00", "end": "02:00"}]}}) == ((1320, 120),)
    config = {**CONFIG, "detects": [{"level": 1, "trigger_config": {"uptime": {"time_ranges": [
        {"start": "22:00", "end": "02:00"}]}}}]}
    assert close_reason(alert(), views(configs=[config])[7], NOON - 11 * 3600, UTC) is None  # 01:00
    assert close_reason(alert(), views(configs=[config])[7], NOON, UTC) == OUTSIDE_UPTIME


def test_alerts_to_close_lists_only_the_alerts_with_a_reason():
    alerts = [alert(id=1), alert(id=2, strategy_id=8), alert(id=3, item_id=71)]
    decided = alerts_to_close(alerts, views(), NOON, UTC)
    assert [(a.id, reason) for a, reason in decided] == [(2, STRATEGY_DELETED), (3, ITEM_REMOVED)]


def test_a_stored_strategy_that_is_not_enabled_is_seen_as_disabled_and_an_unknown_one_as_deleted():
    built = strategy_views([CONFIG], {7: True, 8: False})
    assert built[7].enabled and built[7].items[70] == ItemView(frozenset({1, 2}), frozenset({"bk_target_ip"}),
                                                               True, 3)
    assert not built[8].enabled and 9 not in built
