"""Parameter sweeps: grids of Monte Carlo runs, run locally or on Dask distributed.

A sweep is the product of grid axes (lattice geometry, side ``L``, temperature,
field, algorithm, seed label and run schedule); each grid point is a *task* that
runs :func:`neurophase.simulate` and keeps the summary of its recorded sweeps
(means with autocorrelation-aware errors, Binder cumulant, susceptibilities,
specific heat) and, if asked, the per-sweep magnetisation and energy.

Storage survives crashes. Every finished task is committed on its own, as a small
checksummed file in ``<out>.parts/`` written under a temporary name and renamed.
When every task is done they are consolidated into one HDF5 file ``<out>``
(written under a temporary name and renamed too) and the parts folder is
removed. Running the same sweep again skips the finished tasks; a killed sweep
therefore resumes where it stopped, and since each task's seed is derived from
the specification alone, the final numbers equal those of an uninterrupted run
bitwise, whatever the executor, the number of workers or the order of the tasks.

Specification (TOML)::

    [sweep]
    coupling = 1.0          # J
    boundary = "periodic"   # or "open"
    seed = 2026             # base seed; every task's engine seed derives from it
    sweeps = 4000           # recorded sweeps of the schedule "default"
    burn_in = 500           # sweeps before recording (schedule "default")
    start = "hot"           # or "cold" (schedule "default")
    series = true           # keep the per-sweep magnetisation and energy

    [grid]                  # each axis: one value or a list
    geometry = "square"     # chain, square, cubic, hypercubic-D (D = 1..5), complete
    L = [8, 16, 32]         # side (the number of sites N for "complete")
    temperature = { start = 2.1, stop = 2.4, num = 7 }   # or a list
    field = 0.0
    algorithm = "wolff"
    seed = [0, 1]           # replica labels
    schedule = ["default", "long"]

    [schedule.long]         # run lengths by name; missing keys come from [sweep]
    sweeps = 20000
    burn_in = 2000

Limits, checked when the specification is read (before anything is written): at
most :data:`MAX_TASKS` (10**6) tasks; ``sweeps`` and ``burn_in`` at most 2**62
(the engine's sweep counters are 64-bit), and a task's per-sweep arrays (40 bytes
per recorded sweep) must fit in the machine's physical memory.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import io
import itertools
import json
import logging
import math
import multiprocessing
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import _io, _validate
from ._info import __version__
from .lattice import MAX_DIMENSION, Lattice
from .simulation import ALGORITHMS, _check_algorithm, _check_run_memory, simulate
from .statistics import Estimate, integrated_autocorrelation_time
from .statistics import logger as statistics_logger

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

#: Grid axes, in the order in which the task index runs over them (last fastest).
GRID_AXES: tuple[str, ...] = (
    "geometry",
    "L",
    "temperature",
    "field",
    "algorithm",
    "seed",
    "schedule",
)

#: Per-task estimates: each has a value, ``<name>_error`` and ``<name>_tau_int``.
QUANTITIES: tuple[str, ...] = (
    "magnetisation",
    "abs_magnetisation",
    "magnetisation2",
    "magnetisation4",
    "energy",
    "energy2",
    "binder",
    "susceptibility_abs",
    "susceptibility_connected",
    "susceptibility_second_moment",
    "specific_heat",
    "staggered_abs_magnetisation",
)

#: Per-sweep series a task can keep; ``kmin_magnetisation2`` (shape (sweeps, d),
#: ``|m(k_min)|^2`` along each axis) only on periodic hypercubic lattices.
SERIES: tuple[str, ...] = ("magnetisation", "energy", "kmin_magnetisation2")

FILE_FORMAT = "neurophase-sweep"
FILE_FORMAT_VERSION = 1

_SWEEP_KEYS = {
    "coupling": 1.0,
    "boundary": "periodic",
    "seed": 0,
    "sweeps": 10000,
    "burn_in": 1000,
    "start": "hot",
    "series": True,
}
_SCHEDULE_KEYS = ("sweeps", "burn_in", "start")
_TOP_KEYS = ("sweep", "grid", "schedule")
_PART_MAGIC = b"NPSWEEP1"
_PART_SUFFIX = ".part"
_MANIFEST = "sweep.json"
_SUMMARY_LOCK = threading.Lock()


class SweepFileError(ValueError):
    """A sweep file (a task part or the HDF5 result) is truncated or corrupted.

    ``path`` is the file; the message says how to recover.
    """

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        super().__init__(message)
        self.path = Path(path)


class SweepTaskError(RuntimeError):
    """A task of a sweep raised; the tasks finished before it are kept."""


# ---------------------------------------------------------------------------
# Specification
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """Run length of a task: ``burn_in`` sweeps, then ``sweeps`` recorded ones.

    ``start`` is the initial state, ``"hot"`` (random) or ``"cold"`` (all +1).
    """

    name: str
    sweeps: int
    burn_in: int
    start: str

    def as_dict(self) -> dict[str, Any]:
        """The schedule as plain data (name excluded)."""
        return {"sweeps": self.sweeps, "burn_in": self.burn_in, "start": self.start}


@dataclass(frozen=True)
class Task:
    """One grid point of a sweep: the system, the run and its derived seed.

    ``index`` is the position in the grid (C order over :data:`GRID_AXES`),
    ``key`` a name derived from the parameters and the base seed, and ``seed``
    the engine seed, derived the same way (so neither depends on the order in
    which tasks run, nor on the other grid points).
    """

    index: int
    key: str
    geometry: str
    L: int
    temperature: float
    field: float
    algorithm: str
    replica: int
    schedule: Schedule
    coupling: float
    boundary: str
    series: bool
    seed: int

    def parameters(self) -> dict[str, Any]:
        """Plain-data description of the task (what it is run with)."""
        return {
            "index": self.index,
            "key": self.key,
            "geometry": self.geometry,
            "L": self.L,
            "temperature": self.temperature,
            "field": self.field,
            "algorithm": self.algorithm,
            "replica": self.replica,
            "schedule": self.schedule.name,
            "sweeps": self.schedule.sweeps,
            "burn_in": self.schedule.burn_in,
            "start": self.schedule.start,
            "coupling": self.coupling,
            "boundary": self.boundary,
            "series": self.series,
            "seed": self.seed,
        }

    def lattice(self) -> Lattice:
        """The task's lattice."""
        return make_lattice(self.geometry, self.L, self.boundary)

    def describe(self) -> str:
        """A one-line description for messages."""
        return (
            f"task {self.index} ({self.geometry} L={self.L}, T={self.temperature:g}, "
            f"h={self.field:g}, {self.algorithm}, seed label {self.replica}, "
            f"schedule {self.schedule.name!r})"
        )


def make_lattice(geometry: str, L: int, boundary: str = "periodic") -> Lattice:
    """The lattice named ``geometry`` with side ``L`` (sites ``L`` for ``complete``).

    ``geometry`` is ``chain``, ``square``, ``cubic``, ``hypercubic-D`` with
    ``D`` in 1..5, or ``complete`` (which has no boundary).
    """
    if geometry == "complete":
        return Lattice.complete(L)
    dimension = _dimension(geometry)
    return Lattice.hypercubic(dimension, L, boundary)  # type: ignore[arg-type]


def _dimension(geometry: str) -> int:
    named = {"chain": 1, "square": 2, "cubic": 3}
    if geometry in named:
        return named[geometry]
    prefix = "hypercubic-"
    if geometry.startswith(prefix) and geometry[len(prefix) :].isdigit():
        d = int(geometry[len(prefix) :])
        if 1 <= d <= MAX_DIMENSION:
            return d
    raise ValueError(
        f"grid.geometry must be chain, square, cubic, hypercubic-D (D in "
        f"1..{MAX_DIMENSION}) or complete, got {geometry!r}"
    )


def _check_keys(where: str, table: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(f'{where}{k}') for k in unknown)} in the sweep "
            f"specification; allowed in this table: {', '.join(allowed)}"
        )


#: Most tasks a specification may have: a grid beyond this is almost surely a typo
#: (say num = 100000000 for 100), and its bookkeeping alone would take minutes.
MAX_TASKS = 10**6


def _as_int(name: str, value: Any, minimum: int) -> int:
    return _validate.positive_int(name, value, minimum=minimum)


def _as_str(name: str, value: Any, allowed: Sequence[str] | None = None) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {value!r}")
    if allowed is not None and value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return value


def _axis_values(name: str, raw: Any) -> list[Any]:
    """The values of one grid axis: a scalar, a list, or {start, stop, num}."""
    if isinstance(raw, Mapping):
        if name not in ("temperature", "field"):
            raise TypeError(
                f"grid.{name} must be a value or a list; a {{start, stop, num}} "
                "range is allowed for temperature and field only"
            )
        _check_keys(f"grid.{name}.", raw, ("start", "stop", "num"))
        missing = [k for k in ("start", "stop", "num") if k not in raw]
        if missing:
            raise ValueError(f"grid.{name} range needs start, stop and num")
        start = _validate.finite_float(f"grid.{name}.start", raw["start"])
        stop = _validate.finite_float(f"grid.{name}.stop", raw["stop"])
        num = _validate.positive_int(f"grid.{name}.num", raw["num"], minimum=0)
        if num > MAX_TASKS:
            raise ValueError(
                f"grid.{name}.num must be at most {MAX_TASKS} (the most tasks a "
                f"sweep may have), got {num}"
            )
        return [float(x) for x in np.linspace(start, stop, num)]
    values = list(raw) if isinstance(raw, list | tuple) else [raw]
    if not values:
        raise ValueError(
            f"grid.{name} is empty: the sweep would have no tasks; give at least "
            "one value"
        )
    if len(set(map(repr, values))) != len(values):
        raise ValueError(f"grid.{name} lists a value twice: {values!r}")
    return values


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep specification (see the module docstring for the format).

    Build one with :meth:`from_toml`, :meth:`from_file` or :meth:`from_dict`.
    ``grid`` maps every axis of :data:`GRID_AXES` to its values; ``schedules``
    maps schedule names to :class:`Schedule`; ``source`` is the TOML text, if the
    spec came from one (kept in the result file for the record).
    """

    coupling: float
    boundary: str
    seed: int
    series: bool
    grid: Mapping[str, tuple[Any, ...]]
    schedules: Mapping[str, Schedule]
    source: str = ""

    # Construction -------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "") -> SweepSpec:
        """Validate a specification given as nested mappings (as TOML parses it).

        Raises
        ------
        ValueError, TypeError
            Unknown keys, an empty grid axis, values out of range, or a geometry
            and algorithm that do not go together; the message names the key.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"a sweep specification is a mapping, got {data!r}")
        _check_keys("", data, _TOP_KEYS)
        sweep = dict(data.get("sweep", {}))
        _check_keys("sweep.", sweep, _SWEEP_KEYS)
        settings = {**_SWEEP_KEYS, **sweep}
        coupling = _validate.finite_float("sweep.coupling", settings["coupling"])
        boundary = _as_str("sweep.boundary", settings["boundary"], ("periodic", "open"))
        try:
            seed = _validate.seed(settings["seed"])
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"sweep.{exc}") from None
        series = settings["series"]
        if not isinstance(series, bool):
            raise TypeError(f"sweep.series must be true or false, got {series!r}")

        schedules = {"default": _schedule("default", settings, "sweep.")}
        for name, table in dict(data.get("schedule", {})).items():
            if not isinstance(table, Mapping):
                raise TypeError(f"schedule.{name} must be a table")
            _check_keys(f"schedule.{name}.", table, _SCHEDULE_KEYS)
            if name == "default":
                raise ValueError(
                    "schedule.default is the schedule of [sweep] (sweeps, burn_in, "
                    "start); give other schedules another name"
                )
            schedules[name] = _schedule(
                name, {**settings, **table}, f"schedule.{name}."
            )

        raw_grid = dict(data.get("grid", {}))
        _check_keys("grid.", raw_grid, GRID_AXES)
        raw_grid.setdefault("schedule", "default")
        for axis in ("geometry", "L", "temperature"):
            if axis not in raw_grid:
                raise ValueError(f"grid.{axis} is required (one value or a list)")
        raw_grid.setdefault("field", 0.0)
        raw_grid.setdefault("algorithm", "metropolis")
        raw_grid.setdefault("seed", 0)
        grid: dict[str, tuple[Any, ...]] = {}
        for axis in GRID_AXES:
            values = _axis_values(axis, raw_grid[axis])
            grid[axis] = tuple(_axis_value(axis, v, schedules) for v in values)
            if not grid[axis]:
                raise ValueError(f"grid.{axis} is empty: the sweep would have no tasks")

        spec = cls(coupling, boundary, seed, series, grid, schedules, source)
        if spec.n_tasks > MAX_TASKS:
            sizes = " x ".join(str(n) for n in spec.shape)
            raise ValueError(
                f"the grid has {spec.n_tasks} tasks ({sizes} over "
                f"{', '.join(GRID_AXES)}); a sweep may have at most {MAX_TASKS}"
            )
        spec._check_systems()
        return spec

    @classmethod
    def from_toml(cls, text: str) -> SweepSpec:
        """Parse and validate a TOML specification."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(
                f"the sweep specification is not valid TOML: {exc}"
            ) from None
        return cls.from_dict(data, source=text)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SweepSpec:
        """Read and validate a TOML specification file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise OSError(
                f"cannot read sweep specification {path}: {exc.strerror}"
            ) from None
        try:
            return cls.from_toml(text)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{path}: {exc}") from None

    def _check_systems(self) -> None:
        # Every geometry/L/algorithm combination builds before any task runs.
        for geometry, L in itertools.product(self.grid["geometry"], self.grid["L"]):
            lattice = make_lattice(geometry, L, self.boundary)
            for algorithm in self.grid["algorithm"]:
                _check_algorithm(lattice, algorithm)

    # Views --------------------------------------------------------------------

    def canonical(self) -> dict[str, Any]:
        """The specification as plain data with every default filled in.

        Two specifications describe the same sweep exactly when their canonical
        forms are equal (comments and key order of the TOML do not matter).
        """
        return {
            "sweep": {
                "coupling": self.coupling,
                "boundary": self.boundary,
                "seed": self.seed,
                "series": self.series,
                **self.schedules["default"].as_dict(),
            },
            "grid": {axis: list(values) for axis, values in self.grid.items()},
            "schedule": {
                name: s.as_dict()
                for name, s in self.schedules.items()
                if name in self.grid["schedule"] and name != "default"
            },
        }

    def canonical_json(self) -> str:
        """:meth:`canonical` as JSON with sorted keys (floats as exact reprs)."""
        return json.dumps(self.canonical(), sort_keys=True, allow_nan=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of values of each grid axis, in :data:`GRID_AXES` order."""
        return tuple(len(self.grid[axis]) for axis in GRID_AXES)

    @property
    def n_tasks(self) -> int:
        """Number of tasks (grid points)."""
        return math.prod(self.shape)

    def tasks(self) -> list[Task]:
        """All tasks, in grid order (C order over :data:`GRID_AXES`)."""
        out = []
        for index, point in enumerate(
            itertools.product(*(self.grid[axis] for axis in GRID_AXES))
        ):
            geometry, L, T, h, algorithm, replica, schedule_name = point
            schedule = self.schedules[schedule_name]
            identity = {
                "geometry": geometry,
                "L": L,
                "temperature": T,
                "field": h,
                "algorithm": algorithm,
                "replica": replica,
                "schedule": {"name": schedule_name, **schedule.as_dict()},
                "coupling": self.coupling,
                "boundary": self.boundary,
            }
            out.append(
                Task(
                    index=index,
                    key=_digest(self.seed, identity, b"neurophase-key").hex(),
                    geometry=geometry,
                    L=L,
                    temperature=T,
                    field=h,
                    algorithm=algorithm,
                    replica=replica,
                    schedule=schedule,
                    coupling=self.coupling,
                    boundary=self.boundary,
                    series=self.series,
                    seed=int.from_bytes(
                        _digest(self.seed, identity, b"neurophase-seed"), "little"
                    ),
                )
            )
        return out


def _schedule(name: str, table: Mapping[str, Any], where: str) -> Schedule:
    sweeps = _validate.sweeps(f"{where}sweeps", table["sweeps"], minimum=2)
    burn_in = _validate.sweeps(f"{where}burn_in", table["burn_in"])
    # A task holds its records in memory: refuse now, before any file is written.
    _check_run_memory(sweeps, record=True, kmin_axes=0, name=f"{where}sweeps")
    _check_run_memory(burn_in, record=False, kmin_axes=0, name=f"{where}burn_in")
    return Schedule(
        name=name,
        sweeps=sweeps,
        burn_in=burn_in,
        start=_as_str(f"{where}start", table["start"], ("hot", "cold")),
    )


def _axis_value(axis: str, value: Any, schedules: Mapping[str, Schedule]) -> Any:
    name = f"grid.{axis}"
    if axis == "geometry":
        if _as_str(name, value) != "complete":
            _dimension(value)
        return value
    if axis == "L":
        return _as_int(name, value, 2)
    if axis == "temperature":
        return _validate.finite_float(name, value, positive=True)
    if axis == "field":
        return _validate.finite_float(name, value)
    if axis == "algorithm":
        return _as_str(name, value, ALGORITHMS)
    if axis == "seed":
        return _as_int(name, value, 0)
    # schedule
    _as_str(name, value)
    if value not in schedules:
        raise ValueError(
            f"grid.schedule names {value!r}, which is not defined; defined: "
            f"{', '.join(schedules)} (add a [schedule.{value}] table)"
        )
    return value


def _digest(base_seed: int, identity: Mapping[str, Any], person: bytes) -> bytes:
    payload = json.dumps({"base_seed": base_seed, **identity}, sort_keys=True)
    return hashlib.blake2b(payload.encode(), digest_size=8, person=person[:16]).digest()


def load_spec(
    spec: SweepSpec | str | os.PathLike[str] | Mapping[str, Any],
) -> SweepSpec:
    """A :class:`SweepSpec` from a spec, a TOML file path or a mapping."""
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, Mapping):
        return SweepSpec.from_dict(spec)
    if isinstance(spec, str | os.PathLike):
        return SweepSpec.from_file(spec)
    raise TypeError(
        f"spec must be a SweepSpec, a TOML file path or a mapping, got {spec!r}"
    )


# ---------------------------------------------------------------------------
# The task (runs on a worker: a local process or thread, or a Dask worker)
# ---------------------------------------------------------------------------


def run_task(
    parameters: Mapping[str, Any], threads: int = 1, capture_warnings: bool = True
) -> dict[str, Any]:
    """Run one task given by :meth:`Task.parameters`; return its record.

    The record holds ``"parameters"``, ``"scalars"`` (every quantity of
    :data:`QUANTITIES` with ``_error`` and ``_tau_int``, plus run statistics),
    ``"series"`` (per-sweep magnetisation and energy, or empty) and ``"meta"``
    (wall time in seconds, threads, host, process id, package version, notes).
    The numbers depend only on the parameters, never on ``threads``.

    ``capture_warnings`` turns warnings of the engine into notes of the record.
    It changes the process-wide warning filters for the duration of the task and
    must be False where other threads of the process run other code.
    """
    started = time.perf_counter()
    p = dict(parameters)
    lattice = make_lattice(p["geometry"], p["L"], p["boundary"])
    # The correlation length needs |m(k_min)|^2 per sweep: kept with the series
    # wherever it is defined.
    kmin = (
        bool(p["series"]) and not lattice.is_complete and lattice.boundary == "periodic"
    )
    notes: list[str] = []
    with contextlib.ExitStack() as stack:
        if capture_warnings:
            caught = stack.enter_context(warnings.catch_warnings(record=True))
            warnings.simplefilter("always")
        run = simulate(
            lattice,
            temperature=p["temperature"],
            field=p["field"],
            coupling=p["coupling"],
            sweeps=p["sweeps"],
            burn_in=p["burn_in"],
            algorithm=p["algorithm"],
            seed=p["seed"],
            threads=threads,
            record_kmin=kmin,
            start=p["start"],
        )
        # The summary collects its notes through a module logger shared by every
        # thread; one summary at a time keeps each task's notes its own.
        with _SUMMARY_LOCK:
            summary = run.summary()
            energy2, energy2_notes = _mean_estimate(run.energy**2)
        if capture_warnings:
            notes.extend(f"{w.category.__name__}: {w.message}" for w in caught)
    notes.extend(summary.notes)
    notes.extend(f"energy2: {note}" for note in energy2_notes)

    scalars: dict[str, float] = {}
    estimates = summary.estimates()
    estimates["energy2"] = energy2
    for name in QUANTITIES:
        est = estimates.get(name)
        scalars[name] = math.nan if est is None else est.value
        scalars[f"{name}_error"] = math.nan if est is None else est.error
        scalars[f"{name}_tau_int"] = math.nan if est is None else est.tau_int
    scalars["n_samples"] = summary.n_samples
    scalars["n_sites"] = lattice.n_sites
    scalars["acceptance"] = run.acceptance
    scalars["clusters_per_sweep"] = run.clusters_per_sweep or 0

    series = (
        {"magnetisation": run.magnetisation, "energy": run.energy}
        if p["series"]
        else {}
    )
    if kmin and run.kmin_magnetisation2 is not None:
        series["kmin_magnetisation2"] = run.kmin_magnetisation2
    meta = {
        "wall_time": time.perf_counter() - started,
        "engine_wall_time": run.wall_time,
        "threads": threads,
        "threads_used": run.threads_used,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "neurophase_version": __version__,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "notes": notes,
    }
    return {"parameters": p, "scalars": scalars, "series": series, "meta": meta}


class _NoteCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.notes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.notes.append(record.getMessage())


def _mean_estimate(x: npt.NDArray[np.float64]) -> tuple[Estimate, list[str]]:
    """Mean of a per-sweep series with the summary's error rule, and its notes.

    ``error = sqrt(2 tau_int var / n)`` with the windowed ``tau_int`` (at least
    1/2); the notes are the data-quality messages of the ``tau_int`` estimate.
    """
    if np.all(x == x[0]):
        return Estimate(float(x[0]), 0.0, 0.5), []
    collector = _NoteCollector()
    statistics_logger.addHandler(collector)
    try:
        tau, _ = integrated_autocorrelation_time(x)
    finally:
        statistics_logger.removeHandler(collector)
    tau = max(tau, 0.5)
    error = math.sqrt(2.0 * tau * float(np.var(x, ddof=1)) / x.size)
    return Estimate(float(np.mean(x)), error, tau), collector.notes


# ---------------------------------------------------------------------------
# Part files: one per finished task, checksummed, written atomically
# ---------------------------------------------------------------------------


def parts_folder(out: str | os.PathLike[str]) -> Path:
    """The folder holding the finished tasks of an unfinished sweep ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def _part_path(parts: Path, task: Task) -> Path:
    return parts / f"task-{task.index:06d}-{task.key}{_PART_SUFFIX}"


def _encode_part(record: Mapping[str, Any]) -> bytes:
    header = {k: record[k] for k in ("parameters", "scalars", "meta")}
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {
        f"series_{k}": np.asarray(v) for k, v in record["series"].items()
    }
    arrays["record"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(buffer, **arrays)
    payload = buffer.getvalue()
    return _PART_MAGIC + hashlib.sha256(payload).digest() + payload


def _corrupt_part(path: Path, why: str) -> SweepFileError:
    return SweepFileError(
        path,
        f"task file {path} is {why}; it is not used. Delete it (the task then runs "
        "again) or rerun with --repair (repair=True), which deletes such files",
    )


def _read_part(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    head = len(_PART_MAGIC) + 32
    if len(data) < head or not data.startswith(_PART_MAGIC):
        raise _corrupt_part(path, "truncated or not a sweep task file")
    payload = data[head:]
    if hashlib.sha256(payload).digest() != data[len(_PART_MAGIC) : head]:
        raise _corrupt_part(path, "corrupted or truncated (checksum mismatch)")
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        record: dict[str, Any] = json.loads(npz["record"].tobytes().decode())
        record["series"] = {
            name[len("series_") :]: npz[name]
            for name in npz.files
            if name.startswith("series_")
        }
    return record


# ---------------------------------------------------------------------------
# The HDF5 result file
# ---------------------------------------------------------------------------

_STRING_COLUMNS = ("key", "geometry", "algorithm", "schedule", "start", "boundary")
_META_STRING_COLUMNS = ("host", "neurophase_version", "finished", "notes")
_INT_COLUMNS = (
    "index",
    "series",
    "L",
    "replica",
    "sweeps",
    "burn_in",
    "threads",
    "threads_used",
    "pid",
    "n_samples",
    "n_sites",
    "clusters_per_sweep",
)


def _columns(records: Sequence[Mapping[str, Any]]) -> dict[str, npt.NDArray[Any]]:
    """Column arrays of the task table, one row per record (in order)."""
    rows = []
    for r in records:
        p, s, m = r["parameters"], r["scalars"], r["meta"]
        row = {**p, **s, **m, "notes": json.dumps(m["notes"])}
        row["seed"] = int(p["seed"])
        rows.append(row)
    columns: dict[str, npt.NDArray[Any]] = {}
    names = list(rows[0])
    for name in names:
        values = [row[name] for row in rows]
        if name in _STRING_COLUMNS or name in _META_STRING_COLUMNS:
            columns[name] = np.array(values, dtype=object)
        elif name == "seed":
            columns[name] = np.array(values, dtype=np.uint64)
        elif name in _INT_COLUMNS:
            columns[name] = np.array(values, dtype=np.int64)
        else:
            columns[name] = np.array(values, dtype=np.float64)
    return columns


def _write_result(
    path: Path, spec: SweepSpec, records: Sequence[Mapping[str, Any]]
) -> None:
    import h5py

    def write(f: h5py.File) -> None:
        f.attrs["format"] = FILE_FORMAT
        f.attrs["format_version"] = FILE_FORMAT_VERSION
        f.attrs["neurophase_version"] = __version__
        f.attrs["spec"] = spec.canonical_json()
        f.attrs["spec_toml"] = spec.source
        f.attrs["grid_axes"] = json.dumps(GRID_AXES)
        f.attrs["n_tasks"] = len(records)
        f.attrs["written"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        tasks = f.create_group("tasks")
        for name, values in _columns(records).items():
            if values.dtype == object:
                # Limitation: HDF5 filters do not apply to variable-length
                # strings, so text columns carry no Fletcher-32 checksum.
                tasks.create_dataset(
                    name, data=values.astype(str).tolist(), dtype=h5py.string_dtype()
                )
            else:
                # Fletcher-32 checksums: a flipped bit is an error when read.
                tasks.create_dataset(name, data=values, fletcher32=True, chunks=True)
        series = f.create_group("series")
        for r in records:
            if not r["series"]:
                continue
            g = series.create_group(r["parameters"]["key"])
            for name, values in r["series"].items():
                g.create_dataset(name, data=values, fletcher32=True, chunks=True)

    _write_h5_atomically(path, write)


def _write_h5_atomically(path: Path, write: Callable[[Any], None]) -> None:
    import h5py

    _check_output(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            write(f)
        with open(tmp, "rb+") as raw:
            os.fsync(raw.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _corrupt_result(path: Path, why: str) -> SweepFileError:
    return SweepFileError(
        path,
        f"sweep file {path} is {why}. Move it away and rerun the sweep, or rerun with "
        f"--repair (repair=True), which renames it to {path.name}.corrupt and "
        "recomputes the tasks it held",
    )


def _read_records(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """(canonical spec JSON, task records) of a sweep file; checks everything."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FILE_FORMAT:
                raise _corrupt_result(path, "not a neurophase sweep file")
            spec_json = str(f.attrs["spec"])
            json.loads(spec_json)
            n = int(f.attrs["n_tasks"])
            columns = {}
            for name, ds in f["tasks"].items():
                values = ds[()]
                if values.dtype.kind == "O":
                    values = np.array([v.decode() for v in values], dtype=object)
                columns[name] = values
            # Limitation: every series is read into memory at once; a sweep with
            # more series than memory needs h5py on the file directly.
            series_group = f["series"]
            series = {
                key: {name: g[name][()] for name in g}
                for key, g in series_group.items()
            }
    except SweepFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise _corrupt_result(
            path, f"unreadable, truncated or corrupted ({exc})"
        ) from None
    if any(len(v) != n for v in columns.values()):
        raise _corrupt_result(path, "inconsistent (columns of different lengths)")

    records = []
    parameter_names = (
        *Task.__dataclass_fields__,
        "sweeps",
        "burn_in",
        "start",
    )
    scalar_names = _scalar_names()
    meta_names = (
        "wall_time",
        "engine_wall_time",
        "threads",
        "threads_used",
        "host",
        "pid",
        "neurophase_version",
        "finished",
    )
    try:
        for i in range(n):
            row = {name: _plain(values[i]) for name, values in columns.items()}
            parameters = {k: row[k] for k in parameter_names if k in row}
            parameters["seed"] = int(columns["seed"][i])
            parameters["series"] = bool(row["series"])
            meta = {k: row[k] for k in meta_names}
            meta["notes"] = json.loads(row["notes"])
            records.append(
                {
                    "parameters": parameters,
                    "scalars": {k: row[k] for k in scalar_names},
                    "meta": meta,
                    "series": series.get(row["key"], {}),
                }
            )
    except (KeyError, ValueError) as exc:
        raise _corrupt_result(
            path, f"incomplete (missing or bad column {exc})"
        ) from None
    return spec_json, records


def _scalar_names() -> tuple[str, ...]:
    names: list[str] = []
    for q in QUANTITIES:
        names += [q, f"{q}_error", f"{q}_tau_int"]
    return (*names, "n_samples", "n_sites", "acceptance", "clusters_per_sweep")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GridArrays:
    """One quantity of a sweep laid out on its grid.

    ``value[i_geometry, i_L, i_temperature, i_field, i_algorithm, i_seed,
    i_schedule]`` (axes in :data:`GRID_AXES` order, every axis kept even if it
    has one value); ``coords[axis]`` holds the axis values, ``error`` the
    one-standard-deviation errors (NaN where the quantity has none).
    """

    quantity: str
    axes: tuple[str, ...]
    coords: Mapping[str, npt.NDArray[Any]]
    value: npt.NDArray[np.float64]
    error: npt.NDArray[np.float64]


@dataclass(frozen=True)
class SweepResult:
    """The results of a finished sweep, as read from its HDF5 file.

    Attributes
    ----------
    path : Path
        The file.
    spec : SweepSpec
        The specification the sweep ran.
    version : str
        neurophase version that wrote the file.
    table : pandas.DataFrame
        One row per task, in grid order: the parameters (``geometry``, ``L``,
        ``temperature``, ``field``, ``algorithm``, ``replica`` (the seed label),
        ``schedule``, ``sweeps``, ``burn_in``, the engine ``seed`` ...), every
        quantity of :data:`QUANTITIES` with ``_error`` and ``_tau_int``, and the
        metadata (``wall_time`` in seconds, ``threads``, ``host``, ``notes``).
    """

    path: Path
    spec: SweepSpec
    version: str
    table: pd.DataFrame
    _series: Mapping[str, Mapping[str, npt.NDArray[np.float64]]]

    def series(
        self, task: int | str, name: str = "magnetisation"
    ) -> npt.NDArray[np.float64]:
        """Per-sweep ``name`` (``"magnetisation"`` or ``"energy"``, per spin) of a task.

        ``task`` is a task index (row of :attr:`table`) or key.

        Raises
        ------
        ValueError
            If the sweep kept no series (``series = false``) or ``name`` is unknown.
        """
        if name not in SERIES:
            raise ValueError(f"name must be one of {SERIES}, got {name!r}")
        key = task if isinstance(task, str) else str(self.table["key"].iloc[task])
        if key not in self._series:
            raise ValueError(
                f"the sweep {self.path} kept no time series for task {task!r} "
                "(set series = true in [sweep])"
            )
        return self._series[key][name]

    def time_series(self, name: str = "magnetisation") -> list[npt.NDArray[np.float64]]:
        """``name`` of every task, in the order of :attr:`table` (for reweighting)."""
        return [self.series(i, name) for i in range(len(self.table))]

    def arrays(self, quantity: str) -> GridArrays:
        """``quantity`` and its error as arrays over the grid (see :class:`GridArrays`).

        ``quantity`` is one of :data:`QUANTITIES`, or any numeric column of
        :attr:`table` (then ``error`` is NaN).
        """
        if quantity not in self.table.columns:
            raise ValueError(
                f"quantity must be one of {QUANTITIES} or a column of the table, "
                f"got {quantity!r}"
            )
        shape = self.spec.shape
        order = np.argsort(self.table["index"].to_numpy())
        value = self.table[quantity].to_numpy(dtype=np.float64)[order].reshape(shape)
        err_col = f"{quantity}_error"
        error = (
            self.table[err_col].to_numpy(dtype=np.float64)[order].reshape(shape)
            if err_col in self.table.columns
            else np.full(shape, np.nan)
        )
        coords = {axis: np.asarray(self.spec.grid[axis]) for axis in GRID_AXES}
        return GridArrays(quantity, GRID_AXES, coords, value, error)


def load_sweep(path: str | os.PathLike[str]) -> SweepResult:
    """Read a sweep's HDF5 file (checking its checksums) into a :class:`SweepResult`.

    Raises
    ------
    SweepFileError
        If the file is truncated, corrupted or not a sweep file; the message
        names the file and the way to recover.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sweep file {path}")
    spec_json, records = _read_records(path)
    import h5py

    try:
        with h5py.File(path, "r") as f:
            version = str(f.attrs["neurophase_version"])
            source = str(f.attrs.get("spec_toml", ""))
        spec = SweepSpec.from_dict(json.loads(spec_json), source=source)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise _corrupt_result(path, f"unreadable ({exc})") from None
    if spec.canonical_json() != spec_json:
        raise _corrupt_result(
            path, "inconsistent (its specification does not parse back)"
        )
    table = pd.DataFrame(_columns(records)) if records else pd.DataFrame()
    for name in (*_STRING_COLUMNS, *_META_STRING_COLUMNS):
        if name in table.columns:
            table[name] = table[name].astype(str)
    series = {r["parameters"]["key"]: r["series"] for r in records if r["series"]}
    return SweepResult(path, spec, version, table, series)


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    return _validate.threads(None)


def plan_resources(
    workers: int | None, threads_per_task: int | None, cores: int | None = None
) -> tuple[int, int]:
    """(tasks in flight, OpenMP threads per task) for a local run.

    Missing values are chosen so that ``workers * threads_per_task <= cores``:
    by default one thread per task and one task per core.
    """
    cores = usable_cores() if cores is None else cores
    if threads_per_task is not None:
        threads_per_task = _validate.positive_int("threads_per_task", threads_per_task)
    if workers is not None:
        workers = _validate.positive_int("workers", workers)
    if workers is None and threads_per_task is None:
        return cores, 1
    if workers is None:
        assert threads_per_task is not None
        return max(1, cores // threads_per_task), threads_per_task
    if threads_per_task is None:
        return workers, max(1, cores // workers)
    if workers * threads_per_task > cores:
        logger.info(
            "%d tasks x %d threads exceed the %d usable cores",
            workers,
            threads_per_task,
            cores,
        )
    return workers, threads_per_task


@dataclass(frozen=True)
class Progress:
    """Progress of a running sweep, passed to the ``progress`` callback.

    ``done`` of ``total`` tasks are finished, ``resumed`` of them by an earlier
    run; ``task`` and ``meta`` (wall time, threads, host, pid) describe the task
    that just finished (None at the start).
    """

    done: int
    total: int
    resumed: int
    task: Task | None = None
    meta: Mapping[str, Any] | None = None


class _Store:
    """The parts folder of an unfinished sweep: manifest plus one file per task."""

    def __init__(self, out: Path, spec: SweepSpec, repair: bool) -> None:
        self.out = out
        self.spec = spec
        self.folder = parts_folder(out)
        self.repair = repair

    def open(self) -> None:
        try:
            self.folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise OSError(f"cannot create {self.folder}: {exc.strerror}") from None
        # Temporary files of writes cut short by a crash.
        for tmp in self.folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        manifest = self.folder / _MANIFEST
        wanted = {
            "format": FILE_FORMAT,
            "neurophase_version": __version__,
            "spec": self.spec.canonical(),
        }
        if manifest.exists():
            try:
                stored = json.loads(manifest.read_text(encoding="utf-8"))
                if not isinstance(stored, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, UnicodeDecodeError) as exc:
                raise SweepFileError(
                    manifest,
                    f"{manifest} is corrupted ({exc}); delete the folder {self.folder} "
                    "to recompute every unfinished task",
                ) from None
            _check_same_spec(self.spec, stored.get("spec"), str(manifest))
            _check_same_version(stored.get("neurophase_version"), str(self.folder))
        else:
            text = json.dumps(wanted, sort_keys=True, indent=1).encode()
            _io.write_atomically(manifest, lambda f: _write_bytes(f, text))

    def finished(self, tasks: Sequence[Task]) -> dict[str, dict[str, Any]]:
        by_key = {t.key: t for t in tasks}
        records = {}
        for path in sorted(self.folder.glob(f"task-*{_PART_SUFFIX}")):
            try:
                record = _read_part(path)
                key = record["parameters"]["key"]
                if (
                    key not in by_key
                    or by_key[key].parameters() != record["parameters"]
                ):
                    raise _corrupt_part(path, "from another sweep")
            except SweepFileError:
                if not self.repair:
                    raise
                logger.warning("deleting damaged task file %s", path)
                path.unlink()
                continue
            except (OSError, ValueError, KeyError, TypeError) as exc:
                if not self.repair:
                    raise _corrupt_part(path, f"unreadable ({exc})") from None
                path.unlink()
                continue
            records[key] = record
        return records

    def commit(self, task: Task, record: Mapping[str, Any]) -> None:
        data = _encode_part(record)
        _io.write_atomically(
            _part_path(self.folder, task), lambda f: _write_bytes(f, data)
        )

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _write_bytes(f: IO[bytes], data: bytes) -> None:
    f.write(data)


def _check_same_spec(spec: SweepSpec, stored: Any, where: str) -> None:
    wanted = spec.canonical()
    if stored == wanted:
        return
    differences = []
    if isinstance(stored, dict):
        for table in ("sweep", "grid", "schedule"):
            a, b = stored.get(table, {}), wanted.get(table, {})
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    differences.append(
                        f"{table}.{k}: stored {a.get(k)!r}, given {b.get(k)!r}"
                    )
    detail = "; ".join(differences[:4]) or "unreadable stored specification"
    raise ValueError(
        f"the specification does not match the sweep stored in {where} ({detail}). "
        "Use another output file for a different sweep, or give the stored "
        "specification to resume"
    )


def _check_same_version(stored: Any, where: str) -> None:
    if stored != __version__:
        raise ValueError(
            f"{where} was started by neurophase {stored}, this is {__version__}; "
            "tasks of different versions may not mix. Finish it with that version, "
            "or delete it to start over"
        )


def _check_output(out: Path) -> None:
    _io.check_writable(out)
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise OSError(f"cannot write {out}: folder {out.parent} is not writable")
    if out.exists() and not os.access(out, os.W_OK):
        raise OSError(f"cannot write {out}: the file is read-only")


def _check_scheduler_address(scheduler: Any) -> None:
    """Raise ValueError for an address Dask cannot parse, before any client exists.

    A Client whose constructor fails on the address is left half-made and, when
    collected, times out closing itself with a traceback on stderr.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    if not isinstance(scheduler, str):
        raise TypeError(f"scheduler must be an address string, got {scheduler!r}")
    try:
        protocol, location = parse_address(scheduler)
        if protocol in ("tcp", "tls", "ws", "wss"):
            parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"scheduler {scheduler!r} is not a Dask address such as "
            f"tcp://host:8786 ({exc})"
        ) from None


def connect_scheduler(address: str, timeout: float) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``, within ``timeout`` s.

    ``distributed.Client(address, timeout=...)`` can wait forever on a peer that
    accepts the connection but never speaks Dask (a web server, a silent port),
    so the client is made on a helper thread and given up on after ``timeout``
    (plus two seconds for the handshake).  Raises ValueError for an address Dask
    cannot parse and ConnectionError for a scheduler that cannot be reached or
    does not answer in time; nothing is left half-made to time out noisily later.
    """
    _check_scheduler_address(address)
    timeout = _validate.finite_float("connect_timeout", timeout, positive=True)
    import distributed

    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = distributed.Client(
                address, timeout=timeout, set_as_default=False
            )
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    hint = "start one with `dask scheduler` and check the address (tcp://host:8786)"
    thread = threading.Thread(target=connect, name="dask-connect", daemon=True)
    thread.start()
    thread.join(timeout + 2.0)
    if thread.is_alive():
        # Limitation: the helper thread stays blocked on the silent peer until
        # the process exits (it is a daemon thread and holds no resources of ours).
        raise ConnectionError(
            f"no Dask scheduler answered at {address} within {timeout:g} s; {hint}"
        )
    error = box.get("error")
    if error is not None:
        if isinstance(error, KeyboardInterrupt):
            raise error
        reason = (
            getattr(error, "strerror", None) or str(error).splitlines()[0]
            if str(error)
            else type(error).__name__
        )
        raise ConnectionError(
            f"cannot reach the Dask scheduler at {address} within "
            f"{timeout:g} s ({type(error).__name__}: {reason}); {hint}"
        ) from None
    return box["client"]


def run_sweep(
    spec: SweepSpec | str | os.PathLike[str] | Mapping[str, Any],
    out: str | os.PathLike[str],
    *,
    workers: int | None = None,
    threads_per_task: int | None = None,
    executor: str = "processes",
    scheduler: str | None = None,
    client: Any = None,
    repair: bool = False,
    connect_timeout: float = 10.0,
    progress: Callable[[Progress], None] | None = None,
) -> SweepResult:
    """Run every unfinished task of a sweep and store all results in ``out`` (HDF5).

    Parameters
    ----------
    spec : SweepSpec, path of a TOML file, or mapping
        The sweep (see the module docstring for the format).
    out : path
        The HDF5 result file. Finished tasks are kept in ``<out>.parts/`` until
        all are done; running the same sweep again skips them (resume).
    workers : int, optional
        Tasks in flight. Local default: usable cores // ``threads_per_task``.
        On Dask: default twice the cluster's worker threads (tasks queue on
        the workers).
    threads_per_task : int, optional
        OpenMP threads of each task's engine. Local default:
        max(1, cores // workers), so that workers x threads never exceeds the
        cores; on Dask default 1 (start workers with ``--nthreads`` = cores /
        threads per task).
    executor : {"processes", "threads"}
        Local executor: worker processes started with forkserver (spawn where
        there is no forkserver; never fork after OpenMP) or threads of this
        process (the engine releases the GIL). Ignored when ``scheduler`` or
        ``client`` is given.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``): run the tasks there.
    client : distributed.Client, optional
        An existing Dask client to run the tasks on (not closed afterwards).
    repair : bool
        Delete damaged task files (they rerun) and rename a damaged ``out`` to
        ``<out>.corrupt`` (its tasks rerun) instead of raising.
    connect_timeout : float
        Seconds to wait for the Dask scheduler before raising.
    progress : callable, optional
        Called with a :class:`Progress` when the run starts and after every task.

    Returns
    -------
    SweepResult
        The consolidated results, as :func:`load_sweep` reads them.

    Raises
    ------
    ValueError, TypeError
        Bad specification or parameters; a specification that differs from the
        one stored in ``out`` or ``<out>.parts``.
    SweepFileError
        A damaged task file or result file (the message says how to recover).
    OSError
        ``out`` cannot be written. ``ConnectionError``: no Dask scheduler at
        ``scheduler`` within ``connect_timeout`` seconds.
    SweepTaskError
        A task raised; the tasks finished before are kept for a rerun.
    """
    spec = load_spec(spec)
    out = Path(out)
    if executor not in ("processes", "threads"):
        raise ValueError(f"executor must be 'processes' or 'threads', got {executor!r}")
    if scheduler is not None and client is not None:
        raise ValueError("give either scheduler or client, not both")
    if scheduler is not None:
        _check_scheduler_address(scheduler)
    _check_output(out)
    tasks = spec.tasks()

    # Tasks already consolidated in `out` (a rerun of a finished sweep) or in parts.
    done: dict[str, dict[str, Any]] = {}
    if out.exists():
        try:
            stored_json, records = _read_records(out)
        except SweepFileError:
            if not repair:
                raise
            out.replace(out.with_name(out.name + ".corrupt"))
            logger.warning("renamed damaged %s to %s.corrupt", out, out.name)
        else:
            _check_same_spec(spec, json.loads(stored_json), str(out))
            done.update((r["parameters"]["key"], r) for r in records)
    store = _Store(out, spec, repair)
    if len(done) == len(tasks) and not store.folder.exists():
        # Finished earlier: nothing to run or write.
        if progress is not None:
            progress(Progress(len(done), len(tasks), len(done)))
        return load_sweep(out)
    store.open()
    done.update(store.finished(tasks))
    pending = [t for t in tasks if t.key not in done]
    resumed = len(tasks) - len(pending)
    logger.info("sweep of %d tasks, %d already done", len(tasks), resumed)

    def commit(task: Task, record: dict[str, Any]) -> None:
        version = record["meta"]["neurophase_version"]
        if version != __version__:
            raise ValueError(
                f"a worker runs neurophase {version}, this process {__version__}; "
                "install the same version everywhere (results must be reproducible)"
            )
        store.commit(task, record)
        done[task.key] = record
        if progress is not None:
            progress(Progress(len(done), len(tasks), resumed, task, record["meta"]))

    if progress is not None:
        progress(Progress(len(done), len(tasks), resumed))
    if pending:
        if scheduler is not None or client is not None:
            _run_on_dask(
                pending,
                commit,
                scheduler,
                client,
                workers,
                threads_per_task,
                connect_timeout,
            )
        else:
            n_workers, threads = plan_resources(workers, threads_per_task)
            _run_locally(pending, commit, executor, n_workers, threads)

    _write_result(out, spec, [done[t.key] for t in tasks])
    store.remove()
    return load_sweep(out)


def _failed(task: Task, exc: BaseException) -> SweepTaskError:
    return SweepTaskError(
        f"{task.describe()} failed: {type(exc).__name__}: {exc}. The tasks finished "
        "so far are kept; rerun the same sweep to continue"
    )


_MAX_POOL_RESTARTS = 3


def _run_locally(
    pending: Sequence[Task],
    commit: Callable[[Task, dict[str, Any]], None],
    executor: str,
    workers: int,
    threads: int,
) -> None:
    """Run tasks on a local pool; a worker process that dies is replaced."""
    queue = list(pending)
    restarts = 0
    while queue:
        pool = _local_pool(executor, min(workers, len(queue)))
        capture = executor == "processes"
        futures: dict[cf.Future[dict[str, Any]], Task] = {}
        try:
            for task in queue:
                futures[pool.submit(run_task, task.parameters(), threads, capture)] = (
                    task
                )
            for future in _completed(pool, futures):
                task = futures[future]
                try:
                    record = future.result()
                except cf.process.BrokenProcessPool:
                    raise
                except Exception as exc:
                    raise _failed(task, exc) from exc
                commit(task, record)
                queue.remove(task)
        except cf.process.BrokenProcessPool as exc:
            restarts += 1
            if restarts > _MAX_POOL_RESTARTS:
                raise SweepTaskError(
                    f"worker processes died {restarts} times ({exc}); the tasks "
                    "finished so far are kept; rerun the same sweep to continue"
                ) from exc
            logger.warning("a worker process died; restarting the pool (%s)", exc)
            # The dead worker may have held a lock of the pool's queues, which
            # would block its siblings, and a shutdown waiting for them, forever.
            _terminate_workers(pool)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _terminate_workers(pool: cf.Executor) -> None:
    """SIGKILL the remaining worker processes of a broken process pool."""
    processes = getattr(pool, "_processes", None) or {}
    for proc in list(processes.values()):
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=10)


#: Seconds a dead worker may go unnoticed by the pool before it is declared broken.
_DEAD_WORKER_GRACE = 3.0


def _completed(
    pool: cf.Executor, futures: Mapping[cf.Future[Any], Task]
) -> Iterable[cf.Future[Any]]:
    """Yield futures as they complete; unstick a pool whose worker was killed.

    A worker killed while it writes its result leaves half a message in the
    result pipe; the pool's manager thread then waits for the rest forever
    (the parent holds a write end, so no end-of-file comes) and never reports
    the pool as broken.  When a worker has been dead for a few seconds without
    the pool noticing, the remaining workers are killed and the parent's write
    end is closed: the manager thread then reads end-of-file, marks the pool
    broken, and every pending future raises ``BrokenProcessPool``.
    """
    pending = set(futures)
    dead_since: float | None = None
    while pending:
        done, pending = cf.wait(pending, timeout=0.5, return_when=cf.FIRST_COMPLETED)
        yield from done
        if done or not isinstance(pool, cf.ProcessPoolExecutor):
            dead_since = None
            continue
        processes = getattr(pool, "_processes", None) or {}
        if not any(p.exitcode is not None for p in list(processes.values())):
            dead_since = None
            continue
        now = time.monotonic()
        if dead_since is None:
            dead_since = now
        elif now - dead_since > _DEAD_WORKER_GRACE:
            # Limitation: reaches into the pool's private queue (CPython 3.10-3.13
            # keep the parent's write end of the result pipe there).
            _terminate_workers(pool)
            writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
            if writer is not None:
                writer.close()
            dead_since = None


def _local_pool(executor: str, workers: int) -> cf.Executor:
    if executor == "threads":
        return cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep")
    # Fork after OpenMP has started threads can hang the child; forkserver forks
    # from a clean server process, spawn starts a fresh interpreter.
    methods = multiprocessing.get_all_start_methods()
    context: multiprocessing.context.BaseContext
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        # The server imports the package once (no OpenMP region runs there, so
        # no threads exist to break the fork); each worker starts ready to run.
        context.set_forkserver_preload(["neurophase.sweeps"])
    else:
        context = multiprocessing.get_context("spawn")
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _run_on_dask(
    pending: Sequence[Task],
    commit: Callable[[Task, dict[str, Any]], None],
    scheduler: str | None,
    client: Any,
    workers: int | None,
    threads_per_task: int | None,
    connect_timeout: float,
) -> None:
    """Run tasks on a Dask cluster, keeping at most ``workers`` in flight."""
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise ImportError("running on Dask needs dask[distributed]") from exc
    # Limitation: Dask does not count OpenMP threads; with threads_per_task > 1
    # the workers must be started with that many fewer Dask threads per core.
    threads = (
        1
        if threads_per_task is None
        else _validate.positive_int("threads_per_task", threads_per_task)
    )
    own = client is None
    if own:
        assert scheduler is not None
        client = connect_scheduler(scheduler, connect_timeout)
    try:
        if workers is None:
            # Two tasks per worker thread: each worker has its next task at hand
            # when one finishes, instead of waiting a round trip to the driver.
            workers = max(1, 2 * sum(client.nthreads().values()))
        window = _validate.positive_int("workers", workers)
        queue = iter(pending)
        futures: dict[Any, Task] = {}
        completed = distributed.as_completed(loop=client.loop)

        def top_up() -> None:
            while len(futures) < window:
                task = next(queue, None)
                if task is None:
                    return
                future = client.submit(
                    run_task,
                    task.parameters(),
                    threads,
                    # Limitation: warnings are captured process-wide, so a Dask
                    # worker with several threads may file a note under a neighbour.
                    True,
                    key=f"neurophase-sweep-{task.key}",
                    pure=False,
                )
                futures[future] = task
                completed.add(future)

        top_up()
        for future in completed:
            task = futures.pop(future)
            try:
                record = future.result()
            except Exception as exc:
                for other in futures:
                    other.cancel()
                raise _failed(task, exc) from exc
            commit(task, record)
            top_up()
    finally:
        if own:
            client.close()


__all__ = [
    "GRID_AXES",
    "QUANTITIES",
    "SERIES",
    "GridArrays",
    "Progress",
    "Schedule",
    "SweepFileError",
    "SweepResult",
    "SweepSpec",
    "SweepTaskError",
    "Task",
    "load_spec",
    "load_sweep",
    "make_lattice",
    "parts_folder",
    "plan_resources",
    "run_sweep",
    "run_task",
    "usable_cores",
]
