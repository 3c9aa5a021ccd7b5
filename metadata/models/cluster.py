"""Storage clusters: where data lives and how to reach it."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.errors import KafkaStorageError
from alarm_backends.core.kafka.topics import TopicManager
from metadata import crypto
from metadata.choices import ClusterType, SaslMechanism, SecurityProtocol
from metadata.models.base import ChangeLoggedModel
from metadata.validators import validate_extra_hosts, validate_host


class ClusterInfo(ChangeLoggedModel):
    """A storage cluster. Secrets are stored encrypted; use set_password()/set_ssl_key_password()."""

    cluster_id = models.BigAutoField(primary_key=True)
    cluster_name = models.CharField(max_length=128, unique=True)
    cluster_type = models.CharField(max_length=32, choices=ClusterType.choices, default=ClusterType.KAFKA)
    domain_name = models.CharField(max_length=255, validators=[validate_host],
                                   help_text="host name or IP of the first broker / node")
    port = models.PositiveIntegerField(default=9092, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    extra_hosts = models.JSONField(default=list, blank=True, validators=[validate_extra_hosts],
                                   help_text="more bootstrap hosts, 'host' or 'host:port'")
    version = models.CharField(max_length=64, blank=True, default="")
    is_default_cluster = models.BooleanField(default=False)
    description = models.TextField(blank=True, default="", max_length=2000)

    security_protocol = models.CharField(max_length=32, choices=SecurityProtocol.choices,
                                         default=SecurityProtocol.PLAINTEXT)
    sasl_mechanism = models.CharField(max_length=32, choices=SaslMechanism.choices, blank=True, default="")
    username = models.CharField(max_length=128, blank=True, default="")
    password_encrypted = models.TextField(blank=True, default="", editable=False)
    ssl_cafile = models.CharField(max_length=512, blank=True, default="")
    ssl_certfile = models.CharField(max_length=512, blank=True, default="")
    ssl_keyfile = models.CharField(max_length=512, blank=True, default="")
    ssl_key_password_encrypted = models.TextField(blank=True, default="", editable=False)
    ssl_check_hostname = models.BooleanField(default=True)

    broker_count = models.PositiveIntegerField(null=True, blank=True, editable=False,
                                               help_text="brokers seen at the last status check")
    last_status_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_status_error = models.TextField(blank=True, default="", editable=False)

    class Meta:
        ordering = ["cluster_id"]
        verbose_name = "cluster"
        constraints = [
            models.UniqueConstraint(
                fields=["cluster_type"], condition=Q(is_default_cluster=True),
                name="metadata_one_default_cluster_per_type",
                violation_error_message="is_default_cluster: only one default cluster per cluster_type is allowed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster_name} ({self.cluster_type})"

    # secrets: stored encrypted, decrypted only to build a client config
    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    @property
    def has_ssl_key_password(self) -> bool:
        return bool(self.ssl_key_password_encrypted)

    def set_password(self, plaintext: str | None) -> None:
        self.password_encrypted = crypto.encrypt(plaintext) if plaintext else ""

    def set_ssl_key_password(self, plaintext: str | None) -> None:
        self.ssl_key_password_encrypted = crypto.encrypt(plaintext) if plaintext else ""

    def _secret(self, token: str) -> str | None:
        return crypto.decrypt(token) if token else None

    @property
    def hosts(self) -> tuple[str, ...]:
        return (f"{self.domain_name}:{self.port}", *self.extra_hosts)

    def kafka_config(self) -> KafkaClusterConfig:
        """The client config; raises ValueError naming the field when it cannot be built."""
        if self.cluster_type != ClusterType.KAFKA:
            raise ValueError(f"cluster_type: cluster {self.cluster_name!r} is {self.cluster_type}, not kafka")
        return KafkaClusterConfig(
            hosts=self.hosts,
            port=self.port,
            security_protocol=self.security_protocol,
            sasl_mechanism=self.sasl_mechanism or None,
            sasl_username=self.username or None,
            sasl_password=self._secret(self.password_encrypted),
            ssl_cafile=self.ssl_cafile or None,
            ssl_certfile=self.ssl_certfile or None,
            ssl_keyfile=self.ssl_keyfile or None,
            ssl_key_password=self._secret(self.ssl_key_password_encrypted),
            ssl_check_hostname=self.ssl_check_hostname,
        )

    def record_status(self, broker_count: int | None = None, error: str = "") -> None:
        fields: dict[str, object] = {"last_status_at": timezone.now(), "last_status_error": error}
        if broker_count is not None:
            fields["broker_count"] = broker_count
        ClusterInfo.objects.filter(pk=self.pk).update(**fields)
        for name, value in fields.items():
            setattr(self, name, value)

    def check_status(self, timeout: float | None = None) -> dict[str, object]:
        """Reachability and brokers of a Kafka cluster, bounded by timeout; recorded on the row."""
        try:
            config = self.kafka_config()
        except (ValueError, crypto.SecretDecryptionError) as exc:
            return {"reachable": False, "brokers": [], "topic_count": None, "error": str(exc)}
        try:
            described = TopicManager(config, timeout=timeout).describe_cluster()
        except KafkaStorageError as exc:
            self.record_status(error=str(exc))
            return {"reachable": False, "brokers": [], "topic_count": None, "error": str(exc)}
        self.record_status(broker_count=len(described.brokers))
        return {
            "reachable": True,
            "brokers": [{"id": i, "address": a} for i, a in sorted(described.brokers.items())],
            "controller_id": described.controller_id,
            "kafka_cluster_id": described.cluster_id,
            "topic_count": described.topic_count,
            "error": "",
        }

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        sasl = self.security_protocol.startswith("SASL")
        if sasl:
            if not self.sasl_mechanism:
                errors["sasl_mechanism"] = f"sasl_mechanism is required with security_protocol {self.security_protocol}"
            if not self.username:
                errors["username"] = f"username is required with security_protocol {self.security_protocol}"
            if not self.password_encrypted:
                errors["password"] = f"password is required with security_protocol {self.security_protocol}"
        elif self.sasl_mechanism:
            errors["sasl_mechanism"] = (
                f"sasl_mechanism is only used with SASL_PLAINTEXT or SASL_SSL, not {self.security_protocol}"
            )
        if errors:
            raise ValidationError(errors)

    def unique_error_message(self, model_class, unique_check):  # type: ignore[no-untyped-def]
        if tuple(unique_check) == ("cluster_name",):
            return ValidationError(f"cluster_name {self.cluster_name!r} is already used by another cluster",
                                   code="unique")
        return super().unique_error_message(model_class, unique_check)
