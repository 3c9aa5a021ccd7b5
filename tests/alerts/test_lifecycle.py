"""The lifecycle rules on plain data: no database, no clock, no settings."""
from __future__ import annotations

import itertools

from bkmonitor.alerts.lifecycle import (
    CLOSED,
    RECOVERED,
    REPLACED_REASON,
    AlertState,
    EventIn,
    Limits,
    Outcome,
    Series,
    apply_event,
    end_flapping_if_stable,
)

LIMITS = Limits(qos_per_minute=100, flapping_changes=6, flapping_window=3600, flapping_stable=1800)
_ids = itertools.count()


def event(time: int, kind: str = "anomaly", severity: int = 2, *, value: float = 1.0, reason: str = "",
          strategy_id: int = 1, key: str = "k") -> EventIn:
    return EventIn(event_id=f"e{next(_ids)}", event_type=kind, dedupe_md5=key, time=time, severity=severity,
                   strategy_id=strategy_id, item_id=11, bk_biz_id=2, alert_name="CPU usage high",
                   dimensions={"bk_target_ip": "10.0.0.1"}, value=value, reason=reason)


def play(series: Series, *events: EventIn, limits: Limits = LIMITS) -> list[Outcome]:
    return [apply_event(series, e, limits) for e in events]


def ops(outcomes: list[Outcome]) -> list[str]:
    return [entry.op for o in outcomes for entry in o.logs]


def opened(time: int = 100, severity: int = 2) -> Series:
    series = Series("k")
    play(series, event(time, severity=severity))
    return series


# --- opening ---------------------------------------------------------------------------------------------------

def test_an_anomaly_without_an_abnormal_alert_opens_one_with_all_times_at_the_event_time():
    series = Series("k")
    [outcome] = play(series, event(100, severity=2, value=95.0))
    alert = series.abnormal
    assert alert is not None and outcome.alert is alert and outcome.opened == [alert]
    assert (alert.first_anomaly_time, alert.begin_time, alert.latest_time, alert.open_time) == (100, 100, 100, 100)
    assert alert.event_count == 1 and alert.severity == 2 and alert.status == "ABNORMAL"
    assert alert.dimensions == {"bk_target_ip": "10.0.0.1"} and alert.alert_name == "CPU usage high"
    assert ops([outcome]) == ["CREATE"]


def test_a_no_data_event_opens_an_alert_like_an_anomaly_at_its_own_severity():
    series = Series("nodata-key")
    [outcome] = play(series, event(100, "no_data", severity=3, key="nodata-key"))
    assert series.abnormal is not None and series.abnormal.severity == 3
    assert "no data" in outcome.logs[0].description


# --- same, more and less severe ------------------------------------------------------------------------------

def test_a_same_severity_anomaly_counts_and_moves_latest_time_forward():
    series = opened(100)
    outcomes = play(series, event(160), event(220))
    assert series.abnormal.event_count == 3 and series.abnormal.latest_time == 220
    assert series.abnormal.begin_time == 100
    assert ops(outcomes) == ["ANOMALY", "ANOMALY"]


def test_a_same_severity_anomaly_never_moves_latest_time_back():
    series = opened(100)
    play(series, event(300), event(200))
    assert series.abnormal.latest_time == 300 and series.abnormal.event_count == 3


def test_a_new_anomaly_cancels_recovering():
    series = opened(100)
    play(series, event(160, "recovering"))
    assert series.abnormal.is_recovering
    play(series, event(220))
    assert not series.abnormal.is_recovering


def test_a_more_severe_event_closes_the_current_alert_and_opens_a_new_one_at_its_severity():
    series = opened(100, severity=3)
    old = series.abnormal
    [outcome] = play(series, event(200, severity=1))
    assert old.status == CLOSED and old.close_reason == REPLACED_REASON and old.end_time == 200
    new = series.abnormal
    assert new is not old and new.severity == 1 and new.begin_time == 200 and new.event_count == 1
    assert outcome.ended == [old] and outcome.opened == [new] and outcome.alert is new
    assert ops([outcome]) == ["CLOSE", "CREATE"]
    assert series.last_ended is old


def test_an_older_more_severe_event_still_replaces_but_the_replaced_alert_never_ends_before_it_began():
    series = opened(100, severity=3)
    old = series.abnormal
    play(series, event(50, severity=1))
    assert old.status == CLOSED and old.end_time == 100
    assert series.abnormal.severity == 1 and series.abnormal.begin_time == 50


def test_a_less_severe_event_is_logged_on_the_current_alert_and_dropped():
    series = opened(100, severity=1)
    [outcome] = play(series, event(160, severity=3))
    alert = series.abnormal
    assert alert.severity == 1 and alert.event_count == 1 and alert.latest_time == 100
    assert outcome.alert is alert and ops([outcome]) == ["LOWER_SEVERITY_DROPPED"]


# --- out of order ------------------------------------------------------------------------------------------------

def test_an_older_event_of_the_same_severity_only_moves_begin_and_first_anomaly_time_back():
    series = opened(100)
    alert = series.abnormal
    [outcome] = play(series, event(40))
    assert (alert.begin_time, alert.first_anomaly_time) == (40, 40)
    assert alert.latest_time == 100 and alert.event_count == 1 and alert.status == "ABNORMAL"
    assert alert.open_time == 100
    assert ops([outcome]) == ["MOVED_BEGIN"]


def test_an_older_less_severe_event_moves_begin_time_back_and_never_changes_severity():
    series = opened(100, severity=1)
    play(series, event(40, severity=3))
    assert series.abnormal.begin_time == 40 and series.abnormal.severity == 1


# --- recovering, recovered, closed ------------------------------------------------------------------------------

def test_recovering_sets_is_recovering_once_and_logs_it_once():
    series = opened(100)
    outcomes = play(series, event(160, "recovering"), event(220, "recovering"))
    assert series.abnormal.is_recovering and ops(outcomes) == ["RECOVERING"]


def test_recovered_ends_the_alert_with_the_recovery_value_and_clears_recovering():
    series = opened(100)
    alert = series.abnormal
    play(series, event(160, "recovering"))
    [outcome] = play(series, event(400, "recovered", value=12.5))
    assert alert.status == RECOVERED and alert.end_time == 400 and alert.recovery_value == 12.5
    assert not alert.is_recovering and series.abnormal is None and series.last_ended is alert
    assert outcome.ended == [alert] and ops([outcome]) == ["RECOVER"]


def test_closed_ends_the_alert_with_its_reason():
    series = opened(100)
    alert = series.abnormal
    [outcome] = play(series, event(400, "closed", reason="strategy disabled"))
    assert alert.status == CLOSED and alert.close_reason == "strategy disabled" and alert.end_time == 400
    assert ops([outcome]) == ["CLOSE"] and "strategy disabled" in outcome.logs[0].description


def test_a_status_event_without_an_abnormal_alert_is_logged_as_no_open_alert_and_changes_nothing():
    series = Series("k")
    outcomes = play(series, event(100, "recovered"), event(110, "recovering"), event(120, "closed", reason="x"))
    assert series.abnormal is None and series.last_ended is None
    assert ops(outcomes) == ["NO_OPEN_ALERT"] * 3
    assert all(o.alert is None and "no open alert" in o.logs[0].description for o in outcomes)


def test_a_status_event_older_than_the_alert_is_stale_and_ignored():
    series = opened(100)
    [outcome] = play(series, event(50, "recovered"))
    assert series.abnormal is not None and series.abnormal.status == "ABNORMAL"
    assert ops([outcome]) == ["STALE_EVENT"]


def test_a_recovering_event_older_than_the_latest_anomaly_is_stale_and_ignored():
    series = opened(100)
    play(series, event(300))
    [outcome] = play(series, event(200, "recovering"))
    assert not series.abnormal.is_recovering and ops([outcome]) == ["STALE_EVENT"]


# --- after the end ------------------------------------------------------------------------------------------------

def test_an_anomaly_at_or_before_the_end_of_the_last_ended_alert_is_a_late_event_and_reopens_nothing():
    series = opened(100)
    alert = series.abnormal
    play(series, event(400, "recovered"))
    outcomes = play(series, event(400), event(250))
    assert series.abnormal is None and alert.event_count == 1
    assert ops(outcomes) == ["LATE_EVENT", "LATE_EVENT"]
    assert all(o.alert is alert and "late event after the alert ended" in o.logs[0].description for o in outcomes)


def test_an_anomaly_after_the_end_opens_a_new_alert():
    series = opened(100)
    old = series.abnormal
    play(series, event(400, "recovered"), event(460))
    assert series.abnormal is not None and series.abnormal is not old and series.abnormal.begin_time == 460


# --- flapping ------------------------------------------------------------------------------------------------------

def flap(series: Series, start: int, cycles: int, limits: Limits = LIMITS) -> list[Outcome]:
    """Open and recover `cycles` times, 60 s apart."""
    events = []
    for i in range(cycles):
        events += [event(start + 120 * i), event(start + 120 * i + 60, "recovered")]
    return play(series, *events, limits=limits)


def test_more_than_the_allowed_state_changes_in_the_window_opens_the_next_alert_flapping():
    series = Series("k")
    flap(series, 1000, 3)  # 6 changes: not more than 6
    assert series.last_ended is not None and not series.last_ended.is_flapping
    [outcome] = play(series, event(1000 + 360))  # the 7th change
    assert series.abnormal.is_flapping and ops([outcome]) == ["CREATE", "FLAPPING_START"]


def test_changes_outside_the_window_do_not_count_towards_flapping():
    series = Series("k")
    flap(series, 1000, 3)
    play(series, event(1000 + 300 + 3600))
    assert not series.abnormal.is_flapping


def test_changes_already_stored_count_towards_flapping():
    series = Series("k", changes=[900, 910, 920, 930, 940, 950])
    play(series, event(1000))
    assert series.abnormal.is_flapping


def test_flapping_ends_when_the_next_event_comes_after_the_series_was_stable_long_enough():
    series = Series("k", changes=[900, 910, 920, 930, 940, 950])
    play(series, event(1000))
    [early] = play(series, event(1000 + 1799))
    assert series.abnormal.is_flapping and ops([early]) == ["ANOMALY"]
    [late] = play(series, event(1000 + 1900))
    assert not series.abnormal.is_flapping and ops([late]) == ["FLAPPING_END", "ANOMALY"]
    assert late.logs[0].time == 1000 + 1800  # the moment it became stable, whoever notices


def test_the_sweep_ends_flapping_at_the_same_moment_the_next_event_would():
    alert = AlertState(dedupe_md5="k", alert_name="a", strategy_id=1, item_id=1, bk_biz_id=2, severity=2,
                       open_time=1000, first_anomaly_time=1000, begin_time=1000, latest_time=1000, is_flapping=True)
    assert end_flapping_if_stable(alert, 2799, LIMITS) is None and alert.is_flapping
    entry = end_flapping_if_stable(alert, 5000, LIMITS)
    assert entry is not None and entry.op == "FLAPPING_END" and entry.time == 2800 and not alert.is_flapping


# --- order -----------------------------------------------------------------------------------------------------

def test_events_sort_by_dedupe_md5_then_time_then_event_id():
    a, b, c = event(200, key="b"), event(100, key="b"), event(300, key="a")
    assert sorted([a, b, c], key=lambda e: e.sort_key) == [c, b, a]
