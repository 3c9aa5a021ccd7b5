"""Pipeline health from progress and lag (plain data): stalls, lag, delay, idleness and episodes."""
from __future__ import annotations

import orjson

from alarm_backends.service.alert.manager.health import (
    Episode, Health, HealthLimits, PartitionProgress, assess, event_clock, lag_since, next_episode, parse_progress)

NOW = 1_700_000_000.0
LIMITS = HealthLimits(stall_seconds=120, max_lag=1000, max_delay_seconds=900)
TP0, TP1 = ("metrics", 0), ("metrics", 1)


def progress(partition: int = 0, updated: float = NOW - 5, watermark: int = int(NOW) - 60,
             topic: str = "metrics", items: dict[str, int] | None = None) -> PartitionProgress:
    return PartitionProgress(topic, partition, updated, 10, watermark + 60, watermark, items or {})


def long_ago(*tps: tuple[str, int]) -> dict[tuple[str, int], float]:
    return {tp: NOW - 600 for tp in tps}


def test_a_pipeline_that_checkpoints_and_keeps_up_is_healthy():
    assert assess([progress()], {TP0: 3}, long_ago(TP0), NOW, LIMITS) == Health(False, (), 3)


def test_a_partition_with_lasting_lag_and_no_recent_checkpoint_is_a_stall():
    health = assess([progress(updated=NOW - 300)], {TP0: 5}, long_ago(TP0), NOW, LIMITS)
    assert health.degraded and health.reasons == ("metrics:0: lag 5 and no checkpoint for 300s",)


def test_an_idle_partition_without_lag_is_not_a_stall_however_old_its_checkpoint():
    old = progress(updated=NOW - 86_400, watermark=int(NOW) - 86_400)
    assert not assess([old, progress(1)], {TP0: 0, TP1: 4}, long_ago(TP1), NOW, LIMITS).degraded


def test_lag_that_has_just_appeared_is_not_yet_a_stall():
    # an idle partition just received data: its last checkpoint is old until the next one
    health = assess([progress(updated=NOW - 3600)], {TP0: 2}, {TP0: NOW - 30}, NOW, LIMITS)
    assert not health.degraded


def test_a_partition_with_lasting_lag_and_no_progress_at_all_is_a_stall():
    health = assess([], {TP0: 7}, long_ago(TP0), NOW, LIMITS)
    assert health.reasons == ("metrics:0: lag 7 and no progress recorded",)


def test_total_lag_over_the_limit_is_degraded_at_once():
    health = assess([progress(), progress(1)], {TP0: 600, TP1: 600}, {}, NOW, LIMITS)
    assert health.degraded and health.reasons == ("total lag 1200 > 1000",)


def test_a_lagging_partition_whose_watermark_is_far_behind_the_wall_clock_is_degraded():
    behind = progress(watermark=int(NOW) - 1800)
    health = assess([behind], {TP0: 50}, long_ago(TP0), NOW, LIMITS)
    assert health.reasons == ("metrics:0: lag 50 and the watermark 1800s behind",)


def test_an_old_watermark_without_lag_is_idleness_not_delay():
    assert not assess([progress(watermark=int(NOW) - 86_400)], {TP0: 0}, {}, NOW, LIMITS).degraded


def test_lag_that_cannot_be_read_is_degraded():
    health = assess([progress()], {}, {}, NOW, LIMITS, lag_error="metrics: broker unavailable")
    assert health == Health(True, ("lag unavailable: metrics: broker unavailable",), 0)


def test_lag_since_keeps_the_start_of_unbroken_lag_and_forgets_partitions_that_caught_up():
    first = lag_since({}, {TP0: 3, TP1: 0}, NOW)
    assert first == {TP0: NOW}
    assert lag_since(first, {TP0: 1, TP1: 2}, NOW + 60) == {TP0: NOW, TP1: NOW + 60}
    assert lag_since(first, {TP0: 0}, NOW + 60) == {}


def test_a_degraded_check_starts_one_episode_and_repeats_its_anomaly():
    degraded = Health(True, ("x",))
    episode, kind = next_episode(degraded, None, NOW)
    assert (episode, kind) == (Episode(int(NOW)), "anomaly")
    assert next_episode(degraded, episode, NOW + 60) == (episode, "anomaly")


def test_a_healthy_check_recovers_an_open_episode_and_then_does_nothing():
    assert next_episode(Health(False), Episode(5), NOW) == (None, "recovered")
    assert next_episode(Health(False), None, NOW) == (None, None)


def test_progress_is_parsed_from_the_redis_hash_and_unreadable_fields_are_skipped():
    raw = {b"bkm_cpu:1": orjson.dumps({"updated": NOW, "offset": 9, "max_time": 600, "watermark": 540,
                                        "late": 0, "items": {"1.2": 480}}),
           b"bkm_cpu:0": b"not json", "bkm_mem:0": orjson.dumps({"updated": NOW})}
    assert parse_progress(raw) == [PartitionProgress("bkm_cpu", 1, NOW, 9, 600, 540, {"1.2": 480})]


def test_the_event_clock_is_the_highest_watermark_overall_or_of_one_topic():
    records = [progress(0, watermark=100), progress(1, watermark=300), progress(0, watermark=200, topic="other")]
    assert event_clock(records) == 300 and event_clock(records, "other") == 200
    assert event_clock([]) is None and event_clock(records, "none") is None
