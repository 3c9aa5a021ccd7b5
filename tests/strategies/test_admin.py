"""The strategy admin: edited as the API's JSON, validated by the same rules, with enable/disable actions."""
from __future__ import annotations

import copy
import html
import json

import pytest
from django.contrib.auth.models import User
from django.test import Client

from bkmonitor.models import Strategy

pytestmark = pytest.mark.django_db
ADMIN = "/admin/bkmonitor/strategy/"


@pytest.fixture
def admin_client_(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw"))
    return client


def test_the_list_shows_name_business_items_levels_and_version(admin_client_, create):
    create()
    body = admin_client_.get(ADMIN).content.decode()
    assert "CPU usage high" in body and "fatal" in body and "Enable selected strategies" in body


def test_the_list_searches_and_filters(admin_client_, create):
    create()
    create(name="Memory full", bk_biz_id=3)
    assert "CPU usage high" not in admin_client_.get(f"{ADMIN}?q=memory").content.decode()
    assert "CPU usage high" not in admin_client_.get(f"{ADMIN}?bk_biz_id__exact=3").content.decode()


def test_adding_a_strategy_as_json_creates_it_with_the_api_rules(admin_client_, config):
    response = admin_client_.post(f"{ADMIN}add/", {"config": json.dumps(config)})
    assert response.status_code == 302, response.content.decode()[:3000]
    strategy = Strategy.objects.get()
    assert strategy.creator == "root" and strategy.items.get().query_configs.get().metric_field == "usage"


def test_an_invalid_document_is_shown_with_the_field_path_and_nothing_is_saved(admin_client_, config):
    config["items"][0]["query_configs"][0]["agg_interval"] = 61
    response = admin_client_.post(f"{ADMIN}add/", {"config": json.dumps(config)})
    assert response.status_code == 200
    assert "items[0].query_configs[0].agg_interval: must be a positive multiple" in html.unescape(
        response.content.decode())
    assert not Strategy.objects.exists()


def test_editing_in_the_admin_keeps_items_and_bumps_the_version(admin_client_, create):
    created = create()
    page = admin_client_.get(f"{ADMIN}{created['id']}/change/").content.decode()
    assert "cpu usage" in page and "summary" in page
    document = copy.deepcopy(created)
    for key in ("id", "version", "create_time", "update_time"):
        del document[key]
    document["name"] = "renamed"
    response = admin_client_.post(f"{ADMIN}{created['id']}/change/", {"config": json.dumps(document)})
    assert response.status_code == 302, response.content.decode()[:3000]
    strategy = Strategy.objects.get()
    assert strategy.name == "renamed" and strategy.version == 2
    assert list(strategy.items.values_list("pk", flat=True)) == [created["items"][0]["id"]]


def test_the_disable_and_enable_actions_change_only_what_differs(admin_client_, create):
    first, second = create(), create(name="second")
    ids = [first["id"], second["id"]]
    admin_client_.post(ADMIN, {"action": "disable_strategies", "_selected_action": ids})
    assert not Strategy.objects.filter(is_enabled=True).exists()
    response = admin_client_.post(ADMIN, {"action": "enable_strategies", "_selected_action": [first["id"]]},
                                  follow=True)
    assert "1 strategy enabled" in response.content.decode()
    assert list(Strategy.objects.filter(is_enabled=True).values_list("pk", flat=True)) == [first["id"]]
    assert Strategy.objects.get(pk=first["id"]).version == 3


def test_deleting_in_the_admin_removes_the_strategy(admin_client_, create):
    created = create()
    response = admin_client_.post(f"{ADMIN}{created['id']}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Strategy.objects.exists()
