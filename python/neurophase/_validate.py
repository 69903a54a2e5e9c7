"""Argument checks shared by the public API: each error names the parameter."""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np
import numpy.typing as npt

SEED_MAX = 2**64 - 1

# The engine counts sweeps in unsigned 64-bit integers (the sweep index keys the
# random streams); a cap well below 2**64 leaves room for the sweeps already done.
SWEEPS_MAX = 2**62


def positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an int >= ``minimum`` or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v}")
    return v


def sweeps(name: str, value: Any, *, minimum: int = 0) -> int:
    """Return a sweep count in [``minimum``, :data:`SWEEPS_MAX`] or raise."""
    v = positive_int(name, value, minimum=minimum)
    if v > SWEEPS_MAX:
        raise ValueError(
            f"{name} must be an integer in [{minimum}, 2**62], got {v} (the engine "
            "counts sweeps in 64-bit integers)"
        )
    return v


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine, or None where unknown."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # not on a POSIX system
        return None


def fits_in_memory(what: str, nbytes: int) -> None:
    """Raise ValueError naming ``what`` if ``nbytes`` exceed the physical memory.

    ``what`` says which parameter asks for the memory, e.g. "sweeps = 10**12
    (16 bytes per sweep)".
    """
    limit = physical_memory()
    if limit is not None and nbytes > limit:
        raise ValueError(
            f"{what} needs {_bytes(nbytes)}, more than the {_bytes(limit)} of "
            "physical memory of this machine"
        )


def _bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "bytes" else f"{int(n)} bytes"
        n /= 1024
    raise AssertionError  # pragma: no cover


def finite_float(name: str, value: Any, *, positive: bool = False) -> float:
    """Return ``value`` as a finite float (and > 0 if ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or (positive and v <= 0.0):
        allowed = "finite and > 0" if positive else "finite"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return v


def seed(value: Any) -> int:
    """Return a seed in [0, 2**64 - 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"seed must be an integer in [0, 2**64 - 1], got {value!r}")
    v = int(value)
    if not 0 <= v <= SEED_MAX:
        raise ValueError(f"seed must be an integer in [0, 2**64 - 1], got {v}")
    return v


def threads(value: Any) -> int:
    """Return the thread count; ``None`` means every core this process may use."""
    if value is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
    return positive_int("threads", value)


def float_array(name: str, value: Any) -> npt.NDArray[np.float64]:
    """Return a C-contiguous float64 copy of ``value``; every entry finite."""
    raw = np.asarray(value)
    if raw.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must be a real number or an array of real numbers, got "
            f"{raw.dtype} data"
        )
    arr = np.array(raw, dtype=np.float64, order="C")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite everywhere")
    return arr
