"""Every committed strategy change bumps the version and sends the change signal exactly once.

Writes through the API or the admin save the Strategy row once (version +1, one signal) and run
inside `batch_write()`, which silences the per-row receivers of the child models. A child row
changed on its own (a shell, a data migration) still bumps its strategy and signals.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db.models import F, QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from bkmonitor.models import Algorithm, Detect, QueryConfig, Strategy, StrategyItem
from bkmonitor.strategies.notify import signal_change_on_commit

_in_batch: ContextVar[bool] = ContextVar("bkmonitor_strategy_batch_write", default=False)


@contextmanager
def batch_write() -> Iterator[None]:
    token = _in_batch.set(True)
    try:
        yield
    finally:
        _in_batch.reset(token)


@receiver(post_save, sender=Strategy)
@receiver(post_delete, sender=Strategy)
def strategy_changed(sender: type, instance: Strategy, **kwargs: Any) -> None:
    signal_change_on_commit()


def _strategy_rows(instance: Any) -> QuerySet[Strategy]:
    if isinstance(instance, (StrategyItem, Detect)):
        return Strategy.objects.filter(pk=instance.strategy_id)
    return Strategy.objects.filter(items__pk=instance.item_id)


def _is_cascade(instance: Any, origin: Any) -> bool:
    """Deleted because its parent was: the parent's own receiver reports the change."""
    if origin is None or origin is instance:
        return False
    model = origin.model if isinstance(origin, QuerySet) else type(origin)
    return model is not type(instance)


@receiver(post_save, sender=StrategyItem)
@receiver(post_save, sender=QueryConfig)
@receiver(post_save, sender=Algorithm)
@receiver(post_save, sender=Detect)
@receiver(post_delete, sender=StrategyItem)
@receiver(post_delete, sender=QueryConfig)
@receiver(post_delete, sender=Algorithm)
@receiver(post_delete, sender=Detect)
def part_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    if _in_batch.get() or _is_cascade(instance, kwargs.get("origin")):
        return
    ids = list(_strategy_rows(instance).values_list("pk", flat=True))
    Strategy.objects.filter(pk__in=ids).update(version=F("version") + 1, update_time=timezone.now())
    signal_change_on_commit()
