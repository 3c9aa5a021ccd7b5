"""Random input through the real broker into the real access runner: every message is processed or
dead-lettered with a reason, nothing escapes the loop, and the dead-letter policy still holds."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alarm_backends.core.kafka.dlq import H_ERROR
from tests.access.conftest import World, wait_until
from tests.access.test_access_e2e import api_config
from tests.faults.inputs import T0, any_message, metric_field_values, metric_message, to_json
from tests.faults.test_poison_messages import dead_letters, produce


def test_random_messages_among_good_ones_are_each_processed_or_dead_lettered_and_the_runner_keeps_going(
        world: World) -> None:
    world.create_strategy(api_config(world, count=1, check_window=1))
    runner = world.runner()
    sent = {"count": 0}

    # derandomized and bounded; at most one random message in five keeps the invalid share under
    # DeadLetterPolicy's 20 %, which would (rightly) stop a consumer fed mostly garbage
    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(randoms=st.lists(any_message(metric_field_values()), min_size=1, max_size=4))
    def batch(randoms: list[bytes]) -> None:
        good = [to_json(metric_message(t=T0 + 60 * (sent["count"] + i), value=10)) for i in range(4 * len(randoms))]
        messages = [*randoms, *good]
        before_messages, before_invalid = runner.messages, runner.invalid
        produce(world.cluster, world.topic, [("10.0.0.1", raw) for raw in messages])
        sent["count"] += len(messages)
        assert wait_until(lambda: runner.messages >= before_messages + len(messages), 30, step=runner.step)
        assert runner.messages == before_messages + len(messages)
        assert runner.invalid - before_invalid <= len(randoms)  # the good ones are never refused

    try:
        batch()
        runner.checkpoint()
    finally:
        runner.close()
    assert runner.invalid > 0  # the examples did hold bad input
    letters = dead_letters(world.cluster, world.topic, runner.invalid)
    assert len(letters) == runner.invalid
    assert all(dict(letter.headers())[H_ERROR] for letter in letters)
