import pytest
from django.core.exceptions import ImproperlyConfigured

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from config.env import env_bool, env_int, env_list, env_port
from config.tools.kafka import get_kafka_cluster_config, get_kafka_config


def test_a_malformed_port_is_refused_naming_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="BK_MONITOR_KAFKA_PORT='90x2' is not an integer"):
        env_port("BK_MONITOR_KAFKA_PORT", 9092, environ={"BK_MONITOR_KAFKA_PORT": "90x2"})
    with pytest.raises(ImproperlyConfigured, match="above the maximum 65535"):
        env_port("P", 1, environ={"P": "70000"})


def test_a_malformed_boolean_is_refused_instead_of_read_as_false() -> None:
    with pytest.raises(ImproperlyConfigured, match="DJANGO_DEBUG='maybe' is not a boolean"):
        env_bool("DJANGO_DEBUG", False, environ={"DJANGO_DEBUG": "maybe"})
    assert env_bool("X", False, environ={"X": "Yes"}) is True
    assert env_bool("X", True, environ={"X": "off"}) is False
    assert env_bool("X", True, environ={}) is True


def test_numbers_and_lists_are_parsed_strictly() -> None:
    assert env_int("N", 5, environ={"N": " 7 "}) == 7
    with pytest.raises(ImproperlyConfigured, match="below the minimum 1"):
        env_int("N", 5, minimum=1, environ={"N": "0"})
    assert env_list("L", environ={"L": "a, b,,c"}) == ["a", "b", "c"]


def test_kafka_settings_give_every_host_and_the_port() -> None:
    env = {"BK_MONITOR_KAFKA_HOST": "k1,k2:9093", "BK_MONITOR_KAFKA_PORT": "9192"}
    assert get_kafka_config(env) == (["k1", "k2:9093"], 9192)
    cluster = get_kafka_cluster_config(env)
    assert cluster is not None
    assert cluster.bootstrap_servers == "k1:9192,k2:9093"
    assert cluster.client_config() == {"bootstrap.servers": "k1:9192,k2:9093", "security.protocol": "PLAINTEXT"}


def test_no_kafka_host_means_the_embedded_broker() -> None:
    assert get_kafka_cluster_config({}) is None


def test_sasl_and_ssl_settings_pass_through_to_the_client_and_the_password_stays_out_of_repr() -> None:
    env = {
        "BK_MONITOR_KAFKA_HOST": "kafka.example", "BK_MONITOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "BK_MONITOR_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "BK_MONITOR_KAFKA_SASL_USERNAME": "alarm",
        "BK_MONITOR_KAFKA_SASL_PASSWORD": "s3cret", "BK_MONITOR_KAFKA_SSL_CAFILE": "/etc/ca.pem",
        "BK_MONITOR_KAFKA_SSL_CHECK_HOSTNAME": "false",
    }
    cluster = get_kafka_cluster_config(env)
    assert cluster is not None
    conf = cluster.client_config()
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl.username"] == "alarm" and conf["sasl.password"] == "s3cret"
    assert conf["ssl.ca.location"] == "/etc/ca.pem"
    assert conf["ssl.endpoint.identification.algorithm"] == "none"
    assert "s3cret" not in repr(cluster)


@pytest.mark.parametrize("env, message", [
    ({"BK_MONITOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "sasl_username and sasl_password are required"),
    ({"BK_MONITOR_KAFKA_SECURITY_PROTOCOL": "TLS"}, "is not one of"),
    ({"BK_MONITOR_KAFKA_SASL_MECHANISM": "GSSAPI"}, "BK_MONITOR_KAFKA_SASL_MECHANISM='GSSAPI' is not one of"),
])
def test_inconsistent_security_settings_fail_loudly(env: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        get_kafka_cluster_config({"BK_MONITOR_KAFKA_HOST": "k", **env})


def test_a_cluster_needs_a_host_and_a_real_port() -> None:
    with pytest.raises(ValueError, match="at least one Kafka host"):
        KafkaClusterConfig(hosts=())
    with pytest.raises(ValueError, match="not a TCP port"):
        KafkaClusterConfig(hosts=("k",), port=0)
