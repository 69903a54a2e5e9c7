"""Mean-field theory of the membrane: self-consistency, free energies, the phase
diagram, exponents, Bethe–Peierls, mean-field Glauber dynamics of quenches and
the activation functions as limits of the model.

Conventions (``k_B = 1``, per channel): ``zJ = z * J`` is the mean-field coupling
and ``T_c = zJ``; ``h`` is the field (the stimulus drive); ``m`` the
magnetisation (open minus closed fraction); the open fraction is
``n = (1 + m)/2``.  The self-consistency equation is

    m = tanh((zJ m + h) / T).

Batched evaluation of the equilibrium ``m(h; T, zJ)``, its derivative and the
activation functions goes through :mod:`neurophase.activations`; the scalar
analysis functions here (all roots with their stability, Bethe–Peierls) bracket
the roots from the shape of the equation and refine them with SciPy's
``brentq``.

Two free energies per channel are used and every function says which it returns:

* variational (Weiss): ``f_var(m) = zJ m^2/2 - T ln(2 cosh((zJ m + h)/T))``;
* Bragg–Williams: ``f_BW(m) = -zJ m^2/2 - h m + T[(1+m)/2 ln((1+m)/2)
  + (1-m)/2 ln((1-m)/2)]``.

Both are stationary at the same ``m`` (the roots) and equal there; away from the
roots they differ (only ``f_BW`` is a Landau function of ``m`` with the
expansion ``-T ln 2 - h m + (T - zJ) m^2/2 + T m^4/12 + T m^6/30 + ...``).

Dynamics: ``tau dm/dt = -m + tanh((zJ m + h(t))/T(t))``, the rate equation of a
firing-rate neurone.  Time is measured in units in which a lattice heat-bath
(Glauber) simulation performs one sweep per unit of ``tau``: in continuous-time
Glauber dynamics every spin is updated at rate ``1/tau``, so ``tau = 1``
corresponds to one update attempt per spin, i.e. one random-sequential sweep.
The engine's sweeps visit the sites in a fixed order instead; for the slow modes
that a quench drives, one such sweep corresponds to ``tau = 1/2``
(:data:`neurophase.quench.SEQUENTIAL_SWEEP_TAU` explains why).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import integrate, optimize, sparse, stats
from scipy.special import expit, xlogy

from . import activations as act

__all__ = [
    "DEFAULT_QUENCH_BIAS",
    "PARAMETER_MAPPING",
    "SPECIFIC_HEAT_JUMP",
    "ActivationZoo",
    "BetheRoots",
    "CriticalExponents",
    "ExponentFit",
    "GlauberTrajectory",
    "HysteresisLoop",
    "LandauExpansion",
    "LinearReheating",
    "MagnetisedTime",
    "NewtonianReheating",
    "QuenchResponse",
    "QuenchSchedule",
    "SampledSchedule",
    "SelfConsistentRoots",
    "ZooRow",
    "activation_zoo",
    "bethe_critical_temperature",
    "bethe_magnetisation",
    "bethe_roots",
    "bethe_susceptibility",
    "coercive_field",
    "critical_exponents",
    "critical_isotherm",
    "critical_temperature",
    "energy",
    "free_energy_bragg_williams",
    "free_energy_variational",
    "glauber_dynamics",
    "hysteresis_loop",
    "landau_expansion",
    "magnetisation",
    "quench_response",
    "roots",
    "specific_heat",
    "spinodal",
    "spontaneous_magnetisation",
    "susceptibility",
    "threshold_temperature",
    "time_magnetised",
]

FloatArray = npt.NDArray[np.float64]
Schedule = float | Callable[[float], npt.ArrayLike] | npt.ArrayLike

#: Jump of the specific heat per channel at T_c in mean field (from below: 3/2).
SPECIFIC_HEAT_JUMP = 1.5

#: Default bias field ``h_b > 0`` of the quench protocol: it selects the open
#: state ``m > 0`` as the spike (at ``h_b = 0`` the deterministic mean-field
#: trajectory stays on the unstable fixed point ``m = 0`` and never fires).
DEFAULT_QUENCH_BIAS = 0.05

_RTOL = 4.0 * float(np.finfo(float).eps)  # the smallest rtol brentq accepts
# Enough for bisection across the whole double range (roots near 1e-300).
_MAXITER = 2200
_SOLVERS = ("LSODA", "RK45", "DOP853", "BDF", "Radau")


# ---------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _positive(name: str, value: Any) -> float:
    v = _real(name, value)
    if v <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return v


def _zj(value: Any) -> float:
    v = _real("zJ", value)
    if v < 0.0:
        raise ValueError(f"zJ must be finite and >= 0 (T_c = zJ), got {value!r}")
    return v


def _real_array(name: str, value: Any) -> FloatArray:
    raw = np.asarray(value)
    if raw.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must be a real number or an array of real numbers, got "
            f"{raw.dtype} data"
        )
    arr = np.asarray(raw, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite everywhere")
    return arr


def _temperature_array(name: str, value: Any) -> FloatArray:
    arr = _real_array(name, value)
    if np.any(arr <= 0.0):
        raise ValueError(
            f"{name} must be > 0 everywhere (k_B = 1, energy units), got "
            f"min {float(arr.min())!r}"
        )
    return arr


def _magnetisation_array(value: Any) -> FloatArray:
    arr = _real_array("m", value)
    if np.any(np.abs(arr) > 1.0):
        raise ValueError("m must lie in [-1, 1] (magnetisation per channel)")
    return arr


def _out(values: FloatArray) -> float | FloatArray:
    return float(values) if values.ndim == 0 else values


def critical_temperature(coordination: float, coupling: float = 1.0) -> float:
    """Mean-field critical temperature ``T_c = z J`` (also the ``zJ`` to pass on).

    Parameters
    ----------
    coordination : float
        Number of neighbours ``z >= 1`` (``z = 2d`` on hypercubic lattices; for
        the complete graph of ``N`` spins use ``coupling * (N - 1)/N`` with
        ``z = 1``).
    coupling : float, optional
        ``J >= 0`` (energy units).

    Returns
    -------
    float
        ``zJ`` in energy units.  Mean field overestimates ``T_c`` on every
        finite-dimensional lattice (2D square: 4 J against the exact 2.269 J).
    """
    z = _real("coordination", coordination)
    if z < 1.0:
        raise ValueError(f"coordination must be >= 1, got {coordination!r}")
    j = _real("coupling", coupling)
    if j < 0.0:
        raise ValueError(f"coupling must be >= 0, got {coupling!r}")
    return z * j


# ---------------------------------------------------------------------------
# Roots of the self-consistency equation
# ---------------------------------------------------------------------------


def _monotone_roots(
    func: Callable[[float], float], points: Sequence[float], scale: float
) -> list[tuple[float, bool]]:
    """Roots of ``func`` on ``[points[0], points[-1]]``, monotone between points.

    Returns ``(root, at_turning_point)`` pairs in ascending order.  A value
    within rounding of zero at an inner point is a tangent (double) root.
    """
    values = [func(p) for p in points]
    tol = 8.0 * np.finfo(float).eps * max(scale, 1.0)
    values = [0.0 if abs(v) <= tol else v for v in values]
    found: list[tuple[float, bool]] = []
    for i in range(len(points)):
        if values[i] == 0.0:
            inner = 0 < i < len(points) - 1
            found.append((float(points[i]), inner))
        if i + 1 < len(points) and values[i] * values[i + 1] < 0.0:
            root = optimize.brentq(
                func,
                points[i],
                points[i + 1],
                xtol=1e-300,
                rtol=_RTOL,
                maxiter=_MAXITER,
            )
            found.append((float(root), False))
    found.sort()
    unique: list[tuple[float, bool]] = []
    for root, tangent in found:
        if unique and abs(root - unique[-1][0]) <= 1e-14:
            unique[-1] = (unique[-1][0], unique[-1][1] or tangent)
        else:
            unique.append((root, tangent))
    return unique


@dataclass(frozen=True)
class SelfConsistentRoots:
    """All roots of ``m = tanh((zJ m + h)/T)`` at one ``(h, T, zJ)``.

    Attributes
    ----------
    field, temperature, zJ : float
        The parameters.
    magnetisation : ndarray
        The roots in ascending order (one or three; two at a spinodal, where a
        stable and an unstable root merge).
    stability : tuple of str
        ``"stable"`` (a minimum of the free energy and an attractor of the
        Glauber dynamics: ``zJ (1 - m^2) < T``), ``"unstable"`` (a maximum) or
        ``"marginal"`` (``zJ (1 - m^2) = T``: a spinodal or the critical point).
    free_energy : ndarray
        Free energy per channel at each root (variational and Bragg–Williams
        agree there).
    """

    field: float
    temperature: float
    zJ: float
    magnetisation: FloatArray
    stability: tuple[str, ...]
    free_energy: FloatArray

    @property
    def stable(self) -> FloatArray:
        """The stable roots (one or two), ascending."""
        keep = [s == "stable" for s in self.stability]
        return self.magnetisation[np.asarray(keep, dtype=bool)]

    @property
    def equilibrium(self) -> float:
        """The root of lowest free energy; the sign of ``h`` (of +-0) on a tie."""
        f = self.free_energy
        best = np.flatnonzero(f <= f.min() + 1e-13 * max(1.0, abs(f.min())))
        if best.size == 1:
            return float(self.magnetisation[best[0]])
        positive = self.field > 0 or (
            self.field == 0 and not math.copysign(1, self.field) < 0
        )
        return float(self.magnetisation[best[-1] if positive else best[0]])


def roots(field: float, temperature: float, zJ: float = 1.0) -> SelfConsistentRoots:
    """All roots of the mean-field equation ``m = tanh((zJ m + h)/T)``, with stability.

    ``F(m) = tanh((zJ m + h)/T) - m`` is monotone between its turning points
    ``m_+- = (+-T arccosh(sqrt(zJ/T)) - h)/zJ`` (only for ``T < zJ``), so each
    monotone piece of ``[-1, 1]`` holds at most one root, refined by ``brentq``
    to full double precision.

    Parameters
    ----------
    field : float
        ``h`` (energy units), finite.
    temperature : float
        ``T > 0``, finite.
    zJ : float, optional
        Mean-field coupling ``zJ >= 0`` (``T_c = zJ``).

    Returns
    -------
    SelfConsistentRoots
        Roots ascending, their stability and free energy per channel.
    """
    h = _real("field", field)
    t = _positive("temperature", temperature)
    zj = _zj(zJ)

    def func(m: float) -> float:
        return math.tanh((zj * m + h) / t) - m

    points = [-1.0, 1.0]
    if zj > t:
        u = math.acosh(math.sqrt(zj / t))
        turning = [(-t * u - h) / zj, (t * u - h) / zj]
        points = [-1.0, *[p for p in turning if -1.0 < p < 1.0], 1.0]
    found = _monotone_roots(func, points, scale=1.0)
    ms = np.array([r for r, _ in found])
    stability = []
    for m, tangent in found:
        slope = zj * (1.0 - m * m) / t
        if tangent or abs(slope - 1.0) <= 1e-12:
            stability.append("marginal")
        else:
            stability.append("stable" if slope < 1.0 else "unstable")
    f = free_energy_variational(ms, h, t, zj)
    return SelfConsistentRoots(h, t, zj, ms, tuple(stability), np.asarray(f))


# ---------------------------------------------------------------------------
# Free energies and the Landau expansion
# ---------------------------------------------------------------------------


def _log_2cosh(x: FloatArray) -> FloatArray:
    ax = np.abs(x)
    return ax + np.log1p(np.exp(-2.0 * ax))


def free_energy_variational(
    m: npt.ArrayLike, field: npt.ArrayLike, temperature: npt.ArrayLike, zJ: float = 1.0
) -> float | FloatArray:
    """Variational (Weiss) free energy per channel ``zJ m^2/2 - T ln 2cosh(x)``.

    Here ``x = (zJ m + h)/T``.

    Returns the **variational** form: stationary in ``m`` exactly at the roots of
    the self-consistency equation, where it equals the equilibrium free energy
    per channel (a minimum at stable roots, a maximum at the unstable one);
    between the roots it differs from Bragg–Williams.  ``m`` is any real
    number (as a mean field it is not restricted to ``[-1, 1]``).
    Arguments broadcast; energy units.
    """
    mm = _real_array("m", m)
    h = _real_array("field", field)
    t = _temperature_array("temperature", temperature)
    zj = _zj(zJ)
    return _out(np.asarray(0.5 * zj * mm * mm - t * _log_2cosh((zj * mm + h) / t)))


def free_energy_bragg_williams(
    m: npt.ArrayLike, field: npt.ArrayLike, temperature: npt.ArrayLike, zJ: float = 1.0
) -> float | FloatArray:
    """Bragg–Williams free energy per channel ``f_BW(m) = e(m) - T s(m)``.

    Returns the **Bragg–Williams** form: the mean-field energy
    ``-zJ m^2/2 - h m`` minus ``T`` times the entropy of independent channels
    with magnetisation ``m``, ``-[(1+m)/2 ln((1+m)/2) + (1-m)/2 ln((1-m)/2)]``.
    Its minima over ``m`` in ``[-1, 1]`` are the stable roots, its maxima the
    unstable one, and it equals :func:`free_energy_variational` at every root.
    ``m`` must lie in ``[-1, 1]`` (the end points are allowed, ``0 ln 0 = 0``).
    Arguments broadcast; energy units.
    """
    mm = _magnetisation_array(m)
    h = _real_array("field", field)
    t = _temperature_array("temperature", temperature)
    zj = _zj(zJ)
    p, q = 0.5 * (1.0 + mm), 0.5 * (1.0 - mm)
    entropy_term = xlogy(p, p) + xlogy(q, q)
    return _out(np.asarray(-0.5 * zj * mm * mm - h * mm + t * entropy_term))


@dataclass(frozen=True)
class LandauExpansion:
    """Landau expansion of the Bragg–Williams free energy per channel in ``m``.

    ``f(m) = a0 + a1 m + a2 m^2 + a4 m^4 + a6 m^6 + O(m^8)`` with
    ``a0 = -T ln 2``, ``a1 = -h``, ``a2 = (T - zJ)/2``, ``a4 = T/12``,
    ``a6 = T/30`` (the entropy gives ``T/2 sum_k m^(2k)/(k(2k-1))``).
    """

    a0: float
    a1: float
    a2: float
    a4: float
    a6: float

    def __call__(self, m: npt.ArrayLike, *, order: int = 4) -> float | FloatArray:
        """The truncated expansion at ``m`` up to ``m**order`` (4 or 6)."""
        if order not in (4, 6):
            raise ValueError(f"order must be 4 or 6, got {order!r}")
        x = _real_array("m", m)
        value = self.a0 + self.a1 * x + self.a2 * x**2 + self.a4 * x**4
        if order == 6:
            value = value + self.a6 * x**6
        return _out(np.asarray(value))

    @property
    def minimum(self) -> float:
        """Minimiser of the quartic Landau function at ``h = 0``: ``sqrt(-a2/(2 a4))``
        below ``T_c`` (the leading-order ``m_sp = sqrt(3 (T_c - T)/T)``), else 0."""
        return math.sqrt(max(0.0, -self.a2 / (2.0 * self.a4)))


def landau_expansion(
    field: float, temperature: float, zJ: float = 1.0
) -> LandauExpansion:
    """Landau coefficients of the **Bragg–Williams** free energy per channel.

    Exact coefficients of its Taylor series in ``m`` about ``m = 0`` (see
    :class:`LandauExpansion`); valid for small ``|m|`` (the series converges for
    ``|m| < 1``).  Energy units.
    """
    h = _real("field", field)
    t = _positive("temperature", temperature)
    zj = _zj(zJ)
    return LandauExpansion(
        a0=-t * math.log(2.0),
        a1=-h,
        a2=0.5 * (t - zj),
        a4=t / 12.0,
        a6=t / 30.0,
    )


# ---------------------------------------------------------------------------
# Thermodynamics (batched through the activation kernels)
# ---------------------------------------------------------------------------


def magnetisation(
    temperature: npt.ArrayLike,
    field: npt.ArrayLike = 0.0,
    zJ: float = 1.0,
    *,
    m_prev: npt.ArrayLike | None = None,
) -> float | FloatArray:
    """Equilibrium mean-field magnetisation per channel ``m(h; T, zJ)``.

    The stable root of lowest free energy (sign of ``h``; at ``h = 0`` the sign of
    the zero, so ``+0.0`` gives ``m >= 0``), or with ``m_prev`` the stable root
    whose Glauber basin contains ``m_prev`` (hysteresis).  Batched through
    ``activations.meanfield``; arguments broadcast.
    """
    t = _temperature_array("temperature", temperature)
    h = _real_array("field", field)
    zj = _zj(zJ)
    if m_prev is None:
        return _out(np.asarray(act.meanfield(h, t, zj)))
    prev = _real_array("m_prev", m_prev)
    return _out(np.asarray(act.meanfield(h, t, zj, m_prev=prev)))


def spontaneous_magnetisation(
    temperature: npt.ArrayLike, zJ: float = 1.0
) -> float | FloatArray:
    """Spontaneous magnetisation ``m_sp(T) >= 0`` at ``h = 0`` (0 for ``T >= T_c``).

    The positive stable root of ``m = tanh(zJ m/T)``; near ``T_c`` it behaves as
    ``sqrt(3 (T_c - T)/T_c)`` (``beta = 1/2``), at ``T -> 0`` it tends to 1
    exponentially.  Batched through ``activations.meanfield`` with
    ``m_prev = 1``.
    """
    t = _temperature_array("temperature", temperature)
    zj = _zj(zJ)
    m = np.asarray(act.meanfield(np.zeros_like(t), t, zj, m_prev=np.ones_like(t)))
    return _out(np.where(t >= zj, 0.0, np.abs(m)))


def susceptibility(
    temperature: npt.ArrayLike, field: npt.ArrayLike = 0.0, zJ: float = 1.0
) -> float | FloatArray:
    """Susceptibility per channel ``chi = dm/dh = (1 - m^2)/(T - zJ (1 - m^2))``.

    At the equilibrium root (below ``T_c`` at ``h = 0``: the ordered state).
    ``chi = 1/(T - T_c)`` above ``T_c`` at ``h = 0`` and ``1/(2 (T_c - T))`` just
    below: the amplitude ratio 2.  Infinite at ``T = T_c``, ``h = 0``.  Batched
    through ``activations.meanfield_derivative``.
    """
    t = _temperature_array("temperature", temperature)
    h = _real_array("field", field)
    zj = _zj(zJ)
    t, h = np.broadcast_arrays(t, h)
    at_critical = (h == 0.0) & (t == zj)
    safe_t = np.where(at_critical, 2.0 * zj + 1.0, t)
    chi = np.asarray(
        act.meanfield_derivative(h, safe_t, zj, m_prev=np.where(h < 0, -1.0, 1.0)),
        dtype=np.float64,
    )
    return _out(np.where(at_critical, np.inf, chi))


def energy(
    temperature: npt.ArrayLike, field: npt.ArrayLike = 0.0, zJ: float = 1.0
) -> float | FloatArray:
    """Mean-field energy per channel ``e = -zJ m^2/2 - h m`` (field term included).

    At the equilibrium root; equals ``d(f/T)/d(1/T)`` of the free energy
    per channel.  Energy units; arguments broadcast.
    """
    t = _temperature_array("temperature", temperature)
    h = _real_array("field", field)
    zj = _zj(zJ)
    m = np.asarray(act.meanfield(h, t, zj, m_prev=np.where(h < 0, -1.0, 1.0)))
    return _out(np.asarray(-0.5 * zj * m * m - h * m))


def specific_heat(
    temperature: npt.ArrayLike, field: npt.ArrayLike = 0.0, zJ: float = 1.0
) -> float | FloatArray:
    """Specific heat per channel ``C = de/dT = chi (zJ m + h)^2 / T``.

    From implicit differentiation of the self-consistency equation,
    ``dm/dT = -chi (zJ m + h)/T``.  At ``h = 0`` it is 0 above ``T_c`` and
    tends to ``3/2`` (:data:`SPECIFIC_HEAT_JUMP`) as ``T -> T_c`` from below;
    at ``T = T_c``, ``h = 0`` exactly the value from above (0) is returned.
    Dimensionless (``k_B = 1``).
    """
    t = _temperature_array("temperature", temperature)
    h = _real_array("field", field)
    zj = _zj(zJ)
    t, h = np.broadcast_arrays(t, h)
    critical = (h == 0.0) & (t >= zj)
    safe_t = np.where(critical, 2.0 * zj + 1.0, t)
    prev = np.where(h < 0, -1.0, 1.0)
    m = np.asarray(act.meanfield(h, safe_t, zj, m_prev=prev))
    chi = np.asarray(act.meanfield_derivative(h, safe_t, zj, m_prev=prev))
    c = chi * (zj * m + h) ** 2 / safe_t
    return _out(np.where(critical, 0.0, c))


def critical_isotherm(field: npt.ArrayLike, zJ: float = 1.0) -> float | FloatArray:
    """Magnetisation on the critical isotherm ``T = T_c = zJ`` (``zJ > 0``).

    ``m(h)`` with ``h = T_c artanh(m) - zJ m ~ zJ m^3/3``, so
    ``m ~ (3 h/zJ)^(1/3)`` for small ``h`` (``delta = 3``).  Batched through
    ``activations.meanfield``.
    """
    h = _real_array("field", field)
    zj = _zj(zJ)
    if zj == 0.0:
        raise ValueError("zJ must be > 0 for a critical isotherm (T_c = zJ)")
    return _out(np.asarray(act.meanfield(h, np.full_like(h, zj), zj)))


def spinodal(
    temperature: npt.ArrayLike, zJ: float = 1.0
) -> tuple[float | FloatArray, float | FloatArray]:
    """Spinodal of the mean-field membrane: ``(m_s, h_s)`` for ``T < T_c``.

    Where a stable root merges with the unstable one: ``zJ (1 - m^2) = T``, i.e.
    ``m_s = sqrt(1 - T/zJ)`` and ``h_s = zJ m_s - T artanh(m_s)`` (``> 0``); the
    branch ``m < -m_s`` ends at ``h = +h_s`` and the branch ``m > m_s`` at
    ``h = -h_s``.  Near ``T_c``, ``h_s ~ (2/3) zJ (1 - T/T_c)^(3/2)``; as
    ``T -> 0``, ``h_s -> zJ``.  Both are 0 for ``T >= T_c``.
    """
    t = _temperature_array("temperature", temperature)
    zj = _zj(zJ)
    below = t < zj
    ratio = np.where(below, t / np.where(zj > 0, zj, 1.0), 1.0)
    m_s = np.sqrt(np.where(below, 1.0 - ratio, 0.0))
    h_s = np.where(below, zj * m_s - t * np.arctanh(m_s), 0.0)
    return _out(m_s), _out(np.maximum(h_s, 0.0))


# Limitation: mean field has no nucleation, so its coercive field is the spinodal
# field; a lattice reverses earlier (droplets), which is what lattice loops show.
def coercive_field(temperature: npt.ArrayLike, zJ: float = 1.0) -> float | FloatArray:
    """Coercive field ``h_c(T)`` of a quasi-static mean-field hysteresis loop.

    In mean field the magnetisation reverses only where its branch ceases to
    exist, so ``h_c`` is the spinodal field (:func:`spinodal`); 0 for
    ``T >= T_c``.  Energy units.  (A lattice reverses earlier, by nucleation.)
    """
    return spinodal(temperature, zJ)[1]


# ---------------------------------------------------------------------------
# Hysteresis
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HysteresisLoop:
    """A field swept from ``-A`` up to ``+A`` and back down, at fixed ``T``.

    Attributes
    ----------
    field : ndarray, shape (points,)
        Field values, ascending from ``-A`` to ``+A``.
    up, down : ndarray, shape (points, *batch)
        Magnetisation on the rising and the falling sweep, both indexed by
        ``field`` (the falling sweep reordered to ascending field).
    temperature : ndarray, shape batch
    coercive_field : ndarray, shape batch
        Field at which the rising branch crosses ``m = 0`` (linear interpolation).
    remanence : ndarray, shape batch
        ``m`` of the falling branch at ``h = 0``.
    area : ndarray, shape batch
        ``integral (m_down - m_up) dh`` (energy per channel dissipated per cycle).
    method : str
        ``"quasistatic"`` or ``"glauber"``.
    """

    field: FloatArray
    up: FloatArray
    down: FloatArray
    temperature: FloatArray
    coercive_field: FloatArray
    remanence: FloatArray
    area: FloatArray
    method: str


def _crossing(x: FloatArray, y: FloatArray) -> FloatArray:
    """First ``x`` where ``y`` (shape (n, *batch)) rises through 0, interpolated."""
    flat = y.reshape(y.shape[0], -1)
    out = np.full(flat.shape[1], np.nan)
    for j in range(flat.shape[1]):
        above = np.flatnonzero(flat[:, j] >= 0.0)
        if above.size == 0:
            continue
        i = int(above[0])
        if i == 0:
            out[j] = x[0]
            continue
        y0, y1 = flat[i - 1, j], flat[i, j]
        out[j] = x[i - 1] + (x[i] - x[i - 1]) * (-y0) / (y1 - y0)
    return out.reshape(y.shape[1:])


def hysteresis_loop(
    temperature: npt.ArrayLike,
    zJ: float = 1.0,
    *,
    field_amplitude: float | None = None,
    points: int = 801,
    method: Literal["quasistatic", "glauber"] = "quasistatic",
    sweep_rate: float = 1e-3,
    tau: float = 1.0,
) -> HysteresisLoop:
    """Mean-field hysteresis loop of ``m`` for a field swept up then down.

    ``method="quasistatic"`` follows the stable root that the previous state
    flows to (``activations.meanfield`` with ``m_prev``), the ``sweep_rate ->
    0`` limit: the coercive field is then the spinodal field.
    ``method="glauber"`` integrates ``tau dm/dt = -m + tanh((zJ m + h(t))/T)``
    with ``h`` swept linearly at ``sweep_rate`` (field units per unit time, one
    heat-bath sweep per ``tau``); the loop widens with the rate.

    Parameters
    ----------
    temperature : float or array_like
        ``T > 0``; an array gives a batch of loops (one integration).
    zJ : float, optional
        Mean-field coupling, ``T_c = zJ``.
    field_amplitude : float, optional
        ``A > 0``; default ``1.5 zJ + 1`` (beyond every spinodal, ``h_s < zJ``).
    points : int, optional
        Field values per branch (>= 3).
    method, sweep_rate, tau
        See above; ``sweep_rate > 0`` and ``tau > 0`` used by ``"glauber"``.
    """
    t = _temperature_array("temperature", temperature)
    zj = _zj(zJ)
    amp = 1.5 * zj + 1.0 if field_amplitude is None else field_amplitude
    amp = _positive("field_amplitude", amp)
    if isinstance(points, bool) or not isinstance(points, numbers.Integral):
        raise TypeError(f"points must be an integer >= 3, got {points!r}")
    if points < 3:
        raise ValueError(f"points must be an integer >= 3, got {points!r}")
    hs = np.linspace(-amp, amp, int(points))

    if method == "quasistatic":
        # The sweep is sequential in h (each state is the next m_prev); every
        # step is one batched kernel call over the temperatures.
        up = np.empty((hs.size, *t.shape))
        down = np.empty_like(up)
        m = np.asarray(
            act.meanfield(np.full_like(t, hs[0]), t, zj, m_prev=-np.ones_like(t))
        )
        for i, h in enumerate(hs):
            m = np.asarray(act.meanfield(np.full_like(t, h), t, zj, m_prev=m))
            up[i] = m
        for i in range(hs.size - 1, -1, -1):
            m = np.asarray(act.meanfield(np.full_like(t, hs[i]), t, zj, m_prev=m))
            down[i] = m
    elif method == "glauber":
        rate = _positive("sweep_rate", sweep_rate)
        period = 2.0 * amp / rate
        times = np.linspace(0.0, 2.0 * period, 2 * hs.size - 1)

        def h_of_t(time: float) -> float:
            x = time * rate
            return -amp + x if x <= 2.0 * amp else 3.0 * amp - x

        m0 = np.asarray(
            act.meanfield(np.full_like(t, -amp), t, zj, m_prev=-np.ones_like(t))
        )
        traj = glauber_dynamics(times, t, h_of_t, zJ=zj, m0=m0, tau=tau)
        up = traj.magnetisation[: hs.size]
        down = traj.magnetisation[hs.size - 1 :][::-1]
    else:
        raise ValueError(f"method must be 'quasistatic' or 'glauber', got {method!r}")

    h0 = int(np.argmin(np.abs(hs)))
    if hs[h0] == 0.0:
        remanence = down[h0]
    else:
        remanence = np.asarray(
            np.apply_along_axis(lambda y: np.interp(0.0, hs, y), 0, down)
        )
    area = integrate.trapezoid(down - up, hs, axis=0)
    return HysteresisLoop(
        field=hs,
        up=up,
        down=down,
        temperature=t,
        coercive_field=np.asarray(_crossing(hs, up)),
        remanence=np.asarray(remanence),
        area=np.asarray(area),
        method=method,
    )


# ---------------------------------------------------------------------------
# Bethe–Peierls
# ---------------------------------------------------------------------------


def _coordination_bethe(coordination: Any) -> float:
    z = _real("coordination", coordination)
    if z <= 2.0:
        raise ValueError(
            f"coordination must be > 2 for Bethe–Peierls (z = 2 is the chain, "
            f"which has no transition), got {coordination!r}"
        )
    return z


def _coupling_bethe(coupling: Any) -> float:
    return _positive("coupling", coupling)


def bethe_critical_temperature(coordination: float, coupling: float = 1.0) -> float:
    """Bethe–Peierls critical temperature ``T_c = 2 J / ln(z/(z - 2))``.

    From ``tanh(J/T_c) = 1/(z - 1)``; exact on the Bethe lattice (the interior of
    a Cayley tree) of coordination ``z``.  Lies between the exact lattice value
    and mean field's ``zJ``; ``T_c = zJ - J + O(J/z)``, so it tends to the
    mean-field ``zJ`` as ``z -> inf`` at fixed ``zJ``.

    Parameters
    ----------
    coordination : float
        ``z > 2`` (need not be an integer).
    coupling : float, optional
        ``J > 0``.
    """
    z = _coordination_bethe(coordination)
    j = _coupling_bethe(coupling)
    return 2.0 * j / math.log(z / (z - 2.0))


def _log_cosh(x: float) -> float:
    ax = abs(x)
    return ax + math.log1p(math.exp(-2.0 * ax)) - math.log(2.0)


@dataclass(frozen=True)
class BetheRoots:
    """Fixed points of the Bethe–Peierls cavity-field recursion at one ``(h, T)``.

    Attributes
    ----------
    cavity_field : ndarray
        Roots ``H`` of ``H = h + (z - 1) u(H)`` ascending, where
        ``u(H) = T artanh(tanh(J/T) tanh(H/T))`` is the field a branch passes on.
    magnetisation : ndarray
        ``m = tanh((h + z u(H))/T)`` of each root.
    stability : tuple of str
        ``"stable"`` where ``(z - 1) u'(H) < 1``, ``"unstable"``, or ``"marginal"``.
    """

    field: float
    temperature: float
    coordination: float
    coupling: float
    cavity_field: FloatArray
    magnetisation: FloatArray
    stability: tuple[str, ...]

    @property
    def equilibrium(self) -> float:
        """``m`` of the stable root with the sign of ``h`` (sign of the zero at 0).

        That root has the lower Bethe free energy (the ordered states are
        related by the spin flip, which the field breaks in its own favour).
        """
        positive = self.field > 0 or (
            self.field == 0 and math.copysign(1.0, self.field) > 0
        )
        return float(self.magnetisation[-1] if positive else self.magnetisation[0])


def bethe_roots(
    temperature: float,
    field: float = 0.0,
    *,
    coordination: float,
    coupling: float = 1.0,
) -> BetheRoots:
    """All fixed points of the Bethe–Peierls self-consistency at one ``(h, T)``.

    A site sees ``z`` independent branches; each passes the cavity field
    ``u(H) = T artanh(tanh(J/T) tanh(H/T)) = (T/2) ln(cosh((H+J)/T)/cosh((H-J)/T))``
    (the second form is used: it stays exact at low ``T``), where
    ``H = h + (z - 1) u(H)`` is the field on a branch's root.  ``u'`` decreases
    with ``|H|``, so the equation has one root above ``T_c`` and up to three
    below, each bracketed between turning points and refined by ``brentq``.
    """
    t = _positive("temperature", temperature)
    h = _real("field", field)
    z = _coordination_bethe(coordination)
    j = _coupling_bethe(coupling)

    tanh_k = math.tanh(j / t)

    def u(x: float) -> float:
        if abs(x) < t:  # no cancellation near 0 (and tanh(x/T) not saturated)
            return t * math.atanh(tanh_k * math.tanh(x / t))
        return 0.5 * t * (_log_cosh((x + j) / t) - _log_cosh((x - j) / t))

    def du(x: float) -> float:
        return 0.5 * (math.tanh((x + j) / t) - math.tanh((x - j) / t))

    def func(x: float) -> float:
        return h + (z - 1.0) * u(x) - x

    lo, hi = h - (z - 1.0) * j - 1.0, h + (z - 1.0) * j + 1.0
    points = [lo, hi]
    if (z - 1.0) * du(0.0) > 1.0:
        # |H*| where (z - 1) u'(H) = 1; u' falls from tanh(J/T) at 0 to 0.
        top = j + 50.0 * t
        star = optimize.brentq(
            lambda x: (z - 1.0) * du(x) - 1.0,
            0.0,
            top,
            xtol=1e-300,
            rtol=_RTOL,
            maxiter=_MAXITER,
        )
        points = [lo, *[p for p in (-star, star) if lo < p < hi], hi]
    found = _monotone_roots(func, sorted(points), scale=abs(h) + z * j)
    cav = np.array([r for r, _ in found])
    mags = np.array([math.tanh((h + z * u(x)) / t) for x in cav])
    stability = []
    for x, tangent in found:
        slope = (z - 1.0) * du(x)
        if tangent or abs(slope - 1.0) <= 1e-12:
            stability.append("marginal")
        else:
            stability.append("stable" if slope < 1.0 else "unstable")
    return BetheRoots(h, t, z, j, cav, mags, tuple(stability))


def bethe_magnetisation(
    temperature: npt.ArrayLike,
    field: npt.ArrayLike = 0.0,
    *,
    coordination: float,
    coupling: float = 1.0,
) -> float | FloatArray:
    """Bethe–Peierls magnetisation per channel ``m(h; T)`` for coordination ``z > 2``.

    The equilibrium fixed point of :func:`bethe_roots` (the stable root with the
    sign of ``h``; ``+0.0`` gives the spontaneous magnetisation ``>= 0``).
    Arguments broadcast; one root search per element (an analysis function,
    not a kernel).  ``T_c`` is :func:`bethe_critical_temperature`.
    """
    t = _temperature_array("temperature", temperature)
    h = _real_array("field", field)
    z = _coordination_bethe(coordination)
    j = _coupling_bethe(coupling)
    t, h = np.broadcast_arrays(t, h)
    out = np.empty(t.shape)
    # Limitation: one brentq search per element in Python (~50 us each); meant for
    # curves of up to ~10^4 points, not for batched activation evaluation.
    for idx in np.ndindex(t.shape):
        out[idx] = bethe_roots(
            float(t[idx]), float(h[idx]), coordination=z, coupling=j
        ).equilibrium
    return _out(out)


def bethe_susceptibility(
    temperature: npt.ArrayLike,
    field: npt.ArrayLike = 0.0,
    *,
    coordination: float,
    coupling: float = 1.0,
) -> float | FloatArray:
    """Bethe–Peierls susceptibility per channel ``chi = dm/dh`` at equilibrium.

    Implicit differentiation of the cavity equation:
    ``dH/dh = 1/(1 - (z-1) u'(H))`` and
    ``chi = (1 - m^2)/T * (1 + z u'(H) dH/dh)``.  Above ``T_c`` at ``h = 0`` this
    is ``(1 + t)/(T (1 - (z - 1) t))`` with ``t = tanh(J/T)``.
    """
    t = _temperature_array("temperature", temperature)
    h = _real_array("field", field)
    z = _coordination_bethe(coordination)
    j = _coupling_bethe(coupling)
    t, h = np.broadcast_arrays(t, h)
    out = np.empty(t.shape)
    for idx in np.ndindex(t.shape):
        r = bethe_roots(float(t[idx]), float(h[idx]), coordination=z, coupling=j)
        k = -1 if (h[idx] > 0 or (h[idx] == 0 and not np.signbit(h[idx]))) else 0
        x, m, temp = float(r.cavity_field[k]), float(r.magnetisation[k]), float(t[idx])
        du = 0.5 * (math.tanh((x + j) / temp) - math.tanh((x - j) / temp))
        denom = 1.0 - (z - 1.0) * du
        out[idx] = (
            math.inf if denom <= 0.0 else (1 - m * m) / temp * (1 + z * du / denom)
        )
    return _out(out)


# ---------------------------------------------------------------------------
# Mean-field Glauber dynamics
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SampledSchedule:
    """A schedule given by samples: ``values[i]`` at ``times[i]``.

    Linearly interpolated in time and held constant before the first and after
    the last sample.  ``values`` has time along axis 0; its other axes broadcast
    to the batch.  Build with :meth:`create` (which checks the samples).
    """

    times: FloatArray
    values: FloatArray

    @classmethod
    def create(cls, times: npt.ArrayLike, values: npt.ArrayLike) -> SampledSchedule:
        """Samples at strictly increasing ``times`` (at least one sample)."""
        ts = _real_array("times", times)
        vs = _real_array("values", values)
        if ts.ndim != 1 or ts.size == 0:
            raise ValueError("schedule is empty: give at least one sample time")
        if vs.ndim == 0 or vs.shape[0] != ts.size:
            raise ValueError(
                f"schedule values need {ts.size} samples along axis 0 (one per "
                f"time), got shape {vs.shape}"
            )
        if np.any(np.diff(ts) <= 0.0):
            raise ValueError("schedule times must be strictly increasing")
        return cls(ts, vs)

    def __call__(self, time: float) -> FloatArray:
        """Values at ``time`` (linear interpolation along axis 0)."""
        ts = self.times
        if ts.size == 1 or time <= ts[0]:
            return self.values[0]
        if time >= ts[-1]:
            return self.values[-1]
        i = int(np.searchsorted(ts, time, side="right")) - 1
        w = (time - ts[i]) / (ts[i + 1] - ts[i])
        return np.asarray((1.0 - w) * self.values[i] + w * self.values[i + 1])


class _ScheduleEvaluator:
    """A temperature or field schedule as a checked, batched function of time."""

    def __init__(self, name: str, value: Any, positive: bool) -> None:
        self.name = name
        self.positive = positive
        self.func: Callable[[float], npt.ArrayLike] | None = None
        self.constant: FloatArray | None = None
        if callable(value):
            self.func = value
            return
        arr = np.asarray(value)
        if arr.size == 0:
            raise ValueError(f"{name} is empty: give a number, an array or a schedule")
        check = _temperature_array if positive else _real_array
        self.constant = check(name, arr)

    def __call__(self, time: float) -> FloatArray:
        if self.constant is not None:
            return self.constant
        assert self.func is not None
        value = np.asarray(self.func(time), dtype=np.float64)
        if not np.all(np.isfinite(value)) or (self.positive and np.any(value <= 0)):
            allowed = "finite and > 0" if self.positive else "finite"
            raise ValueError(
                f"{self.name} schedule returned a value that is not {allowed} "
                f"at t = {time!r}"
            )
        return value


@dataclass(frozen=True)
class GlauberTrajectory:
    """Solution of ``tau dm/dt = -m + tanh((zJ m + h(t))/T(t))`` for a batch.

    Attributes
    ----------
    times : ndarray, shape (n_times,)
        Output times (units of ``tau``; one heat-bath sweep per ``tau``).
    magnetisation, temperature, field : ndarray, shape (n_times, *batch)
        ``m(t)`` and the schedules evaluated at ``times``.
    zJ, tau : float
    method : str
        SciPy solver used.
    n_evaluations : int
        Right-hand-side evaluations (each over the whole batch).
    """

    times: FloatArray
    magnetisation: FloatArray
    temperature: FloatArray
    field: FloatArray
    zJ: float
    tau: float
    method: str
    n_evaluations: int


def glauber_dynamics(
    times: npt.ArrayLike,
    temperature: Schedule,
    field: Schedule = 0.0,
    *,
    zJ: float = 1.0,
    m0: npt.ArrayLike = 0.0,
    tau: float = 1.0,
    method: str = "LSODA",
    rtol: float = 1e-8,
    atol: float = 1e-10,
) -> GlauberTrajectory:
    """Integrate mean-field Glauber dynamics for a batch of schedules and states.

    ``tau dm/dt = -m + tanh((zJ m + h(t))/T(t))`` — the deterministic limit of
    heat-bath dynamics on the complete graph, and the rate equation of a
    firing-rate neurone.  The whole batch is one vectorised ``solve_ivp``
    system with a diagonal Jacobian.

    Time unit: a random-sequential heat-bath simulation performs one sweep per
    unit of ``tau`` (continuous-time Glauber: each spin updated at rate
    ``1/tau``); the engine's fixed-order sweep is ``tau = 1/2`` for slow modes
    (see :mod:`neurophase.quench`).

    Parameters
    ----------
    times : array_like, shape (n_times,)
        Output times, strictly increasing, at least 2; integration runs from
        ``times[0]`` to ``times[-1]``.
    temperature, field : float, array_like, callable or SampledSchedule
        Schedules.  A number or an array (constant in time, broadcasting to the
        batch shape); a callable ``t -> array_like`` broadcasting to the batch
        shape (e.g. :class:`LinearReheating`); or a :class:`SampledSchedule`
        (samples in time, linearly interpolated).  ``T > 0`` throughout.
    zJ : float, optional
        Mean-field coupling ``>= 0`` (``T_c = zJ``).
    m0 : array_like, optional
        Initial magnetisations in ``[-1, 1]``; broadcasts with the schedules to
        give the batch shape.
    tau : float, optional
        Relaxation time ``> 0``.
    method : str, optional
        ``"LSODA"`` (default; switches to a stiff method when a quench drives
        ``T`` low), ``"RK45"``, ``"DOP853"``, ``"BDF"`` or ``"Radau"``.
    rtol, atol : float, optional
        Solver tolerances.

    Returns
    -------
    GlauberTrajectory
    """
    ts = _real_array("times", times)
    if ts.ndim != 1 or ts.size < 2:
        raise ValueError("times must be a 1-D array of at least 2 increasing times")
    if np.any(np.diff(ts) <= 0.0):
        raise ValueError("times must be strictly increasing")
    zj = _zj(zJ)
    tau_v = _positive("tau", tau)
    if method not in _SOLVERS:
        raise ValueError(f"method must be one of {_SOLVERS}, got {method!r}")
    rtol_v, atol_v = _positive("rtol", rtol), _positive("atol", atol)
    temp_s = _ScheduleEvaluator("temperature", temperature, True)
    field_s = _ScheduleEvaluator("field", field, False)
    m_init = _magnetisation_array(m0)
    try:
        shape = np.broadcast_shapes(
            m_init.shape, temp_s(float(ts[0])).shape, field_s(float(ts[0])).shape
        )
    except ValueError as exc:
        raise ValueError(
            "m0, temperature and field do not broadcast to one batch shape"
        ) from exc
    y0 = np.broadcast_to(m_init, shape).reshape(-1).copy()
    n = y0.size
    if n == 0:
        raise ValueError("the batch is empty (m0 or a schedule has size 0)")

    def drive(time: float, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        temp = np.broadcast_to(temp_s(time), shape).reshape(-1)
        h = np.broadcast_to(field_s(time), shape).reshape(-1)
        return zj * y + h, 1.0 / temp

    def rhs(time: float, y: FloatArray) -> FloatArray:
        x, gain = drive(time, y)
        return (np.asarray(act.tanh(x, gain)) - y) / tau_v

    def jac_diag(time: float, y: FloatArray) -> FloatArray:
        x, gain = drive(time, y)
        return (zj * np.asarray(act.tanh_derivative(x, gain)) - 1.0) / tau_v

    # Limitation: one sweep = one unit of tau is exact for random-sequential
    # (continuous-time) Glauber updates; a checkerboard sweep updates every spin
    # exactly once, so fast transients can differ by O(1) sweeps.
    options: dict[str, Any] = {}
    if method == "LSODA":
        # Banded storage with no off-diagonals: the channels of the batch are
        # independent, so the Jacobian is diagonal.
        options.update(jac=lambda t_, y_: jac_diag(t_, y_)[None, :], lband=0, uband=0)
    elif method in ("BDF", "Radau"):
        options["jac"] = lambda t_, y_: sparse.diags(jac_diag(t_, y_), format="csc")
    sol = integrate.solve_ivp(
        rhs,
        (float(ts[0]), float(ts[-1])),
        y0,
        method=method,
        t_eval=ts,
        rtol=rtol_v,
        atol=atol_v,
        **options,
    )
    if not sol.success:
        raise RuntimeError(f"Glauber integration failed: {sol.message}")
    m = np.clip(sol.y.T.reshape((ts.size, *shape)), -1.0, 1.0)
    temps = np.stack([np.broadcast_to(temp_s(float(x)), shape) for x in ts])
    fields = np.stack([np.broadcast_to(field_s(float(x)), shape) for x in ts])
    return GlauberTrajectory(
        times=ts,
        magnetisation=m,
        temperature=temps.astype(np.float64),
        field=fields.astype(np.float64),
        zJ=zj,
        tau=tau_v,
        method=method,
        n_evaluations=int(sol.nfev),
    )


# ---------------------------------------------------------------------------
# Quench schedules and the time spent magnetised
# ---------------------------------------------------------------------------


def _stimulus_array(value: Any) -> FloatArray:
    s = _real_array("stimulus", value)
    if np.any(s < 0.0):
        raise ValueError("stimulus must be >= 0 everywhere (a quench cools, k s >= 0)")
    return s


def _quench_start(
    stimulus: Any, resting_temperature: Any, k: Any, minimum_temperature: Any
) -> tuple[FloatArray, float, float, float, FloatArray]:
    s = _stimulus_array(stimulus)
    t0 = _positive("resting_temperature", resting_temperature)
    kk = _positive("k", k)
    tmin = _positive("minimum_temperature", minimum_temperature)
    if tmin >= t0:
        raise ValueError(
            f"minimum_temperature must be below resting_temperature {t0}, got {tmin}"
        )
    return s, t0, kk, tmin, np.maximum(tmin, t0 - kk * s)


def _linear_time_below(
    start: FloatArray, resting: float | FloatArray, level: float, rate: float
) -> FloatArray:
    """Time a linear reheating from ``start`` to ``resting`` spends below ``level``."""
    return np.asarray(np.maximum(0.0, np.minimum(level, resting) - start) / rate)


@dataclass(frozen=True)
class LinearReheating:
    """Quench with linear reheating: ``T(t) = min(T0, T_start + r t)`` for ``t >= 0``.

    The stimulus ``s`` cools the resting membrane instantly at ``t = 0`` to
    ``T_start = max(T_min, T0 - k s)`` (clipped at a small positive
    ``T_min``); it then reheats at rate ``r`` (temperature per unit time, one
    heat-bath sweep per unit) until it is back at ``T0``.  ``T(t < 0) = T0``.
    Build with :meth:`create`; calling the schedule gives ``T(t)`` with the
    shape of ``stimulus``.
    """

    stimulus: FloatArray
    resting_temperature: float
    k: float
    rate: float
    minimum_temperature: float
    start_temperature: FloatArray = dataclass_field(repr=False)

    @classmethod
    def create(
        cls,
        stimulus: npt.ArrayLike,
        resting_temperature: float,
        *,
        k: float = 1.0,
        rate: float = 1.0,
        minimum_temperature: float = 1e-3,
    ) -> LinearReheating:
        """Schedule for stimuli ``s >= 0`` (any shape); ``T0, k, r, T_min > 0``."""
        s, t0, kk, tmin, start = _quench_start(
            stimulus, resting_temperature, k, minimum_temperature
        )
        r = _positive("rate", rate)
        return cls(s, t0, kk, r, tmin, start)

    def __call__(self, time: float) -> FloatArray:
        """Temperature at time ``t`` for every stimulus."""
        if time < 0.0:
            return np.full_like(self.start_temperature, self.resting_temperature)
        return np.minimum(
            self.resting_temperature, self.start_temperature + self.rate * time
        )

    @property
    def duration(self) -> float:
        """Time until the deepest quench is back at ``T0``: the whole episode."""
        return float(
            np.max(self.resting_temperature - self.start_temperature) / self.rate
        )

    def time_below(self, temperature: float) -> FloatArray:
        """Time spent below ``temperature`` (the ``r -> 0`` firing time for a
        threshold temperature, ``T_c`` or ``T_theta``): ``(T - T_start)_+ / r``
        with ``T`` capped at ``T0``."""
        level = _positive("temperature", temperature)
        return _linear_time_below(
            self.start_temperature, self.resting_temperature, level, self.rate
        )


@dataclass(frozen=True)
class NewtonianReheating:
    """Quench with Newtonian reheating ``dT/dt = (T0 - T)/tau_h``.

    ``T(t) = T0 - (T0 - T_start) exp(-t/tau_h)`` with
    ``T_start = max(T_min, T0 - k s)``; ``T(t < 0) = T0``.  The episode is taken
    to end when the gap ``T0 - T`` has fallen to ``end_fraction`` of its start
    (``duration = tau_h ln(1/end_fraction)``).  Build with :meth:`create`.
    """

    stimulus: FloatArray
    resting_temperature: float
    k: float
    relaxation_time: float
    minimum_temperature: float
    end_fraction: float
    start_temperature: FloatArray = dataclass_field(repr=False)

    @classmethod
    def create(
        cls,
        stimulus: npt.ArrayLike,
        resting_temperature: float,
        *,
        k: float = 1.0,
        relaxation_time: float = 100.0,
        minimum_temperature: float = 1e-3,
        end_fraction: float = 1e-3,
    ) -> NewtonianReheating:
        """Schedule for stimuli ``s >= 0``; ``tau_h > 0``; ``0 < end_fraction < 1``."""
        s, t0, kk, tmin, start = _quench_start(
            stimulus, resting_temperature, k, minimum_temperature
        )
        tau_h = _positive("relaxation_time", relaxation_time)
        frac = _positive("end_fraction", end_fraction)
        if frac >= 1.0:
            raise ValueError(f"end_fraction must lie in (0, 1), got {end_fraction!r}")
        return cls(s, t0, kk, tau_h, tmin, frac, start)

    def __call__(self, time: float) -> FloatArray:
        """Temperature at time ``t`` for every stimulus."""
        if time < 0.0:
            return np.full_like(self.start_temperature, self.resting_temperature)
        gap = self.resting_temperature - self.start_temperature
        return self.resting_temperature - gap * math.exp(-time / self.relaxation_time)

    @property
    def duration(self) -> float:
        """``tau_h ln(1/end_fraction)``."""
        return self.relaxation_time * math.log(1.0 / self.end_fraction)

    def time_below(self, temperature: float) -> FloatArray:
        """Time spent below ``temperature``:
        ``tau_h ln((T0 - T_start)/(T0 - T))`` where positive, else 0."""
        level = _positive("temperature", temperature)
        gap0 = self.resting_temperature - self.start_temperature
        gap = self.resting_temperature - level
        if gap <= 0.0:
            return np.full_like(gap0, np.inf)
        with np.errstate(divide="ignore"):
            return self.relaxation_time * np.maximum(0.0, np.log(gap0 / gap))


QuenchSchedule = LinearReheating | NewtonianReheating


def threshold_temperature(theta: float, zJ: float = 1.0, field: float = 0.0) -> float:
    """Temperature ``T_theta`` at which the equilibrium ``m`` equals ``theta``.

    From ``theta = tanh((zJ theta + h)/T)``: ``T_theta = (zJ theta + h)/artanh(theta)``;
    at ``h = 0``, ``T_theta = zJ theta/artanh(theta) < T_c`` and ``-> T_c`` as
    ``theta -> 0``.  A slowly reheated membrane stays above ``theta`` while
    ``T < T_theta``, so the quench threshold is ``s0 = (T0 - T_theta)/k``.

    Parameters
    ----------
    theta : float
        ``0 < theta < 1``.
    zJ, field : float, optional
        ``zJ >= 0``, ``h`` with ``zJ theta + h > 0``.
    """
    th = _real("theta", theta)
    if not 0.0 < th < 1.0:
        raise ValueError(f"theta must lie in (0, 1), got {theta!r}")
    zj = _zj(zJ)
    h = _real("field", field)
    if zj * th + h <= 0.0:
        raise ValueError("zJ * theta + field must be > 0 for m to reach theta")
    return (zj * th + h) / math.atanh(th)


@dataclass(frozen=True)
class MagnetisedTime:
    """Time spent magnetised, per trajectory.

    Attributes
    ----------
    time : ndarray, shape batch
        Total time in the magnetised state (the firing rate of one episode).
    episodes : ndarray of int, shape batch
        Number of separate magnetised episodes.
    integrated_magnetisation : ndarray, shape batch
        ``integral m dt`` over the whole window (trapezoid).
    theta_on, theta_off : float
    """

    time: FloatArray
    episodes: npt.NDArray[np.int64]
    integrated_magnetisation: FloatArray
    theta_on: float
    theta_off: float


def time_magnetised(
    times: npt.ArrayLike,
    magnetisation: npt.ArrayLike,
    theta_on: float,
    theta_off: float | None = None,
) -> MagnetisedTime:
    """Time each trajectory spends magnetised, with hysteretic thresholds.

    A trajectory enters the magnetised state when the signed ``m`` rises above
    ``theta_on`` and leaves it when ``m`` falls below ``theta_off <= theta_on``
    (default ``theta_off = theta_on``), so noise near one threshold does not
    split an episode.  It starts unmagnetised unless ``m(t_0) > theta_on``.
    Crossing times are interpolated linearly between samples.  Works for
    mean-field trajectories and for per-sweep lattice records alike; threshold
    each trajectory first, then average over seeds.

    Parameters
    ----------
    times : array_like, shape (n_times,)
        Strictly increasing sample times.
    magnetisation : array_like, shape (n_times, *batch)
        ``m`` at those times (time along axis 0).
    theta_on, theta_off : float
        Thresholds in ``(-1, 1)`` with ``theta_off <= theta_on``.
    """
    ts = _real_array("times", times)
    if ts.ndim != 1 or ts.size < 2 or np.any(np.diff(ts) <= 0.0):
        raise ValueError("times must be a 1-D strictly increasing array of >= 2 times")
    m = _real_array("magnetisation", magnetisation)
    if m.ndim == 0 or m.shape[0] != ts.size:
        raise ValueError(
            f"magnetisation must have len(times) = {ts.size} entries along axis 0"
        )
    on = _real("theta_on", theta_on)
    off = on if theta_off is None else _real("theta_off", theta_off)
    if not -1.0 < on < 1.0 or not -1.0 < off < 1.0:
        raise ValueError("theta_on and theta_off must lie in (-1, 1)")
    if off > on:
        raise ValueError(f"theta_off ({off}) must be <= theta_on ({on})")

    flat = m.reshape(ts.size, -1)
    # State machine without a Python loop over samples: the state at each
    # sample is set by the last threshold event (+1 above on, -1 below off).
    event = np.where(flat > on, 1, np.where(flat < off, -1, 0))
    idx = np.where(event != 0, np.arange(ts.size)[:, None], 0)
    last = np.maximum.accumulate(idx, axis=0)
    state = np.take_along_axis(event, last, axis=0) == 1
    state &= ~((last == 0) & (event[:1] == 0))  # no event yet: unmagnetised

    dt = np.diff(ts)[:, None]
    a, b = flat[:-1], flat[1:]
    sa, sb = state[:-1], state[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac_on = np.where(b != a, (b - on) / (b - a), 0.0)  # part after crossing on
        frac_off = np.where(
            a != b, (a - off) / (a - b), 0.0
        )  # part before crossing off
    contrib = np.where(
        sa & sb,
        dt,
        np.where(
            ~sa & sb,
            np.clip(frac_on, 0.0, 1.0) * dt,
            np.where(sa & ~sb, np.clip(frac_off, 0.0, 1.0) * dt, 0.0),
        ),
    )
    total = contrib.sum(axis=0)
    episodes = (~sa & sb).sum(axis=0) + state[0].astype(np.int64)
    integral = integrate.trapezoid(flat, ts, axis=0)
    shape = m.shape[1:]
    return MagnetisedTime(
        time=total.reshape(shape),
        episodes=episodes.reshape(shape).astype(np.int64),
        integrated_magnetisation=integral.reshape(shape),
        theta_on=on,
        theta_off=off,
    )


@dataclass(frozen=True)
class QuenchResponse:
    """Mean-field Glauber response of the membrane to quench stimuli.

    Attributes
    ----------
    stimulus : ndarray
    rate : ndarray
        Time spent magnetised per episode (the firing rate), units of ``tau``.
    episodes : ndarray of int
    integrated_magnetisation : ndarray
        ``integral m dt`` over the episode window.
    threshold_stimulus : float
        ``r -> 0`` threshold ``(T0 - T_theta)/k`` with ``T_theta`` from
        :func:`threshold_temperature` at ``theta_on`` and the bias.
    trajectory : GlauberTrajectory
    schedule : LinearReheating or NewtonianReheating
    """

    stimulus: FloatArray
    rate: FloatArray
    episodes: npt.NDArray[np.int64]
    integrated_magnetisation: FloatArray
    threshold_stimulus: float
    trajectory: GlauberTrajectory
    schedule: QuenchSchedule
    bias: float
    theta_on: float
    theta_off: float


def quench_response(
    schedule: QuenchSchedule,
    *,
    zJ: float = 1.0,
    bias: float = DEFAULT_QUENCH_BIAS,
    theta_on: float = 0.5,
    theta_off: float | None = None,
    tau: float = 1.0,
    samples: int = 4001,
    m0: npt.ArrayLike | None = None,
    method: str = "LSODA",
) -> QuenchResponse:
    """Firing rate of the mean-field membrane for a batch of quench stimuli.

    Protocol: the membrane rests in equilibrium at ``T0`` with the bias field
    ``h_b`` (``m0 = m(h_b; T0)`` unless given); at ``t = 0`` the stimulus
    cools it and it reheats along ``schedule``; ``tau dm/dt = -m +
    tanh((zJ m + h_b)/T(t))`` is integrated over the whole episode
    (``[0, schedule.duration]``, ``samples`` output times) for all stimuli
    in one system, and :func:`time_magnetised` thresholds each trajectory.
    Time in units of ``tau`` (one heat-bath sweep per ``tau``).

    Parameters
    ----------
    schedule : LinearReheating or NewtonianReheating
        The quench; its resting temperature must exceed ``T_c = zJ`` (the
        protocol starts at rest in the disordered phase).
    zJ : float, optional
        Mean-field coupling ``zJ >= 0``, energy units; ``T_c = zJ``.
    bias : float, optional
        Bias field ``h_b > 0`` (default :data:`DEFAULT_QUENCH_BIAS`, 0.05, as
        in :class:`neurophase.quench.QuenchProtocol`).  It must be positive:
        at ``h_b = 0`` the deterministic trajectory starts and stays on the
        unstable fixed point ``m = 0`` and never fires, and ``h_b < 0``
        selects the closed state.
    theta_on, theta_off : float, optional
        Thresholds on ``m`` (:func:`time_magnetised`).
    tau : float, optional
        Relaxation time of the Glauber equation.
    samples : int, optional
        Output times over the episode, ``>= 3``.
    m0 : array_like, optional
        Initial magnetisation (default: the equilibrium ``m(h_b; T0)``).
    method : str, optional
        SciPy ODE solver.

    Raises
    ------
    ValueError
        If ``bias <= 0``, ``schedule.resting_temperature <= zJ``, or another
        parameter is out of range.
    """
    if not isinstance(schedule, (LinearReheating, NewtonianReheating)):
        raise TypeError("schedule must be a LinearReheating or NewtonianReheating")
    zj = _zj(zJ)
    hb = _real("bias", bias)
    if hb <= 0.0:
        raise ValueError(
            f"bias must be > 0, got {bias!r}: the quench protocol needs a small "
            "positive bias field to select the open state (at bias 0 the "
            "mean-field trajectory stays on the unstable fixed point m = 0)"
        )
    if schedule.resting_temperature <= zj:
        raise ValueError(
            "schedule.resting_temperature must exceed T_c = zJ = "
            f"{zj:g} (the quench starts at rest above T_c), got "
            f"{schedule.resting_temperature:g}"
        )
    if (
        isinstance(samples, bool)
        or not isinstance(samples, numbers.Integral)
        or samples < 3
    ):
        raise ValueError(f"samples must be an integer >= 3, got {samples!r}")
    t0 = schedule.resting_temperature
    if m0 is None:
        m_start = np.asarray(act.meanfield(hb, t0, zj, m_prev=1.0 if hb >= 0 else -1.0))
    else:
        m_start = _magnetisation_array(m0)
    duration = max(schedule.duration, 1e-9)
    ts = np.linspace(0.0, duration, int(samples))
    traj = glauber_dynamics(
        ts,
        schedule,
        hb,
        zJ=zj,
        m0=np.broadcast_to(m_start, schedule.stimulus.shape),
        tau=tau,
        method=method,
    )
    counted = time_magnetised(ts, traj.magnetisation, theta_on, theta_off)
    if zj * counted.theta_on + hb > 0.0 and counted.theta_on > 0.0:
        t_theta = threshold_temperature(counted.theta_on, zj, hb)
        s0 = (t0 - t_theta) / schedule.k
    else:
        s0 = math.nan
    return QuenchResponse(
        stimulus=schedule.stimulus,
        rate=counted.time,
        episodes=counted.episodes,
        integrated_magnetisation=counted.integrated_magnetisation,
        threshold_stimulus=s0,
        trajectory=traj,
        schedule=schedule,
        bias=hb,
        theta_on=counted.theta_on,
        theta_off=counted.theta_off,
    )


# ---------------------------------------------------------------------------
# Critical exponents from the mean-field curves
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExponentFit:
    """A power law ``y = amplitude * x**exponent`` fitted in log-log."""

    exponent: float
    exponent_error: float
    amplitude: float
    x_range: tuple[float, float]


def _power_fit(x: FloatArray, y: FloatArray) -> ExponentFit:
    res = stats.linregress(np.log(x), np.log(y))
    return ExponentFit(
        float(res.slope),
        float(res.stderr),
        float(math.exp(res.intercept)),
        (float(x.min()), float(x.max())),
    )


def _inverted(fit: ExponentFit) -> ExponentFit:
    return ExponentFit(
        fit.exponent, fit.exponent_error, 1.0 / fit.amplitude, fit.x_range
    )


@dataclass(frozen=True)
class CriticalExponents:
    """Exponents read off the mean-field curves by log-log fits close to ``T_c``.

    ``beta`` from ``m_sp ~ (-t)^beta``; ``gamma_above``/``gamma_below`` from
    ``chi ~ |t|^-gamma`` with amplitudes ``chi_amplitude_above/below`` (ratio
    2 in mean field); ``delta`` from ``m ~ h^(1/delta)`` on the critical
    isotherm; ``alpha`` from ``C ~ (-t)^-alpha`` below ``T_c`` (a finite jump:
    0) with ``specific_heat_jump`` the limit of ``C`` at ``T_c^-``.
    ``t = T/T_c - 1``.
    """

    beta: ExponentFit
    gamma_above: ExponentFit
    gamma_below: ExponentFit
    delta: float
    delta_fit: ExponentFit
    alpha: float
    alpha_fit: ExponentFit
    specific_heat_jump: float

    @property
    def gamma(self) -> float:
        """Mean of the two ``gamma`` fits."""
        return 0.5 * (self.gamma_above.exponent + self.gamma_below.exponent)

    @property
    def amplitude_ratio(self) -> float:
        """``Gamma+/Gamma-`` of ``chi`` above and below ``T_c`` (2 in mean field)."""
        return self.gamma_above.amplitude / self.gamma_below.amplitude

    @property
    def rushbrooke(self) -> float:
        """``alpha + 2 beta + gamma`` (scaling: 2)."""
        return self.alpha + 2.0 * self.beta.exponent + self.gamma

    @property
    def widom(self) -> float:
        """``gamma - beta (delta - 1)`` (scaling: 0)."""
        return self.gamma - self.beta.exponent * (self.delta - 1.0)

    def __str__(self) -> str:
        rows = [
            ("beta", self.beta.exponent, 0.5),
            ("gamma (T > T_c)", self.gamma_above.exponent, 1.0),
            ("gamma (T < T_c)", self.gamma_below.exponent, 1.0),
            ("Gamma+/Gamma-", self.amplitude_ratio, 2.0),
            ("delta", self.delta, 3.0),
            ("alpha", self.alpha, 0.0),
            ("C jump", self.specific_heat_jump, SPECIFIC_HEAT_JUMP),
            ("alpha + 2 beta + gamma", self.rushbrooke, 2.0),
            ("gamma - beta (delta - 1)", self.widom, 0.0),
        ]
        width = max(len(name) for name, _, _ in rows)
        lines = [f"{'quantity':<{width}}  {'fitted':>10}  {'mean field':>10}"]
        lines += [f"{n:<{width}}  {v:>10.5f}  {e:>10.5g}" for n, v, e in rows]
        return "\n".join(lines)


def critical_exponents(
    zJ: float = 1.0,
    *,
    reduced_temperature: tuple[float, float] = (1e-6, 1e-3),
    reduced_field: tuple[float, float] = (1e-9, 1e-5),
    points: int = 30,
) -> CriticalExponents:
    """Fit the critical exponents to the mean-field curves near ``T_c = zJ``.

    Evaluates ``m_sp``, ``chi`` and ``C`` (through the activation kernels) at
    ``points`` log-spaced ``|t|`` in ``reduced_temperature`` on each side and
    ``m`` on the critical isotherm at ``h/zJ`` in ``reduced_field``, and fits
    straight lines in log-log (SciPy ``linregress``).  Expected: ``beta = 1/2``,
    ``gamma = 1`` on both sides with amplitude ratio 2, ``delta = 3``,
    ``alpha = 0`` (jump 3/2).  Corrections to scaling are ``O(|t|)``, so the
    default ranges give the exponents to about ``1e-3``.
    """
    zj = _zj(zJ)
    if zj == 0.0:
        raise ValueError("zJ must be > 0 (no transition at zJ = 0)")
    lo, hi = (_positive("reduced_temperature", v) for v in reduced_temperature)
    hlo, hhi = (_positive("reduced_field", v) for v in reduced_field)
    if not lo < hi < 1.0 or not hlo < hhi:
        raise ValueError("ranges must be (low, high) with low < high (and t < 1)")
    if (
        isinstance(points, bool)
        or not isinstance(points, numbers.Integral)
        or points < 3
    ):
        raise ValueError(f"points must be an integer >= 3, got {points!r}")

    t = np.geomspace(lo, hi, int(points))
    below, above = zj * (1.0 - t), zj * (1.0 + t)
    m_sp = np.asarray(spontaneous_magnetisation(below, zj))
    beta = _power_fit(t, m_sp)
    gamma_above = _power_fit(t, 1.0 / np.asarray(susceptibility(above, 0.0, zj)))
    gamma_below = _power_fit(t, 1.0 / np.asarray(susceptibility(below, 0.0, zj)))
    # 1/chi = |t|^gamma / Gamma: the slope is gamma, the amplitude 1/Gamma.
    gamma_above = _inverted(gamma_above)
    gamma_below = _inverted(gamma_below)
    hs = zj * np.geomspace(hlo, hhi, int(points))
    iso = _power_fit(hs / zj, np.asarray(critical_isotherm(hs, zj)))
    c_below = np.asarray(specific_heat(below, 0.0, zj))
    alpha_raw = _power_fit(t, c_below)
    alpha_fit = ExponentFit(
        -alpha_raw.exponent,
        alpha_raw.exponent_error,
        alpha_raw.amplitude,
        alpha_raw.x_range,
    )
    return CriticalExponents(
        beta=beta,
        gamma_above=gamma_above,
        gamma_below=gamma_below,
        delta=1.0 / iso.exponent,
        delta_fit=iso,
        alpha=alpha_fit.exponent,
        alpha_fit=alpha_fit,
        specific_heat_jump=float(c_below[0]),
    )


# ---------------------------------------------------------------------------
# The activation zoo
# ---------------------------------------------------------------------------

#: Physics of the membrane -> the neurone it models.
PARAMETER_MAPPING: tuple[tuple[str, str], ...] = (
    ("field h", "input x (synaptic drive)"),
    ("temperature T", "noise; inverse gain (tanh gain 1/T, logistic gain 2/T)"),
    ("coupling zJ (= T_c)", "channel cooperativity"),
    ("T0 - T_c (or T0 - T_theta)", "threshold: s0 = (T0 - T_c)/k"),
    ("quench depth k s", "stimulus s"),
    ("reheating rate r (or 1/tau_h)", "recovery speed (ReLU slope k/r)"),
    ("time magnetised (m > theta)", "firing rate"),
    ("open fraction (1 + m)/2", "output in [0, 1]"),
)


@dataclass(frozen=True)
class ZooRow:
    """One activation as a limit of the membrane model, with its numerical check.

    ``deviation`` is the largest difference between the membrane side (computed
    from the model: roots, Glauber integration or an average over noise) and
    the neurone side (the activation kernel) on the row's grid, measured as
    described in ``measure``; the identity holds when ``deviation <= tolerance``.
    """

    activation: str
    limit: str
    membrane: str
    neurone: str
    mapping: str
    deviation: float
    tolerance: float
    measure: str

    @property
    def holds(self) -> bool:
        """Whether the check passed."""
        return bool(self.deviation <= self.tolerance)


@dataclass(frozen=True)
class ActivationZoo:
    """The activation zoo: rows, the physics -> neurone mapping, the parameters."""

    rows: tuple[ZooRow, ...]
    mapping: tuple[tuple[str, str], ...]
    parameters: dict[str, float]

    def row(self, activation: str) -> ZooRow:
        """The row of ``activation`` (e.g. ``"ReLU"``)."""
        for r in self.rows:
            if r.activation == activation:
                return r
        names = [r.activation for r in self.rows]
        raise KeyError(f"no activation {activation!r}; rows are {names}")

    def table(self) -> Any:
        """A ``rich.table.Table`` of the rows; ``print()`` gives it as plain text
        and a rich console renders it."""
        from rich.markup import escape

        from ._table import TextTable

        table = TextTable(title="Activations as limits of the membrane (mean field)")
        for col in ("activation", "limit", "membrane", "neurone", "mapping", "check"):
            table.add_column(col)
        for r in self.rows:
            mark = "ok" if r.holds else "FAILS"
            cells = (
                r.activation,
                r.limit,
                r.membrane,
                r.neurone,
                r.mapping,
                f"{r.deviation:.2g} <= {r.tolerance:.2g} {mark} ({r.measure})",
            )
            table.add_row(*(escape(c) for c in cells))
        return table

    def mapping_table(self) -> Any:
        """A ``rich.table.Table`` of the physics -> neurone dictionary (plain
        text with ``print()``)."""
        from rich.markup import escape

        from ._table import TextTable

        table = TextTable(title="Membrane physics -> neurone")
        table.add_column("membrane")
        table.add_column("neurone")
        for a, b in self.mapping:
            table.add_row(escape(a), escape(b))
        return table

    def __rich__(self) -> Any:
        from rich.console import Group

        return Group(self.table(), self.mapping_table())

    def __str__(self) -> str:
        lines = []
        for r in self.rows:
            lines.append(
                f"{r.activation}: {r.limit}; membrane {r.membrane} = neurone "
                f"{r.neurone} [{r.mapping}]; deviation {r.deviation:.2g} "
                f"(tolerance {r.tolerance:.2g}, {r.measure}): "
                f"{'holds' if r.holds else 'FAILS'}"
            )
        lines.append("mapping:")
        lines.extend(f"  {a} -> {b}" for a, b in self.mapping)
        return "\n".join(lines)


def _logistic_noise_rate(
    stimulus: FloatArray,
    resting_temperature: float,
    zj: float,
    k: float,
    rate: float,
    sigma: float,
    minimum_temperature: float,
) -> FloatArray:
    """Expected ``r -> 0`` firing time when ``T0`` carries logistic noise.

    ``E_eps[time below T_c]`` with ``T0 -> T0 + sigma eps``, ``eps`` standard
    logistic, by adaptive quadrature over ``eps`` of the linear-reheating
    schedule's time below ``T_c``.
    """

    def integrand(eps: float) -> FloatArray:
        rest = resting_temperature + sigma * eps
        start = np.maximum(minimum_temperature, rest - k * stimulus)
        density = expit(eps) * expit(-eps)  # standard logistic density
        return _linear_time_below(start, rest, zj, rate) * density

    # Beyond |eps| = 45 the logistic density is below 1e-19; on the cold side
    # the resting temperature must stay above the floor.
    lower = max(-45.0, (2.0 * minimum_temperature - resting_temperature) / sigma)
    value, _ = integrate.quad_vec(
        integrand, lower, 45.0, epsabs=1e-11 * zj / rate, epsrel=1e-10
    )
    return np.asarray(value)


def _integrated_spontaneous(
    stimulus: FloatArray, resting_temperature: float, zj: float, k: float, rate: float
) -> FloatArray:
    """``(1/r) integral of m_sp(T) dT`` from ``T0 - k s`` to ``T_c`` by quadrature."""
    out = np.empty(stimulus.shape)
    for i, s in np.ndenumerate(stimulus):
        start = max(0.0, resting_temperature - k * float(s))
        if start >= zj:
            out[i] = 0.0
            continue
        # Near T_c, m_sp ~ sqrt(T_c - T): substitute T = T_c - u^2 for a smooth
        # integrand (2 u m_sp(T_c - u^2)).
        top = math.sqrt(zj - start)
        val, _ = integrate.quad(
            lambda u: (
                2.0 * u * float(spontaneous_magnetisation(zj - u * u, zj))
                if zj - u * u > 0.0
                else 2.0 * u
            ),
            0.0,
            top,
            epsabs=1e-14,
            epsrel=1e-11,
            limit=200,
        )
        out[i] = val / rate
    return out


def activation_zoo(
    zJ: float = 1.0,
    *,
    temperature: float = 0.5,
    resting_temperature: float = 1.25,
    k: float = 1.0,
    rate: float = 5e-4,
    relaxation_time: float = 1600.0,
    sigma: float = 0.02,
    theta: float = 0.5,
    bias: float = 1e-2,
) -> ActivationZoo:
    """Each activation function as a limit of the membrane model, checked numerically.

    Rows (membrane side computed from the model, neurone side from
    :mod:`neurophase.activations`):

    * tanh — ``J = 0``: ``m(h; T, 0)`` against ``tanh(h/T)``;
    * logistic — open fraction at ``J = 0`` against ``logistic(h; 2/T)``;
    * step — ``T -> 0`` (``T = 1e-3 zJ``): open fraction against the Heaviside
      step (``|h| >= 0.05 zJ``);
    * high-gain linear — ``T > T_c``: ``dm/dh`` at ``h = 0`` against
      ``1/(T - T_c)`` (relative), steeper than tanh's ``1/T``;
    * ReLU — linear reheating at slow ``rate``: time magnetised (threshold
      ``theta``) from the mean-field Glauber integration against
      ``quench_rate`` with ``T_c -> T_theta``, i.e. ``(k/r) ReLU(s - s0)``
      saturating at ``T_theta/r`` (relative to the saturation value);
    * softplus — logistic noise of scale ``sigma`` on ``T0``: the quadrature
      average of the ``r -> 0`` firing time against ``quench_rate(sigma=...)``
      (a difference of two softplus terms; relative to ``T_c/r``).  The closed
      form ignores noise that puts ``T0`` itself below ``T_c`` (a membrane that
      never stops firing), of probability ``~exp(-(T0 - T_c)/sigma)``;
    * Swish — ``h`` times the ``J = 0`` open fraction against ``swish(h; 2/T)``;
    * log-rectifier — Newtonian reheating with time constant
      ``relaxation_time``: Glauber time magnetised against
      ``tau_h ln(k s/(T0 - T_theta))`` (relative to ``tau_h``);
    * power-law onset — the integrated spontaneous magnetisation over the slow
      reheating (quadrature of ``m_sp``) against ``quench_meanfield_rate``
      (relative) and its onset exponent fitted against ``1 + beta = 3/2``
      (the row's deviation is the larger of the two).

    Parameters are the shared ones of the rows (``zJ > 0``; ``T0 > T_c``;
    ``k, rate, relaxation_time, sigma, bias > 0``; ``0 < theta < 1``).
    Takes a few seconds (two batched Glauber integrations).
    """
    zj = _positive("zJ", zJ)
    temp = _positive("temperature", temperature)
    t0 = _positive("resting_temperature", resting_temperature)
    if t0 <= zj:
        raise ValueError(f"resting_temperature must exceed T_c = zJ = {zj}, got {t0}")
    kk = _positive("k", k)
    r = _positive("rate", rate)
    tau_h = _positive("relaxation_time", relaxation_time)
    sig = _positive("sigma", sigma)
    hb = _positive("bias", bias)
    t_theta = threshold_temperature(theta, zj, hb)
    rows: list[ZooRow] = []

    # Independent channels: tanh, logistic, Swish.
    h = np.linspace(-4.0, 4.0, 161) * temp
    zero = 0.0
    m_free = np.asarray(act.meanfield(h, temp, zero))
    dev = float(np.max(np.abs(m_free - np.asarray(act.tanh(h, 1.0 / temp)))))
    rows.append(
        ZooRow(
            "tanh",
            "J = 0",
            "m = tanh(h/T)",
            "tanh(g x)",
            "x = h, g = 1/T",
            dev,
            1e-12,
            "max |dm|",
        )
    )
    n_free = np.asarray(act.open_fraction(h, temp, zero))
    dev = float(np.max(np.abs(n_free - np.asarray(act.logistic(h, 2.0 / temp)))))
    rows.append(
        ZooRow(
            "logistic",
            "J = 0, open fraction",
            "n = (1 + m)/2",
            "logistic(g x)",
            "x = h, g = 2/T",
            dev,
            1e-12,
            "max |dn|",
        )
    )
    dev = float(np.max(np.abs(h * n_free - np.asarray(act.swish(h, 2.0 / temp)))))
    rows.append(
        ZooRow(
            "Swish",
            "J = 0, input times open fraction",
            "h n",
            "x logistic(g x)",
            "x = h, g = 2/T",
            dev,
            1e-12 * float(np.max(h)),
            "max |d(h n)|",
        )
    )

    # T -> 0: the McCulloch–Pitts step.
    h_step = np.concatenate([-np.geomspace(3.0, 0.05, 40), np.geomspace(0.05, 3.0, 40)])
    h_step = h_step * zj
    n_cold = np.asarray(act.open_fraction(h_step, 1e-3 * zj, zj))
    dev = float(np.max(np.abs(n_cold - np.asarray(act.step(h_step)))))
    rows.append(
        ZooRow(
            "step",
            "T -> 0 (T = 1e-3 zJ)",
            "n = (1 + m)/2",
            "step(x)",
            "x = h",
            dev,
            1e-12,
            "max |dn|, |h| >= 0.05 zJ",
        )
    )

    # T > T_c: gain 1/(T - T_c).
    t_hot = zj * (1.0 + np.geomspace(1e-3, 1.0, 25))
    gain = np.asarray(act.meanfield_derivative(np.zeros_like(t_hot), t_hot, zj))
    dev = float(np.max(np.abs(gain * (t_hot - zj) - 1.0)))
    rows.append(
        ZooRow(
            "high-gain linear",
            "T > T_c, small h",
            "dm/dh at h = 0",
            "g x, g = 1/(T - T_c)",
            "x = h; gain diverges at T_c (tanh: 1/T)",
            dev,
            1e-9,
            "max relative |d gain|",
        )
    )

    # Linear reheating: ReLU (Glauber integration, threshold theta).
    s0 = (t0 - t_theta) / kk
    stim = np.linspace(0.0, (t0 + 0.2 * zj) / kk, 31)
    lin = LinearReheating.create(stim, t0, k=kk, rate=r, minimum_temperature=1e-4 * zj)
    resp = quench_response(lin, zJ=zj, bias=hb, theta_on=theta, samples=6001)
    relu_rate = np.asarray(act.quench_rate(stim, t0, t_theta, kk, r))
    dev = float(np.max(np.abs(resp.rate - relu_rate)) / (t_theta / r))
    rows.append(
        ZooRow(
            "ReLU",
            f"linear reheating, r = {r:g} (slow)",
            "time with m > theta",
            "(k/r) ReLU(s - s0), cap T_theta/r",
            f"s0 = (T0 - T_theta)/k = {s0:.4g} (T_theta -> T_c as theta -> 0)",
            dev,
            0.02,
            "max |d rate| / (T_theta/r)",
        )
    )

    # Logistic noise on T0: softplus (r -> 0, saturation included).
    stim_sp = np.linspace(0.0, (t0 + 0.3 * zj) / kk, 41)
    noisy = _logistic_noise_rate(stim_sp, t0, zj, kk, r, sig, 1e-9 * zj)
    soft = np.asarray(act.quench_rate(stim_sp, t0, zj, kk, r, sigma=sig))
    dev = float(np.max(np.abs(noisy - soft)) / (zj / r))
    rows.append(
        ZooRow(
            "softplus",
            "logistic noise of scale sigma on T0",
            "E[time below T_c]",
            "(sigma/r) [softplus(u) - softplus(u - T_c/sigma)]",
            "u = (k s - (T0 - T_c))/sigma",
            dev,
            1e-6,
            "max |d rate| / (T_c/r)",
        )
    )

    # Newtonian reheating: log-rectifier (Glauber integration).
    gap = t0 - t_theta
    stim_log = (t0 - t_theta) / kk * np.geomspace(0.5, (t0 - 0.1 * zj) / gap, 21)
    newton = NewtonianReheating.create(
        stim_log, t0, k=kk, relaxation_time=tau_h, minimum_temperature=1e-4 * zj
    )
    resp_n = quench_response(newton, zJ=zj, bias=hb, theta_on=theta, samples=6001)
    log_rect = tau_h * np.log(np.maximum(kk * stim_log / gap, 1.0))
    dev = float(np.max(np.abs(resp_n.rate - log_rect)) / tau_h)
    rows.append(
        ZooRow(
            "log-rectifier",
            f"Newtonian reheating, tau_h = {tau_h:g}",
            "time with m > theta",
            "tau_h ln(k s/(T0 - T_theta)), 0 below",
            "threshold (T0 - T_theta)/k, scale tau_h",
            dev,
            0.02,
            "max |d rate| / tau_h",
        )
    )

    # Integrated magnetisation: onset exponent 1 + beta = 3/2.
    s_c = (t0 - zj) / kk
    excess = zj / kk * np.geomspace(1e-6, 1e-3, 12)
    stim_on = s_c + excess
    integ = _integrated_spontaneous(stim_on, t0, zj, kk, r)
    kernel = np.asarray(act.quench_meanfield_rate(stim_on, t0, zj, kk, r))
    rel = float(np.max(np.abs(integ / kernel - 1.0)))
    fit = _power_fit(excess, integ)
    dev = max(rel, abs(fit.exponent - 1.5) / 1.5)
    rows.append(
        ZooRow(
            "power-law onset",
            "integrated m over slow linear reheating",
            "(1/r) int m_sp(T) dT",
            "a (s - s0)^(3/2)",
            f"s0 = (T0 - T_c)/k; fitted exponent {fit.exponent:.4f}",
            dev,
            1e-2,
            "max(rel. |d|, |x - 3/2|/(3/2))",
        )
    )

    params = {
        "zJ": zj,
        "temperature": temp,
        "resting_temperature": t0,
        "k": kk,
        "rate": r,
        "relaxation_time": tau_h,
        "sigma": sig,
        "theta": float(theta),
        "bias": hb,
        "threshold_temperature": t_theta,
    }
    return ActivationZoo(tuple(rows), PARAMETER_MAPPING, params)
