"""Which enabled strategies read a result table, and the guard that keeps its deletion from orphaning them.

Strategies name tables by `result_table_id` only (no tenant, no foreign key), and the access stage
reads a table's topic from its enabled KafkaStorage. Deleting the last ResultTable row of a table id
leaves its strategies unsavable; deleting the last enabled storage stops their evaluation, with
nothing to tell anyone. So such a delete is refused naming the strategies, or, when forced, first
disables them (through set_enabled: version bump and change signal, so running consumers and the
alert manager react) and logs who did it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Model

from bkmonitor.models import Strategy
from bkmonitor.strategies.write import set_enabled
from metadata.models import KafkaStorage

logger = logging.getLogger(__name__)
MAX_LISTED = 50


@dataclass(frozen=True)
class StrategyRef:
    id: int
    name: str
    bk_biz_id: int
    table_ids: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "bk_biz_id": self.bk_biz_id, "result_table_ids": list(self.table_ids)}

    def __str__(self) -> str:
        return f"#{self.id} {self.name!r} (biz {self.bk_biz_id})"


class TableInUse(Exception):
    """Deleting these rows would leave enabled strategies without their table."""

    def __init__(self, label: str, strategies: list[StrategyRef]) -> None:
        self.label, self.strategies = label, strategies
        shown = ", ".join(str(s) for s in strategies[:MAX_LISTED])
        more = f" and {len(strategies) - MAX_LISTED} more" if len(strategies) > MAX_LISTED else ""
        super().__init__(f"{label} is read by {len(strategies)} enabled strateg{'y' if len(strategies) == 1 else 'ies'}"
                         f": {shown}{more}; disable them first, or delete with force to disable them")


def _orphaned_table_ids(rows: list[Model]) -> set[str]:
    """Table ids that no row outside `rows` keeps available to strategies."""
    model = type(rows[0])
    table_ids = {row.table_id for row in rows}
    others = model.objects.filter(table_id__in=table_ids).exclude(pk__in=[row.pk for row in rows])
    if model is KafkaStorage:
        others = others.filter(is_enabled=True)  # a disabled storage is not read by the access stage
    return table_ids - set(others.values_list("table_id", flat=True))


def strategies_reading(table_ids: Iterable[str]) -> list[StrategyRef]:
    """Enabled strategies whose query configs name any of these table ids, by id."""
    wanted = set(table_ids)
    found: dict[int, tuple[str, int, set[str]]] = {}
    rows = (Strategy.objects.filter(is_enabled=True, items__query_configs__result_table_id__in=wanted)
            .values_list("id", "name", "bk_biz_id", "items__query_configs__result_table_id"))
    for pk, name, biz, table_id in rows:
        found.setdefault(pk, (name, biz, set()))[2].add(table_id)
    return [StrategyRef(pk, name, biz, tuple(sorted(tables))) for pk, (name, biz, tables) in sorted(found.items())]


def strategies_blocking(rows: list[Model]) -> list[StrategyRef]:
    return strategies_reading(_orphaned_table_ids(rows)) if rows else []


def describe(rows: list[Model]) -> str:
    noun = type(rows[0])._meta.verbose_name
    ids = ", ".join(sorted({repr(row.table_id) for row in rows}))
    return f"{noun} {ids}" if len(rows) == 1 else f"{type(rows[0])._meta.verbose_name_plural} {ids}"


def delete_guarded(rows: list[Model], *, user: str, force: bool) -> list[StrategyRef]:
    """Delete `rows` (one model) unless that orphans enabled strategies: then raise TableInUse, or with
    `force` disable those strategies first. One transaction; returns the strategies disabled."""
    if not rows:
        return []
    model = type(rows[0])
    with transaction.atomic():
        # Lock the rows so two deletes of a table's last two rows cannot each see the other as remaining.
        locked = list(model.objects.select_for_update().filter(pk__in=[row.pk for row in rows]).order_by("pk"))
        blocking = strategies_blocking(locked) if locked else []
        if blocking and not force:
            raise TableInUse(describe(locked), blocking)
        for ref in blocking:
            set_enabled(Strategy(pk=ref.id), False, user=user)
        if blocking:
            logger.warning("%s force-deleted %s and disabled the strategies that read it: %s", user or "someone",
                           describe(locked), ", ".join(str(ref) for ref in blocking))
        for row in locked:
            row.delete()
    return blocking

