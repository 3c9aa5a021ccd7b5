"""Event strategies: a query config that counts custom events (data_type_label "event")."""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from bkmonitor.models import QueryConfig
from bkmonitor.strategies.export import enabled_strategy_configs
from tests.strategies.conftest import BASE, TABLE

pytestmark = pytest.mark.django_db

Config = dict[str, Any]

EVENT_QUERY: Config = {
    "data_type_label": "event", "data_source_label": "custom", "result_table_id": TABLE,
    "custom_event_name": "disk_full", "agg_method": "COUNT", "agg_interval": 60,
    "agg_dimension": ["bk_target_ip"],
    "agg_condition": [{"key": "module", "method": "eq", "value": ["db"]}],
}


@pytest.fixture
def event_config(config: Config) -> Config:
    config = copy.deepcopy(config)
    config["name"] = "disk full"
    config["items"][0]["query_configs"] = [copy.deepcopy(EVENT_QUERY)]
    config["items"][0]["algorithms"][0]["config"] = [[{"method": "gte", "threshold": 1}]]
    return config


def query(c: Config) -> Config:
    return c["items"][0]["query_configs"][0]


def test_an_event_strategy_reads_back_in_the_event_shape(writer, event_config):
    created = writer.post(BASE, event_config, format="json")
    assert created.status_code == 201, created.json()
    body = writer.get(f"{BASE}{created.json()['id']}/").json()
    assert body["items"][0]["query_configs"] == [EVENT_QUERY]
    assert list(body["items"][0]["query_configs"][0]) == list(EVENT_QUERY)  # the documented key order
    assert body["items"][0]["algorithms"][0]["config"] == [[{"method": "gte", "threshold": 1}]]
    assert enabled_strategy_configs() == [body]


def test_the_event_name_is_stored_as_the_metric_field(writer, event_config):
    writer.post(BASE, event_config, format="json")
    stored = QueryConfig.objects.get()
    assert (stored.data_type_label, stored.metric_field, stored.agg_method) == ("event", "disk_full", "COUNT")


def test_data_source_label_defaults_to_custom(writer, event_config):
    del query(event_config)["data_source_label"]
    created = writer.post(BASE, event_config, format="json").json()
    assert created["items"][0]["query_configs"][0]["data_source_label"] == "custom"


def test_an_event_strategy_put_back_unchanged_stays_the_same(writer, event_config):
    created = writer.post(BASE, event_config, format="json").json()
    document = {k: v for k, v in created.items() if k not in ("id", "version", "create_time", "update_time")}
    updated = writer.put(f"{BASE}{created['id']}/", document, format="json")
    assert updated.status_code == 200, updated.json()
    assert updated.json()["items"] == created["items"]


QUERY_PATH = "items[0].query_configs[0]"
BAD_EVENT_INPUTS: list[tuple[str, Callable[[Config], Any], str, str]] = [
    ("an event config without custom_event_name", lambda c: query(c).pop("custom_event_name"),
     "custom_event_name", "required"),
    ("an empty custom_event_name", lambda c: query(c).update(custom_event_name=""), "custom_event_name", "blank"),
    ("an event config averaging instead of counting", lambda c: query(c).update(agg_method="AVG"),
     "agg_method", "must be COUNT, got 'AVG'"),
    ("an event config with a metric_field", lambda c: query(c).update(metric_field="usage"),
     "metric_field", "custom_event_name"),
    ("an event config with a unit", lambda c: query(c).update(unit="percent"), "unit", "no unit"),
    ("an event config from an unknown data source", lambda c: query(c).update(data_source_label="bk_monitor"),
     "data_source_label", ""),
    ("an event config on a table without kafka storage", lambda c: query(c).update(result_table_id="nope"),
     "result_table_id", "does not exist"),
]


@pytest.mark.parametrize(("mutate", "field", "text"), [b[1:] for b in BAD_EVENT_INPUTS],
                         ids=[b[0] for b in BAD_EVENT_INPUTS])
def test_a_bad_event_query_config_is_refused_with_a_400_naming_the_field(writer, event_config, mutate, field, text):
    mutate(event_config)
    response = writer.post(BASE, event_config, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert f"{QUERY_PATH}.{field}" in errors, errors
    assert text in " ".join(errors[f"{QUERY_PATH}.{field}"]), errors


BAD_METRIC_INPUTS: list[tuple[str, Callable[[Config], Any], str, str]] = [
    ("a time_series config without metric_field", lambda c: query(c).pop("metric_field"), "metric_field", "required"),
    ("a time_series config with a custom_event_name", lambda c: query(c).update(custom_event_name="disk_full"),
     "custom_event_name", "only event query configs"),
    ("a time_series config with a data_source_label", lambda c: query(c).update(data_source_label="custom"),
     "data_source_label", "only event query configs"),
]


@pytest.mark.parametrize(("mutate", "field", "text"), [b[1:] for b in BAD_METRIC_INPUTS],
                         ids=[b[0] for b in BAD_METRIC_INPUTS])
def test_event_fields_on_a_time_series_config_are_refused(writer, config, mutate, field, text):
    mutate(config)
    response = writer.post(BASE, config, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert f"{QUERY_PATH}.{field}" in errors, errors
    assert text in " ".join(errors[f"{QUERY_PATH}.{field}"]), errors
