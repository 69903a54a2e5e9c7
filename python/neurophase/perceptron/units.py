"""Activation units: an activation of :mod:`neurophase.activations` by name."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import _validate, activations
from ._common import FloatArray

#: Activation names understood by :class:`Activation`.
ACTIVATIONS = (
    "step",
    "meanfield",
    "logistic",
    "tanh",
    "relu",
    "quench",
    "softplus",
    "swish",
)


@dataclass(frozen=True)
class Activation:
    """One activation of :mod:`neurophase.activations` with its parameters.

    Parameters
    ----------
    name
        One of :data:`ACTIVATIONS`.
    gain
        Gain ``g`` of ``logistic``, ``tanh``, ``relu``, ``softplus``, ``swish``.
    temperature, zJ
        ``T > 0`` and ``zJ >= 0`` of ``meanfield`` (``m(h; T, zJ)``, the
        lowest-free-energy root of ``m = tanh((zJ m + h)/T)``; ``T_c = zJ``).
    T0, Tc, k, r, sigma
        Resting temperature, critical temperature, cooling per unit stimulus,
        reheating rate and logistic noise on ``T0`` of ``quench``, with
        ``T0 > Tc`` (the firing rate ``(k/r) ReLU(s - (T0 - Tc)/k)`` saturating
        at ``Tc/r``; softplus-like for ``sigma > 0``).

    The step activation has a zero derivative almost everywhere and is used by
    the perceptron rule only.
    """

    name: str = "tanh"
    gain: float = 1.0
    temperature: float = 2.0
    zJ: float = 1.0
    T0: float = 1.5
    Tc: float = 1.0
    k: float = 1.0
    r: float = 1.0
    sigma: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.name!r}"
            )
        for attr in ("gain", "temperature", "T0", "Tc", "k", "r"):
            _validate.finite_float(attr, getattr(self, attr), positive=True)
        zj = _validate.finite_float("zJ", self.zJ)
        if zj < 0:
            raise ValueError(f"zJ must be finite and >= 0, got {self.zJ!r}")
        sigma = _validate.finite_float("sigma", self.sigma)
        if sigma < 0:
            raise ValueError(f"sigma must be finite and >= 0, got {self.sigma!r}")
        if self.name == "quench" and self.T0 <= self.Tc:
            raise ValueError(
                f"T0 must be > Tc for the quench activation (the membrane rests "
                f"above T_c), got T0 = {self.T0!r}, Tc = {self.Tc!r}"
            )

    # Every call into the kernels is here, so that the arguments are easy to audit.
    def _call(self, h: FloatArray, derivative: bool) -> FloatArray:
        a = activations
        n, g = self.name, self.gain
        if n == "step":
            out = a.step_derivative(h) if derivative else a.step(h)
        elif n == "meanfield":
            T, zJ = self.temperature, self.zJ
            if derivative:
                out = a.meanfield_derivative(h, T, zJ)
            else:
                out = a.meanfield(h, T, zJ)
        elif n == "quench":
            args = (h, self.T0, self.Tc, self.k, self.r)
            if derivative:
                out = a.quench_rate_derivative(*args, sigma=self.sigma)
            else:
                out = a.quench_rate(*args, sigma=self.sigma)
        elif n == "logistic":
            out = a.logistic_derivative(h, g) if derivative else a.logistic(h, g)
        elif n == "tanh":
            out = a.tanh_derivative(h, g) if derivative else a.tanh(h, g)
        elif n == "relu":
            out = a.relu_derivative(h, g) if derivative else a.relu(h, g)
        elif n == "softplus":
            out = a.softplus_derivative(h, g) if derivative else a.softplus(h, g)
        else:
            out = a.swish_derivative(h, g) if derivative else a.swish(h, g)
        return np.asarray(out, dtype=np.float64)

    def __call__(self, h: npt.ArrayLike) -> FloatArray:
        """The activation at local fields ``h`` (float64 array of h's shape)."""
        return self._call(np.asarray(h, dtype=np.float64), derivative=False)

    def derivative(self, h: npt.ArrayLike) -> FloatArray:
        """The derivative d(activation)/dh at ``h`` (the susceptibility for
        ``meanfield``)."""
        return self._call(np.asarray(h, dtype=np.float64), derivative=True)

    @property
    def levels(self) -> tuple[float, float]:
        """(lower, upper) output levels used as targets for the two classes."""
        if self.name in ("meanfield", "tanh"):
            return (-1.0, 1.0)
        if self.name == "quench":
            return (0.0, self.Tc / self.r)
        return (0.0, 1.0)

    @property
    def threshold(self) -> float:
        """Decision threshold on the output: the midpoint of the levels."""
        lo, hi = self.levels
        return 0.5 * (lo + hi)

    @property
    def critical_temperature(self) -> float:
        """``T_c`` of the activation (``zJ`` for meanfield, ``Tc`` for quench)."""
        return self.zJ if self.name == "meanfield" else self.Tc

    @property
    def temperature_ratio(self) -> float:
        """``T / T_c`` of the mean-field activation (inf when ``zJ = 0``)."""
        if self.name != "meanfield":
            raise ValueError("temperature_ratio applies to the meanfield activation")
        return self.temperature / self.zJ if self.zJ > 0 else math.inf

    def gain_at_zero(self) -> float:
        """The derivative at ``h = +0``: the linear-response gain.

        For ``meanfield`` this is the zero-field susceptibility
        ``chi = (1 - m^2)/(T - zJ (1 - m^2))`` (``1/(T - T_c)`` above ``T_c``,
        infinite at ``T_c``, evaluated on the ``m > 0`` branch below it).
        """
        return float(self.derivative(np.array([0.0]))[0])

    def describe(self) -> str:
        """Short human-readable name with the parameters that matter."""
        n = self.name
        if n == "step":
            return "step"
        if n == "meanfield":
            return f"meanfield(T={self.temperature:g}, zJ={self.zJ:g})"
        if n == "quench":
            s = f", sigma={self.sigma:g}" if self.sigma > 0 else ""
            return (
                f"quench(T0={self.T0:g}, Tc={self.Tc:g}, k={self.k:g}, r={self.r:g}{s})"
            )
        return f"{n}(gain={self.gain:g})"


def _activation(value: Activation | str) -> Activation:
    if isinstance(value, Activation):
        return value
    if isinstance(value, str):
        return Activation(value)
    raise TypeError(f"activation must be a name or an Activation, got {value!r}")
