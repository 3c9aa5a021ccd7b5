"""Windows and their column-wise reduction, through the processor's ingest and close."""
import orjson
import pytest

from alarm_backends.service.access.data.columns import Closing
from alarm_backends.service.access.data.index import StrategyIndex
from alarm_backends.service.access.data.parse import Point
from alarm_backends.service.access.data.processor import AccessProcessor
from alarm_backends.service.access.data.state import PartitionState
from alarm_backends.service.access.data.windows import Bucket
from tests.access.strategies import threshold_strategy

TOPIC = "bkm_system.cpu_summary"
TABLES = {"system.cpu_summary": TOPIC}
BASE = 1_700_000_000 - 1_700_000_000 % 3600  # times below are seconds after it


def setup(lateness: int, agg_method: str = "SUM") -> tuple[AccessProcessor, PartitionState]:
    strategy = threshold_strategy(count=1, check_window=1, agg_method=agg_method, threshold=1e9)
    return AccessProcessor(StrategyIndex([strategy], TABLES)), PartitionState(lateness)


def feed(processor: AccessProcessor, state: PartitionState, points: list[tuple[int, float]],
         host: str = "h1", ip: str = "10.0.0.1") -> list[bool]:
    return [processor.ingest(state, TOPIC, orjson.dumps({
        "time": BASE + t, "dimensions": {"bk_target_ip": ip, "host": host}, "metrics": {"usage": v}})) == 1
        for t, v in points]


def closed(processor: AccessProcessor, state: PartitionState) -> list[tuple[int, float, int]]:
    """(start, value, points) of the windows the watermark closed."""
    out = []
    for group_uid, start, bucket in state.windows.close_ready():
        group = processor.index.groups[group_uid]
        [agg] = group.aggs
        column = Closing(bucket, group.names).column(start, agg.metric, agg.agg_method)
        out += list(zip([start - BASE] * len(column.slots), column.values.tolist(), column.points.tolist(),
                        strict=True))
    return out


def test_points_aggregate_into_windows_aligned_to_the_interval() -> None:
    processor, state = setup(0, "AVG")
    feed(processor, state, [(120, 1.0), (130, 3.0), (179, 5.0), (180, 7.0)])
    assert closed(processor, state) == [(120, 3.0, 3)]


@pytest.mark.parametrize(("method", "expected"), [
    ("AVG", 4.0), ("SUM", 12.0), ("MAX", 7.0), ("MIN", 1.0), ("COUNT", 3.0), ("LAST", 1.0)])
def test_every_aggregation_method(method: str, expected: float) -> None:
    bucket = Bucket()
    for t, v in [(1, 4.0), (3, 1.0), (2, 7.0)]:
        bucket.add(0, Point(t, {}, {"m": v}))
    bucket.add(1, Point(1, {}, {"m": 9.0}))
    column = Closing(bucket, ("m",)).column(0, "m", method)
    assert column.slots.tolist() == [0, 1]
    assert column.values.tolist()[0] == expected
    assert column.points.tolist() == [3, 1]


def test_last_takes_the_latest_time_and_among_equal_times_the_last_to_arrive() -> None:
    bucket = Bucket()
    for t, v in [(5, 1.0), (9, 2.0), (9, 3.0), (7, 4.0)]:
        bucket.add(0, Point(t, {"n": v}, {"m": v}))
    assert Closing(bucket, ("m",)).column(0, "m", "LAST").values.tolist() == [3.0]


def test_a_series_missing_the_metric_in_some_points_aggregates_the_points_that_have_it() -> None:
    bucket = Bucket()
    bucket.add(0, Point(1, {}, {"m": 2.0, "n": 1.0}))
    bucket.add(0, Point(2, {}, {"n": 5.0}))
    bucket.add(1, Point(1, {}, {"n": 5.0}))
    closing = Closing(bucket, ("m", "n"))
    m = closing.column(0, "m", "AVG")
    assert (m.slots.tolist(), m.values.tolist(), m.points.tolist()) == ([0], [2.0], [1])
    n = closing.column(0, "n", "SUM")
    assert (n.slots.tolist(), n.values.tolist()) == ([0, 1], [6.0, 5.0])


def test_a_window_closes_only_when_the_watermark_passes_its_end_after_the_allowed_lateness() -> None:
    processor, state = setup(30)
    feed(processor, state, [(0, 1.0), (70, 1.0)])
    assert closed(processor, state) == []  # watermark 40 < 60
    feed(processor, state, [(90, 1.0)])
    assert [c[0] for c in closed(processor, state)] == [0]  # watermark 60


def test_a_point_later_than_the_lateness_is_counted_late_and_not_merged() -> None:
    processor, state = setup(10)
    assert feed(processor, state, [(5, 1.0), (75, 1.0), (50, 100.0)]) == [True, True, False]
    assert state.windows.late == 1
    assert closed(processor, state) == [(0, 1.0, 1)]


def test_a_late_point_within_the_lateness_still_counts() -> None:
    processor, state = setup(30)
    assert feed(processor, state, [(5, 1.0), (75, 1.0), (50, 2.0)]) == [True, True, True]
    assert state.windows.late == 0


def test_duplicate_points_of_a_series_at_the_same_time_count_once() -> None:
    processor, state = setup(0)
    assert feed(processor, state, [(10, 1.0), (10, 1.0), (20, 3.0)]) == [True, False, True]
    # same time and series key, another raw series (other dimensions): not a duplicate
    assert feed(processor, state, [(10, 9.0)], host="h2") == [True]
    assert state.windows.duplicates == 1
    feed(processor, state, [(60, 0.0)])
    assert closed(processor, state) == [(0, 13.0, 3)]


def test_a_point_repeating_a_time_with_new_metrics_adds_only_those() -> None:
    strategies = [threshold_strategy(sid=1, iid=11, count=1, check_window=1, agg_method="SUM"),
                  threshold_strategy(sid=2, iid=21, count=1, check_window=1, agg_method="SUM", metric="load")]
    processor, state = AccessProcessor(StrategyIndex(strategies, TABLES)), PartitionState(0)
    point = {"time": BASE + 10, "dimensions": {"bk_target_ip": "10.0.0.1"}}
    assert processor.ingest(state, TOPIC, orjson.dumps({**point, "metrics": {"usage": 1.0}})) == 1
    assert processor.ingest(state, TOPIC, orjson.dumps({**point, "metrics": {"usage": 1.0, "load": 2.0}})) == 1
    assert state.windows.duplicates == 1


def test_lateness_does_not_depend_on_when_windows_are_closed() -> None:
    (p1, one), (p2, two) = setup(0), setup(0)
    feed(p1, one, [(10, 1.0), (130, 1.0), (20, 5.0)])
    feed(p2, two, [(10, 1.0), (130, 1.0)])
    p2.close_windows(two)
    feed(p2, two, [(20, 5.0)])
    assert one.windows.late == two.windows.late == 1


def test_a_run_of_messages_files_and_judges_lateness_exactly_as_one_message_at_a_time() -> None:
    def raw(t: int, v: float) -> bytes:
        return orjson.dumps({"time": BASE + t, "dimensions": {"bk_target_ip": "10.0.0.1"}, "metrics": {"usage": v}})

    points = [(5, 1.0), (75, 2.0), (130, 4.0), (50, 100.0), (10, 8.0), (140, 16.0)]
    (p1, one), (p2, two) = setup(10), setup(10)
    for t, v in points:
        p1.ingest(one, TOPIC, raw(t, v))
    messages = [raw(t, v) for t, v in points]
    messages[2:2] = [b"not json", b'{"time": 1, "metrics": {}}']  # invalid ones in the middle
    filed, invalid = p2.ingest_many(two, TOPIC, messages)
    assert filed == 4 and [position for position, _exc in invalid] == [2, 3]
    assert "not JSON" in str(invalid[0][1]) and "'metrics'" in str(invalid[1][1])
    assert (one.windows.late, one.windows.max_time) == (two.windows.late, two.windows.max_time) == (2, BASE + 140)
    assert closed(p1, one) == closed(p2, two) == [(0, 1.0, 1), (60, 2.0, 1)]


def test_windows_survive_a_dump_and_load_exactly() -> None:
    processor, state = setup(5)
    feed(processor, state, [(10, 1.0), (20, 2.0), (70, 4.0)])
    restored = PartitionState.load(state.dump(processor.index.fingerprints), 5, processor.index)
    assert feed(processor, restored, [(20, 2.0)]) == [False]  # the duplicate is still recognised
    feed(processor, restored, [(200, 0.0)])
    feed(processor, state, [(200, 0.0)])
    assert closed(processor, restored) == closed(processor, state) == [(0, 3.0, 2), (60, 4.0, 1)]
