"""Deleting a result table or storage that enabled strategies read: a 409 naming them, or forced and logged."""
from __future__ import annotations

import copy
import logging

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from bkmonitor.models import Strategy
from bkmonitor.strategies.notify import VERSION_KEY
from metadata.models import ClusterInfo, KafkaStorage, ResultTable
from tests.strategies.conftest import BASE, CONFIG, TABLE

META = "/api/v1/metadata"


@pytest.fixture
def root(db) -> APIClient:
    client = APIClient()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def tables(db) -> tuple[ResultTable, KafkaStorage]:
    cluster = ClusterInfo.objects.create(cluster_name="guard-offline", domain_name="127.0.0.1", port=1)
    storage = KafkaStorage.objects.create(table_id=TABLE, storage_cluster=cluster)
    return ResultTable.objects.create(table_id=TABLE), storage


def make_strategy(client: APIClient, name: str, *, enabled: bool = True) -> dict:
    response = client.post(BASE, {**copy.deepcopy(CONFIG), "name": name, "is_enabled": enabled}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def url(row: ResultTable | KafkaStorage) -> str:
    return f"{META}/{'result-tables' if isinstance(row, ResultTable) else 'kafka-storages'}/{row.pk}/"


@pytest.mark.django_db
@pytest.mark.parametrize("which", [0, 1], ids=["result table", "kafka storage"])
def test_deleting_a_table_enabled_strategies_read_is_a_409_naming_them(root, tables, which):
    first, second = make_strategy(root, "CPU usage high"), make_strategy(root, "CPU busy")
    make_strategy(root, "CPU off", enabled=False)
    row = tables[which]
    response = root.delete(url(row))
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["strategies"] == [
        {"id": first["id"], "name": "CPU usage high", "bk_biz_id": 2, "result_table_ids": [TABLE]},
        {"id": second["id"], "name": "CPU busy", "bk_biz_id": 2, "result_table_ids": [TABLE]}]
    assert "is read by 2 enabled strategies" in body["detail"] and "'CPU usage high'" in body["detail"]
    assert type(row).objects.filter(pk=row.pk).exists()
    assert Strategy.objects.filter(is_enabled=True).count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("which", [0, 1], ids=["result table", "kafka storage"])
def test_a_forced_delete_disables_the_strategies_signals_the_change_and_logs_who(root, tables, which, redis_url,
                                                                                 caplog):
    strategy = make_strategy(root, "CPU usage high")
    version = Strategy.objects.get(pk=strategy["id"]).version
    counter_before = int(redis.Redis.from_url(redis_url).get(VERSION_KEY) or 0)
    row = tables[which]
    with caplog.at_level(logging.WARNING, logger="metadata.api.usage"):
        response = root.delete(f"{url(row)}?force=true")
    assert response.status_code == 204, response.content
    assert not type(row).objects.filter(pk=row.pk).exists()
    disabled = Strategy.objects.get(pk=strategy["id"])
    assert not disabled.is_enabled and disabled.update_user == "root" and disabled.version == version + 1
    assert int(redis.Redis.from_url(redis_url).get(VERSION_KEY)) == counter_before + 1
    assert any("root force-deleted" in r.message and f"#{strategy['id']} 'CPU usage high'" in r.message
               for r in caplog.records)


@pytest.mark.django_db
def test_a_table_only_disabled_strategies_read_deletes_without_force(root, tables):
    make_strategy(root, "CPU off", enabled=False)
    assert root.delete(url(tables[1])).status_code == 204
    assert root.delete(url(tables[0])).status_code == 204


@pytest.mark.django_db
def test_a_table_id_another_tenant_still_provides_deletes_without_force(root, tables):
    make_strategy(root, "CPU usage high")
    ResultTable.objects.create(table_id=TABLE, bk_tenant_id="other")
    assert root.delete(url(tables[0])).status_code == 204


@pytest.mark.django_db
def test_a_storage_is_guarded_when_the_only_other_storage_of_the_table_is_disabled(root, tables):
    make_strategy(root, "CPU usage high")
    KafkaStorage.objects.create(table_id=TABLE, bk_tenant_id="other", storage_cluster=tables[1].storage_cluster,
                                is_enabled=False)
    assert root.delete(url(tables[1])).status_code == 409


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "field"), [("force=maybe", "force"), ("forse=true", "forse")])
def test_a_misspelt_force_is_a_400_and_deletes_nothing(root, tables, query, field):
    make_strategy(root, "CPU usage high")
    response = root.delete(f"{url(tables[0])}?{query}")
    assert response.status_code == 400 and field in response.json()
    assert ResultTable.objects.filter(pk=tables[0].pk).exists()


# admin

@pytest.fixture
def admin(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
    return client


@pytest.mark.django_db
def test_the_admin_delete_page_refuses_a_table_enabled_strategies_read_and_names_them(root, admin, tables):
    strategy = make_strategy(root, "CPU usage high")
    page = f"/admin/metadata/resulttable/{tables[0].pk}/delete/"
    body = admin.get(page).content.decode()
    assert f"enabled strategy #{strategy['id']} &#x27;CPU usage high&#x27; (biz 2), which reads {TABLE}" in body
    admin.post(page, {"post": "yes"})
    assert ResultTable.objects.filter(pk=tables[0].pk).exists()


@pytest.mark.django_db
def test_the_admin_delete_selected_action_refuses_a_storage_enabled_strategies_read(root, admin, tables):
    make_strategy(root, "CPU usage high")
    response = admin.post("/admin/metadata/kafkastorage/", {
        "action": "delete_selected", "_selected_action": [tables[1].pk], "post": "yes"})
    assert "CPU usage high" in response.content.decode()
    assert KafkaStorage.objects.filter(pk=tables[1].pk).exists()


@pytest.mark.django_db
def test_the_admin_force_action_disables_the_strategies_then_deletes(root, admin, tables):
    strategy = make_strategy(root, "CPU usage high")
    response = admin.post("/admin/metadata/kafkastorage/", {
        "action": "delete_disabling_strategies", "_selected_action": [tables[1].pk]}, follow=True)
    assert f"Disabled the strategies that read them: #{strategy['id']}" in response.content.decode()
    assert not KafkaStorage.objects.filter(pk=tables[1].pk).exists()
    assert not Strategy.objects.get(pk=strategy["id"]).is_enabled
