"""What consumers load: enabled strategies in the API shape, and cheap versions to poll for changes."""
from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Sum

from bkmonitor.models import Strategy
from bkmonitor.strategies.notify import read_signal_version
from bkmonitor.strategies.shape import strategy_to_dict, with_relations


def enabled_strategy_configs() -> list[dict[str, Any]]:
    """Every enabled strategy exactly as GET /api/v1/strategies/<id>/ returns it (5 queries in all)."""
    return [strategy_to_dict(s) for s in with_relations(Strategy.objects.filter(is_enabled=True))]


def strategy_config_version() -> str:
    """Changes whenever any strategy is created, changed, enabled, disabled or deleted (one query).

    Each write bumps a strategy's version, a delete lowers the count and a create raises the max id,
    so no sequence of writes between two polls leaves all four unchanged.
    """
    agg = Strategy.objects.aggregate(count=Count("id"), max_id=Max("id"), versions=Sum("version"),
                                     updated=Max("update_time"))
    updated = agg["updated"].isoformat() if agg["updated"] else "-"
    return f"{agg['count']}:{agg['max_id'] or 0}:{agg['versions'] or 0}:{updated}"


def current_signal_version() -> int:
    """The Redis change counter (bkm:strategy:version); 0 if absent or Redis is unreachable."""
    return read_signal_version()
