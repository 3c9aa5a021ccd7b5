"""Every bad input is a 400 whose JSON names the offending field by its path."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.strategies.conftest import BASE

pytestmark = pytest.mark.django_db

Config = dict[str, Any]


def item(c: Config) -> Config:
    return c["items"][0]


def query(c: Config) -> Config:
    return c["items"][0]["query_configs"][0]


def second_condition(c: Config, **fields: Any) -> None:
    query(c)["agg_condition"].append({"key": "bk_target_ip", "method": "eq", "value": ["10.0.0.2"], **fields})


BAD_INPUTS: list[tuple[str, Callable[[Config], Any], str, str]] = [
    ("an unknown algorithm type", lambda c: item(c)["algorithms"][0].update(type="Magic"),
     "items[0].algorithms[0].type", "unknown algorithm type"),
    ("a threshold algorithm without its threshold",
     lambda c: item(c)["algorithms"][0].update(config=[[{"method": "gte"}]]),
     "items[0].algorithms[0].config[0][0].threshold", "required"),
    ("a unit_prefix that cannot be compared with the metric's unit",
     lambda c: (query(c).update(unit="percent"), item(c)["algorithms"][0].update(unit_prefix="bytes")),
     "items[0].algorithms[0].unit_prefix", "cannot be compared"),
    ("an algorithm level outside 1..3", lambda c: item(c)["algorithms"][0].update(level=4),
     "items[0].algorithms[0].level", ""),
    ("an item without algorithms", lambda c: item(c).update(algorithms=[]), "items[0].algorithms", ""),
    ("an agg_interval that is not a multiple of the base interval", lambda c: query(c).update(agg_interval=90),
     "items[0].query_configs[0].agg_interval", "multiple of the base interval 60s"),
    ("a zero agg_interval", lambda c: query(c).update(agg_interval=0), "items[0].query_configs[0].agg_interval", ""),
    ("a negative agg_interval", lambda c: query(c).update(agg_interval=-60),
     "items[0].query_configs[0].agg_interval", ""),
    ("a result table that does not exist", lambda c: query(c).update(result_table_id="system.nope"),
     "items[0].query_configs[0].result_table_id", "does not exist"),
    ("an unknown agg_method", lambda c: query(c).update(agg_method="MEDIAN"),
     "items[0].query_configs[0].agg_method", ""),
    ("an unknown data_type_label", lambda c: query(c).update(data_type_label="log"),
     "items[0].query_configs[0].data_type_label", "not supported yet"),
    ("two query configs on one item", lambda c: item(c)["query_configs"].append(dict(query(c))),
     "items[0].query_configs", "exactly one query config"),
    ("no query config on an item", lambda c: item(c).update(query_configs=[]),
     "items[0].query_configs", "exactly one query config"),
    ("an unknown condition method", lambda c: query(c)["agg_condition"][0].update(method="like"),
     "items[0].query_configs[0].agg_condition[0].method", ""),
    ("a condition after the first without its and/or", lambda c: second_condition(c),
     "items[0].query_configs[0].agg_condition[1].condition", "required"),
    ("a condition joined by neither and nor or", lambda c: second_condition(c, condition="xor"),
     "items[0].query_configs[0].agg_condition[1].condition", ""),
    ("a reg condition whose value does not compile",
     lambda c: query(c)["agg_condition"][0].update(method="reg", value=["ok", "(unclosed"]),
     "items[0].query_configs[0].agg_condition[0].value[1]", "regular expression"),
    ("a gt condition on a non-number", lambda c: query(c)["agg_condition"][0].update(method="gt", value=["ten"]),
     "items[0].query_configs[0].agg_condition[0].value[0]", "not a number"),
    ("a condition with an empty value list", lambda c: query(c)["agg_condition"][0].update(value=[]),
     "items[0].query_configs[0].agg_condition[0].value", ""),
    ("a condition value that is an object", lambda c: query(c)["agg_condition"][0].update(value=[{"a": 1}]),
     "items[0].query_configs[0].agg_condition[0].value[0]", "string or a number"),
    ("a duplicated dimension", lambda c: query(c).update(agg_dimension=["ip", "ip"]),
     "items[0].query_configs[0].agg_dimension", "duplicate"),
    ("a level with algorithms but no detect", lambda c: item(c)["algorithms"].append(
        {"level": 2, "type": "Threshold", "config": [[{"method": "gte", "threshold": 80}]]}),
     "detects", "level 2 (warning) has algorithms but no detect"),
    ("a detect for a level the item has no algorithm for", lambda c: c["detects"].append(
        {"level": 3, "trigger_config": {"count": 1, "check_window": 1}, "recovery_config": {"check_window": 1}}),
     "items[0].algorithms", "no algorithm for level 3 (remind)"),
    ("two detects for one level", lambda c: c["detects"].append(dict(c["detects"][0])),
     "detects[1].level", "already has a detect"),
    ("no detects", lambda c: c.update(detects=[]), "detects", ""),
    ("no items", lambda c: c.update(items=[]), "items", ""),
    ("an unknown connector", lambda c: c["detects"][0].update(connector="xor"), "detects[0].connector", ""),
    ("a trigger count of zero", lambda c: c["detects"][0]["trigger_config"].update(count=0),
     "detects[0].trigger_config.count", ""),
    ("a check window smaller than the count", lambda c: c["detects"][0]["trigger_config"].update(check_window=2),
     "detects[0].trigger_config.check_window", "must be >= count"),
    ("an uptime range that is not HH:MM",
     lambda c: c["detects"][0]["trigger_config"]["uptime"]["time_ranges"][0].update(start="24:00"),
     "detects[0].trigger_config.uptime.time_ranges[0].start", "HH:MM"),
    ("an uptime range with no time ranges", lambda c: c["detects"][0]["trigger_config"]["uptime"].update(
        time_ranges=[]), "detects[0].trigger_config.uptime.time_ranges", ""),
    ("a recovery check window of zero", lambda c: c["detects"][0]["recovery_config"].update(check_window=0),
     "detects[0].recovery_config.check_window", ""),
    ("an unknown status_setter", lambda c: c["detects"][0]["recovery_config"].update(status_setter="reopen"),
     "detects[0].recovery_config.status_setter", ""),
    ("a no-data continuous of zero", lambda c: item(c)["no_data_config"].update(continuous=0),
     "items[0].no_data_config.continuous", ""),
    ("a no-data level outside 1..3", lambda c: item(c)["no_data_config"].update(level=0),
     "items[0].no_data_config.level", ""),
    ("a notice user group that is not an integer", lambda c: c["notice"].update(user_groups=[1, "ops"]),
     "notice.user_groups[1]", "positive integer"),
    ("an unknown notice signal", lambda c: c["notice"].update(signal=["abnormal", "shouted"]),
     "notice.signal[1]", "unknown signal"),
    ("a notice that is not an object", lambda c: c.update(notice=[1]), "notice", "must be an object"),
    ("a misspelt key in a query config", lambda c: query(c).update(agg_intreval=60),
     "items[0].query_configs[0].agg_intreval", "unknown field"),
    ("a misspelt top-level key", lambda c: c.update(enabled=True), "enabled", "unknown field"),
    ("a missing name", lambda c: c.pop("name"), "name", "required"),
    ("a bk_biz_id beyond 32 bits", lambda c: c.update(bk_biz_id=2**40), "bk_biz_id", ""),
    ("labels that are not strings", lambda c: c.update(labels=[{"a": 1}]), "labels[0]", ""),
]


@pytest.mark.parametrize(("mutate", "path", "text"), [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS])
def test_a_bad_strategy_is_refused_with_a_400_naming_the_field(writer, config, mutate, path, text):
    mutate(config)
    response = writer.post(BASE, config, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert path in errors, errors
    assert text in " ".join(errors[path]), errors


def test_a_result_table_without_a_kafka_storage_is_refused(writer, config):
    from metadata.models import ResultTable

    ResultTable.objects.create(table_id="system.mem")
    config["items"][0]["query_configs"][0]["result_table_id"] = "system.mem"
    response = writer.post(BASE, config, format="json")
    assert response.status_code == 400
    assert "no kafka storage" in response.json()["items[0].query_configs[0].result_table_id"][0]


def test_the_base_interval_comes_from_the_setting(writer, config, settings):
    settings.BKM_BASE_INTERVAL_SECONDS = 30
    config["items"][0]["query_configs"][0]["agg_interval"] = 90
    assert writer.post(BASE, config, format="json").status_code == 201


def test_a_second_strategy_with_the_same_name_in_the_same_business_is_refused(writer, config):
    assert writer.post(BASE, config, format="json").status_code == 201
    response = writer.post(BASE, config, format="json")
    assert response.status_code == 400 and "already exists in business 2" in response.json()["name"][0]
    assert writer.post(BASE, {**config, "bk_biz_id": 3}, format="json").status_code == 201


def test_errors_in_several_places_are_all_reported_at_once(writer, config):
    config["name"] = ""
    config["detects"][0]["trigger_config"]["count"] = 0
    config["items"][0]["query_configs"][0]["agg_interval"] = 61
    errors = writer.post(BASE, config, format="json").json()
    assert {"name", "detects[0].trigger_config.count", "items[0].query_configs[0].agg_interval"} <= set(errors)


@pytest.mark.parametrize("body", [[], "text", 5, None, {"items": "x"}, {"items": [1]},
                                  {"items": [{"query_configs": {}}]}, {"detects": [{"trigger_config": []}]},
                                  {"notice": "x"}])
def test_malformed_documents_are_a_400_never_a_500(writer, result_table, body):
    response = writer.post(BASE, body, format="json")
    assert response.status_code == 400, response.content


def test_a_body_that_is_not_json_is_a_400(writer, result_table):
    response = writer.post(BASE, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_a_nul_character_inside_kept_json_is_a_400(writer, config):
    config["notice"]["extra"] = {"k\u0000": "v\u0000"}
    response = writer.post(BASE, config, format="json")
    assert response.status_code in (201, 400), response.content  # SQLite stores it; PostgreSQL's jsonb cannot
