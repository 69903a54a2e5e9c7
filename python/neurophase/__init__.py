"""neurophase: a neurone's activation function as the mean-field magnetisation of
an Ising lattice of membrane ion channels, with a fast C++ lattice engine.

The public API lives here; the compiled ``_core`` is private.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

# Threads that wait at a barrier or for the next parallel region spin for a short
# while (3000 pause steps of libgomp: tens of microseconds) and then sleep:
# back-to-back calls (activation functions on large arrays, the colours of a
# sweep) find their team awake instead of paying a wake-up per call (with threads
# that sleep at once, 2 threads ran no faster than 1 on 10^6 float32 elements),
# and an idle team does not burn a core that another process needs. Set before
# the OpenMP runtime loads; a value chosen by the user (or OMP_WAIT_POLICY) wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "3000")

from . import activations, exact, scaling, statistics, sweeps
from ._info import __version__, build_info
from .lattice import Lattice
from .simulation import (
    ALGORITHMS,
    MSC_SIZES,
    MetropolisHighTemperatureWarning,
    NeurophaseWarning,
    Run,
    RunInterrupted,
    Simulation,
    WolffSweepWarning,
    simulate,
)
from .statistics import Estimate, Summary, summarise

# A library stays silent unless the application configures logging.
logging.getLogger(__name__).addHandler(logging.NullHandler())

# Imported on first use: most pull in matplotlib or scikit-learn, slow to load.
_LAZY_MODULES = ("bench", "meanfield", "meanfield_figures", "perceptron", "quench")


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ALGORITHMS",
    "MSC_SIZES",
    "Estimate",
    "Lattice",
    "MetropolisHighTemperatureWarning",
    "NeurophaseWarning",
    "Run",
    "RunInterrupted",
    "Simulation",
    "Summary",
    "WolffSweepWarning",
    "__version__",
    "activations",
    "bench",
    "build_info",
    "exact",
    "meanfield",
    "meanfield_figures",
    "perceptron",
    "quench",
    "scaling",
    "simulate",
    "statistics",
    "summarise",
    "sweeps",
]
