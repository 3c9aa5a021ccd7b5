"""Model rules the database holds even outside the API: versions, unique names, one detect per level."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from bkmonitor.models import Detect, Strategy
from tests.strategies.conftest import BASE

pytestmark = pytest.mark.django_db


def test_every_save_of_a_strategy_adds_one_to_its_version(db):
    strategy = Strategy.objects.create(name="s", bk_biz_id=1)
    assert strategy.version == 1
    strategy.save()
    strategy.save(update_fields=["name"])
    assert strategy.version == 3 and Strategy.objects.get().version == 3


def test_two_stale_copies_saved_one_after_the_other_both_count(db):
    Strategy.objects.create(name="s", bk_biz_id=1)
    first, second = Strategy.objects.get(), Strategy.objects.get()
    first.save()
    second.save()
    assert Strategy.objects.get().version == 3


def test_the_database_refuses_a_second_name_in_the_same_business(db):
    Strategy.objects.create(name="s", bk_biz_id=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Strategy.objects.create(name="s", bk_biz_id=1)
    Strategy.objects.create(name="s", bk_biz_id=2)


def test_the_database_refuses_two_detects_for_one_level(db):
    strategy = Strategy.objects.create(name="s", bk_biz_id=1)
    Detect.objects.create(strategy=strategy, level=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Detect.objects.create(strategy=strategy, level=1)


def test_a_strategy_reads_as_its_name_and_business(create):
    assert str(Strategy.objects.get(pk=create()["id"])) == "CPU usage high (biz 2)"


def test_an_api_response_names_every_part_of_the_design_shape(writer, create):
    body = writer.get(f"{BASE}{create()['id']}/").json()
    assert set(body) == {"id", "name", "bk_biz_id", "is_enabled", "labels", "items", "detects", "notice",
                         "version", "create_time", "update_time"}
    assert set(body["items"][0]) == {"id", "name", "query_configs", "algorithms", "no_data_config"}
    assert set(body["items"][0]["query_configs"][0]) == {
        "data_type_label", "result_table_id", "metric_field", "agg_method", "agg_interval", "agg_dimension",
        "agg_condition", "unit"}
    assert set(body["detects"][0]) == {"level", "connector", "trigger_config", "recovery_config"}
