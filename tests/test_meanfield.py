"""Mean-field theory of the membrane: each test names the fact it checks.

Reference values are closed forms, finite differences of independent
functions, the exact finite-N Curie–Weiss sums and 1D chain of
``neurophase.exact``, and published critical temperatures.  Random numbers
appear only in two checks (a noisy threshold signal and a Monte Carlo average
over noise), both drawn with the suite's fixed ``SEED``.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from conftest import SEED, Z_TOLERANCE
from neurophase import activations as act
from neurophase import exact
from neurophase import meanfield as mf

#: Published simple-cubic critical coupling K_c = J/T_c = 0.221654626(5)
#: (Ferrenberg, Xu and Landau, Phys. Rev. E 97, 043301 (2018)).
CUBIC_TC = 1.0 / 0.221654626

TEMPERATURES = (0.3, 0.7, 0.95, 1.0, 1.05, 1.6, 4.0)
FIELDS = (-1.2, -0.2, -0.01, 0.0, 0.01, 0.05, 0.3, 2.0)


# ---------------------------------------------------------------------------
# Roots, stability and free energies
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("field", FIELDS)
def test_roots_solve_the_equation_and_their_number_follows_the_spinodal(
    field: float, temperature: float
) -> None:
    """Every root solves m = tanh((zJ m + h)/T); three roots exactly when T < T_c
    and |h| < h_s(T), else one (zJ = 1)."""
    r = mf.roots(field, temperature)
    m = r.magnetisation
    assert np.all(np.abs(np.tanh((m + field) / temperature) - m) <= 1e-14)
    assert np.all(np.diff(m) > 0)
    h_s = float(mf.spinodal(temperature)[1])
    expected = 3 if (temperature < 1.0 and abs(field) < h_s) else 1
    assert m.size == expected
    if m.size == 3:
        assert r.stability == ("stable", "unstable", "stable")


@settings(max_examples=60, deadline=None)
@given(
    field=st.floats(-3.0, 3.0),
    temperature=st.floats(0.02, 5.0),
    zj=st.floats(0.0, 3.0),
)
def test_equilibrium_root_is_the_global_minimum_of_bragg_williams(
    field: float, temperature: float, zj: float
) -> None:
    """For any (h, T, zJ) the equilibrium root minimises f_BW over a dense grid of
    m in [-1, 1], and every root solves the equation."""
    r = mf.roots(field, temperature, zj)
    m = r.magnetisation
    assert np.all(np.abs(np.tanh((zj * m + field) / temperature) - m) <= 1e-13)
    grid = np.linspace(-1.0, 1.0, 20001)
    f_grid = np.asarray(mf.free_energy_bragg_williams(grid, field, temperature, zj))
    f_eq = float(mf.free_energy_bragg_williams(r.equilibrium, field, temperature, zj))
    assert f_eq <= f_grid.min() + 1e-12


def test_roots_at_the_spinodal_merge_into_a_marginal_root() -> None:
    """At h = h_s(T) the lower stable root merges with the unstable one at
    m = -m_s, where zJ (1 - m^2) = T (a tangent root, marked marginal)."""
    t = 0.5
    m_s, h_s = mf.spinodal(t)
    r = mf.roots(float(h_s), t)
    assert r.magnetisation.size == 2
    assert r.stability == ("marginal", "stable")
    assert r.magnetisation[0] == pytest.approx(-float(m_s), abs=1e-9)
    assert mf.roots(float(h_s) * (1 - 1e-9), t).magnetisation.size == 3
    assert mf.roots(float(h_s) * (1 + 1e-9), t).magnetisation.size == 1


@pytest.mark.parametrize("temperature", (0.4, 0.8, 1.3))
@pytest.mark.parametrize("field", (0.0, 0.04, -0.15))
def test_both_free_energies_are_stationary_and_equal_at_every_root(
    field: float, temperature: float
) -> None:
    """f_var and f_BW have zero slope at each root (central differences), agree
    there, and have positive curvature exactly at the stable roots."""
    zj = 1.0
    r = mf.roots(field, temperature, zj)
    eps, wide = 1e-6, 1e-4  # slope: small truncation; curvature: small rounding
    for m, kind, f in zip(r.magnetisation, r.stability, r.free_energy, strict=True):
        grid = np.array([m - eps, m, m + eps, m - wide, m + wide])
        for form in (mf.free_energy_variational, mf.free_energy_bragg_williams):
            fv = np.asarray(form(grid, field, temperature, zj))
            slope = (fv[2] - fv[0]) / (2 * eps)
            curvature = (fv[4] - 2 * fv[1] + fv[3]) / wide**2
            assert abs(slope) < 1e-8, (form.__name__, m)
            assert fv[1] == pytest.approx(f, abs=1e-13)
            assert (curvature > 0) == (kind == "stable"), (form.__name__, m, kind)


def test_equilibrium_root_has_lowest_free_energy_and_matches_the_kernel() -> None:
    """roots().equilibrium (brentq, lowest free energy, sign of h or of the zero)
    equals the batched activations.meanfield on a (h, T) grid."""
    hs, ts = np.meshgrid(np.array((*FIELDS, -0.0)), np.array(TEMPERATURES))
    kernel = np.asarray(act.meanfield(hs, ts, 1.0))
    for (i, j), h in np.ndenumerate(hs):
        eq = mf.roots(float(h), float(ts[i, j])).equilibrium
        # At the critical point tanh(m) - m = -m^3/3 vanishes in double precision
        # for |m| below ~(3 eps)^(1/3) ~ 1e-5: no solver can do better there.
        tol = 2e-5 if (h == 0.0 and ts[i, j] == 1.0) else 1e-12
        assert kernel[i, j] == pytest.approx(eq, abs=tol), (h, ts[i, j])
        if h == 0.0 and ts[i, j] < 1.0:
            assert math.copysign(1.0, eq) == math.copysign(1.0, h)


def test_landau_coefficients_are_the_taylor_series_of_bragg_williams() -> None:
    """f_BW - (a0 + a1 m + a2 m^2 + a4 m^4 + a6 m^6) = T m^8/56 + O(m^10): the
    next term of T/2 sum m^(2k)/(k(2k-1)), so every coefficient is exact."""
    for t, h, zj in ((0.7, 0.1, 1.0), (2.0, -0.3, 1.5)):
        lan = mf.landau_expansion(h, t, zj)
        assert (lan.a0, lan.a1, lan.a2, lan.a4) == pytest.approx(
            (-t * math.log(2), -h, (t - zj) / 2, t / 12)
        )
        m = 0.05
        rest = float(mf.free_energy_bragg_williams(m, h, t, zj)) - float(
            lan(m, order=6)
        )
        assert rest / m**8 == pytest.approx(t / 56, rel=1e-2)


def test_landau_minimum_gives_the_leading_spontaneous_magnetisation() -> None:
    """sqrt(-a2/(2 a4)) = sqrt(3 (T_c - T)/T) matches m_sp to O(T_c - T)."""
    for t in (0.999, 0.9999):
        m_sp = float(mf.spontaneous_magnetisation(t))
        lan = mf.landau_expansion(0.0, t)
        assert lan.minimum == pytest.approx(m_sp, rel=2 * (1 - t))


# ---------------------------------------------------------------------------
# Thermodynamics
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temperature", "field"), [(1.5, 0.05), (0.8, 0.02), (3.0, -0.4)]
)
def test_magnetisation_is_the_large_n_limit_of_exact_curie_weiss(
    temperature: float, field: float
) -> None:
    """The exact Curie–Weiss magnetisation for N = 10^6 spins equals mean field
    with zJ = J (N - 1)/N up to O(1/N) (DESIGN: the N -> inf limit is exact)."""
    n = 10**6
    cw = exact.curie_weiss(n, temperature, 1.0, field)
    m = float(mf.magnetisation(temperature, field, (n - 1) / n))
    assert cw.magnetisation == pytest.approx(m, abs=20.0 / n)
    e = float(mf.energy(temperature, field, (n - 1) / n))
    assert cw.energy == pytest.approx(e, abs=20.0 / n)


def test_spontaneous_magnetisation_limits() -> None:
    """m_sp = 0 for T >= T_c; ~sqrt(3 t) as t = 1 - T/T_c -> 0; 1 - m_sp ~
    2 exp(-2 zJ/T) as T -> 0; it is the largest stable root (zJ = 2)."""
    zj = 2.0
    assert np.all(np.asarray(mf.spontaneous_magnetisation([2.0, 2.5, 9.0], zj)) == 0.0)
    t = 1e-6
    assert float(mf.spontaneous_magnetisation(zj * (1 - t), zj)) == pytest.approx(
        math.sqrt(3 * t), rel=1e-5
    )
    cold = 0.2
    gap = 1.0 - float(mf.spontaneous_magnetisation(cold, zj))
    assert gap == pytest.approx(2 * math.exp(-2 * zj / cold), rel=1e-6)
    for temp in (0.5, 1.3, 1.99):
        assert float(mf.spontaneous_magnetisation(temp, zj)) == pytest.approx(
            mf.roots(0.0, temp, zj).stable.max(), abs=1e-12
        )


@pytest.mark.parametrize(
    ("temperature", "field"),
    [(0.6, 0.0), (0.6, 0.1), (1.4, 0.0), (1.0, 0.02), (0.9, -0.05)],
)
def test_susceptibility_is_the_field_derivative_of_the_root(
    temperature: float, field: float
) -> None:
    """chi equals a central difference of the brentq equilibrium root in h."""
    eps = 1e-6
    up = mf.roots(field + eps, temperature).equilibrium
    down = mf.roots(field - eps, temperature).equilibrium
    if field == 0.0:  # stay on the m > 0 branch
        up = mf.roots(eps, temperature).stable.max()
        down = mf.roots(-eps, temperature).stable.max()
    chi = float(mf.susceptibility(temperature, field))
    assert chi == pytest.approx((up - down) / (2 * eps), rel=1e-6)


def test_susceptibility_closed_forms_at_zero_field() -> None:
    """chi = 1/(T - T_c) above T_c, ~1/(2 (T_c - T)) just below, inf at T_c."""
    zj = 1.5
    above = np.array([1.6, 2.0, 5.0])
    assert np.allclose(mf.susceptibility(above, 0.0, zj), 1 / (above - zj), rtol=1e-12)
    t = zj * (1 - 1e-7)
    assert float(mf.susceptibility(t, 0.0, zj)) * 2 * (zj - t) == pytest.approx(
        1, rel=1e-5
    )
    assert math.isinf(float(mf.susceptibility(zj, 0.0, zj)))


@pytest.mark.parametrize("field", (0.0, 0.05, -0.2))
def test_specific_heat_is_the_temperature_derivative_of_the_energy(
    field: float,
) -> None:
    """C(T) equals a central difference of e(T) = -zJ m^2/2 - h m."""
    zj, eps = 1.0, 1e-6
    for t in (0.3, 0.7, 0.95, 1.2):
        if field == 0.0 and t > zj:
            assert float(mf.specific_heat(t, field, zj)) == 0.0
            continue
        de = float(mf.energy(t + eps, field, zj)) - float(mf.energy(t - eps, field, zj))
        assert float(mf.specific_heat(t, field, zj)) == pytest.approx(
            de / (2 * eps), rel=1e-5
        )


def test_specific_heat_jumps_by_three_halves_per_channel_at_tc() -> None:
    """At h = 0, C -> 3/2 as T -> T_c from below and C = 0 above, for any zJ."""
    for zj in (0.5, 1.0, 4.0):
        below = float(mf.specific_heat(zj * (1 - 1e-7), 0.0, zj))
        above = float(mf.specific_heat(zj * (1 + 1e-7), 0.0, zj))
        assert below == pytest.approx(mf.SPECIFIC_HEAT_JUMP, rel=1e-5)
        assert above == 0.0
        assert float(mf.specific_heat(zj, 0.0, zj)) == 0.0


def test_critical_isotherm_inverts_h_equals_tc_artanh_m_minus_zj_m() -> None:
    """On T = T_c: h = T_c artanh(m) - zJ m exactly, and m ~ (3h/zJ)^(1/3)."""
    zj = 2.0
    h = np.array([1e-8, 1e-4, 0.01, 0.3, 3.0])
    m = np.asarray(mf.critical_isotherm(h, zj))
    assert np.allclose(zj * np.arctanh(m) - zj * m, h, rtol=1e-7, atol=0)
    assert m[0] == pytest.approx((3 * h[0] / zj) ** (1 / 3), rel=1e-5)


def test_spinodal_field_limits() -> None:
    """h_s -> (2/3) zJ (1 - T/T_c)^(3/2) near T_c and -> zJ as T -> 0; 0 above T_c."""
    zj = 1.5
    t = 1e-4
    h_s = float(mf.spinodal(zj * (1 - t), zj)[1])
    assert h_s == pytest.approx(2 / 3 * zj * t**1.5, rel=1e-3)
    assert float(mf.coercive_field(1e-4 * zj, zj)) == pytest.approx(zj, rel=1e-2)
    assert float(mf.coercive_field(2.0, zj)) == 0.0


# ---------------------------------------------------------------------------
# Hysteresis
# ---------------------------------------------------------------------------


def test_quasistatic_loop_reverses_at_the_spinodal_and_keeps_m_sp_at_zero_field() -> (
    None
):
    """Below T_c the rising branch crosses m = 0 at h_s(T) (within one field
    step), the remanence is m_sp(T), and above T_c the loop closes."""
    temps = np.array([0.4, 0.8, 0.95, 1.3])
    loop = mf.hysteresis_loop(temps, field_amplitude=2.0, points=401)
    step = loop.field[1] - loop.field[0]
    h_c = np.asarray(mf.coercive_field(temps))
    assert np.all(np.abs(loop.coercive_field[:3] - h_c[:3]) <= step)
    assert np.allclose(
        loop.remanence[:3], mf.spontaneous_magnetisation(temps[:3]), atol=1e-12
    )
    assert np.allclose(loop.up[:, 3], loop.down[:, 3], atol=1e-12)
    assert abs(loop.area[3]) < 1e-12
    # down branch is the up branch reflected: m_down(h) = -m_up(-h)
    assert np.allclose(loop.down, -loop.up[::-1], atol=1e-12)
    # loop area grows as T falls (wider hysteresis)
    assert loop.area[0] > loop.area[1] > loop.area[2] > 0


def test_glauber_loop_is_wider_than_the_static_one_and_narrows_as_the_sweep_slows() -> (
    None
):
    """Dynamic hysteresis: the coercive field of a swept Glauber loop exceeds h_s
    and falls towards it as the sweep rate decreases."""
    t = np.array([0.7])
    h_s = float(mf.coercive_field(0.7))
    fast = mf.hysteresis_loop(
        t, method="glauber", sweep_rate=1e-2, field_amplitude=1.0, points=401
    )
    slow = mf.hysteresis_loop(
        t, method="glauber", sweep_rate=1e-3, field_amplitude=1.0, points=401
    )
    hc_fast, hc_slow = float(fast.coercive_field[0]), float(slow.coercive_field[0])
    assert hc_fast > hc_slow > h_s
    assert hc_slow - h_s < 0.5 * (hc_fast - h_s)


# ---------------------------------------------------------------------------
# Bethe–Peierls
# ---------------------------------------------------------------------------


def test_bethe_critical_temperature_lies_between_exact_and_mean_field() -> None:
    """T_c(exact) < T_c(Bethe) = 2J/ln(z/(z-2)) < zJ on the square (Onsager
    2.269) and simple cubic (4.5115) lattices; tanh(J/T_c) = 1/(z - 1)."""
    for z, exact_tc in ((4, exact.critical_temperature_square()), (6, CUBIC_TC)):
        tc = mf.bethe_critical_temperature(z)
        assert exact_tc < tc < mf.critical_temperature(z)
        assert math.tanh(1 / tc) == pytest.approx(1 / (z - 1), rel=1e-14)
    assert mf.bethe_critical_temperature(4) == pytest.approx(2 / math.log(2))


@pytest.mark.parametrize("z", (3, 4, 6))
def test_bethe_magnetisation_vanishes_exactly_at_its_tc_with_beta_one_half(
    z: int,
) -> None:
    """The Bethe self-consistency orders just below T_c = 2J/ln(z/(z-2)) and not
    above; m^2 is linear in T_c - T (beta = 1/2)."""
    tc = mf.bethe_critical_temperature(z)
    assert float(mf.bethe_magnetisation(tc * (1 + 1e-9), coordination=z)) == 0.0
    t = np.array([1e-6, 4e-6])
    m = np.asarray(mf.bethe_magnetisation(tc * (1 - t), coordination=z))
    assert np.all(m > 0)
    assert m[1] ** 2 / m[0] ** 2 == pytest.approx(4.0, rel=1e-4)


def test_bethe_tends_to_mean_field_as_z_grows_at_fixed_zj() -> None:
    """z -> inf with J = zJ/z: Bethe–Peierls m(T, h) and T_c -> mean field."""
    z = 1e6
    j = 1.0 / z
    assert mf.bethe_critical_temperature(z, j) == pytest.approx(1.0, rel=2e-6)
    for t, h in ((0.5, 0.0), (0.9, 0.02), (1.2, 0.1), (2.0, -0.3)):
        mb = float(mf.bethe_magnetisation(t, h, coordination=z, coupling=j))
        assert mb == pytest.approx(float(mf.magnetisation(t, h)), abs=1e-5)


def test_bethe_tends_to_the_exact_chain_as_z_approaches_two() -> None:
    """Bethe–Peierls is exact on a tree; as z -> 2+ it gives the exact 1D chain
    m(h) and zero-field susceptibility e^(2J/T)/T."""
    z = 2.0 + 1e-9
    for t, h in ((1.0, 0.1), (0.7, -0.05), (2.0, 0.5)):
        chain = exact.chain_infinite(t, 1.0, h)
        mb = float(mf.bethe_magnetisation(t, h, coordination=z))
        assert mb == pytest.approx(chain.magnetisation, abs=1e-7)
    for t in (0.8, 1.5):
        chi = float(mf.bethe_susceptibility(t, coordination=z))
        assert chi == pytest.approx(exact.chain_infinite(t).susceptibility, rel=1e-7)


def test_bethe_susceptibility_is_the_field_derivative_of_m() -> None:
    """chi (implicit differentiation) equals a central difference of m(h), above
    and below T_c, and (1 + t)/(T (1 - (z-1) t)) above T_c at h = 0."""
    z, eps = 4, 1e-6
    for t, h in ((2.0, 0.0), (2.5, 0.1), (3.5, 0.0), (3.5, -0.2)):
        up = float(mf.bethe_magnetisation(t, h + eps, coordination=z))
        down = float(mf.bethe_magnetisation(t, h - eps, coordination=z))
        if h == 0.0 and t < mf.bethe_critical_temperature(z):
            down = float(mf.bethe_magnetisation(t, eps / 2, coordination=z))
            up = float(mf.bethe_magnetisation(t, 3 * eps / 2, coordination=z))
            chi_fd = (up - down) / eps
        else:
            chi_fd = (up - down) / (2 * eps)
        chi = float(mf.bethe_susceptibility(t, h, coordination=z))
        assert chi == pytest.approx(chi_fd, rel=1e-5)
    tt = math.tanh(1 / 3.5)
    assert float(mf.bethe_susceptibility(3.5, coordination=z)) == pytest.approx(
        (1 + tt) / (3.5 * (1 - 3 * tt)), rel=1e-12
    )


def test_bethe_roots_below_tc_are_symmetric_with_an_unstable_middle() -> None:
    """At h = 0 below T_c: three cavity fields -H, 0, H; the outer ones stable."""
    r = mf.bethe_roots(2.0, 0.0, coordination=4)
    assert r.stability == ("stable", "unstable", "stable")
    assert r.cavity_field[0] == pytest.approx(-r.cavity_field[2], rel=1e-12)
    assert r.magnetisation[1] == 0.0


# ---------------------------------------------------------------------------
# Glauber dynamics
# ---------------------------------------------------------------------------


def test_glauber_without_coupling_relaxes_exponentially() -> None:
    """zJ = 0: m(t) = m_inf + (m0 - m_inf) exp(-t/tau), m_inf = tanh(h/T),
    for a batch of fields and initial states in one system."""
    times = np.linspace(0.0, 10.0, 51)
    h = np.array([-0.5, 0.0, 0.3, 1.0])[:, None]
    m0 = np.array([-0.9, 0.2, 0.8])[None, :]
    tau = 2.5
    traj = mf.glauber_dynamics(times, 0.7, h, zJ=0.0, m0=m0, tau=tau)
    assert traj.magnetisation.shape == (51, 4, 3)
    m_inf = np.tanh(h / 0.7)
    expected = m_inf + (m0 - m_inf) * np.exp(-times / tau)[:, None, None]
    assert np.allclose(traj.magnetisation, expected, atol=1e-8)


def test_glauber_linear_relaxation_rate_above_tc() -> None:
    """Above T_c at h = 0 a small m decays at rate (1 - zJ/T)/tau (linearised
    Glauber: critical slowing down as T -> T_c)."""
    times = np.linspace(0.0, 20.0, 11)
    temps = np.array([1.2, 2.0, 4.0])
    traj = mf.glauber_dynamics(
        times, temps, 0.0, zJ=1.0, m0=1e-7, rtol=1e-10, atol=1e-20
    )
    expected = 1e-7 * np.exp(-np.outer(times, 1 - 1 / temps))
    assert np.allclose(traj.magnetisation, expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("method", ["LSODA", "RK45", "BDF", "Radau", "DOP853"])
def test_glauber_converges_to_the_stable_root_of_its_basin(method: str) -> None:
    """Below T_c, states starting on either side of the unstable root flow to the
    stable root of their basin (activations.meanfield with m_prev), for every
    solver."""
    h, t = 0.05, 0.6
    r = mf.roots(h, t)
    m0 = np.array([-0.99, r.magnetisation[1] - 0.01, r.magnetisation[1] + 0.01, 0.99])
    traj = mf.glauber_dynamics(np.array([0.0, 200.0]), t, h, m0=m0, method=method)
    assert np.allclose(
        traj.magnetisation[-1],
        [r.magnetisation[0]] * 2 + [r.magnetisation[2]] * 2,
        atol=1e-6,
    )
    assert np.allclose(
        traj.magnetisation[-1],
        act.meanfield(np.full_like(m0, h), t, 1.0, m_prev=m0),
        atol=1e-6,
    )


def test_sampled_schedule_equals_the_callable_one() -> None:
    """A schedule given as samples (linearly interpolated) equals the same
    piecewise-linear schedule given as a callable."""
    times = np.linspace(0.0, 50.0, 201)
    knots = np.array([0.0, 10.0, 30.0, 50.0])
    temps = np.array([[1.5, 0.5], [0.4, 0.3], [1.2, 0.9], [2.0, 1.1]])

    def temp_of_t(x: float) -> np.ndarray:
        return np.array([np.interp(x, knots, temps[:, j]) for j in range(2)])

    sampled = mf.SampledSchedule.create(knots, temps)
    a = mf.glauber_dynamics(times, sampled, 0.01, m0=0.0)
    b = mf.glauber_dynamics(times, temp_of_t, 0.01, m0=0.0)
    assert np.allclose(a.magnetisation, b.magnetisation, atol=1e-7)
    assert np.allclose(a.temperature, b.temperature)


def test_batched_integration_equals_one_at_a_time() -> None:
    """One vectorised system gives the same m(t) as separate integrations."""
    sched = mf.LinearReheating.create([0.3, 0.6, 1.0], 1.25, rate=0.01)
    times = np.linspace(0.0, sched.duration, 301)
    batch = mf.glauber_dynamics(times, sched, 0.01, m0=0.01)
    for i, s in enumerate([0.3, 0.6, 1.0]):
        one = mf.LinearReheating.create([s], 1.25, rate=0.01)
        single = mf.glauber_dynamics(times, one, 0.01, m0=0.01)
        assert np.allclose(
            batch.magnetisation[:, i], single.magnetisation[:, 0], atol=1e-6
        )


# ---------------------------------------------------------------------------
# Quench schedules and the time magnetised
# ---------------------------------------------------------------------------


def test_schedules_follow_their_reheating_laws() -> None:
    """Linear: T = min(T0, T0 - k s + r t), clipped at T_min; Newtonian:
    T = T0 - k s exp(-t/tau_h); time below T_c is (k/r) ReLU(s - s0) and
    tau_h ln(k s/(T0 - T_c)) respectively."""
    s = np.array([0.0, 0.2, 0.5, 2.0])
    lin = mf.LinearReheating.create(s, 1.25, k=1.0, rate=0.01, minimum_temperature=1e-3)
    assert np.allclose(lin(10.0), np.minimum(1.25, np.maximum(1e-3, 1.25 - s) + 0.1))
    assert np.allclose(lin(-1.0), 1.25)
    assert np.allclose(lin.time_below(1.0), [0.0, 0.0, 25.0, 99.9])
    assert lin.duration == pytest.approx((1.25 - 1e-3) / 0.01)
    newt = mf.NewtonianReheating.create(s, 1.25, relaxation_time=50.0)
    assert np.allclose(
        newt(30.0), 1.25 - (1.25 - np.maximum(1e-3, 1.25 - s)) * math.exp(-0.6)
    )
    assert np.allclose(newt.time_below(1.0)[:3], [0.0, 0.0, 50 * math.log(0.5 / 0.25)])


def _reference_time_magnetised(
    t: np.ndarray, m: np.ndarray, on: float, off: float
) -> tuple[float, int]:
    """Plain loop over samples: the same rule as time_magnetised, written anew."""
    state, total, episodes = m[0] > on, 0.0, int(m[0] > on)
    for i in range(1, t.size):
        a, b, dt = m[i - 1], m[i], t[i] - t[i - 1]
        new = (b > on) or (state and b >= off)
        if state and new:
            total += dt
        elif not state and new:
            total += dt * (b - on) / (b - a)
            episodes += 1
        elif state and not new:
            total += dt * (a - off) / (a - b)
        state = new
    return total, episodes


def test_time_magnetised_matches_a_loop_and_merges_noisy_crossings() -> None:
    """Hysteretic thresholds: equal to a sample-by-sample loop on noisy
    signals; a smooth bump above theta gives its exact duration."""
    t = np.linspace(0.0, math.pi, 20001)
    res = mf.time_magnetised(t, np.sin(t), 0.5)
    assert float(res.time) == pytest.approx(math.pi - 2 * math.asin(0.5), abs=1e-6)
    assert int(res.episodes) == 1
    rng = np.random.default_rng(SEED)
    tt = np.linspace(0.0, 100.0, 2001)
    clean = np.sin(tt / 8.0)
    noisy = np.stack(
        [clean + 0.05 * rng.standard_normal(tt.size) for _ in range(5)], axis=1
    )
    res = mf.time_magnetised(tt, noisy, 0.3, 0.1)
    for j in range(5):
        total, episodes = _reference_time_magnetised(tt, noisy[:, j], 0.3, 0.1)
        assert float(res.time[j]) == pytest.approx(total, abs=1e-9)
        assert int(res.episodes[j]) == episodes
    # with separated thresholds the noise cannot split the two humps of sin
    assert np.all(res.episodes == 2)
    single = mf.time_magnetised(tt, noisy, 0.2)
    assert np.any(single.episodes > 2)


def test_threshold_temperature_tends_to_tc_and_solves_m_equals_theta() -> None:
    """T_theta = (zJ theta + h)/artanh(theta) gives m(T_theta) = theta and tends
    to T_c as theta -> 0."""
    for theta, h in ((0.5, 0.0), (0.2, 0.01), (0.9, 0.0)):
        t_theta = mf.threshold_temperature(theta, 1.0, h)
        assert float(mf.magnetisation(t_theta, h)) == pytest.approx(theta, rel=1e-10)
    assert mf.threshold_temperature(1e-4) == pytest.approx(1.0, abs=1e-8)


def _relu_fit(response: mf.QuenchResponse, k: float, r: float) -> tuple[float, float]:
    """Slope (in units of k/r) and threshold of the rising part of a rate curve."""
    s, rate = response.stimulus, response.rate
    t0 = response.schedule.resting_temperature
    sel = (rate > 0.2 * rate.max()) & (rate < 0.8 * rate.max()) & (s < t0 / k)
    slope, intercept = np.polyfit(s[sel], rate[sel], 1)
    return slope * r / k, -intercept / slope


@pytest.mark.slow
def test_slow_linear_reheating_gives_a_relu_converging_as_the_rate_falls() -> None:
    """Glauber with linear reheating: the rate curve is (k/r) ReLU(s - s0),
    s0 = (T0 - T_theta)/k, saturating at (T_theta - T_min)/r; slope error and
    threshold error shrink as r falls (the r -> 0 limit of the quench)."""
    t0, k, theta, hb = 1.25, 1.5, 0.5, 1e-2
    s = np.linspace(0.0, 1.0, 41)
    s0 = (t0 - mf.threshold_temperature(theta, 1.0, hb)) / k
    errors = []
    for r in (1e-3, 2.5e-4):
        sched = mf.LinearReheating.create(s, t0, k=k, rate=r, minimum_temperature=1e-3)
        resp = mf.quench_response(sched, bias=hb, theta_on=theta)
        slope, threshold = _relu_fit(resp, k, r)
        errors.append((abs(slope - 1), abs(threshold - s0)))
        t_theta = t0 - k * s0
        assert resp.rate[-1] * r == pytest.approx(t_theta - 1e-3, rel=0.01)
        assert np.all(resp.rate[s < s0 - 0.02] == 0.0)
    assert errors[1][0] < 0.01
    assert errors[1][0] < errors[0][0] / 2
    assert errors[1][1] < errors[0][1] / 2


@pytest.mark.slow
def test_small_threshold_relu_has_threshold_t0_minus_tc_and_cap_tc_over_r() -> None:
    """theta -> 0 (theta = 0.1, bias 1e-4) and slow reheating (r = 2.5e-4): the
    Glauber rate curve has slope k/r (2%), threshold (T0 - T_c)/k (within
    0.01) and saturates at T_c/r once k s > T0 (quench to T_min): within 2%,
    as m lags behind the reheating near T_c (critical slowing down)."""
    t0, k, r, theta, hb = 1.25, 1.0, 2.5e-4, 0.1, 1e-4
    s = np.concatenate([np.linspace(0.0, 1.0, 41), [1.3, 1.5]])
    sched = mf.LinearReheating.create(s, t0, k=k, rate=r, minimum_temperature=1e-3)
    resp = mf.quench_response(sched, bias=hb, theta_on=theta)
    slope, threshold = _relu_fit(resp, k, r)
    assert slope == pytest.approx(1.0, abs=0.02)
    assert threshold == pytest.approx((t0 - 1.0) / k, abs=0.01)
    assert resp.rate[-2:] * r == pytest.approx([1.0, 1.0], rel=0.02)


@pytest.mark.slow
def test_newtonian_reheating_gives_a_log_rectifier() -> None:
    """dT/dt = (T0 - T)/tau_h: the time magnetised is tau_h ln(k s/(T0 - T_theta))
    above threshold, within 1% of tau_h for tau_h = 2000 tau."""
    t0, theta, hb, tau_h = 1.25, 0.5, 1e-2, 2000.0
    gap = t0 - mf.threshold_temperature(theta, 1.0, hb)
    s = gap * np.array([0.8, 1.2, 1.5, 2.0, 3.0, 4.0])
    sched = mf.NewtonianReheating.create(s, t0, relaxation_time=tau_h)
    resp = mf.quench_response(sched, bias=hb, theta_on=theta)
    depth = t0 - sched.start_temperature  # k s, clipped at T_min
    expected = tau_h * np.log(np.maximum(depth / gap, 1.0))
    assert np.allclose(resp.rate, expected, atol=0.01 * tau_h)
    assert resp.rate[0] == 0.0


def test_logistic_noise_on_t0_gives_softplus_by_quadrature() -> None:
    """E over logistic noise of scale sigma on T0 of the r -> 0 firing time
    (quadrature over the noise) = (sigma/r) softplus((k s - (T0 - T_c))/sigma)
    below saturation (activations.softplus with gain 1/sigma)."""
    # sigma << T0 - T_c: noise that would put T0 itself below T_c (a membrane
    # that never stops firing, outside the formula) has weight ~exp(-25).
    t0, k, r, sigma = 1.25, 1.0, 1e-3, 0.01
    s = np.linspace(0.0, 0.6, 13)
    noisy = mf._logistic_noise_rate(s, t0, 1.0, k, r, sigma, 1e-9)
    soft = np.asarray(act.softplus(k * s - (t0 - 1.0), 1.0 / sigma)) / r
    assert np.allclose(noisy, soft, rtol=1e-6, atol=1e-9 / r)
    # Monte Carlo cross-check of the same average with a fixed seed
    eps = stats.logistic.rvs(size=200_000, random_state=np.random.default_rng(SEED))
    x = k * 0.25 - (t0 - 1.0) - sigma * eps
    mc = np.maximum(0.0, x) / r
    err = mc.std(ddof=1) / math.sqrt(mc.size)
    assert abs(mc.mean() - soft[5]) <= Z_TOLERANCE * err


def test_integrated_magnetisation_onset_exponent_is_three_halves() -> None:
    """(1/r) int m_sp dT over the reheating ~ (s - s0)^(3/2): the log-log slope
    of activations.quench_meanfield_rate and of a quadrature of m_sp, within 1%."""
    t0, k, r = 1.25, 1.0, 1e-3
    excess = np.geomspace(1e-6, 1e-3, 8)
    s = (t0 - 1.0) / k + excess
    quad = mf._integrated_spontaneous(s, t0, 1.0, k, r)
    kernel = np.asarray(act.quench_meanfield_rate(s, t0, 1.0, k, r))
    assert np.allclose(quad, kernel, rtol=1e-6)
    for values in (quad, kernel):
        slope = stats.linregress(np.log(excess), np.log(values)).slope
        assert slope == pytest.approx(1.5, rel=1e-2)
    # leading amplitude: (2/r) sqrt(1/(3 T_c)) ... from m_sp ~ sqrt(3 (T_c - T))
    assert quad[0] == pytest.approx(
        2 / 3 * math.sqrt(3) * excess[0] ** 1.5 / r, rel=1e-4
    )


# ---------------------------------------------------------------------------
# Exponents and the activation zoo
# ---------------------------------------------------------------------------


def test_fitted_exponents_obey_mean_field_values_and_scaling_relations() -> None:
    """beta = 1/2, gamma = 1 on both sides with amplitude ratio 2, delta = 3
    (each within 1%), alpha = 0 with jump 3/2; Rushbrooke alpha + 2 beta +
    gamma = 2 and Widom gamma = beta (delta - 1) within 1%."""
    e = mf.critical_exponents(1.5)
    assert e.beta.exponent == pytest.approx(0.5, rel=1e-2)
    assert e.gamma_above.exponent == pytest.approx(1.0, rel=1e-2)
    assert e.gamma_below.exponent == pytest.approx(1.0, rel=1e-2)
    assert e.amplitude_ratio == pytest.approx(2.0, rel=1e-2)
    assert e.delta == pytest.approx(3.0, rel=1e-2)
    assert abs(e.alpha) < 1e-2
    assert e.specific_heat_jump == pytest.approx(1.5, rel=1e-2)
    assert e.rushbrooke == pytest.approx(2.0, rel=1e-2)
    assert abs(e.widom) < 1e-2
    assert "alpha + 2 beta + gamma" in str(e)


@pytest.fixture(scope="module")
def zoo() -> mf.ActivationZoo:
    return mf.activation_zoo()


@pytest.mark.slow
def test_every_activation_of_the_zoo_is_reproduced_by_the_membrane(
    zoo: mf.ActivationZoo,
) -> None:
    """Each row's membrane-side computation matches its activation within the
    row's tolerance: tanh, logistic, Swish, step, high gain, ReLU, softplus,
    log-rectifier, 3/2 onset."""
    names = [r.activation for r in zoo.rows]
    assert names == [
        "tanh",
        "logistic",
        "Swish",
        "step",
        "high-gain linear",
        "ReLU",
        "softplus",
        "log-rectifier",
        "power-law onset",
    ]
    failing = [str(r) for r in zoo.rows if not r.holds]
    assert not failing, failing


@pytest.mark.slow
def test_zoo_prints_its_table_and_mapping(zoo: mf.ActivationZoo) -> None:
    """Plain and rich renderings list every activation and the physics ->
    neurone mapping (markup-like text such as E[...] survives)."""
    from rich.console import Console

    text = str(zoo)
    for r in zoo.rows:
        assert r.activation in text
    console = Console(record=True, width=250, file=io.StringIO())
    console.print(zoo)
    out = console.export_text()
    assert "E[time below T_c]" in out
    assert "firing rate" in out and "cooperativity" in out
    with pytest.raises(KeyError, match="no activation"):
        zoo.row("gelu")


def test_zoo_tables_print_as_plain_text() -> None:
    """print(zoo.table()) and print(zoo.mapping_table()) write text, not an
    object repr; markup-like cells such as E[...] are kept."""
    row = mf.ZooRow(
        "ReLU",
        "slow reheating",
        "E[time below T_c]",
        "ReLU(s)",
        "T0 - T_c -> threshold",
        1e-3,
        1e-2,
        "relative",
    )
    zoo = mf.ActivationZoo((row,), (("zJ", "cooperativity"),), {})
    text = str(zoo.table())
    assert "<rich" not in text and "E[time below T_c]" in text and "ok" in text
    assert "cooperativity" in str(zoo.mapping_table())


def test_high_gain_beyond_tanh_near_tc() -> None:
    """T > T_c: dm/dh at h = 0 is 1/(T - T_c) (a finite difference of the
    brentq root), above tanh's 1/T and diverging as T -> T_c."""
    eps = 1e-7
    for t in (1.01, 1.1, 2.0):
        gain = (mf.roots(eps, t).equilibrium - mf.roots(-eps, t).equilibrium) / (
            2 * eps
        )
        assert gain == pytest.approx(1 / (t - 1), rel=1e-6)
        assert gain > 1 / t


def test_zero_temperature_limit_is_the_mcculloch_pitts_step() -> None:
    """T -> 0: every root of the equilibrium is sign(h) to within exp(-2|h|/T)."""
    for h in (-0.3, -0.05, 0.05, 0.7):
        m = mf.roots(h, 1e-3, 1.0).equilibrium
        assert m == math.copysign(1.0, h)


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_figures_build_and_render() -> None:
    """Each figure function returns a Figure that renders to PNG (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from neurophase import meanfield_figures as mff

    sched = mf.LinearReheating.create(np.linspace(0.0, 1.0, 5), 1.25, rate=0.01)
    response = mf.quench_response(
        sched, bias=0.01, theta_on=0.5, theta_off=0.4, samples=401
    )
    figures = [
        mff.magnetisation_figure(coordination=4),
        mff.response_figure(),
        mff.free_energy_figure(),
        mff.phase_diagram_figure(),
        mff.susceptibility_figure(),
        mff.quench_figure(response),
        mff.rate_figure(rate=1e-2, relaxation_time=100.0, points=8),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        buf = io.BytesIO()
        FigureCanvasAgg(fig).print_png(buf)
        assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
        fig.clear()


def test_package_import_does_not_load_matplotlib() -> None:
    """neurophase.meanfield is exported lazily; importing the package leaves
    matplotlib unloaded."""
    code = (
        "import sys, neurophase; assert 'matplotlib' not in sys.modules; "
        "assert neurophase.meanfield.roots(0.0, 2.0).equilibrium == 0.0"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: mf.roots(0.1, 0.0), ValueError, "temperature"),
        (lambda: mf.roots(0.1, -1.0), ValueError, "temperature"),
        (lambda: mf.roots(math.nan, 1.0), ValueError, "field"),
        (lambda: mf.roots(0.0, 1.0, -1.0), ValueError, "zJ"),
        (lambda: mf.magnetisation([1.0, 0.0]), ValueError, "temperature"),
        (lambda: mf.susceptibility(1.0, [0.0, math.inf]), ValueError, "field"),
        (lambda: mf.spontaneous_magnetisation("hot"), TypeError, "temperature"),
        (lambda: mf.critical_temperature(0.5), ValueError, "coordination"),
        (lambda: mf.bethe_critical_temperature(2), ValueError, "coordination"),
        (
            lambda: mf.bethe_magnetisation(1.0, coordination=1.5),
            ValueError,
            "coordination",
        ),
        (
            lambda: mf.bethe_roots(1.0, coordination=math.nan),
            ValueError,
            "coordination",
        ),
        (lambda: mf.bethe_critical_temperature(4, 0.0), ValueError, "coupling"),
        (lambda: mf.free_energy_bragg_williams(1.2, 0.0, 1.0), ValueError, "m"),
        (lambda: mf.glauber_dynamics([0.0, 1.0], [], 0.0), ValueError, "empty"),
        (
            lambda: mf.glauber_dynamics([0.0, 1.0], lambda t: -1.0),
            ValueError,
            "temperature",
        ),
        (lambda: mf.glauber_dynamics([0.0], 1.0), ValueError, "times"),
        (lambda: mf.glauber_dynamics([1.0, 0.0], 1.0), ValueError, "increasing"),
        (lambda: mf.glauber_dynamics([0.0, 1.0], 1.0, m0=2.0), ValueError, "m"),
        (lambda: mf.glauber_dynamics([0.0, 1.0], 1.0, tau=0.0), ValueError, "tau"),
        (
            lambda: mf.glauber_dynamics([0.0, 1.0], 1.0, method="Euler"),
            ValueError,
            "method",
        ),
        (
            lambda: mf.SampledSchedule.create([0.0, 1.0], [1.0, 2.0, 3.0]),
            ValueError,
            "samples",
        ),
        (lambda: mf.SampledSchedule.create([], []), ValueError, "empty"),
        (
            lambda: mf.glauber_dynamics(
                [0.0, 1.0], mf.SampledSchedule.create([0.0], [-1.0])
            ),
            ValueError,
            "temperature",
        ),
        (lambda: mf.LinearReheating.create([-0.1], 1.25), ValueError, "stimulus"),
        (lambda: mf.LinearReheating.create([0.1], 1.25, rate=0.0), ValueError, "rate"),
        (lambda: mf.NewtonianReheating.create([0.1], math.inf), ValueError, "resting"),
        (
            lambda: mf.time_magnetised([0.0, 1.0], [0.0, 1.0], 0.2, 0.5),
            ValueError,
            "theta_off",
        ),
        (
            lambda: mf.time_magnetised([0.0, 1.0], [0.0], 0.2),
            ValueError,
            "magnetisation",
        ),
        (lambda: mf.threshold_temperature(1.0), ValueError, "theta"),
        (lambda: mf.hysteresis_loop(0.5, method="fast"), ValueError, "method"),
        (lambda: mf.critical_exponents(0.0), ValueError, "zJ"),
        (
            lambda: mf.activation_zoo(resting_temperature=0.9),
            ValueError,
            "resting_temperature",
        ),
    ],
)
def test_bad_input_raises_a_clear_error(
    call: object, error: type, message: str
) -> None:
    """Non-positive T, z <= 2 for Bethe–Peierls, z < 1, non-finite values,
    empty schedules, bad thresholds: ValueError/TypeError naming the parameter."""
    with pytest.raises(error, match=message):
        call()  # type: ignore[operator]


def test_quench_response_default_bias_fires_and_bias_zero_is_refused() -> None:
    """The default bias is the protocol's small positive field: a quench well
    past threshold fires.  bias <= 0 is refused (at 0 the deterministic
    trajectory stays on the unstable fixed point m = 0 and never fires)."""
    sched = mf.LinearReheating.create([0.1, 0.6, 1.0], 1.25, rate=0.02)
    resp = mf.quench_response(sched, samples=801)
    assert resp.bias == mf.DEFAULT_QUENCH_BIAS > 0.0
    assert resp.rate[0] == 0.0 and resp.rate[2] > resp.rate[1] > 0.0
    assert resp.threshold_stimulus == pytest.approx(
        1.25 - mf.threshold_temperature(0.5, 1.0, mf.DEFAULT_QUENCH_BIAS)
    )
    for bias in (0.0, -0.01):
        with pytest.raises(ValueError, match="bias must be > 0"):
            mf.quench_response(sched, bias=bias)


def test_quench_response_refuses_a_resting_temperature_at_or_below_tc() -> None:
    """The quench starts at rest above T_c = zJ."""
    sched = mf.LinearReheating.create([0.5, 1.0], 0.5, minimum_temperature=0.01)
    with pytest.raises(ValueError, match=r"resting_temperature must exceed T_c"):
        mf.quench_response(sched)
    with pytest.raises(ValueError, match=r"T_c = zJ = 2"):
        mf.quench_response(mf.LinearReheating.create([0.5], 1.5), zJ=2.0)
    # zJ = 0 (independent channels) has T_c = 0: any T0 > 0 is allowed.
    assert mf.quench_response(sched, zJ=0.0, samples=11).rate.shape == (2,)


def test_noise_average_matches_direct_quadrature() -> None:
    """The vectorised quadrature over logistic noise equals scipy.quad at one s."""
    t0, k, r, sigma, s = 1.25, 1.0, 1.0, 0.05, 0.3
    vec = float(mf._logistic_noise_rate(np.array([s]), t0, 1.0, k, r, sigma, 1e-9)[0])

    def f(eps: float) -> float:
        start = max(1e-9, t0 + sigma * eps - k * s)
        return max(0.0, min(1.0, t0 + sigma * eps) - start) * stats.logistic.pdf(eps)

    lower = (2e-9 - t0) / sigma
    kinks = [(k * s - t0 + 1.0) / sigma, (1.0 - t0) / sigma]
    direct, _ = integrate.quad(f, max(-45, lower), 45, points=kinks, limit=200)
    assert vec == pytest.approx(direct, rel=1e-8)
