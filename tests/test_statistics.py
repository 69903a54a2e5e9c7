"""Tests of neurophase.statistics against exactly solvable time series.

Tolerance policy: an estimate with error sigma agrees with an exact value x if
|estimate - x| <= 4 sigma (a false alarm rate of ~6e-5 per check for Gaussian
errors).  Moments of pull distributions over R replicas use the same 4-sigma
rule with their own sampling errors: sd(mean of pulls) = 1/sqrt(R) and
sd(variance of pulls) = sqrt(2/(R - 1)) for unit-normal pulls.  All random
numbers come from numpy.random.default_rng with fixed seeds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.signal import lfilter

from neurophase.statistics import (
    Estimate,
    Summary,
    integrated_autocorrelation_time,
    summarise,
)

Z_MAX = 4.0


def ar1(rng: np.random.Generator, rho: float, shape: tuple[int, ...]) -> np.ndarray:
    """Stationary AR(1) x_t = rho x_{t-1} + eps_t with unit-variance eps.

    The first value is drawn from the stationary law N(0, 1 / (1 - rho^2)), so
    no burn-in is needed; the last axis is time.
    """
    eps = rng.standard_normal(shape)
    eps[..., 0] /= math.sqrt(1.0 - rho * rho)
    return lfilter([1.0], [1.0, -rho], eps, axis=-1)


def free_spin_magnetisation(
    rng: np.random.Generator, n_sites: int, p_up: float, n_samples: int
) -> np.ndarray:
    """Magnetisation per spin of n_sites independent spins with P(s=+1) = p_up."""
    n_up = rng.binomial(n_sites, p_up, size=n_samples)
    return (2.0 * n_up - n_sites) / n_sites


def assert_within(est: Estimate, exact: float, what: str) -> None:
    assert est.error > 0.0, f"{what}: error must be positive, got {est.error}"
    z = (est.value - exact) / est.error
    assert abs(z) <= Z_MAX, f"{what}: {est} vs exact {exact:.6g} (z = {z:.2f})"


# --------------------------------------------------------------------------- #
# integrated_autocorrelation_time
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(("rho", "seed"), [(0.0, 11), (0.5, 12), (0.9, 13)])
def test_tau_int_of_ar1_agrees_with_exact_within_4_errors(rho: float, seed: int):
    x = ar1(np.random.default_rng(seed), rho, (100_000,))
    exact = (1.0 + rho) / (2.0 * (1.0 - rho))

    tau, dtau = integrated_autocorrelation_time(x)

    assert dtau > 0.0
    assert abs(tau - exact) <= Z_MAX * dtau, f"tau = {tau} ± {dtau}, exact {exact}"


def test_tau_int_is_invariant_under_affine_rescaling_of_the_series():
    x = ar1(np.random.default_rng(3), 0.7, (20_000,))
    tau, dtau = integrated_autocorrelation_time(x)
    tau2, dtau2 = integrated_autocorrelation_time(-3.0 * x + 17.0)
    assert tau2 == pytest.approx(tau, rel=1e-9)
    assert dtau2 == pytest.approx(dtau, rel=1e-9)


def test_tau_int_of_constant_series_is_one_half_with_zero_error():
    assert integrated_autocorrelation_time(np.full(1000, 0.3)) == (0.5, 0.0)
    assert integrated_autocorrelation_time([1.0, 1.0]) == (0.5, 0.0)


def test_tau_int_window_that_cannot_close_is_logged_as_warning(caplog):
    ramp = np.arange(200.0)  # a pure drift: rho(t) stays near 1 up to n/2
    with caplog.at_level(logging.WARNING, logger="neurophase.statistics"):
        tau, dtau = integrated_autocorrelation_time(ramp)
    assert math.isfinite(tau) and math.isfinite(dtau)
    assert any("did not close" in r.getMessage() for r in caplog.records)


def test_tau_int_of_series_shorter_than_50_tau_is_logged_as_warning(caplog):
    # A 200-step random walk closes the window at tau ~ 13 (spuriously: its true
    # tau is infinite), which the length check flags.
    walk = np.cumsum(np.random.default_rng(5).standard_normal(200))
    with caplog.at_level(logging.WARNING, logger="neurophase.statistics"):
        tau, _ = integrated_autocorrelation_time(walk)
    assert 200 < 50 * tau
    assert any("tau_int are needed" in r.getMessage() for r in caplog.records)


def test_tau_int_of_long_ar1_series_logs_nothing(caplog):
    x = ar1(np.random.default_rng(6), 0.5, (10_000,))
    with caplog.at_level(logging.DEBUG, logger="neurophase.statistics"):
        integrated_autocorrelation_time(x)
    assert caplog.records == []


@pytest.mark.parametrize(
    ("x", "c"),
    [
        ([1.0], 6.0),
        ([], 6.0),
        ([[1.0, 2.0], [3.0, 4.0]], 6.0),
        ([1.0, math.nan, 2.0], 6.0),
        ([1.0, math.inf, 2.0], 6.0),
        (["a", "b"], 6.0),
        ([1.0 + 1.0j, 2.0], 6.0),
    ],
)
def test_tau_int_rejects_bad_series_naming_x(x, c):
    with pytest.raises(ValueError, match=r"^x must"):
        integrated_autocorrelation_time(x, c=c)


@pytest.mark.parametrize("c", [0.0, -1.0, math.nan, math.inf])
def test_tau_int_rejects_bad_window_constant_naming_c(c):
    with pytest.raises(ValueError, match=r"^c must be finite and > 0"):
        integrated_autocorrelation_time([1.0, 2.0, 3.0], c=c)


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(
    hnp.arrays(
        np.float64,
        st.integers(2, 300),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    )
)
def test_tau_int_of_any_finite_series_is_finite_without_warnings(x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tau, dtau = integrated_autocorrelation_time(x)
    assert math.isfinite(tau)
    assert math.isfinite(dtau) and dtau >= 0.0


# --------------------------------------------------------------------------- #
# Error calibration: pulls over independent replicas
# --------------------------------------------------------------------------- #
PULL_REPLICAS = 200
PULL_LENGTH = 4000
PULL_T = 2.0
PULL_N = 100
RHO_M = 0.8
RHO_E = 0.5
E_OFFSET = -1.5


@pytest.fixture(scope="module")
def pulls() -> dict[str, np.ndarray]:
    """(estimate - exact) / error over independent AR(1) replicas.

    m is AR(1) with rho = 0.8 (tau_int = 4.5) and e = -1.5 + AR(1) with rho = 0.5,
    so <m> = 0, <e> = -1.5, var(m) = 1 / (1 - 0.8^2), var(e) = 1 / (1 - 0.5^2),
    and chi_c = beta N var(m), C = beta^2 N var(e) exactly.
    """
    rng = np.random.default_rng(2024)
    m_all = ar1(rng, RHO_M, (PULL_REPLICAS, PULL_LENGTH))
    e_all = E_OFFSET + ar1(rng, RHO_E, (PULL_REPLICAS, PULL_LENGTH))
    beta = 1.0 / PULL_T
    exact = {
        "magnetisation": 0.0,
        "energy": E_OFFSET,
        "susceptibility_connected": beta * PULL_N / (1.0 - RHO_M**2),
        "specific_heat": beta**2 * PULL_N / (1.0 - RHO_E**2),
    }
    out: dict[str, list[float]] = {name: [] for name in exact}
    for m, e in zip(m_all, e_all, strict=True):
        s = summarise(m, e, temperature=PULL_T, n_sites=PULL_N)
        for name, value in exact.items():
            est = getattr(s, name)
            out[name].append((est.value - value) / est.error)
    return {name: np.asarray(v) for name, v in out.items()}


@pytest.mark.parametrize(
    "name",
    ["magnetisation", "energy", "susceptibility_connected", "specific_heat"],
)
def test_pulls_of_correlated_replicas_have_mean_zero_and_unit_variance(pulls, name):
    # For chi_c and C (positive, error roughly proportional to the value) the
    # pull mean is expected slightly negative, about -(relative error) - (plug-in
    # bias 2 tau/n over relative error) ~ -0.1 here: a known skew, well inside
    # the 4-sigma tolerance of 0.28 and not a miscalibration of the errors.
    p = pulls[name]
    r = p.size
    tol_mean = Z_MAX / math.sqrt(r)
    tol_var = Z_MAX * math.sqrt(2.0 / (r - 1))
    assert abs(p.mean()) <= tol_mean, f"{name}: pull mean {p.mean():.3f}"
    assert abs(p.var(ddof=1) - 1.0) <= tol_var, f"{name}: pull var {p.var(ddof=1):.3f}"


# --------------------------------------------------------------------------- #
# summarise: exactly solvable ensembles
# --------------------------------------------------------------------------- #
def test_binder_and_susceptibilities_of_free_fair_spins_match_exact():
    # Non-interacting spins at zero field (or infinite temperature): m is the
    # mean of N independent fair +-1 spins, so <m^2> = 1/N, <m^4> = 3/N^2 - 2/N^3,
    # U4 = 2/(3N) and beta N <m^2> = beta N var(m) = beta; e = 0 in every sweep.
    n_sites, temperature = 16, 2.0
    beta = 1.0 / temperature
    m = free_spin_magnetisation(np.random.default_rng(7), n_sites, 0.5, 100_000)
    e = np.zeros_like(m)
    k = np.arange(n_sites + 1)
    pmf = np.array([math.comb(n_sites, int(i)) for i in k]) / 2.0**n_sites
    mean_abs_m = float(np.sum(pmf * np.abs(2 * k - n_sites)) / n_sites)

    s = summarise(m, e, temperature=temperature, n_sites=n_sites)

    assert_within(s.binder, 2.0 / (3.0 * n_sites), "binder")
    assert_within(s.susceptibility_second_moment, beta, "chi_2")
    assert_within(s.susceptibility_connected, beta, "chi_c")
    assert_within(
        s.susceptibility_abs, beta * n_sites * (1 / n_sites - mean_abs_m**2), "chi_|m|"
    )
    assert_within(s.magnetisation2, 1.0 / n_sites, "<m^2>")
    assert_within(s.magnetisation4, 3.0 / n_sites**2 - 2.0 / n_sites**3, "<m^4>")
    assert_within(s.abs_magnetisation, mean_abs_m, "<|m|>")
    assert (s.specific_heat.value, s.specific_heat.error) == (0.0, 0.0)
    assert (s.energy.value, s.energy.error) == (0.0, 0.0)


def test_specific_heat_and_connected_susceptibility_of_paramagnet_match_exact():
    # Independent spins in a field h: P(s=+1) = e^{beta h} / (2 cosh beta h),
    # e = -h m, so <m> = tanh(beta h), beta N var(m) = beta / cosh^2(beta h) and
    # C = beta^2 N var(e) = (beta h)^2 / cosh^2(beta h).
    n_sites, temperature, h = 32, 1.5, 0.7
    beta = 1.0 / temperature
    bh = beta * h
    p_up = math.exp(bh) / (2.0 * math.cosh(bh))
    m = free_spin_magnetisation(np.random.default_rng(8), n_sites, p_up, 100_000)
    e = -h * m

    s = summarise(m, e, temperature=temperature, n_sites=n_sites)

    assert_within(s.magnetisation, math.tanh(bh), "<m>")
    assert_within(s.energy, -h * math.tanh(bh), "<e>")
    assert_within(s.susceptibility_connected, beta / math.cosh(bh) ** 2, "chi_c")
    assert_within(s.specific_heat, bh**2 / math.cosh(bh) ** 2, "C")


@pytest.mark.parametrize("tunnelling", [False, True], ids=["frozen", "tunnelling"])
def test_ordered_state_has_binder_two_thirds_and_zero_errors(
    tunnelling: bool, caplog, capsys
):
    # m = +-1 in every sweep (T -> 0), either frozen in one state or hopping
    # between the two: m^2 = m^4 = |m| = 1 exactly, so U4 = 2/3 and
    # chi_|m| = 0 with no statistical error at all.
    n = 5000
    if tunnelling:
        m = np.random.default_rng(9).choice([-1.0, 1.0], size=n)
    else:
        m = np.ones(n)
    e = np.full(n, -2.0)

    with warnings.catch_warnings(), caplog.at_level(logging.DEBUG):
        warnings.simplefilter("error")
        caplog.clear()
        s = summarise(m, e, temperature=0.5, n_sites=64)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert capsys.readouterr() == ("", "")

    assert s.binder.value == pytest.approx(2.0 / 3.0, rel=1e-15)
    assert s.binder.error == 0.0
    assert (s.susceptibility_abs.value, s.susceptibility_abs.error) == (0.0, 0.0)
    assert (s.abs_magnetisation.value, s.abs_magnetisation.error) == (1.0, 0.0)
    assert (s.magnetisation2.value, s.magnetisation2.error) == (1.0, 0.0)
    assert (s.magnetisation4.value, s.magnetisation4.error) == (1.0, 0.0)
    assert (s.specific_heat.value, s.specific_heat.error) == (0.0, 0.0)
    assert (s.energy.value, s.energy.error) == (-2.0, 0.0)
    assert s.susceptibility_second_moment.value == pytest.approx(64.0 / 0.5)
    assert s.susceptibility_second_moment.error == 0.0
    if tunnelling:
        assert s.magnetisation.error > 0.0
    else:
        assert (s.magnetisation.value, s.magnetisation.error) == (1.0, 0.0)
        assert (s.susceptibility_connected.value, s.susceptibility_connected.error) == (
            0.0,
            0.0,
        )


def test_constant_non_integer_series_has_exact_mean_and_zero_error():
    s = summarise(np.full(777, 0.3), np.full(777, -1.1), temperature=1.0, n_sites=9)
    assert (s.magnetisation.value, s.magnetisation.error) == (0.3, 0.0)
    assert (s.energy.value, s.energy.error) == (-1.1, 0.0)
    assert (s.specific_heat.value, s.specific_heat.error) == (0.0, 0.0)
    assert s.susceptibility_connected.error == 0.0
    assert s.binder.error == 0.0


def test_binder_is_nan_when_every_magnetisation_is_exactly_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = summarise(np.zeros(100), np.full(100, -1.0), temperature=1.0, n_sites=4)
    assert math.isnan(s.binder.value) and math.isnan(s.binder.error)
    assert (s.susceptibility_abs.value, s.susceptibility_abs.error) == (0.0, 0.0)


def test_derived_values_are_plug_in_functions_of_the_reported_means():
    rng = np.random.default_rng(10)
    m = np.tanh(0.5 * ar1(rng, 0.6, (5000,)))
    e = -1.0 + 0.1 * ar1(rng, 0.3, (5000,))
    t, n_sites = 1.7, 50
    s = summarise(m, e, temperature=t, n_sites=n_sites)

    m2, m4 = s.magnetisation2.value, s.magnetisation4.value
    assert s.binder.value == pytest.approx(1.0 - m4 / (3.0 * m2**2), rel=1e-12)
    assert s.susceptibility_abs.value == pytest.approx(
        n_sites / t * (m2 - s.abs_magnetisation.value**2), rel=1e-9
    )
    assert s.susceptibility_connected.value == pytest.approx(
        n_sites / t * (m2 - s.magnetisation.value**2), rel=1e-9
    )
    assert s.specific_heat.value == pytest.approx(n_sites / t**2 * np.var(e), rel=1e-9)
    assert s.susceptibility_second_moment.value == pytest.approx(n_sites / t * m2)
    assert s.susceptibility_second_moment.error == pytest.approx(
        n_sites / t * s.magnetisation2.error
    )
    for name in ("binder", "susceptibility_abs", "specific_heat"):
        assert math.isnan(getattr(s, name).tau_int)
        assert getattr(s, name).error > 0.0
    assert s.magnetisation.tau_int > 0.5


def test_staggered_abs_magnetisation_is_reported_only_when_given():
    rng = np.random.default_rng(12)
    m = free_spin_magnetisation(rng, 16, 0.5, 2000)
    e = np.full(2000, -2.0)
    ms = rng.choice([-1.0, 1.0], size=2000)  # a Neel state hopping between its two

    plain = summarise(m, e, temperature=1.0, n_sites=16)
    stag = summarise(m, e, temperature=1.0, n_sites=16, staggered_magnetisation=ms)

    assert plain.staggered_abs_magnetisation is None
    assert "staggered_abs_magnetisation" not in plain.table()
    assert stag.staggered_abs_magnetisation == Estimate(1.0, 0.0, 0.5)


# --------------------------------------------------------------------------- #
# Output: Estimate formatting, Summary.table and as_dict
# --------------------------------------------------------------------------- #
def test_estimate_formats_value_to_two_significant_digits_of_error():
    est = Estimate(0.731234, 0.00213, 3.2)
    assert str(est) == "0.7312 ± 0.0021"
    assert f"{est}" == "0.7312 ± 0.0021"
    assert f"{est:.3f}" == "0.731 ± 0.002"
    assert str(Estimate(1234.4, 27.0)) == "1234 ± 27"
    assert str(Estimate(2.0 / 3.0, 0.0)) == "0.666667 ± 0"
    assert str(Estimate(math.nan, math.nan)) == "nan ± nan"


def test_estimate_is_frozen_and_holds_python_floats():
    est = Estimate(np.float32(1.5), np.int64(0), np.float64(0.5))
    assert all(type(v) is float for v in dataclasses.astuple(est))
    assert math.isnan(Estimate(1.0, 0.1).tau_int)
    with pytest.raises(dataclasses.FrozenInstanceError):
        est.value = 2.0  # type: ignore[misc]


def test_summary_table_lists_every_quantity_and_as_dict_is_strict_json():
    rng = np.random.default_rng(13)
    m = free_spin_magnetisation(rng, 16, 0.6, 3000)
    e = -0.3 * m
    s = summarise(m, e, temperature=1.2, n_sites=16, staggered_magnetisation=0.5 * m)
    assert isinstance(s, Summary)

    table = s.table()
    assert str(s) == table
    for name in s.estimates():
        assert name in table
    assert "n_samples = 3000" in table

    d = s.as_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    assert d["n_samples"] == 3000 and d["n_sites"] == 16 and d["temperature"] == 1.2
    # Derived quantities have no tau_int of their own: nan becomes JSON null.
    assert d["binder"] == {
        "value": s.binder.value,
        "error": s.binder.error,
        "tau_int": None,
    }
    assert d["magnetisation"]["tau_int"] == s.magnetisation.tau_int
    assert d["staggered_abs_magnetisation"]["value"] == pytest.approx(
        0.5 * s.abs_magnetisation.value
    )

    plain = summarise(m, e, temperature=1.2, n_sites=16)
    assert plain.as_dict()["staggered_abs_magnetisation"] is None


def test_summarise_of_1e5_samples_takes_well_under_two_seconds():
    rng = np.random.default_rng(14)
    m = np.tanh(0.3 * ar1(rng, 0.95, (100_000,)))
    e = -1.5 + 0.05 * ar1(rng, 0.9, (100_000,))
    summarise(m[:1000], e[:1000], temperature=2.3, n_sites=256)  # warm-up
    start = time.perf_counter()
    summarise(m, e, temperature=2.3, n_sites=256, staggered_magnetisation=m)
    assert time.perf_counter() - start < 2.0


@settings(max_examples=40, deadline=None, database=None, derandomize=True)
@given(
    st.integers(2, 200).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.float64, n, elements=st.floats(-1.0, 1.0)),
            hnp.arrays(np.float64, n, elements=st.floats(-4.0, 4.0)),
        )
    )
)
def test_summarise_of_any_bounded_series_gives_finite_nonnegative_errors(series):
    m, e = series
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = summarise(m, e, temperature=1.0, n_sites=10)
    for name, est in s.estimates().items():
        if name == "binder" and math.isnan(est.error):
            continue  # a jackknife sample with <m^2> = 0 makes U4 undefined
        assert math.isfinite(est.value) and math.isfinite(est.error), name
        assert est.error >= 0.0, name


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
GOOD_M = np.linspace(-0.5, 0.5, 10)
GOOD_E = np.linspace(-2.0, -1.0, 10)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"temperature": -1.0}, r"^temperature must be finite and > 0, got -1\.0"),
        ({"temperature": 0.0}, r"^temperature must be finite and > 0"),
        ({"temperature": math.nan}, r"^temperature must be finite and > 0"),
        ({"temperature": math.inf}, r"^temperature must be finite and > 0"),
        ({"temperature": "hot"}, r"^temperature must be finite and > 0"),
        ({"n_sites": 0}, r"^n_sites must be a positive integer"),
        ({"n_sites": -4}, r"^n_sites must be a positive integer"),
        ({"n_sites": 2.5}, r"^n_sites must be a positive integer"),
        ({"n_sites": True}, r"^n_sites must be a positive integer"),
        ({"magnetisation": GOOD_M.reshape(2, 5)}, r"^magnetisation must be a 1D"),
        ({"magnetisation": [0.1]}, r"^magnetisation must have at least 2 samples"),
        ({"magnetisation": np.r_[GOOD_M[:-1], np.nan]}, r"^magnetisation must be fin"),
        ({"energy": np.r_[GOOD_E[:-1], -np.inf]}, r"^energy must be finite"),
        ({"energy": GOOD_E[:-1]}, r"^magnetisation and energy must have the same len"),
        (
            {"staggered_magnetisation": GOOD_M[:-2]},
            r"^staggered_magnetisation and magnetisation must have the same length",
        ),
        (
            {"staggered_magnetisation": np.r_[GOOD_M[:-1], np.nan]},
            r"^staggered_magnetisation must be finite",
        ),
    ],
)
def test_summarise_rejects_bad_input_naming_the_parameter(kwargs, pattern):
    args = {
        "magnetisation": GOOD_M,
        "energy": GOOD_E,
        "temperature": 1.0,
        "n_sites": 16,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        summarise(
            args.pop("magnetisation"),
            args.pop("energy"),
            **args,
        )


def test_summary_of_a_series_shorter_than_its_autocorrelation_carries_notes() -> None:
    # A 10-sweep run cannot hold 20 jackknife blocks of 20 tau: the summary says so
    # next to its numbers (not only in a log nobody configured), and a long
    # uncorrelated run has nothing to report.
    rng = np.random.default_rng(7)
    short = summarise(
        rng.choice([-1.0, 1.0], 10), rng.normal(size=10), temperature=2.0, n_sites=1
    )
    assert short.notes
    assert all(note in short.table() for note in short.notes)
    long_run = summarise(
        rng.choice([-1.0, 1.0], 20000),
        rng.normal(size=20000),
        temperature=2.0,
        n_sites=1,
    )
    assert long_run.notes == ()
    assert long_run.magnetisation.tau_int >= 0.5
