"""Kafka bootstrap settings from the environment (BK_MONITOR_KAFKA_*)."""
from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

from alarm_backends.core.kafka.cluster import SASL_MECHANISMS, SECURITY_PROTOCOLS, KafkaClusterConfig
from config.env import env_bool, env_choice, env_list, env_port, env_str

PREFIX = "BK_MONITOR_KAFKA_"


def get_kafka_config(environ: Mapping[str, str] | None = None) -> tuple[list[str], int]:
    """The reference's shape: (host list, port). Empty host list: nothing configured."""
    return env_list(f"{PREFIX}HOST", environ=environ), env_port(f"{PREFIX}PORT", 9092, environ=environ)


def get_kafka_cluster_config(environ: Mapping[str, str] | None = None) -> KafkaClusterConfig | None:
    """The configured cluster, or None when BK_MONITOR_KAFKA_HOST is unset (embedded broker)."""
    hosts, port = get_kafka_config(environ)
    if not hosts:
        return None
    protocol = env_choice(f"{PREFIX}SECURITY_PROTOCOL", "PLAINTEXT", SECURITY_PROTOCOLS, environ=environ)
    mechanism = env_str(f"{PREFIX}SASL_MECHANISM", environ=environ)
    if mechanism is not None and mechanism not in SASL_MECHANISMS:
        raise ImproperlyConfigured(
            f"{PREFIX}SASL_MECHANISM={mechanism!r} is not one of {list(SASL_MECHANISMS)}"
        )
    try:
        return KafkaClusterConfig(
            hosts=tuple(hosts),
            port=port,
            security_protocol=protocol,
            sasl_mechanism=mechanism or ("PLAIN" if protocol.startswith("SASL") else None),
            sasl_username=env_str(f"{PREFIX}SASL_USERNAME", environ=environ),
            sasl_password=env_str(f"{PREFIX}SASL_PASSWORD", environ=environ),
            ssl_cafile=env_str(f"{PREFIX}SSL_CAFILE", environ=environ),
            ssl_certfile=env_str(f"{PREFIX}SSL_CERTFILE", environ=environ),
            ssl_keyfile=env_str(f"{PREFIX}SSL_KEYFILE", environ=environ),
            ssl_key_password=env_str(f"{PREFIX}SSL_KEY_PASSWORD", environ=environ),
            ssl_check_hostname=env_bool(f"{PREFIX}SSL_CHECK_HOSTNAME", True, environ=environ),
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"Kafka settings ({PREFIX}*): {exc}") from None
