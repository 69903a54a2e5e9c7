"""Shared helpers and fixtures of the Monte Carlo tests.

Tolerance policy (one for every statistical test, DESIGN.md section 3)
-----------------------------------------------------------------------
A Monte Carlo estimate ``value +- error`` agrees with an exact number ``x`` when
``|value - x| <= 4 * error``.  The error is autocorrelation-aware: the summary of
a run (``Run.summary()``) gives it for the standard quantities (windowed
integrated autocorrelation time for means, blocked jackknife for nonlinear
ones), and :func:`mean_estimate` gives it for any other per-sweep series through
``neurophase.statistics.integrated_autocorrelation_time``.  Such an error is only
trustworthy when the run is much longer than the autocorrelation time, so every
check also requires ``n_samples >= MIN_SAMPLES_PER_TAU * tau_int`` of the series
involved (400: the summary's jackknife then gets at least 20 blocks of 20
tau_int).  Every run uses the fixed seed :data:`SEED`; a seed is never changed
to make a test pass.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping

import numpy as np
import numpy.typing as npt
import pytest

import neurophase as npx
from neurophase import exact
from neurophase.statistics import Estimate, Summary, integrated_autocorrelation_time

#: The one seed of every Monte Carlo run in the tests.
SEED = 12345

#: Allowed deviation from an exact value, in units of the statistical error.
Z_TOLERANCE = 4.0

#: Minimum run length in units of the integrated autocorrelation time.
MIN_SAMPLES_PER_TAU = 400.0

ALGORITHMS = ("metropolis", "heat-bath", "wolff", "swendsen-wang")
LOCAL_ALGORITHMS = ("metropolis", "heat-bath")

# Summary fields whose error comes from a jackknife, with the means they are built
# from: the run-length check uses the autocorrelation times of those means.
_DERIVED_FROM = {
    "binder": ("magnetisation2", "magnetisation4"),
    "susceptibility_abs": ("abs_magnetisation", "magnetisation2"),
    "susceptibility_connected": ("magnetisation", "magnetisation2"),
    "specific_heat": ("energy",),
}

# Summary field -> field of neurophase.exact.ExactAverages.
SUMMARY_TO_EXACT = {
    "energy": "energy",
    "magnetisation": "magnetisation",
    "abs_magnetisation": "abs_magnetisation",
    "magnetisation2": "magnetisation2",
    "magnetisation4": "magnetisation4",
    "binder": "binder",
    "specific_heat": "specific_heat",
    "susceptibility_abs": "susceptibility_abs",
    "susceptibility_connected": "susceptibility_connected",
    "staggered_abs_magnetisation": "staggered_magnetisation_abs",
}


def sampling_algorithm_params() -> list[object]:
    """``pytest.param`` per algorithm (id = its name) for statistical tests."""
    return [pytest.param(a, id=a) for a in ALGORITHMS]


# ---------------------------------------------------------------------------
# The tolerance policy
# ---------------------------------------------------------------------------


def deviation(estimate: Estimate, exact_value: float, label: str) -> str | None:
    """Why ``estimate`` disagrees with ``exact_value`` under the policy, or None."""
    value, error = estimate.value, estimate.error
    if not (math.isfinite(value) and math.isfinite(error) and error > 0.0):
        return f"{label}: estimate {value} +- {error} has no usable error bar"
    z = (value - exact_value) / error
    if abs(z) > Z_TOLERANCE:
        return (
            f"{label}: {value:.6g} +- {error:.2g} vs exact {exact_value:.6g} "
            f"(z = {z:+.1f})"
        )
    return None


def assert_agrees(estimate: Estimate, exact_value: float, label: str) -> None:
    """Assert ``|value - exact| <= Z_TOLERANCE * error`` (a positive error)."""
    problem = deviation(estimate, exact_value, label)
    assert problem is None, problem


def _check_run_length(n: int, tau: float, label: str) -> str | None:
    if math.isfinite(tau) and n < MIN_SAMPLES_PER_TAU * tau:
        return (
            f"{label}: run of {n} sweeps is shorter than {MIN_SAMPLES_PER_TAU:.0f} "
            f"tau_int = {tau:.3g}; its error bar is not trustworthy"
        )
    return None


def assert_summary_agrees(
    summary: Summary, expected: Mapping[str, float], context: str = ""
) -> None:
    """Check every ``summary.<name>`` against ``expected[name]``; report all at once.

    Also checks that the run is at least ``MIN_SAMPLES_PER_TAU`` autocorrelation
    times of each series compared (for jackknifed quantities: of their inputs).
    """
    problems = []
    for name, exact_value in expected.items():
        estimate = getattr(summary, name)
        assert estimate is not None, f"{context}: summary has no {name}"
        for source in _DERIVED_FROM.get(name, (name,)):
            tau = getattr(summary, source).tau_int
            problems.append(_check_run_length(summary.n_samples, tau, source))
        problems.append(deviation(estimate, exact_value, name))
    failures = [p for p in problems if p is not None]
    assert not failures, f"{context}\n" + "\n".join(failures)


def mean_estimate(series: npt.ArrayLike) -> Estimate:
    """Mean of a per-sweep series with its autocorrelation-aware error.

    ``error = sqrt(2 tau_int var / n)``, the same rule the summary uses; also
    checks that the series is at least ``MIN_SAMPLES_PER_TAU`` tau_int long.
    """
    x = np.asarray(series, dtype=np.float64)
    tau, _ = integrated_autocorrelation_time(x)
    problem = _check_run_length(x.size, tau, "series")
    assert problem is None, problem
    error = math.sqrt(2.0 * max(tau, 0.0) * float(np.var(x, ddof=1)) / x.size)
    return Estimate(float(x.mean()), error, tau)


def exact_expectations(averages: object, names: tuple[str, ...]) -> dict[str, float]:
    """``{summary name: exact value}`` from a ``neurophase.exact`` result."""
    return {name: float(getattr(averages, SUMMARY_TO_EXACT[name])) for name in names}


# ---------------------------------------------------------------------------
# Observables recomputed in NumPy (independent of the engine)
# ---------------------------------------------------------------------------


def staggered_signs(shape: tuple[int, ...]) -> npt.NDArray[np.float64]:
    """``(-1)^(x_1 + ... + x_d)`` of every site, in C order."""
    parity = np.indices(shape).sum(axis=0) % 2
    return np.where(parity == 0, 1.0, -1.0).reshape(-1)


def observables_from_spins(
    spins: npt.ArrayLike,
    lattice: npx.Lattice,
    coupling: float,
    field: float | npt.ArrayLike,
) -> tuple[float, float, float | None]:
    """(m, e, m_s) per spin of one configuration, from the bond list in NumPy.

    ``field`` is the total field: a number or one value per site.  On the
    complete graph ``e = -(J/N) sum_{i<j} s_i s_j - sum_i h_i s_i`` over N and
    ``m_s`` is None.
    """
    s = np.asarray(spins, dtype=np.float64).reshape(-1)
    n = s.size
    h = np.broadcast_to(np.asarray(field, dtype=np.float64).reshape(-1), s.shape)
    field_energy = -float(np.dot(h, s))
    if lattice.is_complete:
        total = float(s.sum())
        bond_energy = -(coupling / n) * 0.5 * (total * total - n)
        return total / n, (bond_energy + field_energy) / n, None
    bonds = exact.bond_list(lattice.shape, lattice.boundary)
    bond_energy = -coupling * float(np.dot(s[bonds[:, 0]], s[bonds[:, 1]]))
    m_s = float(np.dot(staggered_signs(lattice.shape), s)) / n
    return float(s.mean()), (bond_energy + field_energy) / n, m_s


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture
def busy_core() -> Iterator[subprocess.Popen[bytes]]:
    """Another process spinning on one core for the duration of the test."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)  # let it start spinning before the measurement
        assert proc.poll() is None, "the load process died"
        yield proc
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------
# The `huge` marker: tests needing several GB and minutes run only when asked
# ---------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-huge",
        action="store_true",
        default=False,
        help="also run tests marked huge (a 16384 x 16384 lattice)",
    )


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if config.getoption("--run-huge"):
        return
    skip = pytest.mark.skip(reason="huge: needs --run-huge (268 M spins, ~0.6 GB)")
    for item in items:
        if "huge" in item.keywords:
            item.add_marker(skip)
