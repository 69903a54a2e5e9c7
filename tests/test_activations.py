"""Activation kernels against exact and high-precision (mpmath) results.

Accuracy is measured in units in the last place (ulp) of the dtype: the distance
to the mpmath value rounded to that dtype, over the spacing of the dtype there.
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator

import mpmath as mp
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize

from neurophase import activations as act

DTYPES = [
    pytest.param(np.float64, id="float64"),
    pytest.param(np.float32, id="float32"),
]
#: Largest error allowed, in ulp of the result dtype (float32 results of most units
#: are the double-precision result rounded once, so they stay within one ulp).
ULP = {np.float64: 4.0, np.float32: 1.0}
#: Units with native single-precision kernels: float32 in, float32 arithmetic, held
#: to the same few-ulp bound as the double-precision kernels.
NATIVE_F32 = {
    "logistic",
    "logistic_derivative",
    "tanh",
    "tanh_derivative",
    "softplus",
    "softplus_derivative",
}
ULP_NATIVE_F32 = 4.0
GAINS = (1.0, 0.5, 4.0)  # powers of two: g*x is exact, the reference sees the same z


def each_simd_path(paths: Iterable[str] | None = None) -> Iterator[str]:
    """Selects in turn every SIMD path of ``paths`` (default: all compiled in) that
    this CPU runs, and restores the path selected before."""
    before = act.simd_path()
    try:
        for path in act.simd_paths() if paths is None else paths:
            try:
                act.select_simd_path(path)
            except ValueError:
                continue  # compiled in, but this CPU cannot run it
            yield path
    finally:
        act.select_simd_path(before)


def ulp_bound(name: str, dtype: type) -> float:
    """The error bound of unit ``name`` for ``dtype``."""
    return ULP_NATIVE_F32 if dtype is np.float32 and name in NATIVE_F32 else ULP[dtype]


mp.mp.dps = 50


def sample(dtype: type, n: int = 300, seed: int = 7) -> npt.NDArray[np.floating]:
    """Inputs over the whole range of the dtype: log-uniform magnitudes from the
    smallest subnormal to the largest finite number, both signs, plus specials."""
    info = np.finfo(dtype)
    rng = np.random.default_rng(seed)
    lo = math.log10(float(info.smallest_subnormal))
    hi = math.log10(float(info.max))
    mags = 10.0 ** rng.uniform(lo, hi, n)
    mid = rng.uniform(-60.0, 60.0, n)  # where the functions change
    small = 10.0 ** rng.uniform(-12, 0, n)
    x = np.concatenate([mags, -mags, mid, small, -small])
    x = x.astype(dtype)
    special = np.array(
        [0.0, -0.0, 1.0, -1.0, 20.0, -50.0, 1e4, -1000.0, 700.0, -745.0, 88.0, -103.0],
        dtype=dtype,
    )
    return np.concatenate([x, special, np.array([info.smallest_subnormal], dtype)])


def ulp_error(got: npt.NDArray, ref: list[mp.mpf], dtype: type) -> npt.NDArray:
    """|got - ref| in ulp of ``dtype`` at the reference (ref rounded to dtype)."""
    with np.errstate(over="ignore"):  # float32 overflow to inf is the rounding
        r = np.array([float(v) for v in ref], dtype=np.float64).astype(dtype)
    got = np.asarray(got, dtype=dtype)
    both_inf = np.isinf(r) & (got == r)
    diff = np.abs(got.astype(np.float64) - r.astype(np.float64))
    err = diff / np.spacing(np.abs(r)).astype(np.float64)
    err[both_inf] = 0.0
    return err


def check_ulp(
    name: str,
    got: npt.NDArray,
    x: npt.NDArray,
    ref: list,
    dtype: type,
    limit: float | None = None,
) -> None:
    err = ulp_error(got, ref, dtype)
    worst = int(np.nanargmax(err)) if err.size else 0
    bound = ULP[dtype] if limit is None else limit
    assert np.all(err <= bound), (
        f"{name}: {err[worst]:.1f} ulp at x = {x[worst]!r} "
        f"(got {got[worst]!r}, exact {mp.nstr(ref[worst], 20)})"
    )


# --- references -------------------------------------------------------------------


def mp_logistic(z: mp.mpf) -> mp.mpf:
    return 1 / (1 + mp.exp(-z))


def mp_softplus(z: mp.mpf) -> mp.mpf:
    return mp.log1p(mp.exp(z)) if z < 0 else z + mp.log1p(mp.exp(-z))


REFERENCES = {
    "logistic": lambda x, g: mp_logistic(g * x),
    "logistic_derivative": lambda x, g: g * mp_logistic(g * x) * mp_logistic(-g * x),
    "tanh": lambda x, g: mp.tanh(g * x),
    "tanh_derivative": lambda x, g: g * mp.sech(g * x) ** 2,
    "softplus": lambda x, g: mp_softplus(g * x) / g,
    "softplus_derivative": lambda x, g: mp_logistic(g * x),
    "swish": lambda x, g: x * mp_logistic(g * x),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_elementwise_within_few_ulp_of_mpmath(name: str, dtype: type) -> None:
    """Every elementwise unit and derivative is within a few ulp of the mpmath value
    over the whole range (subnormals, overflow to 0/inf) for gains 1, 1/2 and 4."""
    func = getattr(act, name)
    x = sample(dtype)
    for g in GAINS:
        got = func(x, g)
        assert got.dtype == dtype
        ref = [REFERENCES[name](mp.mpf(float(v)), mp.mpf(g)) for v in x]
        check_ulp(f"{name}(g={g})", got, x, ref, dtype, ulp_bound(name, dtype))


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_float64_kernels_with_inexact_gains_within_few_ulp(name: str) -> None:
    """With a gain that is not a power of two g x is rounded, and exp(-|g x|)
    magnifies that error by |g x| (up to ~700 ulp in the tails). The kernels carry
    the low part of g x into their exponential, and results that are divided or
    multiplied by g after an exponential below e^-600 are formed at scale 2^200:
    within a few ulp of mpmath at the exact product, the tails included."""
    func = getattr(act, name)
    rng = np.random.default_rng(17)
    base = sample(np.float64, n=120)
    for g in (2.0 / 0.7, 1.0 / 3.0, 1e-5, 3e4):
        # the whole range, the body, and the deep tail where exp(g x) is subnormal
        z = np.concatenate([np.linspace(-40, 40, 41), np.linspace(-745, -590, 25)])
        x = np.concatenate([base, z / g])
        got = func(x, g)
        ref = [REFERENCES[name](mp.mpf(float(v)), mp.mpf(g)) for v in x]
        check_ulp(f"{name}(g={g})", got, x, ref, np.float64, ULP[np.float64])
    x = rng.uniform(-700, 700, 200)
    gains = 10.0 ** rng.uniform(-1, 1, x.size)
    x = x / gains
    got = func(x, gains)
    ref = [
        REFERENCES[name](mp.mpf(float(v)), mp.mpf(float(g)))
        for v, g in zip(x, gains, strict=True)
    ]
    check_ulp(f"{name}(gain array)", got, x, ref, np.float64, ULP[np.float64])


@pytest.mark.parametrize("name", sorted(NATIVE_F32))
def test_float32_kernels_with_inexact_gains_within_few_ulp(name: str) -> None:
    """The single-precision kernels carry g x with ~48 bits (the gain split into
    two floats): for gains no float32 holds (2/0.7, 1/3, 1e-5, 3e4) and per-element
    gain arrays they stay within a few ulp of mpmath evaluated at the exact
    double-precision gain, also in the tails where exp(-|g x|) magnifies an error
    of g x by |g x|."""
    func = getattr(act, name)
    rng = np.random.default_rng(13)
    x = sample(np.float32, n=150)
    for g in (2.0 / 0.7, 1.0 / 3.0, 1e-5, 3e4):
        got = func(x, g)
        assert got.dtype == np.float32
        ref = [REFERENCES[name](mp.mpf(float(v)), mp.mpf(g)) for v in x]
        check_ulp(f"{name}(g={g})", got, x, ref, np.float32, ULP_NATIVE_F32)
    gains = 10.0 ** rng.uniform(-2, 2, x.size)
    got = func(x, gains)
    ref = [
        REFERENCES[name](mp.mpf(float(v)), mp.mpf(float(g)))
        for v, g in zip(x, gains, strict=True)
    ]
    check_ulp(f"{name}(gain array)", got, x, ref, np.float32, ULP_NATIVE_F32)


@pytest.mark.parametrize("name", sorted(NATIVE_F32))
def test_float32_kernels_with_extreme_gains(name: str) -> None:
    """Gains beyond the range of the single-precision split (2^-60 ... 2^60) take
    the double-precision kernels: results within one float32 ulp of mpmath, also
    when such a gain sits in a gain array among ordinary ones."""
    func = getattr(act, name)
    x = np.array([-3.0, -0.5, 0.0, 1e-3, 2.0, 1e30, -1e30, 7e-25], np.float32)
    for g in (1e-30, 1e25):
        ref = [REFERENCES[name](mp.mpf(float(v)), mp.mpf(g)) for v in x]
        check_ulp(f"{name}(g={g})", func(x, g), x, ref, np.float32, 1.0)
    gains = np.array([1.0, 1e-30, 0.3, 1e25, 2.0, 1.0, 0.1, 5.0])
    ref = [
        REFERENCES[name](mp.mpf(float(v)), mp.mpf(float(g)))
        for v, g in zip(x, gains, strict=True)
    ]
    check_ulp(f"{name}(mixed gains)", func(x, gains), x, ref, np.float32, 1.0)


@pytest.mark.parametrize("name", sorted(NATIVE_F32))
def test_float32_kernels_with_subnormal_results(name: str) -> None:
    """Where the float32 result is subnormal (logistic(z), softplus(z) and the
    derivatives for z ~ -88 ... -104; tanh' for z ~ -44 ... -52) it is rounded once
    from a normal intermediate: within a few subnormal ulp of mpmath, down to the
    smallest subnormal and to 0 beyond it, for gains 1, 1/2 and 2/0.7 (tanh, -1
    there, checks the saturation)."""
    x = np.concatenate(
        [np.linspace(-105.0, -86.0, 200), np.linspace(-53.0, -43.0, 100)]
    ).astype(np.float32)
    func = getattr(act, name)
    subnormal = 0
    for g in (1.0, 0.5, 2.0 / 0.7):
        got = func(x, g)
        ref = [REFERENCES[name](mp.mpf(float(v)), mp.mpf(g)) for v in x]
        check_ulp(f"{name}(g={g})", got, x, ref, np.float32, ULP_NATIVE_F32)
        subnormal += np.count_nonzero((got > 0) & (got < np.finfo(np.float32).tiny))
    assert subnormal > 50 or name == "tanh"  # tanh is -1 there: no subnormals


#: Interval starts of the float32 tanh polynomial table (0, then half-binades from
#: 2^-4 to 8) and the end of the last one, where |z| is clamped.
TANH_F32_BREAKS = [
    0.0,
    *(m * 2.0**e for e in range(-4, 3) for m in (1, 1.5)),
    8.0,
    10.5,
]
#: Where tanh rounds to 1 in float32.
TANH_F32_ONE = 9.010913
#: Largest error of the float32 tanh polynomials, in ulp: the table is fitted to
#: tanh with the roundings of its float32 evaluation at most 1.40 ulp off where
#: g x is exact (every float32 checked once); the low part of an inexact g x adds
#: its first-order term, about 0.1 ulp more.
TANH_F32_ULP_EXACT = 1.5
TANH_F32_ULP = 2.0


def tanh_f32_sweep() -> npt.NDArray[np.float32]:
    """Every float32 within 3000 steps of each interval start of the tanh table,
    4000 random values inside each interval, the tails (subnormals, tiny, huge),
    +-0 and +-inf, with both signs."""
    rng = np.random.default_rng(21)
    parts = []
    breaks = np.array(TANH_F32_BREAKS, np.float32).view(np.uint32).astype(np.int64)
    for b in [*breaks, np.float32(TANH_F32_ONE).view(np.uint32)]:
        parts.append(np.arange(max(int(b) - 3000, 0), int(b) + 3000))
    for a, b in itertools.pairwise(breaks):
        parts.append(rng.integers(a, b, 4000))
    tiny = np.float32(1e-30).view(np.uint32)
    parts.append(rng.integers(0, tiny, 4000))  # subnormal and tiny
    parts.append(rng.integers(breaks[-1], np.float32(np.inf).view(np.uint32), 4000))
    bits = np.concatenate(parts).astype(np.uint32)
    x = np.concatenate([bits.view(np.float32), np.array([np.inf], np.float32)])
    return np.concatenate([x, -x])


def test_float32_tanh_table_within_its_bound_across_every_interval() -> None:
    """The float32 tanh (a degree-6 polynomial on each of 16 intervals of |g x|)
    is within 1.5 ulp of tanh on both sides of every interval boundary, inside
    every interval and in the tails, for exact g x (gains 1, 1/2, 4); within 2 ulp
    for gains no float32 holds (1/3, 2/0.7); it is odd bitwise, tanh(+-0) = +-0,
    tanh(x) = x for tiny x, tanh(+-inf) = +-1 and NaN stays NaN; every path gives
    the same bits. Reference: tanh in float64 of the float64 product (error ~2^-29
    float32 ulp)."""
    x = tanh_f32_sweep()
    x64 = x.astype(np.float64)
    ref_bits = {g: act.tanh(x, g).view(np.uint32) for g in (1.0, 1.0 / 3.0)}
    for path in each_simd_path():
        for g, bits in ref_bits.items():
            assert np.array_equal(act.tanh(x, g).view(np.uint32), bits), (path, g)
    for g, bound in (
        (1.0, TANH_F32_ULP_EXACT),
        (0.5, TANH_F32_ULP_EXACT),
        (4.0, TANH_F32_ULP_EXACT),
        (1.0 / 3.0, TANH_F32_ULP),
        (2.0 / 0.7, TANH_F32_ULP),
    ):
        got = act.tanh(x, g)
        ref = np.tanh(x64 * g)
        spacing = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
        err = np.abs(got.astype(np.float64) - ref) / spacing
        worst = int(np.argmax(err))
        assert err[worst] <= bound, (g, x[worst], got[worst], ref[worst], err[worst])
        half = x.size // 2
        assert np.array_equal(got[half:].view(np.uint32), (-got[:half]).view(np.uint32))
    tiny = np.abs(x) < np.float32(2.0**-13)
    assert np.array_equal(act.tanh(x[tiny]).view(np.uint32), x[tiny].view(np.uint32))
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan], np.float32)
    got = act.tanh(special)
    assert list(got[:4]) == [0.0, 0.0, 1.0, -1.0]
    assert list(np.signbit(got[:2])) == [False, True]
    assert np.isnan(got[4:]).all()


def test_float32_kernels_at_special_values() -> None:
    """float32 limits: logistic(+-inf) = 1, 0; logistic(-1000) = 0; tanh(+-inf) =
    +-1, tanh(-0) = -0; softplus(inf) = inf, softplus(-inf) = 0, softplus(1e4) =
    1e4, softplus(-50) = 1.93e-22 (not 0); tanh'(20) = 1.7e-17 (not 0); the
    derivatives vanish at +-inf."""
    f32 = np.float32
    inf = np.array([np.inf, -np.inf], f32)
    assert list(act.logistic(inf)) == [1.0, 0.0]
    assert act.logistic(np.array(-1000.0, f32)) == 0.0
    assert list(act.tanh(inf)) == [1.0, -1.0]
    assert np.signbit(act.tanh(np.array(-0.0, f32)))
    assert list(act.softplus(inf)) == [np.inf, 0.0]
    assert act.softplus(np.array(1e4, f32)) == f32(1e4)
    assert act.softplus(np.array(-50.0, f32)) == pytest.approx(
        float(mp.log1p(mp.exp(-50))), rel=3e-7
    )
    assert act.tanh_derivative(np.array(20.0, f32)) == pytest.approx(
        float(mp.sech(20) ** 2), rel=3e-7
    )
    for name in ("logistic_derivative", "tanh_derivative", "softplus_derivative"):
        d = getattr(act, name)(inf)
        assert d[1] == 0.0 and d[0] == (1.0 if name == "softplus_derivative" else 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_swish_derivative_within_few_ulp_of_its_terms(dtype: type) -> None:
    """swish' = l + g x l (1 - l) is within a few ulp of mpmath, measured against the
    magnitude of its terms (the sum vanishes at g x = -1.2785, where no evaluation
    of the terms can resolve it relatively)."""
    x = sample(dtype)
    for g in GAINS:
        got = act.swish_derivative(x, g).astype(np.float64)
        for xi, gi in zip(x, got, strict=True):
            z = mp.mpf(float(xi)) * g
            lo, lc = mp_logistic(z), mp_logistic(-z)
            exact = lo + z * lo * lc
            scale = float(abs(lo) + abs(z * lo * lc))
            spacing = float(np.spacing(dtype(max(scale, float(np.finfo(dtype).tiny)))))
            assert abs(gi - float(exact)) <= 4 * spacing, (xi, g, gi, exact)


def test_numerical_facts_of_the_units() -> None:
    """logistic(-1000) = 0, logistic(+-inf) exact, softplus(1e4) = 1e4,
    softplus(-50) = 1.93e-22 (not 0), tanh'(20) = 1.7e-17 (not 0)."""
    assert act.logistic(-1000.0) == 0.0
    assert act.logistic(np.inf) == 1.0 and act.logistic(-np.inf) == 0.0
    assert act.softplus(1e4) == 1e4
    assert act.softplus(-50.0) == pytest.approx(float(mp.log1p(mp.exp(-50))), rel=1e-15)
    assert act.softplus(-50.0) == pytest.approx(1.9287498479639178e-22, rel=1e-15)
    assert act.tanh_derivative(20.0) == pytest.approx(
        float(mp.sech(20) ** 2), rel=1e-15
    )
    assert act.tanh_derivative(20.0) == pytest.approx(1.7e-17, rel=0.01)


ALL_UNITS = [
    "logistic",
    "logistic_derivative",
    "tanh",
    "tanh_derivative",
    "step",
    "step_derivative",
    "relu",
    "relu_derivative",
    "softplus",
    "softplus_derivative",
    "swish",
    "swish_derivative",
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ALL_UNITS)
def test_nan_in_gives_nan_out(name: str, dtype: type) -> None:
    """NaN in gives NaN out for every unit and derivative."""
    out = getattr(act, name)(np.array([np.nan, 1.0, np.nan], dtype=dtype))
    assert np.isnan(out[0]) and np.isnan(out[2]) and not np.isnan(out[1])


def test_signs_of_zero_of_step_and_relu() -> None:
    """step(+0) = 1, step(-0) = 0; relu(+-0) = +0; relu'(+0) = g, relu'(-0) = 0;
    tanh(-0) = -0; step' = 0 everywhere."""
    z = np.array([0.0, -0.0])
    assert list(act.step(z)) == [1.0, 0.0]
    r = act.relu(z)
    assert list(r) == [0.0, 0.0] and not np.signbit(r).any()
    assert not np.signbit(act.relu(np.array([-3.0, -np.inf]))).any()
    assert list(act.relu_derivative(z, 2.0)) == [2.0, 0.0]
    assert np.signbit(act.tanh(-0.0))
    assert list(act.step(np.array([np.inf, -np.inf, 5e-324, -5e-324]))) == [1, 0, 1, 0]
    assert list(act.step_derivative(np.array([0.0, -0.0, 1.0, -np.inf]))) == [0.0] * 4


@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormal_inputs_are_exact_where_the_function_is_linear(dtype: type) -> None:
    """Subnormal inputs: tanh(x) = x, relu(x) = x, swish'(x) = 1/2, logistic = 1/2,
    softplus = ln 2 (correct results, no flush to zero)."""
    tiny = np.finfo(dtype).smallest_subnormal
    x = (np.arange(1, 1001, dtype=np.float64) * float(tiny)).astype(dtype)
    x = np.concatenate([x, -x])
    np.testing.assert_array_equal(act.tanh(x), x)
    np.testing.assert_array_equal(act.relu(x[:1000]), x[:1000])
    np.testing.assert_array_equal(act.logistic(x), dtype(0.5))
    np.testing.assert_array_equal(act.softplus(x), dtype(math.log(2.0)))
    np.testing.assert_array_equal(act.swish_derivative(x), dtype(0.5))


# --- mean-field activation --------------------------------------------------------


def mp_meanfield(h: float, t: float, zj: float) -> mp.mpf:
    """The stable root with the sign of h (the largest root of the equation for
    |h|), by bisection of artanh(m) - (zJ m + |h|)/T on a logarithmic scale of m
    (below 1/2) or of 1 - m (above), with enough digits for full relative accuracy
    at any depth."""
    sign = -1 if math.copysign(1.0, h) < 0 else 1
    hh, tt, jj = mp.mpf(abs(h)), mp.mpf(t), mp.mpf(zj)
    if hh == 0 and jj <= tt:
        return sign * mp.mpf(0)

    def g_small(logm: mp.mpf) -> mp.mpf:
        digits = 60 + int(2.2 * max(0.0, -float(logm) / 2.3026))
        with mp.workdps(digits):
            m = mp.exp(logm)
            return mp.atanh(m) - (jj * m + hh) / tt

    def g_large(logq: mp.mpf) -> mp.mpf:  # increasing in m, so decreasing in q
        digits = 60 + int(1.2 * max(0.0, -float(logq) / 2.3026))
        with mp.workdps(digits):
            q = mp.exp(logq)
            return mp.log((2 - q) / q) / 2 - (jj * (1 - q) + hh) / tt

    lo, hi = mp.log(mp.mpf("1e-420")), mp.log(mp.mpf("0.5"))
    with mp.workdps(80):
        if g_small(hi) >= 0:
            for _ in range(130):
                mid = (lo + hi) / 2
                if g_small(mid) >= 0:
                    hi = mid
                else:
                    lo = mid
            return sign * mp.exp((lo + hi) / 2)
        if g_large(lo) <= 0:
            return sign * mp.mpf(1)
        for _ in range(130):
            mid = (lo + hi) / 2
            if g_large(mid) <= 0:
                hi = mid
            else:
                lo = mid
        return sign * (1 - mp.exp((lo + hi) / 2))


def meanfield_cases() -> tuple[npt.NDArray, npt.NDArray, npt.NDArray]:
    rng = np.random.default_rng(11)
    n = 120
    t = 10.0 ** rng.uniform(-2, 0.7, n)
    zj = rng.choice([0.0, 1.0, 2.5], n)
    h = np.sign(rng.uniform(-1, 1, n)) * 10.0 ** rng.uniform(-12, 2.5, n)
    # critical and near-critical points, h -> 0, T -> 0, huge |h|
    extra_t = np.array(
        [
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            1.0,
            0.5,
            0.5,
            1e-3,
            1e-3,
            2.0,
            1.0,
            1.0 + 1e-12,
            1.0 - 1e-12,
            0.999,
            1.0,
        ]
    )
    extra_h = np.array(
        [
            1e-300,
            1e-30,
            1e-9,
            1e-3,
            0.3,
            0.0,
            0.0,
            -0.0,
            0.2,
            -1e-5,
            1e6,
            1e300,
            1e-20,
            0.0,
            1e-8,
            5e-324,
        ]
    )
    return (
        np.concatenate([h, extra_h]),
        np.concatenate([t, extra_t]),
        np.concatenate([zj, np.ones(extra_t.size)]),
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_meanfield_within_few_ulp_of_mpmath_roots(dtype: type) -> None:
    """m(h; T, zJ) is within a few ulp of the 80-digit root (compared on m itself),
    including T = T_c with h -> 0, T -> 0, |h| huge and h = +-0 below T_c."""
    h, t, zj = meanfield_cases()
    with np.errstate(over="ignore"):  # 1e300 is inf in float32
        h = h.astype(dtype)
    got = act.meanfield(h, t, zj)
    assert got.dtype == dtype
    ref = [
        mp_meanfield(float(a), float(b), float(c))
        for a, b, c in zip(h, t, zj, strict=True)
    ]
    check_ulp(
        "meanfield", got, h, ref, dtype, limit=8.0 if dtype == np.float64 else 1.0
    )


def test_meanfield_derivative_and_open_fraction_against_mpmath() -> None:
    """chi = (1 - m^2)/(T - zJ (1 - m^2)) and n = (1 + m)/2 at the mpmath root."""
    h, t, zj = meanfield_cases()
    keep = ~((h == 0) & (t == zj))  # chi = inf there, tested separately
    h, t, zj = h[keep], t[keep], zj[keep]
    chi = act.meanfield_derivative(h, t, zj)
    n = act.open_fraction(h, t, zj)
    dn = act.open_fraction_derivative(h, t, zj)
    for i in range(h.size):
        with mp.workdps(80):
            m = mp_meanfield(float(h[i]), float(t[i]), float(zj[i]))
            y = (zj[i] * m + mp.mpf(float(h[i]))) / t[i]
            s2 = mp.sech(y) ** 2
            chi_ref = s2 / ((t[i] - zj[i]) + zj[i] * mp.tanh(y) ** 2)
            n_ref = mp_logistic(2 * y)
        # sech^2(y) of the rounded y = (zJ m + h)/T: relative error grows like 2|y| eps
        rel = 8e-16 * (4 + 2 * abs(float(y)))
        assert abs(chi[i] - float(chi_ref)) <= rel * abs(float(chi_ref)), (i, chi[i])
        assert abs(dn[i] - float(chi_ref) / 2) <= rel * abs(float(chi_ref)) / 2
        # n is formed from m and y: near n = 0 the ulp of m (~1e-16 absolute) enters
        # amplified by 2 zJ/T, and the rounding of y by 2|y| (documented)
        amplification = 1 + 2 * zj[i] / t[i] + 2 * abs(float(y))
        bound = 8 * amplification * np.spacing(float(n_ref))
        assert abs(n[i] - float(n_ref)) <= bound, (i, n[i])


def test_meanfield_limits_of_the_design_table() -> None:
    """J = 0: m = tanh(h/T), n = logistic(h, 2/T); T -> 0: m = sign(h);
    T > T_c, h -> 0: chi = 1/(T - T_c); chi = +inf at T = T_c, h = 0."""
    h = np.linspace(-5, 5, 1001)
    for t in (0.3, 1.0, 4.0):
        np.testing.assert_allclose(
            act.meanfield(h, t, 0.0), np.tanh(h / t), rtol=1e-15, atol=1e-300
        )
        # logistic carries 2h/T with its rounding error; the open fraction forms
        # y = h/T once, an error magnified by 2|y| in the tail (documented there)
        n = act.open_fraction(h, t, 0.0)
        ref = act.logistic(h, 2.0 / t)
        assert np.all(np.abs(n - ref) <= 8e-16 * (4 + np.abs(2 * h / t)) * ref)
    hs = np.array([-2.0, -1e-3, -0.0, 0.0, 1e-3, 2.0])
    np.testing.assert_array_equal(act.meanfield(hs, 1e-6, 1.0), [-1, -1, -1, 1, 1, 1])
    for t in (1.5, 3.0):
        assert act.meanfield_derivative(0.0, t, 1.0) == pytest.approx(
            1 / (t - 1.0), rel=1e-14
        )
    assert act.meanfield_derivative(0.0, 1.0, 1.0) == np.inf
    assert act.meanfield_derivative(-0.0, 2.0, 2.0) == np.inf
    assert act.open_fraction_derivative(0.0, 1.0, 1.0) == np.inf


def test_meanfield_critical_isotherm() -> None:
    """At T = T_c, m = (3h/T_c)^(1/3) (1 + O(h^(2/3))): ratio -> 1 as h -> 0."""
    for tc in (1.0, 2.5):
        h = 10.0 ** np.arange(-300.0, -20.0, 7.0)
        m = act.meanfield(h, tc, tc)
        lead = np.cbrt(3 * h / tc)
        # next order: m^3/3 + m^5/5 = h/T_c gives m = lead (1 - lead^2/5 + ...)
        np.testing.assert_allclose(m / lead, 1 - lead**2 / 5, rtol=4e-15)


def test_meanfield_is_odd_bitwise() -> None:
    """m(-h) = -m(h) bitwise (sign of zero included), for every T and zJ."""
    h, t, zj = meanfield_cases()
    for f in (act.meanfield, act.meanfield_derivative):
        a = f(h, t, zj)
        b = f(-h, t, zj)
        if f is act.meanfield:
            np.testing.assert_array_equal(np.signbit(a), ~np.signbit(b) | (np.isnan(a)))
            b = -b
        assert np.array_equal(a, b)


def spinodal(t: npt.NDArray, zj: float) -> npt.NDArray:
    """h_sp(T) = zJ m* - T artanh(m*), m* = sqrt(1 - T/zJ): where d h/d m = 0 on
    the mean-field isotherm h(m) = T artanh(m) - zJ m (a local extremum of h)."""
    ms = np.sqrt(1 - t / zj)
    return zj * ms - t * np.arctanh(ms)


def test_spinodal_formula_is_the_extremum_of_the_isotherm() -> None:
    """The closed form h_sp(T) is minus the minimum over m > 0 of T artanh(m) - zJ m
    (found numerically by SciPy)."""
    for t in (0.1, 0.5, 0.9):
        res = optimize.minimize_scalar(
            lambda m, t=t: t * np.arctanh(m) - 1.0 * m,
            bounds=(1e-9, 1 - 1e-12),
            method="bounded",
            options={"xatol": 1e-12},
        )
        assert -res.fun == pytest.approx(float(spinodal(np.array(t), 1.0)), rel=1e-9)


def test_hysteresis_reproduces_the_spinodal_fields() -> None:
    """Coming from m_prev = -1, the state stays on the negative branch up to the
    spinodal field h_sp(T) and jumps beyond it; the jump field found by bisection
    on the hysteresis mode agrees with the closed form to 1e-12."""
    zj = 2.0
    t = np.array([0.2, 0.6, 1.0, 1.4, 1.8, 1.98])
    lo = np.zeros_like(t)
    hi = np.full_like(t, 3.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        jumped = act.meanfield(mid, t, zj, m_prev=-1.0) > 0
        hi = np.where(jumped, mid, hi)
        lo = np.where(jumped, lo, mid)
    np.testing.assert_allclose(0.5 * (lo + hi), spinodal(t, zj), rtol=1e-12, atol=1e-15)
    # and symmetrically from m_prev = +1 in negative fields
    h = -spinodal(t, zj)
    assert np.all(act.meanfield(h * (1 - 1e-9), t, zj, m_prev=1.0) > 0)
    assert np.all(act.meanfield(h * (1 + 1e-9), t, zj, m_prev=1.0) < 0)


def test_hysteresis_returns_stable_roots_of_the_right_basin() -> None:
    """The hysteresis root solves the equation, is stable (1 - a sech^2 > 0), lies on
    the side of the unstable root where m_prev is, and equals the default root when
    there is only one; chi = +inf at the end of the metastable branch."""
    rng = np.random.default_rng(3)
    t = rng.uniform(0.05, 1.5, 4000)
    h = rng.uniform(-1, 1, 4000) * 0.5
    mp_ = rng.uniform(-1.2, 1.2, 4000)
    m = act.meanfield(h, t, 1.0, m_prev=mp_)
    y = (m + h) / t
    np.testing.assert_allclose(m, np.tanh(y), rtol=0, atol=4e-16)
    assert np.all(1 - (1 / t) / np.cosh(y) ** 2 >= -1e-12)
    default = act.meanfield(h, t, 1.0)
    single = (t >= 1.0) | (np.abs(h) > spinodal(np.minimum(t, 1.0), 1.0))
    np.testing.assert_array_equal(m[single], default[single])
    # the drift -m + tanh((m + h)/T) has the same sign at m_prev and halfway to m
    both = ~single & (np.abs(m - mp_) > 1e-6)
    x = mp_[both]
    target = m[both]
    assert np.all(np.sign(target - x) == np.sign(np.tanh((x + h[both]) / t[both]) - x))
    hs = spinodal(np.array([0.5]), 1.0)
    assert act.meanfield_derivative(-hs * (1 - 1e-15), 0.5, 1.0, m_prev=1.0) > 1e6


@settings(max_examples=150, deadline=None)
@given(
    h=st.floats(-1e6, 1e6, allow_nan=False),
    t=st.floats(1e-3, 1e3),
    zj=st.floats(0.0, 10.0),
)
def test_meanfield_properties(h: float, t: float, zj: float) -> None:
    """Property: m solves m = tanh((zJ m + h)/T) to within rounding, has the sign of
    h, is stable, and increases with h."""
    m = float(act.meanfield(h, t, zj))
    y = (zj * m + h) / t
    assert abs(m - math.tanh(y)) <= 4e-16 * (1 + zj / t)
    assert m == 0 or math.copysign(1, m) == math.copysign(1, h)
    assert float(act.meanfield(h + abs(h) * 1e-3 + 1e-3, t, zj)) >= m


def meanfield_mixed_regimes(n: int, seed: int) -> tuple[npt.NDArray, ...]:
    """Elements from every regime side by side: T above, at and below T_c (per
    element), zJ = 0, +-0 and 1, fields from 1e-300 to 1e300, zeros of both signs,
    NaN and inf."""
    rng = np.random.default_rng(seed)
    t = rng.choice([0.3, 0.8, 0.99, 1.0, 1.01, 2.0, 1e-3], n)
    spread = rng.uniform(size=n) < 0.3
    t[spread] = 10.0 ** rng.uniform(-2, 1, spread.sum())
    zj = rng.choice([1.0, 1.0, 1.0, 0.0, -0.0], n)
    h = np.sign(rng.uniform(-1, 1, n)) * 10.0 ** rng.uniform(-300, 300, n)
    near = rng.uniform(size=n) < 0.6
    h[near] = rng.standard_normal(near.sum()) * 10.0 ** rng.uniform(-8, 1, near.sum())
    h[::53] = 0.0
    h[::59] = -0.0
    h[::61] = np.nan
    h[::67] = np.inf
    h[::71] = -np.inf
    return h, t, zj


def test_meanfield_elements_do_not_depend_on_their_neighbours() -> None:
    """Mean-field roots are solved for several vectors together and reuse the
    quotients of T and zJ of the vector before: every element still gets the bits
    it gets alone, in any order, with T and zJ as scalars or arrays, on every
    path."""
    h, t, zj = meanfield_mixed_regimes(4099, seed=12)
    funcs = (
        act.meanfield,
        act.meanfield_derivative,
        act.open_fraction,
        act.open_fraction_derivative,
    )
    perm = np.random.default_rng(13).permutation(h.size)
    before = act.simd_path()
    try:
        results = []
        for path in act.simd_paths():
            try:
                act.select_simd_path(path)
            except ValueError:
                continue  # compiled in, but this CPU cannot run it
            got = [f(h, t, zj) for f in funcs]
            results.append(got)
            for f, ref in zip(funcs, got, strict=True):
                shuffled = f(h[perm], t[perm], zj[perm])
                assert np.array_equal(shuffled, ref[perm], equal_nan=True), path
                for i in range(0, h.size, 97):
                    alone = f(h[i : i + 1], t[i], zj[i])
                    assert np.array_equal(alone, ref[i : i + 1], equal_nan=True)
                for tt in (0.8, 1.0, 2.0):
                    for jj in (1.0, -0.0):
                        scalar = f(h, tt, jj)
                        arrays = f(h, np.full(h.size, tt), np.full(h.size, jj))
                        assert np.array_equal(scalar, arrays, equal_nan=True)
        for other in results[1:]:
            for a, b in zip(results[0], other, strict=True):
                assert np.array_equal(a, b, equal_nan=True)
    finally:
        act.select_simd_path(before)


def test_meanfield_within_few_ulp_of_mpmath_where_the_solver_changes_method() -> None:
    """Roots near m = 1/2 and m = 0.7, where the solver changes from the inverse to
    the forward form, and near T_c at moderate m, where f' = 1 - a sech^2 is small:
    within the same few ulp of the 80-digit root. The field is h = T artanh(m) - zJ m
    for a chosen stable m (the explicit inverse), so the roots land there."""
    rng = np.random.default_rng(21)
    n = 160
    t = rng.uniform(0.6, 1.6, n)
    msp = np.sqrt(np.clip(1 - t, 0, None))  # above the spinodal magnetisation
    centre = rng.choice([0.5, 0.7], n)
    m = np.clip(centre + rng.uniform(-0.02, 0.02, n), msp + 1e-3, 0.99)
    h = t * np.arctanh(m) - m
    h = np.where(rng.uniform(size=n) < 0.5, -h, h)
    zj = np.ones(n)
    got = act.meanfield(h, t, zj)
    ref = [mp_meanfield(float(a), float(b), 1.0) for a, b in zip(h, t, strict=True)]
    check_ulp("meanfield", got, h, ref, np.float64, limit=8.0)


def test_meanfield_float32_roots_are_the_float64_roots_rounded() -> None:
    """float32 results stop the double solver early (relative error below 2^-35):
    each is within (1/2 + 2^-10) float32 ulp of the float64 root, over normal
    fields at T = 0.5 ... 3, small fields at T_c and roots near the switch points
    m = 1/2 and 0.7, the same bits on every path and for any thread count."""
    rng = np.random.default_rng(31)
    parts_h, parts_t = [], []
    for t in (0.5, 0.8, 1.0, 1.5, 3.0):
        for scale in (1.0, 4.0):
            parts_h.append(scale * rng.standard_normal(3000))
            parts_t.append(np.full(3000, t))
    tiny = 10.0 ** rng.uniform(-30, 0, 2000) * rng.choice([-1.0, 1.0], 2000)
    parts_h.append(tiny)
    parts_t.append(np.ones(tiny.size))
    t_sw = rng.uniform(0.6, 1.6, 2000)
    m_sw = np.clip(
        rng.choice([0.5, 0.7], 2000) + rng.uniform(-0.02, 0.02, 2000),
        np.sqrt(np.clip(1 - t_sw, 0, None)) + 1e-3,
        0.99,
    )
    parts_h.append(t_sw * np.arctanh(m_sw) - m_sw)
    parts_t.append(t_sw)
    h = np.concatenate(parts_h).astype(np.float32)
    t = np.concatenate(parts_t)
    got = act.meanfield(h, t, 1.0)
    assert got.dtype == np.float32
    ref = np.abs(act.meanfield(h.astype(np.float64), t, 1.0))
    lower = ref.astype(np.float32)
    lower = np.where(lower > ref, np.nextafter(lower, np.float32(0)), lower)
    ulp = np.spacing(lower).astype(np.float64)
    err = np.abs(np.abs(got.astype(np.float64)) - ref) / ulp
    worst = int(np.argmax(err))
    assert err[worst] <= 0.5 + 2.0**-10, (h[worst], t[worst], err[worst])
    assert np.array_equal(np.signbit(got), np.signbit(h))
    for path in each_simd_path():
        for threads in (1, 2):
            same = np.array_equal(act.meanfield(h, t, 1.0, threads=threads), got)
            assert same, (path, threads)


# --- quench rates ---------------------------------------------------------------


def test_quench_rate_sharp_is_the_saturating_relu() -> None:
    """sigma = 0: (k/r) max(0, s - s0), s0 = (T0 - Tc)/k, capped at Tc/r; its
    derivative is k/r on [s0, T0/k) (right derivative at the kinks)."""
    s = np.linspace(-1, 6, 7001)
    t0, tc, k, r = 2.0, 1.0, 0.8, 1.5
    expect = np.minimum(k / r * np.maximum(0, s - (t0 - tc) / k), tc / r)
    np.testing.assert_allclose(
        act.quench_rate(s, t0, tc, k, r), expect, rtol=1e-15, atol=1e-15
    )
    np.testing.assert_allclose(
        act.quench_rate(s, t0, tc, k, r, saturate=False),
        k / r * np.maximum(0, s - (t0 - tc) / k),
        rtol=1e-15,
        atol=1e-15,
    )
    d = act.quench_rate_derivative(s, t0, tc, k, r)
    inside = (k * s - (t0 - tc) >= 0) & (k * s - (t0 - tc) < tc)
    np.testing.assert_array_equal(d, np.where(inside, k / r, 0.0))
    assert act.quench_rate_derivative((t0 - tc) / k, t0, tc, k, r) == k / r


def test_quench_rate_smooth_is_the_expectation_under_logistic_noise() -> None:
    """sigma > 0 equals E[clip(Tc - (T0 + e) + k s, 0, Tc)]/r with e logistic of scale
    sigma, computed by SciPy quadrature over the noise; and equals the mpmath
    softplus forms to a few ulp."""
    t0, tc, k, r, sigma = 2.0, 1.0, 1.0, 2.0, 0.3

    def expected(s: float, saturate: bool) -> float:
        def integrand(e: float) -> float:
            x = tc - (t0 + e) + k * s
            x = max(0.0, min(x, tc) if saturate else x)
            z = e / sigma
            return x * math.exp(-abs(z)) / (sigma * (1 + math.exp(-abs(z))) ** 2) / r

        val, _ = integrate.quad(
            integrand,
            -60 * sigma,
            60 * sigma,
            points=[k * s - t0, k * s - t0 + tc],
            limit=200,
            epsabs=1e-14,
            epsrel=1e-12,
        )
        return val

    for s in (0.0, 0.5, 1.0, 1.7, 2.5, 4.0):
        for sat in (True, False):
            got = act.quench_rate(s, t0, tc, k, r, sigma=sigma, saturate=sat)
            assert got == pytest.approx(expected(s, sat), rel=1e-9, abs=1e-13)

    s = np.concatenate([np.linspace(-200, 200, 401), [1e6, -1e6, 1.0 + 1e-9]])
    # sigmas that are powers of two keep u = (k s - (T0 - Tc))/sigma exact, so the
    # comparison measures the kernel, not the rounding of u (whose effect on
    # exp(u) grows like |u| ulp for any evaluation)
    for sig in (0.25, 2.0, 2.0**-10, 64.0):
        for sat in (True, False):
            got = act.quench_rate(s, t0, tc, k, r, sigma=sig, saturate=sat)
            dgot = act.quench_rate_derivative(s, t0, tc, k, r, sigma=sig, saturate=sat)
            ref, dref = [], []
            for si in s:
                u = (k * mp.mpf(float(si)) - (t0 - tc)) / sig
                c = mp.mpf(tc) / sig
                v = mp_softplus(u) - (mp_softplus(u - c) if sat else 0)
                ref.append(sig / mp.mpf(r) * v)
                # l(u) - l(u - c) = l(c - u) - l(-u): each form where its terms are
                # small, so 50 digits are plenty
                if not sat:
                    dv = mp_logistic(u)
                elif u < c / 2:
                    dv = mp_logistic(u) - mp_logistic(u - c)
                else:
                    dv = mp_logistic(c - u) - mp_logistic(-u)
                dref.append(k / mp.mpf(r) * dv)
            check_ulp(
                f"quench_rate(sigma={sig}, {sat})", got, s, ref, np.float64, limit=8.0
            )
            check_ulp(
                f"quench_rate_derivative(sigma={sig}, {sat})",
                dgot,
                s,
                dref,
                np.float64,
                limit=8.0,
            )


def m_spontaneous(t: float) -> float:
    """Spontaneous magnetisation at reduced temperature t by SciPy's brentq."""
    if t >= 1.0:
        return 0.0
    return optimize.brentq(
        lambda m: m - math.tanh(m / t), 1e-300 + 1e-12, 1.0, xtol=1e-17, rtol=1e-15
    )


def test_quench_meanfield_plateau_against_independent_quadrature() -> None:
    """Plateau integral_0^1 m_sp(t) dt: SciPy quad over t with m_sp by brentq."""
    val, _err = integrate.quad(
        m_spontaneous, 0.0, 1.0, limit=200, epsabs=1e-13, points=[0.9, 0.99, 0.999]
    )
    assert act.quench_meanfield_plateau() == pytest.approx(val, abs=1e-10)
    for zj, r in ((1.0, 1.0), (2.5, 0.5)):
        got = act.quench_meanfield_rate(np.array([10.0, 1e9]), 1.5 * zj, zj, 1.0, r)
        np.testing.assert_allclose(got, zj / r * val, rtol=1e-10)


def test_quench_meanfield_rate_against_independent_quadrature() -> None:
    """(1/r) integral_{max(0, T0 - k s)}^{zJ} m_sp(T) dT (SciPy) and its derivative
    (k/r) m_sp(T0 - k s) (brentq) at points across the ramp."""
    t0, zj, k, r = 3.0, 2.0, 1.5, 0.7
    s = np.array([0.0, 0.5, 0.7, 0.9, 1.0, 1.3, 1.6, 1.9, 1.99, 2.0, 2.5])
    got = act.quench_meanfield_rate(s, t0, zj, k, r)
    dgot = act.quench_meanfield_rate_derivative(s, t0, zj, k, r)
    for si, g, dg in zip(s, got, dgot, strict=True):
        lo = max(0.0, t0 - k * si)
        if lo >= zj:
            assert g == 0.0 and dg == 0.0
            continue
        val, _ = integrate.quad(
            lambda tt: m_spontaneous(tt / zj),
            lo,
            zj,
            limit=200,
            epsabs=1e-13,
            epsrel=1e-12,
        )
        assert g == pytest.approx(val / r, rel=1e-9, abs=1e-14)
        dref = k / r * m_spontaneous(lo / zj) if lo > 0 else 0.0
        assert dg == pytest.approx(dref, rel=1e-13, abs=1e-300)


def test_quench_meanfield_onset_exponent_is_three_halves() -> None:
    """Near the threshold s0 = (T0 - zJ)/k the rate grows as (s - s0)^(3/2) with
    amplitude (2/sqrt 3)(zJ/r)(k/zJ)^(3/2): the log-log slope fitted over three
    decades is 3/2 to 1e-3, and the amplitude agrees to 1e-3."""
    t0, zj, k, r = 2.0, 1.0, 1.0, 1.0
    s0 = (t0 - zj) / k
    ds = np.logspace(-7, -4, 30)
    rate = act.quench_meanfield_rate(s0 + ds, t0, zj, k, r)
    # s0 + ds is rounded; use the actual distance below T_c
    x = (k * (s0 + ds) - (t0 - zj)) / zj
    slope, intercept = np.polyfit(np.log(x), np.log(rate), 1)
    assert slope == pytest.approx(1.5, abs=1e-3)
    assert math.exp(intercept) == pytest.approx(2 / math.sqrt(3) * zj / r, rel=1e-3)
    assert act.quench_meanfield_rate(s0, t0, zj, k, r) == 0.0


# --- array contract --------------------------------------------------------------

FUNCS_X = [getattr(act, n) for n in ALL_UNITS]


def _all_calls(x: npt.NDArray, **kw: object) -> list[npt.NDArray]:
    outs = [f(x, **kw) for f in FUNCS_X]
    for f in (
        act.meanfield,
        act.meanfield_derivative,
        act.open_fraction,
        act.open_fraction_derivative,
    ):
        outs.append(f(x, 0.7, 1.0, **kw))
        outs.append(f(x, 0.7, 1.0, m_prev=-np.sign(x), **kw))
    for f in (act.quench_rate, act.quench_rate_derivative):
        outs.append(f(x, 2.0, 1.0, sigma=0.2, **kw))
        outs.append(f(x, 2.0, 1.0, saturate=False, **kw))
    outs.append(act.quench_meanfield_rate(x, 2.0, 1.0, **kw))
    outs.append(act.quench_meanfield_rate_derivative(x, 2.0, 1.0, **kw))
    return outs


def test_float32_kernels_do_not_depend_on_threads_or_simd_path() -> None:
    """The single-precision kernels give bitwise identical results for 1 and 2
    threads and for the AVX-512 (16 lanes), AVX2 + FMA (8 lanes) and portable paths
    (each one this CPU runs), with scalar and
    per-element gains (one outside the range of the single-precision split) and
    strided views; the length leaves a partial last vector."""
    rng = np.random.default_rng(6)
    x = (rng.standard_normal(150_007) * 30).astype(np.float32)
    x[::89] = 0.0
    x[::101] = (10.0 ** rng.uniform(-45, 38, x[::101].size)).astype(np.float32)
    gains = 10.0 ** rng.uniform(-1, 1, x.size)
    gains[77_777] = 1e-30
    funcs = [getattr(act, n) for n in sorted(NATIVE_F32)]

    def calls(xx: npt.NDArray, gg: npt.NDArray, **kw: object) -> list[npt.NDArray]:
        return [f(xx, g, **kw) for f in funcs for g in (1.0, 2.0 / 0.7, gg)]

    ref = calls(x, gains, threads=1)
    for a, b in zip(ref, calls(x, gains, threads=2), strict=True):
        assert a.dtype == np.float32
        assert np.array_equal(a, b, equal_nan=True)
    strided = np.repeat(x, 2)[::2]
    for a, b in zip(ref, calls(strided, gains, threads=2), strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    for path in each_simd_path():
        n = 80_011
        for a, b in zip(calls(x[:n], gains[:n], threads=2), ref, strict=True):
            assert np.array_equal(a, b[:n], equal_nan=True), path


def float32_specimens(rng: np.random.Generator, n_bits: int) -> npt.NDArray:
    """float32 values of every magnitude: n_bits uniformly random bit patterns
    (NaN payloads included), 40 000 values of the body (30 N(0, 1)), and the
    specials +-0, +-inf, NaN and the smallest subnormals."""
    bits = rng.integers(0, 2**32, n_bits, dtype=np.uint64).astype(np.uint32)
    return np.concatenate(
        [
            bits.view(np.float32),
            (rng.standard_normal(40_000) * 30).astype(np.float32),
            np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45], np.float32),
        ]
    )


def test_float32_power_of_two_gains_match_the_general_kernels_bitwise() -> None:
    """Blocks whose gains are all powers of two (g x exact in float32) skip the
    low part of g x; they give the same bits as the general kernels, which run
    wherever a block holds another gain (one 1/3 per 1024-element block here),
    on every path, over float32 values of every magnitude and specials."""
    x = float32_specimens(np.random.default_rng(8), 60_000)
    for path in each_simd_path():
        for g in (1.0, 0.5, 4.0, 2.0**-40):
            gains = np.full(x.size, g)
            gains[::1024] = 1.0 / 3.0
            m = gains == g
            for name in sorted(NATIVE_F32):
                f = getattr(act, name)
                a, b = f(x, g)[m], f(x, gains)[m]
                assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), (
                    path,
                    name,
                    g,
                )


def test_float32_unit_gains_match_the_general_kernels_bitwise() -> None:
    """Gain 1 (the default) reads x alone: over whole contiguous arrays in one run,
    per block where a gain array holds only ones, and with strided input or
    output; each gives the same bits as the general kernels (a block holding a gain
    of 1/3 elsewhere), for 1 and 2 threads on every path, NaN payloads included."""
    x = float32_specimens(np.random.default_rng(9), 50_000)
    general = np.ones(x.size)
    general[::1024] = 1.0 / 3.0
    m = general == 1.0
    ones = np.ones(x.size)
    for path in each_simd_path():
        for name in sorted(NATIVE_F32):
            f = getattr(act, name)
            ref = f(x, general)[m].view(np.uint32)
            strided_out = np.empty(2 * x.size, np.float32)[::2]
            for threads in (1, 2):
                got = (
                    f(x, threads=threads),
                    f(x, ones, threads=threads),
                    f(np.repeat(x, 2)[::2], threads=threads),
                    f(x, out=strided_out, threads=threads),
                )
                for k, a in enumerate(got):
                    assert np.array_equal(a[m].view(np.uint32), ref), (
                        path,
                        name,
                        threads,
                        k,
                    )


def test_openmp_threads_wait_by_a_short_spin_unless_the_user_chose() -> None:
    """Importing neurophase sets a bounded spin (GOMP_SPINCOUNT) for waiting
    OpenMP threads, so that back-to-back multi-threaded calls find their team
    awake, and leaves both variables alone where the user set a wait policy."""
    code = (
        "import os, neurophase; "
        "print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))"
    )

    def settings(env: dict[str, str]) -> list[str]:
        run = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return run.stdout.split()

    env = {k: v for k, v in os.environ.items() if "OMP" not in k}
    assert settings(env) == ["3000", "None"]
    assert settings({**env, "OMP_WAIT_POLICY": "PASSIVE"}) == ["None", "PASSIVE"]


def test_results_do_not_depend_on_threads_or_simd_path() -> None:
    """Bitwise identical results for 1 and 2 threads and for the AVX-512, AVX2 + FMA
    and portable paths this CPU runs, for every function (length with a partial
    last vector)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(200_003) * 3
    x[::97] = 0.0
    ref = _all_calls(x, threads=1)
    for a, b in zip(ref, _all_calls(x, threads=2), strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    paths = act.simd_paths()
    for path in each_simd_path(paths):
        small = x[:20_011]
        for a, b in zip(_all_calls(small, threads=2), ref, strict=True):
            assert np.array_equal(a, b[:20_011], equal_nan=True), path


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_views_broadcasting_and_dtype(dtype: type) -> None:
    """Non-contiguous and negative-stride views give the same values as contiguous
    copies; parameter arrays broadcast; the dtype of x is kept."""
    rng = np.random.default_rng(9)
    base = (rng.standard_normal((7, 40, 6)) * 4).astype(dtype)
    view = base[::-2, 3::3, ::2].transpose(1, 0, 2)
    gain = np.array([0.5, 1.0, 2.0])  # broadcasts against the last axis
    for f in FUNCS_X:
        if f in (act.step, act.step_derivative):
            got, want = f(view), f(np.ascontiguousarray(view))
        else:
            got = f(view, gain)
            want = f(
                np.ascontiguousarray(view), np.broadcast_to(gain, view.shape).copy()
            )
        assert got.dtype == dtype and got.shape == view.shape
        np.testing.assert_array_equal(got, want)
    temps = np.linspace(0.5, 2.0, 13)[:, None, None, None]
    m = act.meanfield(view, temps, 1.0)
    assert m.shape == (13, *view.shape) and m.dtype == dtype
    np.testing.assert_array_equal(
        m[4], act.meanfield(np.ascontiguousarray(view), float(temps[4, 0, 0, 0]))
    )


def test_empty_zero_d_and_lists() -> None:
    """Empty arrays give empty results; 0-d input gives a NumPy scalar; Python
    numbers and lists become float64."""
    for dtype in (np.float32, np.float64):
        e = act.tanh(np.empty((0, 3), dtype=dtype))
        assert e.shape == (0, 3) and e.dtype == dtype
    assert act.meanfield(np.empty(0), 1.0).shape == (0,)
    v = act.logistic(np.float32(0.0))
    assert isinstance(v, np.float32) and v == 0.5
    assert isinstance(act.logistic(0.0), np.float64)
    assert act.softplus([0.0, 1]).dtype == np.float64
    assert act.relu(3).dtype == np.float64


def test_out_argument_in_place_and_overlapping() -> None:
    """out= receives the result; out may be the input itself; a shifted view of the
    input as out gives the same result as without overlap."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal(10_001)
    want = act.tanh(x)
    y = x.copy()
    r = act.tanh(y, out=y)
    assert r is y
    np.testing.assert_array_equal(y, want)
    z = x.copy()
    act.meanfield(z[1:], 0.8, out=z[:-1])
    np.testing.assert_array_equal(z[:-1], act.meanfield(x[1:], 0.8))
    strided = np.empty((2, 10_001))[0]
    act.softplus(x, out=strided)
    np.testing.assert_array_equal(strided, act.softplus(x))
    f32 = x.astype(np.float32)
    act.logistic(f32, out=f32)
    np.testing.assert_array_equal(f32, act.logistic(x.astype(np.float32)))


BAD_CALLS = [
    (lambda: act.meanfield(0.1, 0.0), ValueError, "temperature"),
    (lambda: act.meanfield(0.1, -1.0), ValueError, "temperature"),
    (lambda: act.meanfield(0.1, np.nan), ValueError, "temperature"),
    (lambda: act.meanfield(0.1, np.array([1.0, np.inf])), ValueError, "temperature"),
    (lambda: act.meanfield(0.1, 1.0, -1.0), ValueError, "zJ"),
    (lambda: act.meanfield(np.zeros(3), np.ones(4)), ValueError, "broadcast"),
    (lambda: act.tanh(np.array(["a"], dtype=object)), TypeError, "x"),
    (lambda: act.tanh(np.array([1j])), TypeError, "x"),
    (lambda: act.tanh(np.ones(2, np.float16)), TypeError, "x"),
    (lambda: act.tanh(1.0, 0.0), ValueError, "gain"),
    (lambda: act.tanh(1.0, -2.0), ValueError, "gain"),
    (lambda: act.tanh(1.0, True), TypeError, "gain"),
    (lambda: act.tanh(np.ones(3), out=np.ones(3, np.float32)), TypeError, "out"),
    (lambda: act.tanh(np.ones(3), out=np.ones(4)), ValueError, "out"),
    (lambda: act.tanh(np.ones(3), out=[0.0, 0.0, 0.0]), TypeError, "out"),
    (lambda: act.tanh(np.ones(3), threads=0), ValueError, "threads"),
    (lambda: act.quench_rate(1.0, 2.0, 1.0, k=-1.0), ValueError, "k"),
    (lambda: act.quench_rate(1.0, 2.0, 1.0, k=0.0), ValueError, "k"),
    (lambda: act.quench_rate(1.0, 2.0, 1.0, r=0.0), ValueError, "r"),
    (lambda: act.quench_rate(1.0, 2.0, 1.0, sigma=-0.1), ValueError, "sigma"),
    (lambda: act.quench_rate(1.0, np.inf, 1.0), ValueError, "T0"),
    (lambda: act.quench_rate(1.0, 2.0, 0.0), ValueError, "Tc"),
    (lambda: act.quench_rate(1.0, 2.0, 1.0, saturate=1), TypeError, "saturate"),
    (lambda: act.quench_meanfield_rate(1.0, 2.0, 0.0), ValueError, "zJ"),
    (lambda: act.meanfield(np.arange(3).astype(np.complex128), 1.0), TypeError, "h"),
    (lambda: act.tanh(np.array(["1.0"])), TypeError, "x"),
    (lambda: act.tanh(1.0, np.array([True])), TypeError, "gain"),
    (lambda: act.tanh(1.0, [True, False]), TypeError, "gain"),
    (lambda: act.meanfield(0.1, np.array([1j])), TypeError, "temperature"),
    (lambda: act.select_simd_path("avx1024"), ValueError, "name"),
]


@pytest.mark.parametrize(
    "call,exc,word", BAD_CALLS, ids=[str(i) for i in range(len(BAD_CALLS))]
)
def test_bad_input_raises_naming_the_parameter(call, exc, word) -> None:  # type: ignore[no-untyped-def]
    """Bad input raises ValueError/TypeError with the parameter's name."""
    with pytest.raises(exc, match=word):
        call()


INTEGER_AND_BOOL_CALLS = [
    (act.logistic, ()),
    (act.logistic_derivative, ()),
    (act.tanh, ()),
    (act.tanh_derivative, ()),
    (act.step, ()),
    (act.step_derivative, ()),
    (act.relu, ()),
    (act.relu_derivative, ()),
    (act.softplus, ()),
    (act.softplus_derivative, ()),
    (act.swish, ()),
    (act.swish_derivative, ()),
    (act.meanfield, (0.8, 1.0)),
    (act.meanfield_derivative, (0.8, 1.0)),
    (act.open_fraction, (0.8, 1.0)),
    (act.open_fraction_derivative, (0.8, 1.0)),
    (act.quench_rate, (2.0, 1.0)),
    (act.quench_rate_derivative, (2.0, 1.0)),
    (act.quench_meanfield_rate, (2.0, 1.0)),
    (act.quench_meanfield_rate_derivative, (2.0, 1.0)),
]


@pytest.mark.parametrize(
    ("function", "params"),
    INTEGER_AND_BOOL_CALLS,
    ids=[f.__name__ for f, _ in INTEGER_AND_BOOL_CALLS],
)
@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint16, np.bool_])
def test_integer_and_bool_arrays_are_converted_to_float64(
    function: object, params: tuple[float, ...], dtype: type
) -> None:
    """Integer and bool arrays give the float64 result of the same values, like
    lists of numbers; float32 stays float32."""
    values = np.arange(-2, 3) if dtype is not np.bool_ else np.array([0, 1, 1])
    if dtype is np.uint16:
        values = values + 2
    x = values.astype(dtype)
    got = function(x, *params)  # type: ignore[operator]
    want = function(x.astype(np.float64), *params)  # type: ignore[operator]
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(function(x.tolist(), *params), want)  # type: ignore[operator]
    f32 = function(x.astype(np.float32), *params)  # type: ignore[operator]
    assert f32.dtype == np.float32


def test_integer_parameter_arrays_are_converted() -> None:
    """An integer array of parameters equals the float64 one (as a list does)."""
    h = np.linspace(-1.0, 1.0, 4)
    want = act.meanfield(h[:, None], np.array([1.0, 2.0]), 1.0)
    np.testing.assert_array_equal(
        act.meanfield(h[:, None], np.array([1, 2]), 1.0), want
    )
    np.testing.assert_array_equal(act.meanfield(h[:, None], [1, 2], 1.0), want)


@pytest.mark.parametrize(
    "call",
    [
        lambda: act.quench_rate(np.linspace(-2, 2, 5), T0=1.0, Tc=2.0, sigma=0.1),
        lambda: act.quench_rate(1.0, 2.0, 2.0),
        lambda: act.quench_rate_derivative(1.0, np.array([3.0, 1.5]), 2.0),
        lambda: act.quench_rate(np.zeros((2, 1)), np.array([[3.0], [1.0]]), 2.0),
        lambda: act.quench_meanfield_rate(np.linspace(-0.5, 3.5, 5), T0=0.5),
        lambda: act.quench_meanfield_rate_derivative(1.0, 2.0, np.array([1.0, 2.0])),
    ],
    ids=["rate", "equal", "derivative-array", "rate-2d", "meanfield", "mf-zj-array"],
)
def test_quench_rates_refuse_a_resting_temperature_at_or_below_tc(call: object) -> None:
    """The quench starts at rest above T_c: T0 <= Tc (or zJ) anywhere is refused."""
    with pytest.raises(ValueError, match=r"T0 must be > (Tc|T_c = zJ)"):
        call()  # type: ignore[operator]


def test_numpy_scalar_parameters_are_numbers() -> None:
    """NumPy scalars (also integer ones) are accepted as parameter values."""
    assert act.meanfield(0.5, np.int64(2), np.float32(1.0)) == act.meanfield(0.5, 2.0)


def test_read_only_out_is_refused() -> None:
    """A read-only out is a ValueError, not a crash."""
    out = np.zeros(3)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        act.tanh(np.ones(3), out=out)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=True, width=64),
        min_size=1,
        max_size=50,
    )
)
def test_unit_identities(xs: list[float]) -> None:
    """Properties: logistic(x) + logistic(-x) = 1, tanh odd bitwise,
    softplus(x) - softplus(-x) = x, softplus' = logistic, relu(x) - relu(-x) = x."""
    x = np.array(xs)
    s = act.logistic(x) + act.logistic(-x)
    np.testing.assert_allclose(s, 1.0, rtol=3e-16)
    assert np.array_equal(act.tanh(-x), -act.tanh(x))
    fin = x[np.isfinite(x) & (np.abs(x) < 1e300)]
    d = act.softplus(fin) - act.softplus(-fin)
    np.testing.assert_allclose(
        d, fin, rtol=1e-15, atol=1e-15 * (1 + np.abs(fin)).max(initial=0)
    )
    assert np.array_equal(act.softplus_derivative(x), act.logistic(x))
    np.testing.assert_array_equal(act.relu(fin) - act.relu(-fin), fin)


def test_build_info_reports_the_activation_path() -> None:
    """build_info() names the compiled activation paths and the one in use."""
    import neurophase

    info = neurophase.build_info()
    assert info["activation_simd_path"] == act.simd_path()
    assert info["activation_simd_path"] in info["activation_simd_paths"]
    assert "scalar" in info["activation_simd_paths"]


def _runnable_paths() -> set[str] | None:
    """Activation paths this CPU can run by its /proc/cpuinfo flags (None: unknown)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(
                set(line.split(":", 1)[1].split())
                for line in f
                if line.startswith("flags")
            )
    except (OSError, StopIteration):
        return None
    runnable = {"scalar"}
    if {"avx2", "fma"} <= flags:
        runnable.add("avx2-fma")
    if {"avx512f", "avx512dq", "avx512bw", "avx512vl", "fma"} <= flags:
        runnable.add("avx512")
    return runnable


def test_widest_path_the_cpu_runs_is_selected_at_import() -> None:
    """The widest compiled path this CPU runs is the default at import: AVX-512
    where the CPU has AVX-512 F/DQ/BW/VL, else AVX2 + FMA, else the portable one;
    the others this CPU runs can be selected."""
    runnable = _runnable_paths()
    if runnable is None:
        pytest.skip("no /proc/cpuinfo flags")
    paths = act.simd_paths()
    assert paths[-1] == "scalar"
    code = "from neurophase import activations as a; print(a.simd_path())"
    got = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert got == next(p for p in paths if p in runnable)
    before = act.simd_path()
    try:
        for p in paths:
            if p in runnable:
                act.select_simd_path(p)
                assert act.simd_path() == p
            else:
                with pytest.raises(ValueError, match="name"):
                    act.select_simd_path(p)
    finally:
        act.select_simd_path(before)
