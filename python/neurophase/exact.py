"""Exact reference results for the Ising model.

These functions are the ground truth that Monte Carlo estimates are checked
against. Everything here is exact up to floating-point rounding; no sampling is
involved anywhere.

Conventions (shared by the whole module)
----------------------------------------
* Spins are ``s_i = +1`` or ``-1``; ``k_B = 1`` and ``beta = 1 / T``.
* Lattice Hamiltonian: ``H(s) = -J sum_<ij> s_i s_j - sum_i h_i s_i``, where
  ``<ij>`` counts every nearest-neighbour bond once.  On a periodic lattice a
  side of length 2 gives two distinct bonds (one "forward", one wrapping)
  between the same pair of sites, and both count, so every site always has
  ``z = 2 d`` bonds.  For example a periodic 2 x 2 square lattice has each spin
  bonded twice to each of its two neighbours.
* Complete graph (Curie-Weiss): ``H = -(J / N) sum_{i<j} s_i s_j - h sum_i s_i``
  with no self-interaction term.
* Intensive quantities are per spin: energy ``e = H / N`` (the field term
  included), magnetisation ``m = (1/N) sum_i s_i`` and staggered magnetisation
  ``m_s = (1/N) sum_i (-1)^(x_1 + ... + x_d) s_i``.
* Binder cumulant ``U4 = 1 - <m^4> / (3 <m^2>^2)``.
* Specific heat per spin ``C = beta^2 N (<e^2> - <e>^2)``.
* Susceptibilities per spin: ``susceptibility_abs = beta N (<m^2> - <|m|>^2)``,
  ``susceptibility_connected = beta N (<m^2> - <m>^2)`` and
  ``susceptibility_second_moment = beta N <m^2>``.
* Free energy per spin ``f = -T ln Z / N``.

Sites of a lattice of shape ``(L_1, ..., L_d)`` are numbered in C (row-major)
order, i.e. ``numpy.ravel_multi_index`` order, and a per-site field array has
the lattice's shape.

Arguments that are not real numbers (strings, complex numbers, objects) raise
``TypeError`` naming the parameter; real values out of range raise
``ValueError``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ellipe, ellipkm1, expit, gammaln, logsumexp

__all__ = [
    "ChainFiniteResult",
    "ChainInfiniteResult",
    "ExactAverages",
    "KaufmanResult",
    "bond_list",
    "chain_finite",
    "chain_infinite",
    "critical_temperature_square",
    "curie_weiss",
    "enumerate_lattice",
    "kaufman",
    "onsager_energy",
    "onsager_magnetisation",
    "onsager_specific_heat",
]

#: Largest number of sites accepted by :func:`enumerate_lattice` (2^27 states,
#: enough for a 3 x 3 x 3 lattice; 5 x 5 takes a few seconds).
MAX_ENUMERATION_SITES = 27

#: Largest number of dimensions accepted by :func:`enumerate_lattice`.
MAX_ENUMERATION_DIMENSIONS = 5

#: Largest ``N`` accepted by :func:`curie_weiss` (memory is O(N)).
MAX_CURIE_WEISS_SITES = 10**7

#: Largest side ``L`` accepted by :func:`kaufman` (memory and time are O(L):
#: about 0.2 s and a few hundred MB at the limit).
MAX_KAUFMAN_SIDE = 10**6

#: Largest number of sites accepted by :func:`bond_list` (the table has
#: ``d N`` rows of two int64; about 250 MB of work arrays at the limit, d = 5).
MAX_BOND_LIST_SITES = 10**6

# Number of sites whose 2^k configurations form one enumeration chunk.  Kept a
# module attribute so tests can shrink it to exercise the chunk merging.
_LOW_BITS = 16
_GATHER_BITS = 8

# Above this |J|/T the Kaufman expressions would overflow (cosh 2K ~ e^{2K});
# the corrections to the ground state are then of order e^{-8K} < 1e-1000.
_KAUFMAN_MAX_K = 300.0

# Below this elliptic parameter m = kappa^2 (T < ~1.03 J) the Onsager specific
# heat is summed from a series with the leading cancellations done analytically.
_ONSAGER_SERIES_M = 0.3

# Largest (|J| + |h|) / T accepted by the finite-chain transfer matrix.
_CHAIN_MAX_RATIO = 350.0

_LN2 = math.log(2.0)


# ---------------------------------------------------------------------------
# Result containers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExactAverages:
    """Exact thermal averages of a finite Ising system.

    All quantities are per spin and use the module conventions (see the module
    docstring); energies are in units of the coupling's units and include the
    field term, temperatures are in the same units (``k_B = 1``).

    Attributes
    ----------
    energy : float
        ``<e>``, mean energy per spin.
    energy2 : float
        ``<e^2>``, mean squared energy per spin.
    specific_heat : float
        ``beta^2 N (<e^2> - <e>^2)``, specific heat per spin.
    magnetisation : float
        ``<m>``.
    abs_magnetisation : float
        ``<|m|>``.
    magnetisation2 : float
        ``<m^2>``.
    magnetisation4 : float
        ``<m^4>``.
    binder : float
        ``1 - <m^4> / (3 <m^2>^2)`` (NaN if ``<m^2>`` underflows to 0).
    susceptibility_abs : float
        ``beta N (<m^2> - <|m|>^2)``.
    susceptibility_connected : float
        ``beta N (<m^2> - <m>^2)``.
    susceptibility_second_moment : float
        ``beta N <m^2>``.
    staggered_magnetisation_abs : float
        ``<|m_s|>``; NaN where no sublattice structure exists (complete graph).
    staggered_magnetisation2 : float
        ``<m_s^2>``; NaN where no sublattice structure exists (complete graph).
    free_energy : float
        ``-T ln Z / N``.
    """

    energy: float
    energy2: float
    specific_heat: float
    magnetisation: float
    abs_magnetisation: float
    magnetisation2: float
    magnetisation4: float
    binder: float
    susceptibility_abs: float
    susceptibility_connected: float
    susceptibility_second_moment: float
    staggered_magnetisation_abs: float
    staggered_magnetisation2: float
    free_energy: float


@dataclass(frozen=True)
class KaufmanResult:
    """Exact finite-size thermodynamics of the periodic ``L x L`` square lattice.

    Attributes
    ----------
    L : int
        Linear size; ``N = L^2`` spins.
    temperature : float
        Temperature ``T`` (``k_B = 1``).
    coupling : float
        Coupling ``J`` (either sign).
    log_partition_function : float
        ``ln Z`` (dimensionless, the whole lattice).
    free_energy : float
        ``-T ln Z / N``, per spin.
    energy : float
        ``<H> / N``, per spin.
    specific_heat : float
        ``beta^2 (<H^2> - <H>^2) / N``, per spin.
    """

    L: int
    temperature: float
    coupling: float
    log_partition_function: float
    free_energy: float
    energy: float
    specific_heat: float


@dataclass(frozen=True)
class ChainInfiniteResult:
    """Thermodynamic limit of the one-dimensional Ising chain.

    Attributes
    ----------
    free_energy : float
        Free energy per spin ``-T ln lambda_+``.
    energy : float
        Energy per spin, field term included.
    magnetisation : float
        ``<s_i>``.
    susceptibility : float
        ``d<m>/dh = beta sum_r (<s_0 s_r> - <m>^2)`` per spin.
    specific_heat : float
        ``d e / d T`` per spin at fixed field.
    correlation_length : float
        ``1 / ln|lambda_+ / lambda_-|`` in lattice spacings: the connected
        correlation decays as ``(lambda_- / lambda_+)^r``.
    """

    free_energy: float
    energy: float
    magnetisation: float
    susceptibility: float
    specific_heat: float
    correlation_length: float


@dataclass(frozen=True)
class ChainFiniteResult:
    """Exact averages for a finite Ising chain (transfer-matrix evaluation).

    Quantities are per spin with the module conventions.

    Attributes
    ----------
    free_energy : float
        ``-T ln Z / N``.
    energy : float
        ``<e>``.
    energy2 : float
        ``<e^2>``.
    specific_heat : float
        ``beta^2 N (<e^2> - <e>^2)``.
    magnetisation : float
        ``<m>``.
    magnetisation2 : float
        ``<m^2>``.
    magnetisation4 : float
        ``<m^4>``.
    binder : float
        ``1 - <m^4> / (3 <m^2>^2)``.
    susceptibility_connected : float
        ``beta N (<m^2> - <m>^2)``.
    susceptibility_second_moment : float
        ``beta N <m^2>``.
    """

    free_energy: float
    energy: float
    energy2: float
    specific_heat: float
    magnetisation: float
    magnetisation2: float
    magnetisation4: float
    binder: float
    susceptibility_connected: float
    susceptibility_second_moment: float


# ---------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------


def _refuse_non_real(name: str, value: object, allowed: str) -> None:
    """Raise TypeError unless ``value`` holds real numbers (not str, complex...)."""
    try:
        kind = np.asarray(value).dtype.kind
    except (TypeError, ValueError):
        kind = "O"
    if kind not in "biuf":
        raise TypeError(f"{name} must be {allowed}, got {value!r}")


def _check_temperature(temperature: float, name: str = "temperature") -> float:
    _refuse_non_real(name, temperature, "a real number > 0")
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a real number > 0, got {temperature!r}"
        ) from None
    if not (math.isfinite(t) and t > 0.0):
        raise ValueError(f"{name} must be finite and > 0, got {temperature!r}")
    return t


def _check_temperature_array(temperature: npt.ArrayLike) -> np.ndarray:
    _refuse_non_real(
        "temperature", temperature, "a real number or an array of real numbers"
    )
    t = np.asarray(temperature, dtype=float)
    if not np.all(np.isfinite(t) & (t > 0.0)):
        raise ValueError("temperature must be finite and > 0 (every element)")
    return t


def _check_real(name: str, value: float) -> float:
    _refuse_non_real(name, value, "a finite real number")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a finite real number, got {value!r}"
        ) from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return v


def _check_nonzero_coupling(coupling: float) -> float:
    j = _check_real("coupling", coupling)
    if j == 0.0:
        raise ValueError("coupling must be nonzero (J > 0 or J < 0), got 0")
    return j


def _check_int(name: str, value: int, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    v = int(value)
    if v < minimum or (maximum is not None and v > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be >= {minimum}{upper}, got {v}")
    return v


def _check_boundary(boundary: str) -> str:
    if boundary not in ("periodic", "open"):
        raise ValueError(f"boundary must be 'periodic' or 'open', got {boundary!r}")
    return boundary


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(
            f"shape must be a tuple of integers >= 2, got {shape!r}"
        ) from None
    if not 1 <= len(dims) <= MAX_ENUMERATION_DIMENSIONS:
        raise ValueError(
            f"shape must have 1 to {MAX_ENUMERATION_DIMENSIONS} dimensions, "
            f"got {len(dims)}"
        )
    for side in dims:
        if isinstance(side, bool) or not isinstance(side, (int, np.integer)):
            raise ValueError(f"shape entries must be integers >= 2, got {shape!r}")
        if side < 2:
            raise ValueError(f"shape entries must be >= 2, got {shape!r}")
    return tuple(int(side) for side in dims)


# ---------------------------------------------------------------------------
# Lattice geometry
# ---------------------------------------------------------------------------


def bond_list(shape: Sequence[int], boundary: str = "periodic") -> np.ndarray:
    """Nearest-neighbour bonds of a hypercubic lattice.

    Parameters
    ----------
    shape : sequence of int
        Side lengths ``(L_1, ..., L_d)``, each ``>= 2``, ``1 <= d <= 5``, with
        at most ``MAX_BOND_LIST_SITES`` (10^6) sites in all.
    boundary : {"periodic", "open"}
        Boundary condition applied in every direction.

    Returns
    -------
    numpy.ndarray
        Integer array of shape ``(n_bonds, 2)``.  Row ``(i, j)`` is the bond from
        site ``i`` to its forward neighbour ``j`` along one axis; sites are
        numbered in C order.  Rows are grouped by axis, then by site.  With
        periodic boundaries ``n_bonds = d N`` and every site has ``2 d`` bond
        ends; a side of length 2 therefore lists each pair along that axis
        twice (as ``(i, j)`` and as the wrapping ``(j, i)``), matching the
        doubled-bond convention of this module.  With open boundaries
        ``n_bonds = sum_a N (L_a - 1) / L_a``.

    Raises
    ------
    ValueError
        If ``shape`` or ``boundary`` is invalid, or the lattice has more than
        ``MAX_BOND_LIST_SITES`` sites.
    """
    dims = _check_shape(shape)
    boundary = _check_boundary(boundary)
    if math.prod(dims) > MAX_BOND_LIST_SITES:
        raise ValueError(
            f"shape {dims} has {math.prod(dims)} sites; bond_list accepts at most "
            f"{MAX_BOND_LIST_SITES} (memory is O(d N))"
        )
    index = np.arange(math.prod(dims)).reshape(dims)
    blocks = []
    for axis, side in enumerate(dims):
        forward = np.roll(index, -1, axis=axis)
        src, dst = index, forward
        if boundary == "open":
            keep = [slice(None)] * len(dims)
            keep[axis] = slice(0, side - 1)
            src, dst = index[tuple(keep)], forward[tuple(keep)]
        blocks.append(np.stack([src.ravel(), dst.ravel()], axis=1))
    return np.concatenate(blocks, axis=0).astype(np.int64)


def _staggered_signs(dims: tuple[int, ...]) -> np.ndarray:
    coords = np.indices(dims).reshape(len(dims), -1)
    return np.where(coords.sum(axis=0) % 2 == 0, 1.0, -1.0)


def _site_field(field: float | npt.ArrayLike, dims: tuple[int, ...]) -> np.ndarray:
    _refuse_non_real("field", field, "a real number or an array of real numbers")
    h = np.asarray(field, dtype=float)
    if h.ndim == 0:
        if not np.isfinite(h):
            raise ValueError(f"field must be finite, got {field!r}")
        return np.full(math.prod(dims), float(h))
    if h.shape != dims:
        raise ValueError(
            f"field must be a scalar or an array of the lattice shape {dims}, "
            f"got an array of shape {h.shape}"
        )
    if not np.all(np.isfinite(h)):
        raise ValueError("field must contain only finite values")
    return h.ravel().copy()


# ---------------------------------------------------------------------------
# Full enumeration
# ---------------------------------------------------------------------------


def _spin_table(n_sites: int) -> np.ndarray:
    """All 2^n configurations of ``n_sites`` spins; bit i of the row index set
    means spin i is -1."""
    rows = np.arange(2**n_sites, dtype=np.int64)[:, None]
    bits = (rows >> np.arange(n_sites, dtype=np.int64)) & 1
    return (1 - 2 * bits).astype(np.float64)


class _WeightedMoments:
    """Streaming Boltzmann-weighted means and variances.

    Chunks are merged with the pairwise (Chan et al.) update on normalised
    weights, so neither the weights overflow nor do variances suffer the
    ``<x^2> - <x>^2`` cancellation at low temperature.
    """

    def __init__(self) -> None:
        self.log_weight = -math.inf
        self.means: np.ndarray | None = None
        self.variances: np.ndarray | None = None

    def add(self, log_w: np.ndarray, observables: np.ndarray, n_var: int) -> None:
        top = float(log_w.max())
        w = np.exp(log_w - top)
        total = float(w.sum())
        p = w / total
        means = observables @ p
        centred = observables[:n_var] - means[:n_var, None]
        variances = (centred * centred) @ p
        log_weight = top + math.log(total)
        if self.means is None or self.variances is None:
            self.log_weight, self.means, self.variances = log_weight, means, variances
            return
        merged = float(np.logaddexp(self.log_weight, log_weight))
        pa = math.exp(self.log_weight - merged)
        pb = math.exp(log_weight - merged)
        delta = means[:n_var] - self.means[:n_var]
        self.variances = pa * self.variances + pb * variances + pa * pb * delta**2
        self.means = pa * self.means + pb * means
        self.log_weight = merged


@dataclass(frozen=True)
class _EnumerationPlan:
    """Temperature- and field-independent tables for :func:`enumerate_lattice`."""

    n_low: int
    n_high: int
    low: np.ndarray  # (2^n_low, n_low) spins of the tabulated sites
    bond_low: np.ndarray  # bond sum among tabulated sites, per table row
    mag_low: np.ndarray
    stag_low: np.ndarray
    stagger: np.ndarray  # (-1)^{sum x} per site
    mixed_low: np.ndarray  # table end of each table/loop bond
    mixed_high: np.ndarray  # loop end (offset by n_low) of the same bonds
    hh_a: np.ndarray  # bonds among looped-over sites
    hh_b: np.ndarray
    groups: tuple[np.ndarray, ...]
    group_index: tuple[np.ndarray, ...]
    group_spins: tuple[np.ndarray, ...]


@functools.lru_cache(maxsize=4)
def _enumeration_plan(
    dims: tuple[int, ...], boundary: str, low_bits: int, gather_bits: int
) -> _EnumerationPlan:
    # Cached so that temperature or field scans of one lattice rebuild nothing.
    n_sites = math.prod(dims)
    bonds = bond_list(dims, boundary)
    stagger = _staggered_signs(dims)
    n_low = min(n_sites, low_bits)
    low = _spin_table(n_low)

    a, b = bonds[:, 0], bonds[:, 1]
    a_low, b_low = a < n_low, b < n_low
    both_low = a_low & b_low
    both_high = ~a_low & ~b_low
    mixed = a_low ^ b_low
    bond_low = np.einsum("ij,ij->i", low[:, a[both_low]], low[:, b[both_low]])
    mixed_low = np.where(a_low[mixed], a[mixed], b[mixed])
    mixed_high = np.where(a_low[mixed], b[mixed], a[mixed]) - n_low

    # The cross term sum_a s_a c_a (c_a = sum of bonded looped-over spins) only
    # involves table sites on the boundary with the looped-over sites.  They
    # are split into groups of <= gather_bits whose 2^g partial sums are
    # tabulated per chunk and gathered: much cheaper than a (2^16 x 16)
    # matrix-vector product.
    boundary_sites = np.unique(mixed_low)
    groups = tuple(
        boundary_sites[i : i + gather_bits]
        for i in range(0, boundary_sites.size, gather_bits)
    )
    group_index = tuple(
        ((low[:, g] < 0) << np.arange(g.size)).sum(axis=1).astype(np.intp)
        for g in groups
    )
    plan = _EnumerationPlan(
        n_low=n_low,
        n_high=n_sites - n_low,
        low=low,
        bond_low=bond_low,
        mag_low=low.sum(axis=1),
        stag_low=low @ stagger[:n_low],
        stagger=stagger,
        mixed_low=mixed_low,
        mixed_high=mixed_high,
        hh_a=a[both_high] - n_low,
        hh_b=b[both_high] - n_low,
        groups=groups,
        group_index=group_index,
        group_spins=tuple(_spin_table(g.size) for g in groups),
    )
    for field in dataclasses.fields(plan):
        value = getattr(plan, field.name)
        for array in value if isinstance(value, tuple) else (value,):
            if isinstance(array, np.ndarray):
                array.setflags(write=False)  # shared through the cache
    return plan


def enumerate_lattice(
    shape: Sequence[int],
    temperature: float,
    coupling: float = 1.0,
    field: float | npt.ArrayLike = 0.0,
    boundary: str = "periodic",
) -> ExactAverages:
    """Exact averages of a hypercubic Ising lattice by summing all 2^N states.

    Parameters
    ----------
    shape : sequence of int
        Side lengths ``(L_1, ..., L_d)``; each ``>= 2``, ``1 <= d <= 5`` and
        ``N = prod(L_a) <= MAX_ENUMERATION_SITES`` (27).  Cost is about
        ``2^N`` operations: 4 x 4 takes ~0.1 s, 5 x 5 a few seconds.
    temperature : float
        ``T > 0`` in units of energy (``k_B = 1``).
    coupling : float, optional
        Nearest-neighbour coupling ``J`` (any finite sign; ``J < 0`` is
        antiferromagnetic).
    field : float or array_like, optional
        Uniform field ``h`` or a per-site field ``h_i`` given as an array of
        shape ``shape`` (C order), in energy units.
    boundary : {"periodic", "open"}, optional
        Boundary condition in every direction.  With ``"periodic"`` a side of
        length 2 carries two bonds between the same pair (see
        :func:`bond_list`).

    Returns
    -------
    ExactAverages
        All averages per spin; see :class:`ExactAverages`.

    Raises
    ------
    ValueError
        For an invalid shape, a lattice with more than
        ``MAX_ENUMERATION_SITES`` sites, a non-positive or non-finite
        temperature, a non-finite coupling or field, or an unknown boundary.

    Notes
    -----
    The first ``min(N, 16)`` sites are enumerated once as a table of
    configurations (a chunk of up to 65536 states); the remaining sites are
    looped over, and for each of their configurations the bond sum is
    ``B_table + B_rest + sum_a s_a c_a`` where ``c_a`` collects the looped-over
    spins bonded to table site ``a``.  Boltzmann weights are handled as
    log-weights and chunks are merged with normalised weights and centred
    variances, so results are accurate to ~1e-14 relative (also at low
    temperature, where ``<e^2> - <e>^2`` would otherwise cancel) for any
    ``J / T`` that does not overflow double precision.
    """
    dims = _check_shape(shape)
    n_sites = math.prod(dims)
    if n_sites > MAX_ENUMERATION_SITES:
        raise ValueError(
            f"shape has {n_sites} sites; enumeration needs N <= "
            f"{MAX_ENUMERATION_SITES} (2^N states)"
        )
    beta = 1.0 / _check_temperature(temperature)
    j = _check_real("coupling", coupling)
    h = _site_field(field, dims)
    plan = _enumeration_plan(dims, _check_boundary(boundary), _LOW_BITS, _GATHER_BITS)
    n_low, n_high, low = plan.n_low, plan.n_high, plan.low
    if np.all(h == h[0]):
        field_low = h[0] * plan.mag_low  # avoids a (2^16 x 16) product
    else:
        field_low = low @ h[:n_low]
    h_high, stagger_high = h[n_low:], plan.stagger[n_low:]
    high_bits = np.arange(n_high, dtype=np.int64)
    mag_low, stag_low, bond_low = plan.mag_low, plan.stag_low, plan.bond_low
    mixed_low, mixed_high = plan.mixed_low, plan.mixed_high
    hh_a, hh_b = plan.hh_a, plan.hh_b
    groups, group_index, group_spins = plan.groups, plan.group_index, plan.group_spins

    acc = _WeightedMoments()
    observables = np.empty((7, low.shape[0]))
    for config in range(2**n_high):
        s_high = (1 - 2 * ((config >> high_bits) & 1)).astype(np.float64)
        coef = np.bincount(mixed_low, weights=s_high[mixed_high], minlength=n_low)
        bond_sum = bond_low + float(s_high[hh_a] @ s_high[hh_b])
        for g, index, spins in zip(groups, group_index, group_spins, strict=True):
            bond_sum = bond_sum + (spins @ coef[g])[index]
        energy = -j * bond_sum - (field_low + float(h_high @ s_high))
        m = (mag_low + s_high.sum()) / n_sites
        ms = (stag_low + float(stagger_high @ s_high)) / n_sites
        m2 = m * m
        observables[0] = energy / n_sites
        observables[1] = m
        observables[2] = np.abs(m)
        observables[3] = m2
        observables[4] = m2 * m2
        observables[5] = np.abs(ms)
        observables[6] = ms * ms
        acc.add(-beta * energy, observables, n_var=3)

    assert acc.means is not None and acc.variances is not None
    e, mean_m, abs_m, m2, m4, abs_ms, ms2 = (float(x) for x in acc.means)
    var_e, var_m, var_abs_m = (float(x) for x in acc.variances)
    return _make_averages(
        n_sites=n_sites,
        beta=beta,
        log_z=acc.log_weight,
        energy=e,
        var_energy=var_e,
        magnetisation=mean_m,
        var_magnetisation=var_m,
        abs_magnetisation=abs_m,
        var_abs_magnetisation=var_abs_m,
        magnetisation2=m2,
        magnetisation4=m4,
        staggered_abs=abs_ms,
        staggered2=ms2,
    )


def _binder(m2: float, m4: float) -> float:
    # Below ~1e-150 the ratio of underflowing moments is meaningless.
    if not m2 > 1e-150:
        return math.nan
    return 1.0 - m4 / (3.0 * m2 * m2)


def _make_averages(
    *,
    n_sites: int,
    beta: float,
    log_z: float,
    energy: float,
    var_energy: float,
    magnetisation: float,
    var_magnetisation: float,
    abs_magnetisation: float,
    var_abs_magnetisation: float,
    magnetisation2: float,
    magnetisation4: float,
    staggered_abs: float,
    staggered2: float,
) -> ExactAverages:
    return ExactAverages(
        energy=energy,
        energy2=var_energy + energy * energy,
        specific_heat=beta * beta * n_sites * var_energy,
        magnetisation=magnetisation,
        abs_magnetisation=abs_magnetisation,
        magnetisation2=magnetisation2,
        magnetisation4=magnetisation4,
        binder=_binder(magnetisation2, magnetisation4),
        susceptibility_abs=beta * n_sites * var_abs_magnetisation,
        susceptibility_connected=beta * n_sites * var_magnetisation,
        susceptibility_second_moment=beta * n_sites * magnetisation2,
        staggered_magnetisation_abs=staggered_abs,
        staggered_magnetisation2=staggered2,
        free_energy=-log_z / (beta * n_sites),
    )


# ---------------------------------------------------------------------------
# Kaufman: finite periodic square lattice
# ---------------------------------------------------------------------------


def _log_cosh_sinh_products(
    y: np.ndarray, dy: np.ndarray, d2y: np.ndarray
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """ln prod 2cosh(y_r) and ln prod 2sinh(y_r) for y_r > 0, with first and
    second derivatives, given dy/dK and d2y/dK2."""
    q = np.exp(-2.0 * y)
    # tanh, coth and their derivatives written through e^{-2y} so that large y
    # neither overflows nor loses the tiny sech^2 / csch^2 terms.
    tanh = (1.0 - q) / (1.0 + q)
    coth = (1.0 + q) / (1.0 - q)
    sech2 = 4.0 * q / (1.0 + q) ** 2
    csch2 = 4.0 * q / (1.0 - q) ** 2
    log_cosh = float(np.sum(y + np.log1p(q)))
    log_sinh = float(np.sum(y + np.log1p(-q)))
    cosh_terms = (
        log_cosh,
        float(np.sum(tanh * dy)),
        float(np.sum(sech2 * dy * dy + tanh * d2y)),
    )
    sinh_terms = (
        log_sinh,
        float(np.sum(coth * dy)),
        float(np.sum(-csch2 * dy * dy + coth * d2y)),
    )
    return cosh_terms, sinh_terms


def _kaufman_log_z(L: int, k: float) -> tuple[float, float, float]:
    """ln Z and its first two derivatives with respect to K = beta J > 0."""
    n_sites = L * L
    x = 2.0 * k
    sh, ch = math.sinh(x), math.cosh(x)
    # c(K) = cosh 2K coth 2K; c - 2 = (sinh 2K - 1)^2 / sinh 2K exactly, which
    # keeps cosh(gamma_q) - 1 accurate when gamma_q is small near T_c.
    # Written with ratios (no sh**n) so that nothing overflows up to K = 300.
    c_minus_2 = (sh - 1.0) * ((sh - 1.0) / sh)
    dc = 2.0 * ch * (1.0 - 1.0 / sh / sh)
    d2c = 4.0 * (sh - 1.0 / sh + 2.0 * (ch / sh) ** 2 / sh)

    half = 0.5 * L

    def gammas(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = c_minus_2 + 2.0 * np.sin(0.5 * np.pi * q / L) ** 2  # cosh(gamma) - 1
        sinh_g = np.sqrt(t) * np.sqrt(t + 2.0)
        g = np.log1p(t + sinh_g)
        dg = dc / sinh_g
        if sh > 2.0:
            # At low T, c'' and cosh(gamma) gamma'^2 are both ~4 sinh 2K and
            # cancel to ~4 cos(theta) / sinh 2K.  Their difference is the exact
            # polynomial sinh^3(gamma) gamma'' s^5 / 4 = -u s^7 + (u^2 + 2) s^6
            # - ... + 1 in s = sinh 2K, u = cos(theta), evaluated here divided
            # by s^7 (Horner in 1/s) to avoid both cancellation and overflow.
            u = np.cos(np.pi * q / L)
            inv = 1.0 / sh
            coefs = (-3.0 * u, 2.0 * u * u + 3.0, -7.0 * u, u * u + 6.0, -5.0 * u)
            poly = np.full_like(u, inv)
            for coef in (*coefs, u * u + 2.0):
                poly = (poly + coef) * inv
            poly = poly - u
            ratio = sh / sinh_g
            d2g = 4.0 * poly * ratio * ratio / sinh_g
        else:
            d2g = (d2c - (1.0 + t) * dg * dg) / sinh_g
        return half * g, half * dg, half * d2g

    odd = 2.0 * np.arange(L) + 1.0
    even = 2.0 * np.arange(1, L)
    odd_cosh, odd_sinh = _log_cosh_sinh_products(*gammas(odd))
    even_cosh, even_sinh = _log_cosh_sinh_products(*gammas(even))

    # gamma_0 must carry its sign: 2K + ln tanh K is > 0 below T_c and < 0
    # above, which flips the sign of the last product.  arccosh would lose it.
    log_tanh = math.log1p(-2.0 / (math.exp(x) + 1.0))
    y0 = half * (x + log_tanh)
    dy0 = half * (2.0 + 2.0 / sh)
    d2y0 = half * (-4.0 * (ch / sh) / sh)
    e0 = math.exp(-2.0 * abs(y0))
    c0 = 1.0 + e0  # 2 cosh(y0) e^{-|y0|}
    s0 = math.copysign(-math.expm1(-2.0 * abs(y0)), y0)  # 2 sinh(y0) e^{-|y0|}

    # Each term is a(K) exp(lP(K)), a being the rescaled q = 0 factor (1 for the
    # odd-q terms).  Its log-derivative is split as sigma + (a' - sigma a) / a
    # with sigma = y0' tanh(y0): for |y0| >> 1 this absorbs the O(L) slope of
    # the q = 0 factor, whose square would otherwise cancel to O(N) at low T,
    # and it stays finite where 2 sinh(y0) vanishes (at T_c).
    sigma = dy0 * s0 / c0
    quad = 4.0 * e0 / c0  # (c0^2 - s0^2) / c0, exact without cancellation
    terms = [
        # (log scale, a, a' - sigma a, a'' - 2 sigma a' + sigma^2 a,
        #  lP' + sigma, lP'')
        (odd_cosh[0], 1.0, 0.0, 0.0, odd_cosh[1], odd_cosh[2]),
        (odd_sinh[0], 1.0, 0.0, 0.0, odd_sinh[1], odd_sinh[2]),
        (
            abs(y0) + even_cosh[0],
            c0,
            0.0,
            dy0 * dy0 * quad + d2y0 * s0,
            even_cosh[1] + sigma,
            even_cosh[2],
        ),
        (
            abs(y0) + even_sinh[0],
            s0,
            dy0 * quad,
            -dy0 * dy0 * s0 * quad / c0 + d2y0 * c0,
            even_sinh[1] + sigma,
            even_sinh[2],
        ),
    ]
    top = max(t[0] for t in terms)
    w = [math.exp(t[0] - top) for t in terms]
    total = sum(wi * t[1] for wi, t in zip(w, terms, strict=True))
    mu = sum(wi * (t[2] + t[1] * t[4]) for wi, t in zip(w, terms, strict=True)) / total
    # (ln S)'' = S''/S - mu^2, expanded about mu so that the O(N^2) parts cancel
    # analytically rather than numerically.
    curvature = 0.0
    for wi, (_, a, da, d2a, dl, d2l) in zip(w, terms, strict=True):
        delta = dl - mu
        curvature += wi * (d2a + 2.0 * da * delta + a * (delta * delta + d2l))
    curvature /= total

    log_two_sinh = x + math.log1p(-math.exp(-2.0 * x))
    log_z = -_LN2 + 0.5 * n_sites * log_two_sinh + top + math.log(total)
    d_log_z = n_sites * ch / sh + mu
    d2_log_z = -2.0 * n_sites / sh / sh + curvature
    return log_z, d_log_z, d2_log_z


def kaufman(L: int, temperature: float, coupling: float = 1.0) -> KaufmanResult:
    """Kaufman's exact solution of the periodic ``L x L`` square lattice, h = 0.

    Evaluates (Kaufman 1949)::

        Z = 1/2 (2 sinh 2K)^{L^2/2} [ prod_r 2 cosh(L g_{2r+1} / 2)
                                    + prod_r 2 sinh(L g_{2r+1} / 2)
                                    + prod_r 2 cosh(L g_{2r} / 2)
                                    + prod_r 2 sinh(L g_{2r} / 2) ],

    ``r = 0 .. L-1``, ``K = |J| / T``, with ``cosh g_q = cosh 2K coth 2K -
    cos(pi q / L)`` for ``q != 0`` (``g_q > 0``) and the *signed*
    ``g_0 = 2K + ln tanh K``, which is positive below ``T_c`` and negative above
    it (zero at ``T_c``).  Taking ``g_0 = arccosh(...) >= 0`` instead is wrong
    above ``T_c``.  Everything is evaluated in logarithms, so large ``L``
    (hundreds) is fine.  Energy and specific heat come from analytic first and
    second derivatives of ``ln Z`` with respect to ``K``.

    Parameters
    ----------
    L : int
        Linear size, ``2 <= L <= MAX_KAUFMAN_SIDE`` (10^6; cost is O(L)).
        ``L = 2`` reproduces the doubled-bond convention
        of this module (all 8 bonds of the periodic 2 x 2 lattice counted, so
        ``z = 4``), because Kaufman's row transfer matrix itself closes every
        ring of length L with a wrapping bond.  Odd ``L`` is accepted for
        ``J >= 0`` (the formula holds for any L; checked against enumeration
        for L = 3 and 5) but not for ``J < 0``, where the odd periodic lattice
        is frustrated and the formula does not apply.
    temperature : float
        ``T > 0`` (``k_B = 1``), energy units.
    coupling : float, optional
        ``J``, any finite sign for even ``L``.  For ``J < 0`` the result equals
        that of ``|J|`` (sublattice gauge symmetry of the even periodic
        lattice).

    Returns
    -------
    KaufmanResult
        ``ln Z``, free energy, energy and specific heat (per spin).

    Raises
    ------
    ValueError
        If ``L`` is not an integer in ``2..MAX_KAUFMAN_SIDE``, ``L`` is odd
        while ``J < 0``, the
        temperature is not finite and positive, or the coupling is not finite.

    Notes
    -----
    Accuracy (relative, double precision): ``ln Z`` ~1e-16 and energy
    <~5e-14 at all temperatures; specific heat <~1e-13 for ``T >= 0.5 |J|``
    and ``L <= 256`` (checked against full enumeration for L = 2, 4 and an
    extended-precision evaluation of the same formulas up to L = 256).  Below
    that the specific heat is ``O(e^{-8K})`` while individual terms are
    ``O(e^{-4K})``, so its relative error grows like ``1e-16 e^{4K}``
    (~3e-9 at ``T = 0.3 |J|``; the absolute error stays < 1e-16).  For
    ``|J|/T > 300`` the ground-state values ``ln Z = 2 N K + ln 2``,
    ``e = -2|J|``, ``C = 0`` are returned; the neglected terms are
    ``O(e^{-2400})``.
    """
    L = _check_int("L", L, 2, MAX_KAUFMAN_SIDE)
    t = _check_temperature(temperature)
    signed_j = _check_real("coupling", coupling)
    if L % 2 and signed_j < 0.0:
        raise ValueError(
            f"L must be even when coupling < 0 (frustrated odd lattice), got L={L}"
        )
    j = abs(signed_j)
    n_sites = L * L
    k = j / t
    if k == 0.0:
        log_z, d_log_z, d2_log_z = n_sites * _LN2, 0.0, 0.0
    elif k > _KAUFMAN_MAX_K:
        log_z, d_log_z, d2_log_z = 2.0 * n_sites * k + _LN2, 2.0 * n_sites, 0.0
    else:
        log_z, d_log_z, d2_log_z = _kaufman_log_z(L, k)
    return KaufmanResult(
        L=L,
        temperature=t,
        coupling=float(coupling),
        log_partition_function=log_z,
        free_energy=-t * log_z / n_sites,
        energy=-j * d_log_z / n_sites,
        specific_heat=k * k * d2_log_z / n_sites,
    )


# ---------------------------------------------------------------------------
# Onsager: infinite square lattice
# ---------------------------------------------------------------------------


def critical_temperature_square(coupling: float = 1.0) -> float:
    """Critical temperature of the square-lattice Ising model.

    Parameters
    ----------
    coupling : float, optional
        ``J``, nonzero; the Neel temperature of the antiferromagnet (``J < 0``)
        equals the Curie temperature of ``|J|``.

    Returns
    -------
    float
        ``T_c = 2 |J| / ln(1 + sqrt 2) ~= 2.269185 |J|``.

    Raises
    ------
    ValueError
        If ``coupling`` is zero or not finite.
    """
    j = abs(_check_nonzero_coupling(coupling))
    return 2.0 * j / math.log1p(math.sqrt(2.0))


def _as_output(values: np.ndarray) -> float | np.ndarray:
    return float(values) if values.ndim == 0 else values


def _onsager_parts(
    temperature: npt.ArrayLike, coupling: float
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, np.ndarray]:
    """K, |J|, coth 2K, k'' = 2 tanh^2 2K - 1 and delta = 1 - k'' = 2 sech^2 2K."""
    t = _check_temperature_array(temperature)
    j = abs(_check_nonzero_coupling(coupling))
    k = j / t
    x = 2.0 * k
    q = np.exp(-2.0 * x)
    delta = 8.0 * q / (1.0 + q) ** 2  # 2 sech^2(2K), no overflow at large K
    # Near T_c, k'' = (sinh 2K - 1)(sinh 2K + 1) / cosh^2 2K is exact to rounding
    # (it vanishes exactly where sinh 2K rounds to 1); far below T_c, 1 - delta
    # is just as accurate and does not overflow.
    xs = np.minimum(x, 20.0)
    sh = np.sinh(xs)
    k_signed = np.where(
        x < 20.0, (sh - 1.0) * (sh + 1.0) / np.cosh(xs) ** 2, 1.0 - delta
    )
    # NumPy's sinh may round sinh(2 K_c) to 1 - 2^-53 instead of 1 (its own SIMD
    # code, not the C library's): a k'' within a few rounding errors of zero is
    # the critical point itself.
    k_signed = np.where(
        np.abs(k_signed) <= 4.0 * np.finfo(np.float64).eps, 0.0, k_signed
    )
    coth = 1.0 / np.tanh(x)
    return k, j, coth, k_signed, delta


def _onsager_bracket_series(m: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """(2/pi) [2K - 2E - delta (pi/2 + (1 - delta) K)] for m = delta (2 - delta).

    With K = (pi/2) sum a_n m^n and E = (pi/2) sum b_n m^n (a_n the squared
    central binomial ratios, b_n = -a_n / (2n - 1)) the n = 0, 1 terms cancel
    exactly, leaving sum_{n>=2} 2 (a_n - b_n) m^n - delta (1 - delta)
    sum_{n>=1} a_n m^n.  Used for m < 0.3, where 40 terms reach 1e-21.
    """
    m = np.where(m < _ONSAGER_SERIES_M, m, 0.0)
    a_n = 0.25  # a_1
    power = m.copy()  # m^1
    total = -delta * (1.0 - delta) * a_n * power
    for n in range(2, 41):
        a_n *= ((2.0 * n - 1.0) / (2.0 * n)) ** 2
        power = power * m
        b_n = -a_n / (2.0 * n - 1.0)
        total = total + (2.0 * (a_n - b_n) - delta * (1.0 - delta) * a_n) * power
    return total


def onsager_energy(
    temperature: npt.ArrayLike, coupling: float = 1.0
) -> float | np.ndarray:
    """Energy per spin of the infinite square lattice at zero field (Onsager).

    ``e = -J coth 2K [1 + (2/pi) (2 tanh^2 2K - 1) K(kappa)]`` with ``K = J/T``,
    ``kappa = 2 sinh 2K / cosh^2 2K`` and ``K(kappa)`` the complete elliptic
    integral of the first kind of modulus ``kappa`` (parameter ``m = kappa^2``).

    Parameters
    ----------
    temperature : array_like
        ``T > 0`` (``k_B = 1``), energy units; scalars or arrays.
    coupling : float, optional
        ``J``, nonzero; the energy depends on ``|J|`` only.

    Returns
    -------
    float or numpy.ndarray
        Energy per spin in units of ``J``'s units; ``-sqrt(2) |J|`` at ``T_c``.

    Raises
    ------
    ValueError
        If a temperature is not finite and positive or ``coupling`` is zero or
        not finite.
    """
    _, j, coth, k_signed, _ = _onsager_parts(temperature, coupling)
    # 1 - kappa^2 = k''^2 exactly; ellipkm1 takes it directly, which keeps the
    # logarithmic singularity at T_c accurate.
    one_minus_m = k_signed * k_signed
    with np.errstate(invalid="ignore", divide="ignore"):
        elliptic = np.where(one_minus_m > 0.0, k_signed * ellipkm1(one_minus_m), 0.0)
    return _as_output(-j * coth * (1.0 + (2.0 / np.pi) * elliptic))


def onsager_specific_heat(
    temperature: npt.ArrayLike, coupling: float = 1.0
) -> float | np.ndarray:
    """Specific heat per spin of the infinite square lattice at zero field.

    ``C = (2/pi) (K coth 2K)^2 {2 K(kappa) - 2 E(kappa) - (1 - k'')
    [pi/2 + k'' K(kappa)]}`` with ``k'' = 2 tanh^2 2K - 1``: the temperature
    derivative of :func:`onsager_energy`.  ``E`` is the complete elliptic
    integral of the second kind; the other symbols are as there.

    Parameters
    ----------
    temperature : array_like
        ``T > 0`` (``k_B = 1``); scalars or arrays.
    coupling : float, optional
        ``J``, nonzero; only ``|J|`` matters.

    Returns
    -------
    float or numpy.ndarray
        Dimensionless specific heat per spin; ``inf`` at ``T_c`` (to within a few ulp)
        (logarithmic divergence).

    Notes
    -----
    For ``T < ~1.03 |J|`` (``kappa^2 < 0.3``) the closed form loses relative
    accuracy, since the result is ``O(e^{-8K})`` while its terms are
    ``O(e^{-4K})``; there the bracket is summed from the hypergeometric series
    of ``K`` and ``E`` with the cancelling terms removed analytically.  The
    result agrees with :func:`kaufman` at ``L = 128`` to ~1e-12 relative for
    ``0.4 <= T/|J| <= 1.5`` and stays positive down to ``T -> 0``.

    Raises
    ------
    ValueError
        If a temperature is not finite and positive or ``coupling`` is zero or
        not finite.
    """
    k, _, coth, k_signed, delta = _onsager_parts(temperature, coupling)
    one_minus_m = k_signed * k_signed
    m = delta * (2.0 - delta)  # kappa^2
    with np.errstate(invalid="ignore", divide="ignore"):
        big_k = ellipkm1(one_minus_m)
        big_e = ellipe(m)
        bracket = (2.0 / np.pi) * (
            2.0 * big_k - 2.0 * big_e - delta * (0.5 * np.pi + k_signed * big_k)
        )
        # Below T_c the bracket is O(delta^2) ~ e^{-8K} built from O(delta)
        # terms; there it is summed from the series of K and E in m instead,
        # with the O(1) and O(delta) parts cancelled analytically.
        low = m < _ONSAGER_SERIES_M
        if np.any(low):
            bracket = np.where(low, _onsager_bracket_series(m, delta), bracket)
        heat = (k * coth) ** 2 * bracket
        heat = np.where(one_minus_m > 0.0, heat, np.inf)
    return _as_output(heat)


def onsager_magnetisation(
    temperature: npt.ArrayLike, coupling: float = 1.0
) -> float | np.ndarray:
    """Spontaneous magnetisation of the infinite square lattice (Onsager-Yang).

    ``m = (1 - sinh(2J/T)^-4)^(1/8)`` for ``T < T_c`` and 0 otherwise.

    Parameters
    ----------
    temperature : array_like
        ``T > 0`` (``k_B = 1``); scalars or arrays.
    coupling : float, optional
        Ferromagnetic coupling ``J > 0``.  (For ``J < 0`` the same expression
        with ``|J|`` is the spontaneous *staggered* magnetisation; call this
        function with ``-J``.)

    Returns
    -------
    float or numpy.ndarray
        Magnetisation per spin in ``[0, 1)``.

    Raises
    ------
    ValueError
        If a temperature is not finite and positive or ``coupling`` is not
        finite and positive.
    """
    t = _check_temperature_array(temperature)
    j = _check_real("coupling", coupling)
    if j <= 0.0:
        raise ValueError(f"coupling must be > 0 (ferromagnet), got {coupling!r}")
    with np.errstate(over="ignore"):
        x = np.sinh(2.0 * j / t) ** -4.0
        m = np.where(x < 1.0, np.abs(1.0 - x) ** 0.125, 0.0)
    return _as_output(m)


# ---------------------------------------------------------------------------
# One-dimensional chain
# ---------------------------------------------------------------------------


def _log_cosh(a: float) -> float:
    return abs(a) + math.log1p(math.exp(-2.0 * abs(a))) - _LN2


def _log_abs_sinh(a: float) -> float:
    if a == 0.0:
        return -math.inf
    # -expm1 keeps ln(1 - e^{-2|a|}) accurate down to |a| ~ 1e-300.
    return abs(a) + math.log(-math.expm1(-2.0 * abs(a))) - _LN2


def chain_infinite(
    temperature: float, coupling: float = 1.0, field: float = 0.0
) -> ChainInfiniteResult:
    """Thermodynamic limit of the 1D Ising chain ``H = -J sum s_i s_{i+1} - h sum s_i``.

    From the largest eigenvalue
    ``lambda_+ = e^K [cosh a + sqrt(sinh^2 a + e^{-4K})]``, ``K = J/T``,
    ``a = h/T``:  ``m = sinh a / sqrt(sinh^2 a + e^{-4K})``, the energy per
    spin ``-d ln lambda_+ / d beta``, ``chi = d m / d h`` and ``C = d e / d T``,
    all in closed form (written in logarithms so that large ``|J|/T`` or
    ``|h|/T`` neither overflow nor cancel).

    Parameters
    ----------
    temperature : float
        ``T > 0`` (``k_B = 1``), energy units.
    coupling : float, optional
        ``J``, any finite sign.
    field : float, optional
        Uniform field ``h``, any finite value.

    Returns
    -------
    ChainInfiniteResult
        Free energy, energy, magnetisation, susceptibility and specific heat per
        spin, and the correlation length in lattice spacings.

    Raises
    ------
    ValueError
        If ``temperature`` is not finite and positive or ``coupling`` or
        ``field`` is not finite.
    """
    t = _check_temperature(temperature)
    j = _check_real("coupling", coupling)
    h = _check_real("field", field)
    beta = 1.0 / t
    k, a = beta * j, beta * h
    log_sinh, log_cosh = _log_abs_sinh(a), _log_cosh(a)
    # rho = ln R, R = sqrt(sinh^2 a + e^{-4K}) = (lambda_+ - lambda_-) e^{-K} / 2
    rho = 0.5 * float(np.logaddexp(2.0 * log_sinh, -4.0 * k))
    m = math.copysign(math.exp(log_sinh - rho), a) if a != 0.0 else 0.0
    w = math.exp(-4.0 * k - 2.0 * rho)  # = 1 - m^2 without cancellation
    log_nu = log_cosh - rho  # nu = cosh a / R
    inv_1p_nu = float(expit(-log_nu))  # 1 / (1 + nu)
    nu_over_1p_nu2 = float(expit(log_nu) * expit(-log_nu))  # nu / (1 + nu)^2
    one_minus_nu_over_1p_nu = -math.tanh(0.5 * log_nu)  # (1 - nu) / (1 + nu)
    log_sum = float(np.logaddexp(log_cosh, rho))  # ln(cosh a + R)

    energy = -j - h * m + 2.0 * j * w * inv_1p_nu
    # chi = beta cosh a e^{-4K} / R^3 = beta nu w; at h = 0 it is beta e^{2K},
    # which only overflows where the true value exceeds double range anyway.
    log_nu_w = log_nu - 4.0 * k - 2.0 * rho
    nu_w = math.exp(log_nu_w) if log_nu_w < 709.0 else math.inf
    susceptibility = beta * nu_w
    h_nu_w = h * nu_w if h != 0.0 else 0.0  # avoid 0 * inf at zero field
    dm = h_nu_w + 2.0 * j * m * w
    dw = w * (-4.0 * j * m * m) - 2.0 * m * h_nu_w
    dnu_term = w * (
        h * m * one_minus_nu_over_1p_nu + 2.0 * j * w * nu_over_1p_nu2
    )  # w * (d nu / d beta) / (1 + nu)^2
    d_energy = -h * dm + 2.0 * j * (dw * inv_1p_nu - dnu_term)
    specific_heat = -beta * beta * d_energy

    # |lambda_- / lambda_+| = |1 - e^{-4K}| / (cosh a + R)^2
    if k == 0.0:
        log_gap = -math.inf
    else:
        log_gap = max(-4.0 * k, 0.0) + math.log(-math.expm1(-4.0 * abs(k)))
    log_ratio = log_gap - 2.0 * log_sum
    correlation_length = -1.0 / log_ratio if log_ratio != 0.0 else math.inf
    return ChainInfiniteResult(
        free_energy=-t * (k + log_sum),
        energy=energy,
        magnetisation=m,
        susceptibility=susceptibility,
        specific_heat=specific_heat,
        correlation_length=correlation_length,
    )


def _jet_series(x: np.ndarray, order: int) -> np.ndarray:
    """Taylor coefficients of exp(eps * x) up to eps^order, stacked on axis 0."""
    return np.stack([x**n / math.factorial(n) for n in range(order + 1)])


def _jet_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Truncated product of matrix- (or vector-) valued power series in eps."""
    out = np.zeros((a.shape[0], *(a[0] @ b[0]).shape))
    for n in range(a.shape[0]):
        for p in range(n + 1):
            out[n] += a[p] @ b[n - p]
    return out


def _jet_normalise(a: np.ndarray) -> tuple[np.ndarray, float]:
    scale = float(np.abs(a[0]).max())
    return a / scale, math.log(scale)


def _jet_power(a: np.ndarray, exponent: int) -> tuple[np.ndarray, float]:
    """a^exponent by binary powering; returns (rescaled series, log scale)."""
    result: np.ndarray | None = None
    log_scale = 0.0
    base, base_log = _jet_normalise(a)
    while exponent:
        if exponent & 1:
            if result is None:
                result, log_scale = base.copy(), base_log
            else:
                result, s = _jet_normalise(_jet_mul(result, base))
                log_scale += s + base_log
        exponent >>= 1
        if exponent:
            base, s = _jet_normalise(_jet_mul(base, base))
            base_log = 2.0 * base_log + s
    assert result is not None
    return result, log_scale


def _chain_generating(
    n: int,
    beta: float,
    bond_weight: np.ndarray,
    bond_source: np.ndarray,
    end_weight: np.ndarray,
    end_source: np.ndarray,
    boundary: str,
    order: int,
) -> tuple[float, np.ndarray]:
    """ln Z and the Taylor coefficients ``Z_n / Z`` of ``Z(eps) / Z``.

    ``Z(eps) = sum_states exp(beta * W(s) + eps * X(s))`` where the log-weight W
    and the source X are sums of per-bond terms (2x2 arrays) plus, for the
    open chain, half-field end terms (length-2 arrays).
    """
    base = beta * bond_weight
    top = float(base.max())
    matrix = np.exp(base - top)[None] * _jet_series(bond_source, order)
    if boundary == "periodic":
        power, log_scale = _jet_power(matrix, n)
        series = np.trace(power, axis1=1, axis2=2)
        log_scale += n * top
    else:
        power, log_scale = _jet_power(matrix, n - 1)
        log_scale += (n - 1) * top
        end_base = beta * end_weight
        end_top = float(end_base.max())
        end = np.exp(end_base - end_top)[None] * _jet_series(end_source, order)
        series = _jet_mul(_jet_mul(end[:, None, :], power), end[:, :, None])[:, 0, 0]
        log_scale += 2.0 * end_top
    log_z = log_scale + math.log(series[0])
    return log_z, series / series[0]


def chain_finite(
    n: int,
    temperature: float,
    coupling: float = 1.0,
    field: float = 0.0,
    boundary: str = "periodic",
) -> ChainFiniteResult:
    """Exact averages of a finite Ising chain of ``n`` spins (transfer matrix).

    ``H = -J sum_bonds s_i s_{i+1} - h sum_i s_i`` with ``n`` bonds on the ring
    (``boundary="periodic"``; ``n = 2`` gives the doubled bond, as in
    :func:`enumerate_lattice`) or ``n - 1`` bonds (``"open"``).

    ``Z = tr T^n`` (ring) or ``v^T T^(n-1) v`` (open), with
    ``T_{ss'} = exp(beta (J s s' + h (s + s') / 2))`` and
    ``v_s = exp(beta h s / 2)``.  Moments are the Taylor coefficients of the
    same products with a source ``exp(eps X)`` inserted, propagated as truncated
    power series in ``eps`` (order 2 for the energy, 4 for the magnetisation),
    with ``X`` shifted by the thermodynamic-limit value so that variances do not
    suffer ``<x^2> - <x>^2`` cancellation.  Cost is ``O(log n)``.

    Parameters
    ----------
    n : int
        Number of spins, ``>= 2``.
    temperature : float
        ``T > 0`` (``k_B = 1``), energy units.
    coupling : float, optional
        ``J``, any finite sign (odd rings with ``J < 0`` are frustrated).
    field : float, optional
        Uniform field ``h``, finite.
    boundary : {"periodic", "open"}, optional
        Ring or open chain.

    Returns
    -------
    ChainFiniteResult
        Per-spin energy moments, specific heat, magnetisation moments, Binder
        cumulant, susceptibilities and free energy.

    Raises
    ------
    ValueError
        For ``n < 2``, a non-positive or non-finite temperature, a non-finite
        coupling or field, ``(|J| + |h|) / T > 350`` (matrix entries would
        underflow), or an unknown boundary.
    """
    n = _check_int("n", n, 2)
    t = _check_temperature(temperature)
    j = _check_real("coupling", coupling)
    h = _check_real("field", field)
    boundary = _check_boundary(boundary)
    if (abs(j) + abs(h)) / t > _CHAIN_MAX_RATIO:
        # Transfer-matrix entries span e^{2(|J| + |h|)/T}; beyond ~e^{700}
        # the smallest underflow, which breaks e.g. the frustrated odd ring.
        raise ValueError(
            f"temperature too low: (|coupling| + |field|) / temperature must be "
            f"<= {_CHAIN_MAX_RATIO:g}, got {(abs(j) + abs(h)) / t:g}"
        )
    beta = 1.0 / t
    spins = np.array([1.0, -1.0])
    pair = np.outer(spins, spins)
    half_sum = 0.5 * (spins[:, None] + spins[None, :])
    bond_weight = j * pair + h * half_sum  # -(energy) per bond, field split
    end_weight = 0.5 * h * spins
    n_bonds = n if boundary == "periodic" else n - 1

    reference = chain_infinite(t, j, h)
    # Energy: source -(E - E_ref), E_ref = n_bonds * e_inf.
    log_z, e_series = _chain_generating(
        n,
        beta,
        bond_weight,
        bond_weight + reference.energy,
        end_weight,
        end_weight,
        boundary,
        order=2,
    )
    e_ref = n_bonds * reference.energy
    shift_e1 = -e_series[1]
    shift_e2 = 2.0 * e_series[2]
    mean_energy = e_ref + shift_e1
    var_energy = max(shift_e2 - shift_e1 * shift_e1, 0.0)

    # Magnetisation: source M - M_ref, M_ref = n_bonds * m_inf.
    _, m_series = _chain_generating(
        n,
        beta,
        bond_weight,
        half_sum - reference.magnetisation,
        end_weight,
        0.5 * spins,
        boundary,
        order=4,
    )
    m_ref = n_bonds * reference.magnetisation
    central = [math.factorial(p) * m_series[p] for p in range(5)]  # <(M-M_ref)^p>
    raw = [
        sum(math.comb(p, q) * m_ref ** (p - q) * central[q] for q in range(p + 1))
        for p in range(5)
    ]
    var_m_total = max(central[2] - central[1] ** 2, 0.0)
    m1, m2, m4 = float(raw[1] / n), float(raw[2] / n**2), float(raw[4] / n**4)
    e1 = float(mean_energy / n)
    var_e = float(var_energy / n**2)
    return ChainFiniteResult(
        free_energy=-t * log_z / n,
        energy=e1,
        energy2=var_e + e1 * e1,
        specific_heat=beta * beta * n * var_e,
        magnetisation=m1,
        magnetisation2=m2,
        magnetisation4=m4,
        binder=_binder(m2, m4),
        susceptibility_connected=float(beta * var_m_total / n),
        susceptibility_second_moment=beta * n * m2,
    )


# ---------------------------------------------------------------------------
# Curie-Weiss: complete graph
# ---------------------------------------------------------------------------


def curie_weiss(
    n: int, temperature: float, coupling: float = 1.0, field: float = 0.0
) -> ExactAverages:
    """Exact averages of the Curie-Weiss (complete-graph) model of ``n`` spins.

    ``H = -(J/N) sum_{i<j} s_i s_j - h sum_i s_i = -(J/N)(M^2 - N)/2 - h M``
    depends only on ``M = N - 2k``, so ``Z = sum_k binom(N, k) e^{-beta E_k}``
    over ``N + 1`` sectors, with log-binomials from ``gammaln`` and
    log-sum-exp weights.

    Parameters
    ----------
    n : int
        Number of spins, ``1 <= n <= MAX_CURIE_WEISS_SITES`` (10^7).
    temperature : float
        ``T > 0`` (``k_B = 1``), energy units; the mean-field critical
        temperature is ``T = J``.
    coupling : float, optional
        ``J``, any finite sign.
    field : float, optional
        Uniform field ``h``, finite.

    Returns
    -------
    ExactAverages
        Per-spin averages.  The complete graph has no sublattices, so
        ``staggered_magnetisation_abs`` and ``staggered_magnetisation2`` are
        NaN.

    Raises
    ------
    ValueError
        If ``n`` is out of range, the temperature is not finite and positive,
        or ``coupling`` or ``field`` is not finite.
    """
    n = _check_int("n", n, 1, MAX_CURIE_WEISS_SITES)
    beta = 1.0 / _check_temperature(temperature)
    j = _check_real("coupling", coupling)
    h = _check_real("field", field)
    k = np.arange(n + 1, dtype=float)
    big_m = n - 2.0 * k
    log_mult = gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)
    energy = -(j / n) * 0.5 * (big_m * big_m - n) - h * big_m
    log_w = log_mult - beta * energy
    log_z = float(logsumexp(log_w))
    p = np.exp(log_w - log_z)

    e = energy / n
    m = big_m / n
    mean_e = float(p @ e)
    mean_m = float(p @ m)
    abs_m = float(p @ np.abs(m))
    m2 = float(p @ (m * m))
    return _make_averages(
        n_sites=n,
        beta=beta,
        log_z=log_z,
        energy=mean_e,
        var_energy=float(p @ (e - mean_e) ** 2),
        magnetisation=mean_m,
        var_magnetisation=float(p @ (m - mean_m) ** 2),
        abs_magnetisation=abs_m,
        var_abs_magnetisation=float(p @ (np.abs(m) - abs_m) ** 2),
        magnetisation2=m2,
        magnetisation4=float(p @ m**4),
        staggered_abs=math.nan,
        staggered2=math.nan,
    )
