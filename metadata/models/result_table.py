"""Result tables: the logical tables that strategies query (`db.table`)."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from metadata.choices import SchemaType, StorageType
from metadata.models.base import ChangeLoggedModel
from metadata.models.datasource import DataSource
from metadata.validators import validate_labels, validate_table_id


class ResultTable(ChangeLoggedModel):
    table_id = models.CharField(max_length=128, validators=[validate_table_id])
    bk_tenant_id = models.CharField(max_length=64, default="system")
    table_name_zh = models.CharField(max_length=128, blank=True, default="")
    bk_biz_id = models.IntegerField(default=0, validators=[MinValueValidator(-2_147_483_648),
                                                           MaxValueValidator(2_147_483_647)])
    schema_type = models.CharField(max_length=16, choices=SchemaType.choices, default=SchemaType.FREE)
    default_storage = models.CharField(max_length=32, choices=StorageType.choices, default=StorageType.KAFKA)
    labels = models.JSONField(default=list, blank=True, validators=[validate_labels])
    is_enabled = models.BooleanField(default=True)
    data_sources = models.ManyToManyField(DataSource, related_name="result_tables", blank=True)

    class Meta:
        ordering = ["table_id"]
        verbose_name = "result table"
        constraints = [
            models.UniqueConstraint(fields=["table_id", "bk_tenant_id"], name="metadata_rt_unique_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.table_id

    def unique_error_message(self, model_class, unique_check):  # type: ignore[no-untyped-def]
        if set(unique_check) == {"table_id", "bk_tenant_id"}:
            return ValidationError(
                f"table_id {self.table_id!r} already exists in tenant {self.bk_tenant_id!r}", code="unique"
            )
        return super().unique_error_message(model_class, unique_check)
