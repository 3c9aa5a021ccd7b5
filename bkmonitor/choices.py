"""Choice sets shared by strategy models, serializers, filters and the admin."""
from __future__ import annotations

from django.db import models


class Level(models.IntegerChoices):
    FATAL = 1, "fatal"
    WARNING = 2, "warning"
    REMIND = 3, "remind"


class DataTypeLabel(models.TextChoices):
    TIME_SERIES = "time_series", "time series"
    EVENT = "event", "event"


class DataSourceLabel(models.TextChoices):
    CUSTOM = "custom", "custom (reported events)"


class AggMethod(models.TextChoices):
    AVG = "AVG", "AVG"
    SUM = "SUM", "SUM"
    MAX = "MAX", "MAX"
    MIN = "MIN", "MIN"
    COUNT = "COUNT", "COUNT"
    LAST = "LAST", "LAST"


class ConditionMethod(models.TextChoices):
    EQ = "eq", "eq"
    NEQ = "neq", "neq"
    INCLUDE = "include", "include"
    EXCLUDE = "exclude", "exclude"
    GT = "gt", "gt"
    GTE = "gte", "gte"
    LT = "lt", "lt"
    LTE = "lte", "lte"
    REG = "reg", "reg"
    NREG = "nreg", "nreg"


NUMERIC_CONDITION_METHODS = frozenset({ConditionMethod.GT, ConditionMethod.GTE, ConditionMethod.LT,
                                       ConditionMethod.LTE})
REGEX_CONDITION_METHODS = frozenset({ConditionMethod.REG, ConditionMethod.NREG})


class Connector(models.TextChoices):
    AND = "and", "and"
    OR = "or", "or"


class StatusSetter(models.TextChoices):
    RECOVERY = "recovery", "recovery"
    CLOSE = "close", "close"
    RECOVERY_NODATA = "recovery-nodata", "recovery, no data counts as recovered"
    CLOSE_NODATA = "close-nodata", "close, no data closes"


class NoticeSignal(models.TextChoices):
    ABNORMAL = "abnormal", "abnormal"
    RECOVERED = "recovered", "recovered"
    CLOSED = "closed", "closed"
    NO_DATA = "no_data", "no data"
    ACK = "ack", "ack"
