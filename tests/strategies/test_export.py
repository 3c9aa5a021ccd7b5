"""What consumers load: enabled strategies in the API shape, and versions that move on every change."""
from __future__ import annotations

import copy

import pytest

from bkmonitor.models import Strategy
from bkmonitor.strategies.export import enabled_strategy_configs, strategy_config_version
from tests.strategies.conftest import BASE

pytestmark = pytest.mark.django_db


def test_enabled_configs_are_exactly_what_the_api_returns(writer, create):
    first, second = create(), create(name="second", labels=["x"])
    assert enabled_strategy_configs() == [writer.get(f"{BASE}{first['id']}/").json(),
                                          writer.get(f"{BASE}{second['id']}/").json()]


def test_disabled_strategies_are_not_exported(writer, create):
    kept, disabled = create(), create(name="off")
    writer.post(f"{BASE}{disabled['id']}/disable/")
    assert [s["id"] for s in enabled_strategy_configs()] == [kept["id"]]


def test_loading_many_strategies_takes_a_fixed_number_of_queries(create, django_assert_num_queries):
    for n in range(6):
        create(name=f"s{n}")
    with django_assert_num_queries(5):
        assert len(enabled_strategy_configs()) == 6


def test_the_export_is_plain_json_data(create):
    import json

    create()
    exported = enabled_strategy_configs()
    assert json.loads(json.dumps(exported)) == exported


def test_the_version_changes_on_create_update_disable_enable_and_delete(writer, create, config):
    last = [strategy_config_version()]

    def changed() -> bool:
        """As a consumer polls: against the version it saw last."""
        version = strategy_config_version()
        new = version != last[0]
        last[0] = version
        return new

    created = create()
    assert changed()
    document = copy.deepcopy(created)
    document["labels"] = ["changed"]
    writer.put(f"{BASE}{created['id']}/", document, format="json")
    assert changed()
    writer.post(f"{BASE}{created['id']}/disable/")
    assert changed()
    writer.post(f"{BASE}{created['id']}/enable/")
    assert changed()
    other = create(name="other")
    assert changed()
    writer.delete(f"{BASE}{other['id']}/")
    assert changed()
    writer.delete(f"{BASE}{created['id']}/")
    assert changed()


def test_the_version_is_unchanged_when_nothing_changed(writer, create):
    created = create()
    before = strategy_config_version()
    writer.get(BASE)
    writer.post(f"{BASE}{created['id']}/enable/")  # already enabled
    assert strategy_config_version() == before


def test_deleting_one_strategy_and_creating_another_still_changes_the_version(writer, create):
    first = create()
    before = strategy_config_version()
    Strategy.objects.filter(pk=first["id"]).delete()
    create(name="replacement")
    assert strategy_config_version() != before
