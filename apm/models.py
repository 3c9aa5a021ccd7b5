"""APM applications and the trace/metric data sources they own."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from metadata.models import DataSource
from metadata.validators import validate_app_name


class ApmApplication(models.Model):
    app_name = models.CharField(max_length=50, validators=[validate_app_name])
    bk_biz_id = models.IntegerField()
    description = models.TextField(blank=True, default="", max_length=2000)
    is_enabled = models.BooleanField(default=True)
    creator = models.CharField(max_length=64, blank=True, default="")
    create_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["bk_biz_id", "app_name"]
        verbose_name = "APM application"
        constraints = [models.UniqueConstraint(fields=["bk_biz_id", "app_name"], name="apm_app_unique_per_biz")]

    def __str__(self) -> str:
        return f"{self.bk_biz_id}/{self.app_name}"

    def unique_error_message(self, model_class, unique_check):  # type: ignore[no-untyped-def]
        if set(unique_check) == {"bk_biz_id", "app_name"}:
            return ValidationError(f"app_name {self.app_name!r} already exists in bk_biz_id {self.bk_biz_id}",
                                   code="unique")
        return super().unique_error_message(model_class, unique_check)


class ApmDataSource(models.Model):
    """One of an application's data sources. It outlives the application unless deletion is asked for."""

    class Kind(models.TextChoices):
        TRACE = "trace", "trace"
        METRIC = "metric", "metric"

    application = models.ForeignKey(ApmApplication, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="data_sources")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    data_source = models.OneToOneField(DataSource, on_delete=models.PROTECT, related_name="apm")
    result_table_id = models.CharField(max_length=128)
    # Kept so that a data source whose application was deleted still says where it came from.
    app_name = models.CharField(max_length=50)
    bk_biz_id = models.IntegerField()

    class Meta:
        ordering = ["bk_biz_id", "app_name", "kind"]
        verbose_name = "APM data source"
        constraints = [models.UniqueConstraint(fields=["application", "kind"], name="apm_one_source_per_kind")]

    def __str__(self) -> str:
        return f"{self.bk_biz_id}/{self.app_name} {self.kind}"

    @property
    def topic(self) -> str:
        return self.data_source.kafka_topic.topic

    @property
    def consumer_group(self) -> str:
        return f"{self.topic}-apm-consumer"

    def consumer_config(self) -> dict[str, object]:
        """What a consumer deploy needs (the reference's flow config): secrets are not included."""
        info = self.data_source.kafka_topic
        cluster = self.data_source.mq_cluster
        return {
            "topic": info.topic,
            "tasks": info.partition,  # one consumer task per partition
            "group_id": self.consumer_group,
            "bootstrap_servers": ",".join(cluster.hosts),
            "security_protocol": cluster.security_protocol,
            "sasl_mechanism": cluster.sasl_mechanism or None,
            "sasl_username": cluster.username or None,
            "sasl_password_set": cluster.has_password,
        }

    def client_config(self) -> dict[str, object]:
        """librdkafka consumer settings, password decrypted only now, for the process that connects."""
        return {**self.data_source.kafka_topic.kafka_cluster_config().client_config(),
                "group.id": self.consumer_group}
