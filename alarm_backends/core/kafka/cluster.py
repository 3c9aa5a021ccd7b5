"""Connection settings of one Kafka cluster, turned into librdkafka config."""
from __future__ import annotations

from dataclasses import dataclass, field

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaClusterConfig:
    """Where a cluster is and how to authenticate; secrets never appear in repr."""

    hosts: tuple[str, ...]
    port: int = 9092
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)
    ssl_check_hostname: bool = True

    def __post_init__(self) -> None:
        if not self.hosts:
            raise ValueError("hosts: at least one Kafka host is required")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port: {self.port} is not a TCP port (1-65535)")
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise ValueError(
                f"security_protocol: {self.security_protocol!r} is not one of {list(SECURITY_PROTOCOLS)}"
            )
        if self.security_protocol.startswith("SASL"):
            if self.sasl_mechanism not in SASL_MECHANISMS:
                raise ValueError(
                    f"sasl_mechanism: {self.sasl_mechanism!r} is not one of {list(SASL_MECHANISMS)}"
                )
            if not self.sasl_username or not self.sasl_password:
                raise ValueError("sasl_username and sasl_password are required for SASL")

    @property
    def bootstrap_servers(self) -> str:
        """Every configured host, each with the default port unless it names its own."""
        return ",".join(h if _has_port(h) else f"{h}:{self.port}" for h in self.hosts)

    @property
    def key(self) -> str:
        """Identity of the cluster for per-cluster singletons (no secrets)."""
        return f"{self.security_protocol}://{self.bootstrap_servers}/{self.sasl_username or ''}"

    def client_config(self) -> dict[str, str | int | bool]:
        conf: dict[str, str | int | bool] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL"):
            conf["sasl.mechanism"] = self.sasl_mechanism or "PLAIN"
            conf["sasl.username"] = self.sasl_username or ""
            conf["sasl.password"] = self.sasl_password or ""
        if self.security_protocol.endswith("SSL"):
            if self.ssl_cafile:
                conf["ssl.ca.location"] = self.ssl_cafile
            if self.ssl_certfile:
                conf["ssl.certificate.location"] = self.ssl_certfile
            if self.ssl_keyfile:
                conf["ssl.key.location"] = self.ssl_keyfile
            if self.ssl_key_password:
                conf["ssl.key.password"] = self.ssl_key_password
            conf["ssl.endpoint.identification.algorithm"] = "https" if self.ssl_check_hostname else "none"
        return conf


def _has_port(host: str) -> bool:
    if host.startswith("["):  # [ipv6]:port
        return "]:" in host
    return host.count(":") == 1
