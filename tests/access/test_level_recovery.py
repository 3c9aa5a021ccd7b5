"""How levels interact in recovery (docs/ARCHITECTURE.md, Semantics: how levels interact), table-driven
through the real access processor on plain data (no broker).

Each row: the levels (level, threshold the value must exceed, trigger count, trigger check_window,
recovery check_window), one value per one-minute window, and the events expected per window as
(event type, level), in the order they are emitted. Windows not listed emit nothing.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import orjson
import pytest

from alarm_backends.service.access.data.index import StrategyIndex
from alarm_backends.service.access.data.processor import AccessProcessor
from alarm_backends.service.access.data.state import PartitionState
from tests.access.strategies import threshold_strategy

TOPIC = "bkm_system.cpu_summary"
TABLES = {"system.cpu_summary": TOPIC}
T0 = 1_700_000_040 - 1_700_000_040 % 60
A, RECOVERING, RECOVERED, CLOSED = "anomaly", "recovering", "recovered", "closed"


class Level(NamedTuple):
    level: int
    above: float  # the level's Threshold: value > above
    needs: int = 1  # N of M: the trigger count ...
    window: int = 1  # ... and the trigger check_window
    recovery: int = 5  # recovery_config.check_window


def strategy(levels: list[Level], setter: str = "recovery") -> dict[str, Any]:
    config = threshold_strategy(count=1, check_window=1)
    config["items"][0]["algorithms"] = [
        {"level": lv.level, "type": "Threshold", "config": [[{"method": "gt", "threshold": lv.above}]]}
        for lv in levels]
    config["detects"] = [
        {"level": lv.level, "connector": "and", "trigger_config": {"count": lv.needs, "check_window": lv.window},
         "recovery_config": {"check_window": lv.recovery, "status_setter": setter}} for lv in levels]
    return config


def events_per_window(config: dict[str, Any], values: list[float]) -> dict[int, list[tuple[str, int]]]:
    processor = AccessProcessor(StrategyIndex([config], TABLES))
    state = PartitionState(0)
    found: dict[int, list[tuple[str, int]]] = {}
    for i, value in enumerate([*values, 0.0]):  # one more point: the last window of `values` closes
        raw = orjson.dumps({"time": T0 + i * 60, "dimensions": {"bk_target_ip": "10.0.0.1"},
                            "metrics": {"usage": value}})
        processor.ingest(state, TOPIC, raw)
        for event in processor.close_windows(state):
            found.setdefault((event["time"] - T0) // 60, []).append((event["event_type"], event["severity"]))
    return found


ROWS = [
    pytest.param(
        [Level(1, 56, recovery=2), Level(2, 50)], [40, 60, 53, 40, 40],
        {1: [(A, 1)], 2: [(A, 2), (RECOVERING, 1)], 3: [(RECOVERED, 1)]},
        id="issue reproduction: a less severe firing does not hold back the recovery of the more severe alert"),
    pytest.param(
        [Level(1, 90, recovery=3), Level(2, 50, recovery=2)], [95, 60, 60, 60, 60, 40, 40],
        {0: [(A, 1)], 1: [(A, 2), (RECOVERING, 1)], 2: [(A, 2)], 3: [(A, 2), (RECOVERED, 1)],
         4: [(A, 2)], 5: [(RECOVERING, 2)], 6: [(RECOVERED, 2)]},
        id="the less severe level keeps firing: the severe alert recovers, the next firing opens a new alert"),
    pytest.param(
        [Level(1, 90, recovery=2), Level(2, 50, recovery=2)], [60, 60, 40, 95, 40, 40],
        {0: [(A, 2)], 1: [(A, 2)], 2: [(RECOVERING, 2)], 3: [(A, 1)], 4: [(RECOVERING, 1)], 5: [(RECOVERED, 1)]},
        id="a more severe firing replaces a recovering alert and starts its own clean count"),
    pytest.param(
        [Level(1, 90, recovery=3), Level(2, 50)], [95, 40, 95, 40, 40, 40],
        {0: [(A, 1)], 1: [(RECOVERING, 1)], 2: [(A, 1)], 3: [(RECOVERING, 1)], 5: [(RECOVERED, 1)]},
        id="the alert's own level firing again resets its clean count"),
    pytest.param(
        [Level(1, 90, recovery=2), Level(2, 70, recovery=2), Level(3, 50, recovery=1)],
        [60, 80, 95, 80, 60, 40, 40],
        {0: [(A, 3)], 1: [(A, 2)], 2: [(A, 1)], 3: [(A, 2), (RECOVERING, 1)], 4: [(A, 3), (RECOVERED, 1)]},
        id="three levels escalating, then both less severe levels firing while the fatal alert recovers"),
    pytest.param(
        [Level(1, 90, recovery=1), Level(2, 70, recovery=2), Level(3, 50, recovery=3)],
        [95, 80, 80, 60, 60, 60, 40],
        {0: [(A, 1)], 1: [(A, 2), (RECOVERED, 1)], 2: [(A, 2)], 3: [(A, 3), (RECOVERING, 2)],
         4: [(A, 3), (RECOVERED, 2)], 5: [(A, 3)], 6: [(RECOVERING, 3)]},
        id="three levels de-escalating: each alert recovers by its own recovery window (1, 2, 3)"),
    pytest.param(
        [Level(1, 90, needs=2, window=3, recovery=2), Level(2, 50)], [95, 95, 60, 60, 60, 95, 60],
        {0: [(A, 2)], 1: [(A, 1)], 2: [(A, 2)], 3: [(A, 2), (RECOVERING, 1)], 4: [(A, 2), (RECOVERED, 1)],
         5: [(A, 2)], 6: [(A, 2)]},
        id="a 2 of 3 alert is not clean while its own 2 of 3 still holds, whatever the other level does"),
    pytest.param(
        [Level(1, 90, needs=2, window=3, recovery=1), Level(2, 50, needs=2, window=3, recovery=2)],
        [95, 95, 60, 60, 40, 40, 40],
        {1: [(A, 1)], 2: [(A, 2)], 3: [(A, 2), (RECOVERED, 1)]},
        id="both levels 2 of 3: a less severe anomaly in the window the alert ends does not open an alert"),
    pytest.param(
        [Level(1, 56, recovery=2), Level(2, 50)], [40, 60, 53, 53, 40],
        {1: [(A, 1)], 2: [(A, 2), (RECOVERING, 1)], 3: [(A, 2), (RECOVERED, 1)]},
        id="the recovery event follows the less severe anomaly of the same window"),
]


@pytest.mark.parametrize(("levels", "values", "expected"), ROWS)
def test_an_alert_recovers_by_its_own_level_only(levels: list[Level], values: list[float],
                                                  expected: dict[int, list[tuple[str, int]]]) -> None:
    assert events_per_window(strategy(levels), values) == expected


def test_status_setter_close_ends_the_severe_alert_while_a_less_severe_level_fires() -> None:
    got = events_per_window(strategy([Level(1, 56, recovery=2), Level(2, 50)], setter="close"), [40, 60, 53, 40])
    assert got == {1: [(A, 1)], 2: [(A, 2), (RECOVERING, 1)], 3: [(CLOSED, 1)]}


def feed(processor: AccessProcessor, state: PartitionState, messages: list[bytes]) -> list[Any]:
    events: list[Any] = []
    for raw in messages:
        processor.ingest(state, TOPIC, raw)
        events.extend(processor.close_windows(state))
    return events


def test_a_snapshot_taken_between_levels_replays_the_same_events_with_the_same_ids() -> None:
    config = strategy([Level(1, 90, recovery=3), Level(2, 50, recovery=2)])
    values = [95, 60, 60, 60, 60, 40, 40, 0]
    messages = [orjson.dumps({"time": T0 + i * 60, "dimensions": {"bk_target_ip": "10.0.0.1"},
                              "metrics": {"usage": v}}) for i, v in enumerate(values)]
    index = StrategyIndex([config], TABLES)
    processor = AccessProcessor(index)
    whole = feed(processor, PartitionState(0), messages)
    state = PartitionState(0)
    before = feed(processor, state, messages[:3])  # the level-1 alert is recovering, level 2 firing
    snapshot = state.dump({uid: spec.fingerprint for uid, spec in index.items.items()})
    after = feed(processor, PartitionState.load(snapshot, 0, index), messages[3:])
    assert [e["event_id"] for e in before + after] == [e["event_id"] for e in whole]
    assert {e["event_type"] for e in whole} == {A, RECOVERING, RECOVERED}
