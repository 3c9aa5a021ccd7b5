from bkmonitor.models.strategy import Algorithm, Detect, QueryConfig, Strategy, StrategyItem

__all__ = ["Algorithm", "Detect", "QueryConfig", "Strategy", "StrategyItem"]

from bkmonitor.models.alert import Alert, AlertLog, AlertStatus, Event, EventType, LogOp  # noqa: E402

__all__ += ["Alert", "AlertLog", "AlertStatus", "Event", "EventType", "LogOp"]
