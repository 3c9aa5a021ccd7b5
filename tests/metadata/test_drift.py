"""compute_drift on plain data: no broker, no database."""
from metadata.reconcile import BROKER_DEFAULT, TopicSpec, compute_drift


def spec(partitions=3, rf=1, **configs):
    return TopicSpec("bkm_x", partitions, rf, {k.replace("_", "."): v for k, v in configs.items()})


def test_an_identical_topic_has_no_drift():
    assert compute_drift(spec(retention_ms="1800000"), spec(retention_ms="1800000")) == []


def test_numbers_are_compared_as_numbers_not_as_text():
    assert compute_drift(spec(retention_ms="1800000"), spec(retention_ms=" 1800000")) == []
    assert compute_drift(spec(retention_ms="-1"), spec(retention_ms="-01")) == []


def test_a_config_absent_on_the_broker_is_drift_from_the_broker_default():
    [drift] = compute_drift(spec(retention_ms="1800000"), spec())
    expected = ("retention.ms", "1800000", BROKER_DEFAULT, True)
    assert (drift.attribute, drift.desired, drift.live, drift.fixable) == expected
    assert "live broker default" in str(drift)


def test_a_config_the_model_does_not_manage_is_not_drift():
    assert compute_drift(spec(), spec(segment_bytes="1048576")) == []


def test_a_different_retention_is_fixable_drift():
    [drift] = compute_drift(spec(retention_ms="1800000"), spec(retention_ms="604800000"))
    assert drift.fixable and drift.live == "604800000"


def test_more_partitions_wanted_is_fixable_but_fewer_is_refused_with_the_reason():
    [grow] = compute_drift(spec(partitions=4), spec(partitions=2))
    assert grow.attribute == "partitions" and grow.fixable
    [shrink] = compute_drift(spec(partitions=1), spec(partitions=3))
    assert not shrink.fixable
    assert "cannot decrease partitions from 3 to 1" in shrink.reason


def test_a_replication_factor_difference_is_reported_and_never_auto_fixed():
    [drift] = compute_drift(spec(rf=3), spec(rf=1))
    assert drift.attribute == "replication_factor" and not drift.fixable


def test_cleanup_policy_order_does_not_matter():
    assert compute_drift(spec(cleanup_policy="compact,delete"), spec(cleanup_policy="delete, compact")) == []
    [drift] = compute_drift(spec(cleanup_policy="compact"), spec(cleanup_policy="delete"))
    assert drift.attribute == "cleanup.policy"


def test_every_difference_is_reported_at_once():
    drift = compute_drift(spec(partitions=1, rf=2, retention_ms="1000", compression_type="lz4"),
                          spec(partitions=2, rf=1, retention_ms="2000"))
    assert {d.attribute for d in drift} == {"partitions", "replication_factor", "retention.ms", "compression.type"}
