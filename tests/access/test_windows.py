from alarm_backends.service.access.data.windows import Acc, WindowSet

S = ("1.1", ("10.0.0.1",))


def feed(ws: WindowSet, points: list[tuple[int, float]], interval: int = 60, identity: object = "h1") -> list[bool]:
    accepted = []
    for t, v in points:
        accepted.append(ws.add(S, t, interval, v, identity))
        ws.observe(t)
    return accepted


def test_points_aggregate_into_windows_aligned_to_the_interval() -> None:
    ws = WindowSet(lateness=0)
    feed(ws, [(120, 1.0), (130, 3.0), (179, 5.0), (180, 7.0)])
    [closed] = ws.close_ready({"1.1": "AVG"})
    assert (closed.start, closed.value, closed.points) == (120, 3.0, 3)


def test_every_aggregation_method() -> None:
    acc = Acc()
    for t, v in [(1, 4.0), (3, 1.0), (2, 7.0)]:
        acc.add(t, v)
    assert {m: acc.result(m) for m in ("AVG", "SUM", "MAX", "MIN", "COUNT", "LAST")} == {
        "AVG": 4.0, "SUM": 12.0, "MAX": 7.0, "MIN": 1.0, "COUNT": 3.0, "LAST": 1.0}


def test_a_window_closes_only_when_the_watermark_passes_its_end_after_the_allowed_lateness() -> None:
    ws = WindowSet(lateness=30)
    feed(ws, [(0, 1.0), (70, 1.0)])
    assert ws.close_ready({"1.1": "SUM"}) == []  # watermark 40 < 60
    feed(ws, [(90, 1.0)])
    assert [c.start for c in ws.close_ready({"1.1": "SUM"})] == [0]  # watermark 60


def test_a_point_later_than_the_lateness_is_counted_late_and_not_merged() -> None:
    ws = WindowSet(lateness=10)
    assert feed(ws, [(5, 1.0), (75, 1.0), (50, 100.0)]) == [True, True, False]
    assert ws.late == 1
    [closed] = ws.close_ready({"1.1": "SUM"})
    assert closed.value == 1.0


def test_a_late_point_within_the_lateness_still_counts() -> None:
    ws = WindowSet(lateness=30)
    assert feed(ws, [(5, 1.0), (75, 1.0), (50, 2.0)]) == [True, True, True]
    assert ws.late == 0


def test_duplicate_points_of_a_series_at_the_same_time_count_once() -> None:
    ws = WindowSet(lateness=0)
    assert feed(ws, [(10, 1.0), (10, 1.0), (20, 3.0)]) == [True, False, True]
    assert ws.add(S, 10, 60, 9.0, "other-host")  # same time, another raw series: not a duplicate
    assert ws.duplicates == 1


def test_lateness_does_not_depend_on_when_windows_are_closed() -> None:
    one, two = WindowSet(lateness=0), WindowSet(lateness=0)
    feed(one, [(10, 1.0), (130, 1.0), (20, 5.0)])
    feed(two, [(10, 1.0), (130, 1.0)])
    two.close_ready({"1.1": "SUM"})
    feed(two, [(20, 5.0)])
    assert one.late == two.late == 1


def test_windows_survive_a_dump_and_load_exactly() -> None:
    ws = WindowSet(lateness=5)
    feed(ws, [(10, 1.0), (20, 2.0), (70, 4.0)])
    restored = WindowSet.load(ws.dump(), 5, {"1.1": 60})
    assert feed(restored, [(20, 2.0)]) == [False]  # the duplicate is still recognised
    feed(restored, [(200, 0.0)])
    feed(ws, [(200, 0.0)])
    assert restored.close_ready({"1.1": "SUM"}) == ws.close_ready({"1.1": "SUM"})
