"""The periodic half of flapping: end it for open alerts whose series stayed stable long enough."""
from __future__ import annotations

from typing import cast

from django.db import transaction

from bkmonitor.alerts.lifecycle import Limits, end_flapping_if_stable
from bkmonitor.alerts.store import limits_from_settings, to_log_rows, to_state
from bkmonitor.models import Alert, AlertLog, AlertStatus


def end_stable_flapping(now_event_time: int, limits: Limits | None = None) -> list[int]:
    """Ids of the alerts whose flapping ended; `now_event_time` is the pipeline's event-time clock."""
    limits = limits or limits_from_settings()
    cutoff = now_event_time - limits.flapping_stable
    with transaction.atomic():
        alerts = list(Alert.objects.select_for_update()
                      .filter(status=AlertStatus.ABNORMAL, is_flapping=True, open_time__lte=cutoff).order_by("id"))
        entries = []
        for alert in alerts:
            entry = end_flapping_if_stable(to_state(alert), now_event_time, limits)
            if entry is not None:
                entries.append(entry)
        ids = [cast(int, e.alert.id) for e in entries if e.alert is not None]  # loaded from the database: they have ids
        Alert.objects.filter(id__in=ids).update(is_flapping=False)
        AlertLog.objects.bulk_create(to_log_rows(entries))
    return ids
