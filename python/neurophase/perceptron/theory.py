"""Teacher–student learning curves in the thermodynamic limit."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import integrate, optimize, special

from .. import _validate
from ._common import FloatArray

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _alphas(
    alpha: npt.ArrayLike, name: str = "alpha", *, positive: bool = False
) -> FloatArray:
    """``alpha = P/N`` as a float64 array: finite and >= 0 (> 0 if ``positive``)."""
    raw = np.asarray(alpha)
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real numbers, got {raw.dtype} data")
    a = raw.astype(np.float64)
    bad = ~np.isfinite(a) | ((a <= 0) if positive else (a < 0))
    if np.any(bad):
        allowed = "> 0" if positive else ">= 0"
        raise ValueError(
            f"{name} must be finite and {allowed}, got {float(a[bad].flat[0])!r}"
        )
    return a


def hebb_generalisation(alpha: npt.ArrayLike) -> FloatArray:
    """Generalisation error of the Hebb rule, ``N -> inf``.

    ``eps = arccos(R)/pi`` with ``R = sqrt(2 alpha / (2 alpha + pi))`` for a
    teacher perceptron without bias and Gaussian inputs, ``P = alpha N``.
    """
    a = _alphas(alpha)
    return np.arccos(np.sqrt(2.0 * a / (2.0 * a + math.pi))) / math.pi


def _online_rhs(_alpha: float, y: FloatArray) -> list[float]:
    R, Q = float(y[0]), float(y[1])
    q = math.sqrt(max(Q, 0.0))
    rho = min(1.0, max(-1.0, R / q)) if q > 0 else 0.0
    drift = (1.0 - rho) / _SQRT_2PI
    return [drift, math.acos(rho) / math.pi - 2.0 * q * drift]


def online_perceptron_overlaps(
    alpha: npt.ArrayLike, *, R0: float = 0.0, Q0: float = 0.0
) -> tuple[FloatArray, FloatArray]:
    """Overlaps ``(R, Q)`` of the on-line perceptron rule, ``N -> inf``.

    Student ``J`` learns from a new example at each step,
    ``J += x sign(B.x) / sqrt(N)`` when ``sign(J.x) != sign(B.x)``, with a
    teacher ``|B|^2 = N`` and Gaussian inputs; ``alpha`` is the number of
    examples over ``N``.  With ``R = J.B/N``, ``Q = J.J/N`` and
    ``rho = R/sqrt(Q)`` the overlaps obey

        dR/dalpha = (1 - rho) / sqrt(2 pi)
        dQ/dalpha = arccos(rho)/pi - 2 sqrt(Q) (1 - rho) / sqrt(2 pi)

    (averages over the jointly Gaussian fields; the mistake probability is
    ``arccos(rho)/pi``), integrated from ``(R0, Q0)`` (default: tabula rasa)
    with SciPy's LSODA.
    """
    a = _alphas(alpha)
    r0 = _validate.finite_float("R0", R0)
    q0 = _validate.finite_float("Q0", Q0)
    if q0 < 0 or r0 * r0 > q0 + 1e-15:
        raise ValueError("need Q0 >= 0 and R0^2 <= Q0 (|rho| <= 1)")
    flat = a.reshape(-1)
    R = np.full(flat.shape, r0)
    Q = np.full(flat.shape, q0)
    positive = flat > 0
    if np.any(positive):
        ts = np.unique(flat[positive])
        sol = integrate.solve_ivp(
            _online_rhs,
            (0.0, float(ts[-1])),
            [r0, q0],
            t_eval=ts,
            method="LSODA",
            rtol=1e-10,
            atol=1e-12,
        )
        if not sol.success:
            raise RuntimeError(f"on-line perceptron ODE failed: {sol.message}")
        idx = np.searchsorted(ts, flat[positive])
        R[positive] = sol.y[0][idx]
        Q[positive] = sol.y[1][idx]
    return R.reshape(a.shape), Q.reshape(a.shape)


def online_perceptron_generalisation(
    alpha: npt.ArrayLike, *, R0: float = 0.0, Q0: float = 0.0
) -> FloatArray:
    """Generalisation error ``arccos(R/sqrt(Q))/pi`` of the on-line perceptron rule.

    See :func:`online_perceptron_overlaps`; 1/2 at ``alpha = 0`` (tabula
    rasa), decaying as ``eps ~ (sqrt(2)/pi) 18^(-1/6) alpha^(-1/3)``
    (``~ 0.278 alpha^(-1/3)``) for large ``alpha``.
    """
    R, Q = online_perceptron_overlaps(alpha, R0=R0, Q0=Q0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(Q > 0, R / np.sqrt(np.where(Q > 0, Q, 1.0)), 0.0)
    return np.arccos(np.clip(rho, -1.0, 1.0)) / math.pi


def _gibbs_integral(R: float) -> float:
    # int Dt exp(-R t^2/2) / H(-sqrt(R) t), with H(-x) = Phi(x); written with
    # log Phi so that the ratio stays finite in the far negative tail.
    sr = math.sqrt(R)

    def f(t: float) -> float:
        return math.exp(-0.5 * (1.0 + R) * t * t - float(special.log_ndtr(sr * t)))

    val, _ = integrate.quad(f, -np.inf, np.inf, epsabs=0.0, epsrel=1e-12, limit=200)
    return val / _SQRT_2PI


def gibbs_overlap(alpha: npt.ArrayLike) -> FloatArray:
    """Teacher–student overlap ``R`` of Gibbs (version-space) learning.

    The replica-symmetric saddle point for a student drawn uniformly from the
    version space of a teacher perceptron (Engel & Van den Broeck, ch. 2):
    ``R`` solves

        R / sqrt(1 - R) = (alpha/pi) int Dt exp(-R t^2/2) / H(-sqrt(R) t)

    with ``H(x) = int_x^inf Dt`` and ``Dt`` the standard Gaussian measure;
    found with Brent's method on ``(0, 1)``.  ``R ~ 2 alpha / pi`` for small
    alpha.
    """
    a = _alphas(alpha)
    out = np.empty(a.shape)
    for idx, x in np.ndenumerate(a):
        if x == 0:
            out[idx] = 0.0
            continue

        def g(R: float, x: float = float(x)) -> float:
            return R / math.sqrt(1.0 - R) - x / math.pi * _gibbs_integral(R)

        out[idx] = optimize.brentq(g, 0.0, 1.0 - 1e-15, xtol=1e-15, rtol=1e-15)
    return out


def gibbs_generalisation(alpha: npt.ArrayLike) -> FloatArray:
    """Generalisation error ``arccos(R)/pi`` of Gibbs learning (replica symmetric).

    1/2 at ``alpha = 0``; ``eps ~ 0.625/alpha`` for large alpha.
    """
    return np.arccos(gibbs_overlap(alpha)) / math.pi
