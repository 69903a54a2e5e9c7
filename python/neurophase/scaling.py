"""Finite-size scaling: critical temperature and exponents with error bars.

The input is a :class:`ScalingData`: thermalised per-sweep series of the
magnetisation ``m`` and energy ``e`` per spin (and, for the correlation length,
``|m(k_min)|^2``) at zero field, one or more per (size, temperature). It is built
from :class:`neurophase.Run` objects (:meth:`ScalingData.from_runs`), from plain
arrays (:meth:`ScalingData.from_arrays`, the route for any stored sweep), or
from exact distributions (:meth:`ScalingData.curie_weiss`,
:meth:`Series.exact_histogram`).

Conventions
-----------
``k_B = 1``, ``beta = 1/T``, energies in units of ``J``. ``size`` is the side
``L`` of a periodic ``L^d`` lattice, or ``N`` on the complete graph, where every
exponent is then one of ``N`` (``1/nu_N``, ``gamma/nu_N``, ``beta/nu_N``) in place
of ``L``.

* Binder cumulant ``U4 = 1 - <m^4> / (3 <m^2>^2)``.
* ``susceptibility = beta N (<m^2> - <|m|>^2)`` and
  ``susceptibility_second_moment = beta N <m^2>`` (per spin).
* Second-moment correlation length, with ``k_min = 2 pi / L`` and
  ``chi(k) ~ <|m(k)|^2>`` averaged over the ``d`` axes:
  ``xi = sqrt(chi(0) / chi(k_min) - 1) / (2 sin(k_min / 2))``.
* ``energy`` ``<e>`` and ``specific_heat`` ``beta^2 N (<e^2> - <e>^2)`` per spin.
* ``binder_slope = dU4/dbeta`` from the reweighting identity
  ``d<O>/dbeta = -(<O H> - <O><H>)`` with ``H = N e``; it grows as
  ``L^(1/nu)`` at ``T_c``.

Methods
-------
Every observable at a temperature ``T`` is a single-histogram (Ferrenberg and
Swendsen 1988) reweighting of the runs of that size,
``<O>_beta = sum_t O_t w_t / sum_t w_t`` with ``w_t = exp(-(beta - beta_0) H_t)``
(log-sum-exp). A run at ``beta_0`` is used only while
``|beta - beta_0| sigma_H <= max_shift`` (``sigma_H`` the standard deviation of
its total energy; default ``max_shift = 1``, the width of its energy histogram),
with a weight falling linearly to zero at that edge, so the curve of a size is
continuous across runs. Beyond every run's range a :class:`ReweightingRangeError`
is raised.

Errors come from a delete-one-block jackknife over ``n_blocks`` blocks of each
series (the block sums of the *reweighted* moments are needed, so this is a
jackknife of its own rather than the one of :mod:`neurophase.statistics`, whose
``tau_int`` is used to check the block length), synchronised across series:
jackknife sample ``j`` drops block ``j`` of every series, so every derived
number (a crossing, a fit, a collapse) is
recomputed on each sample and its error includes the correlations between
quantities built from the same data. Runs at the same (size, temperature) with
different seeds are pooled block by block.

References
----------
A. M. Ferrenberg and R. H. Swendsen, Phys. Rev. Lett. 61, 2635 (1988).
K. Binder, Z. Phys. B 43, 119 (1981).
J. Salas and A. D. Sokal, J. Stat. Phys. 98, 551 (2000) (2D U* and xi/L).
M. Hasenbusch, Phys. Rev. B 82, 174433 (2010) (3D values).
J. Houdayer and A. K. Hartmann, Phys. Rev. B 70, 014418 (2004) (collapse).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

from . import _io, _validate
from .simulation import NeurophaseWarning, Run
from .statistics import Estimate, integrated_autocorrelation_time

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.table import Table

    from .sweeps import SweepResult

__all__ = [
    "MAX_CURIE_WEISS_CLASSES",
    "QUANTITIES",
    "REFERENCES",
    "Collapse",
    "CollapseData",
    "Crossing",
    "Extrapolation",
    "Peak",
    "PowerLaw",
    "Reference",
    "ReweightingRangeError",
    "ScalingData",
    "ScalingResult",
    "ScalingWarning",
    "Series",
    "StudyInterrupted",
    "analyse",
    "collapse",
    "comparison_table",
    "crossing",
    "crossings",
    "extrapolate_crossings",
    "fit_power_law",
    "peaks",
    "plot_binder",
    "plot_collapse",
    "run_study",
    "task_seed",
]

logger = logging.getLogger(__name__)

_FloatArray = npt.NDArray[np.float64]

#: Observables a :class:`ScalingData` can reweight (see the module docstring).
QUANTITIES = (
    "energy",
    "specific_heat",
    "binder",
    "binder_slope",
    "abs_magnetisation",
    "magnetisation2",
    "susceptibility",
    "susceptibility_second_moment",
    "correlation_length",
    "xi_over_size",
)

#: Largest total number of Curie-Weiss classes of states, ``sum_N (N + 1)`` over
#: the sizes times the number of temperatures, accepted by
#: :meth:`ScalingData.curie_weiss`.  The data and their analysis keep about
#: 300 bytes per class and temperature, so the limit is about 1.2 GB (and some
#: 15 s of analysis on one core).
MAX_CURIE_WEISS_CLASSES = 4 * 10**6

#: Blocks of the jackknife over every series.
DEFAULT_BLOCKS = 20
#: A jackknife block shorter than this many tau_int gives a note (errors too small).
MIN_BLOCK_PER_TAU = 5.0
#: Temperatures scanned per curve to bracket crossings and peaks.
_SCAN_POINTS = 81


class ScalingWarning(NeurophaseWarning):
    """A finite-size-scaling result whose error bar may not be trustworthy."""


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_study`; ``.runs`` holds the runs that finished.

    The runs are in task order (sizes, then temperatures) with gaps where a run
    had not finished; a run cut short is dropped.
    """

    def __init__(self, runs: list[Run], total: int) -> None:
        super().__init__(f"interrupted after {len(runs)} of {total} runs")
        self.runs = runs
        self.total = total


class ReweightingRangeError(ValueError):
    """A temperature outside the range where the runs of a size can be reweighted."""


# --------------------------------------------------------------------------- #
# Reference values
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Reference:
    """Known critical values of a universality class on one lattice.

    Attributes
    ----------
    name : str
        The lattice, e.g. ``"2D square"``.
    temperature : float
        ``T_c / J``.
    nu, gamma_over_nu, beta_over_nu : float
        Exponents with respect to ``L`` (to ``N`` on the complete graph).
    binder : float
        ``U4`` at ``T_c`` for ``L -> inf`` (periodic boundaries).
    xi_over_size : float
        ``xi / L`` at ``T_c`` for ``L -> inf`` (nan where undefined).
    source : str
        Where the values come from.
    """

    name: str
    temperature: float
    nu: float
    gamma_over_nu: float
    beta_over_nu: float
    binder: float
    xi_over_size: float
    source: str


#: Reference values: ``"square"``, ``"cubic"`` and ``"complete"``.
REFERENCES: dict[str, Reference] = {
    "square": Reference(
        "2D square",
        2.0 / math.log(1.0 + math.sqrt(2.0)),
        1.0,
        7.0 / 4.0,
        1.0 / 8.0,
        0.61069165,
        0.9050488,
        "Onsager; Salas & Sokal (2000)",
    ),
    "cubic": Reference(
        "3D cubic",
        1.0 / 0.22165463,
        0.62997,
        1.96370,
        0.51815,
        0.46548,
        0.6431,
        "Hasenbusch (2010); conformal bootstrap exponents",
    ),
    "complete": Reference(
        "complete graph",
        1.0,
        2.0,
        0.5,
        0.25,
        # 1 - Gamma(1/4)^4 / (24 pi^2): the N -> inf Curie-Weiss distribution at T_c.
        1.0 - math.exp(4.0 * gammaln(0.25)) / (24.0 * math.pi**2),
        math.nan,
        "mean field, exponents in N (1/nu_N = 1/2)",
    ),
}


# --------------------------------------------------------------------------- #
# Input data
# --------------------------------------------------------------------------- #
def _series(name: str, value: Any) -> _FloatArray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of real numbers, got {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite everywhere")
    return arr


@dataclass(frozen=True)
class Series:
    """Per-sweep records of one equilibrium run at one (size, temperature), h = 0.

    Attributes
    ----------
    size : int
        ``L`` (periodic ``L^d`` lattice) or ``N`` (complete graph).
    temperature : float
        ``T > 0`` of the run.
    n_sites : int
        ``N``.
    magnetisation, energy : ndarray, shape (n,)
        Signed magnetisation and energy per spin after each sweep (thermalised).
    kmin_magnetisation2 : ndarray, shape (n,), or None
        ``|m(k_min)|^2`` per sweep averaged over the axes (see
        :attr:`neurophase.Run.kmin_magnetisation2`); needed for ``xi``.
    log_weight : ndarray, shape (n,), or None
        Log of the probability of each record at ``temperature`` (up to a
        constant), for exact distributions given as a list of states (see
        :meth:`exact_histogram`); None for Monte Carlo records, which are equally
        weighted samples.
    seed : int or None
        Seed of the run (for the record).
    """

    size: int
    temperature: float
    n_sites: int
    magnetisation: _FloatArray = field(repr=False)
    energy: _FloatArray = field(repr=False)
    kmin_magnetisation2: _FloatArray | None = field(default=None, repr=False)
    log_weight: _FloatArray | None = field(default=None, repr=False)
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("size", "n_sites"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
                raise ValueError(f"{name} must be an integer >= 2, got {v!r}")
            object.__setattr__(self, name, int(v))
        t = float(self.temperature)
        if not (math.isfinite(t) and t > 0.0):
            raise ValueError(f"temperature must be finite and > 0, got {t!r}")
        object.__setattr__(self, "temperature", t)
        m = _series("magnetisation", self.magnetisation)
        e = _series("energy", self.energy)
        if m.size != e.size:
            raise ValueError(
                f"magnetisation and energy must have the same length, got {m.size} "
                f"and {e.size}"
            )
        object.__setattr__(self, "magnetisation", m)
        object.__setattr__(self, "energy", e)
        for name in ("kmin_magnetisation2", "log_weight"):
            v = getattr(self, name)
            if v is not None:
                arr = _series(name, v)
                if arr.size != m.size:
                    raise ValueError(
                        f"{name} must have one value per record ({m.size}), got "
                        f"{arr.size}"
                    )
                object.__setattr__(self, name, arr)

    @property
    def exact(self) -> bool:
        """True for an exact distribution (weighted states), not a sample."""
        return self.log_weight is not None

    @classmethod
    def from_run(cls, run: Run, *, discard: int = 0) -> Series:
        """The records of a :class:`neurophase.Run` at constant T and zero field.

        ``size`` is the side of a periodic ``L^d`` lattice (all sides equal) or
        ``N`` of the complete graph; ``kmin_magnetisation2`` is the axis average
        of the run's record when it was recorded (``record_kmin=True``).
        """
        if not isinstance(run, Run):
            raise TypeError(f"run must be a neurophase.Run, got {type(run).__name__}")
        if isinstance(discard, bool) or not isinstance(discard, (int, np.integer)):
            raise TypeError(f"discard must be an integer >= 0, got {discard!r}")
        if not 0 <= discard <= run.sweeps - 2:
            raise ValueError(
                f"discard must be in [0, {run.sweeps - 2}] (run of {run.sweeps} "
                f"sweeps), got {discard}"
            )
        lattice = run.lattice
        T, h = run.temperature[discard:], run.field[discard:]
        if np.any(T != T[0]):
            raise ValueError("run: finite-size scaling needs a constant temperature")
        if np.any(h != 0.0) or run.site_field is not None:
            raise ValueError("run: finite-size scaling needs zero field")
        if lattice.is_complete:
            size = lattice.n_sites
        else:
            # Limitation: equal sides only; xi and the size exponents use one L.
            if not lattice.periodic or len(set(lattice.shape)) != 1:
                raise ValueError(
                    "run: finite-size scaling needs a periodic L^d lattice with "
                    f"equal sides or the complete graph, got {lattice.describe()}"
                )
            size = lattice.shape[0]
        kmin = run.kmin_magnetisation2
        return cls(
            size=size,
            temperature=float(T[0]),
            n_sites=lattice.n_sites,
            magnetisation=run.magnetisation[discard:],
            energy=run.energy[discard:],
            kmin_magnetisation2=None if kmin is None else kmin[discard:].mean(axis=1),
            seed=run.seed,
        )

    @classmethod
    def exact_histogram(
        cls,
        *,
        size: int,
        n_sites: int,
        temperature: float,
        energy: npt.ArrayLike,
        magnetisation: npt.ArrayLike,
        log_multiplicity: npt.ArrayLike,
        kmin_magnetisation2: npt.ArrayLike | None = None,
    ) -> Series:
        """An exact distribution given as classes of states.

        Parameters
        ----------
        energy, magnetisation : array_like, shape (k,)
            Energy and magnetisation per spin of each class of states.
        log_multiplicity : array_like, shape (k,)
            Log of the number of states in each class (the density of states).
        kmin_magnetisation2 : array_like, shape (k,), optional
            Mean ``|m(k_min)|^2`` over the states of each class, if known.

        The weight at ``temperature`` is ``g exp(-H / T)``; reweighting such a
        series is exact at every temperature.
        """
        t = float(temperature)
        if not (math.isfinite(t) and t > 0.0):
            raise ValueError(f"temperature must be finite and > 0, got {temperature!r}")
        e = _series("energy", energy)
        log_g = _series("log_multiplicity", log_multiplicity)
        if log_g.size != e.size:
            raise ValueError(
                f"log_multiplicity must have one value per class ({e.size}), got "
                f"{log_g.size}"
            )
        log_w = log_g - (e * float(n_sites)) / t
        return cls(
            size=size,
            temperature=temperature,
            n_sites=n_sites,
            magnetisation=np.asarray(magnetisation, dtype=np.float64),
            energy=e,
            kmin_magnetisation2=None
            if kmin_magnetisation2 is None
            else np.asarray(kmin_magnetisation2, dtype=np.float64),
            log_weight=log_w,
        )


# Moments accumulated per block; "h" is the centred total energy H - <H>_0.
_MOMENTS = ("one", "m2", "m4", "absm", "h", "hh", "hm2", "hm4", "habsm", "kmin")
_IDX = {name: i for i, name in enumerate(_MOMENTS)}


# Limitation: runs of one size are combined by blending their single-histogram
# reweightings with fixed weights, not by the optimal multi-histogram (WHAM)
# equations, so widely overlapping runs give somewhat larger errors than needed.
class _Histogram:
    """All records of one (size, temperature): block sums of reweighted moments."""

    def __init__(self, parts: Sequence[Series], n_blocks: int) -> None:
        first = parts[0]
        self.size = first.size
        self.n_sites = first.n_sites
        self.temperature = first.temperature
        self.beta0 = 1.0 / first.temperature
        self.exact = first.exact
        self.n_blocks = n_blocks
        self.has_kmin = all(p.kmin_magnetisation2 is not None for p in parts)
        self.notes: list[str] = []
        if self.exact:
            if len(parts) > 1:
                raise ValueError(
                    f"size {self.size}, T = {self.temperature}: an exact histogram "
                    "cannot be pooled with other series at the same temperature"
                )
            pieces = [self._columns(first, slice(None))]
            self.starts = np.zeros(1, dtype=np.intp)
            self.n_records = first.magnetisation.size
        else:
            if any(p.exact for p in parts):
                raise ValueError(
                    f"size {self.size}, T = {self.temperature}: exact and sampled "
                    "series cannot be pooled"
                )
            # Block k of the pool is block k of every series, so deleting it keeps
            # the seeds independent (a jackknife synchronised across series).
            per_block: list[list[_FloatArray]] = [[] for _ in range(n_blocks)]
            self.n_records = 0
            for p in parts:
                n = p.magnetisation.size
                b = n // n_blocks
                if b < 1:
                    raise ValueError(
                        f"size {p.size}, T = {p.temperature}: a series of {n} records "
                        f"is shorter than n_blocks = {n_blocks}"
                    )
                self._check_blocks(p, b)
                start = n - n_blocks * b  # the earliest records are dropped
                cols = self._columns(p, slice(start, None))
                self.n_records += n_blocks * b
                for k in range(n_blocks):
                    per_block[k].append(cols[:, k * b : (k + 1) * b])
            pieces = [np.concatenate(blk, axis=1) for blk in per_block]
            lengths = [piece.shape[1] for piece in pieces]
            self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.intp)
        data = np.concatenate(pieces, axis=1)
        log_w0 = data[-1]
        total_h = data[-2] * self.n_sites
        ref = self._weighted_mean(total_h, log_w0)
        h = total_h - ref
        self.sigma_h = math.sqrt(max(self._weighted_mean(h * h, log_w0), 0.0))
        m2, m4, absm, kmin = data[0], data[1], data[2], data[3]
        # Rows in the order of _MOMENTS.
        self.h_ref = ref
        moments = np.stack(
            [np.ones_like(h), m2, m4, absm, h, h * h, h * m2, h * m4, h * absm, kmin]
        )
        block = np.repeat(
            np.arange(self.starts.size), np.diff(np.append(self.starts, h.size))
        )
        self._compress(block, h, log_w0, moments)

    def _compress(
        self,
        block: npt.NDArray[np.intp],
        h: _FloatArray,
        log_w0: _FloatArray,
        moments: _FloatArray,
    ) -> None:
        """Pool the records of equal energy within each block.

        Reweighting multiplies every record of one energy by the same factor, so
        a group keeps its total weight and its weighted mean moments: the sums
        are those of the records, and each evaluation costs the number of
        distinct (block, energy) pairs instead of the number of records.
        """
        order = np.lexsort((h, block))
        h, block, lw = h[order], block[order], log_w0[order]
        new = np.ones(h.size, dtype=bool)
        new[1:] = (h[1:] != h[:-1]) | (block[1:] != block[:-1])
        first = np.flatnonzero(new)
        group = np.cumsum(new) - 1
        top = np.maximum.reduceat(lw, first)
        w = np.exp(lw - top[group])
        total = np.add.reduceat(w, first)
        self.moments = np.add.reduceat(moments[:, order] * w, first, axis=1) / total
        self.log_w0 = top + np.log(total)
        self.h = h[first]
        self.starts = np.searchsorted(block[first], np.arange(self.starts.size))

    @staticmethod
    def _weighted_mean(x: _FloatArray, log_w: _FloatArray) -> float:
        w = np.exp(log_w - log_w.max())
        return float(np.sum(w * x) / np.sum(w))

    @staticmethod
    def _columns(p: Series, sl: slice) -> _FloatArray:
        m = p.magnetisation[sl]
        m2 = m * m
        kmin = (
            p.kmin_magnetisation2[sl]
            if p.kmin_magnetisation2 is not None
            else np.full(m.size, np.nan)
        )
        log_w = p.log_weight[sl] if p.log_weight is not None else np.zeros(m.size)
        return np.stack([m2, m2 * m2, np.abs(m), kmin, p.energy[sl], log_w])

    def _check_blocks(self, p: Series, block: int) -> None:
        m2 = p.magnetisation**2
        if np.all(m2 == m2[0]):
            return
        tau, _ = integrated_autocorrelation_time(m2)
        if block < MIN_BLOCK_PER_TAU * tau:
            self.notes.append(
                f"size {p.size}, T = {p.temperature:.6g}: jackknife blocks of "
                f"{block} records are only {block / tau:.2g} tau_int(m^2) = "
                f"{tau:.3g} long; errors are underestimated (run longer)"
            )

    def weight(self, beta: _FloatArray, max_shift: float) -> _FloatArray:
        """Blending weight at ``beta``: 1 at beta_0, 0 at the validity edge."""
        if self.exact:
            return np.ones_like(beta)
        if self.sigma_h == 0.0:
            return (beta == self.beta0).astype(np.float64)
        return np.clip(1.0 - np.abs(beta - self.beta0) * self.sigma_h / max_shift, 0, 1)

    def block_sums(self, beta: _FloatArray, rows: _FloatArray | None = None) -> Any:
        """Reweighted moment sums, shape (len(beta), n_moments, n_blocks)."""
        log_w = self.log_w0[None, :] - (beta[:, None] - self.beta0) * self.h[None, :]
        log_w -= log_w.max(axis=1, keepdims=True)
        w = np.exp(log_w)
        sums = np.empty((beta.size, len(_MOMENTS), self.starts.size))
        ends = np.append(self.starts[1:], self.moments.shape[1])
        for k, (a, b) in enumerate(zip(self.starts, ends, strict=True)):
            sums[:, :, k] = w[:, a:b] @ self.moments[:, a:b].T
        if self.exact:
            # One exact distribution: every jackknife sample sees all of it.
            sums = np.repeat(sums / self.n_blocks, self.n_blocks, axis=2)
        return sums

    def means(self, beta: _FloatArray, diagonal: bool) -> _FloatArray:
        """Reweighted means of every moment and jackknife sample.

        ``diagonal=False``: shape (M, K + 1, n_moments), sample 0 the full data
        and sample j the data without block j. ``diagonal=True``: ``beta`` has
        K + 1 entries and row j is sample j at ``beta[j]``; shape (K + 1, n).
        """
        sums = self.block_sums(beta)
        total = sums.sum(axis=2)
        if diagonal:
            j = np.arange(beta.size)
            sub = total.copy()
            sub[1:] -= sums[j[1:], :, j[1:] - 1]
            return sub[:, 1:] / sub[:, :1]
        loo = total[:, :, None] - sums  # (M, n_mom, K)
        samples = np.concatenate([total[:, :, None], loo], axis=2)
        samples = np.moveaxis(samples, 2, 1)  # (M, K + 1, n_mom)
        return samples[..., 1:] / samples[..., :1]


def _derived(
    quantity: str,
    mean: _FloatArray,
    beta: _FloatArray,
    n_sites: int,
    size: int,
    h_ref: float = 0.0,
) -> _FloatArray:
    """A quantity from reweighted means (last axis: moments without "one")."""

    def g(name: str) -> _FloatArray:
        return mean[..., _IDX[name] - 1]

    with np.errstate(divide="ignore", invalid="ignore"):
        m2, m4 = g("m2"), g("m4")
        if quantity == "energy":
            return (g("h") + h_ref) / n_sites
        if quantity == "specific_heat":
            return beta * beta * (g("hh") - g("h") ** 2) / n_sites
        if quantity == "binder":
            return 1.0 - m4 / (3.0 * m2 * m2)
        if quantity == "binder_slope":
            h = g("h")
            cov4 = g("hm4") - m4 * h
            cov2 = g("hm2") - m2 * h
            return cov4 / (3.0 * m2 * m2) - 2.0 * m4 * cov2 / (3.0 * m2**3)
        if quantity == "abs_magnetisation":
            return g("absm")
        if quantity == "magnetisation2":
            return m2
        if quantity == "susceptibility":
            return beta * n_sites * (m2 - g("absm") ** 2)
        if quantity == "susceptibility_second_moment":
            return beta * n_sites * m2
        if quantity in ("correlation_length", "xi_over_size"):
            xi = np.sqrt(m2 / g("kmin") - 1.0) / (2.0 * math.sin(math.pi / size))
            return xi / size if quantity == "xi_over_size" else xi
    raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")


def _jackknife_error(samples: _FloatArray) -> float:
    """Delete-one jackknife error from samples[0] (full) and samples[1:] (LOO)."""
    loo = np.asarray(samples, dtype=np.float64)[1:]
    k = loo.size
    if k < 2:
        return 0.0
    return float(math.sqrt((k - 1) / k * np.sum((loo - loo.mean()) ** 2)))


def _estimate(samples: _FloatArray) -> Estimate:
    return Estimate(float(samples[0]), _jackknife_error(samples))


class ScalingData:
    """Records of a finite-size-scaling study, reweightable in temperature.

    Parameters
    ----------
    series : sequence of Series
        At least two sizes. Series at the same (size, temperature) are pooled
        (several seeds); all must be of one lattice kind and dimension.
    kind : {"hypercubic", "complete"}
        Periodic ``L^d`` lattices (``size = L``) or the complete graph
        (``size = N``).
    dimension : int
        ``d`` (1 for the complete graph).
    n_blocks : int
        Jackknife blocks per series (>= 2; default 20).
    max_shift : float
        Largest ``|beta - beta_0| sigma_H`` a run is reweighted over (> 0,
        default 1). Larger values reach further from the simulated temperatures
        at the price of rapidly growing noise and bias.

    Attributes
    ----------
    notes : tuple of str
        Data-quality remarks (jackknife blocks short against ``tau_int``).
    """

    def __init__(
        self,
        series: Sequence[Series],
        *,
        kind: Literal["hypercubic", "complete"] = "hypercubic",
        dimension: int = 2,
        n_blocks: int = DEFAULT_BLOCKS,
        max_shift: float = 1.0,
    ) -> None:
        series = list(series)
        if not series or not all(isinstance(s, Series) for s in series):
            raise TypeError("series must be a non-empty sequence of scaling.Series")
        if kind not in ("hypercubic", "complete"):
            raise ValueError(f"kind must be 'hypercubic' or 'complete', got {kind!r}")
        if isinstance(dimension, bool) or not isinstance(dimension, (int, np.integer)):
            raise TypeError(
                f"dimension must be an integer in [1, 5], got {dimension!r}"
            )
        if not 1 <= dimension <= 5 or (kind == "complete" and dimension != 1):
            raise ValueError(
                f"dimension must be in [1, 5] (1 for the complete graph), got "
                f"{dimension}"
            )
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)):
            raise TypeError(f"n_blocks must be an integer >= 2, got {n_blocks!r}")
        if n_blocks < 2:
            raise ValueError(f"n_blocks must be an integer >= 2, got {n_blocks}")
        max_shift = float(max_shift)
        if not (math.isfinite(max_shift) and max_shift > 0.0):
            raise ValueError(f"max_shift must be finite and > 0, got {max_shift}")
        self.kind = kind
        self.dimension = int(dimension)
        self.n_blocks = int(n_blocks)
        self.max_shift = max_shift
        self.series = tuple(series)
        for s in series:
            expected = s.size if kind == "complete" else s.size**dimension
            if s.n_sites != expected:
                raise ValueError(
                    f"series of size {s.size} has n_sites = {s.n_sites}, expected "
                    f"{expected} for kind={kind!r}, dimension={dimension}"
                )
        groups: dict[tuple[int, float], list[Series]] = {}
        for s in series:
            groups.setdefault((s.size, s.temperature), []).append(s)
        self._hist: dict[int, list[_Histogram]] = {}
        notes: list[str] = []
        for (size, _), parts in sorted(groups.items()):
            hist = _Histogram(parts, self.n_blocks)
            notes.extend(hist.notes)
            self._hist.setdefault(size, []).append(hist)
        if len(self._hist) < 2:
            raise ValueError(
                f"finite-size scaling needs at least two sizes, got {self.sizes}"
            )
        self.notes = tuple(notes)

    # Construction -----------------------------------------------------------
    @classmethod
    def from_runs(
        cls,
        runs: Iterable[Run],
        *,
        discard: int = 0,
        n_blocks: int = DEFAULT_BLOCKS,
        max_shift: float = 1.0,
    ) -> ScalingData:
        """Data from :class:`neurophase.Run` objects (one lattice kind, h = 0).

        ``discard`` drops that many leading sweeps of every run.
        """
        runs = list(runs)
        if not runs:
            raise ValueError("runs must not be empty")
        series = [Series.from_run(r, discard=discard) for r in runs]
        lat = runs[0].lattice
        kind: Literal["hypercubic", "complete"] = (
            "complete" if lat.is_complete else "hypercubic"
        )
        for r in runs:
            if r.lattice.is_complete != lat.is_complete or (
                r.lattice.dimension != lat.dimension
            ):
                raise ValueError("runs must all be on one lattice kind and dimension")
            if r.coupling != runs[0].coupling:
                raise ValueError("runs must all have the same coupling")
        return cls(
            series,
            kind=kind,
            dimension=lat.dimension,
            n_blocks=n_blocks,
            max_shift=max_shift,
        )

    @classmethod
    def from_sweep(
        cls,
        sweep: str | os.PathLike[str] | SweepResult,
        *,
        geometry: str | None = None,
        n_blocks: int = DEFAULT_BLOCKS,
        max_shift: float = 1.0,
    ) -> ScalingData:
        """Data from a stored parameter sweep (:func:`neurophase.sweeps.run_sweep`).

        Uses every zero-field task of one geometry (``geometry``, or the only one
        in the sweep); all seeds and schedules at one (L, T) are pooled. The
        sweep must have kept its time series (``series = true``); the
        correlation length is available where it also kept
        ``kmin_magnetisation2`` (periodic hypercubic lattices).
        """
        from .sweeps import SweepResult, _dimension, load_sweep

        result = sweep if isinstance(sweep, SweepResult) else load_sweep(sweep)
        table = result.table
        geometries = sorted(set(table["geometry"]))
        if geometry is None:
            if len(geometries) != 1:
                raise ValueError(
                    f"the sweep holds the geometries {geometries}; choose one "
                    "with geometry="
                )
            geometry = geometries[0]
        elif geometry not in geometries:
            raise ValueError(
                f"geometry must be one of the sweep's {geometries}, got {geometry!r}"
            )
        rows = [
            i
            for i in range(len(table))
            if table["geometry"].iloc[i] == geometry and table["field"].iloc[i] == 0
        ]
        if not rows:
            raise ValueError(f"the sweep has no zero-field tasks on {geometry!r}")
        if set(table["boundary"].iloc[rows]) != {"periodic"} and geometry != (
            "complete"
        ):
            raise ValueError("finite-size scaling needs periodic lattices")
        complete = geometry == "complete"
        records = []
        for i in rows:
            row = table.iloc[i]
            rec: dict[str, Any] = {
                "size": int(row["L"]),
                "temperature": float(row["temperature"]),
                "n_sites": int(row["n_sites"]),
                "magnetisation": result.series(i, "magnetisation"),
                "energy": result.series(i, "energy"),
                "seed": int(row["seed"]),
            }
            try:
                rec["kmin_magnetisation2"] = result.series(i, "kmin_magnetisation2")
            except (KeyError, ValueError):
                pass
            records.append(rec)
        dimension = 1 if complete else _dimension(geometry)
        return cls.from_arrays(
            records,
            kind="complete" if complete else "hypercubic",
            dimension=dimension,
            n_blocks=n_blocks,
            max_shift=max_shift,
        )

    @classmethod
    def from_arrays(
        cls,
        records: Iterable[Mapping[str, Any]],
        *,
        kind: Literal["hypercubic", "complete"] = "hypercubic",
        dimension: int = 2,
        n_blocks: int = DEFAULT_BLOCKS,
        max_shift: float = 1.0,
    ) -> ScalingData:
        """Data from plain arrays, e.g. the tasks of a stored parameter sweep.

        Each record is a mapping with ``size``, ``temperature``,
        ``magnetisation`` and ``energy`` (per-sweep, per spin), and optionally
        ``kmin_magnetisation2`` (shape (n,) or (n, d): averaged over axes),
        ``n_sites`` (default ``size**d``, or ``size`` on the complete graph) and
        ``seed``.
        """
        series = []
        for rec in records:
            size = int(rec["size"])
            n_sites = rec.get(
                "n_sites", size if kind == "complete" else size**dimension
            )
            kmin = rec.get("kmin_magnetisation2")
            if kmin is not None:
                kmin = np.asarray(kmin, dtype=np.float64)
                if kmin.ndim == 2:
                    kmin = kmin.mean(axis=1)
            series.append(
                Series(
                    size=size,
                    temperature=rec["temperature"],
                    n_sites=int(n_sites),
                    magnetisation=rec["magnetisation"],
                    energy=rec["energy"],
                    kmin_magnetisation2=kmin,
                    seed=rec.get("seed"),
                )
            )
        return cls(
            series,
            kind=kind,
            dimension=dimension,
            n_blocks=n_blocks,
            max_shift=max_shift,
        )

    @classmethod
    def curie_weiss(
        cls,
        sizes: Sequence[int],
        temperatures: Sequence[float],
        *,
        coupling: float = 1.0,
    ) -> ScalingData:
        """Exact finite-N Curie-Weiss distributions (no sampling) as scaling data.

        ``H = -(J/N) sum_{i<j} s_i s_j``, so the states of magnetisation
        ``M = N - 2k`` form one class of ``binom(N, k)`` states. The temperatures
        set the data range (each size is exact everywhere in it).

        Parameters
        ----------
        sizes : sequence of int
            Numbers of spins ``N >= 2``.
        temperatures : sequence of float
            Temperatures ``T > 0`` (``k_B = 1``) spanning the analysed range.
        coupling : float, optional
            ``J``, finite and ``> 0``.

        Raises
        ------
        ValueError
            For a size below 2, a non-positive coupling, or more than
            :data:`MAX_CURIE_WEISS_CLASSES` (4 x 10^6) classes in all:
            ``len(temperatures) * sum(N + 1 for N in sizes)``.  Memory and time
            grow linearly with that number (about 300 bytes per class and
            temperature in the analysis, so the limit is about 1.2 GB); the
            check is made before anything is allocated.
        """
        if not (math.isfinite(coupling) and coupling > 0.0):
            raise ValueError(f"coupling must be finite and > 0, got {coupling}")
        checked = []
        for n in sizes:
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
                raise ValueError(f"sizes must be integers >= 2, got {n!r}")
            if n < 2:
                raise ValueError(f"sizes must be >= 2, got {n}")
            checked.append(int(n))
        temperatures = [float(t) for t in temperatures]
        n_classes = len(temperatures) * sum(n + 1 for n in checked)
        if n_classes > MAX_CURIE_WEISS_CLASSES:
            raise ValueError(
                "sizes are too large for exact Curie-Weiss data: "
                f"len(temperatures) * sum(N + 1) must be <= "
                f"{MAX_CURIE_WEISS_CLASSES} (about 300 bytes each), got "
                f"{n_classes} for sizes {tuple(checked)}"
            )
        series = []
        for n in checked:
            k = np.arange(n + 1, dtype=np.float64)
            big_m = n - 2.0 * k
            log_g = gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)
            e = -(coupling / n) * 0.5 * (big_m * big_m - n) / n
            for t in temperatures:
                series.append(
                    Series.exact_histogram(
                        size=n,
                        n_sites=n,
                        temperature=float(t),
                        energy=e,
                        magnetisation=big_m / n,
                        log_multiplicity=log_g,
                    )
                )
        # Exact data carry no sampling error: two jackknife blocks suffice.
        return cls(series, kind="complete", dimension=1, n_blocks=2)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write every series to an ``.npz`` file (atomically), for :meth:`load`."""
        arrays: dict[str, Any] = {
            "kind": self.kind,
            "dimension": self.dimension,
            "n_blocks": self.n_blocks,
            "max_shift": self.max_shift,
            "n_series": len(self.series),
        }
        for i, s in enumerate(self.series):
            arrays[f"s{i}_meta"] = np.array(
                [s.size, s.temperature, s.n_sites, -1 if s.seed is None else s.seed],
                dtype=np.float64,
            )
            arrays[f"s{i}_m"] = s.magnetisation
            arrays[f"s{i}_e"] = s.energy
            if s.kmin_magnetisation2 is not None:
                arrays[f"s{i}_kmin"] = s.kmin_magnetisation2
            if s.log_weight is not None:
                arrays[f"s{i}_logw"] = s.log_weight
        _io.write_atomically(path, lambda f: np.savez_compressed(f, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ScalingData:
        """Read a file written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as f:
                n = int(f["n_series"])
                series = []
                for i in range(n):
                    size, t, n_sites, seed = f[f"s{i}_meta"]
                    series.append(
                        Series(
                            size=int(size),
                            temperature=float(t),
                            n_sites=int(n_sites),
                            magnetisation=f[f"s{i}_m"],
                            energy=f[f"s{i}_e"],
                            kmin_magnetisation2=f[f"s{i}_kmin"]
                            if f"s{i}_kmin" in f
                            else None,
                            log_weight=f[f"s{i}_logw"] if f"s{i}_logw" in f else None,
                            seed=None if seed < 0 else int(seed),
                        )
                    )
                kind = str(f["kind"])
                dimension = int(f["dimension"])
                n_blocks = int(f["n_blocks"])
                max_shift = float(f["max_shift"])
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"{path} is not saved scaling data ({exc})") from exc
        if kind not in ("hypercubic", "complete"):
            raise ValueError(f"{path} is not saved scaling data (kind {kind!r})")
        return cls(
            series,
            kind=kind,  # type: ignore[arg-type]
            dimension=dimension,
            n_blocks=n_blocks,
            max_shift=max_shift,
        )

    # Queries ----------------------------------------------------------------
    @property
    def sizes(self) -> tuple[int, ...]:
        """The sizes, increasing."""
        return tuple(sorted(self._hist))

    @property
    def has_correlation_length(self) -> bool:
        """True when every series carries ``|m(k_min)|^2``."""
        return all(h.has_kmin for hs in self._hist.values() for h in hs)

    def temperatures(self, size: int) -> _FloatArray:
        """Simulated temperatures of ``size``, increasing."""
        return np.array(sorted(h.temperature for h in self._histograms(size)))

    def coverage(self, size: int) -> list[tuple[float, float]]:
        """Temperature intervals where ``size`` can be reweighted, increasing.

        A sampled run at ``beta_0`` covers ``|beta - beta_0| sigma_H <=
        max_shift``; exact distributions cover the span of their temperatures.
        """
        intervals = []
        exact = [h for h in self._histograms(size) if h.exact]
        if exact:
            ts = [h.temperature for h in exact]
            intervals.append((min(ts), max(ts)))
        for h in self._histograms(size):
            if h.exact:
                continue
            if h.sigma_h == 0.0:
                intervals.append((h.temperature, h.temperature))
                continue
            db = self.max_shift / h.sigma_h
            hi = math.inf if db >= h.beta0 else 1.0 / (h.beta0 - db)
            intervals.append((1.0 / (h.beta0 + db), hi))
        intervals.sort()
        merged = [intervals[0]]
        for lo, hi in intervals[1:]:
            if lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        return merged

    def temperature_range(self) -> tuple[float, float]:
        """``(T_min, T_max)`` of the simulated temperatures over every size."""
        ts = [h.temperature for hs in self._hist.values() for h in hs]
        return min(ts), max(ts)

    def _histograms(self, size: int) -> list[_Histogram]:
        if size not in self._hist:
            raise ValueError(f"size must be one of {self.sizes}, got {size!r}")
        return self._hist[size]

    def _check_quantity(self, quantity: str) -> None:
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
        if quantity in ("correlation_length", "xi_over_size"):
            if self.kind == "complete":
                raise ValueError(f"{quantity} is undefined on the complete graph")
            if not self.has_correlation_length:
                raise ValueError(
                    f"{quantity} needs kmin_magnetisation2 in every series (simulate "
                    "with record_kmin=True)"
                )

    def _samples(
        self, quantity: str, size: int, temperature: _FloatArray, diagonal: bool
    ) -> _FloatArray:
        """Jackknife samples of ``quantity``: (M, K + 1), or (K + 1,) if diagonal.

        Points outside every run's range are nan.
        """
        beta = 1.0 / np.asarray(temperature, dtype=np.float64)
        hists = self._histograms(size)
        weights = np.array([h.weight(beta, self.max_shift) for h in hists])
        exact_only = all(h.exact for h in hists)
        if exact_only:
            cov = self.coverage(size)[0]
            inside = (1.0 / beta >= cov[0] * (1 - 1e-12)) & (
                1.0 / beta <= cov[1] * (1 + 1e-12)
            )
            weights = weights * inside
        total = weights.sum(axis=0)
        shape = (beta.size,) if diagonal else (beta.size, self.n_blocks + 1)
        acc = np.zeros(shape)
        for h, w in zip(hists, weights, strict=True):
            use = w > 0.0
            if not np.any(use):
                continue
            if diagonal:
                # Each sample at its own temperature: every row is needed.
                means = h.means(beta, diagonal=True)
                q = _derived(quantity, means, beta, h.n_sites, h.size, h.h_ref)
                acc += np.where(use, w * np.nan_to_num(q, nan=np.inf), 0.0)
            else:
                means = h.means(beta[use], diagonal=False)
                q = _derived(
                    quantity, means, beta[use, None], h.n_sites, h.size, h.h_ref
                )
                acc[use] += w[use, None] * np.nan_to_num(q, nan=np.inf)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = acc / (total if diagonal else total[:, None])
        out[~np.isfinite(out)] = np.nan
        return out

    def curve(
        self, quantity: str, size: int, temperature: npt.ArrayLike
    ) -> tuple[_FloatArray, _FloatArray]:
        """Reweighted ``quantity`` of ``size`` with jackknife errors.

        Parameters
        ----------
        quantity : str
            One of :data:`QUANTITIES`.
        size : int
            One of :attr:`sizes`.
        temperature : array_like
            Temperatures inside :meth:`coverage` of the size.

        Returns
        -------
        values, errors : ndarray
            Shape of ``temperature``.

        Raises
        ------
        ReweightingRangeError
            If a temperature is outside the coverage of the size.
        """
        self._check_quantity(quantity)
        t = np.atleast_1d(np.asarray(temperature, dtype=np.float64))
        if t.size == 0 or not np.all(np.isfinite(t)) or np.any(t <= 0):
            raise ValueError("temperature must be finite and > 0 everywhere")
        self._check_coverage(size, t)
        s = self._samples(quantity, size, t.reshape(-1), diagonal=False)
        values = s[:, 0].reshape(np.shape(temperature))
        errors = np.array([_jackknife_error(row) for row in s]).reshape(
            np.shape(temperature)
        )
        return values, errors

    def _check_coverage(self, size: int, t: _FloatArray) -> None:
        cov = self.coverage(size)
        ok = np.zeros(t.shape, dtype=bool)
        for lo, hi in cov:
            ok |= (t >= lo * (1 - 1e-12)) & (t <= hi * (1 + 1e-12))
        if not np.all(ok):
            bad = float(t[~ok].reshape(-1)[0])
            spans = ", ".join(f"[{lo:.6g}, {hi:.6g}]" for lo, hi in cov)
            raise ReweightingRangeError(
                f"temperature {bad:.6g} is outside the range where the runs of size "
                f"{size} can be reweighted ({spans}; |beta - beta_0| sigma_H <= "
                f"max_shift = {self.max_shift:g}); simulate closer to it"
            )

    def common_range(self, sizes: Sequence[int] | None = None) -> tuple[float, float]:
        """Largest interval covered by every size listed (all by default).

        Raises ValueError when the sizes share no interval.
        """
        sizes = self.sizes if sizes is None else tuple(sizes)
        hi = self.temperature_range()[1]
        lo_all, hi_all = 0.0, math.inf
        for s in sizes:
            cov = self.coverage(s)
            lo_all = max(lo_all, cov[0][0])
            hi_all = min(hi_all, cov[-1][1])
        if not math.isfinite(hi_all):
            hi_all = hi
        if not lo_all < hi_all:
            raise ValueError(f"sizes {sizes} share no temperature range")
        return lo_all, hi_all


# --------------------------------------------------------------------------- #
# Root finding and maximisation for every jackknife sample at once
# --------------------------------------------------------------------------- #
def _vector_root(
    f: Callable[[_FloatArray], _FloatArray],
    a: _FloatArray,
    b: _FloatArray,
    fa: _FloatArray,
    fb: _FloatArray,
    *,
    xtol: float = 1e-13,
    max_iter: int = 200,
) -> _FloatArray:
    """Roots of f (one per entry) bracketed by [a, b], Illinois false position.

    ``f`` maps an array of points to the values of each entry's function.
    """
    a, b, fa, fb = a.copy(), b.copy(), fa.copy(), fb.copy()
    for _ in range(max_iter):
        width = np.abs(b - a)
        done = width <= xtol * np.maximum(np.abs(a), np.abs(b))
        if np.all(done):
            break
        with np.errstate(invalid="ignore", divide="ignore"):
            c = b - fb * (b - a) / (fb - fa)
        bad = ~np.isfinite(c) | (c <= np.minimum(a, b)) | (c >= np.maximum(a, b))
        c = np.where(bad, 0.5 * (a + b), c)
        c = np.where(done, b, c)
        fc = f(c)
        swap = np.sign(fc) != np.sign(fb)
        # Illinois: halve the retained end's value when it is kept twice.
        a, fa = np.where(swap, b, a), np.where(swap, fb, 0.5 * fa)
        b, fb = c, fc
        exact = fc == 0.0
        a, fa = np.where(exact, c, a), np.where(exact, fc, fa)
    return b


def _golden_max(
    f: Callable[[_FloatArray], _FloatArray],
    a: _FloatArray,
    b: _FloatArray,
    *,
    iterations: int = 60,
) -> _FloatArray:
    """Maximiser of f (one per entry) on [a, b], golden-section search."""
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = a.copy(), b.copy()
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iterations):
        # Keep [a, d] where f(c) > f(d), else [c, b]; one new point per step.
        left = fc > fd
        a = np.where(left, a, c)
        b = np.where(left, d, b)
        new = np.where(left, b - g * (b - a), a + g * (b - a))
        f_new = f(new)
        c, d, fc, fd = (
            np.where(left, new, d),
            np.where(left, c, new),
            np.where(left, f_new, fd),
            np.where(left, fc, f_new),
        )
    return 0.5 * (a + b)


# --------------------------------------------------------------------------- #
# Crossings
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Crossing:
    """Where the curves of two sizes cross.

    Attributes
    ----------
    quantity : str
        ``"binder"`` or ``"xi_over_size"``.
    sizes : tuple of int
        ``(L1, L2)``, ``L1 < L2``.
    temperature : Estimate
        Crossing temperature with its jackknife error.
    value : Estimate
        The common value of the quantity there (``U*`` or ``xi/L``).
    temperature_samples, value_samples : ndarray, shape (K + 1,)
        Full-data value and the jackknife samples (for derived fits).
    """

    quantity: str
    sizes: tuple[int, int]
    temperature: Estimate
    value: Estimate
    temperature_samples: _FloatArray = field(repr=False)
    value_samples: _FloatArray = field(repr=False)


def _pairs(sizes: Sequence[int], pairs: str | Sequence[tuple[int, int]]) -> list:
    if isinstance(pairs, str):
        if pairs == "consecutive":
            return list(itertools.pairwise(sizes))
        if pairs == "all":
            return [(a, b) for i, a in enumerate(sizes) for b in sizes[i + 1 :]]
        raise ValueError(f"pairs must be 'consecutive', 'all' or a list, got {pairs!r}")
    out = []
    for a, b in pairs:
        if a not in sizes or b not in sizes or a == b:
            raise ValueError(f"pair ({a}, {b}) must be two different sizes of {sizes}")
        out.append((min(a, b), max(a, b)))
    return out


def crossing(
    data: ScalingData,
    sizes: tuple[int, int],
    quantity: str = "binder",
    *,
    temperature_range: tuple[float, float] | None = None,
) -> Crossing:
    """Crossing temperature of ``quantity`` for two sizes, with a jackknife error.

    The difference of the two reweighted curves is scanned on a grid over the
    common range (or ``temperature_range``); the sign change with the largest
    step relative to its error is kept, and each jackknife sample's root is
    found in that bracket (widened by grid steps if the sample needs it) to a
    relative precision of 1e-13 in beta.

    Raises
    ------
    ValueError
        If the curves do not cross in the range, or a jackknife sample does not
        cross near the full-data crossing (the data cannot resolve it).
    """
    data._check_quantity(quantity)
    l1, l2 = min(sizes), max(sizes)
    lo, hi = data.common_range((l1, l2))
    if temperature_range is not None:
        lo = max(lo, float(temperature_range[0]))
        hi = min(hi, float(temperature_range[1]))
        if not lo < hi:
            raise ValueError(
                f"temperature_range {temperature_range} does not overlap the data of "
                f"sizes {l1} and {l2}"
            )
    betas = np.linspace(1.0 / hi, 1.0 / lo, _SCAN_POINTS)
    temps = 1.0 / betas
    d = data._samples(quantity, l2, temps, False) - data._samples(
        quantity, l1, temps, False
    )
    full = d[:, 0]
    err = np.array([_jackknife_error(row) for row in d])
    good = np.isfinite(full)
    candidates = []
    for i in range(_SCAN_POINTS - 1):
        if good[i] and good[i + 1] and (np.sign(full[i]) != np.sign(full[i + 1])):
            scale = max(err[i] + err[i + 1], 1e-300)
            candidates.append((abs(full[i + 1] - full[i]) / scale, i))
    if not candidates:
        raise ValueError(
            f"the {quantity} curves of sizes {l1} and {l2} do not cross in "
            f"[{lo:.6g}, {hi:.6g}]"
        )
    _, i = max(candidates)

    def diff(b: _FloatArray) -> _FloatArray:
        t = 1.0 / b
        return data._samples(quantity, l2, t, True) - data._samples(
            quantity, l1, t, True
        )

    k1 = data.n_blocks + 1
    ia = np.full(k1, i)
    ib = np.full(k1, i + 1)
    a, b = betas[ia], betas[ib]
    fa, fb = diff(a), diff(b)
    for _ in range(6):
        need = ~(np.sign(fa) != np.sign(fb)) | ~np.isfinite(fa) | ~np.isfinite(fb)
        if not np.any(need):
            break
        ia = np.where(need, np.maximum(ia - 1, 0), ia)
        ib = np.where(need, np.minimum(ib + 1, _SCAN_POINTS - 1), ib)
        a, b = betas[ia], betas[ib]
        fa, fb = diff(a), diff(b)
    if np.any(np.sign(fa) == np.sign(fb)) or not np.all(np.isfinite(fa * fb)):
        raise ValueError(
            f"the {quantity} crossing of sizes {l1} and {l2} near T = "
            f"{temps[i]:.6g} is not resolved by every jackknife sample; more "
            "statistics are needed"
        )
    root = _vector_root(diff, a, b, fa, fb)
    t_samples = 1.0 / root
    v_samples = data._samples(quantity, l1, t_samples, True)
    return Crossing(
        quantity=quantity,
        sizes=(l1, l2),
        temperature=_estimate(t_samples),
        value=_estimate(v_samples),
        temperature_samples=t_samples,
        value_samples=v_samples,
    )


def crossings(
    data: ScalingData,
    quantity: str = "binder",
    *,
    pairs: str | Sequence[tuple[int, int]] = "all",
    temperature_range: tuple[float, float] | None = None,
) -> list[Crossing]:
    """Crossings of ``quantity`` for pairs of sizes (see :func:`crossing`).

    ``pairs`` is ``"all"`` (every pair), ``"consecutive"`` or a list of pairs.
    """
    return [
        crossing(data, p, quantity, temperature_range=temperature_range)
        for p in _pairs(data.sizes, pairs)
    ]


# --------------------------------------------------------------------------- #
# Extrapolation of the crossings
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Extrapolation:
    """``T_c`` from the crossings with the leading correction to scaling.

    For sizes ``L1 < L2`` the crossing is
    ``T*(L1, L2) = T_c + a (L1^-omega - L2^-omega) / (L2^(1/nu) - L1^(1/nu))``,
    which for a fixed ratio ``L2 / L1`` is ``T_c + a' L1^-(1/nu + omega)``.

    Attributes
    ----------
    temperature : Estimate
        ``T_c``.
    omega : Estimate
        Correction exponent (fitted, or fixed with zero error).
    amplitude : float
        ``a``.
    chi2, ndof : float, int
        Of the full-data fit (diagonal errors; the jackknife carries the
        correlations between crossings).
    temperature_samples : ndarray
        Jackknife samples of ``T_c``.
    """

    temperature: Estimate
    omega: Estimate
    amplitude: float
    chi2: float
    ndof: int
    temperature_samples: _FloatArray = field(repr=False)


_OMEGA_GRID = np.linspace(0.25, 6.0, 47)


def _fit_crossings(
    l1: _FloatArray,
    l2: _FloatArray,
    t: _FloatArray,
    err: _FloatArray,
    inv_nu: float,
    omega: float | None,
) -> tuple[float, float, float, float]:
    """(T_c, a, omega, chi2): linear in (T_c, a) for each omega of a grid."""

    def solve(om: float) -> tuple[float, float, float]:
        x = (l1**-om - l2**-om) / (l2**inv_nu - l1**inv_nu)
        design = np.stack([np.ones_like(x), x], axis=1) / err[:, None]
        coef, *_ = np.linalg.lstsq(design, t / err, rcond=None)
        resid = (design @ coef) - t / err
        return float(coef[0]), float(coef[1]), float(resid @ resid)

    if omega is not None:
        tc, a, chi2 = solve(omega)
        return tc, a, omega, chi2
    chi = [solve(om)[2] for om in _OMEGA_GRID]
    i = int(np.argmin(chi))
    # Refine between the grid neighbours with a bounded scalar search.
    from scipy.optimize import minimize_scalar

    lo = _OMEGA_GRID[max(i - 1, 0)]
    hi = _OMEGA_GRID[min(i + 1, _OMEGA_GRID.size - 1)]
    res = minimize_scalar(lambda om: solve(om)[2], bounds=(lo, hi), method="bounded")
    om = float(res.x) if res.fun <= chi[i] else float(_OMEGA_GRID[i])
    tc, a, chi2 = solve(om)
    return tc, a, om, chi2


# Limitation: one correction term; with small sizes and strong corrections (or
# an analytic background) the fitted omega is an effective exponent.
def extrapolate_crossings(
    crossings: Sequence[Crossing],
    inv_nu: float | _FloatArray,
    *,
    omega: float | None = None,
) -> Extrapolation:
    """Fit ``T_c`` (and ``omega``) to crossings of several pairs of sizes.

    Parameters
    ----------
    crossings : sequence of Crossing
        From one :class:`ScalingData` (their jackknife samples are aligned).
    inv_nu : float or ndarray of shape (K + 1,)
        ``1/nu`` (per jackknife sample when an array, e.g. from
        :func:`fit_power_law` of ``binder_slope``).
    omega : float, optional
        Fix the correction exponent; by default it is fitted on a grid in
        [0.25, 6] (refined), which needs at least 4 crossings.

    Raises
    ------
    ValueError
        With fewer than 3 crossings (4 when omega is fitted), or a crossing
        without a positive error bar.
    """
    crossings = list(crossings)
    need = 3 if omega is not None else 4
    if len(crossings) < need:
        raise ValueError(
            f"extrapolation needs at least {need} crossings "
            f"({'fixed' if omega is not None else 'fitted'} omega), got "
            f"{len(crossings)}; use more sizes or pairs='all'"
        )
    if omega is not None and not (math.isfinite(omega) and omega > 0):
        raise ValueError(f"omega must be finite and > 0, got {omega}")
    l1 = np.array([c.sizes[0] for c in crossings], dtype=np.float64)
    l2 = np.array([c.sizes[1] for c in crossings], dtype=np.float64)
    err = np.array([c.temperature.error for c in crossings])
    scale = np.array([abs(c.temperature.value) for c in crossings])
    if np.all(np.isfinite(err) & (err <= 1e-10 * scale)):
        # Exact input (e.g. exact distributions): an unweighted fit.
        err = np.ones_like(err)
    elif not np.all(np.isfinite(err) & (err > 0)):
        raise ValueError(
            "every crossing needs a finite, positive error bar for the fit, got "
            f"{err.tolist()}"
        )
    samples = np.stack([c.temperature_samples for c in crossings], axis=1)
    inv = np.broadcast_to(np.asarray(inv_nu, dtype=np.float64), (samples.shape[0],))
    fits = [
        _fit_crossings(l1, l2, samples[j], err, float(inv[j]), omega)
        for j in range(samples.shape[0])
    ]
    tc = np.array([f[0] for f in fits])
    om = np.array([f[2] for f in fits])
    return Extrapolation(
        temperature=_estimate(tc),
        omega=Estimate(om[0], 0.0 if omega is not None else _jackknife_error(om)),
        amplitude=fits[0][1],
        chi2=fits[0][3],
        ndof=len(crossings) - (2 if omega is not None else 3),
        temperature_samples=tc,
    )


# --------------------------------------------------------------------------- #
# Power laws and peaks
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class PowerLaw:
    """``|y| = A size^exponent`` fitted to one value per size (log-log, weighted).

    Attributes
    ----------
    exponent : Estimate
        With a jackknife error (every sample refitted).
    amplitude : float
        ``A`` of the full-data fit.
    chi2, ndof : float, int
        Of the full-data fit.
    sizes : tuple of int
        Sizes used.
    values, errors : ndarray
        ``y`` per size and its jackknife error.
    exponent_samples : ndarray
        Jackknife samples of the exponent.
    """

    exponent: Estimate
    amplitude: float
    chi2: float
    ndof: int
    sizes: tuple[int, ...]
    values: _FloatArray = field(repr=False)
    errors: _FloatArray = field(repr=False)
    exponent_samples: _FloatArray = field(repr=False)


def fit_power_law(
    sizes: Sequence[int], samples: npt.ArrayLike, *, exact: bool = False
) -> PowerLaw:
    """Fit ``|y| = A size^p`` to jackknife samples ``(K + 1, n_sizes)`` of y.

    Each sample is fitted by weighted least squares in ``ln|y|`` against
    ``ln size`` with the weights of the full data; with ``exact=True`` (values
    from exact distributions, whose errors vanish) the fit is unweighted.

    Raises
    ------
    ValueError
        With fewer than 2 sizes, values that are zero or non-finite, or errors
        that are not positive (unless ``exact``).
    """
    s = np.asarray(samples, dtype=np.float64)
    x = np.log(np.asarray(sizes, dtype=np.float64))
    if s.ndim != 2 or s.shape[1] != x.size or x.size < 2:
        raise ValueError(
            f"samples must have shape (K + 1, {x.size}) with >= 2 sizes, got {s.shape}"
        )
    if not np.all(np.isfinite(s)) or np.any(s == 0):
        raise ValueError("power-law fit: values must be finite and nonzero")
    y = np.log(np.abs(s))
    err = np.array([_jackknife_error(s[:, i]) for i in range(x.size)])
    if exact:
        # Exact input: the jackknife samples agree (to rounding); unweighted.
        sigma = np.ones_like(err)
    elif not np.all(err > 0):
        raise ValueError(
            f"power-law fit: every size needs a positive error bar, got {err.tolist()}"
        )
    else:
        sigma = err / np.abs(s[0])
    w = 1.0 / sigma
    design = np.stack([np.ones_like(x), x], axis=1) * w[:, None]
    coef = np.linalg.lstsq(design, (y * w[None, :]).T, rcond=None)[0]  # (2, K + 1)
    resid = design @ coef[:, 0] - y[0] * w
    p = coef[1]
    return PowerLaw(
        exponent=_estimate(p),
        amplitude=float(math.exp(coef[0, 0])),
        chi2=float(resid @ resid),
        ndof=x.size - 2,
        sizes=tuple(int(v) for v in sizes),
        values=s[0].copy(),
        errors=err,
        exponent_samples=p,
    )


def _at_temperature(
    data: ScalingData, quantity: str, temperature_samples: _FloatArray
) -> _FloatArray:
    """(K + 1, n_sizes) samples of ``quantity``, sample j at temperature j."""
    for size in data.sizes:
        data._check_coverage(size, temperature_samples)
    return np.stack(
        [data._samples(quantity, L, temperature_samples, True) for L in data.sizes],
        axis=1,
    )


@dataclass(frozen=True)
class Peak:
    """Maximum of a reweighted curve of one size (e.g. the susceptibility).

    Attributes
    ----------
    size : int
    temperature : Estimate
        Position of the maximum.
    height : Estimate
        Value at the maximum.
    height_samples : ndarray
        Jackknife samples of the height.
    """

    size: int
    temperature: Estimate
    height: Estimate
    height_samples: _FloatArray = field(repr=False)


def peaks(data: ScalingData, quantity: str = "susceptibility") -> list[Peak]:
    """Maximum of ``quantity`` for every size, by reweighting, with errors.

    Each size's curve is scanned over its coverage within the simulated span;
    the maximum is refined by golden-section search for every jackknife sample.

    Raises
    ------
    ValueError
        If the maximum lies at the edge of the size's range (not a peak).
    """
    data._check_quantity(quantity)
    out = []
    span = data.temperature_range()
    for size in data.sizes:
        cov = data.coverage(size)
        lo, hi = cov[0][0], cov[-1][1]
        if not math.isfinite(hi):
            hi = max(span[1], lo * 2.0)
        t = np.linspace(lo, hi, _SCAN_POINTS)
        full = data._samples(quantity, size, t, False)[:, 0]
        if not np.any(np.isfinite(full)):
            raise ValueError(f"{quantity} of size {size}: no valid value to maximise")
        i = int(np.nanargmax(full))
        valid = np.flatnonzero(np.isfinite(full))
        # A maximum next to an invalid point is the edge of the reweighting range.
        if i in (valid[0], valid[-1]) or not np.all(np.isfinite(full[i - 1 : i + 2])):
            raise ValueError(
                f"{quantity} of size {size} is largest at the edge of its range "
                f"(T = {t[i]:.6g}): the peak is not inside the data"
            )
        k1 = data.n_blocks + 1

        def f(temp: _FloatArray, size: int = size) -> _FloatArray:
            v = data._samples(quantity, size, temp, True)
            return np.where(np.isfinite(v), v, -np.inf)

        tmax = _golden_max(f, np.full(k1, t[i - 1]), np.full(k1, t[i + 1]))
        heights = data._samples(quantity, size, tmax, True)
        out.append(
            Peak(
                size=size,
                temperature=_estimate(tmax),
                height=_estimate(heights),
                height_samples=heights,
            )
        )
    return out


# --------------------------------------------------------------------------- #
# Data collapse
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class CollapseData:
    """Points ``(T, y, dy)`` per size for a data collapse.

    Parameters
    ----------
    points : mapping size -> (temperature, value, error)
        Arrays of one size each; every error finite and > 0.
    samples : mapping size -> ndarray of shape (K + 1, n), optional
        Jackknife samples of the values (sample 0 the full data), for jackknife
        errors of the collapse parameters.
    """

    points: Mapping[int, tuple[_FloatArray, _FloatArray, _FloatArray]]
    samples: Mapping[int, _FloatArray] | None = None

    def __post_init__(self) -> None:
        if len(self.points) < 2:
            raise ValueError("a collapse needs points of at least two sizes")
        clean = {}
        for size, triple in self.points.items():
            if len(triple) != 3:
                raise ValueError(
                    f"points[{size}] must be (temperature, value, error), got "
                    f"{len(triple)} arrays"
                )
            t, y, e = (np.asarray(a, dtype=np.float64).reshape(-1) for a in triple)
            if not (t.size == y.size == e.size) or t.size < 2:
                raise ValueError(
                    f"points[{size}]: temperature, value and error must have the "
                    "same length >= 2"
                )
            if not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
                raise ValueError(
                    f"points[{size}]: temperatures and values must be finite"
                )
            if not np.all(np.isfinite(e) & (e > 0)):
                raise ValueError(
                    f"points[{size}]: every error bar must be finite and > 0 (a "
                    "collapse weights points by their errors)"
                )
            order = np.argsort(t)
            clean[int(size)] = (t[order], y[order], e[order])
        object.__setattr__(self, "points", dict(sorted(clean.items())))

    @property
    def temperature_range(self) -> tuple[float, float]:
        """Smallest and largest temperature of the points."""
        ts = np.concatenate([p[0] for p in self.points.values()])
        return float(ts.min()), float(ts.max())

    @classmethod
    def from_data(
        cls,
        data: ScalingData,
        quantity: str,
        *,
        temperature_range: tuple[float, float] | None = None,
        n_points: int = 16,
    ) -> CollapseData:
        """Reweighted points of ``quantity`` on a grid in each size's coverage.

        By default each size contributes ``n_points`` temperatures spread over
        its whole coverage (:meth:`ScalingData.coverage`), a window that narrows
        with the size like the critical region; ``temperature_range`` clips it.
        """
        data._check_quantity(quantity)
        lo, hi = 0.0, math.inf
        if temperature_range is not None:
            lo, hi = float(temperature_range[0]), float(temperature_range[1])
        points, samples = {}, {}
        for size in data.sizes:
            cov = data.coverage(size)
            a, b = max(lo, cov[0][0]), min(hi, cov[-1][1])
            if not math.isfinite(b):
                b = max(data.temperature_range()[1], a)
            if not a < b:
                continue
            t = np.linspace(a, b, n_points)
            s = data._samples(quantity, size, t, False)
            ok = np.all(np.isfinite(s), axis=1)
            err = np.array([_jackknife_error(row) for row in s])
            ok &= err > 0
            if np.count_nonzero(ok) < 2:
                continue
            points[size] = (t[ok], s[ok, 0], err[ok])
            samples[size] = s[ok].T.copy()
        return cls(points, samples)


@dataclass(frozen=True)
class Collapse:
    """Result of a data collapse ``y L^-kappa = F((T - T_c) L^(1/nu))``.

    Attributes
    ----------
    temperature, nu, exponent : Estimate
        ``T_c``, ``nu`` and ``kappa`` (e.g. ``gamma/nu`` for the susceptibility,
        ``-beta/nu`` for ``<|m|>``, 0 for ``U4``).
    quality : float
        Houdayer-Hartmann ``S`` at the minimum: about 1 for a collapse within
        the error bars.
    error_method : str
        ``"jackknife"`` (points with samples) or ``"curvature"`` (Migrad-Hesse
        errors of ``n S``).
    data : CollapseData
        The points that were collapsed.
    """

    temperature: Estimate
    nu: Estimate
    exponent: Estimate
    quality: float
    error_method: str
    data: CollapseData = field(repr=False)


def _collapse_cost(
    points: Mapping[int, tuple[_FloatArray, _FloatArray, _FloatArray]],
    tc: float,
    nu: float,
    kappa: float,
) -> tuple[float, int]:
    """Houdayer-Hartmann sum over points and other sizes, and its term count.

    Each point is compared with the linear interpolation of every other size
    whose scaled data bracket it; the terms are squared differences over the
    summed variances.
    """
    scaled = []
    for size, (t, y, e) in points.items():
        f = size ** (-kappa)
        scaled.append(((t - tc) * size ** (1.0 / nu), y * f, e * f))
    total, count = 0.0, 0
    for i, (x, y, e) in enumerate(scaled):
        for j, (xo, yo, eo) in enumerate(scaled):
            if i == j:
                continue
            inside = (x > xo[0]) & (x < xo[-1])
            if not np.any(inside):
                continue
            xi = x[inside]
            k = np.searchsorted(xo, xi)
            w = (xi - xo[k - 1]) / (xo[k] - xo[k - 1])
            yi = (1 - w) * yo[k - 1] + w * yo[k]
            ei2 = ((1 - w) * eo[k - 1]) ** 2 + (w * eo[k]) ** 2
            total += float(np.sum((y[inside] - yi) ** 2 / (e[inside] ** 2 + ei2)))
            count += int(xi.size)
    return total, count


def _collapse_quality(
    points: Mapping[int, tuple[_FloatArray, _FloatArray, _FloatArray]],
    tc: float,
    nu: float,
    kappa: float,
    min_terms: int,
) -> float:
    total, count = _collapse_cost(points, tc, nu, kappa)
    if count < min_terms:
        # Too little overlap to judge: worse than any real collapse.
        return 1e12 * (1 + min_terms - count)
    return total / count


def collapse(
    points: CollapseData,
    *,
    start: tuple[float, float, float] | None = None,
    fix_exponent: float | None = None,
    nu_range: tuple[float, float] = (0.3, 4.0),
    exponent_range: tuple[float, float] = (-3.0, 3.0),
) -> Collapse:
    """Fit ``(T_c, nu, kappa)`` so that ``y L^-kappa`` vs ``(T - T_c) L^(1/nu)``
    collapses onto one curve (Houdayer-Hartmann quality, minimised with iminuit).

    Parameters
    ----------
    points : CollapseData
        Points per size (from :meth:`CollapseData.from_data` or your own).
    start : (T_c, nu, kappa), optional
        Starting point; T_c must lie inside the points' temperature range. A
        coarse scan over ``T_c`` (the data range), ``nu`` (``nu_range``) and
        ``kappa`` always runs too, and the fit keeps the better minimum, so a
        poor start cannot trap it in a local minimum.
    fix_exponent : float, optional
        Keep ``kappa`` fixed (e.g. 0 for the Binder cumulant).
    nu_range, exponent_range : (float, float)
        Bounds of ``nu`` (> 0) and ``kappa``.

    Returns
    -------
    Collapse
        Errors by jackknife when the points carry samples (every sample is
        refitted from the full-data minimum), else from the curvature of
        ``n S`` (Migrad-Hesse with ``errordef = 1``).

    Raises
    ------
    ValueError
        If ``start`` puts T_c outside the data, or the best T_c lies at the edge
        of the data range (no collapse inside the data).
    """
    from iminuit import Minuit

    if not isinstance(points, CollapseData):
        raise TypeError(f"points must be a CollapseData, got {type(points).__name__}")
    t_lo, t_hi = points.temperature_range
    n_lo, n_hi = (float(v) for v in nu_range)
    k_lo, k_hi = (float(v) for v in exponent_range)
    if not 0 < n_lo < n_hi:
        raise ValueError(f"nu_range must satisfy 0 < low < high, got {nu_range}")
    if not k_lo < k_hi:
        raise ValueError(
            f"exponent_range must satisfy low < high, got {exponent_range}"
        )
    if start is not None:
        if not t_lo < start[0] < t_hi:
            raise ValueError(
                f"start T_c = {start[0]} is outside the data range [{t_lo:.6g}, "
                f"{t_hi:.6g}]"
            )
        if not n_lo <= start[1] <= n_hi:
            raise ValueError(f"start nu = {start[1]} is outside nu_range {nu_range}")
    n_total = sum(p[0].size for p in points.points.values())
    # A collapse is judged on overlapping data: each point must on average be
    # compared with a third of the other sizes, or the parameters are rejected
    # (otherwise pushing the sizes apart would trivially give a small S).
    min_terms = max(4, n_total * (len(points.points) - 1) // 3)

    def quality_for(
        pts: Mapping[int, tuple[_FloatArray, _FloatArray, _FloatArray]],
    ) -> Callable[[float, float, float], float]:
        def q(tc: float, nu: float, kappa: float) -> float:
            return _collapse_quality(pts, tc, nu, kappa, min_terms)

        return q

    def fit(
        pts: Mapping[int, tuple[_FloatArray, _FloatArray, _FloatArray]],
        x0: tuple[float, float, float],
        hesse: bool = False,
    ) -> tuple[Any, float]:
        q = quality_for(pts)

        def cost(tc: float, nu: float, kappa: float) -> float:
            return n_total * q(tc, nu, kappa)

        m = Minuit(cost, tc=x0[0], nu=x0[1], kappa=x0[2])
        m.errordef = Minuit.LEAST_SQUARES
        m.limits["tc"] = (t_lo, t_hi)
        m.limits["nu"] = (n_lo, n_hi)
        m.limits["kappa"] = (k_lo, k_hi)
        m.errors["tc"] = 0.05 * (t_hi - t_lo)
        m.errors["nu"] = 0.05 * nu_range_width
        m.errors["kappa"] = 0.05
        if fix_exponent is not None:
            m.values["kappa"] = fix_exponent
            m.fixed["kappa"] = True
        m.simplex()
        m.migrad()
        if hesse:
            m.hesse()
        return m, float(m.fval) / n_total

    nu_range_width = n_hi - n_lo
    base = points.points
    # Coarse scan: T_c over the data range, nu log-spaced, and at each grid
    # point the best kappa (a bounded 1D search), so a good (T_c, nu) is not
    # missed for want of the right kappa on a grid.
    from scipy.optimize import minimize_scalar

    scan_t = np.linspace(t_lo, t_hi, 13)[1:-1]
    scan_nu = np.geomspace(n_lo, n_hi, 9)
    q0 = quality_for(base)
    best: tuple[float, tuple[float, float, float]] = (math.inf, (0.0, 0.0, 0.0))
    for tc0 in scan_t:
        for nu0 in scan_nu:
            if fix_exponent is not None:
                cand = (q0(tc0, nu0, fix_exponent), (tc0, nu0, fix_exponent))
            else:
                res = minimize_scalar(
                    lambda k, tc0=tc0, nu0=nu0: q0(tc0, nu0, k),
                    bounds=(k_lo, k_hi),
                    method="bounded",
                    options={"xatol": 1e-3},
                )
                cand = (float(res.fun), (tc0, nu0, float(res.x)))
            if cand[0] < best[0]:
                best = cand
    starts = [best[1]]
    if start is not None:
        k0 = float(start[2]) if fix_exponent is None else fix_exponent
        starts.append((float(start[0]), float(start[1]), k0))
    results = [fit(base, s, hesse=True) for s in starts]
    m, s_min = min(results, key=lambda r: r[1])
    tc, nu, kappa = (float(m.values[k]) for k in ("tc", "nu", "kappa"))
    width = t_hi - t_lo
    if tc - t_lo < 1e-3 * width or t_hi - tc < 1e-3 * width:
        raise ValueError(
            f"the collapse puts T_c = {tc:.6g} at the edge of the data range "
            f"[{t_lo:.6g}, {t_hi:.6g}]: T_c outside the data is refused"
        )
    if points.samples is not None and all(s in points.samples for s in base):
        k1 = min(points.samples[s].shape[0] for s in base)
        vals = []
        for j in range(1, k1):
            pts = {s: (t, points.samples[s][j], e) for s, (t, _, e) in base.items()}
            mj, _ = fit(pts, (tc, nu, kappa))
            vals.append([float(mj.values[k]) for k in ("tc", "nu", "kappa")])
        arr = np.array(vals)
        full = np.array([tc, nu, kappa])
        errs = [
            _jackknife_error(np.concatenate([[full[i]], arr[:, i]])) for i in range(3)
        ]
        method = "jackknife"
    else:
        errs = [float(m.errors[k]) for k in ("tc", "nu", "kappa")]
        method = "curvature"
    if fix_exponent is not None:
        errs[2] = 0.0
    if not m.valid:
        warnings.warn(
            "the collapse minimum is not a valid Migrad minimum; its errors may be "
            "unreliable",
            ScalingWarning,
            stacklevel=2,
        )
    return Collapse(
        temperature=Estimate(tc, errs[0]),
        nu=Estimate(nu, errs[1]),
        exponent=Estimate(kappa, errs[2]),
        quality=s_min,
        error_method=method,
        data=points,
    )


# --------------------------------------------------------------------------- #
# The whole analysis
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ScalingResult:
    """Critical temperature and exponents from one :class:`ScalingData`.

    Attributes
    ----------
    temperature : Estimate
        ``T_c``: the extrapolated Binder crossing, or the crossing of the two
        largest sizes when the extrapolation cannot be fitted, leaves the data,
        or is much noisier than that crossing while shifting it by less than its
        own error (see ``temperature_method`` and ``notes``).
    temperature_method : str
        How ``temperature`` was obtained.
    binder_crossings, xi_crossings : list of Crossing
        Crossings of ``U4`` and of ``xi/L`` (empty without ``xi``).
    extrapolation : Extrapolation or None
        The fit of the Binder crossings.
    binder : Estimate
        ``U4`` at the crossing of the two largest sizes.
    xi_over_size : Estimate or None
        ``xi/L`` at the crossing of the two largest sizes.
    xi_temperature : Estimate or None
        Crossing temperature of ``xi/L`` for the two largest sizes.
    inv_nu : PowerLaw
        ``1/nu`` from ``dU4/dbeta`` at ``T_c``.
    gamma_over_nu : PowerLaw
        From ``beta N <m^2>`` at ``T_c``.
    gamma_over_nu_peak : PowerLaw or None
        From the peak heights of ``beta N (<m^2> - <|m|>^2)``.
    beta_over_nu : PowerLaw
        From ``<|m|>`` at ``T_c`` (the fitted exponent is ``-beta/nu``; the
        stored estimate has the sign flipped).
    collapse : Collapse or None
        Collapse of the susceptibility (if asked for).
    kind, dimension : str, int
        Lattice of the data.
    notes : tuple of str
        Data-quality remarks.
    """

    temperature: Estimate
    temperature_method: str
    binder_crossings: list[Crossing]
    xi_crossings: list[Crossing]
    extrapolation: Extrapolation | None
    binder: Estimate
    xi_over_size: Estimate | None
    xi_temperature: Estimate | None
    inv_nu: PowerLaw
    gamma_over_nu: PowerLaw
    gamma_over_nu_peak: PowerLaw | None
    beta_over_nu: PowerLaw
    collapse: Collapse | None
    kind: str
    dimension: int
    notes: tuple[str, ...] = ()

    @property
    def largest_pair(self) -> Crossing:
        """The Binder crossing of the largest pair of sizes."""
        return max(self.binder_crossings, key=lambda c: (c.sizes[1], c.sizes[0]))

    @property
    def nu(self) -> Estimate:
        """``nu = 1 / (1/nu)`` with the propagated error."""
        v = self.inv_nu.exponent
        return Estimate(1.0 / v.value, v.error / v.value**2)

    def rows(self) -> list[tuple[str, Estimate | None, str]]:
        """``(name, estimate, reference key)`` rows of the results table."""
        rows: list[tuple[str, Estimate | None, str]] = [
            ("T_c", self.temperature, "temperature"),
            ("T_c (largest pair)", self.largest_pair.temperature, "temperature"),
        ]
        if self.extrapolation is not None:
            rows.append(
                ("T_c (extrapolated)", self.extrapolation.temperature, "temperature")
            )
        rows.append(("U4 at crossing", self.binder, "binder"))
        if self.xi_over_size is not None:
            rows.append(("T_c from xi/L", self.xi_temperature, "temperature"))
            rows.append(("xi/L at crossing", self.xi_over_size, "xi_over_size"))
        rows += [
            ("nu", self.nu, "nu"),
            ("gamma/nu (at T_c)", self.gamma_over_nu.exponent, "gamma_over_nu"),
        ]
        if self.gamma_over_nu_peak is not None:
            rows.append(
                ("gamma/nu (peaks)", self.gamma_over_nu_peak.exponent, "gamma_over_nu")
            )
        rows.append(("beta/nu (at T_c)", self.beta_over_nu.exponent, "beta_over_nu"))
        if self.collapse is not None:
            c = self.collapse
            rows += [
                ("T_c (collapse)", c.temperature, "temperature"),
                ("nu (collapse)", c.nu, "nu"),
                ("gamma/nu (collapse)", c.exponent, "gamma_over_nu"),
            ]
        return rows

    def table(self, reference: Reference | None = None, title: str = "") -> Table:
        """A rich table: measured values, reference values and the deviation in
        error bars (``z``).

        ``print(result.table())`` prints it as plain text; a rich console
        renders it as a rich table.
        """
        from ._table import TextTable

        table = TextTable(title=title or "finite-size scaling")
        table.add_column("quantity")
        table.add_column("measured", justify="right")
        if reference is not None:
            table.add_column("reference", justify="right")
            table.add_column("z", justify="right")
        for name, est, key in self.rows():
            if est is None:
                continue
            row = [name, str(est)]
            if reference is not None:
                ref = float(getattr(reference, key))
                # Exact inputs have rounding-level errors: no z then.
                resolved = est.error > 1e-10 * max(abs(est.value), 1e-300)
                z = (est.value - ref) / est.error if resolved else math.nan
                row += [f"{ref:.6g}", "" if not math.isfinite(z) else f"{z:+.1f}"]
            table.add_row(*row)
        return table

    def as_dict(self) -> dict[str, Any]:
        """The table's numbers as JSON-ready ``{name: {value, error, tau_int}}``."""
        return {name: est.as_dict() for name, est, _ in self.rows() if est is not None}


def comparison_table(
    results: Mapping[str, ScalingResult], title: str = "measured vs reference"
) -> Table:
    """One rich table of several lattices: measured value and reference per
    quantity, columns ``<key> measured`` and ``<key> reference``.

    ``results`` maps keys of :data:`REFERENCES` (``"square"``, ``"cubic"``,
    ``"complete"``) to their analyses.  ``print()`` gives it as plain text.
    """
    from ._table import TextTable

    for key in results:
        if key not in REFERENCES:
            raise ValueError(
                f"results keys must be in {tuple(REFERENCES)}, got {key!r}"
            )
    table = TextTable(title=title)
    table.add_column("quantity")
    for key in results:
        table.add_column(f"{REFERENCES[key].name}", justify="right")
        table.add_column("reference", justify="right")
    names: list[tuple[str, str]] = []
    for res in results.values():
        for name, _, ref_key in res.rows():
            if (name, ref_key) not in names:
                names.append((name, ref_key))
    for name, ref_key in names:
        row = [name]
        for key, res in results.items():
            found = {n: e for n, e, _ in res.rows()}.get(name)
            ref = float(getattr(REFERENCES[key], ref_key))
            row.append("" if found is None else str(found))
            row.append("" if not math.isfinite(ref) else f"{ref:.6g}")
        table.add_row(*row)
    return table


def analyse(
    data: ScalingData,
    *,
    pairs: str | Sequence[tuple[int, int]] = "all",
    omega: float | None = None,
    with_collapse: bool = False,
) -> ScalingResult:
    """Finite-size-scaling analysis: ``T_c``, ``U*``, ``nu``, ``gamma/nu``,
    ``beta/nu`` (and ``xi/L`` crossings when recorded), all with jackknife errors.

    Steps: Binder crossings of the pairs of sizes; ``1/nu`` from ``dU4/dbeta``
    at the crossing of the two largest sizes; extrapolation of the crossings
    with the leading correction (:func:`extrapolate_crossings`; falls back to
    the largest pair's crossing when there are too few crossings or the fit
    puts ``T_c`` outside the data); ``1/nu``, ``gamma/nu`` and ``beta/nu``
    from power laws at that ``T_c`` (each jackknife sample at its own
    ``T_c``); peaks of the susceptibility; optionally a collapse of
    ``beta N <m^2>`` started from these estimates.

    On the complete graph every exponent is one of ``N``.
    """
    if not isinstance(data, ScalingData):
        raise TypeError(f"data must be a ScalingData, got {type(data).__name__}")
    if omega is not None:
        # A bad omega would only fail inside the extrapolation, and the analysis
        # would fall back to the largest pair with a note: refuse it here.
        omega = _validate.finite_float("omega", omega, positive=True)
    notes = list(data.notes)
    sizes = data.sizes
    binder_x = crossings(data, "binder", pairs=pairs)
    largest = max(binder_x, key=lambda c: (c.sizes[1], c.sizes[0]))
    t0 = largest.temperature_samples

    exact = all(h.exact for size in sizes for h in data._histograms(size))
    slopes = _at_temperature(data, "binder_slope", t0)
    inv_nu0 = fit_power_law(sizes, slopes, exact=exact)
    extrap = None
    tc_samples, method = t0, f"Binder crossing of sizes {largest.sizes}"
    lo, hi = data.common_range()
    try:
        extrap = extrapolate_crossings(binder_x, inv_nu0.exponent_samples, omega=omega)
    except ValueError as exc:
        notes.append(f"no extrapolation of the crossings: {exc}")
    if extrap is not None:
        t_ex = extrap.temperature_samples
        ex, pair = extrap.temperature, largest.temperature
        # An extrapolation much noisier than the crossing it would correct, by a
        # shift smaller than its own error, trades a small bias for a large
        # variance: the crossing is then the better estimate.
        undetermined = ex.error > 2.0 * pair.error and abs(ex.value - pair.value) < (
            ex.error
        )
        if not np.all((t_ex > lo) & (t_ex < hi)):
            notes.append(
                "the extrapolated T_c falls outside the simulated range; the "
                "largest pair's crossing is used"
            )
        elif undetermined:
            notes.append(
                f"the extrapolation ({ex}) is not determined by the data (error "
                f"> 2 x that of the crossing, shift < its error); the largest "
                "pair's crossing is used, its finite-size shift not removed"
            )
        else:
            tc_samples = t_ex
            method = (
                f"extrapolated Binder crossings (omega = {extrap.omega.value:.3g}, "
                f"chi2/ndof = {extrap.chi2:.3g}/{extrap.ndof})"
            )
            om = extrap.omega.value
            if omega is None and (om <= _OMEGA_GRID[0] or om >= _OMEGA_GRID[-1]):
                # Limitation: omega is not resolved by few, small sizes; T_c's error
                # is that of the fit at the bound, without omega's uncertainty.
                notes.append(
                    f"the correction exponent omega = {om:.3g} sits at the bound of "
                    f"its range [{_OMEGA_GRID[0]:g}, {_OMEGA_GRID[-1]:g}]: these sizes "
                    "do not resolve the correction, and the error of the "
                    "extrapolated T_c does not include omega's uncertainty"
                )
    inv_nu = fit_power_law(
        sizes, _at_temperature(data, "binder_slope", tc_samples), exact=exact
    )
    gamma = fit_power_law(
        sizes,
        _at_temperature(data, "susceptibility_second_moment", tc_samples),
        exact=exact,
    )
    mag = fit_power_law(
        sizes, _at_temperature(data, "abs_magnetisation", tc_samples), exact=exact
    )
    flipped = -mag.exponent_samples
    beta_nu = PowerLaw(
        exponent=_estimate(flipped),
        amplitude=mag.amplitude,
        chi2=mag.chi2,
        ndof=mag.ndof,
        sizes=mag.sizes,
        values=mag.values,
        errors=mag.errors,
        exponent_samples=flipped,
    )
    gamma_peak = None
    try:
        pk = peaks(data, "susceptibility")
        gamma_peak = fit_power_law(
            sizes, np.stack([p.height_samples for p in pk], axis=1), exact=exact
        )
    except ValueError as exc:
        notes.append(f"no susceptibility peaks: {exc}")

    xi_x: list[Crossing] = []
    xi_value = xi_temp = None
    if data.kind == "hypercubic" and data.has_correlation_length:
        try:
            xi_x = crossings(data, "xi_over_size", pairs=pairs)
            big = max(xi_x, key=lambda c: (c.sizes[1], c.sizes[0]))
            xi_value, xi_temp = big.value, big.temperature
        except ValueError as exc:
            notes.append(f"no xi/L crossings: {exc}")

    coll = None
    if with_collapse:
        points = CollapseData.from_data(data, "susceptibility_second_moment")
        inv = inv_nu.exponent.value
        coll = collapse(
            points,
            start=(float(tc_samples[0]), 1.0 / inv, gamma.exponent.value),
        )
    return ScalingResult(
        temperature=_estimate(tc_samples),
        temperature_method=method,
        binder_crossings=binder_x,
        xi_crossings=xi_x,
        extrapolation=extrap,
        binder=largest.value,
        xi_over_size=xi_value,
        xi_temperature=xi_temp,
        inv_nu=inv_nu,
        gamma_over_nu=gamma,
        gamma_over_nu_peak=gamma_peak,
        beta_over_nu=beta_nu,
        collapse=coll,
        kind=data.kind,
        dimension=data.dimension,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- #
# Figures
# --------------------------------------------------------------------------- #
def plot_binder(
    data: ScalingData,
    result: ScalingResult | None = None,
    *,
    quantity: str = "binder",
    n_points: int = 60,
    temperature_range: tuple[float, float] | None = None,
) -> Figure:
    """Reweighted curves of ``quantity`` per size with error bands, the
    simulated points, and the crossings of ``result`` (if given).

    Each size is drawn over its whole reweighting coverage, clipped to
    ``temperature_range`` when given.

    Returns a :class:`matplotlib.figure.Figure` (not attached to pyplot).
    """
    from matplotlib.figure import Figure

    data._check_quantity(quantity)
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.add_subplot()
    span = data.temperature_range()
    lo_lim, hi_lim = temperature_range if temperature_range else (0.0, math.inf)
    colours = iter(f"C{i}" for i in itertools.count())
    for size in data.sizes:
        colour = next(colours)
        cov = data.coverage(size)
        label: str | None = f"{size}"
        for lo, hi in cov:
            if not math.isfinite(hi):
                hi = max(span[1], lo)
            a, b = max(lo, lo_lim), min(hi, hi_lim)
            if not a < b:
                continue
            t = np.linspace(a, b, n_points)
            v, e = data.curve(quantity, size, t)
            ax.plot(t, v, color=colour, label=label)
            ax.fill_between(t, v - e, v + e, color=colour, alpha=0.25)
            label = None
        ts = data.temperatures(size)
        inside = np.zeros(ts.size, dtype=bool)
        for lo, hi in cov:
            inside |= (ts >= lo) & (ts <= hi)
        ts = ts[inside & (ts >= lo_lim) & (ts <= hi_lim)]
        if ts.size:
            v, e = data.curve(quantity, size, ts)
            ax.errorbar(ts, v, e, fmt="o", ms=3, color=colour, label=label)
    if result is not None:
        xs = result.binder_crossings if quantity == "binder" else result.xi_crossings
        if quantity in ("binder", "xi_over_size"):
            for c in xs:
                ax.errorbar(
                    c.temperature.value,
                    c.value.value,
                    xerr=c.temperature.error,
                    yerr=c.value.error,
                    fmt="kx",
                )
        ax.axvline(result.temperature.value, color="k", lw=0.8, ls="--")
    ax.set_xlabel("temperature T / J")
    ax.set_ylabel({"binder": "U4", "xi_over_size": "xi / L"}.get(quantity, quantity))
    ax.legend(title="N" if data.kind == "complete" else "L")
    return fig


def plot_collapse(result: Collapse) -> Figure:
    """Scaled points ``y L^-kappa`` against ``(T - T_c) L^(1/nu)`` of a collapse.

    Returns a :class:`matplotlib.figure.Figure` (not attached to pyplot).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.add_subplot()
    tc, nu, kappa = result.temperature.value, result.nu.value, result.exponent.value
    for size, (t, y, e) in result.data.points.items():
        f = size ** (-kappa)
        ax.errorbar(
            (t - tc) * size ** (1.0 / nu), y * f, e * f, fmt="o", ms=3, label=f"{size}"
        )
    ax.set_xlabel("(T - T_c) L^(1/nu)")
    ax.set_ylabel("y L^(-kappa)")
    ax.set_title(
        f"T_c = {result.temperature}, nu = {result.nu}, kappa = {result.exponent}",
        fontsize=9,
    )
    ax.legend(title="size")
    return fig


# --------------------------------------------------------------------------- #
# Running a study
# --------------------------------------------------------------------------- #
def task_seed(seed: int, size: int, index: int) -> int:
    """Seed of the run of ``size`` at its ``index``-th temperature.

    Derived with :class:`numpy.random.SeedSequence` from ``(seed, size, index)``,
    so runs of one study are independent (the engine's streams are keyed by
    seed, so equal seeds would correlate different sizes).
    """
    state = np.random.SeedSequence([int(seed), int(size), int(index)]).generate_state(
        2, dtype=np.uint32
    )
    return int(state[0]) << 32 | int(state[1])


def run_study(
    lattice: Callable[[int], Any],
    sizes: Sequence[int],
    temperatures: Sequence[float] | Mapping[int, Sequence[float]],
    *,
    sweeps: int,
    burn_in: int,
    algorithm: str = "wolff",
    seed: int = 0,
    threads: int | None = None,
    record_kmin: bool = True,
    n_blocks: int = DEFAULT_BLOCKS,
    max_shift: float = 1.0,
    workers: int = 1,
    progress: Callable[[int, float], None] | None = None,
) -> ScalingData:
    """Simulate every (size, temperature) at zero field and collect the records.

    Parameters
    ----------
    lattice : callable
        ``size -> neurophase.Lattice``, e.g. ``neurophase.Lattice.square``.
    sizes : sequence of int
        At least two sizes.
    temperatures : sequence of float, or mapping size -> sequence of float
        The same temperatures for every size, or a list per size.
    sweeps, burn_in : int
        Recorded and discarded sweeps of every run (``sweeps >= 2 n_blocks``).
    algorithm, threads : str, int or None
        As in :func:`neurophase.simulate`.
    seed : int
        Study seed; each run's seed is :func:`task_seed` of it.
    record_kmin : bool
        Record ``|m(k_min)|^2`` for the correlation length (not on the complete
        graph, where it is ignored).
    workers : int
        Runs executed at the same time (Python threads; the engine releases the
        GIL). The records do not depend on it: every run has its own seed.
    progress : callable, optional
        Called as ``progress(size, temperature)`` after each run.

    Raises
    ------
    StudyInterrupted
        On Ctrl-C, with the runs finished so far (a ``KeyboardInterrupt``).
    """
    from .simulation import simulate

    if isinstance(sweeps, bool) or not isinstance(sweeps, (int, np.integer)):
        raise TypeError(f"sweeps must be an integer >= 2 n_blocks, got {sweeps!r}")
    if sweeps < 2 * n_blocks:
        raise ValueError(f"sweeps must be >= 2 n_blocks = {2 * n_blocks}, got {sweeps}")
    sizes = [int(s) for s in sizes]
    if len(set(sizes)) < 2:
        raise ValueError(f"sizes must hold at least two different sizes, got {sizes}")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)):
        raise TypeError(f"workers must be an integer >= 1, got {workers!r}")
    if workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers}")
    tasks = []
    for size in sizes:
        temps = (
            temperatures[size] if isinstance(temperatures, Mapping) else temperatures
        )
        lat = lattice(size)
        tasks += [(size, lat, i, float(t)) for i, t in enumerate(temps)]

    def one(task: tuple[int, Any, int, float]) -> Run:
        size, lat, i, t = task
        run = simulate(
            lat,
            temperature=t,
            sweeps=sweeps,
            burn_in=burn_in,
            algorithm=algorithm,  # type: ignore[arg-type]
            seed=task_seed(seed, size, i),
            threads=threads,
            record_kmin=record_kmin and lat.periodic,
        )
        if progress is not None:
            progress(size, t)
        return run

    done: dict[int, Run] = {}
    if workers == 1:
        try:
            for k, task in enumerate(tasks):
                done[k] = one(task)
        except KeyboardInterrupt:
            raise StudyInterrupted(list(done.values()), len(tasks)) from None
    else:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        # Largest lattices first, so that the last runs are short ones.
        order = sorted(range(len(tasks)), key=lambda k: -tasks[k][1].n_sites)
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            futures = {pool.submit(one, tasks[k]): k for k in order}
            for future in as_completed(futures):
                done[futures[future]] = future.result()
        except KeyboardInterrupt:
            # Limitation: runs already started in other threads cannot be stopped
            # (Ctrl-C reaches the main thread only); they finish before the exit.
            pool.shutdown(wait=False, cancel_futures=True)
            finished = [done[k] for k in sorted(done)]
            raise StudyInterrupted(finished, len(tasks)) from None
        pool.shutdown()
    runs = [done[k] for k in range(len(tasks))]
    return ScalingData.from_runs(runs, n_blocks=n_blocks, max_shift=max_shift)
