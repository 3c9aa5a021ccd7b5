"""A closed window's bucket reduced column-wise: one value per series per aggregation.

The reductions match a point-by-point running aggregate exactly: sums add in
arrival order (np.bincount does), LAST is the value with the greatest time and,
among equal times, the one that arrived last.
"""
from __future__ import annotations

import math
from itertools import chain
from operator import attrgetter, itemgetter
from typing import NamedTuple

import numpy as np

from alarm_backends.service.access.data.windows import Bucket

_metrics_of = attrgetter("metrics")


class Column(NamedTuple):
    """One aggregation's closed window: per series (slot) its value and point count."""
    start: int
    slots: np.ndarray  # int64, each series once, in order of its first point
    values: np.ndarray  # float64
    points: np.ndarray  # int64


class Closing:
    """A bucket prepared once for all the aggregations of its group."""

    def __init__(self, bucket: Bucket, names: tuple[str, ...]) -> None:
        self.size = n = len(bucket.points)
        self.slots = np.array(bucket.slots, dtype=np.int64)
        self.names = {name: i for i, name in enumerate(names)}
        self.matrix = _matrix(bucket, names)
        unique, first, inverse = np.unique(self.slots, return_index=True, return_inverse=True)
        self.single = len(unique) == n  # every series has one point: values are the results
        if not self.single:
            order = np.argsort(first, kind="stable")  # series in order of their first point
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            self.group_of = rank[inverse]  # point -> series position in output order
            self.series = unique[order]
            self.times = np.array([p.time for p in bucket.points], dtype=np.int64)

    def column(self, start: int, metric: str, method: str) -> Column:
        values = self.matrix[:, self.names[metric]]
        valid = ~np.isnan(values)
        everything = bool(valid.all())
        if self.single:
            slots = self.slots if everything else self.slots[valid]
            values = values if everything else values[valid]
            if method == "COUNT":
                values = np.ones(len(slots))
            return Column(start, slots, values, np.ones(len(slots), dtype=np.int64))
        groups = self.group_of if everything else self.group_of[valid]
        values = values if everything else values[valid]
        size = len(self.series)
        counts = np.bincount(groups, minlength=size)
        present = counts > 0
        if method in ("AVG", "SUM"):
            result = np.bincount(groups, weights=values, minlength=size)
            if method == "AVG":
                result = result / np.maximum(counts, 1)
        elif method == "MAX":
            result = np.full(size, -math.inf)
            np.maximum.at(result, groups, values)
        elif method == "MIN":
            result = np.full(size, math.inf)
            np.minimum.at(result, groups, values)
        elif method == "COUNT":
            result = counts.astype(np.float64)
        else:  # LAST
            times = self.times if everything else self.times[valid]
            arrival = np.arange(len(values))
            order = np.lexsort((arrival, times, groups))
            ends = np.flatnonzero(np.append(groups[order][1:] != groups[order][:-1], True))
            result = np.zeros(size)
            result[groups[order][ends]] = values[order][ends]
        if present.all():
            return Column(start, self.series, result, counts)
        return Column(start, self.series[present], result[present], counts[present])


def _matrix(bucket: Bucket, names: tuple[str, ...]) -> np.ndarray:
    """(points x metrics) float64, NaN where a point lacks the metric (values are never NaN:
    the parsers take finite numbers only)."""
    n, width = len(bucket.points), len(names)
    if width > 1:
        try:
            pick = itemgetter(*names)
            rows = chain.from_iterable(map(pick, map(_metrics_of, bucket.points)))
            return np.fromiter(rows, np.float64, n * width).reshape(n, width)
        except KeyError:
            pass
    matrix = np.empty((n, width))
    for i, name in enumerate(names):
        matrix[:, i] = np.fromiter((p.metrics.get(name, math.nan) for p in bucket.points), np.float64, n)
    return matrix
