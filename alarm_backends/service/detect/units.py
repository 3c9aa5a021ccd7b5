"""Metric units and algorithm unit prefixes, normalised per dimension.

Each known unit belongs to one dimension and has a factor to that dimension's
base unit (percent, bytes, seconds). Units outside these tables (counts,
"ops", "") are dimensionless here: values in them are never rescaled.
"""

from __future__ import annotations

PERCENT = "percent"
BYTES = "bytes"
TIME = "time"

_KILO = 1000.0
_KIBI = 1024.0

UNITS: dict[str, tuple[str, float]] = {
    # percent: base is a percentage (0..100)
    "percent": (PERCENT, 1.0),
    "%": (PERCENT, 1.0),
    "percentunit": (PERCENT, 100.0),
    # bytes: SI prefixes are powers of 1000, IEC (Ki, Mi, ...) powers of 1024
    "bytes": (BYTES, 1.0),
    "B": (BYTES, 1.0),
    "k": (BYTES, _KILO),
    "K": (BYTES, _KILO),
    "KB": (BYTES, _KILO),
    "kB": (BYTES, _KILO),
    "M": (BYTES, _KILO**2),
    "MB": (BYTES, _KILO**2),
    "G": (BYTES, _KILO**3),
    "GB": (BYTES, _KILO**3),
    "T": (BYTES, _KILO**4),
    "TB": (BYTES, _KILO**4),
    "Ki": (BYTES, _KIBI),
    "KiB": (BYTES, _KIBI),
    "Mi": (BYTES, _KIBI**2),
    "MiB": (BYTES, _KIBI**2),
    "Gi": (BYTES, _KIBI**3),
    "GiB": (BYTES, _KIBI**3),
    "Ti": (BYTES, _KIBI**4),
    "TiB": (BYTES, _KIBI**4),
    # bk-monitor metric units follow Grafana, where "kbytes" means KiB
    "kbytes": (BYTES, _KIBI),
    "mbytes": (BYTES, _KIBI**2),
    "gbytes": (BYTES, _KIBI**3),
    # time: base is the second
    "ns": (TIME, 1e-9),
    "µs": (TIME, 1e-6),  # U+00B5 micro sign
    "μs": (TIME, 1e-6),  # U+03BC greek mu
    "us": (TIME, 1e-6),
    "ms": (TIME, 1e-3),
    "s": (TIME, 1.0),
    "min": (TIME, 60.0),
    "h": (TIME, 3600.0),
    "d": (TIME, 86400.0),
}


def is_known(unit: str) -> bool:
    return unit in UNITS


def dimension(unit: str) -> str | None:
    """The unit's dimension (percent, bytes, time), or None when unknown."""
    entry = UNITS.get(unit)
    return entry[0] if entry else None


def normalise(value: float, unit: str) -> float:
    """`value` expressed in its dimension's base unit; unknown units leave it as is."""
    entry = UNITS.get(unit)
    return value * entry[1] if entry else value


def conversion_factor(from_unit: str, to_unit: str) -> float | None:
    """Factor f with x[from_unit] * f == x[to_unit].

    An empty `from_unit` means "the same unit as `to_unit`" (factor 1), as does
    an identical unit. None when either unit is unknown or the dimensions differ.
    """
    if not from_unit or from_unit == to_unit:
        return 1.0
    source = UNITS.get(from_unit)
    target = UNITS.get(to_unit)
    if source is None or target is None or source[0] != target[0]:
        return None
    return source[1] / target[1]
