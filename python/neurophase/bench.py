"""Throughput of the lattice engines and the activation kernels: ``neurophase bench``.

:func:`run` times, in one process and one run,

1. the lattice engines on periodic ``L x L`` square lattices at ``T = 2.269``
   (near ``T_c``), in spin-flip **attempts per nanosecond**: the byte-per-spin
   checkerboard Metropolis and heat-bath engines and the multi-spin-coded
   Metropolis (``metropolis-msc``), for each thread count, with the speed-up over
   the fewest threads; Wolff in flipped spins per nanosecond (one thread);
2. the activation kernels in **elements per nanosecond** beside the NumPy
   expression of the same function on the same array (``logistic`` vs
   ``1/(1+np.exp(-x))``, ``tanh`` vs ``np.tanh``, ``softplus`` vs
   ``np.logaddexp(0, x)``; float64 and float32), and the mean-field activation's
   cost per element beside ``np.tanh`` and beside SciPy's ``brentq`` per element;
3. the machine and the build (:func:`neurophase.build_info` and more).

Method (the same helpers serve the scripts in ``benchmarks/``): every workload is
first calibrated, which doubles as its warm-up, so that one repeat lasts about a
target time; then the repeats of all workloads of one group run round-robin
(A, B, C, A, B, C, ...), so that load from other processes hits all of them
alike. Each number is the **median** over the repeats and each ratio is formed
from medians of the **same run**. On a shared machine absolute rates move from
run to run; compare the ratios.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from . import _io
from ._info import build_info
from .lattice import Lattice
from .simulation import Algorithm, Simulation

__all__ = [
    "MAX_THREADS",
    "BenchReport",
    "BenchTable",
    "RateSample",
    "Workload",
    "calibrate",
    "call_workload",
    "check_threads",
    "interleaved_rates",
    "machine_info",
    "parse_threads",
    "per_ns",
    "run",
]

#: Largest thread count :func:`run` accepts.
MAX_THREADS = 64

#: Temperature of the engine timings: near the 2D critical point 2.269185.
T_ENGINE = 2.269

#: Mean-field activation parameters of the timing: below ``T_c = zJ``, so small
#: ``|h|`` has three roots (the expensive case).
T_MF, ZJ_MF = 0.8, 1.0

# A workload does ``n`` units of its calibrated count (calls, sweeps, passes) and
# returns (seconds, work done), the work in the unit its rate is quoted in.
Workload = Callable[[int], tuple[float, float]]


# ---------------------------------------------------------------------------
# Result tables
# ---------------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if not math.isfinite(value):
        return "n/a"
    a = abs(value)
    if a == 0.0:
        return "0"
    if a >= 100.0:
        return f"{value:.0f}"
    if a >= 0.01:
        return f"{value:.3g}" if a < 10.0 else f"{value:.1f}"
    return f"{value:.2e}"


@dataclass
class BenchTable:
    """One table of timings: a title, column names, rows of cells and notes.

    Attributes
    ----------
    title : str
        What the table measures.
    columns : list of str
        Column names (units in the name, e.g. ``attempts/ns``).
    rows : list of list
        One list of cells per row, each a ``str``, ``int`` or ``float`` (so the
        table is JSON-able); a value that does not apply is the string ``"n/a"``.
    notes : list of str
        One-line explanations: what is measured, units, caveats of this run.
    """

    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)

    def text_rows(self) -> list[list[str]]:
        """The rows as display strings (floats to about 3 significant digits)."""
        return [[_cell_text(c) for c in row] for row in self.rows]

    def to_markdown(self) -> str:
        """The table as GitHub Markdown: a bold title, the table, notes as bullets."""
        lines = [f"**{self.title}**", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in self.text_rows()]
        if self.notes:
            lines.append("")
            lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        """The table as Markdown text (:meth:`to_markdown`), for ``print()``."""
        return self.to_markdown().rstrip("\n")

    def to_dict(self) -> dict[str, Any]:
        """``{"title", "columns", "rows", "notes"}`` with JSON-able values."""
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [_jsonable(list(r)) for r in self.rows],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchTable:
        """The table written by :meth:`to_dict`."""
        return cls(
            title=str(data["title"]),
            columns=list(data["columns"]),
            rows=[list(r) for r in data["rows"]],
            notes=list(data.get("notes", [])),
        )


@dataclass
class BenchReport:
    """Everything one :func:`run` measured.

    Attributes
    ----------
    tables : list of BenchTable
        Engines, Wolff, activation kernels, mean-field activation, machine.
    machine : dict
        :func:`neurophase.build_info` plus CPU model, Python, NumPy and SciPy
        versions, platform, load averages at start and end, date.
    quick : bool
        Whether the quick set of sizes and shorter repeats was run.
    wall_time_s : float
        Wall time of the whole run, in seconds.
    """

    tables: list[BenchTable]
    machine: dict[str, Any]
    quick: bool
    wall_time_s: float

    def table(self, title_start: str) -> BenchTable:
        """The first table whose title starts with ``title_start``."""
        for t in self.tables:
            if t.title.startswith(title_start):
                return t
        raise KeyError(f"no table titled {title_start!r}...")

    def to_markdown(self) -> str:
        """A Markdown report: a heading line, then every table with its notes."""
        mode = "quick" if self.quick else "full"
        head = (
            f"neurophase {self.machine.get('version', '?')} bench ({mode}, "
            f"{self.wall_time_s:.1f} s, {self.machine.get('cpu_model', '?')}, "
            f"{self.machine.get('usable_cores', '?')} usable cores)"
        )
        return "\n".join([head, ""] + [t.to_markdown() for t in self.tables])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dictionary (``json.dumps`` works on it unchanged)."""
        return {
            "format": "neurophase-bench/1",
            "quick": self.quick,
            "wall_time_s": self.wall_time_s,
            "machine": _jsonable(self.machine),
            "tables": [t.to_dict() for t in self.tables],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchReport:
        """The report written by :meth:`to_dict` (or read back from JSON)."""
        return cls(
            tables=[BenchTable.from_dict(t) for t in data["tables"]],
            machine=dict(data["machine"]),
            quick=bool(data["quick"]),
            wall_time_s=float(data["wall_time_s"]),
        )

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` as JSON to ``path`` atomically (temp file + rename).

        Raises
        ------
        OSError
            If the folder of ``path`` does not exist or cannot be written.
        """
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"

        def write(f: IO[bytes]) -> None:
            f.write(text.encode())

        _io.write_atomically(path, write)


def _jsonable(value: Any) -> Any:
    """``value`` with tuples as lists and non-finite floats as strings."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


# ---------------------------------------------------------------------------
# Timing helpers (also used by benchmarks/)
# ---------------------------------------------------------------------------


def per_ns(units: float, seconds: float) -> float:
    """Throughput in units per nanosecond: ``units / (seconds * 1e9)``.

    NaN when ``seconds`` is not positive (a timer too coarse for the call).
    """
    return units / (seconds * 1e9) if seconds > 0.0 else math.nan


@dataclass
class RateSample:
    """Rates of one workload over interleaved repeats, in units per nanosecond.

    Attributes
    ----------
    count : int
        Calls (sweeps, passes) per repeat, chosen by :func:`calibrate`.
    rates : list of float
        One rate per repeat.
    cpu_per_wall : float
        CPU time of this process (all its threads) over wall time, summed over
        the repeats: about 1 for one thread that had a core to itself, about 2
        for two threads that each had one, less when other processes took
        turns on the cores. NaN when not measured.
    """

    count: int
    rates: list[float]
    cpu_per_wall: float = math.nan

    @property
    def median(self) -> float:
        """Median rate over the finite repeats (NaN if none)."""
        v = [r for r in self.rates if math.isfinite(r)]
        return statistics.median(v) if v else math.nan

    @property
    def best(self) -> float:
        """Highest rate (the least disturbed repeat; NaN if none)."""
        v = [r for r in self.rates if math.isfinite(r)]
        return max(v) if v else math.nan

    @property
    def spread(self) -> float:
        """``(max - min) / median`` of the rates: the noise of this run."""
        v = [r for r in self.rates if math.isfinite(r)]
        if len(v) < 2 or not self.median > 0.0:
            return math.nan
        return (max(v) - min(v)) / self.median


def calibrate(workload: Workload, target_s: float, max_count: int = 1 << 24) -> int:
    """Count (calls, sweeps) for one repeat of ``workload`` to last ``target_s``.

    Runs the workload with 1, 2, 4, ... units until a run lasts a quarter of the
    target, then scales; the probe runs are the warm-up (caches, thread pools,
    lazy initialisation). Returns at least 1, so a workload slower than the
    target runs once per repeat.
    """
    n = 1
    while True:
        seconds, _ = workload(n)
        if seconds >= 0.25 * target_s or n >= max_count:
            return max(1, min(max_count, round(n * target_s / max(seconds, 1e-9))))
        n *= 2


def interleaved_rates(
    workloads: Mapping[str, Workload],
    *,
    target_s: float,
    repeats: int,
    counts: Mapping[str, int] | None = None,
) -> dict[str, RateSample]:
    """Calibrate every workload, then time ``repeats`` repeats round-robin.

    The repeats run A, B, C, A, B, C, ... so that a change of the machine's load
    hits every workload alike and ratios of medians of one call are fair. Rates
    are ``work / seconds / 1e9`` (work units per nanosecond); the process's CPU
    time per wall time over the repeats is kept too. ``counts`` fixes the count
    of some workloads instead of calibrating them.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    given = dict(counts or {})
    n = {
        k: given[k] if k in given else calibrate(w, target_s)
        for k, w in workloads.items()
    }
    rates: dict[str, list[float]] = {k: [] for k in workloads}
    cpu = dict.fromkeys(workloads, 0.0)
    wall = dict.fromkeys(workloads, 0.0)
    for _ in range(repeats):
        for k, w in workloads.items():
            c0, w0 = time.process_time(), time.perf_counter()
            seconds, work = w(n[k])
            cpu[k] += time.process_time() - c0
            wall[k] += time.perf_counter() - w0
            rates[k].append(per_ns(work, seconds))
    return {
        k: RateSample(n[k], rates[k], cpu[k] / wall[k] if wall[k] > 0 else math.nan)
        for k in workloads
    }


def call_workload(f: Callable[[Any], Any], x: npt.NDArray[Any]) -> Workload:
    """A workload calling ``f(x)`` ``n`` times; its work is ``n * x.size`` elements."""

    def work(n: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        for _ in range(n):
            f(x)
        return time.perf_counter() - t0, float(n * x.size)

    return work


def parse_threads(text: str, name: str = "--threads") -> list[int]:
    """Parse ``"1,2"`` into thread counts, each an integer in 1..MAX_THREADS.

    The counts are returned as given (:func:`run` lowers those above the usable
    cores, with a note). Raises ValueError naming ``name`` and the allowed range
    on anything else.
    """
    allowed = f"comma-separated integers in 1..{MAX_THREADS}"
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or any(not p for p in parts):
        raise ValueError(f"{name} must be {allowed}, got {text!r}")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"{name} must be {allowed}, got {text!r}") from None
    _check_range(values, name)
    return values


def _check_range(values: list[Any], name: str) -> None:
    allowed = f"integers in 1..{MAX_THREADS}"
    if not values:
        raise ValueError(f"{name} must be one or more {allowed}, got none")
    for t in values:
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)):
            raise ValueError(f"{name} must be {allowed}, got {t!r}")
        if not 1 <= int(t) <= MAX_THREADS:
            raise ValueError(f"{name} must be {allowed}, got {int(t)}")


def _usable_cores() -> int:
    # Limitation: the usable cores come from the CPU affinity mask; a CPU quota
    # of a container (cgroup cpu.max) is not seen, so clamping may allow too many.
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_threads(
    threads: Iterable[Any] | None, name: str = "threads"
) -> tuple[list[int], list[str]]:
    """Validate thread counts and clamp them to the usable cores.

    Returns the sorted distinct counts to run and notes saying what was clamped.
    ``None`` means 1 and 2. Each count must be an integer in 1..MAX_THREADS
    (ValueError naming ``name`` otherwise); counts above the cores this process
    may use are lowered to that number, with a note.
    """
    values = [1, 2] if threads is None else list(threads)
    _check_range(values, name)
    cores = _usable_cores()
    notes = []
    too_many = sorted({int(t) for t in values if t > cores})
    if too_many:
        notes.append(
            f"threads {', '.join(map(str, too_many))} lowered to {cores}: this "
            f"process may use {cores} core(s)"
        )
    return sorted({min(int(t), cores) for t in values}), notes


# ---------------------------------------------------------------------------
# Machine description
# ---------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _load_average() -> list[float] | str:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return "n/a"


def machine_info() -> dict[str, Any]:
    """:func:`neurophase.build_info` plus CPU model, versions, platform and load.

    Keys added to the build information: ``cpu_model``, ``python``, ``numpy``,
    ``scipy`` (or ``"not installed"``), ``platform``, ``load_average`` (1, 5 and
    15 minute load averages, as ``os.getloadavg``) and ``date`` (UTC, ISO 8601).
    """
    info = dict(build_info())
    info["cpu_model"] = _cpu_model()
    info["python"] = platform.python_version()
    info["numpy"] = np.__version__
    try:
        import scipy

        info["scipy"] = scipy.__version__
    except ImportError:
        info["scipy"] = "not installed"
    info["platform"] = platform.platform()
    info["load_average"] = _load_average()
    info["date"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return info


# ---------------------------------------------------------------------------
# What run() measures
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    """Sizes and repeat lengths of one mode of :func:`run`."""

    sides: tuple[int, ...]  # L of the local-update engines
    wolff_sides: tuple[int, ...]
    elements: int  # array length of the activation timings
    target_s: float  # seconds per repeat
    repeats: int
    brentq_sample: int  # elements SciPy's brentq solves per pass


_QUICK = _Settings(
    sides=(256, 1024),
    wolff_sides=(256,),
    elements=1 << 20,
    target_s=0.03,
    repeats=5,
    brentq_sample=64,
)
_FULL = _Settings(
    sides=(256, 1024, 4096),
    wolff_sides=(256, 1024),
    elements=1 << 22,
    target_s=0.1,
    repeats=7,
    brentq_sample=256,
)

_ENGINES: tuple[Algorithm, ...] = ("metropolis", "heat-bath", "metropolis-msc")


class _Progress:
    """One line per step on stderr with the elapsed time, when enabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.t0 = time.perf_counter()

    def __call__(self, message: str) -> None:
        if self.enabled:
            elapsed = time.perf_counter() - self.t0
            print(f"[{elapsed:5.1f} s] {message}", file=sys.stderr, flush=True)


def _engine_workload(sim: Simulation, used: dict[str, int]) -> Workload:
    """Sweeps of ``sim`` without recording; work = attempts (Wolff: flipped spins)."""

    def work(n: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        r = sim.run(n, temperature=T_ENGINE, record=False)
        seconds = time.perf_counter() - t0
        used["threads"] = max(used.get("threads", 0), int(r.threads_used))
        used["sweeps"] = used.get("sweeps", 0) + int(r.sweeps)
        used["team_sweeps"] = used.get("team_sweeps", 0) + int(r.team_sweeps)
        used["flips"] = used.get("flips", 0) + int(r.flips)
        used["clusters"] = used.get("clusters", 0) + int(r.clusters)
        units = r.flips if sim.algorithm == "wolff" else r.attempts
        return seconds, float(units)

    return work


def _finite(x: float) -> float | str:
    return float(x) if math.isfinite(x) else "n/a"


def _percent(x: float) -> float | str:
    return round(100.0 * x, 1) if math.isfinite(x) else "n/a"


def _ratio(a: float, b: float) -> float | str:
    r = a / b if b > 0.0 else math.nan
    return r if math.isfinite(r) else "n/a"


def _engine_table(
    settings: _Settings, threads: list[int], notes: list[str], log: _Progress
) -> BenchTable:
    base = threads[0]
    speedup = f"x {base} thread" + ("s" if base > 1 else "")
    table = BenchTable(
        title="Lattice engines: spin-flip attempts per ns",
        columns=[
            "engine",
            "L",
            "threads",
            "threads used",
            "attempts/ns",
            "spread %",
            "CPU/wall",
            speedup,
            "x metropolis",
        ],
        rows=[],
        notes=[
            f"Periodic L x L square lattice, J = 1, h = 0, T = {T_ENGINE} (near "
            "T_c), hot start; one update attempt per site per sweep; median of "
            f"{settings.repeats} interleaved repeats of about "
            f"{settings.target_s * 1e3:.0f} ms, no observables recorded.",
            "metropolis, heat-bath: one byte per spin, checkerboard; "
            "metropolis-msc: one bit per spin, 64 spins per word.",
            f"'{speedup}' and 'x metropolis' (the byte Metropolis at the same L and "
            "threads) are ratios of medians of this run; spread % = 100 (max - min) / "
            "median of the repeats.",
            "The engine runs lattices under 65536 sites per thread on fewer "
            "threads ('threads used'); such rows show no speed-up by design.",
            "CPU/wall = CPU seconds of this process (all threads) per wall second "
            "over the repeats: near 2 only if two threads each had a core; lower "
            "values mean other processes shared the cores.",
            *notes,
        ],
    )
    # Limitation: the timed sweeps follow a hot start near T_c, so large lattices
    # are still coarsening: the acceptance, and with it the cost of a Metropolis
    # sweep, drifts a little during the run (all engines alike, not equilibrium).
    for side in settings.sides:
        log(f"engines, L = {side}")
        workloads: dict[str, Workload] = {}
        used: dict[str, dict[str, int]] = {}
        for algorithm in _ENGINES:
            for t in threads:
                key = f"{algorithm}|{t}"
                sim = Simulation(
                    Lattice.square(side), algorithm=algorithm, seed=1, threads=t
                )
                used[key] = {}
                workloads[key] = _engine_workload(sim, used[key])
        samples = interleaved_rates(
            workloads, target_s=settings.target_s, repeats=settings.repeats
        )
        for algorithm in _ENGINES:
            for t in threads:
                key = f"{algorithm}|{t}"
                s = samples[key]
                u = used[key]
                share = u["team_sweeps"] / u["sweeps"] if u.get("sweeps") else 1.0
                if u["threads"] > 1 and share < 0.99:
                    table.notes.append(
                        f"{algorithm} L = {side}, {t} threads: {share:.0%} of the "
                        "sweeps ran on the whole team (the engine ran the rest on "
                        "one thread, measured faster while another process held a "
                        "core)."
                    )
                table.rows.append(
                    [
                        algorithm,
                        side,
                        t,
                        u["threads"],
                        _finite(s.median),
                        _percent(s.spread),
                        _ratio(s.cpu_per_wall, 1.0),
                        _ratio(s.median, samples[f"{algorithm}|{base}"].median),
                        _ratio(s.median, samples[f"metropolis|{t}"].median),
                    ]
                )
    return table


def _wolff_table(settings: _Settings, log: _Progress) -> BenchTable:
    table = BenchTable(
        title="Wolff cluster engine: flipped spins per ns (1 thread)",
        columns=[
            "L",
            "flipped spins/ns",
            "ns per flipped spin",
            "mean cluster",
            "spread %",
        ],
        rows=[],
        notes=[
            f"Periodic L x L square lattice at T = {T_ENGINE}, cold start, "
            "equilibrated for 10 sweeps (clusters per sweep from the engine's "
            "pilot); median of interleaved repeats. Wolff has no fixed number of "
            "attempts per sweep, so its rate is counted in flipped spins.",
        ],
    )
    workloads: dict[str, Workload] = {}
    used: dict[str, dict[str, int]] = {}
    # Limitation: ten sweeps from a cold start do not fully equilibrate L = 1024
    # near T_c; the cost per flipped spin depends on the cluster sizes, which are
    # reported beside it. Wolff runs on one thread, so no thread counts here.
    for side in settings.wolff_sides:
        log(f"Wolff, L = {side}")
        sim = Simulation(
            Lattice.square(side), algorithm="wolff", seed=1, threads=1, start="cold"
        )
        sim.run(10, temperature=T_ENGINE, record=False)
        used[str(side)] = {}
        workloads[str(side)] = _engine_workload(sim, used[str(side)])
    samples = interleaved_rates(
        workloads, target_s=settings.target_s, repeats=settings.repeats
    )
    for side in settings.wolff_sides:
        s, u = samples[str(side)], used[str(side)]
        cluster = u["flips"] / u["clusters"] if u.get("clusters") else math.nan
        table.rows.append(
            [
                side,
                _finite(s.median),
                _ratio(1.0, s.median),
                _finite(cluster),
                _percent(s.spread),
            ]
        )
    return table


def _brentq_workload(sample: npt.NDArray[np.float64]) -> Workload:
    """Solve ``m = tanh((zJ m + h)/T)`` per element with SciPy's brentq.

    The stable root of the sign of ``h`` on ``(0, 1]``, as a user would write it
    per element; work = elements solved.
    """
    values = [float(v) for v in sample]

    def work(n: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        for _ in range(n):
            for h in values:
                _brentq_root(h)
        return time.perf_counter() - t0, float(n * len(values))

    return work


def _on_threads(
    f: Callable[..., Any], threads: int, *args: Any
) -> Callable[[Any], Any]:
    """``x -> f(x, *args, threads=threads)``."""

    def call(x: Any) -> Any:
        return f(x, *args, threads=threads)

    return call


def _max_deviation(got: Any, ref: Any, relative: bool) -> float:
    g = np.asarray(got, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    d = np.abs(g - r)
    if relative:
        d = d / np.maximum(np.abs(r), np.finfo(np.float64).tiny)
    return float(np.max(d))


def _activation_tables(
    settings: _Settings, threads: list[int], notes: list[str], log: _Progress
) -> tuple[BenchTable, BenchTable]:
    from . import activations as act

    kernels: dict[str, tuple[str, Callable[..., Any], Callable[[Any], Any]]] = {
        "logistic": ("1/(1+np.exp(-x))", act.logistic, lambda x: 1 / (1 + np.exp(-x))),
        "tanh": ("np.tanh(x)", act.tanh, np.tanh),
        "softplus": ("np.logaddexp(0,x)", act.softplus, lambda x: np.logaddexp(0, x)),
    }
    n = settings.elements
    x64 = np.random.default_rng(1).standard_normal(n) * 4.0
    # Limitation: every call allocates its output, as the NumPy expressions do;
    # with out= the kernels skip the page faults of a fresh array and run faster,
    # so 'x NumPy' here is the like-for-like ratio, not the kernels' best case.
    kern = BenchTable(
        title="Activation kernels: elements per ns beside NumPy",
        columns=[
            "kernel",
            "dtype",
            "threads",
            "elements/ns",
            "NumPy elements/ns",
            "x NumPy",
            "CPU/wall",
            "NumPy expression",
            "max rel. dev.",
        ],
        rows=[],
        notes=[
            f"Arrays of {n} elements, x ~ 4 N(0, 1), a new output array per call "
            "(as the NumPy expression allocates); median of "
            f"{settings.repeats} interleaved repeats of about "
            f"{settings.target_s * 1e3:.0f} ms.",
            "'x NumPy' = kernel median / NumPy median of this run, NumPy on one "
            "thread; 'max rel. dev.' = largest relative difference from the NumPy "
            "expression on the timed array (computed in float64 from each dtype); "
            "CPU/wall as in the engine table.",
            *notes,
        ],
    )
    mf = BenchTable(
        title="Mean-field activation: cost per element beside np.tanh and SciPy",
        columns=[
            "dtype",
            "threads",
            "elements/ns",
            "CPU/wall",
            "np.tanh elements/ns",
            "cost x np.tanh",
            "brentq elements/ns",
            "x brentq",
        ],
        rows=[],
        notes=[
            f"meanfield(h, T={T_MF}, zJ={ZJ_MF}): the stable root of m = tanh((zJ m "
            "+ h)/T), below T_c (three roots for small |h|, the expensive case); "
            f"h ~ 4 N(0, 1), {n} elements.",
            "'cost x np.tanh' = np.tanh's rate / the kernel's: the kernel's cost "
            "per element in units of one NumPy tanh on the same array.",
            "brentq: scipy.optimize.brentq per element in a Python loop over "
            f"{settings.brentq_sample} elements (float64), timed in the same "
            "interleaved repeats.",
        ],
    )
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        log(f"activation kernels, {name}")
        x = x64.astype(dtype)
        workloads: dict[str, Workload] = {}
        for k, (_, ours, theirs) in kernels.items():
            for t in threads:
                workloads[f"{k}|{t}"] = call_workload(_on_threads(ours, t), x)
            workloads[f"{k}|numpy"] = call_workload(theirs, x)
        for t in threads:
            workloads[f"mf|{t}"] = call_workload(
                _on_threads(act.meanfield, t, T_MF, ZJ_MF), x
            )
        workloads["mf|np.tanh"] = call_workload(np.tanh, x)
        # Limitation: brentq's rate is from a small sample (the first elements of
        # the same inputs), enough for its order of magnitude, not three digits.
        sample = x64[: settings.brentq_sample]
        workloads["mf|brentq"] = _brentq_workload(sample)
        with np.errstate(over="ignore"):
            s = interleaved_rates(
                workloads, target_s=settings.target_s, repeats=settings.repeats
            )
            deviation = {
                k: _max_deviation(ours(x, threads=threads[-1]), theirs(x), True)
                for k, (_, ours, theirs) in kernels.items()
            }

        for k, (expr, _, _) in kernels.items():
            ref = s[f"{k}|numpy"].median
            for t in threads:
                m = s[f"{k}|{t}"].median
                cpu = _ratio(s[f"{k}|{t}"].cpu_per_wall, 1.0)
                kern.rows.append(
                    [
                        k,
                        name,
                        t,
                        _finite(m),
                        _finite(ref),
                        _ratio(m, ref),
                        cpu,
                        expr,
                        _finite(deviation[k]),
                    ]
                )
        brentq = s["mf|brentq"].median
        tanh_rate = s["mf|np.tanh"].median
        for t in threads:
            m = s[f"mf|{t}"].median
            cpu = _ratio(s[f"mf|{t}"].cpu_per_wall, 1.0)
            mf.rows.append(
                [
                    name,
                    t,
                    _finite(m),
                    cpu,
                    _finite(tanh_rate),
                    _ratio(tanh_rate, m),
                    _finite(brentq),
                    _ratio(m, brentq),
                ]
            )

    # The mean-field kernel against brentq itself: the timing means nothing if
    # the roots differ.
    sample = x64[: settings.brentq_sample]
    roots = np.array([_brentq_root(float(h)) for h in sample])
    dev = _max_deviation(act.meanfield(sample, T_MF, ZJ_MF), roots, False)
    mf.notes.append(
        f"Largest |difference| from brentq's roots on the sample (float64): {dev:.1e}."
    )
    return kern, mf


def _brentq_root(h: float) -> float:
    from scipy import optimize

    a = abs(h)
    m = optimize.brentq(
        lambda m: m - math.tanh((ZJ_MF * m + a) / T_MF), 1e-300, 1.0, xtol=1e-15
    )
    return math.copysign(float(m), h)


def _machine_table(machine: Mapping[str, Any]) -> BenchTable:
    rows: list[list[Any]] = []
    for key, value in machine.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        rows.append(
            [key, value if isinstance(value, (int, float, str)) else str(value)]
        )
    return BenchTable(
        title="Machine and build",
        columns=["item", "value"],
        rows=rows,
        notes=[
            "neurophase.build_info() plus CPU model, versions and the load average "
            "(1, 5, 15 min) at the start of the run: a load above the core count "
            "means other processes shared the cores."
        ],
    )


def run(
    quick: bool = True,
    threads: Sequence[int] | None = None,
    progress: bool = False,
) -> BenchReport:
    """Time the lattice engines and activation kernels of this installation.

    Parameters
    ----------
    quick : bool
        True: lattice sides 256 and 1024, 2^20-element arrays, repeats of about
        30 ms (about 10 s on 2 cores). False: sides up to 4096, Wolff at 1024,
        2^22 elements, repeats of about 0.1 s (about a minute).
    threads : sequence of int, optional
        Thread counts to time (default 1 and 2), each an integer in
        1..:data:`MAX_THREADS`. Counts above the cores this process may use are
        lowered to that number, and a table note says so.
    progress : bool
        Write one line per step to stderr (the library is silent otherwise).

    Returns
    -------
    BenchReport
        Tables: lattice engines (attempts per ns and thread speed-up), Wolff
        (flipped spins per ns), activation kernels (elements per ns, ratio to
        the NumPy expression), mean-field activation (cost per element in
        units of ``np.tanh``, ratio to SciPy's brentq), machine and build.
        Every number is a median over interleaved repeats; every ratio is formed
        from medians of this run.

    Raises
    ------
    ValueError
        If a thread count is not an integer in 1..MAX_THREADS.

    Notes
    -----
    Results are timings of a shared machine: compare ratios within one report,
    not absolute rates across reports.
    """
    return _run(_QUICK if quick else _FULL, quick, threads, progress)


def _run(
    settings: _Settings,
    quick: bool,
    threads: Sequence[int] | None,
    progress: bool,
) -> BenchReport:
    counts, thread_notes = check_threads(threads)
    log = _Progress(progress)
    t0 = time.perf_counter()
    machine = machine_info()

    tables = [_engine_table(settings, counts, thread_notes, log)]
    if settings.wolff_sides:
        tables.append(_wolff_table(settings, log))
    tables.extend(_activation_tables(settings, counts, thread_notes, log))
    machine["load_average_end"] = _load_average()
    tables.append(_machine_table(machine))
    wall = time.perf_counter() - t0
    log(f"done in {wall:.1f} s")
    return BenchReport(tables=tables, machine=machine, quick=quick, wall_time_s=wall)
