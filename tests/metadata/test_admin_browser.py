"""Headless Chromium against the live admin: login, KafkaStorage list and change pages, the sync action."""
from __future__ import annotations

import os
import tempfile

import pytest
from django.contrib.auth.models import User

from alarm_backends.core.kafka.topics import TopicManager
from metadata.models import ClusterInfo, KafkaStorage
from tests.browser import browser, require_chromium  # noqa: F401  (browser is a fixture)
from tests.metadata.conftest import cluster_row_for

require_chromium()

from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402

pytestmark = [pytest.mark.broker]


def text(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def test_an_operator_logs_in_reads_the_storage_list_and_syncs_a_topic_from_the_admin(
        browser, live_server, transactional_db, kafka_cluster, topic_name):  # noqa: F811 (the imported fixture)
    User.objects.create_superuser("ops", "ops@example.com", "pw-ops-123")
    cluster = cluster_row_for(kafka_cluster, "embedded-admin")
    secret_cluster = ClusterInfo(cluster_name="sasl-admin", domain_name="kafka.example", port=9093,
                                 security_protocol="SASL_SSL", sasl_mechanism="PLAIN", username="svc")
    secret_cluster.set_password("never-shown-pw")
    secret_cluster.save()
    storage = KafkaStorage.objects.create(table_id="admin.smoke", topic=topic_name, partition=2,
                                          storage_cluster=cluster)

    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("ops")
    browser.find_element(By.NAME, "password").send_keys("pw-ops-123")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert "Site administration" in browser.title

    browser.get(f"{live_server.url}/admin/metadata/kafkastorage/")
    row = browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{storage.pk}']") \
        .find_element(By.XPATH, "./ancestor::tr")
    assert "admin.smoke" in row.text and topic_name in row.text and "30 min" in row.text
    assert "not checked yet" in row.text and "embedded-admin" in row.text

    browser.get(f"{live_server.url}/admin/metadata/kafkastorage/{storage.pk}/change/")
    assert browser.find_element(By.NAME, "topic").get_attribute("value") == topic_name
    assert browser.find_element(By.NAME, "partition").get_attribute("value") == "2"
    assert "Sync status" in text(browser)

    browser.get(f"{live_server.url}/admin/metadata/clusterinfo/{secret_cluster.pk}/change/")
    assert "******" in text(browser)
    assert "never-shown-pw" not in browser.page_source
    assert browser.find_element(By.NAME, "password").get_attribute("value") == ""

    browser.get(f"{live_server.url}/admin/metadata/kafkastorage/")
    browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{storage.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("sync_to_cluster")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()

    messages = browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    assert f"Kafka storage admin.smoke: {topic_name}: in_sync - created topic with 2 partition(s)" in messages
    badge = browser.find_element(By.CSS_SELECTOR, ".sync-status")
    assert badge.get_attribute("data-status") == "in_sync" and badge.text == "in sync"
    assert TopicManager(kafka_cluster).describe_topic(topic_name).partition_count == 2
    browser.save_screenshot(os.path.join(tempfile.gettempdir(), "bkm-admin-kafkastorage.png"))
