"""Finite-size scaling: the |m(k_min)|^2 record, reweighting, crossings and fits.

Exact references: full enumeration of tiny lattices (done here, independently
of the package's enumeration), the periodic 1D chain's correlation function,
Kaufman's finite-lattice energy and specific heat, exact Curie-Weiss sums and
the known 2D critical point. Statistical checks follow the tolerance policy of
conftest.py (|z| <= 4, fixed SEED).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

import neurophase as npx
from conftest import SEED, assert_agrees, mean_estimate
from neurophase import exact, scaling
from neurophase.statistics import Estimate

T_C_2D = 2.0 / math.log(1.0 + math.sqrt(2.0))


# ---------------------------------------------------------------------------
# Exact enumeration of a small periodic L x L lattice (independent of exact.py)
# ---------------------------------------------------------------------------
def _all_states(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Every configuration (rows) and the bond pairs of a periodic lattice."""
    n = math.prod(shape)
    idx = np.arange(2**n)
    spins = 1 - 2 * ((idx[:, None] >> np.arange(n)) & 1)
    sites = np.arange(n).reshape(shape)
    bonds = np.concatenate(
        [
            np.stack([sites.ravel(), np.roll(sites, -1, axis=a).ravel()], axis=1)
            for a in range(len(shape))
        ]
    )
    return spins, bonds


def _state_observables(shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Bond sum, magnetisation and axis-averaged |m(k_min)|^2 of every state."""
    spins, bonds = _all_states(shape)
    n = spins.shape[1]
    coords = np.indices(shape).reshape(len(shape), -1)
    kmin = np.zeros(spins.shape[0])
    for a, side in enumerate(shape):
        phase = np.exp(2j * np.pi * coords[a] / side)
        kmin += np.abs(spins @ phase) ** 2 / n**2
    return {
        "bonds": (spins[:, bonds[:, 0]] * spins[:, bonds[:, 1]]).sum(axis=1),
        "m": spins.sum(axis=1) / n,
        "kmin": kmin / len(shape),
        "n": np.array(n),
    }


def _exact_averages(shape: tuple[int, ...], temperature: float) -> dict[str, float]:
    obs = _state_observables(shape)
    log_w = obs["bonds"] / temperature
    p = np.exp(log_w - log_w.max())
    p /= p.sum()
    m2 = float(p @ obs["m"] ** 2)
    m4 = float(p @ obs["m"] ** 4)
    kmin = float(p @ obs["kmin"])
    side = shape[0]
    xi = math.sqrt(m2 / kmin - 1.0) / (2.0 * math.sin(math.pi / side))
    return {"m2": m2, "kmin": kmin, "binder": 1 - m4 / (3 * m2 * m2), "xi": xi}


def _exact_series(side: int, temperatures: list[float]) -> list[scaling.Series]:
    """Exact (energy, magnetisation) classes of an L x L lattice as Series."""
    obs = _state_observables((side, side))
    n = int(obs["n"])
    keys, inverse, counts = np.unique(
        np.stack([obs["bonds"], np.rint(obs["m"] * n).astype(int)]),
        axis=1,
        return_inverse=True,
        return_counts=True,
    )
    kbar = np.bincount(inverse.ravel(), weights=obs["kmin"]) / counts
    return [
        scaling.Series.exact_histogram(
            size=side,
            n_sites=n,
            temperature=t,
            energy=-keys[0] / n,
            magnetisation=keys[1] / n,
            log_multiplicity=np.log(counts),
            kmin_magnetisation2=kbar,
        )
        for t in temperatures
    ]


# ---------------------------------------------------------------------------
# The |m(k_min)|^2 record of the engine
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(10,), (8, 8), (4, 6, 5), (3, 4, 2, 3)], ids=str)
def test_kmin_record_equals_fourier_transform_of_snapshots(shape):
    """The per-sweep record is |FFT of the spins at k = 2 pi / L_a|^2 / N^2."""
    lattice = npx.Lattice(shape)
    sim = npx.Simulation(lattice, algorithm="heat-bath", seed=SEED, threads=1)
    run = sim.run(30, temperature=3.0, record_kmin=True, snapshots=range(30))
    n = lattice.n_sites
    assert run.kmin_magnetisation2.shape == (30, len(shape))
    for t in range(30):
        f = np.fft.fftn(run.snapshots[t].astype(np.float64))
        for a in range(len(shape)):
            index = [0] * len(shape)
            index[a] = 1
            expected = abs(f[tuple(index)]) ** 2 / n**2
            assert run.kmin_magnetisation2[t, a] == pytest.approx(expected, abs=1e-13)
    assert sim.measure()["kmin_magnetisation2"] == pytest.approx(
        list(run.kmin_magnetisation2[-1]), abs=1e-13
    )


@pytest.mark.parametrize("algorithm", ["metropolis", "wolff"])
def test_kmin_record_does_not_depend_on_thread_count(algorithm):
    """Fixed-order sums: 1 and 2 threads give bitwise equal |m(k_min)|^2."""
    lattice = npx.Lattice.square(384)  # > 2 x 65536 sites: two threads are used
    records = []
    for threads in (1, 2):
        run = npx.simulate(
            lattice,
            temperature=2.3,
            sweeps=4,
            algorithm=algorithm,
            seed=SEED,
            threads=threads,
            record_kmin=True,
        )
        records.append(run.kmin_magnetisation2)
    if algorithm == "metropolis":
        assert run.threads_used == 2
    np.testing.assert_array_equal(records[0], records[1])


def test_record_kmin_refuses_lattices_without_a_periodic_fourier_mode():
    """record_kmin needs a periodic hypercubic lattice and recorded sweeps."""
    with pytest.raises(ValueError, match="record_kmin"):
        npx.simulate(npx.Lattice.complete(10), temperature=1.0, record_kmin=True)
    with pytest.raises(ValueError, match="record_kmin"):
        npx.simulate(
            npx.Lattice.square(4, boundary="open"), temperature=2.0, record_kmin=True
        )
    sim = npx.Simulation(npx.Lattice.square(4))
    with pytest.raises(ValueError, match="record_kmin"):
        sim.run(3, temperature=2.0, record=False, record_kmin=True)
    with pytest.raises(TypeError, match="record_kmin"):
        sim.run(3, temperature=2.0, record_kmin="yes")


def test_kmin_on_chain_matches_exact_correlation_function():
    """Periodic chain: <|m(k)|^2> = N^-1 sum_r G(r) cos(k r) with the exact
    G(r) = (t^r + t^(N-r)) / (1 + t^N), t = tanh(J/T); and xi from it."""
    n, temperature = 16, 1.2
    t = math.tanh(1.0 / temperature)
    r = np.arange(n)
    g = (t**r + t ** (n - r)) / (1 + t**n)
    k = 2 * math.pi / n
    exact_kmin = float(np.sum(g * np.cos(k * r))) / n
    exact_m2 = float(np.sum(g)) / n
    run = npx.simulate(
        npx.Lattice.chain(n),
        temperature=temperature,
        sweeps=200_000,
        burn_in=1000,
        algorithm="wolff",
        seed=SEED,
        record_kmin=True,
    )
    assert_agrees(mean_estimate(run.kmin_magnetisation2[:, 0]), exact_kmin, "kmin")
    assert_agrees(mean_estimate(run.magnetisation**2), exact_m2, "m2")
    # The same numbers through the enumeration of the chain's 2^16 states.
    by_enumeration = _exact_averages((n,), temperature)
    assert by_enumeration["kmin"] == pytest.approx(exact_kmin, rel=1e-12)
    assert by_enumeration["m2"] == pytest.approx(exact_m2, rel=1e-12)


def test_correlation_length_of_4x4_matches_enumeration():
    """xi and |m(k_min)|^2 of a simulated 4 x 4 lattice agree with the exact
    enumeration of its 2^16 states, at the run's temperature and reweighted."""
    t0 = 2.4
    runs = [
        npx.simulate(
            npx.Lattice.square(side),
            temperature=t0,
            sweeps=100_000,
            burn_in=1000,
            algorithm="wolff",
            seed=SEED + side,
            record_kmin=True,
        )
        for side in (3, 4)
    ]
    ex = _exact_averages((4, 4), t0)
    assert_agrees(
        mean_estimate(runs[1].kmin_magnetisation2.mean(axis=1)), ex["kmin"], "kmin"
    )
    data = scaling.ScalingData.from_runs(runs)
    for t in (t0, 2.3, 2.5):
        ex = _exact_averages((4, 4), t)
        for quantity, key in (("correlation_length", "xi"), ("binder", "binder")):
            value, error = data.curve(quantity, 4, [t])
            assert_agrees(Estimate(value[0], error[0]), ex[key], f"{quantity} T={t}")


# ---------------------------------------------------------------------------
# Reweighting
# ---------------------------------------------------------------------------
def test_reweighting_exact_histograms_reproduces_enumeration():
    """Reweighting an exact density of states is exact: U4, <|m|>, chi, C and
    <e> of 4 x 4 at temperatures far from the histogram's own agree with
    neurophase.exact.enumerate_lattice to 1e-10."""
    data = scaling.ScalingData(
        _exact_series(3, [1.5, 4.0]) + _exact_series(4, [1.5, 4.0])
    )
    for t in (1.5, 2.0, 2.269, 3.1):
        ref = exact.enumerate_lattice((4, 4), t)
        for quantity, attr in (
            ("binder", "binder"),
            ("abs_magnetisation", "abs_magnetisation"),
            ("susceptibility", "susceptibility_abs"),
            ("susceptibility_second_moment", "susceptibility_second_moment"),
            ("specific_heat", "specific_heat"),
            ("energy", "energy"),
        ):
            value, _ = data.curve(quantity, 4, [t])
            assert value[0] == pytest.approx(getattr(ref, attr), rel=1e-10), quantity


def test_binder_slope_is_derivative_of_binder():
    """dU4/dbeta from the covariance identity equals the numerical derivative
    of the exactly reweighted U4."""
    data = scaling.ScalingData(
        _exact_series(3, [2.0, 2.6]) + _exact_series(4, [2.0, 2.6])
    )
    t, dt = 2.3, 1e-5
    slope, _ = data.curve("binder_slope", 4, [t])
    up, _ = data.curve("binder", 4, [1.0 / (1.0 / t + dt)])
    down, _ = data.curve("binder", 4, [1.0 / (1.0 / t - dt)])
    assert slope[0] == pytest.approx((up[0] - down[0]) / (2 * dt), rel=1e-6)


@pytest.mark.slow
def test_reweighted_monte_carlo_matches_kaufman():
    """Wolff runs of 8 x 8 and 16 x 16 at T = 2.3, reweighted to 2.25 and
    2.35 (inside the stated range): <e> and C agree with Kaufman's exact
    finite-lattice values within 4 sigma."""
    runs = [
        npx.simulate(
            npx.Lattice.square(side),
            temperature=2.3,
            sweeps=40_000,
            burn_in=1000,
            algorithm="wolff",
            seed=SEED + side,
        )
        for side in (8, 16)
    ]
    data = scaling.ScalingData.from_runs(runs)
    for side in (8, 16):
        for t in (2.25, 2.3, 2.35):
            ref = exact.kaufman(side, t)
            e, de = data.curve("energy", side, [t])
            c, dc = data.curve("specific_heat", side, [t])
            assert_agrees(Estimate(e[0], de[0]), ref.energy, f"e L={side} T={t}")
            assert_agrees(Estimate(c[0], dc[0]), ref.specific_heat, f"C L={side} T={t}")


def test_reweighting_refuses_temperatures_outside_its_range():
    """Beyond |beta - beta_0| sigma_H = max_shift a ReweightingRangeError
    names the size and the covered interval."""
    run_a = npx.simulate(npx.Lattice.square(8), temperature=2.3, sweeps=2000, seed=SEED)
    run_b = npx.simulate(
        npx.Lattice.square(12), temperature=2.3, sweeps=2000, seed=SEED
    )
    data = scaling.ScalingData.from_runs([run_a, run_b], max_shift=0.5)
    ((lo, hi),) = data.coverage(12)
    sigma = np.std(run_b.energy * 144)
    assert 1 / lo - 1 / 2.3 == pytest.approx(0.5 / sigma, rel=0.05)
    assert 1 / 2.3 - 1 / hi == pytest.approx(0.5 / sigma, rel=0.05)
    data.curve("binder", 12, [0.5 * (lo + 2.3)])
    with pytest.raises(scaling.ReweightingRangeError, match="size 12"):
        data.curve("binder", 12, [hi * 1.01])
    with pytest.raises(ValueError, match="quantity"):
        data.curve("entropy", 12, [2.3])
    with pytest.raises(ValueError, match="kmin"):
        data.curve("xi_over_size", 12, [2.3])


# ---------------------------------------------------------------------------
# Crossings
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_binder_crossing_of_exact_curves_to_1e_6():
    """On the exact U4 curves of 3 x 3 and 4 x 4 (enumerated here) the crossing
    routine finds the crossing of neurophase.exact's curves to 1e-6."""
    data = scaling.ScalingData(
        _exact_series(3, [1.8, 3.0])
        + _exact_series(4, [1.8, 3.0])
        + _exact_series(2, [1.8, 3.0])
    )

    def diff(t: float, a: int, b: int) -> float:
        return (
            exact.enumerate_lattice((a, a), t).binder
            - exact.enumerate_lattice((b, b), t).binder
        )

    for a, b in ((3, 4), (2, 4)):
        found = scaling.crossing(data, (a, b))
        expected = brentq(diff, 1.8, 3.0, args=(a, b), xtol=1e-13)
        assert abs(found.temperature.value - expected) < 1e-6
        u = exact.enumerate_lattice((b, b), expected).binder
        assert abs(found.value.value - u) < 1e-6
    # xi/L crossing against the enumeration in this file.
    xi = scaling.crossing(data, (3, 4), "xi_over_size")
    expected = brentq(
        lambda t: (
            _exact_averages((3, 3), t)["xi"] / 3 - _exact_averages((4, 4), t)["xi"] / 4
        ),
        1.8,
        3.0,
        xtol=1e-13,
    )
    assert abs(xi.temperature.value - expected) < 1e-6


def test_crossing_reports_curves_that_do_not_cross():
    """Sizes whose curves do not cross in the range give a ValueError."""
    data = scaling.ScalingData(
        _exact_series(3, [2.5, 3.0]) + _exact_series(4, [2.5, 3.0])
    )
    with pytest.raises(ValueError, match="do not cross"):
        scaling.crossing(data, (3, 4))


# ---------------------------------------------------------------------------
# Fits
# ---------------------------------------------------------------------------
def _fake_crossings(tc: float, a: float, omega: float, inv_nu: float) -> list:
    sizes = (8, 16, 32, 64)
    out = []
    for i, l1 in enumerate(sizes):
        for l2 in sizes[i + 1 :]:
            t = tc + a * (l1**-omega - l2**-omega) / (l2**inv_nu - l1**inv_nu)
            samples = np.full(3, t)
            samples[1:] += np.array([1e-4, -1e-4])
            out.append(
                scaling.Crossing(
                    "binder",
                    (l1, l2),
                    Estimate(t, 1e-4),
                    Estimate(0.6, 0.001),
                    samples,
                    np.full(3, 0.6),
                )
            )
    return out


def test_extrapolation_recovers_critical_temperature_and_omega():
    """Crossings following the leading-correction form exactly give back T_c
    and omega."""
    fit = scaling.extrapolate_crossings(
        _fake_crossings(4.5115, -3.0, 0.83, 1.587), 1.587
    )
    assert fit.temperature.value == pytest.approx(4.5115, abs=1e-8)
    assert fit.omega.value == pytest.approx(0.83, abs=1e-5)
    with pytest.raises(ValueError, match="at least 4 crossings"):
        scaling.extrapolate_crossings(_fake_crossings(1, 1, 1, 1)[:3], 1.0)


def test_power_law_fit_of_exact_power():
    """y = 3 L^1.75 gives exponent 1.75 and amplitude 3; zero errors refused unless
    the input is declared exact."""
    sizes = [8, 16, 32]
    y = 3.0 * np.array(sizes, dtype=float) ** 1.75
    samples = np.stack([y, y * 1.001, y * 0.999])
    fit = scaling.fit_power_law(sizes, samples)
    assert fit.exponent.value == pytest.approx(1.75, abs=1e-12)
    assert fit.amplitude == pytest.approx(3.0, rel=1e-12)
    with pytest.raises(ValueError, match="positive error"):
        scaling.fit_power_law(sizes, np.stack([y, y, y]))
    exact = scaling.fit_power_law(sizes, np.stack([y, y, y]), exact=True)
    assert exact.exponent.value == pytest.approx(1.75, abs=1e-12)
    assert exact.exponent.error == 0.0


def _synthetic_collapse(noise_seed: int) -> scaling.CollapseData:
    """y = L^kappa F((T - T_c) L^(1/nu)), F(x) = 1 + exp(-x^2/4) + 0.3 tanh(x), 1%
    Gaussian noise with the 1% error bars given."""
    rng = np.random.default_rng(noise_seed)
    tc, nu, kappa = 3.0, 0.7, 1.2
    points = {}
    for size in (8, 16, 32, 64):
        t = tc + np.linspace(-2.5, 2.5, 21) * size ** (-1 / nu)
        x = (t - tc) * size ** (1 / nu)
        y = size**kappa * (1 + np.exp(-(x**2) / 4) + 0.3 * np.tanh(x))
        err = 0.01 * y
        points[size] = (t, y + err * rng.standard_normal(t.size), err)
    return scaling.CollapseData(points)


def test_collapse_recovers_parameters_from_a_poor_start():
    """From T_c, nu off by far (start at the data edge, nu = 3), the collapse of
    synthetic data returns T_c = 3, nu = 0.7, kappa = 1.2 within 4 sigma."""
    pts = _synthetic_collapse(SEED)
    lo, hi = pts.temperature_range
    result = scaling.collapse(pts, start=(lo + 0.02 * (hi - lo), 3.0, -1.0))
    assert result.error_method == "curvature"
    assert_agrees(result.temperature, 3.0, "T_c")
    assert_agrees(result.nu, 0.7, "nu")
    assert_agrees(result.exponent, 1.2, "kappa")
    assert 0.3 < result.quality < 3.0


def test_collapse_refuses_bad_input():
    """Non-positive or missing error bars and a T_c start outside the data are
    clear errors."""
    t = np.linspace(1, 2, 5)
    good = (t, t, np.full(5, 0.1))
    with pytest.raises(ValueError, match="error bar"):
        scaling.CollapseData({8: good, 16: (t, t, np.zeros(5))})
    with pytest.raises(ValueError, match="error bar"):
        scaling.CollapseData({8: good, 16: (t, t, np.full(5, np.nan))})
    with pytest.raises(ValueError, match="temperature, value, error"):
        scaling.CollapseData({8: good, 16: (t, t)})
    with pytest.raises(ValueError, match="outside the data range"):
        scaling.collapse(_synthetic_collapse(SEED), start=(10.0, 1.0, 1.0))


# ---------------------------------------------------------------------------
# Mean field: the complete graph from exact Curie-Weiss distributions
# ---------------------------------------------------------------------------
def test_curie_weiss_data_equal_exact_module():
    """The exact Curie-Weiss series reweight to neurophase.exact.curie_weiss."""
    data = scaling.ScalingData.curie_weiss([64, 256], [0.8, 1.2])
    for t in (0.85, 1.0, 1.15):
        ref = exact.curie_weiss(256, t)
        u, _ = data.curve("binder", 256, [t])
        chi, _ = data.curve("susceptibility", 256, [t])
        assert u[0] == pytest.approx(ref.binder, rel=1e-11)
        assert chi[0] == pytest.approx(ref.susceptibility_abs, rel=1e-10)


def test_result_tables_print_as_plain_text():
    """print(result.table(reference)) writes the table (README example), and the
    table still renders through a rich console."""
    import io

    from rich.console import Console

    data = scaling.ScalingData.curie_weiss([64, 256, 1024], [0.9, 1.0, 1.1])
    result = scaling.analyse(data)
    for table in (
        result.table(scaling.REFERENCES["complete"]),
        scaling.comparison_table({"complete": result}),
    ):
        text = str(table)
        assert "<rich" not in text and "T_c" in text and "reference" in text
        assert all(line == line.rstrip() for line in text.splitlines())
        console = Console(file=io.StringIO(), width=120, record=True)
        console.print(table)
        assert "T_c" in console.export_text()


def test_curie_weiss_data_refuse_sizes_beyond_the_memory_limit():
    """Sizes too large for memory are refused before anything is allocated."""
    with pytest.raises(ValueError, match=r"sizes.*<= 4000000"):
        scaling.ScalingData.curie_weiss([10**8, 2 * 10**8], [0.95, 1.0, 1.05])
    limit = scaling.MAX_CURIE_WEISS_CLASSES
    with pytest.raises(ValueError, match="sizes"):
        scaling.ScalingData.curie_weiss([limit // 2, limit // 2], [1.0])
    with pytest.raises(ValueError, match="sizes"):
        scaling.ScalingData.curie_weiss([64, 2.5], [1.0])  # type: ignore[list-item]
    data = scaling.ScalingData.curie_weiss([8, np.int64(16)], (t for t in (0.9, 1.1)))
    assert data.sizes == (8, 16)


@pytest.mark.slow
def test_mean_field_class_on_the_complete_graph():
    """Exact finite-N Curie-Weiss: T_c -> J, U* -> 0.2705, 1/nu_N = gamma/nu_N
    = 1/2 and beta/nu_N = 1/4 (finite-N corrections ~ N^-1/2 allowed for)."""
    data = scaling.ScalingData.curie_weiss(
        [1024, 4096, 16384, 65536], [0.95, 1.0, 1.05]
    )
    result = scaling.analyse(data)
    ref = scaling.REFERENCES["complete"]
    assert ref.binder == pytest.approx(0.27052, abs=1e-5)
    assert result.temperature.value == pytest.approx(1.0, abs=1e-5)
    assert result.binder.value == pytest.approx(ref.binder, abs=0.006)
    assert result.inv_nu.exponent.value == pytest.approx(0.5, abs=0.005)
    assert result.gamma_over_nu.exponent.value == pytest.approx(0.5, abs=0.005)
    assert result.beta_over_nu.exponent.value == pytest.approx(0.25, abs=0.005)


# ---------------------------------------------------------------------------
# Simulated 2D data
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_2d_critical_point_from_simulation():
    """Wolff runs of L = 8 ... 64 at T = 2.269: T_c within 0.5% (and 4 sigma) of
    Onsager's, gamma/nu within 5% of 7/4, beta/nu and nu near 1/8 and 1."""
    data = scaling.run_study(
        npx.Lattice.square,
        [8, 16, 32, 64],
        [2.269],
        sweeps=20_000,
        burn_in=1000,
        seed=SEED,
    )
    result = scaling.analyse(data)
    assert abs(result.temperature.value / T_C_2D - 1) < 0.005
    assert_agrees(result.temperature, T_C_2D, "T_c")
    assert abs(result.gamma_over_nu.exponent.value / 1.75 - 1) < 0.05
    assert_agrees(result.nu, 1.0, "nu")
    assert_agrees(result.beta_over_nu.exponent, 0.125, "beta/nu")
    assert result.xi_temperature is not None
    assert abs(result.xi_temperature.value / T_C_2D - 1) < 0.005


def test_scaling_data_roundtrip_and_bad_input(tmp_path):
    """save/load keeps every series; a single size, mismatched n_sites, a
    field or too few records per block are clear errors."""
    runs = [
        npx.simulate(
            npx.Lattice.square(L),
            temperature=2.3,
            sweeps=400,
            seed=SEED,
            record_kmin=True,
        )
        for L in (4, 6)
    ]
    data = scaling.ScalingData.from_runs(runs)
    data.save(tmp_path / "d.npz")
    back = scaling.ScalingData.load(tmp_path / "d.npz")
    assert back.sizes == (4, 6)
    v1, e1 = data.curve("xi_over_size", 6, [2.3])
    v2, e2 = back.curve("xi_over_size", 6, [2.3])
    assert v1 == pytest.approx(v2) and e1 == pytest.approx(e2)
    with pytest.raises(ValueError, match="two sizes"):
        scaling.ScalingData.from_runs(runs[:1])
    with pytest.raises(ValueError, match="n_sites"):
        scaling.ScalingData.from_arrays(
            [
                {
                    "size": 4,
                    "temperature": 2.0,
                    "magnetisation": [0.1] * 40,
                    "energy": [-1.0] * 40,
                    "n_sites": 10,
                }
            ]
        )
    field_run = npx.simulate(
        npx.Lattice.square(4), temperature=2.3, field=0.1, sweeps=100
    )
    with pytest.raises(ValueError, match="zero field"):
        scaling.Series.from_run(field_run)
    with pytest.raises(ValueError, match="n_blocks"):
        scaling.ScalingData.from_runs(runs, n_blocks=1000)
    with pytest.raises(ValueError, match="temperature"):
        scaling.Series.exact_histogram(
            size=2,
            n_sites=4,
            temperature=0.0,
            energy=[-2.0, 0.0],
            magnetisation=[1.0, 0.0],
            log_multiplicity=[0.0, 1.0],
        )
    with pytest.raises(ValueError, match="not saved scaling data"):
        (tmp_path / "bad.npz").write_bytes(b"nothing")
        scaling.ScalingData.load(tmp_path / "bad.npz")


@pytest.mark.slow
def test_figures_are_matplotlib_figures():
    """plot_binder and plot_collapse return Figures with the curves drawn."""
    from matplotlib.figure import Figure

    data = scaling.ScalingData(
        _exact_series(3, [1.8, 3.0]) + _exact_series(4, [1.8, 3.0])
    )
    fig = scaling.plot_binder(data)
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].lines) >= 2
    fig = scaling.plot_collapse(scaling.collapse(_synthetic_collapse(SEED)))
    assert isinstance(fig, Figure)


def test_cli_scaling_curie_weiss_prints_table(capsys):
    """`neurophase scaling curie-weiss` prints the measured-vs-reference table."""
    from neurophase.cli import main

    assert (
        main(["scaling", "curie-weiss", "--sizes", "256", "1024", "4096", "16384"]) == 0
    )
    out = capsys.readouterr().out
    assert "complete graph" in out and "gamma/nu" in out


def test_unreweighted_binder_equals_run_summary():
    """At a run's own temperature U4 and <|m|> equal Run.summary()'s values, and
    the two jackknife errors agree within the noise of error estimates."""
    runs = [
        npx.simulate(
            npx.Lattice.square(side),
            temperature=2.3,
            sweeps=20_000,
            burn_in=500,
            algorithm="wolff",
            seed=SEED + side,
        )
        for side in (8, 16)
    ]
    data = scaling.ScalingData.from_runs(runs)
    summary = runs[1].summary()
    u, du = data.curve("binder", 16, [2.3])
    m, _ = data.curve("abs_magnetisation", 16, [2.3])
    assert u[0] == pytest.approx(summary.binder.value, rel=1e-12)
    assert m[0] == pytest.approx(summary.abs_magnetisation.value, rel=1e-12)
    assert 0.5 < du[0] / summary.binder.error < 2.0


def test_parallel_runs_of_a_study_give_the_same_records():
    """run_study with 2 workers returns the records of the serial study."""
    kwargs = {"sweeps": 200, "burn_in": 20, "seed": SEED, "algorithm": "metropolis"}
    serial = scaling.run_study(npx.Lattice.square, [4, 6], [2.2, 2.4], **kwargs)
    parallel = scaling.run_study(
        npx.Lattice.square, [4, 6], [2.2, 2.4], workers=2, **kwargs
    )
    for a, b in zip(serial.series, parallel.series, strict=True):
        assert (a.size, a.temperature, a.seed) == (b.size, b.temperature, b.seed)
        np.testing.assert_array_equal(a.magnetisation, b.magnetisation)
        np.testing.assert_array_equal(a.kmin_magnetisation2, b.kmin_magnetisation2)
    seeds = {s.seed for s in serial.series}
    assert len(seeds) == 4  # every run its own stream


def test_cli_scaling_run_then_analyse(tmp_path, capsys):
    """`scaling run --save` then `scaling analyse --json` gives the same T_c;
    one size only is a clear error (exit status 2)."""
    from neurophase.cli import main

    saved = tmp_path / "runs.npz"
    args = ["scaling", "run", "--sizes", "4", "6", "8", "--temperatures", "2.2"]
    args += ["2.35", "--sweeps", "3000", "--seed", "3", "--quiet", "--json"]
    assert main([*args, "--save", str(saved)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["scaling", "analyse", str(saved), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["results"]["T_c"] == second["results"]["T_c"]
    assert abs(first["results"]["T_c"]["value"] - T_C_2D) < 0.1
    assert main(["scaling", "run", "--sizes", "8", "--quiet"]) == 2
    assert "--sizes" in capsys.readouterr().err


def test_susceptibility_peak_of_exact_curves():
    """The peak of beta N (<m^2> - <|m|>^2) found by reweighting exact 2 x 2 and
    3 x 3 histograms is the maximum of neurophase.exact's curve (to 1e-6)."""
    from scipy.optimize import minimize_scalar

    data = scaling.ScalingData(
        _exact_series(2, [1.5, 6.0]) + _exact_series(3, [1.5, 6.0])
    )
    found = {p.size: p for p in scaling.peaks(data)}
    for side in (2, 3):
        res = minimize_scalar(
            lambda t, side=side: (
                -exact.enumerate_lattice((side, side), t).susceptibility_abs
            ),
            bounds=(1.5, 6.0),
            method="bounded",
            options={"xatol": 1e-10},
        )
        assert abs(found[side].temperature.value - res.x) < 1e-6
        assert found[side].height.value == pytest.approx(-res.fun, rel=1e-9)


@pytest.mark.slow
def test_simulated_complete_graph_agrees_with_exact_curie_weiss():
    """Heat-bath runs of the complete graph (N = 64 ... 512, T = J) give Binder
    crossings and exponents that agree within 4 sigma with the same analysis
    of the exact finite-N Curie-Weiss distributions."""
    sizes = [64, 128, 256, 512]
    simulated = scaling.run_study(
        npx.Lattice.complete,
        sizes,
        [1.0],
        sweeps=40_000,
        burn_in=1000,
        seed=SEED,
        algorithm="heat-bath",
    )
    exact_data = scaling.ScalingData.curie_weiss(sizes, [0.8, 1.2])
    for pair in ((64, 128), (128, 256), (256, 512), (64, 512)):
        got = scaling.crossing(simulated, pair)
        expected = scaling.crossing(exact_data, pair)
        assert_agrees(got.temperature, expected.temperature.value, f"T* {pair}")
        assert_agrees(got.value, expected.value.value, f"U4* {pair}")
    got, expected = scaling.analyse(simulated), scaling.analyse(exact_data)
    assert_agrees(got.inv_nu.exponent, expected.inv_nu.exponent.value, "1/nu_N")
    assert_agrees(
        got.gamma_over_nu.exponent, expected.gamma_over_nu.exponent.value, "gamma/nu_N"
    )


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(2, 7), min_size=1, max_size=3).map(tuple),
    data=st.data(),
)
def test_measured_kmin_equals_numpy_fft_for_any_configuration(shape, data):
    """Simulation.measure's |m(k_min)|^2 equals NumPy's FFT for any spins."""
    n = math.prod(shape)
    bits = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    spins = np.where(np.array(bits), 1, -1).reshape(shape)
    sim = npx.Simulation(npx.Lattice(shape), start=spins)
    f = np.fft.fftn(spins.astype(np.float64))
    for a, value in enumerate(sim.measure()["kmin_magnetisation2"]):
        index = [0] * len(shape)
        index[a] = 1
        assert value == pytest.approx(abs(f[tuple(index)]) ** 2 / n**2, abs=1e-13)


def test_sweep_store_feeds_the_scaling_analysis(tmp_path):
    # The stored per-sweep series (m, e and |m(k_min)|^2) of a sweep are the
    # records of the engine: the scaling data built from the HDF5 file
    # reproduce, at the simulated temperature (no reweighting shift), the
    # Binder cumulant the sweep computed from the same series.
    from neurophase import sweeps

    spec = {
        "sweep": {"seed": SEED, "sweeps": 1500, "burn_in": 200, "series": True},
        "grid": {
            "geometry": "square",
            "L": [6, 10],
            "temperature": 2.27,
            "algorithm": "wolff",
        },
    }
    result = sweeps.run_sweep(spec, tmp_path / "fss.h5", executor="threads")
    data = scaling.ScalingData.from_sweep(tmp_path / "fss.h5")
    assert data.sizes == (6, 10)
    assert data.has_correlation_length
    table = result.table
    for i in range(len(table)):
        size, temp = int(table["L"].iloc[i]), float(table["temperature"].iloc[i])
        value, _ = data.curve("binder", size, [temp])
        assert value[0] == pytest.approx(table["binder"].iloc[i], rel=1e-9)
    with pytest.raises(ValueError, match="geometry must be one of"):
        scaling.ScalingData.from_sweep(result, geometry="cubic")


@pytest.mark.parametrize("omega", [-1.0, 0.0, math.nan, math.inf])
def test_analyse_refuses_an_omega_that_is_not_finite_and_positive(
    omega: float,
) -> None:
    data = scaling.ScalingData.curie_weiss([64, 256], [0.95, 1.0, 1.05])
    with pytest.raises(ValueError, match="omega must be finite and > 0"):
        scaling.analyse(data, omega=omega)


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_study_hands_back_the_finished_runs(workers: int) -> None:
    # Ctrl-C (here raised by the progress callback of the third run) ends the
    # study with StudyInterrupted, a KeyboardInterrupt holding the finished runs.
    calls = []

    def progress(size: int, temperature: float) -> None:
        calls.append((size, temperature))
        if len(calls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(scaling.StudyInterrupted) as info:
        scaling.run_study(
            npx.Lattice.square,
            [4, 6],
            [2.2, 2.4],
            sweeps=100,
            burn_in=10,
            algorithm="metropolis",
            seed=SEED,
            n_blocks=5,
            workers=workers,
            progress=progress,
        )
    assert isinstance(info.value, KeyboardInterrupt)
    assert info.value.total == 4
    assert 2 <= len(info.value.runs) <= 3
    assert all(r.sweeps == 100 for r in info.value.runs)
