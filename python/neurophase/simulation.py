"""Monte Carlo simulation of the membrane lattice (Ising model) on the C++ engine.

Conventions (k_B = 1): ``H = -J sum_<ij> s_i s_j - sum_i h_i s_i`` with spins
``s_i = +1`` (open channel) or ``-1`` (closed); each bond counts once (both bonds
of a periodic side of 2 count). On the complete graph the pair coupling is
``J / N``. Magnetisation and energy are per spin; the energy includes the field
term.

Sweeps
------
* ``"metropolis"`` and ``"heat-bath"``: one sweep proposes one update of every
  site (checkerboard order, then the seam of odd periodic sides; the complete
  graph in index order). Metropolis accepts a move with probability
  ``min(1, exp(-beta dE))``, except ``dE = 0`` moves with probability 1/2: with a
  fixed order and acceptance 1 there, a spin whose neighbours cancel would flip
  at every visit, and at ``h = 0`` the chain would never leave a subset of states.
* ``"wolff"``: one sweep is a fixed number K of single clusters. K is given
  (``clusters_per_sweep``) or set once per simulation by a pilot run at the first
  temperature: about N over the mean cluster size, so a sweep flips about N spins
  at ``h = 0``. K must not depend on the clusters of the sweep itself: stopping a
  sweep once N spins have flipped would bias every average towards the states
  that follow large clusters. With a field a cluster bonded to the ghost spin is
  built and counted but not flipped.
* ``"swendsen-wang"``: one sweep decomposes the whole lattice into clusters and
  flips each free cluster with probability 1/2.
* ``"metropolis-msc"``: the Metropolis rule above on a multi-spin-coded lattice,
  one bit per spin and 64 spins per machine word (see :data:`MSC_SIZES`). It
  samples the same distribution as ``"metropolis"`` (same acceptance
  probabilities, each decided with its own 32-bit random number), but not the
  same sequence of states.

Random numbers come from Philox4x32-10 keyed by (seed, sweep, site), so results
do not depend on the thread count, and a run continued from a saved state equals
an uninterrupted run bitwise.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import signal
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import _core, _io, _validate
from .lattice import Lattice
from .statistics import Summary, summarise

logger = logging.getLogger(__name__)

Algorithm = Literal[
    "metropolis", "heat-bath", "wolff", "swendsen-wang", "metropolis-msc"
]
ALGORITHMS: tuple[str, ...] = (
    "metropolis",
    "heat-bath",
    "wolff",
    "swendsen-wang",
    "metropolis-msc",
)

#: Lattices the multi-spin-coded engine (``algorithm="metropolis-msc"``) takes.
MSC_SIZES = (
    "periodic square (L0, L1) or cubic (L0, L1, L2) lattices with L0 a multiple of "
    "64 and the other sides even; L0 / 64 even runs threaded and twice as fast per "
    "spin as L0 / 64 odd (for example L0 = 64 or 192), which runs on one thread; "
    "uniform field only (static and per-sweep), no per-site field"
)
Start = Literal["hot", "cold"]

CHECKPOINT_FORMAT = 1


class NeurophaseWarning(UserWarning):
    """Base class of the warnings neurophase emits."""


class MetropolisHighTemperatureWarning(NeurophaseWarning):
    """Metropolis at a temperature where almost every proposal is accepted.

    With a fixed sweep order and acceptance close to 1, every spin flips in every
    sweep: the magnetisation alternates in sign and decorrelates only over about
    ``1 / (1 - acceptance)`` sweeps, so averages such as ``<m^2>`` are wrong for any
    practical run length. Heat-bath updates have no such limit.
    """


class WolffSweepWarning(NeurophaseWarning):
    """Wolff clusters per sweep chosen at a much higher temperature than now.

    The number of clusters per sweep is fixed (it must not depend on the sweep's
    own clusters); chosen where clusters are small, it makes sweeps at low
    temperature very long. Pass ``clusters_per_sweep`` to set it.
    """


# Limitation: fixed-order Metropolis near infinite temperature flips every spin each
# sweep (m alternates); it is detected and warned about, not corrected.
# Metropolis accepts every move with probability at least exp(-beta * dE_max); above
# this bound a sweep flips (nearly) every spin, the limit the warning describes.
_METROPOLIS_ACCEPTANCE_LIMIT = 0.9


# Seconds of engine work between checks for Ctrl-C.
_CHUNK_SECONDS = 0.25


class _InterruptFlag:
    """Turns SIGINT into a flag while the engine runs (main thread only).

    The engine cannot stop inside a call; catching the signal lets :meth:`run`
    finish its chunk, keep the state consistent and then raise
    :class:`RunInterrupted` with the finished sweeps.
    """

    def __init__(self) -> None:
        self.raised = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        self.raised = True

    def __enter__(self) -> _InterruptFlag:
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # e.g. an embedded interpreter without signals
                self._previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during :meth:`Simulation.run`; ``.run`` holds the finished sweeps.

    The simulation's spins and sweep counter match ``.run``: calling
    :meth:`Simulation.run` again continues exactly where it stopped.
    """

    def __init__(self, run: Run) -> None:
        super().__init__(f"interrupted after {run.sweeps} sweeps")
        self.run = run


@dataclass
class Run:
    """Per-sweep records of one call of :meth:`Simulation.run`.

    Attributes
    ----------
    magnetisation, energy : ndarray, shape (sweeps,)
        Signed magnetisation per spin and energy per spin (field term included)
        after each sweep.
    staggered_magnetisation : ndarray or None
        ``(1/N) sum_i (-1)^(x_1+...+x_d) s_i`` after each sweep (the order
        parameter for ``J < 0``); None on the complete graph.
    temperature, field : ndarray, shape (sweeps,)
        Temperature and uniform field of each sweep (the per-site field, if any,
        is in ``site_field``).
    snapshots : ndarray, shape (k, *lattice.shape), int8
        Spins after the sweeps listed in ``snapshot_sweeps`` (indices into this run).
    kmin_magnetisation2 : ndarray of shape (sweeps, d), or None
        With ``record_kmin=True``: ``|m(k_a)|^2 = |N^-1 sum_j s_j exp(i k x_j)|^2``
        after each sweep at the smallest nonzero wavevector ``k_a = (2 pi / L_a)
        e_a`` along each axis ``a`` (the same normalisation as ``m^2``, which is
        its ``k = 0`` value). The second-moment correlation length is built from
        it (:mod:`neurophase.scaling`). None when not recorded.
    threads_used, team_sweeps : int
        Threads in the OpenMP team, and how many sweeps the team ran. With more
        than one thread, batches of sweeps run on one thread whenever that was
        measured to be faster (another process holding a core); the spins are the
        same either way.
    clusters_per_sweep : int or None
        Wolff: the number of clusters per sweep; None for other algorithms.
        ``clusters`` and ``flips`` include those of the pilot run, if this run
        chose the clusters per sweep.
    wall_time : float
        Seconds spent in the engine.
    """

    lattice: Lattice
    algorithm: str
    coupling: float
    seed: int
    first_sweep: int
    magnetisation: npt.NDArray[np.float64] = dataclass_field(repr=False)
    energy: npt.NDArray[np.float64] = dataclass_field(repr=False)
    staggered_magnetisation: npt.NDArray[np.float64] | None = dataclass_field(
        repr=False
    )
    temperature: npt.NDArray[np.float64] = dataclass_field(repr=False)
    field: npt.NDArray[np.float64] = dataclass_field(repr=False)
    site_field: npt.NDArray[np.float64] | None = dataclass_field(repr=False)
    snapshot_sweeps: npt.NDArray[np.int64] = dataclass_field(repr=False)
    snapshots: npt.NDArray[np.int8] = dataclass_field(repr=False)
    attempts: int
    flips: int
    clusters: int
    clusters_per_sweep: int | None
    threads_used: int
    team_sweeps: int
    wall_time: float
    diagnostics: dict[str, Any] = dataclass_field(default_factory=dict)
    kmin_magnetisation2: npt.NDArray[np.float64] | None = dataclass_field(
        default=None, repr=False
    )

    @property
    def sweeps(self) -> int:
        """Number of recorded sweeps."""
        return int(self.temperature.size)

    @property
    def acceptance(self) -> float:
        """Fraction of single-spin attempts that changed the spin (local updates)."""
        return self.flips / self.attempts if self.attempts else math.nan

    def summary(self, discard: int = 0) -> Summary:
        """Means with autocorrelation-aware errors, Binder cumulant, susceptibilities.

        Parameters
        ----------
        discard : int
            Leading sweeps to drop (extra thermalisation).

        Raises
        ------
        ValueError
            If the temperature or uniform field changes during the run (a schedule
            has no single equilibrium to summarise), or fewer than 3 sweeps remain
            (with 2, every leave-one-out jackknife sample is a single sweep and
            the errors of variance-based quantities are 0 by construction).
        """
        discard = _validate.positive_int("discard", discard, minimum=0)
        if self.sweeps < 3:
            raise ValueError(
                "summary needs a run of at least 3 recorded sweeps (the jackknife "
                f"errors need three), got {self.sweeps}"
            )
        if discard > self.sweeps - 3:
            raise ValueError(
                f"discard must leave at least 3 sweeps, got {discard} of {self.sweeps}"
            )
        T = self.temperature[discard:]
        h = self.field[discard:]
        if np.any(T != T[0]) or np.any(h != h[0]):
            raise ValueError(
                "summary needs constant temperature and field; this run follows a "
                "schedule (use the per-sweep arrays instead)"
            )
        stag = (
            None
            if self.staggered_magnetisation is None
            else self.staggered_magnetisation[discard:]
        )
        return summarise(
            self.magnetisation[discard:],
            self.energy[discard:],
            temperature=float(T[0]),
            n_sites=self.lattice.n_sites,
            staggered_magnetisation=stag,
        )


class Simulation:
    """A membrane lattice with its spins, seed and sweep counter.

    Parameters
    ----------
    lattice : Lattice
        The geometry.
    coupling : float
        J, any finite value (J > 0 cooperative gating, J < 0 antiferromagnetic).
    field : float or array_like
        Static field h: one value, or one per site (an array of ``lattice.shape``).
        A per-sweep uniform part can be added with ``run(field_schedule=...)``.
    algorithm : {"metropolis", "heat-bath", "wolff", "swendsen-wang"}
        Update algorithm (cluster algorithms need a hypercubic lattice).
    seed : int
        Seed in [0, 2**64 - 1]; with the sweep counter it fixes every random number.
    start : {"hot", "cold"} or array_like
        Random spins, all +1, or the given +-1 spins of ``lattice.shape``.
    threads : int or None
        Upper bound on OpenMP threads (None: all usable cores). Lattices under
        65536 sites per thread use fewer threads; results never depend on it.
    clusters_per_sweep : int or None
        Wolff only: clusters per sweep. None lets the first run choose it with a
        pilot (about N / mean cluster size at its first temperature); it is then
        kept, saved with the state, and reported in every :class:`Run`.
    """

    def __init__(
        self,
        lattice: Lattice,
        *,
        coupling: float = 1.0,
        field: float | npt.ArrayLike = 0.0,
        algorithm: Algorithm = "metropolis",
        seed: int = 0,
        start: Start | npt.ArrayLike = "hot",
        threads: int | None = None,
        clusters_per_sweep: int | None = None,
    ) -> None:
        if not isinstance(lattice, Lattice):
            raise TypeError(f"lattice must be a neurophase.Lattice, got {lattice!r}")
        self.lattice = lattice
        self.coupling = _validate.finite_float("coupling", coupling)
        self.field, self.site_field = _split_field(lattice, field)
        self.algorithm = _check_algorithm(lattice, algorithm)
        self._msc = self.algorithm == "metropolis-msc"
        if self._msc and self.site_field is not None:
            # Limitation: the multi-spin-coded engine takes uniform fields only; a
            # per-site field would need a threshold per spin instead of per class.
            raise ValueError(
                "algorithm 'metropolis-msc' takes a uniform field only (a number, "
                "plus field_schedule per sweep); got a per-site field array"
            )
        if clusters_per_sweep is not None and self.algorithm != "wolff":
            raise ValueError(
                "clusters_per_sweep applies to algorithm='wolff' only, got "
                f"algorithm={self.algorithm!r}"
            )
        self.seed = _validate.seed(seed)
        self.threads = _validate.threads(threads)
        self.clusters_per_sweep = (
            None
            if clusters_per_sweep is None
            else _validate.positive_int("clusters_per_sweep", clusters_per_sweep)
        )
        self.sweeps_done = 0
        self._pilot_temperature: float | None = None
        # One byte per spin (one bit for the packed engine), before allocating.
        spin_bytes = -(-lattice.n_sites // 8) if self._msc else lattice.n_sites
        _validate.fits_in_memory(
            f"lattice of shape {lattice.shape} ({lattice.n_sites} spins)", spin_bytes
        )
        # The multi-spin-coded engine keeps its spins packed (1 bit each) in
        # _words; the byte engines keep one int8 per spin in _spins.
        self._spins = np.empty(0 if self._msc else lattice.n_sites, dtype=np.int8)
        self._words = np.empty(0, dtype=np.uint64)
        self._set_start(start)

    # Spins --------------------------------------------------------------------

    def _set_start(self, start: Any) -> None:
        if self._msc:
            self._set_start_packed(start)
            return
        if isinstance(start, str):
            if start == "hot":
                _core.hot_start(
                    *self.lattice._core_args(), self._spins, self.seed, self.threads
                )
            elif start == "cold":
                self._spins.fill(1)
            else:
                raise ValueError(
                    f"start must be 'hot', 'cold' or an array of +-1, got {start!r}"
                )
        else:
            self._spins[:] = _check_spins("start", self.lattice, start)

    def _set_start_packed(self, start: Any) -> None:
        shape = list(self.lattice.shape)
        if isinstance(start, str):
            if start == "hot":
                # The same spins as a hot start of the byte engines with this seed.
                self._words = _core.msc_hot_start(shape, self.seed, self.threads)
            elif start == "cold":
                self._words = np.full(
                    _core.msc_n_words(shape), np.iinfo(np.uint64).max, np.uint64
                )
            else:
                raise ValueError(
                    f"start must be 'hot', 'cold' or an array of +-1, got {start!r}"
                )
        else:
            self._words = _core.msc_pack(
                shape, _check_spins("start", self.lattice, start), self.threads
            )

    @property
    def spins(self) -> npt.NDArray[np.int8]:
        """A copy of the spins, int8 of ``lattice.shape`` with values +1 or -1.

        With ``algorithm="metropolis-msc"`` the spins are unpacked from their
        1-bit form (8 times the memory of the packed lattice).
        """
        if self._msc:
            flat = _core.msc_unpack(list(self.lattice.shape), self._words, self.threads)
            return flat.reshape(self.lattice.shape)
        return self._spins.reshape(self.lattice.shape).copy()

    @spins.setter
    def spins(self, value: npt.ArrayLike) -> None:
        checked = _check_spins("spins", self.lattice, value)
        if self._msc:
            self._words = _core.msc_pack(
                list(self.lattice.shape), checked, self.threads
            )
        else:
            self._spins[:] = checked

    # Running ------------------------------------------------------------------

    def run(
        self,
        sweeps: int,
        *,
        temperature: float | npt.ArrayLike,
        field_schedule: npt.ArrayLike | None = None,
        record: bool = True,
        snapshots: Sequence[int] | None = None,
        record_kmin: bool = False,
    ) -> Run:
        """Run ``sweeps`` sweeps and return their per-sweep records.

        Parameters
        ----------
        sweeps : int
            Number of sweeps, in [0, 2**62]. The per-sweep schedule and records
            (16 bytes per sweep, 40 with ``record``) must fit in physical memory.
        temperature : float or array_like
            T > 0 (finite): one value, or one per sweep (shape ``(sweeps,)``) for a
            schedule such as a quench and reheating.
        field_schedule : array_like, optional
            A uniform field per sweep (shape ``(sweeps,)``) added to the static
            field of the simulation.
        record : bool
            Measure magnetisation and energy after every sweep (costs one extra
            pass over the lattice per sweep).
        snapshots : sequence of int, optional
            Sweeps of this run (0-based, increasing) after which to copy the spins.
        record_kmin : bool
            Also record ``|m(k_min)|^2`` along each axis after every sweep
            (:attr:`Run.kmin_magnetisation2`), for the second-moment correlation
            length. Needs ``record=True`` and a periodic hypercubic lattice; costs
            about one more pass over the spins per sweep.
        """
        sweeps = _validate.sweeps("sweeps", sweeps)
        if not isinstance(record_kmin, (bool, np.bool_)):
            raise TypeError(f"record_kmin must be True or False, got {record_kmin!r}")
        if record_kmin and (
            not record or self.lattice.is_complete or not self.lattice.periodic
        ):
            raise ValueError(
                "record_kmin=True needs record=True and a periodic hypercubic "
                f"lattice, got record={record} on {self.lattice.describe()}"
            )
        if record_kmin and self._msc:
            # Limitation: the packed engine records m and e only; the Fourier
            # mode would need its own pass over the bit planes.
            raise ValueError(
                "record_kmin=True is not available with algorithm='metropolis-msc'; "
                "use 'metropolis' or 'wolff'"
            )
        _check_run_memory(
            sweeps, record=bool(record), kmin_axes=self.lattice.dimension * record_kmin
        )
        T = _per_sweep("temperature", temperature, sweeps)
        if np.any(T <= 0.0):
            bad = T[T <= 0.0][0]
            raise ValueError(f"temperature must be finite and > 0, got {bad}")
        h = np.full(sweeps, self.field)
        if field_schedule is not None:
            sched = _validate.float_array("field_schedule", field_schedule)
            if sched.shape != (sweeps,):
                raise ValueError(
                    f"field_schedule must have shape ({sweeps},) (one value per "
                    f"sweep), got {sched.shape}"
                )
            h = h + sched
        snap = np.asarray([] if snapshots is None else snapshots)
        if snap.size and not np.issubdtype(snap.dtype, np.integer):
            raise TypeError("snapshots must be a sequence of integer sweep indices")
        snap = snap.astype(np.int64).reshape(-1)
        if snap.size and (
            np.any(snap < 0) or np.any(snap >= sweeps) or np.any(np.diff(snap) <= 0)
        ):
            raise ValueError(
                f"snapshots must be increasing sweep indices in [0, {sweeps - 1}]"
            )
        self._warn_metropolis_limit(T, h)
        self._warn_wolff_cooling(T)

        first = self.sweeps_done
        chunks: list[tuple[Any, ...]] = []
        totals = {"attempts": 0, "flips": 0, "clusters": 0, "team_sweeps": 0}
        threads_used = 1
        wall = 0.0
        interrupted = False
        with _InterruptFlag() as flag:
            done = 0
            per_sweep = 0.0
            while done < sweeps and not flag.raised:
                # Chunks of about _CHUNK_SECONDS: a split run is bitwise an unsplit
                # one, and between chunks Ctrl-C can stop with a consistent state.
                n = sweeps - done
                if per_sweep > 0.0:
                    n = min(n, max(1, int(_CHUNK_SECONDS / per_sweep)))
                elif sweeps > 1:
                    n = 1
                stop = done + n
                in_chunk = snap[(snap >= done) & (snap < stop)] - done
                start = time.perf_counter()
                if self._msc:
                    stats, m, e, stag, snaps = _core.msc_run(
                        list(self.lattice.shape),
                        self._words,
                        self.seed,
                        self.sweeps_done,
                        self.coupling,
                        T[done:stop],
                        h[done:stop],
                        self.threads,
                        record,
                        in_chunk,
                    )
                    kmin = np.empty((0, self.lattice.dimension))
                else:
                    stats, m, e, stag, snaps, kmin = _core.run(
                        *self.lattice._core_args(),
                        self._spins,
                        self.algorithm,
                        self.seed,
                        self.sweeps_done,
                        self.coupling,
                        T[done:stop],
                        h[done:stop],
                        self.site_field,
                        self.threads,
                        record,
                        in_chunk,
                        self.clusters_per_sweep or 0,
                        bool(record_kmin),
                    )
                elapsed = time.perf_counter() - start
                wall += elapsed
                per_sweep = elapsed / n
                self.sweeps_done += n
                if self.algorithm == "wolff":
                    if self.clusters_per_sweep is None:
                        self._pilot_temperature = float(T[done])
                    self.clusters_per_sweep = int(stats["clusters_per_sweep"])
                for key in totals:
                    totals[key] += int(stats[key])
                threads_used = int(stats["threads_used"])
                chunks.append((m, e, stag, snaps, kmin))
                done = stop
            interrupted = flag.raised

        logger.debug(
            "%d %s sweeps on %s in %.3g s (%d threads)",
            done,
            self.algorithm,
            self.lattice.describe(),
            wall,
            threads_used,
        )
        n_site = self.lattice.n_sites

        def joined(k: int, empty: npt.NDArray[Any]) -> npt.NDArray[Any]:
            return np.concatenate([c[k] for c in chunks]) if chunks else empty

        result = Run(
            lattice=self.lattice,
            algorithm=self.algorithm,
            coupling=self.coupling,
            seed=self.seed,
            first_sweep=first,
            magnetisation=joined(0, np.empty(0)),
            energy=joined(1, np.empty(0)),
            staggered_magnetisation=None
            if self.lattice.is_complete
            else joined(2, np.empty(0)),
            temperature=T[:done],
            field=h[:done],
            site_field=None
            if self.site_field is None
            else self.site_field.reshape(self.lattice.shape),
            snapshot_sweeps=snap[snap < done],
            snapshots=joined(3, np.empty((0, n_site), np.int8)).reshape(
                (-1, *self.lattice.shape)
            ),
            kmin_magnetisation2=joined(4, np.empty((0, self.lattice.dimension)))
            if record_kmin
            else None,
            attempts=totals["attempts"],
            flips=totals["flips"],
            clusters=totals["clusters"],
            clusters_per_sweep=self.clusters_per_sweep
            if self.algorithm == "wolff"
            else None,
            threads_used=threads_used,
            team_sweeps=totals["team_sweeps"],
            wall_time=wall,
        )
        if interrupted:
            raise RunInterrupted(result)
        return result

    def _warn_wolff_cooling(self, T: npt.NDArray[np.float64]) -> None:
        # Only across runs: within one run a schedule is expected to cool, and the
        # docs say the pilot runs at its first temperature.
        pilot = self._pilot_temperature
        if self.algorithm != "wolff" or pilot is None or T.size == 0:
            return
        if float(np.min(T)) < 0.5 * pilot:
            warnings.warn(
                f"Wolff clusters per sweep ({self.clusters_per_sweep}) were chosen "
                f"at T = {pilot:.4g}; at T = {float(np.min(T)):.4g} clusters are "
                "larger and each sweep does far more work. Pass clusters_per_sweep "
                "to choose it yourself",
                WolffSweepWarning,
                stacklevel=_user_stacklevel(),
            )

    def _warn_metropolis_limit(
        self, T: npt.NDArray[np.float64], h: npt.NDArray[np.float64]
    ) -> None:
        if self.algorithm not in ("metropolis", "metropolis-msc") or T.size == 0:
            return
        h_max = np.abs(h)
        if self.site_field is not None:
            h_max = h_max + float(np.max(np.abs(self.site_field)))
        z = self.lattice.coordination
        J = abs(self.coupling) * (
            1.0 / self.lattice.n_sites if self.lattice.is_complete else 1.0
        )
        delta_e_max = 2.0 * (z * J + h_max)
        min_acceptance = np.exp(-delta_e_max / T)
        # Where every move has dE = 0 (J = 0 and h = 0) they are accepted with
        # probability 1/2 and nothing oscillates.
        min_acceptance[delta_e_max == 0.0] = 0.0
        if np.any(min_acceptance > _METROPOLIS_ACCEPTANCE_LIMIT):
            worst = float(np.max(min_acceptance))
            warnings.warn(
                f"Metropolis: every proposal is accepted with probability >= "
                f"{worst:.6f} (T = {float(np.max(T)):.4g} is large against the "
                "coupling and field), so each sweep flips nearly every spin and the "
                "magnetisation oscillates instead of decorrelating; use "
                "algorithm='heat-bath' here",
                MetropolisHighTemperatureWarning,
                stacklevel=_user_stacklevel(),
            )

    def measure(self) -> dict[str, Any]:
        """Magnetisation, energy and staggered magnetisation of the current spins.

        Energy per spin uses the static field of the simulation (no schedule). On
        periodic hypercubic lattices ``"kmin_magnetisation2"`` is also given: the
        list over axes of ``|m(k_min)|^2`` (see :attr:`Run.kmin_magnetisation2`).
        """
        fourier = self.lattice.periodic
        n = self.lattice.n_sites
        if self._msc:
            p = _core.msc_measure(list(self.lattice.shape), self._words, self.threads)
            result: dict[str, Any] = {
                "magnetisation": p["magnetisation_sum"] / n,
                "energy": (
                    -self.coupling * p["bond_sum"] - self.field * p["magnetisation_sum"]
                )
                / n,
                "staggered_magnetisation": p["staggered_sum"] / n,
            }
            if not fourier:
                return result
        d = _core.measure(
            *self.lattice._core_args(),
            self.spins if self._msc else self._spins,
            self.site_field,
            self.coupling,
            self.field,
            1,
            fourier,
        )
        if not self._msc:
            result = {
                "magnetisation": d["magnetisation_sum"] / n,
                "energy": d["energy"],
                "staggered_magnetisation": d["staggered_sum"] / n,
            }
        if fourier:
            result["kmin_magnetisation2"] = [
                (re / n) ** 2 + (im / n) ** 2 for re, im in d["kmin_sums"]
            ]
        return result

    # State --------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The full state: spins, seed, sweep counter and parameters.

        The generator has no hidden position: it is keyed by (seed, sweep, site),
        so the sweep counter is its position. With ``algorithm="metropolis-msc"``
        the spins are stored packed (key ``"spin_words"``, 1 bit per spin, the
        engine's layout) and ``"spins"`` is None.
        """
        return {
            "format": CHECKPOINT_FORMAT,
            "shape": self.lattice.shape,
            "boundary": self.lattice.boundary,
            "kind": self.lattice.kind,
            "coupling": self.coupling,
            "field": self.field,
            "site_field": None if self.site_field is None else self.site_field.copy(),
            "algorithm": self.algorithm,
            "seed": self.seed,
            "threads": self.threads,
            "clusters_per_sweep": self.clusters_per_sweep,
            "pilot_temperature": self._pilot_temperature,
            "sweeps_done": self.sweeps_done,
            "spins": None if self._msc else self._spins.copy(),
            "spin_words": self._words.copy() if self._msc else None,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Simulation:
        """Rebuild a simulation from :meth:`state` (or a loaded checkpoint)."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"state format must be {CHECKPOINT_FORMAT}, got {state.get('format')!r}"
            )
        lattice = Lattice(tuple(state["shape"]), state["boundary"], state["kind"])
        site_field = state["site_field"]
        field = (
            state["field"]
            if site_field is None
            else np.asarray(site_field).reshape(lattice.shape) + state["field"]
        )
        words = state.get("spin_words")
        sim = cls(
            lattice,
            coupling=state["coupling"],
            field=field,
            algorithm=state["algorithm"],
            seed=int(state["seed"]),
            start="cold"
            if words is not None
            else np.asarray(state["spins"]).reshape(lattice.shape),
            threads=int(state["threads"]),
            clusters_per_sweep=state.get("clusters_per_sweep"),
        )
        if words is not None:
            if not sim._msc:
                raise ValueError(
                    "state holds packed spins ('spin_words') but its algorithm is "
                    f"{state['algorithm']!r}, not 'metropolis-msc'"
                )
            packed = np.asarray(words)
            if packed.dtype != np.uint64 or packed.shape != sim._words.shape:
                raise ValueError(
                    f"spin_words must be uint64 of shape {sim._words.shape}, got "
                    f"{packed.dtype} of shape {packed.shape}"
                )
            sim._words = np.array(packed, dtype=np.uint64, order="C")
        sim._pilot_temperature = state.get("pilot_temperature")
        sim.sweeps_done = _validate.positive_int(
            "sweeps_done", int(state["sweeps_done"]), minimum=0
        )
        return sim

    def __getstate__(self) -> dict[str, Any]:
        return self.state()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(Simulation.from_state(state).__dict__)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the full state to ``path`` atomically (temporary file, then rename).

        A run interrupted while saving leaves the previous checkpoint intact.
        """
        state = self.state()
        _io.write_atomically(
            path, lambda f: pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Simulation:
        """Read a state written by :meth:`save`.

        Only load files you trust: the format is a pickle of plain data.
        """
        with open(path, "rb") as f:  # a missing file stays a FileNotFoundError
            try:
                state = pickle.load(f)
            except Exception:  # any garbage: pickle's own message says nothing useful
                raise ValueError(
                    f"not a neurophase checkpoint or corrupted: {path}"
                ) from None
        if not isinstance(state, dict):
            raise ValueError(f"not a neurophase checkpoint or corrupted: {path}")
        return cls.from_state(state)


def simulate(
    lattice: Lattice,
    *,
    temperature: float | npt.ArrayLike,
    field: float | npt.ArrayLike = 0.0,
    coupling: float = 1.0,
    sweeps: int = 1000,
    burn_in: int = 0,
    algorithm: Algorithm = "metropolis",
    seed: int = 0,
    threads: int | None = None,
    start: Start | npt.ArrayLike = "hot",
    field_schedule: npt.ArrayLike | None = None,
    snapshots: Sequence[int] | None = None,
    clusters_per_sweep: int | None = None,
    record_kmin: bool = False,
) -> Run:
    """Equilibrate for ``burn_in`` sweeps, then record ``sweeps`` sweeps.

    ``sweeps`` and ``burn_in`` are at most 2**62 and their per-sweep arrays must
    fit in physical memory (see :meth:`Simulation.run`); ValueError otherwise.
    Burn-in sweeps use the first temperature and field of the schedule. With
    Wolff and no ``clusters_per_sweep``, the clusters per sweep are chosen again
    after the burn-in, on equilibrated spins. See :class:`Simulation` and
    :meth:`Simulation.run` for the parameters.

    Examples
    --------
    >>> lat = Lattice.square(32)
    >>> run = simulate(lat, temperature=2.0, sweeps=2000, burn_in=500, seed=1)
    >>> run.summary().abs_magnetisation  # doctest: +SKIP
    """
    sim = Simulation(
        lattice,
        coupling=coupling,
        field=field,
        algorithm=algorithm,
        seed=seed,
        start=start,
        threads=threads,
        clusters_per_sweep=clusters_per_sweep,
    )
    burn_in = _validate.sweeps("burn_in", burn_in)
    sweeps = _validate.sweeps("sweeps", sweeps)
    _check_run_memory(burn_in, record=False, kmin_axes=0, name="burn_in")
    _check_run_memory(
        sweeps, record=True, kmin_axes=lattice.dimension * bool(record_kmin)
    )
    T = _per_sweep("temperature", temperature, sweeps)
    sched = None
    if field_schedule is not None:
        sched = _validate.float_array("field_schedule", field_schedule)
        if sched.shape != (sweeps,):
            raise ValueError(
                f"field_schedule must have shape ({sweeps},), got {sched.shape}"
            )
    if burn_in:
        first_temperature = np.asarray(temperature, dtype=np.float64).reshape(-1)
        if first_temperature.size == 0:
            raise ValueError("temperature: an empty schedule gives burn-in no value")
        T0 = float(first_temperature[0])
        h0 = None if sched is None or sched.size == 0 else np.full(burn_in, sched[0])
        sim.run(burn_in, temperature=T0, field_schedule=h0, record=False)
        if algorithm == "wolff" and clusters_per_sweep is None:
            # The pilot of the burn-in ran on the starting spins; choosing the
            # clusters per sweep again on the equilibrated spins sizes the recorded
            # sweeps to about N flipped spins.
            sim.clusters_per_sweep = None
            sim._pilot_temperature = None
    return sim.run(
        sweeps,
        temperature=T,
        field_schedule=sched,
        snapshots=snapshots,
        record_kmin=record_kmin,
    )


def local_update_paths() -> list[str]:
    """Code paths of the Metropolis and heat-bath sweeps that this build and CPU can
    run, widest first: ``"avx512"``, ``"avx2"``, ``"portable"``.

    Every path gives bitwise the same spins for the same seed; the widest one is
    used unless :func:`select_local_update_path` chose another. A per-site field,
    the complete graph, lattices of dimension 4 and 5 and the seam of odd periodic
    sides always take the portable path.
    """
    return list(_core.local_update_paths())


def local_update_path() -> str:
    """The code path the Metropolis and heat-bath sweeps use now."""
    return str(_core.local_update_path())


def select_local_update_path(name: str) -> None:
    """Switch the Metropolis and heat-bath sweeps to another code path this CPU can
    run (for testing and benchmarking: the results do not change, only the speed).
    Not to be called while a run is going on in another thread.

    Raises
    ------
    ValueError
        If ``name`` is not one of :func:`local_update_paths`.
    """
    if not isinstance(name, str) or not _core.select_local_update_path(name):
        raise ValueError(
            f"name must be one of the paths this CPU can run {local_update_paths()}, "
            f"got {name!r}"
        )


def _user_stacklevel() -> int:
    """Stack level of the first caller outside this module, for warnings."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


# Bytes per sweep of a run: temperature and field schedules (8 + 8), and with
# record=True magnetisation, energy and staggered magnetisation (8 each).
_SCHEDULE_BYTES = 16
_RECORD_BYTES = 24


def _check_run_memory(
    sweeps: int, *, record: bool, kmin_axes: int, name: str = "sweeps"
) -> None:
    """Raise ValueError if a run's per-sweep arrays exceed the physical memory."""
    per_sweep = _SCHEDULE_BYTES + (_RECORD_BYTES + 8 * kmin_axes if record else 0)
    _validate.fits_in_memory(
        f"{name} = {sweeps} ({per_sweep} bytes per sweep)", per_sweep * sweeps
    )


def _per_sweep(name: str, value: Any, sweeps: int) -> npt.NDArray[np.float64]:
    arr = _validate.float_array(name, value)
    if arr.ndim == 0:
        if not arr > 0.0:
            raise ValueError(f"{name} must be finite and > 0, got {float(arr)}")
        return np.full(sweeps, float(arr))
    if arr.shape != (sweeps,):
        raise ValueError(
            f"{name} must be a number or have shape ({sweeps},) (one value per "
            f"sweep), got shape {arr.shape}"
        )
    return arr


def _check_spins(name: str, lattice: Lattice, value: Any) -> npt.NDArray[np.int8]:
    arr = np.asarray(value)
    if arr.shape != lattice.shape:
        raise ValueError(
            f"{name} must have the lattice's shape {lattice.shape}, got {arr.shape}"
        )
    if not np.all((arr == 1) | (arr == -1)):
        raise ValueError(f"{name} must be +1 or -1 everywhere")
    return arr.reshape(-1).astype(np.int8)


def _split_field(
    lattice: Lattice, field: Any
) -> tuple[float, npt.NDArray[np.float64] | None]:
    arr = _validate.float_array("field", field)
    if arr.ndim == 0:
        return float(arr), None
    if arr.shape != lattice.shape:
        raise ValueError(
            f"field must be a number or an array of the lattice's shape "
            f"{lattice.shape}, got shape {arr.shape}"
        )
    return 0.0, np.ascontiguousarray(arr.reshape(-1))


def _check_algorithm(lattice: Lattice, algorithm: Any) -> str:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if algorithm == "metropolis-msc":
        shape = lattice.shape
        if (
            not lattice.periodic
            or len(shape) not in (2, 3)
            or shape[0] % 64 != 0
            or any(side % 2 for side in shape[1:])
        ):
            raise ValueError(
                f"algorithm 'metropolis-msc' takes {MSC_SIZES}; got the "
                f"{lattice.describe()} lattice"
            )
    if lattice.is_complete and algorithm in ("wolff", "swendsen-wang"):
        # Limitation: cluster updates on the complete graph (N^2 bonds) are not
        # implemented; single-spin updates cost O(N) per sweep there.
        raise ValueError(
            f"algorithm {algorithm!r} needs a hypercubic lattice; use 'metropolis' "
            "or 'heat-bath' on the complete graph"
        )
    return str(algorithm)
