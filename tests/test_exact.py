"""Tests of the exact Ising reference results in ``neurophase.exact``.

Every test checks one physical fact or one cross-check between two independent
exact methods (full enumeration, Kaufman, Onsager, transfer matrices, sector
sums, plain Python loops).
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from neurophase import exact

T_C = 2.0 / math.log1p(math.sqrt(2.0))

AVERAGE_FIELDS = [f.name for f in dataclasses.fields(exact.ExactAverages)]
CHAIN_FIELDS = [f.name for f in dataclasses.fields(exact.ChainFiniteResult)]


# ---------------------------------------------------------------------------
# Independent brute-force reference: plain Python loops over states
# ---------------------------------------------------------------------------


def _averages_from_states(
    states: list[tuple[float, float, float]], n_sites: int, temperature: float
) -> dict[str, float]:
    """All ExactAverages fields from a list of (E, M, M_staggered) per state."""
    beta = 1.0 / temperature
    e_min = min(s[0] for s in states)
    weights = [math.exp(-beta * (s[0] - e_min)) for s in states]
    z = math.fsum(weights)

    def mean(values: list[float]) -> float:
        return math.fsum(w * v for w, v in zip(weights, values, strict=True)) / z

    def variance(values: list[float]) -> float:
        mu = mean(values)
        return mean([(v - mu) ** 2 for v in values])

    e = [s[0] / n_sites for s in states]
    m = [s[1] / n_sites for s in states]
    ms = [s[2] / n_sites for s in states]
    m2 = mean([x * x for x in m])
    m4 = mean([x**4 for x in m])
    return {
        "energy": mean(e),
        "energy2": mean([x * x for x in e]),
        "specific_heat": beta**2 * n_sites * variance(e),
        "magnetisation": mean(m),
        "abs_magnetisation": mean([abs(x) for x in m]),
        "magnetisation2": m2,
        "magnetisation4": m4,
        "binder": 1.0 - m4 / (3.0 * m2 * m2),
        "susceptibility_abs": beta * n_sites * variance([abs(x) for x in m]),
        "susceptibility_connected": beta * n_sites * variance(m),
        "susceptibility_second_moment": beta * n_sites * m2,
        "staggered_magnetisation_abs": mean([abs(x) for x in ms]),
        "staggered_magnetisation2": mean([x * x for x in ms]),
        "free_energy": -(temperature / n_sites) * (math.log(z) - beta * e_min),
    }


def _lattice_brute_force(
    shape: tuple[int, ...],
    pairs: list[tuple[int, int]],
    temperature: float,
    coupling: float,
    field: np.ndarray,
) -> dict[str, float]:
    """Loop over all states of a lattice given an explicit list of bonds."""
    n_sites = math.prod(shape)
    h = [float(x) for x in np.asarray(field).ravel()]
    signs = [(-1) ** sum(np.unravel_index(i, shape)) for i in range(n_sites)]
    states = []
    for spins in itertools.product((1, -1), repeat=n_sites):
        bond_sum = sum(spins[i] * spins[j] for i, j in pairs)
        energy = -coupling * bond_sum - math.fsum(
            hi * si for hi, si in zip(h, spins, strict=True)
        )
        mag = sum(spins)
        stag = sum(g * s for g, s in zip(signs, spins, strict=True))
        states.append((energy, float(mag), float(stag)))
    return _averages_from_states(states, n_sites, temperature)


def _assert_matches(
    result: object, reference: dict[str, float], fields: list[str], rtol: float
) -> None:
    for name in fields:
        got, want = getattr(result, name), reference[name]
        assert got == pytest.approx(want, rel=rtol, abs=1e-13), name


# ---------------------------------------------------------------------------
# Bond lists
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [(5,), (3, 3), (2, 2), (4, 4), (2, 3, 4), (2, 2, 2, 2, 2)],
    ids=lambda s: "x".join(map(str, s)),
)
def test_periodic_bond_list_gives_every_site_2d_bonds(shape: tuple[int, ...]) -> None:
    bonds = exact.bond_list(shape, "periodic")
    n_sites = math.prod(shape)
    assert bonds.shape == (len(shape) * n_sites, 2)
    degree = np.bincount(bonds.ravel(), minlength=n_sites)
    assert np.all(degree == 2 * len(shape))


def test_periodic_side_two_lists_each_neighbour_pair_twice() -> None:
    bonds = exact.bond_list((2, 2), "periodic")
    pairs = sorted(tuple(sorted(map(int, b))) for b in bonds)
    assert pairs == [(0, 1), (0, 1), (0, 2), (0, 2), (1, 3), (1, 3), (2, 3), (2, 3)]


@pytest.mark.parametrize(
    ("shape", "n_bonds"),
    [((3, 3), 12), ((2, 2), 4), ((4,), 3), ((2, 3, 4), 46)],
    ids=["3x3", "2x2", "4", "2x3x4"],
)
def test_open_bond_list_counts_each_bond_once(
    shape: tuple[int, ...], n_bonds: int
) -> None:
    bonds = exact.bond_list(shape, "open")
    assert bonds.shape == (n_bonds, 2)
    assert len({tuple(sorted(map(int, b))) for b in bonds}) == n_bonds
    coords = np.array(np.unravel_index(bonds, shape))  # (d, n_bonds, 2)
    assert np.all(np.abs(coords[..., 0] - coords[..., 1]).sum(axis=0) == 1)


# ---------------------------------------------------------------------------
# Full enumeration
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("boundary", ["open", "periodic"])
def test_per_site_field_enumeration_matches_brute_force_loop(boundary: str) -> None:
    shape = (3, 3)
    field = np.random.default_rng(7).normal(scale=0.6, size=shape)
    pairs = [(int(i), int(j)) for i, j in exact.bond_list(shape, boundary)]
    reference = _lattice_brute_force(shape, pairs, 1.3, 0.7, field)
    result = exact.enumerate_lattice(shape, 1.3, 0.7, field, boundary)
    _assert_matches(result, reference, AVERAGE_FIELDS, rtol=1e-12)


@pytest.mark.parametrize("temperature", [0.8, 2.5])
def test_periodic_2x2_lattice_couples_each_neighbour_pair_twice(
    temperature: float,
) -> None:
    distinct_pairs = [(0, 1), (0, 2), (1, 3), (2, 3)]
    reference = _lattice_brute_force(
        (2, 2), distinct_pairs, temperature, 2.0 * 1.1, np.full((2, 2), 0.3)
    )
    result = exact.enumerate_lattice((2, 2), temperature, 1.1, 0.3)
    _assert_matches(result, reference, AVERAGE_FIELDS, rtol=1e-12)


@pytest.mark.parametrize(
    ("shape", "boundary"),
    [((4, 4), "periodic"), ((2, 2, 2), "periodic"), ((3, 3), "open"), ((6,), "open")],
    ids=["4x4-periodic", "2x2x2-periodic", "3x3-open", "6-open"],
)
def test_enumeration_with_negative_coupling_is_gauge_equivalent_on_bipartite_lattice(
    shape: tuple[int, ...], boundary: str
) -> None:
    # s_i -> (-1)^{sum x} s_i maps J to -J and swaps m with the staggered m_s.
    ferro = exact.enumerate_lattice(shape, 1.7, 1.0, 0.0, boundary)
    anti = exact.enumerate_lattice(shape, 1.7, -1.0, 0.0, boundary)
    for name in ("energy", "energy2", "specific_heat", "free_energy"):
        assert getattr(anti, name) == pytest.approx(getattr(ferro, name), rel=1e-12)
    assert anti.staggered_magnetisation_abs == pytest.approx(
        ferro.abs_magnetisation, rel=1e-12
    )
    assert anti.staggered_magnetisation2 == pytest.approx(
        ferro.magnetisation2, rel=1e-12
    )
    assert anti.abs_magnetisation == pytest.approx(
        ferro.staggered_magnetisation_abs, rel=1e-12
    )
    assert anti.magnetisation2 == pytest.approx(
        ferro.staggered_magnetisation2, rel=1e-12
    )


@pytest.mark.parametrize(
    ("shape", "temperature"),
    [((4, 4), 0.5), ((2, 2, 2), 0.5), ((8,), 0.1)],
    ids=["4x4", "2x2x2", "chain-8"],
)
def test_binder_tends_to_two_thirds_at_low_temperature(
    shape: tuple[int, ...], temperature: float
) -> None:
    result = exact.enumerate_lattice(shape, temperature)
    assert result.binder == pytest.approx(2.0 / 3.0, abs=1e-5)
    assert result.abs_magnetisation == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "shape", [(4, 4), (2, 2, 2), (3, 3, 2)], ids=["4x4", "2x2x2", "3x3x2"]
)
def test_ground_state_energy_per_spin_is_minus_d_times_coupling(
    shape: tuple[int, ...],
) -> None:
    result = exact.enumerate_lattice(shape, 0.1, 1.3)
    assert result.energy == pytest.approx(-len(shape) * 1.3, rel=1e-12)
    assert result.specific_heat == pytest.approx(0.0, abs=1e-12)
    # f = e0 - T ln(2) / N with the two-fold degenerate ground state
    expected_free = -len(shape) * 1.3 - 0.1 * math.log(2.0) / math.prod(shape)
    assert result.free_energy == pytest.approx(expected_free, rel=1e-12)


@pytest.mark.parametrize(
    "shape", [(3, 3), (4, 4), (2, 2, 2)], ids=["3x3", "4x4", "2x2x2"]
)
def test_high_temperature_limit_is_independent_spins(shape: tuple[int, ...]) -> None:
    n = math.prod(shape)
    t = 1e12
    result = exact.enumerate_lattice(shape, t)
    # Independent +-1 spins: <M^2> = N, <M^4> = 3N^2 - 2N.
    assert result.magnetisation2 == pytest.approx(1.0 / n, rel=1e-8)
    assert result.magnetisation4 == pytest.approx((3 * n * n - 2 * n) / n**4, rel=1e-8)
    assert result.binder == pytest.approx(2.0 / (3.0 * n), rel=1e-6)
    assert result.staggered_magnetisation2 == pytest.approx(1.0 / n, rel=1e-8)
    assert result.susceptibility_second_moment * t == pytest.approx(1.0, rel=1e-8)
    assert result.energy == pytest.approx(0.0, abs=1e-7)
    assert result.free_energy / t == pytest.approx(-math.log(2.0), rel=1e-9)


def test_specific_heat_equals_temperature_derivative_of_energy() -> None:
    t, dt = 1.9, 1e-4

    def energy(temp: float) -> float:
        return exact.enumerate_lattice((3, 3), temp, 1.0, 0.2).energy

    numeric = (energy(t + dt) - energy(t - dt)) / (2.0 * dt)
    result = exact.enumerate_lattice((3, 3), t, 1.0, 0.2)
    assert result.specific_heat == pytest.approx(numeric, rel=1e-7)


def test_connected_susceptibility_equals_field_derivative_of_magnetisation() -> None:
    t, h, dh = 2.4, 0.1, 1e-5

    def magnetisation(field: float) -> float:
        return exact.enumerate_lattice((3, 3), t, 1.0, field).magnetisation

    numeric = (magnetisation(h + dh) - magnetisation(h - dh)) / (2.0 * dh)
    result = exact.enumerate_lattice((3, 3), t, 1.0, h)
    assert result.susceptibility_connected == pytest.approx(numeric, rel=1e-7)


def test_energy_is_beta_derivative_of_beta_times_free_energy() -> None:
    beta, db = 0.6, 1e-5

    def beta_f(b: float) -> float:
        return b * exact.enumerate_lattice((2, 3), 1.0 / b, 0.9, -0.3).free_energy

    numeric = (beta_f(beta + db) - beta_f(beta - db)) / (2.0 * db)
    result = exact.enumerate_lattice((2, 3), 1.0 / beta, 0.9, -0.3)
    assert result.energy == pytest.approx(numeric, rel=1e-8)


def test_reversing_the_field_reverses_the_magnetisation() -> None:
    up = exact.enumerate_lattice((3, 3), 1.5, 1.0, 0.4)
    down = exact.enumerate_lattice((3, 3), 1.5, 1.0, -0.4)
    assert down.magnetisation == pytest.approx(-up.magnetisation, rel=1e-13)
    for name in AVERAGE_FIELDS:
        if name != "magnetisation":
            assert getattr(down, name) == pytest.approx(getattr(up, name), rel=1e-12)


def test_chunked_enumeration_matches_single_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shape = (3, 4)
    field = np.linspace(-0.5, 0.7, 12).reshape(shape)
    single = exact.enumerate_lattice(shape, 0.9, 1.0, field)
    monkeypatch.setattr(exact, "_LOW_BITS", 5)
    monkeypatch.setattr(exact, "_GATHER_BITS", 2)
    chunked = exact.enumerate_lattice(shape, 0.9, 1.0, field)
    for name in AVERAGE_FIELDS:
        assert getattr(chunked, name) == pytest.approx(
            getattr(single, name), rel=1e-12, abs=1e-14
        ), name


# ---------------------------------------------------------------------------
# Kaufman
# ---------------------------------------------------------------------------

KAUFMAN_TEMPERATURES = [0.7, 1.5, 2.0, T_C, 2.5, 3.0, 5.0]


def _assert_kaufman_matches(L: int, temperature: float, coupling: float) -> None:
    k = exact.kaufman(L, temperature, coupling)
    e = exact.enumerate_lattice((L, L), temperature, coupling)
    assert k.free_energy == pytest.approx(e.free_energy, rel=1e-10)
    assert k.energy == pytest.approx(e.energy, rel=1e-10)
    assert k.specific_heat == pytest.approx(e.specific_heat, rel=1e-10)
    assert k.log_partition_function == pytest.approx(
        -e.free_energy * L * L / temperature, rel=1e-12
    )


@pytest.mark.parametrize("temperature", KAUFMAN_TEMPERATURES, ids=lambda t: f"T{t:.3f}")
def test_kaufman_matches_enumeration_4x4(temperature: float) -> None:
    _assert_kaufman_matches(4, temperature, 1.0)


@pytest.mark.parametrize("temperature", KAUFMAN_TEMPERATURES, ids=lambda t: f"T{t:.3f}")
def test_kaufman_2x2_matches_enumeration_with_doubled_bonds(temperature: float) -> None:
    _assert_kaufman_matches(2, temperature, 1.0)


@pytest.mark.parametrize("temperature", [1.0, 2.5, 4.0], ids=lambda t: f"T{t}")
def test_kaufman_odd_3x3_matches_enumeration_for_ferromagnet(
    temperature: float,
) -> None:
    _assert_kaufman_matches(3, temperature, 1.0)


@pytest.mark.parametrize("temperature", [0.5, 0.3], ids=["T0.5", "T0.3"])
def test_kaufman_low_temperature_specific_heat_matches_enumeration(
    temperature: float,
) -> None:
    # The specific heat is O(e^{-8J/T}) here; documented accuracy ~1e-16 e^{4K}.
    k = exact.kaufman(4, temperature)
    e = exact.enumerate_lattice((4, 4), temperature)
    assert k.specific_heat == pytest.approx(e.specific_heat, rel=1e-8)


@pytest.mark.parametrize("L", [2, 4, 16, 64], ids=lambda n: f"L{n}")
def test_kaufman_negative_coupling_equals_positive_on_even_lattice(L: int) -> None:
    ferro = exact.kaufman(L, 2.1, 1.3)
    anti = exact.kaufman(L, 2.1, -1.3)
    assert anti.log_partition_function == ferro.log_partition_function
    assert anti.energy == ferro.energy
    assert anti.specific_heat == ferro.specific_heat


def test_kaufman_negative_coupling_matches_enumeration_4x4() -> None:
    _assert_kaufman_matches(4, 1.8, -0.8)


@pytest.mark.parametrize("temperature", [1.5, T_C, 3.0], ids=["T1.5", "Tc", "T3"])
def test_kaufman_energy_and_specific_heat_are_derivatives_of_log_z(
    temperature: float,
) -> None:
    L, n = 16, 256
    beta = 1.0 / temperature

    def log_z(b: float) -> float:
        return exact.kaufman(L, 1.0 / b).log_partition_function

    def differences(db: float) -> tuple[float, float]:
        lo, mid, hi = log_z(beta - db), log_z(beta), log_z(beta + db)
        return (hi - lo) / (2 * db), (hi - 2 * mid + lo) / db**2

    # Richardson extrapolation removes the O(db^2) truncation error.
    (d1_h, d2_h), (d1_half, d2_half) = differences(1e-3), differences(5e-4)
    d1 = (4.0 * d1_half - d1_h) / 3.0
    d2 = (4.0 * d2_half - d2_h) / 3.0
    result = exact.kaufman(L, temperature)
    assert result.energy == pytest.approx(-d1 / n, rel=1e-9)
    assert result.specific_heat == pytest.approx(beta**2 * d2 / n, rel=1e-6)


@pytest.mark.parametrize("temperature", [2.0, 3.0], ids=["T2", "T3"])
def test_kaufman_64x64_energy_approaches_onsager(temperature: float) -> None:
    k = exact.kaufman(64, temperature)
    assert k.energy == pytest.approx(exact.onsager_energy(temperature), abs=1e-6)


@pytest.mark.parametrize("temperature", [1.5, 2.0, 3.0], ids=["T1.5", "T2", "T3"])
def test_kaufman_128x128_specific_heat_approaches_onsager(temperature: float) -> None:
    k = exact.kaufman(128, temperature)
    assert k.specific_heat == pytest.approx(
        exact.onsager_specific_heat(temperature), abs=1e-8
    )


def test_kaufman_specific_heat_at_tc_grows_like_log_L() -> None:
    # C(T_c, L) ~ (8 K_c^2 / pi) ln L + const + O(ln L / L) (Ferdinand-Fisher):
    # the increment per doubling of L tends to (8 K_c^2 / pi) ln 2.
    c = [exact.kaufman(L, T_C).specific_heat for L in (64, 128, 256)]
    slope = 8.0 * (0.5 * math.log1p(math.sqrt(2.0))) ** 2 / math.pi * math.log(2.0)
    first, second = (c[1] - c[0]) / slope - 1.0, (c[2] - c[1]) / slope - 1.0
    assert abs(first) < 5e-3
    assert abs(second) < 0.6 * abs(first)


@pytest.mark.parametrize("temperature", [0.05, 1e-3], ids=["T0.05", "T0.001"])
def test_kaufman_low_temperature_limit_is_two_fold_ground_state(
    temperature: float,
) -> None:
    k = exact.kaufman(8, temperature)
    assert k.energy == pytest.approx(-2.0, rel=1e-14)
    assert k.specific_heat == pytest.approx(0.0, abs=1e-14)
    assert k.log_partition_function == pytest.approx(
        2.0 * 64 / temperature + math.log(2.0), rel=1e-14
    )


def test_kaufman_handles_large_lattices_without_overflow() -> None:
    k = exact.kaufman(512, 1.0)
    assert math.isfinite(k.log_partition_function)
    assert k.energy == pytest.approx(exact.onsager_energy(1.0), rel=1e-12)


# ---------------------------------------------------------------------------
# Onsager
# ---------------------------------------------------------------------------


def test_critical_temperature_is_2J_over_ln_1_plus_sqrt2() -> None:
    assert exact.critical_temperature_square() == pytest.approx(2.269185314213022)
    assert exact.critical_temperature_square(-0.5) == pytest.approx(0.5 * T_C)


@pytest.mark.parametrize("coupling", [1.0, 2.5, -1.0], ids=["J1", "J2.5", "J-1"])
def test_onsager_energy_at_tc_is_minus_sqrt2(coupling: float) -> None:
    tc = exact.critical_temperature_square(coupling)
    energy = exact.onsager_energy(tc, coupling)
    assert energy == pytest.approx(-math.sqrt(2.0) * abs(coupling), rel=1e-14)


def test_onsager_energy_is_continuous_through_tc() -> None:
    temps = T_C * np.array([1.0 - 1e-9, 1.0, 1.0 + 1e-9])
    energies = exact.onsager_energy(temps)
    assert np.all(np.abs(energies + math.sqrt(2.0)) < 1e-7)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 2.5, 4.0], ids=lambda t: f"T{t}")
def test_onsager_specific_heat_is_temperature_derivative_of_energy(
    temperature: float,
) -> None:
    dt = 1e-5
    numeric = (
        exact.onsager_energy(temperature + dt) - exact.onsager_energy(temperature - dt)
    ) / (2.0 * dt)
    assert exact.onsager_specific_heat(temperature) == pytest.approx(numeric, rel=1e-7)


@pytest.mark.parametrize(
    "temperature", [0.4, 0.8, 1.0, 1.1, 1.5], ids=lambda t: f"T{t}"
)
def test_onsager_specific_heat_equals_large_kaufman_lattice_below_tc(
    temperature: float,
) -> None:
    # Far from T_c the 128 x 128 lattice is converged to machine precision, so
    # this checks both the low-temperature series and the closed form.
    onsager = exact.onsager_specific_heat(temperature)
    kaufman = exact.kaufman(128, temperature).specific_heat
    assert onsager == pytest.approx(kaufman, rel=1e-10)


def test_onsager_specific_heat_diverges_logarithmically_at_tc() -> None:
    assert exact.onsager_specific_heat(T_C) == math.inf
    # C ~ -(8 K_c^2 / pi) ln|1 - T/T_c|: fixed increment per decade.
    c = np.asarray(exact.onsager_specific_heat(T_C * (1.0 + np.array([1e-6, 1e-7]))))
    slope = 8.0 * (0.5 * math.log1p(math.sqrt(2.0))) ** 2 / math.pi * math.log(10.0)
    assert c[1] - c[0] == pytest.approx(slope, rel=1e-4)


def test_onsager_magnetisation_vanishes_at_and_above_tc() -> None:
    m = exact.onsager_magnetisation(np.array([T_C, 2.3, 3.0, 10.0]))
    assert np.all(m == 0.0)


def test_onsager_magnetisation_has_exponent_one_eighth_near_tc() -> None:
    t = 1e-8
    m = exact.onsager_magnetisation(T_C * (1.0 - t))
    amplitude = (8.0 * math.sqrt(2.0) * 0.5 * math.log1p(math.sqrt(2.0))) ** 0.125
    assert m / t**0.125 == pytest.approx(amplitude, rel=1e-6)


def test_onsager_magnetisation_matches_low_temperature_series() -> None:
    # m = 1 - 2 x^4 - 8 x^6 - 34 x^8 - ..., x = e^{-2J/T}
    temperature = 0.5
    x = math.exp(-2.0 / temperature)
    assert exact.onsager_magnetisation(temperature) == pytest.approx(
        1.0 - 2.0 * x**4 - 8.0 * x**6 - 34.0 * x**8, abs=1e-14
    )


def test_onsager_functions_broadcast_over_temperature_arrays() -> None:
    temps = np.array([1.0, 2.0, 3.0])
    for fn in (
        exact.onsager_energy,
        exact.onsager_specific_heat,
        exact.onsager_magnetisation,
    ):
        values = fn(temps)
        assert isinstance(values, np.ndarray) and values.shape == (3,)
        assert values[1] == fn(2.0)
        assert isinstance(fn(2.0), float)


# ---------------------------------------------------------------------------
# One-dimensional chain
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [8, 10])
@pytest.mark.parametrize("boundary", ["periodic", "open"])
@pytest.mark.parametrize(
    ("coupling", "field", "temperature"),
    [(1.0, 0.0, 1.5), (-0.7, 0.3, 0.9), (1.2, -0.5, 0.6), (1.0, 0.05, 0.4)],
    ids=["J1-h0", "J-0.7-h0.3", "J1.2-h-0.5", "J1-h0.05-lowT"],
)
def test_chain_enumeration_matches_transfer_matrix(
    n: int, boundary: str, coupling: float, field: float, temperature: float
) -> None:
    tm = exact.chain_finite(n, temperature, coupling, field, boundary)
    enum = exact.enumerate_lattice((n,), temperature, coupling, field, boundary)
    for name in CHAIN_FIELDS:
        assert getattr(tm, name) == pytest.approx(
            getattr(enum, name), rel=1e-10, abs=1e-13
        ), name


@settings(max_examples=40, derandomize=True, database=None, deadline=None)
@given(
    n=st.integers(2, 9),
    boundary=st.sampled_from(["periodic", "open"]),
    coupling=st.floats(-2.0, 2.0),
    field=st.floats(-1.5, 1.5),
    temperature=st.floats(0.3, 5.0),
)
def test_chain_transfer_matrix_matches_enumeration_for_any_parameters(
    n: int, boundary: str, coupling: float, field: float, temperature: float
) -> None:
    tm = exact.chain_finite(n, temperature, coupling, field, boundary)
    enum = exact.enumerate_lattice((n,), temperature, coupling, field, boundary)
    for name in CHAIN_FIELDS:
        if name == "binder" and enum.magnetisation2 < 1e-8:
            continue  # ill-conditioned ratio of tiny moments
        assert getattr(tm, name) == pytest.approx(
            getattr(enum, name), rel=1e-8, abs=1e-11
        ), name


def test_two_spin_ring_has_a_doubled_bond() -> None:
    t, j, h = 0.8, 0.6, 0.2
    states = [
        (-2 * j * s1 * s2 - h * (s1 + s2), float(s1 + s2), float(s1 - s2))
        for s1, s2 in itertools.product((1, -1), repeat=2)
    ]
    reference = _averages_from_states(states, 2, t)
    _assert_matches(exact.chain_finite(2, t, j, h), reference, CHAIN_FIELDS, 1e-12)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0], ids=lambda t: f"T{t}")
def test_zero_field_chain_has_energy_minus_J_tanh_K(temperature: float) -> None:
    j = 1.3
    k = j / temperature
    result = exact.chain_infinite(temperature, j)
    assert result.energy == pytest.approx(-j * math.tanh(k), rel=1e-14)
    assert result.specific_heat == pytest.approx((k / math.cosh(k)) ** 2, rel=1e-13)
    assert result.susceptibility == pytest.approx(math.exp(2 * k) / temperature)
    assert result.magnetisation == 0.0
    assert result.correlation_length == pytest.approx(-1.0 / math.log(math.tanh(k)))
    assert result.free_energy == pytest.approx(
        -temperature * math.log(2.0 * math.cosh(k)), rel=1e-14
    )


@pytest.mark.parametrize(
    ("temperature", "coupling", "field"),
    [(1.0, 1.0, 0.2), (0.5, 1.0, -0.01), (2.0, -1.0, 0.7), (0.3, 0.5, 3.0)],
    ids=["ferro", "ferro-lowT", "antiferro", "strong-field"],
)
def test_chain_magnetisation_is_sinh_over_root(
    temperature: float, coupling: float, field: float
) -> None:
    b = 1.0 / temperature
    expected = math.sinh(b * field) / math.sqrt(
        math.sinh(b * field) ** 2 + math.exp(-4.0 * b * coupling)
    )
    result = exact.chain_infinite(temperature, coupling, field)
    assert result.magnetisation == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize(
    ("temperature", "coupling", "field"),
    [(1.0, 1.0, 0.2), (0.7, 1.0, 0.0), (2.0, -1.0, 0.7), (0.5, -0.5, -0.3)],
    ids=["ferro", "ferro-h0", "antiferro", "antiferro-lowT"],
)
def test_chain_infinite_derivatives_are_consistent(
    temperature: float, coupling: float, field: float
) -> None:
    d = 1e-5
    result = exact.chain_infinite(temperature, coupling, field)

    def at(t: float, h: float) -> exact.ChainInfiniteResult:
        return exact.chain_infinite(t, coupling, h)

    chi = (
        at(temperature, field + d).magnetisation
        - at(temperature, field - d).magnetisation
    ) / (2 * d)
    heat = (at(temperature + d, field).energy - at(temperature - d, field).energy) / (
        2 * d
    )
    mag = -(
        at(temperature, field + d).free_energy - at(temperature, field - d).free_energy
    ) / (2 * d)
    assert result.susceptibility == pytest.approx(chi, rel=1e-7)
    assert result.specific_heat == pytest.approx(heat, rel=1e-7)
    assert result.magnetisation == pytest.approx(mag, rel=1e-7, abs=1e-10)


@pytest.mark.parametrize(
    ("temperature", "coupling", "field"),
    [(1.0, 1.0, 0.0), (1.0, 1.0, 0.1), (0.6, -1.0, 0.4), (3.0, 0.5, -1.0)],
    ids=["ferro-h0", "ferro", "antiferro", "hot"],
)
def test_long_ring_converges_to_infinite_chain(
    temperature: float, coupling: float, field: float
) -> None:
    ring = exact.chain_finite(100_000, temperature, coupling, field)
    limit = exact.chain_infinite(temperature, coupling, field)
    assert ring.free_energy == pytest.approx(limit.free_energy, rel=1e-12)
    assert ring.energy == pytest.approx(limit.energy, rel=1e-10)
    assert ring.magnetisation == pytest.approx(limit.magnetisation, abs=1e-10)
    assert ring.specific_heat == pytest.approx(limit.specific_heat, rel=1e-8)
    assert ring.susceptibility_connected == pytest.approx(
        limit.susceptibility, rel=1e-8
    )


# ---------------------------------------------------------------------------
# Curie-Weiss
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temperature", "coupling", "field"),
    [(0.8, 1.0, 0.0), (1.5, 1.0, 0.2), (0.6, -1.0, 0.3), (1.0, 2.0, -0.1)],
    ids=["ordered", "field", "antiferro", "strong-J"],
)
def test_curie_weiss_matches_complete_graph_enumeration_n10(
    temperature: float, coupling: float, field: float
) -> None:
    n = 10
    pairs = list(itertools.combinations(range(n), 2))
    states = []
    for spins in itertools.product((1, -1), repeat=n):
        pair_sum = sum(spins[i] * spins[j] for i, j in pairs)
        energy = -(coupling / n) * pair_sum - field * sum(spins)
        states.append((energy, float(sum(spins)), 0.0))
    reference = _averages_from_states(states, n, temperature)
    result = exact.curie_weiss(n, temperature, coupling, field)
    fields = [f for f in AVERAGE_FIELDS if not f.startswith("staggered")]
    _assert_matches(result, reference, fields, rtol=1e-11)
    assert math.isnan(result.staggered_magnetisation_abs)
    assert math.isnan(result.staggered_magnetisation2)


def test_curie_weiss_abs_magnetisation_approaches_mean_field_solution() -> None:
    temperature = 0.8
    m_star = brentq(lambda m: m - math.tanh(m / temperature), 0.1, 1.0)
    result = exact.curie_weiss(100_000, temperature)
    assert result.abs_magnetisation == pytest.approx(m_star, abs=1e-3)
    assert result.binder == pytest.approx(2.0 / 3.0, abs=1e-3)


def test_curie_weiss_in_field_approaches_mean_field_solution() -> None:
    temperature, field = 1.5, 0.1
    m_star = brentq(lambda m: m - math.tanh((m + field) / temperature), -1.0, 1.0)
    result = exact.curie_weiss(100_000, temperature, 1.0, field)
    assert result.magnetisation == pytest.approx(m_star, abs=1e-4)


def test_curie_weiss_high_temperature_limit_is_independent_spins() -> None:
    n, t = 50, 1e9
    result = exact.curie_weiss(n, t)
    assert result.magnetisation2 == pytest.approx(1.0 / n, rel=1e-7)
    assert result.binder == pytest.approx(2.0 / (3.0 * n), rel=1e-5)
    assert result.free_energy / t == pytest.approx(-math.log(2.0), rel=1e-9)


def test_curie_weiss_binder_vanishes_in_disordered_phase() -> None:
    result = exact.curie_weiss(100_000, 2.0)
    assert abs(result.binder) < 1e-3
    assert result.susceptibility_connected == pytest.approx(1.0 / (2.0 - 1.0), rel=1e-3)


# ---------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda: exact.enumerate_lattice((1, 4), 1.0), "shape"),
        (lambda: exact.enumerate_lattice((2,) * 6, 1.0), "shape"),
        (lambda: exact.enumerate_lattice((6, 5), 1.0), "shape"),
        (lambda: exact.enumerate_lattice((3, 3), 0.0), "temperature"),
        (lambda: exact.enumerate_lattice((3, 3), math.nan), "temperature"),
        (lambda: exact.enumerate_lattice((3, 3), 1.0, math.inf), "coupling"),
        (lambda: exact.enumerate_lattice((3, 3), 1.0, 1.0, np.zeros(9)), "field"),
        (lambda: exact.enumerate_lattice((3, 3), 1.0, boundary="twisted"), "boundary"),
        (lambda: exact.bond_list((3, 0)), "shape"),
        (lambda: exact.kaufman(1, 1.0), "L"),
        (lambda: exact.kaufman(3, 1.0, -1.0), "L"),
        (lambda: exact.kaufman(4, -2.0), "temperature"),
        (lambda: exact.onsager_energy(1.0, 0.0), "coupling"),
        (lambda: exact.onsager_energy([1.0, -1.0]), "temperature"),
        (lambda: exact.onsager_magnetisation(1.0, -1.0), "coupling"),
        (lambda: exact.critical_temperature_square(0.0), "coupling"),
        (lambda: exact.chain_infinite(1.0, 1.0, math.nan), "field"),
        (lambda: exact.chain_finite(1, 1.0), "n"),
        (lambda: exact.chain_finite(4, 1.0, boundary="helical"), "boundary"),
        (lambda: exact.chain_finite(5, 1e-3, -1.0), "temperature"),
        (lambda: exact.curie_weiss(0, 1.0), "n"),
        (lambda: exact.curie_weiss(2.5, 1.0), "n"),  # type: ignore[arg-type]
    ],
    ids=[
        "side-too-small",
        "too-many-dims",
        "too-many-sites",
        "zero-temperature",
        "nan-temperature",
        "infinite-coupling",
        "field-wrong-shape",
        "unknown-boundary",
        "bond-list-side-zero",
        "kaufman-L1",
        "kaufman-odd-antiferro",
        "kaufman-negative-T",
        "onsager-zero-coupling",
        "onsager-negative-T",
        "onsager-m-antiferro",
        "tc-zero-coupling",
        "chain-nan-field",
        "chain-n1",
        "chain-unknown-boundary",
        "chain-too-cold",
        "cw-n0",
        "cw-noninteger-n",
    ],
)
def test_invalid_input_raises_value_error_naming_the_parameter(
    call: object, parameter: str
) -> None:
    with pytest.raises(ValueError, match=rf"\b{parameter}\b"):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda: exact.onsager_energy("2"), "temperature"),  # type: ignore[arg-type]
        (lambda: exact.onsager_specific_heat(["2"]), "temperature"),
        (lambda: exact.kaufman(4, "2"), "temperature"),  # type: ignore[arg-type]
        (lambda: exact.curie_weiss(4, 1.0, "1"), "coupling"),  # type: ignore[arg-type]
        (lambda: exact.chain_infinite(1.0, 1.0, 1j), "field"),  # type: ignore[arg-type]
        (lambda: exact.enumerate_lattice((2, 2), 1.0, field="0"), "field"),
    ],
    ids=[
        "onsager-str",
        "onsager-list-of-str",
        "kaufman-str",
        "cw-str-coupling",
        "chain-complex-field",
        "enumerate-str-field",
    ],
)
def test_non_real_input_raises_type_error_naming_the_parameter(
    call: object, parameter: str
) -> None:
    """Strings are refused, as by simulate(), instead of being parsed."""
    with pytest.raises(TypeError, match=rf"\b{parameter}\b"):
        call()  # type: ignore[operator]


def test_array_builders_refuse_sizes_beyond_their_memory_limit() -> None:
    with pytest.raises(ValueError, match=r"\bL\b.*1000000"):
        exact.kaufman(exact.MAX_KAUFMAN_SIDE + 1, 2.0)
    with pytest.raises(ValueError, match=r"shape.*1000000"):
        exact.bond_list((2000, 2000))
    with pytest.raises(ValueError, match=r"\bn\b"):
        exact.curie_weiss(10**8, 1.0)


def test_result_containers_are_frozen() -> None:
    result = exact.curie_weiss(4, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.energy = 0.0  # type: ignore[misc]
