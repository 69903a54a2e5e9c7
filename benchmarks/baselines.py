"""Reference Ising Metropolis kernels that neurophase is benchmarked against.

Every kernel here simulates the same model as ``neurophase``: the
nearest-neighbour Ising ferromagnet ``H = -J sum_<ij> s_i s_j`` (``J = 1``, no
field) on a periodic ``L x L`` square lattice, one Metropolis attempt per site
and sweep. Each is wrapped in a small adapter with one interface:

``run(n_sweeps, temperature) -> Work``
    Sweep the lattice and return the work done and the time of the hot call
    alone (setup and measurement are never timed).
``energy() -> float``
    Energy per spin of the current configuration (each bond counted once).
``set_cold()``
    Put every spin up (the start of the correctness check).

The kernels:

* :class:`NumpyCheckerboard` - vectorised NumPy: the two checkerboard
  sublattices are stored as separate ``(L, L/2)`` int8 arrays so that a
  half-sweep touches only the sites it updates; randoms come from
  ``numpy.random.Generator(Philox)`` as raw 32-bit words compared against
  integer acceptance thresholds.
* :class:`NumbaSequential` - ``@njit`` typewriter-order sweep with an inline
  SplitMix64 generator and a precomputed threshold table (numba optional).
* :class:`NumbaCheckerboard` - the same update on the checkerboard with the
  rows of one colour distributed over threads by ``prange``; every row draws
  from its own counter-keyed SplitMix64 stream, so the result does not depend
  on the thread count.
* :class:`McisingMetropolis`, :class:`McisingCluster` - the ``mcising``
  package (Rust core) through its sweep-level ``IsingSimulation`` class.
* :class:`IsingeneratorMetropolis` - the ``isingenerator`` package (C++ and
  OpenMP) through ``run_single_temperature`` with zero measurement blocks.

:func:`check_energy` runs any adapter from a cold start at ``T = 2`` and
compares the mean energy per spin with Onsager's exact value: a fast wrong
kernel is worth nothing as a baseline.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "BaselineUnavailable",
    "EnergyCheck",
    "IsingeneratorMetropolis",
    "Kernel",
    "McisingCluster",
    "McisingMetropolis",
    "NumbaCheckerboard",
    "NumbaSequential",
    "NumpyCheckerboard",
    "Work",
    "check_energy",
    "lattice_energy",
    "numba_status",
    "onsager_energy",
    "package_version",
]

T_CRITICAL = 2.0 / math.log1p(math.sqrt(2.0))
"""Onsager's critical temperature of the square lattice, ``2 / ln(1 + sqrt 2)``."""


class BaselineUnavailable(RuntimeError):
    """A baseline cannot run here (optional package missing, unsupported size)."""


@dataclass
class Work:
    """Work done by one timed call of a kernel.

    Attributes
    ----------
    seconds : float
        Wall time of the sweeping call only.
    sweeps : int
        Sweeps requested.
    attempts : int
        Single-spin update attempts (``sweeps * N`` for the local updates).
    flips : int or None
        Spins flipped, when the kernel reports it.
    clusters : int or None
        Clusters built (cluster algorithms).
    threads_used : int
        Threads the kernel actually ran on.
    engine_seconds : float or None
        The implementation's own timing of the same call, when it reports one.
    team_sweeps : int or None
        Sweeps that ran on the whole thread team, when the implementation may
        run some on fewer threads (neurophase under load).
    """

    seconds: float
    sweeps: int
    attempts: int
    flips: int | None = None
    clusters: int | None = None
    threads_used: int = 1
    engine_seconds: float | None = None
    team_sweeps: int | None = None


class Kernel(Protocol):
    """The adapter interface every benchmarked implementation provides."""

    name: str
    size: int

    def run(self, n_sweeps: int, temperature: float) -> Work:
        """Sweep ``n_sweeps`` times and return the work and its time."""
        ...

    def energy(self) -> float:
        """Energy per spin of the current configuration."""
        ...

    def set_cold(self) -> None:
        """Set every spin to +1."""
        ...


# Physics helpers ---------------------------------------------------------------


def _complete_elliptic_k(k: float) -> float:
    """Complete elliptic integral of the first kind K(k) (modulus k) by the AGM."""
    a, b = 1.0, math.sqrt((1.0 - k) * (1.0 + k))
    for _ in range(64):
        if abs(a - b) <= 1e-16 * a:
            break
        a, b = 0.5 * (a + b), math.sqrt(a * b)
    return math.pi / (2.0 * a)


def onsager_energy(temperature: float) -> float:
    """Exact energy per spin of the infinite square-lattice Ising model (J = 1).

    ``u = -coth(2b) [1 + (2/pi) (2 tanh^2(2b) - 1) K(k)]`` with
    ``k = 2 sinh(2b) / cosh^2(2b)`` and ``b = 1/T``; ``u(2) = -1.7456``.
    """
    if not temperature > 0.0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    two_beta = 2.0 / temperature
    k = 2.0 * math.sinh(two_beta) / math.cosh(two_beta) ** 2
    if abs(k - 1.0) < 1e-12:  # at T_c the K-term carries a zero factor
        return -math.sqrt(2.0)
    t = math.tanh(two_beta)
    kk = _complete_elliptic_k(k)
    return -(1.0 / t) * (1.0 + (2.0 / math.pi) * (2.0 * t * t - 1.0) * kk)


def lattice_energy(spins: npt.NDArray[np.integer[Any]]) -> float:
    """Energy per spin of a periodic 2D configuration of +-1 spins (J = 1)."""
    s = np.asarray(spins, dtype=np.int64)
    bonds = s * (np.roll(s, -1, axis=0) + np.roll(s, -1, axis=1))
    return -float(bonds.sum()) / s.size


def acceptance_probabilities(temperature: float) -> tuple[float, float]:
    """Metropolis acceptance of the two uphill moves, ``dE = 4`` and ``dE = 8``."""
    return math.exp(-4.0 / temperature), math.exp(-8.0 / temperature)


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None when it is not installed."""
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8
        return None
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _need_even(size: int, who: str) -> None:
    if size < 4 or size % 2:
        raise BaselineUnavailable(
            f"{who} needs an even lattice side >= 4 (two closed checkerboard "
            f"sublattices), got {size}"
        )


# NumPy checkerboard -------------------------------------------------------------


class NumpyCheckerboard:
    """Vectorised checkerboard Metropolis in NumPy (one thread).

    Storage: site ``(i, 2j + (i % 2))`` is ``black[i, j]`` and site
    ``(i, 2j + 1 - (i % 2))`` is ``white[i, j]``. A black site's neighbours are
    ``white[i +- 1, j]``, ``white[i, j]`` and ``white[i, j - 1]`` (even rows) or
    ``white[i, j + 1]`` (odd rows); a white site's are the mirror image. So a
    half-sweep works on ``N/2`` contiguous bytes with slices only (no masks, no
    strided gathers), and the acceptance test compares raw 32-bit Philox words
    with integer thresholds ``floor(p * 2**32)`` (no float conversion, no
    ``exp`` in the loop). ``k = s * h`` takes the values -4..4;
    ``k <= 0`` is always accepted, ``k = 2`` with ``p(dE=4)`` and ``k = 4``
    with ``p(dE=8)``, and since ``p(dE=8) < p(dE=4)`` the test is
    ``(k <= 0) | ((k <= 2) & (u < t4)) | (u < t8)``.
    """

    name = "numpy checkerboard"

    def __init__(self, size: int, *, seed: int = 1, start: str = "hot") -> None:
        _need_even(size, "the NumPy checkerboard")
        self.size = size
        self.rng = np.random.Generator(np.random.Philox(seed))
        shape = (size, size // 2)
        self._n_half = size * size // 2
        if start == "cold":
            self.black = np.ones(shape, dtype=np.int8)
            self.white = np.ones(shape, dtype=np.int8)
        else:
            self.black = self._random_spins(shape)
            self.white = self._random_spins(shape)
        self._h = np.empty(shape, dtype=np.int8)
        self._flip = np.empty(shape, dtype=np.int8)
        self._acc = np.empty(shape, dtype=np.bool_)
        self._tmp = np.empty(shape, dtype=np.bool_)
        self._tmp2 = np.empty(shape, dtype=np.bool_)
        self._thresholds: tuple[float, np.uint32, np.uint32] | None = None

    def _random_spins(self, shape: tuple[int, int]) -> npt.NDArray[np.int8]:
        bits = self.rng.integers(0, 2, size=shape, dtype=np.int8)
        return (2 * bits - 1).astype(np.int8)

    def set_cold(self) -> None:
        """Set every spin to +1."""
        self.black.fill(1)
        self.white.fill(1)

    def _uint32_thresholds(self, temperature: float) -> tuple[np.uint32, np.uint32]:
        if self._thresholds is None or self._thresholds[0] != temperature:
            p4, p8 = acceptance_probabilities(temperature)
            t4 = np.uint32(min(int(p4 * 2.0**32), 2**32 - 1))
            t8 = np.uint32(min(int(p8 * 2.0**32), 2**32 - 1))
            self._thresholds = (temperature, t4, t8)
        return self._thresholds[1], self._thresholds[2]

    def _neighbour_sum(
        self, other: npt.NDArray[np.int8], minus_rows: slice, plus_rows: slice
    ) -> npt.NDArray[np.int8]:
        """Sum of the four neighbours (all in ``other``) of one sublattice."""
        h = self._h
        np.copyto(h, other)  # same column index, same row
        h[1:] += other[:-1]  # row above
        h[0] += other[-1]
        h[:-1] += other[1:]  # row below
        h[-1] += other[0]
        hm, om = h[minus_rows], other[minus_rows]  # column j - 1
        hm[:, 1:] += om[:, :-1]
        hm[:, 0] += om[:, -1]
        hp, op = h[plus_rows], other[plus_rows]  # column j + 1
        hp[:, :-1] += op[:, 1:]
        hp[:, -1] += op[:, 0]
        return h

    def _half_sweep(
        self,
        spins: npt.NDArray[np.int8],
        other: npt.NDArray[np.int8],
        minus_rows: slice,
        plus_rows: slice,
        t4: np.uint32,
        t8: np.uint32,
    ) -> int:
        k = self._neighbour_sum(other, minus_rows, plus_rows)
        np.multiply(k, spins, out=k)  # s * h in -4..4, dE = 2 s h
        u = self.rng.bit_generator.random_raw(self._n_half // 2).view(np.uint32)
        u = u.reshape(spins.shape)
        acc, tmp, tmp2 = self._acc, self._tmp, self._tmp2
        np.less(u, t8, out=acc)
        np.less(u, t4, out=tmp)
        np.less_equal(k, 2, out=tmp2)
        np.logical_or(acc, np.logical_and(tmp, tmp2, out=tmp), out=acc)
        np.logical_or(acc, np.less_equal(k, 0, out=tmp), out=acc)
        # s ^ -2 flips a +-1 int8 spin: 0x01 <-> 0xff.
        np.multiply(acc.view(np.int8), np.int8(-2), out=self._flip)
        np.bitwise_xor(spins, self._flip, out=spins)
        return int(np.count_nonzero(acc))

    def run(self, n_sweeps: int, temperature: float) -> Work:
        """Run ``n_sweeps`` full sweeps (black then white sublattice)."""
        t4, t8 = self._uint32_thresholds(temperature)
        even, odd = slice(0, None, 2), slice(1, None, 2)
        flips = 0
        start = time.perf_counter()
        for _ in range(n_sweeps):
            flips += self._half_sweep(self.black, self.white, even, odd, t4, t8)
            flips += self._half_sweep(self.white, self.black, odd, even, t4, t8)
        seconds = time.perf_counter() - start
        return Work(seconds, n_sweeps, n_sweeps * self.size * self.size, flips)

    def spins(self) -> npt.NDArray[np.int8]:
        """The configuration as an ``(L, L)`` array."""
        full = np.empty((self.size, self.size), dtype=np.int8)
        full[0::2, 0::2] = self.black[0::2]
        full[1::2, 1::2] = self.black[1::2]
        full[0::2, 1::2] = self.white[0::2]
        full[1::2, 0::2] = self.white[1::2]
        return full

    def energy(self) -> float:
        """Energy per spin (every bond joins one black and one white site)."""
        h = self._neighbour_sum(self.white, slice(0, None, 2), slice(1, None, 2))
        total = np.sum(self.black * h, dtype=np.int64)
        return -float(total) / (self.size * self.size)


# numba kernels ------------------------------------------------------------------

_NUMBA: dict[str, Any] = {}


def numba_status() -> tuple[bool, str]:
    """Whether numba can be imported, with its version or the reason it cannot."""
    if importlib.util.find_spec("numba") is None:
        return False, "numba is not installed (pip install numba, or neurophase[bench])"
    try:
        numba = importlib.import_module("numba")
    except Exception as exc:  # a broken install must not stop the other rows
        return False, f"numba failed to import: {exc}"
    return True, str(numba.__version__)


def _numba_kernels() -> dict[str, Any]:
    """Import (once, lazily) numba and the compiled kernels of ``numba_kernels``."""
    if _NUMBA:
        return _NUMBA
    ok, why = numba_status()
    if not ok:
        raise BaselineUnavailable(why)
    # Always the same module name, however this file was imported: numba's
    # on-disk cache records it, and a cache written under another name fails.
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    kernels = importlib.import_module("numba_kernels")
    _NUMBA.update(
        numba=importlib.import_module("numba"),
        sequential=kernels.sequential,
        checkerboard=kernels.checkerboard,
    )
    return _NUMBA


def _threshold_table(
    temperature: float, zero_move: float = 1.0
) -> npt.NDArray[np.uint64]:
    """53-bit integer thresholds indexed by ``k // 2`` for ``k = s h`` in {0, 2, 4}."""
    p4, p8 = acceptance_probabilities(temperature)
    scale = 2.0**53
    return np.array(
        [int(zero_move * scale), int(p4 * scale), int(p8 * scale)], dtype=np.uint64
    )


def _initial_spins(size: int, seed: int, start: str) -> npt.NDArray[np.int8]:
    if start == "cold":
        return np.ones((size, size), dtype=np.int8)
    rng = np.random.Generator(np.random.Philox(seed))
    return (2 * rng.integers(0, 2, size=(size, size), dtype=np.int8) - 1).astype(
        np.int8
    )


class NumbaSequential:
    """Typewriter-order single-thread Metropolis compiled by numba.

    ``zero_move`` is the acceptance of ``dE = 0`` moves: 1 is textbook
    Metropolis (no random number drawn), 0.5 the rule neurophase uses.
    """

    name = "numba sequential"

    def __init__(
        self, size: int, *, seed: int = 1, start: str = "hot", zero_move: float = 1.0
    ) -> None:
        if size < 3:
            raise BaselineUnavailable(f"lattice side must be >= 3, got {size}")
        if not 0.0 < zero_move <= 1.0:
            raise ValueError(f"zero_move must be in (0, 1], got {zero_move}")
        self._kernels = _numba_kernels()
        self.zero_move = zero_move
        self.size = size
        self.grid = _initial_spins(size, seed, start)
        start_counter = (int(seed) * 0x9E3779B97F4A7C15) % 2**64
        self._state = np.array([start_counter], dtype=np.uint64)

    def set_cold(self) -> None:
        """Set every spin to +1."""
        self.grid.fill(1)

    def run(self, n_sweeps: int, temperature: float) -> Work:
        """Run ``n_sweeps`` sequential sweeps."""
        table = _threshold_table(temperature, self.zero_move)
        start = time.perf_counter()
        flips = self._kernels["sequential"](
            self.grid, n_sweeps, table, self._state, self.zero_move < 1.0
        )
        seconds = time.perf_counter() - start
        return Work(seconds, n_sweeps, n_sweeps * self.size**2, int(flips))

    def energy(self) -> float:
        """Energy per spin."""
        return lattice_energy(self.grid)


class NumbaCheckerboard:
    """Checkerboard Metropolis parallelised over rows with numba ``prange``."""

    name = "numba checkerboard"

    def __init__(
        self, size: int, *, seed: int = 1, start: str = "hot", threads: int = 1
    ) -> None:
        _need_even(size, "the numba checkerboard")
        self._kernels = _numba_kernels()
        numba = self._kernels["numba"]
        if threads > numba.config.NUMBA_NUM_THREADS:
            raise BaselineUnavailable(
                f"numba was started with {numba.config.NUMBA_NUM_THREADS} threads, "
                f"{threads} requested (set NUMBA_NUM_THREADS)"
            )
        self.size = size
        self.threads = threads
        self.grid = _initial_spins(size, seed, start)
        self._key = np.uint64((int(seed) * 0xA0761D6478BD642F) % 2**64)
        self._passes = 0

    def set_cold(self) -> None:
        """Set every spin to +1."""
        self.grid.fill(1)

    def run(self, n_sweeps: int, temperature: float) -> Work:
        """Run ``n_sweeps`` checkerboard sweeps on ``threads`` numba threads."""
        numba = self._kernels["numba"]
        numba.set_num_threads(self.threads)
        table = _threshold_table(temperature)
        start = time.perf_counter()
        flips = self._kernels["checkerboard"](
            self.grid, n_sweeps, table, self._key, self._passes
        )
        seconds = time.perf_counter() - start
        self._passes += 2 * n_sweeps
        return Work(
            seconds,
            n_sweeps,
            n_sweeps * self.size**2,
            int(flips),
            threads_used=int(numba.get_num_threads()),
        )

    def energy(self) -> float:
        """Energy per spin."""
        return lattice_energy(self.grid)

    def threading_layer(self) -> str:
        """numba's threading layer (known after the first parallel call)."""
        try:
            return str(self._kernels["numba"].threading_layer())
        except ValueError:
            return "not initialised"


# Peer packages ------------------------------------------------------------------


def _import_peer(module: str, distribution: str) -> Any:
    if importlib.util.find_spec(module) is None:
        raise BaselineUnavailable(f"{distribution} is not installed")
    return importlib.import_module(module)


class McisingMetropolis:
    """mcising (Rust core) Metropolis: one sequential scan per sweep, one thread.

    Driven through ``mcising._core.IsingSimulation.sweep(n, temperature=T)``,
    the class the package documents for sweep-level control: it sweeps without
    measuring and returns ``(accepted, attempted, cluster_flips)``.
    """

    name = "mcising"
    algorithm = "metropolis"

    def __init__(self, size: int, *, seed: int = 1, start: str = "hot") -> None:
        core = _import_peer("mcising._core", "mcising")
        self.size = size
        # (L, J1, J2, J3, h, seed, algorithm, lattice type); seed 0 is valid.
        self._sim = core.IsingSimulation(
            size, 1.0, 0.0, 0.0, 0.0, seed, self.algorithm, "square"
        )
        if start == "cold":
            self.set_cold()

    def set_cold(self) -> None:
        """Set every spin to +1."""
        self._sim.set_spins(np.ones((self.size, self.size), dtype=np.int8))

    def run(self, n_sweeps: int, temperature: float) -> Work:
        """Run ``n_sweeps`` sweeps of the chosen algorithm."""
        start = time.perf_counter()
        accepted, attempted, clusters = self._sim.sweep(
            n_sweeps, temperature=temperature
        )
        seconds = time.perf_counter() - start
        return Work(seconds, n_sweeps, int(attempted), int(accepted), int(clusters))

    def energy(self) -> float:
        """Energy per spin computed here from the spins (not by mcising)."""
        return lattice_energy(self._sim.get_spins())


class McisingCluster(McisingMetropolis):
    """mcising Wolff (one cluster per "sweep") or Swendsen-Wang.

    For Wolff, ``accepted`` and ``attempted`` are both the total size of the
    flipped clusters; for Swendsen-Wang ``accepted`` is the number of spins
    flipped and ``attempted`` is ``sweeps * N``.
    """

    name = "mcising"

    def __init__(
        self, size: int, algorithm: str, *, seed: int = 1, start: str = "hot"
    ) -> None:
        names = {"wolff": "wolff", "swendsen-wang": "swendsen_wang"}
        if algorithm not in names:
            raise ValueError(f"algorithm must be one of {sorted(names)}")
        self.algorithm = names[algorithm]
        super().__init__(size, seed=seed, start=start)


class IsingeneratorMetropolis:
    """isingenerator (C++/OpenMP) checkerboard Metropolis.

    The package exposes no bare sweep: ``run_single_temperature(T,
    equilibration_sweeps, measurement_blocks, sweeps_per_block, threads)``
    equilibrates, then measures every block (energy, magnetisation, domain
    labelling by union-find and Forman-Ricci curvature). With
    ``measurement_blocks = 0`` it runs the equilibration sweeps only and
    returns NaN observables, which is the sweep cost alone. It reports neither
    attempts nor flips, so attempts are ``sweeps * N`` (the sweep visits every
    site once) and flips are unknown. The spins are a zero-copy int8 view.
    """

    name = "isingenerator"

    def __init__(
        self, size: int, *, seed: int = 1, start: str = "hot", threads: int = 1
    ) -> None:
        core = _import_peer("isingenerator._core", "isingenerator")
        _need_even(size, "isingenerator's checkerboard")
        self.size = size
        self.threads = threads
        self._seed = max(int(seed), 1)  # 0 would mean "seed from the clock"
        self._sim = core.Simulation(
            rows=size,
            cols=size,
            probability=1.0 if start == "cold" else 0.5,
            interaction_coeff=1.0,
            external_field=0.0,
            seed=self._seed,
        )

    def set_cold(self) -> None:
        """Set every spin to +1."""
        self._sim.randomize(1.0, self._seed)

    def run(self, n_sweeps: int, temperature: float) -> Work:
        """Run ``n_sweeps`` sweeps (no measurement blocks) on ``threads`` threads."""
        start = time.perf_counter()
        self._sim.run_single_temperature(temperature, n_sweeps, 0, 1, self.threads)
        seconds = time.perf_counter() - start
        return Work(
            seconds, n_sweeps, n_sweeps * self.size**2, threads_used=self.threads
        )

    def energy(self) -> float:
        """Energy per spin computed here from the spins (not by isingenerator)."""
        return lattice_energy(np.asarray(self._sim.get_lattice()))


# Correctness check ---------------------------------------------------------------


@dataclass
class EnergyCheck:
    """Outcome of :func:`check_energy`."""

    name: str
    size: int
    temperature: float
    equilibration_sweeps: int
    samples: int
    sweeps_between: int
    energy: float
    stderr: float
    exact: float
    tolerance: float
    acceptance: float | None = None

    @property
    def deviation(self) -> float:
        """Measured minus exact energy per spin."""
        return self.energy - self.exact

    @property
    def passed(self) -> bool:
        """Whether the mean energy lies within the tolerance of the exact value."""
        return math.isfinite(self.energy) and abs(self.deviation) <= self.tolerance


def check_energy(
    kernel: Kernel,
    *,
    name: str | None = None,
    temperature: float = 2.0,
    equilibration_sweeps: int = 200,
    samples: int = 40,
    sweeps_between: int = 5,
    tolerance: float = 0.03,
) -> EnergyCheck:
    """Equilibrate from a cold start, then compare ``<E>/N`` with Onsager.

    The cold start avoids the long-lived stripe states a hot-start quench can
    fall into below ``T_c`` (their domain walls raise the energy by ``~4/L``).
    The tolerance is meant for ``L >= 64``. The flips per attempt of the sampling
    sweeps are kept as ``acceptance``: in equilibrium it depends only on the
    acceptance rule, not on the order in which sites are visited.
    """
    kernel.set_cold()
    kernel.run(equilibration_sweeps, temperature)
    energies = np.empty(samples)
    flips: int | None = 0
    attempts = 0
    for n in range(samples):
        work = kernel.run(sweeps_between, temperature)
        energies[n] = kernel.energy()
        attempts += work.attempts
        flips = None if flips is None or work.flips is None else flips + work.flips
    stderr = float(energies.std(ddof=1) / math.sqrt(samples)) if samples > 1 else 0.0
    return EnergyCheck(
        name=name or kernel.name,
        size=kernel.size,
        temperature=temperature,
        equilibration_sweeps=equilibration_sweeps,
        samples=samples,
        sweeps_between=sweeps_between,
        energy=float(energies.mean()),
        stderr=stderr,
        exact=onsager_energy(temperature),
        tolerance=tolerance,
        acceptance=flips / attempts if flips is not None and attempts else None,
    )


KernelFactory = Callable[..., Kernel]
