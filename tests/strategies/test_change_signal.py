"""After a committed write, the Redis counter that consumers poll goes up, once per change."""
from __future__ import annotations

import copy
import logging

import pytest
import redis

from bkmonitor.models import Algorithm, Strategy
from bkmonitor.strategies.export import current_signal_version
from bkmonitor.strategies.notify import VERSION_KEY
from tests.strategies.conftest import BASE


def counter(redis_url: str) -> int:
    return int(redis.Redis.from_url(redis_url).get(VERSION_KEY) or 0)


@pytest.mark.django_db(transaction=True)
def test_a_committed_create_bumps_the_counter_once(writer, config, redis_url):
    before = counter(redis_url)
    assert writer.post(BASE, config, format="json").status_code == 201
    assert counter(redis_url) == before + 1
    assert current_signal_version() == before + 1


@pytest.mark.django_db(transaction=True)
def test_update_enable_disable_and_delete_each_signal_once(writer, config, redis_url):
    created = writer.post(BASE, config, format="json").json()
    start = counter(redis_url)
    document = copy.deepcopy(created)
    document["items"].append({**copy.deepcopy(config["items"][0]), "name": "second"})
    writer.put(f"{BASE}{created['id']}/", document, format="json")
    writer.post(f"{BASE}{created['id']}/disable/")
    writer.post(f"{BASE}{created['id']}/disable/")  # no change, no signal
    writer.post(f"{BASE}{created['id']}/enable/")
    writer.delete(f"{BASE}{created['id']}/")
    assert counter(redis_url) == start + 4


@pytest.mark.django_db(transaction=True)
def test_a_refused_write_sends_no_signal(writer, config, redis_url):
    before = counter(redis_url)
    config["items"][0]["query_configs"][0]["agg_interval"] = 61
    assert writer.post(BASE, config, format="json").status_code == 400
    assert counter(redis_url) == before


def test_the_signal_waits_for_the_commit(writer, config, redis_url, django_capture_on_commit_callbacks, db):
    before = counter(redis_url)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert writer.post(BASE, config, format="json").status_code == 201
        assert counter(redis_url) == before
    assert len(callbacks) == 1
    callbacks[0]()
    assert counter(redis_url) == before + 1


def test_a_part_changed_outside_the_api_still_bumps_its_strategy_and_signals(create, redis_url,
                                                                            django_capture_on_commit_callbacks):
    strategy = Strategy.objects.get(pk=create()["id"])
    before = counter(redis_url)
    with django_capture_on_commit_callbacks(execute=True):
        algorithm = Algorithm.objects.get(item__strategy=strategy)
        algorithm.config = [[{"method": "gte", "threshold": 95}]]
        algorithm.save()
    strategy.refresh_from_db()
    assert strategy.version == 2 and counter(redis_url) == before + 1


def test_a_redis_outage_does_not_fail_the_write(writer, config, settings, caplog,
                                                django_capture_on_commit_callbacks, db):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with (caplog.at_level(logging.WARNING, logger="bkmonitor.strategies.notify"),
          django_capture_on_commit_callbacks(execute=True)):
        response = writer.post(BASE, config, format="json")
    assert response.status_code == 201
    assert "strategy change signal not sent" in caplog.text
    assert current_signal_version() == 0
