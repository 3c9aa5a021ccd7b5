"""Cross-row topic rules: one topic per name per cluster, and no '.'/'_' collisions."""
from __future__ import annotations

from django.apps import apps
from django.db.models import Model

from alarm_backends.core.kafka.topics import collision_key


def topic_conflict(cluster_id: int | None, topic: str, instance: Model) -> str | None:
    """A message naming the row whose topic clashes with `topic` on the same cluster, else None."""
    if cluster_id is None or not topic:
        return None
    key = collision_key(topic)
    rows = [
        ("kafka storage", apps.get_model("metadata", "KafkaStorage").objects
         .filter(storage_cluster_id=cluster_id).values_list("pk", "topic", "table_id")),
        ("data source topic", apps.get_model("metadata", "KafkaTopicInfo").objects
         .filter(data_source__mq_cluster_id=cluster_id).values_list("pk", "topic", "data_source__bk_data_id")),
    ]
    for label, queryset in rows:
        owner_model = queryset.model
        for pk, other, owner in queryset:
            if isinstance(instance, owner_model) and pk == instance.pk:
                continue
            if other == topic:
                return f"topic {topic!r} is already used on this cluster by {label} {owner}"
            if collision_key(other) == key:
                return (f"topic {topic!r} collides with topic {other!r} of {label} {owner}: "
                        "Kafka treats '.' and '_' as the same character in topic names")
    return None
