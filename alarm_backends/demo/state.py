"""What the demo has already done, read from and written to the database.

The embedded broker keeps its topics in memory, so after a restart only the database remembers
that the series was replayed. Replaying it again changes nothing downstream (the same points give
the same event ids, which the alert builder stores once), so a second run skips it by default
rather than spend a minute re-sending what is already applied."""
from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from alarm_backends.demo.models import DemoReplay
from bkmonitor.models import Alert, Strategy


def applied_replay(topic: str) -> DemoReplay | None:
    """The latest replay into `topic` that delivered every point, if any."""
    return DemoReplay.objects.filter(topic=topic, finished_at__isnull=False).order_by("-finished_at", "-id").first()


def start_replay(topic: str, total: int) -> DemoReplay:
    return DemoReplay.objects.create(topic=topic, total=total)


def end_replay(replay: DemoReplay, sent: int) -> DemoReplay:
    """Records how far the replay got; it counts as applied only when every point was delivered."""
    if not 0 <= sent <= replay.total:
        raise ValueError(f"sent must be between 0 and {replay.total}, got {sent}")
    replay.sent = sent
    replay.finished_at = timezone.now() if sent == replay.total else None
    replay.save(update_fields=["sent", "finished_at"])
    return replay


def alert_count(strategies: Iterable[Strategy]) -> int:
    return Alert.objects.filter(strategy_id__in=[s.pk for s in strategies]).count()
