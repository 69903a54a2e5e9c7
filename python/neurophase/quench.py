"""The quench experiment: the firing-rate curve of a simulated membrane.

A stimulus does not act as a field here but as a quench: it cools the membrane
lattice below its critical temperature for a while, the lattice orders (the
channels open together), it reheats, and the time it spends magnetised is the
neurone's firing rate (Sakthivadivel, arXiv:2102.04896, where the curve is
derived in mean field; here it is measured on the lattice).

Protocol (every run in this module follows it exactly)
-------------------------------------------------------
1. Rest: the lattice is equilibrated with heat-bath sweeps at the resting
   temperature ``T0 > T_c`` in a small bias field ``h_b > 0`` (constant
   throughout), which makes the open state ``m > 0`` the spike.
2. Quench: at ``t = 0`` the stimulus ``s >= 0`` cools the lattice to
   ``T_start = max(T_min, T0 - k s)``; it then reheats linearly at ``r`` per
   sweep (:class:`neurophase.meanfield.LinearReheating`) or, as an option, as
   ``dT/dt = (T0 - T)/tau_h`` (:class:`neurophase.meanfield.NewtonianReheating`).
   Sweep ``j`` (covering ``t`` in ``[j, j + 1]``) runs at the schedule's
   temperature at ``t = j + 1/2``; the magnetisation is recorded at the
   integer times ``t = 0, 1, ..., n`` (``t = 0``: the rested state).
3. Window: the whole episode of the deepest stimulus plus ``tail`` sweeps at
   ``T0`` (so a late decay is counted), the same window for every stimulus.
4. Counting: each trajectory is thresholded first
   (:func:`neurophase.meanfield.time_magnetised`: enter above ``theta_on``,
   leave below ``theta_off``), giving the time magnetised, the number of
   episodes and the integrated magnetisation ``int m dt`` over the window
   (trapezoid on the per-sweep record; it includes the resting baseline
   ``m_rest * window``, which fits of the onset take as a free offset); then the
   trajectories of one stimulus are averaged over independent seeds, and the
   error is the standard error over seeds.

Time units and the mean-field comparison
----------------------------------------
The mean-field Glauber equation ``tau dm/dt = -m + tanh((zJ m + h)/T)``
(:func:`neurophase.meanfield.glauber_dynamics`) is the large-``N`` limit of
random-sequential heat-bath updates, with one sweep per ``tau``.  The engine's
complete-graph sweep visits the sites in index order instead; its large-``N``
limit is ``m(t) = int_{t-1}^{t} tanh((zJ m(t') + h)/T(t')) dt'``, in which a
spin's value is on average half a sweep old (under random-sequential updates:
one ``tau``).  Slow modes therefore follow the drive with a lag of half a sweep,
and the comparison uses ``tau = 1/2`` sweep (:data:`SEQUENTIAL_SWEEP_TAU`).  On
the protocols of the tests the rates of the two deterministic dynamics differ by
at most about 0.25 sweep; with ``tau = 1`` they differ by several sweeps.

Finite ``N``: the complete graph fluctuates by ``~ N^-1/2`` in ``m`` about the
Glauber trajectory.  Well above threshold this changes the time magnetised by
much less than its error over a few dozen seeds at ``N`` of several thousand;
within about 0.15 in ``s`` of the threshold the trajectory only grazes
``theta``, and these fluctuations decide whether (and how often) it is counted,
so there the finite graph and the ``N -> inf`` theory differ.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize

from . import _validate, activations, exact
from . import meanfield as mf
from .lattice import Lattice
from .simulation import Simulation

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

__all__ = [
    "SEQUENTIAL_SWEEP_TAU",
    "CurveFit",
    "EquilibriumResponse",
    "FieldHysteresis",
    "QuenchCurve",
    "QuenchProtocol",
    "ThresholdExtrapolation",
    "critical_temperature",
    "curve_figure",
    "equilibrium_response",
    "extrapolate_threshold",
    "field_hysteresis",
    "fit_curve",
    "glauber_curve",
    "hysteresis_figure",
    "lattice_threshold_temperature",
    "load_curve",
    "quench_curve",
    "response_figure",
    "trajectory_seed",
]

FloatArray = npt.NDArray[np.float64]

#: Relaxation time of mean-field Glauber dynamics, in sweeps, matching the slow
#: modes of the engine's index-order sweep (a spin's value is half a sweep old).
# Limitation: tau = 1/2 matches the slow modes of the index-order sweep only; in
# fast transients (deep quenches) the two dynamics differ by up to ~0.25 sweep.
SEQUENTIAL_SWEEP_TAU = 0.5

Reheating = Literal["linear", "newtonian"]


# ---------------------------------------------------------------------------
# The protocol
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QuenchProtocol:
    """Parameters of the quench protocol (see the module docstring).

    Parameters
    ----------
    resting_temperature : float
        ``T0 > 0``, energy units.  The protocol starts at rest above the
        critical temperature, so :func:`quench_curve` requires ``T0 >
        critical_temperature(lattice, coupling)`` and :func:`glauber_curve`
        requires ``T0 > zJ``.
    bias : float
        Bias field ``h_b`` during the whole experiment (``> 0`` selects the open
        state as the spike; :func:`glauber_curve` requires it).  Default
        :data:`neurophase.meanfield.DEFAULT_QUENCH_BIAS` (0.05).
    rate : float
        Linear reheating rate ``r > 0``, temperature per sweep.
    k : float
        Cooling per unit stimulus, ``> 0``.
    theta_on, theta_off : float
        Thresholds on the signed ``m``, ``-1 < theta_off <= theta_on < 1``.
    minimum_temperature : float
        ``T_min``, where the quench is clipped, ``0 < T_min < T0``.
    equilibration : int
        Heat-bath sweeps at ``T0`` (from a random start) before the stimulus.
    tail : int
        Sweeps at ``T0`` kept in the window after the deepest episode.
    reheating : {"linear", "newtonian"}
        Linear reheating at ``rate``, or ``dT/dt = (T0 - T)/relaxation_time``.
    relaxation_time : float
        ``tau_h`` of Newtonian reheating, sweeps (ignored when linear).
    end_fraction : float
        Newtonian reheating: the episode ends when ``T0 - T`` has fallen to this
        fraction of its start.
    """

    resting_temperature: float
    bias: float = mf.DEFAULT_QUENCH_BIAS
    rate: float = 0.02
    k: float = 1.0
    theta_on: float = 0.5
    theta_off: float = 0.5
    minimum_temperature: float = 0.05
    equilibration: int = 100
    tail: int = 20
    reheating: Reheating = "linear"
    relaxation_time: float = 50.0
    end_fraction: float = 0.01

    def __post_init__(self) -> None:
        t0 = _validate.finite_float(
            "resting_temperature", self.resting_temperature, positive=True
        )
        object.__setattr__(self, "resting_temperature", t0)
        object.__setattr__(self, "bias", _validate.finite_float("bias", self.bias))
        for name in ("rate", "k", "minimum_temperature", "relaxation_time"):
            value = _validate.finite_float(name, getattr(self, name), positive=True)
            object.__setattr__(self, name, value)
        if self.minimum_temperature >= t0:
            raise ValueError(
                f"minimum_temperature must lie in (0, resting_temperature = {t0}), "
                f"got {self.minimum_temperature}"
            )
        on = _validate.finite_float("theta_on", self.theta_on)
        off = _validate.finite_float("theta_off", self.theta_off)
        if not (-1.0 < off <= on < 1.0):
            raise ValueError(
                "thresholds must satisfy -1 < theta_off <= theta_on < 1, got "
                f"theta_on = {on}, theta_off = {off}"
            )
        object.__setattr__(self, "theta_on", on)
        object.__setattr__(self, "theta_off", off)
        frac = _validate.finite_float("end_fraction", self.end_fraction, positive=True)
        if frac >= 1.0:
            raise ValueError(f"end_fraction must lie in (0, 1), got {frac}")
        object.__setattr__(self, "end_fraction", frac)
        for name in ("equilibration", "tail"):
            value = _validate.positive_int(name, getattr(self, name), minimum=0)
            object.__setattr__(self, name, value)
        if self.reheating not in ("linear", "newtonian"):
            raise ValueError(
                f"reheating must be 'linear' or 'newtonian', got {self.reheating!r}"
            )

    def schedule(self, stimulus: npt.ArrayLike) -> mf.QuenchSchedule:
        """The temperature schedule ``T(t)`` of the stimuli (a meanfield schedule)."""
        if self.reheating == "linear":
            return mf.LinearReheating.create(
                stimulus,
                self.resting_temperature,
                k=self.k,
                rate=self.rate,
                minimum_temperature=self.minimum_temperature,
            )
        return mf.NewtonianReheating.create(
            stimulus,
            self.resting_temperature,
            k=self.k,
            relaxation_time=self.relaxation_time,
            minimum_temperature=self.minimum_temperature,
            end_fraction=self.end_fraction,
        )

    def window(self, stimulus: npt.ArrayLike) -> int:
        """Sweeps in the measurement window of these stimuli (episode + tail)."""
        duration = self.schedule(np.atleast_1d(stimulus)).duration
        return math.ceil(duration - 1e-9) + self.tail

    def sweep_temperatures(self, stimulus: npt.ArrayLike, sweeps: int) -> FloatArray:
        """Temperature of sweeps ``0..sweeps-1``: ``T(j + 1/2)``; (sweeps, n_s)."""
        sched = self.schedule(np.atleast_1d(stimulus))
        return np.stack([sched(j + 0.5) for j in range(sweeps)]).reshape(sweeps, -1)

    def threshold_stimulus(self, zJ: float) -> float:
        """Mean-field ``r -> 0`` threshold ``s0 = (T0 - T_theta)/k`` at ``theta_on``.

        ``T_theta = (zJ theta + h_b)/artanh(theta)``
        (:func:`neurophase.meanfield.threshold_temperature`).
        """
        t_theta = mf.threshold_temperature(self.theta_on, zJ, self.bias)
        return (self.resting_temperature - t_theta) / self.k


# Inverse critical couplings K_c = J / T_c of the hypercubic lattices in d = 3, 4,
# 5 (Monte Carlo estimates; d = 3: Ferrenberg, Xu and Landau 2018, as in
# neurophase.scaling.REFERENCES; d = 4, 5: published Monte Carlo estimates).
_HYPERCUBIC_KC = {3: 0.221654626, 4: 0.1496947, 5: 0.1139150}


def critical_temperature(lattice: Lattice, coupling: float = 1.0) -> float:
    """Critical temperature ``T_c`` of ``lattice`` in the thermodynamic limit.

    Chain: 0 (no order at ``T > 0``); square lattice: Onsager's
    ``2 J / ln(1 + sqrt 2)``; cubic, 4D and 5D hypercubic lattices: the
    Monte Carlo estimates ``J / K_c`` (``K_c`` = 0.221654626, 0.1496947,
    0.1139150); complete graph: its mean-field ``T_c = J (N - 1) / N``.
    Energy units (``k_B = 1``); ``coupling`` is ``J > 0``.  The boundary
    condition does not enter (finite lattices have no sharp transition; this
    is the temperature the quench protocol must start above).
    """
    if not isinstance(lattice, Lattice):
        raise TypeError(f"lattice must be a neurophase.Lattice, got {lattice!r}")
    j = _validate.finite_float("coupling", coupling, positive=True)
    if lattice.is_complete:
        return lattice.mean_field_coupling(j)
    d = lattice.dimension
    if d == 1:
        return 0.0
    if d == 2:
        return exact.critical_temperature_square(j)
    return j / _HYPERCUBIC_KC[d]


def lattice_threshold_temperature(theta: float, coupling: float = 1.0) -> float:
    """``T_theta`` of the infinite square lattice: Onsager's ``m(T) = theta``.

    The temperature below which the spontaneous magnetisation of the 2D lattice
    (no field) exceeds ``0 < theta < 1``; the ``r -> 0`` threshold of a 2D
    quench is ``(T0 - T_theta)/k``.  Energy units, ``coupling > 0``.
    """
    th = _validate.finite_float("theta", theta)
    if not 0.0 < th < 1.0:
        raise ValueError(f"theta must lie in (0, 1), got {theta!r}")
    j = _validate.finite_float("coupling", coupling, positive=True)
    t_c = exact.critical_temperature_square(j)
    return float(
        optimize.brentq(
            lambda t: float(exact.onsager_magnetisation(t, j)) - th,
            1e-3 * t_c,
            t_c * (1.0 - 1e-15),
            xtol=1e-14,
        )
    )


# ---------------------------------------------------------------------------
# Seeds and single trajectories
# ---------------------------------------------------------------------------


def trajectory_seed(seed: int, stimulus_index: int, replica: int) -> int:
    """Engine seed of one trajectory, derived deterministically from ``seed``.

    ``numpy.random.SeedSequence`` hashes ``(seed, stimulus_index, replica)`` into
    a 64-bit seed, so trajectories of different stimuli and replicas use
    independent random streams and the whole curve follows from ``seed``.
    """
    seq = np.random.SeedSequence([seed, stimulus_index, replica])
    return int(seq.generate_state(1, dtype=np.uint64)[0])


def _trajectory(
    lattice: Lattice,
    coupling: float,
    protocol: QuenchProtocol,
    temperatures: FloatArray,
    seed: int,
    threads: int | None,
) -> FloatArray:
    """``m`` at ``t = 0..len(temperatures)`` of one seeded quench (heat-bath)."""
    sim = Simulation(
        lattice,
        coupling=coupling,
        field=protocol.bias,
        algorithm="heat-bath",
        seed=seed,
        start="hot",
        threads=threads,
    )
    if protocol.equilibration:
        sim.run(
            protocol.equilibration,
            temperature=protocol.resting_temperature,
            record=False,
        )
    m0 = float(sim.measure()["magnetisation"])
    run = sim.run(temperatures.size, temperature=temperatures)
    return np.concatenate([[m0], run.magnetisation])


def _trajectory_job(args: tuple[Any, ...]) -> FloatArray:
    return _trajectory(*args)


# ---------------------------------------------------------------------------
# The quench curve
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QuenchCurve:
    """A firing-rate curve: per-stimulus averages over seeds, with errors.

    Attributes
    ----------
    stimulus : ndarray, shape (n_s,)
    rate, rate_error : ndarray, shape (n_s,)
        Time magnetised (sweeps; the firing rate of one episode), mean over
        seeds and its standard error.
    integrated, integrated_error : ndarray, shape (n_s,)
        ``int m dt`` over the window (sweeps), mean and error.
    episodes, episodes_error : ndarray, shape (n_s,)
        Number of magnetised episodes, mean and error.
    per_seed_rate, per_seed_integrated : ndarray, shape (n_s, n_seeds)
    per_seed_episodes : ndarray of int, shape (n_s, n_seeds)
    mean_magnetisation : ndarray, shape (n_s, window + 1)
        Seed average of ``m`` at ``times``.
    times : ndarray, shape (window + 1,)
        Sample times ``0..window`` (sweeps).
    resting_magnetisation : float
        ``m_rest``: mean of ``m(t = 0)`` over all trajectories (for the
        mean-field curve, the equilibrium ``m(h_b; T0)``).
    protocol : QuenchProtocol
    source : str
        ``"lattice"`` or ``"glauber"``.
    lattice : str
        Description of the lattice (``"mean field"`` for ``source="glauber"``).
    coupling, zJ : float
        ``J`` and the mean-field coupling of the lattice (``T_c`` in mean field).
    seed, n_seeds : int
    tau : float
        Glauber relaxation time in sweeps (nan for a lattice curve).
    wall_time : float
        Seconds.
    """

    stimulus: FloatArray
    rate: FloatArray
    rate_error: FloatArray
    integrated: FloatArray
    integrated_error: FloatArray
    episodes: FloatArray
    episodes_error: FloatArray
    per_seed_rate: FloatArray = field(repr=False)
    per_seed_integrated: FloatArray = field(repr=False)
    per_seed_episodes: npt.NDArray[np.int64] = field(repr=False)
    mean_magnetisation: FloatArray = field(repr=False)
    times: FloatArray = field(repr=False)
    resting_magnetisation: float
    protocol: QuenchProtocol
    source: str
    lattice: str
    coupling: float
    zJ: float
    seed: int
    n_seeds: int
    tau: float
    wall_time: float

    @property
    def threshold_stimulus(self) -> float:
        """Mean-field ``r -> 0`` threshold ``(T0 - T_theta)/k`` with this ``zJ``."""
        return self.protocol.threshold_stimulus(self.zJ)

    def save(self, path: str, group: str = "quench") -> None:
        """Write arrays and metadata to an HDF5 file (group ``group``, overwritten)."""
        import h5py

        with h5py.File(path, "a") as f:
            if group in f:
                del f[group]
            g = f.create_group(group)
            for name in _CURVE_ARRAYS:
                g.create_dataset(name, data=getattr(self, name))
            for name in _CURVE_SCALARS:
                g.attrs[name] = getattr(self, name)
            for name, value in asdict(self.protocol).items():
                g.attrs[f"protocol.{name}"] = value


_CURVE_ARRAYS = (
    "stimulus",
    "rate",
    "rate_error",
    "integrated",
    "integrated_error",
    "episodes",
    "episodes_error",
    "per_seed_rate",
    "per_seed_integrated",
    "per_seed_episodes",
    "mean_magnetisation",
    "times",
)
_CURVE_SCALARS = (
    "resting_magnetisation",
    "source",
    "lattice",
    "coupling",
    "zJ",
    "seed",
    "n_seeds",
    "tau",
    "wall_time",
)


def load_curve(path: str, group: str = "quench") -> QuenchCurve:
    """Read a :class:`QuenchCurve` written by :meth:`QuenchCurve.save`."""
    import h5py

    with h5py.File(path, "r") as f:
        g = f[group]
        arrays = {name: np.asarray(g[name]) for name in _CURVE_ARRAYS}
        scalars: dict[str, Any] = {}
        for name in _CURVE_SCALARS:
            value = g.attrs[name]
            scalars[name] = value.item() if hasattr(value, "item") else value
        proto = {
            key.split(".", 1)[1]: (v.item() if hasattr(v, "item") else v)
            for key, v in g.attrs.items()
            if key.startswith("protocol.")
        }
    for name in ("source", "lattice"):
        if isinstance(scalars[name], bytes):
            scalars[name] = scalars[name].decode()
    kwargs: dict[str, Any] = {**arrays, **scalars}
    return QuenchCurve(**kwargs, protocol=QuenchProtocol(**proto))


def _stimuli(stimulus: npt.ArrayLike) -> FloatArray:
    s = _validate.float_array("stimulus", stimulus).reshape(-1)
    if s.size == 0:
        raise ValueError("stimulus is empty: give at least one value")
    if np.any(s < 0.0):
        raise ValueError("stimulus must be >= 0 (a quench cools, k s >= 0)")
    return s


def _summarise(
    stimulus: FloatArray,
    times: FloatArray,
    m: FloatArray,
    m_rest: float,
    protocol: QuenchProtocol,
) -> dict[str, Any]:
    """Threshold every trajectory, then average over seeds.

    ``m`` has shape (n_times, n_s, n_seeds).
    """
    counted = mf.time_magnetised(times, m, protocol.theta_on, protocol.theta_off)
    integrated = counted.integrated_magnetisation
    n = m.shape[2]

    def mean_err(x: npt.NDArray[Any]) -> tuple[FloatArray, FloatArray]:
        mean = x.mean(axis=1)
        err = (
            x.std(axis=1, ddof=1) / math.sqrt(n)
            if n > 1
            else np.full_like(mean, np.nan)
        )
        return mean.astype(np.float64), err.astype(np.float64)

    rate, rate_err = mean_err(counted.time)
    integ, integ_err = mean_err(integrated)
    episodes, episodes_err = mean_err(counted.episodes.astype(np.float64))
    return {
        "stimulus": stimulus,
        "rate": rate,
        "rate_error": rate_err,
        "integrated": integ,
        "integrated_error": integ_err,
        "episodes": episodes,
        "episodes_error": episodes_err,
        "per_seed_rate": counted.time,
        "per_seed_integrated": integrated,
        "per_seed_episodes": counted.episodes,
        "mean_magnetisation": m.mean(axis=2).T.copy(),
        "times": times,
        "resting_magnetisation": float(m_rest),
    }


def quench_curve(
    lattice: Lattice,
    stimulus: npt.ArrayLike,
    protocol: QuenchProtocol,
    *,
    coupling: float = 1.0,
    seeds: int = 32,
    seed: int = 0,
    threads: int | None = 1,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> QuenchCurve:
    """Measure the firing-rate curve of ``lattice`` under the quench protocol.

    Every (stimulus, replica) pair is an independent heat-bath
    :class:`neurophase.Simulation` with the seed
    :func:`trajectory_seed` ``(seed, i, j)``, equilibrated at ``T0`` in the
    bias field, then quenched; the trajectories are thresholded and averaged
    over the ``seeds`` replicas (module docstring).  The result is the same
    bitwise for any ``threads`` and ``workers``.

    Parameters
    ----------
    lattice : Lattice
        Any geometry; the complete graph is the mean-field membrane.
    stimulus : array_like, shape (n_s,)
        Stimuli ``s >= 0``.
    protocol : QuenchProtocol
        Its ``resting_temperature`` must exceed the lattice's
        :func:`critical_temperature` (the membrane rests above ``T_c``).
    coupling : float
        ``J > 0``.
    seeds : int
        Replicas per stimulus, ``>= 2`` (errors are standard errors over them).
    seed : int
        Base seed.
    threads : int or None
        OpenMP threads per simulation (None: all).
    workers : int
        Processes running trajectories in parallel (``1``: in this process; more
        use a ``forkserver``/``spawn`` process pool).
    progress : callable, optional
        Called as ``progress(done, total)`` after each trajectory.

    Returns
    -------
    QuenchCurve

    Raises
    ------
    ValueError
        If ``protocol.resting_temperature`` is not above the lattice's
        :func:`critical_temperature`, or another argument is out of range.
    """
    if not isinstance(lattice, Lattice):
        raise TypeError(f"lattice must be a neurophase.Lattice, got {lattice!r}")
    if not isinstance(protocol, QuenchProtocol):
        raise TypeError(f"protocol must be a QuenchProtocol, got {protocol!r}")
    s = _stimuli(stimulus)
    j = _validate.finite_float("coupling", coupling, positive=True)
    t_c = critical_temperature(lattice, j)
    if protocol.resting_temperature <= t_c:
        raise ValueError(
            "resting_temperature must exceed the critical temperature T_c = "
            f"{t_c:.6g} of {lattice.describe()} (J = {j:g}): the "
            "quench starts at rest above T_c; got "
            f"{protocol.resting_temperature:g}"
        )
    n_seeds = _validate.positive_int("seeds", seeds, minimum=2)
    base = _validate.seed(seed)
    n_workers = _validate.positive_int("workers", workers)
    if threads is not None:
        threads = _validate.positive_int("threads", threads)

    start = time.perf_counter()
    window = protocol.window(s)
    temps = protocol.sweep_temperatures(s, window)
    jobs = [
        (lattice, j, protocol, temps[:, i].copy(), trajectory_seed(base, i, r), threads)
        for i in range(s.size)
        for r in range(n_seeds)
    ]
    results: list[FloatArray] = []
    if n_workers == 1:
        for job in jobs:
            results.append(_trajectory_job(job))
            if progress is not None:
                progress(len(results), len(jobs))
    else:
        results = _run_pool(jobs, n_workers, progress)
    m = np.stack(results, axis=1).reshape(window + 1, s.size, n_seeds)
    times = np.arange(window + 1, dtype=np.float64)
    m_rest = float(m[0].mean())
    data = _summarise(s, times, m, m_rest, protocol)
    return QuenchCurve(
        **data,
        protocol=protocol,
        source="lattice",
        lattice=lattice.describe(),
        coupling=j,
        zJ=lattice.mean_field_coupling(j),
        seed=base,
        n_seeds=n_seeds,
        tau=math.nan,
        wall_time=time.perf_counter() - start,
    )


def _run_pool(
    jobs: Sequence[tuple[Any, ...]],
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> list[FloatArray]:
    """Run trajectory jobs in a process pool; results in job order."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    out: list[FloatArray | None] = [None] * len(jobs)
    with ProcessPoolExecutor(workers, mp_context=mp.get_context(method)) as pool:
        futures = {pool.submit(_trajectory_job, job): i for i, job in enumerate(jobs)}
        from concurrent.futures import as_completed

        for done, fut in enumerate(as_completed(futures), start=1):
            out[futures[fut]] = fut.result()
            if progress is not None:
                progress(done, len(jobs))
    return [x for x in out if x is not None]


def glauber_curve(
    stimulus: npt.ArrayLike,
    protocol: QuenchProtocol,
    *,
    zJ: float = 1.0,
    tau: float = SEQUENTIAL_SWEEP_TAU,
) -> QuenchCurve:
    """The mean-field Glauber firing-rate curve under the same protocol.

    Integrates ``tau dm/dt = -m + tanh((zJ m + h_b)/T(t))``
    (:func:`neurophase.meanfield.glauber_dynamics`) from the equilibrium
    ``m(h_b; T0)`` along the protocol's schedule, samples it at the lattice's
    times ``0..window`` (sweeps) and counts with the same thresholds.  ``tau``
    in sweeps: :data:`SEQUENTIAL_SWEEP_TAU` matches the engine's complete-graph
    sweep (module docstring), ``1`` is random-sequential updating.  The result
    has one "seed" and zero errors.

    Requires ``protocol.resting_temperature > T_c = zJ`` and
    ``protocol.bias > 0`` (at zero bias the deterministic trajectory stays on
    the unstable fixed point ``m = 0`` and never fires); raises ValueError
    otherwise.
    """
    if not isinstance(protocol, QuenchProtocol):
        raise TypeError(f"protocol must be a QuenchProtocol, got {protocol!r}")
    s = _stimuli(stimulus)
    zj = _validate.finite_float("zJ", zJ, positive=True)
    if protocol.resting_temperature <= zj:
        raise ValueError(
            f"resting_temperature must exceed T_c = zJ = {zj:g} (the quench "
            f"starts at rest above T_c), got {protocol.resting_temperature:g}"
        )
    if protocol.bias <= 0.0:
        raise ValueError(
            f"bias must be > 0 for the mean-field response, got {protocol.bias:g}: "
            "at bias 0 the trajectory stays on the unstable fixed point m = 0"
        )
    start = time.perf_counter()
    window = protocol.window(s)
    times = np.arange(window + 1, dtype=np.float64)
    hb = protocol.bias
    m_rest = float(
        activations.meanfield(
            hb, protocol.resting_temperature, zj, m_prev=1.0 if hb >= 0 else -1.0
        )
    )
    traj = mf.glauber_dynamics(
        times,
        protocol.schedule(s),
        hb,
        zJ=zj,
        m0=np.full(s.shape, m_rest),
        tau=tau,
    )
    counted = mf.time_magnetised(
        times, traj.magnetisation, protocol.theta_on, protocol.theta_off
    )
    zero = np.zeros(s.size)
    integrated = counted.integrated_magnetisation
    return QuenchCurve(
        stimulus=s,
        rate=counted.time,
        rate_error=zero,
        integrated=integrated,
        integrated_error=zero.copy(),
        episodes=counted.episodes.astype(np.float64),
        episodes_error=zero.copy(),
        per_seed_rate=counted.time[:, None],
        per_seed_integrated=integrated[:, None],
        per_seed_episodes=counted.episodes[:, None],
        mean_magnetisation=traj.magnetisation.T.copy(),
        times=times,
        resting_magnetisation=m_rest,
        protocol=protocol,
        source="glauber",
        lattice="mean field",
        coupling=zj,
        zJ=zj,
        seed=0,
        n_seeds=1,
        tau=float(tau),
        wall_time=time.perf_counter() - start,
    )


# ---------------------------------------------------------------------------
# Fits of the curve
# ---------------------------------------------------------------------------

Model = Literal["relu", "softplus", "power"]
_MODELS: tuple[str, ...] = ("relu", "softplus", "power")


def _relu(s: FloatArray, a: float, s0: float, c: float = 0.0) -> FloatArray:
    return c + a * np.maximum(s - s0, 0.0)


def _softplus(
    s: FloatArray, a: float, s0: float, w: float, c: float = 0.0
) -> FloatArray:
    return c + a * w * np.logaddexp(0.0, (s - s0) / w)


def _power(s: FloatArray, a: float, s0: float, x: float, c: float = 0.0) -> FloatArray:
    return c + a * np.maximum(s - s0, 0.0) ** x


@dataclass(frozen=True)
class CurveFit:
    """A weighted least-squares fit of one model to a response curve.

    Models (``c`` only with ``offset=True``):

    * ``"relu"``: ``c + a * max(0, s - s0)``;
    * ``"softplus"``: ``c + a * w * ln(1 + exp((s - s0)/w))`` (ReLU as ``w -> 0``);
    * ``"power"``: ``c + a * max(0, s - s0)**x`` (onset exponent ``x``).

    Attributes
    ----------
    model : str
    names : tuple of str
        Parameter names, in the order of ``values`` and ``errors``.
    values, errors : ndarray
        Best values and their standard errors (from the covariance with the
        given absolute errors; scaled by ``sqrt(chi2/ndof)`` when that exceeds 1).
    chi2 : float
    ndof : int
    """

    model: str
    names: tuple[str, ...]
    values: FloatArray
    errors: FloatArray
    chi2: float
    ndof: int

    def __getitem__(self, name: str) -> tuple[float, float]:
        """``(value, error)`` of parameter ``name``."""
        i = self.names.index(name)
        return float(self.values[i]), float(self.errors[i])

    def __call__(self, stimulus: npt.ArrayLike) -> FloatArray:
        """The fitted model at ``stimulus``."""
        s = np.asarray(stimulus, dtype=np.float64)
        funcs: dict[str, Callable[..., FloatArray]] = {
            "relu": _relu,
            "softplus": _softplus,
            "power": _power,
        }
        return np.asarray(funcs[self.model](s, *self.values))


def fit_curve(
    stimulus: npt.ArrayLike,
    response: npt.ArrayLike,
    error: npt.ArrayLike,
    model: Model = "relu",
    *,
    offset: bool = False,
    error_floor: float | None = None,
) -> CurveFit:
    """Fit a ReLU, softplus or power-law onset to a measured response curve.

    Weighted least squares (``scipy.optimize.curve_fit`` with absolute errors).
    Points whose error is zero (for example a rate that is 0 in every seed)
    get ``error_floor`` (default: the smallest positive error of the curve),
    so they pin the curve to zero without dividing by zero.

    Parameters
    ----------
    stimulus, response, error : array_like, shape (n,)
        The curve (e.g. :attr:`QuenchCurve.rate` and its error); ``n`` must
        exceed the number of parameters.
    model : {"relu", "softplus", "power"}
    offset : bool
        Add a constant ``c`` (e.g. the resting baseline of the integrated
        magnetisation).
    error_floor : float, optional
        ``> 0``.

    Returns
    -------
    CurveFit
    """
    if model not in _MODELS:
        raise ValueError(f"model must be one of {_MODELS}, got {model!r}")
    s = _validate.float_array("stimulus", stimulus).reshape(-1)
    y = _validate.float_array("response", response).reshape(-1)
    e = _validate.float_array("error", error).reshape(-1)
    if not s.size == y.size == e.size:
        raise ValueError(
            f"stimulus, response and error need one length, got {s.size}, {y.size}, "
            f"{e.size}"
        )
    if np.any(e < 0.0):
        raise ValueError("error must be >= 0")
    if error_floor is None:
        positive = e[e > 0.0]
        floor = float(positive.min()) if positive.size else 1e-6 * max(np.ptp(y), 1.0)
    else:
        floor = _validate.finite_float("error_floor", error_floor, positive=True)
    sigma = np.maximum(e, floor)

    # Starting values from the shape of the data: the slope of the upper half
    # and the stimulus where the response leaves its floor.
    c0 = float(y.min())
    top = s >= np.median(s)
    slope = float(np.polyfit(s[top], y[top], 1)[0]) if top.sum() >= 2 else 1.0
    slope = slope if slope > 0 else 1.0
    above = s[y > c0 + 0.05 * (y.max() - c0)]
    s0_guess = float(above.min()) if above.size else float(s.mean())
    names: tuple[str, ...]
    if model == "relu":
        func: Callable[..., FloatArray] = _relu
        names, p0 = ("a", "s0"), [slope, s0_guess]
        lower, upper = [0.0, -np.inf], [np.inf, np.inf]
    elif model == "softplus":
        func = _softplus
        w0 = max(0.05 * float(np.ptp(s)), 1e-3)
        names, p0 = ("a", "s0", "w"), [slope, s0_guess, w0]
        lower, upper = [0.0, -np.inf, 1e-9], [np.inf, np.inf, np.inf]
    else:
        func = _power
        names, p0 = ("a", "s0", "x"), [slope, s0_guess - 0.05 * np.ptp(s), 1.0]
        lower, upper = [0.0, -np.inf, 0.05], [np.inf, float(s.max()), 10.0]
    if offset:
        names, p0 = (*names, "c"), [*p0, c0]
        lower, upper = [*lower, -np.inf], [*upper, np.inf]
    if s.size <= len(names):
        raise ValueError(
            f"{model} fit needs more than {len(names)} points, got {s.size}"
        )
    values, cov = optimize.curve_fit(
        func,
        s,
        y,
        p0=p0,
        sigma=sigma,
        absolute_sigma=True,
        bounds=(lower, upper),
        maxfev=20000,
    )
    resid = (y - func(s, *values)) / sigma
    chi2 = float(resid @ resid)
    ndof = s.size - len(names)
    scale = max(1.0, chi2 / ndof)
    errors = np.sqrt(np.clip(np.diag(cov), 0.0, None) * scale)
    return CurveFit(model, names, np.asarray(values), errors, chi2, ndof)


@dataclass(frozen=True)
class ThresholdExtrapolation:
    """The apparent threshold ``s0(r)`` at several rates and its ``r -> 0`` limit.

    Attributes
    ----------
    rates : ndarray, shape (n_r,)
    thresholds, threshold_errors : ndarray, shape (n_r,)
        ``s0(r)``: where the straight part of the rate curve (points with a
        rate in every seed) extrapolates to zero, with errors.
    slopes, slope_errors : ndarray, shape (n_r,)
        Fitted slope of the rate curve at each rate (``k/r`` in the limit).
    s0, s0_error : float
        Intercept of the weighted fit ``s0(r) = s0 + c1 r`` (+ ``c2 r^2`` when
        ``order=2``).
    coefficients : ndarray
        ``(s0, c1[, c2])``.
    chi2 : float
    ndof : int
    """

    rates: FloatArray
    thresholds: FloatArray
    threshold_errors: FloatArray
    slopes: FloatArray
    slope_errors: FloatArray
    s0: float
    s0_error: float
    coefficients: FloatArray
    chi2: float
    ndof: int


def _apparent_threshold(
    curve: QuenchCurve, min_stimulus: float
) -> tuple[float, float, float, float]:
    """Zero of a line through the points magnetised in every seed, s >= min."""
    above = np.all(curve.per_seed_rate > 0.0, axis=1) & (curve.stimulus >= min_stimulus)
    if above.sum() < 3:
        raise ValueError(
            f"the curve at rate {curve.protocol.rate} has {int(above.sum())} stimuli "
            "magnetised in every seed; need at least 3 above threshold"
        )
    s, y, e = curve.stimulus[above], curve.rate[above], curve.rate_error[above]
    positive = e[e > 0.0]
    sigma = np.maximum(e, positive.min() if positive.size else 1e-9)
    fit = fit_curve(s, y, sigma, "relu", error_floor=float(sigma.min()))
    a, a_err = fit["a"]
    s0, s0_err = fit["s0"]
    return s0, s0_err, a, a_err


def extrapolate_threshold(
    curves: Sequence[QuenchCurve], *, order: int = 1, min_stimulus: float = 0.0
) -> ThresholdExtrapolation:
    """Extrapolate the apparent quench threshold to ``r -> 0``.

    At each rate the straight part of the curve (stimuli magnetised in every
    seed) is fitted with a line ``a (s - s0(r))``; at finite ``r`` the lattice
    lags the reheating, which moves ``s0(r)`` by an amount that vanishes with
    ``r`` (the lag in sweeps times ``r/k``), so ``s0(r)`` is fitted with a
    polynomial of ``order`` 1 or 2 in ``r`` and its intercept is the ``r -> 0``
    threshold, to compare with ``(T0 - T_theta)/k``.  Needs curves of one
    protocol apart from the rate (linear reheating), more rates than
    ``order + 1``.

    Close to the threshold the time the lattice needs to order grows and
    depends on ``r`` itself (the dynamic, Kibble-Zurek-like regime), so the
    line is fitted only to stimuli ``>= min_stimulus``: give the same set of
    stimuli, well above threshold, at every rate; then the lag is a fixed
    number of sweeps per stimulus and the shift of ``s0(r)`` is linear in ``r``.
    """
    min_s = _validate.finite_float("min_stimulus", min_stimulus)
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    if len(curves) <= order + 1:
        raise ValueError(
            f"need more than {order + 1} curves (rates), got {len(curves)}"
        )
    for c in curves:
        if c.protocol.reheating != "linear":
            raise ValueError("threshold extrapolation needs linear reheating")
    rates = np.array([c.protocol.rate for c in curves])
    if np.unique(rates).size != rates.size:
        raise ValueError("the curves must have distinct reheating rates")
    fits = np.array([_apparent_threshold(c, min_s) for c in curves])
    s0r, s0r_err = fits[:, 0], fits[:, 1]
    # Deterministic (Glauber) curves have zero error: weigh them equally.
    w_err = np.where(s0r_err > 0.0, s0r_err, 1.0)
    design = np.vander(rates, order + 1, increasing=True)
    weighted = design / w_err[:, None]
    coef, *_ = np.linalg.lstsq(weighted, s0r / w_err, rcond=None)
    cov = np.linalg.inv(weighted.T @ weighted)
    resid = (s0r - design @ coef) / w_err
    chi2 = float(resid @ resid)
    ndof = rates.size - (order + 1)
    err0 = math.sqrt(cov[0, 0]) if np.all(s0r_err > 0.0) else 0.0
    return ThresholdExtrapolation(
        rates=rates,
        thresholds=s0r,
        threshold_errors=s0r_err,
        slopes=fits[:, 2],
        slope_errors=fits[:, 3],
        s0=float(coef[0]),
        s0_error=err0,
        coefficients=np.asarray(coef, dtype=np.float64),
        chi2=chi2,
        ndof=ndof,
    )


# ---------------------------------------------------------------------------
# Equilibrium response m(h) and the field hysteresis loop
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EquilibriumResponse:
    """Equilibrium ``m(h)`` of a lattice at fixed ``T``, beside the theories.

    Attributes
    ----------
    field : ndarray, shape (n_h,)
    magnetisation, magnetisation_error : ndarray, shape (n_h,)
        Lattice ``<m>`` per field, with autocorrelation-aware errors.
    mean_field, bethe, exact, tanh : ndarray, shape (n_h,)
        Mean field ``m = tanh((zJ m + h)/T)``; Bethe–Peierls (``nan`` for
        ``z <= 2``); the exact infinite chain (``nan`` unless the lattice is a
        chain); independent channels ``tanh(h/T)``.
    gain, gain_error : float
        Lattice ``dm/dh`` at ``h = 0`` from the fluctuations,
        ``beta N (<m^2> - <m>^2)``.
    gain_mean_field, gain_bethe, gain_exact, gain_tanh : float
        The same from the theories: mean field (``1/(T - zJ)`` above its
        ``T_c``; below it, at the ordered root), Bethe–Peierls, the exact chain
        (``nan`` where not applicable), ``1/T``.
    temperature, coupling, zJ : float
    lattice : str
    sweeps, seed : int
    """

    field: FloatArray
    magnetisation: FloatArray
    magnetisation_error: FloatArray
    mean_field: FloatArray
    bethe: FloatArray
    exact: FloatArray
    tanh: FloatArray
    gain: float
    gain_error: float
    gain_mean_field: float
    gain_bethe: float
    gain_exact: float
    gain_tanh: float
    temperature: float
    coupling: float
    zJ: float
    lattice: str
    sweeps: int
    seed: int

    def save(self, path: str, group: str = "response") -> None:
        """Write arrays and metadata to an HDF5 file (group ``group``, overwritten)."""
        _save_dataclass(self, path, group)


def _save_dataclass(obj: Any, path: str, group: str) -> None:
    import h5py

    with h5py.File(path, "a") as f:
        if group in f:
            del f[group]
        g = f.create_group(group)
        for name, value in asdict(obj).items():
            if isinstance(value, np.ndarray):
                g.create_dataset(name, data=value)
            else:
                g.attrs[name] = value


def _is_chain(lattice: Lattice) -> bool:
    return not lattice.is_complete and lattice.dimension == 1 and lattice.periodic


def equilibrium_response(
    lattice: Lattice,
    temperature: float,
    fields: npt.ArrayLike,
    *,
    coupling: float = 1.0,
    sweeps: int = 4000,
    equilibration: int = 500,
    seed: int = 0,
    threads: int | None = 1,
) -> EquilibriumResponse:
    """Measure the lattice's equilibrium ``m(h)`` and gain at fixed ``T``.

    One heat-bath simulation per field (seed :func:`trajectory_seed`
    ``(seed, i, 0)``), ``equilibration`` sweeps discarded and ``sweeps``
    recorded; the mean and its autocorrelation-aware error come from
    :meth:`neurophase.Run.summary`.  The gain is measured at ``h = 0`` from the
    fluctuations (an extra run).  The theories are evaluated at the same
    ``(h, T)`` with the lattice's mean-field ``zJ`` and coordination.

    Parameters
    ----------
    lattice : Lattice
    temperature : float
        ``T > 0``; meant for ``T > T_c`` (one equilibrium state).
    fields : array_like, shape (n_h,)
    coupling : float
        ``J > 0``.
    sweeps, equilibration : int
        Recorded sweeps (``>= 100``) and discarded sweeps (``>= 0``).
    seed : int
    threads : int or None
    """
    if not isinstance(lattice, Lattice):
        raise TypeError(f"lattice must be a neurophase.Lattice, got {lattice!r}")
    t = _validate.finite_float("temperature", temperature, positive=True)
    h = _validate.float_array("fields", fields).reshape(-1)
    if h.size == 0:
        raise ValueError("fields is empty: give at least one field")
    j = _validate.finite_float("coupling", coupling, positive=True)
    n_sweeps = _validate.positive_int("sweeps", sweeps, minimum=100)
    n_eq = _validate.positive_int("equilibration", equilibration, minimum=0)
    base = _validate.seed(seed)

    def summary(h_value: float, index: int) -> Any:
        sim = Simulation(
            lattice,
            coupling=j,
            field=h_value,
            algorithm="heat-bath",
            seed=trajectory_seed(base, index, 0),
            threads=threads,
        )
        sim.run(n_eq, temperature=t, record=False)
        return sim.run(n_sweeps, temperature=t).summary()

    estimates = [summary(float(x), i).magnetisation for i, x in enumerate(h)]
    # Limitation: the gain is the finite lattice's susceptibility at h = 0; near
    # T_c it is cut off by the size, so it approaches the bulk value only for L >> xi.
    chi = summary(0.0, h.size).susceptibility_connected

    zj = lattice.mean_field_coupling(j)
    z = lattice.coordination
    mean_field = np.asarray(activations.meanfield(h, t, zj), dtype=np.float64)
    if z > 2:
        bethe = np.asarray(
            mf.bethe_magnetisation(t, h, coordination=z, coupling=j), dtype=np.float64
        )
        gain_bethe = float(mf.bethe_susceptibility(t, 0.0, coordination=z, coupling=j))
    else:
        bethe, gain_bethe = np.full(h.size, np.nan), math.nan
    if _is_chain(lattice):
        exact_m = np.array(
            [exact.chain_infinite(t, j, float(x)).magnetisation for x in h]
        )
        gain_exact = float(exact.chain_infinite(t, j, 0.0).susceptibility)
    else:
        exact_m, gain_exact = np.full(h.size, np.nan), math.nan
    return EquilibriumResponse(
        field=h,
        magnetisation=np.array([e.value for e in estimates]),
        magnetisation_error=np.array([e.error for e in estimates]),
        mean_field=mean_field,
        bethe=bethe,
        exact=exact_m,
        tanh=np.tanh(h / t),
        gain=float(chi.value),
        gain_error=float(chi.error),
        gain_mean_field=float(mf.susceptibility(t, 0.0, zj)),
        gain_bethe=gain_bethe,
        gain_exact=gain_exact,
        gain_tanh=1.0 / t,
        temperature=t,
        coupling=j,
        zJ=zj,
        lattice=lattice.describe(),
        sweeps=n_sweeps,
        seed=base,
    )


@dataclass(frozen=True)
class FieldHysteresis:
    """A field loop on the lattice below ``T_c``, beside the mean-field spinodal.

    The field rises linearly from ``-A`` to ``+A`` and falls back, one step per
    sweep, starting from all channels closed (``m = -1``).

    Attributes
    ----------
    field : ndarray, shape (n,)
        Ascending field of each sweep of the rising branch.
    up, down, up_error, down_error : ndarray, shape (n,)
        Seed-averaged ``m`` on the rising and falling branches (the falling one
        reordered to ascending field) and standard errors over seeds.
    coercive_field, coercive_field_error : float
        Field where the rising branch crosses ``m = 0`` (per seed, then
        averaged).
    spinodal_field : float
        Mean-field spinodal ``h_s(T, zJ)``: the coercive field of a
        quasi-static mean-field loop (no nucleation).
    mean_field_up, mean_field_down : ndarray, shape (n,)
        Quasi-static mean-field branches (:func:`neurophase.meanfield.hysteresis_loop`
        sampled at ``field``).
    temperature, coupling, zJ, amplitude : float
    sweeps_per_branch, seeds, seed : int
    lattice : str
    """

    field: FloatArray
    up: FloatArray
    down: FloatArray
    up_error: FloatArray
    down_error: FloatArray
    coercive_field: float
    coercive_field_error: float
    spinodal_field: float
    mean_field_up: FloatArray
    mean_field_down: FloatArray
    temperature: float
    coupling: float
    zJ: float
    amplitude: float
    sweeps_per_branch: int
    seeds: int
    seed: int
    lattice: str

    def save(self, path: str, group: str = "hysteresis") -> None:
        """Write arrays and metadata to an HDF5 file (group ``group``, overwritten)."""
        _save_dataclass(self, path, group)


def _rising_crossing(h: FloatArray, m: FloatArray) -> float:
    above = np.flatnonzero(m >= 0.0)
    if above.size == 0:
        return math.nan
    i = int(above[0])
    if i == 0:
        return float(h[0])
    return float(h[i - 1] + (h[i] - h[i - 1]) * (-m[i - 1]) / (m[i] - m[i - 1]))


def field_hysteresis(
    lattice: Lattice,
    temperature: float,
    amplitude: float,
    *,
    coupling: float = 1.0,
    sweeps_per_branch: int = 2000,
    seeds: int = 4,
    seed: int = 0,
    threads: int | None = 1,
) -> FieldHysteresis:
    """Measure a field hysteresis loop of the lattice (heat-bath sweeps).

    Each seed starts from ``m = -1`` (``-A`` favours it) and runs
    ``2 * sweeps_per_branch`` sweeps with the field ramped linearly
    ``-A -> +A -> -A`` (field per sweep ``2A / sweeps_per_branch``).  Below
    ``T_c`` the lattice reverses by nucleation before the mean-field spinodal
    field; slower ramps narrow the loop.

    Parameters
    ----------
    lattice : Lattice
    temperature : float
        ``0 < T`` (below ``T_c`` for a loop).
    amplitude : float
        ``A > 0``.
    coupling : float
        ``J > 0``.
    sweeps_per_branch : int
        ``>= 10``.
    seeds : int
        ``>= 2``.
    seed : int
    threads : int or None
    """
    if not isinstance(lattice, Lattice):
        raise TypeError(f"lattice must be a neurophase.Lattice, got {lattice!r}")
    t = _validate.finite_float("temperature", temperature, positive=True)
    a = _validate.finite_float("amplitude", amplitude, positive=True)
    j = _validate.finite_float("coupling", coupling, positive=True)
    n = _validate.positive_int("sweeps_per_branch", sweeps_per_branch, minimum=10)
    n_seeds = _validate.positive_int("seeds", seeds, minimum=2)
    base = _validate.seed(seed)

    # Limitation: a lattice loop depends on the ramp rate (nucleation takes time);
    # the mean-field branches beside it are the quasi-static (rate -> 0) ones.
    up_field = np.linspace(-a, a, n)
    schedule = np.concatenate([up_field, up_field[::-1]])
    ups, downs, coercive = [], [], []
    for r in range(n_seeds):
        sim = Simulation(
            lattice,
            coupling=j,
            algorithm="heat-bath",
            seed=trajectory_seed(base, 0, r),
            start=-np.ones(lattice.shape, dtype=np.int8),
            threads=threads,
        )
        m = sim.run(2 * n, temperature=t, field_schedule=schedule).magnetisation
        ups.append(m[:n])
        downs.append(m[n:][::-1])
        coercive.append(_rising_crossing(up_field, m[:n]))
    up_arr, down_arr = np.array(ups), np.array(downs)
    hc = np.array(coercive)
    zj = lattice.mean_field_coupling(j)
    loop = mf.hysteresis_loop(t, zj, field_amplitude=a, points=n)
    sqrt_n = math.sqrt(n_seeds)
    return FieldHysteresis(
        field=up_field,
        up=up_arr.mean(axis=0),
        down=down_arr.mean(axis=0),
        up_error=up_arr.std(axis=0, ddof=1) / sqrt_n,
        down_error=down_arr.std(axis=0, ddof=1) / sqrt_n,
        coercive_field=float(np.mean(hc)),
        coercive_field_error=float(np.std(hc, ddof=1) / sqrt_n),
        spinodal_field=float(mf.spinodal(t, zj)[1]),
        mean_field_up=np.interp(up_field, loop.field, np.asarray(loop.up)),
        mean_field_down=np.interp(up_field, loop.field, np.asarray(loop.down)),
        temperature=t,
        coupling=j,
        zJ=zj,
        amplitude=a,
        sweeps_per_branch=n,
        seeds=n_seeds,
        seed=base,
        lattice=lattice.describe(),
    )


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def curve_figure(
    curves: Sequence[QuenchCurve],
    *,
    quantity: Literal["rate", "integrated"] = "rate",
    fits: Sequence[CurveFit] = (),
) -> Figure:
    """Firing-rate (or integrated-magnetisation) curves with error bars.

    Lattice curves are drawn as points with errors, Glauber curves as lines;
    each fit in ``fits`` as a dashed line; the ``r -> 0`` mean-field threshold
    of the first curve as a vertical line.  Returns a
    :class:`matplotlib.figure.Figure` (no pyplot state).
    """
    from matplotlib.figure import Figure

    if quantity not in ("rate", "integrated"):
        raise ValueError(f"quantity must be 'rate' or 'integrated', got {quantity!r}")
    fig = Figure(figsize=(5.6, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for c in curves:
        y, e = getattr(c, quantity), getattr(c, f"{quantity}_error")
        label = f"{c.lattice}, r = {c.protocol.rate:g}"
        if c.source == "glauber":
            ax.plot(
                c.stimulus,
                y,
                "-",
                label=f"Glauber (tau = {c.tau:g}), r = {c.protocol.rate:g}",
            )
        else:
            ax.errorbar(c.stimulus, y, e, fmt="o", ms=3, capsize=2, label=label)
    if curves:
        s = np.linspace(
            min(c.stimulus.min() for c in curves),
            max(c.stimulus.max() for c in curves),
            300,
        )
        for f in fits:
            ax.plot(s, f(s), "--", lw=1, label=f"{f.model} fit")
        if curves[0].zJ > 0 and curves[0].protocol.bias >= 0:
            ax.axvline(curves[0].threshold_stimulus, color="0.6", lw=0.8)
    ax.set_xlabel("stimulus s")
    ax.set_ylabel(
        "time magnetised (sweeps)" if quantity == "rate" else "integrated m (sweeps)"
    )
    ax.set_title("Quench response")
    ax.legend(fontsize="small")
    return fig


def response_figure(response: EquilibriumResponse) -> Figure:
    """Lattice ``m(h)`` with errors beside mean field, Bethe–Peierls, the exact
    chain (where defined) and ``tanh(h/T)``; the gains in the title."""
    from matplotlib.figure import Figure

    r = response
    fig = Figure(figsize=(5.6, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.errorbar(
        r.field,
        r.magnetisation,
        r.magnetisation_error,
        fmt="o",
        ms=3,
        capsize=2,
        label=r.lattice,
    )
    ax.plot(r.field, r.mean_field, "-", label="mean field")
    if np.all(np.isfinite(r.bethe)):
        ax.plot(r.field, r.bethe, "--", label="Bethe–Peierls")
    if np.all(np.isfinite(r.exact)):
        ax.plot(r.field, r.exact, ":", label="exact chain")
    ax.plot(r.field, r.tanh, "-.", label="tanh(h/T)")
    ax.set_xlabel("field h")
    ax.set_ylabel("magnetisation m")
    ax.set_title(
        f"T = {r.temperature:g}: gain {r.gain:.3g} ± {r.gain_error:.2g} "
        f"(tanh {r.gain_tanh:.3g})",
        fontsize="medium",
    )
    ax.legend(fontsize="small")
    return fig


def hysteresis_figure(loop: FieldHysteresis) -> Figure:
    """The lattice field loop beside the quasi-static mean-field loop and its
    spinodal fields."""
    from matplotlib.figure import Figure

    h = loop
    fig = Figure(figsize=(5.6, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(h.field, h.up, "-", color="C0", label=f"{h.lattice}, rising")
    ax.plot(h.field, h.down, "-", color="C1", label="falling")
    ax.plot(h.field, h.mean_field_up, ":", color="C0", label="mean field")
    ax.plot(h.field, h.mean_field_down, ":", color="C1")
    for sign in (-1.0, 1.0):
        ax.axvline(sign * h.spinodal_field, color="0.6", lw=0.8)
    ax.set_xlabel("field h")
    ax.set_ylabel("magnetisation m")
    ax.set_title(
        f"T = {h.temperature:g}: coercive {h.coercive_field:.3g} ± "
        f"{h.coercive_field_error:.2g}, spinodal {h.spinodal_field:.3g}",
        fontsize="medium",
    )
    ax.legend(fontsize="small")
    return fig
