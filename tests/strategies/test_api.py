"""The strategy API through HTTP with a real database: CRUD, item identity, enable/disable, permissions."""
from __future__ import annotations

import copy

import pytest
from rest_framework.test import APIClient

from bkmonitor.models import Algorithm, Detect, QueryConfig, Strategy, StrategyItem
from tests.strategies.conftest import BASE, CONFIG, make_user

pytestmark = pytest.mark.django_db

READ_ONLY = {"id", "version", "create_time", "update_time"}


def without_read_only(document: dict) -> dict:
    document = {k: v for k, v in document.items() if k not in READ_ONLY}
    document["items"] = [{k: v for k, v in i.items() if k != "id"} for i in document["items"]]
    return document


def expected_shape() -> dict:
    """The strategy example of docs/ARCHITECTURE.md (Data contracts: strategy) after defaults are filled in."""
    document = copy.deepcopy(CONFIG)
    document["labels"] = []
    document["items"][0]["query_configs"][0]["unit"] = ""
    document["items"][0]["algorithms"][0]["unit_prefix"] = ""
    return document


def test_creating_the_design_example_returns_it_with_ids_version_and_times(writer, config):
    response = writer.post(BASE, config, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert without_read_only(body) == expected_shape()
    assert body["version"] == 1 and body["create_time"] and body["update_time"]
    assert isinstance(body["id"], int) and isinstance(body["items"][0]["id"], int)
    assert Strategy.objects.count() == 1 and QueryConfig.objects.count() == 1 and Detect.objects.count() == 1


def test_retrieve_returns_what_create_returned(writer, create):
    created = create()
    assert writer.get(f"{BASE}{created['id']}/").json() == created


def test_defaults_fill_in_what_a_minimal_document_leaves_out(writer, config):
    del config["notice"], config["items"][0]["no_data_config"], config["detects"][0]["recovery_config"]["status_setter"]
    del config["items"][0]["query_configs"][0]["agg_condition"], config["detects"][0]["connector"]
    body = writer.post(BASE, config, format="json").json()
    assert body["notice"] == {"user_groups": [], "signal": []}
    assert body["items"][0]["no_data_config"] == {"is_enabled": False, "continuous": 5, "level": 2}
    assert body["items"][0]["query_configs"][0]["agg_condition"] == []
    assert body["detects"][0]["connector"] == "and"
    assert body["detects"][0]["recovery_config"]["status_setter"] == "recovery"


def test_the_first_condition_is_stored_without_a_join_and_later_ones_keep_theirs(writer, config):
    conditions = config["items"][0]["query_configs"][0]["agg_condition"]
    conditions[0]["condition"] = "and"
    conditions.append({"key": "device", "method": "reg", "value": ["^eth\\d+$"], "condition": "or"})
    body = writer.post(BASE, config, format="json").json()
    assert body["items"][0]["query_configs"][0]["agg_condition"] == [
        {"key": "bk_target_ip", "method": "eq", "value": ["10.0.0.1"]},
        {"key": "device", "method": "reg", "value": ["^eth\\d+$"], "condition": "or"}]


def test_notice_keeps_keys_it_does_not_know(writer, config):
    config["notice"]["options"] = {"converge": {"count": 1}}
    assert writer.post(BASE, config, format="json").json()["notice"]["options"] == {"converge": {"count": 1}}


def test_an_update_keeps_an_item_by_id_adds_one_without_id_and_deletes_a_missing_one(writer, config):
    two = copy.deepcopy(config)
    two["items"].append({**copy.deepcopy(config["items"][0]), "name": "second"})
    created = writer.post(BASE, two, format="json").json()
    kept_id, dropped_id = created["items"][0]["id"], created["items"][1]["id"]

    document = copy.deepcopy(created)
    document["items"] = [{**created["items"][0], "name": "renamed"},
                         {**copy.deepcopy(config["items"][0]), "name": "third"}]
    document["items"][0]["query_configs"][0]["agg_interval"] = 120
    response = writer.put(f"{BASE}{created['id']}/", document, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()

    assert [i["name"] for i in body["items"]] == ["renamed", "third"]
    assert body["items"][0]["id"] == kept_id and body["items"][1]["id"] not in (kept_id, dropped_id)
    assert body["items"][0]["query_configs"][0]["agg_interval"] == 120
    assert not StrategyItem.objects.filter(pk=dropped_id).exists()
    assert QueryConfig.objects.count() == 2 and Algorithm.objects.count() == 2
    assert body["version"] == created["version"] + 1 and body["update_time"] >= created["update_time"]


def test_an_update_naming_an_item_of_another_strategy_is_refused(writer, create):
    first, second = create(), create(name="other")
    document = copy.deepcopy(first)
    document["items"][0]["id"] = second["items"][0]["id"]
    response = writer.put(f"{BASE}{first['id']}/", document, format="json")
    assert response.status_code == 400 and "items[0].id" in response.json()
    assert writer.get(f"{BASE}{second['id']}/").json() == second


def test_listing_an_item_twice_is_refused(writer, create):
    created = create()
    document = copy.deepcopy(created)
    document["items"].append(copy.deepcopy(created["items"][0]))
    response = writer.put(f"{BASE}{created['id']}/", document, format="json")
    assert response.status_code == 400 and "listed twice" in response.json()["items[1].id"][0]


def test_a_refused_update_changes_nothing(writer, create):
    created = create()
    document = copy.deepcopy(created)
    document["name"] = "changed"
    document["detects"][0]["trigger_config"]["count"] = 0
    assert writer.put(f"{BASE}{created['id']}/", document, format="json").status_code == 400
    assert writer.get(f"{BASE}{created['id']}/").json() == created


def test_a_partial_update_replaces_only_the_keys_given(writer, create):
    created = create()
    response = writer.patch(f"{BASE}{created['id']}/", {"name": "renamed", "labels": ["os", "cpu"]}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["name"] == "renamed" and body["labels"] == ["os", "cpu"]
    assert body["items"] == created["items"] and body["version"] == created["version"] + 1


def test_a_partial_update_of_items_still_validates_each_item_completely(writer, create):
    created = create()
    response = writer.patch(f"{BASE}{created['id']}/", {"items": [{"name": "only a name"}]}, format="json")
    assert response.status_code == 400
    assert {"items[0].query_configs", "items[0].algorithms"} <= set(response.json())


def test_deleting_a_strategy_deletes_its_parts(writer, create):
    created = create()
    assert writer.delete(f"{BASE}{created['id']}/").status_code == 204
    assert writer.get(f"{BASE}{created['id']}/").status_code == 404
    assert not (StrategyItem.objects.exists() or QueryConfig.objects.exists() or Algorithm.objects.exists()
                or Detect.objects.exists())


def test_disable_and_enable_flip_the_flag_and_bump_the_version_only_on_a_change(writer, create):
    created = create()
    disabled = writer.post(f"{BASE}{created['id']}/disable/").json()
    assert disabled["is_enabled"] is False and disabled["version"] == created["version"] + 1
    again = writer.post(f"{BASE}{created['id']}/disable/").json()
    assert again["version"] == disabled["version"]
    enabled = writer.post(f"{BASE}{created['id']}/enable/").json()
    assert enabled["is_enabled"] is True and enabled["version"] == disabled["version"] + 1
    assert enabled["items"] == created["items"]


def test_enable_of_a_missing_strategy_is_a_404(writer, db):
    assert writer.post(f"{BASE}999999/enable/").status_code == 404


class TestListFilters:
    @pytest.fixture
    def strategies(self, create, writer, result_table):
        from metadata.models import KafkaStorage, ResultTable

        ResultTable.objects.create(table_id="system.mem")
        KafkaStorage.objects.create(table_id="system.mem", storage_cluster=KafkaStorage.objects.first().storage_cluster)
        cpu = create(name="CPU usage high", labels=["os", "cpu"])
        mem_config = copy.deepcopy(CONFIG)
        query = mem_config["items"][0]["query_configs"][0]
        query.update(result_table_id="system.mem", metric_field="pct_used")
        mem = create(name="Memory full", bk_biz_id=3, labels=["os"], items=mem_config["items"])
        off = create(name="cpu idle low", is_enabled=False)
        return cpu, mem, off

    @pytest.mark.parametrize(("query", "expected"), [
        ("", ["CPU usage high", "Memory full", "cpu idle low"]),
        ("bk_biz_id=3", ["Memory full"]),
        ("bk_biz_id__in=2,3", ["CPU usage high", "Memory full", "cpu idle low"]),
        ("is_enabled=false", ["cpu idle low"]),
        ("name=CPU", ["CPU usage high", "cpu idle low"]),
        ("result_table_id=system.mem", ["Memory full"]),
        ("metric_field=usage", ["CPU usage high", "cpu idle low"]),
        ("label=cpu", ["CPU usage high"]),
        ("label=os", ["CPU usage high", "Memory full"]),
        ("label=o", []),
        ("search=memory", ["Memory full"]),
        ("ordering=-name", ["cpu idle low", "Memory full", "CPU usage high"]),
    ])
    def test_the_list_filters_by(self, writer, strategies, query, expected):
        response = writer.get(f"{BASE}?{query}")
        assert response.status_code == 200
        names = [s["name"] for s in response.json()["results"]]
        assert names == expected if query.startswith("ordering") else sorted(names) == sorted(expected)

    def test_a_bad_filter_value_is_a_400(self, writer, strategies):
        assert writer.get(f"{BASE}?bk_biz_id=abc").status_code == 400
        assert writer.get(f"{BASE}?is_enabled=maybe").status_code == 400

    def test_listing_costs_the_same_number_of_queries_for_one_or_many(self, writer, strategies,
                                                                      django_assert_max_num_queries):
        with django_assert_max_num_queries(9):
            assert len(writer.get(BASE).json()["results"]) == 3


# permissions

@pytest.mark.parametrize(("method", "path"), [("get", ""), ("post", ""), ("get", "1/"), ("put", "1/"),
                                              ("patch", "1/"), ("delete", "1/"), ("post", "1/enable/"),
                                              ("post", "1/disable/")])
def test_an_anonymous_client_is_refused_everywhere(db, method, path):
    response = getattr(APIClient(), method)(f"{BASE}{path}", {}, format="json")
    assert response.status_code == 401  # token auth first: DRF answers 401 with a challenge, not 403


def test_a_user_without_model_permissions_can_read_but_not_write(reader, writer, create, config):
    created = create()
    assert reader.get(BASE).status_code == 200
    assert reader.get(f"{BASE}{created['id']}/").status_code == 200
    assert reader.post(BASE, {**config, "name": "x"}, format="json").status_code == 403
    assert reader.put(f"{BASE}{created['id']}/", created, format="json").status_code == 403
    assert reader.patch(f"{BASE}{created['id']}/", {"name": "y"}, format="json").status_code == 403
    assert reader.delete(f"{BASE}{created['id']}/").status_code == 403
    assert reader.post(f"{BASE}{created['id']}/disable/").status_code == 403
    assert writer.get(f"{BASE}{created['id']}/").json() == created


def test_enable_and_disable_need_the_change_permission_not_add(create, db):
    created = create()
    client = APIClient()
    client.force_login(make_user("adder", "add_strategy"))
    assert client.post(f"{BASE}{created['id']}/disable/").status_code == 403
    client.force_login(make_user("changer", "change_strategy"))
    assert client.post(f"{BASE}{created['id']}/disable/").status_code == 200
