"""Throughput of the neurophase Monte Carlo engine beside NumPy, numba and peers.

Usage::

    python benchmarks/bench_engine.py [--quick] [--huge] [--out benchmarks/results]

What is measured (all at ``T = 2.269``, zero field, ``J = 1``, periodic ``L x L``):

* Metropolis and heat-bath sweeps of neurophase at L = 64, 256, 1024, 4096 with
  1 and 2 threads, as single-spin update attempts per nanosecond;
* the same runs while a second process keeps one core busy;
* the baselines of ``baselines.py`` (NumPy checkerboard, numba sequential and
  checkerboard, mcising, isingenerator) at the same sizes in the same run;
* Wolff (ns per flipped spin) and Swendsen-Wang (ns per spin and sweep) at
  L = 256 and 1024, beside mcising's cluster updates;
* optionally (``--huge``) one or two Metropolis sweeps of a 16384 x 16384
  lattice in a fresh process, with its peak resident memory.

Method: every implementation is first checked for the right answer (cold start,
equilibration at ``T = 2``, mean energy per spin within 0.03 of Onsager's
-1.7456); a kernel that fails is not timed. For each lattice size every kernel
is calibrated (doubling the sweep count until a run lasts a quarter of the
target; this is also the warm-up and JIT compilation) so that one repeat takes
about the target time (0.4 s; 0.1 s with ``--quick``); then the repeats run
round-robin over the kernels (>= 5 repeats for L <= 256, >= 3 above), so slow
drifts of the machine load hit every kernel alike. Tables show the median and
the best repeat; ratios are formed from medians (best in brackets) and are
throughput ratios: > 1 means the first-named implementation is faster.

Results: a table on stdout, the same text in ``<out>/engine.txt`` and everything
raw (every repeat, machine description, checks) in ``<out>/engine.json``
(``engine_quick.*`` for ``--quick``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

try:  # run as ``python benchmarks/bench_engine.py`` or imported as a package
    from . import baselines as bl
except ImportError:
    import baselines as bl

import neurophase as npx
from neurophase import bench

HERE = Path(__file__).resolve().parent
T_BENCH = 2.269
T_CHECK = 2.0
SEED = 1

NP = "neurophase"
M, HB = "metropolis", "heat-bath"
LOCAL = (M, HB)
RATE, COST_FLIP, COST_SITE = "attempts_per_ns", "ns_per_flip", "ns_per_spin_sweep"
METRIC_UNITS = {
    RATE: "attempts/ns",
    COST_FLIP: "ns/flipped spin",
    COST_SITE: "ns/(spin sweep)",
}

GOAL_1T = 0.8  # attempts per ns, Metropolis, L = 1024, one thread
GOAL_2T = 1.5  # the same on two threads
GOAL_WOLFF = 10.0  # ns per flipped spin near T_c
GOAL_SIZE = 1024
NOISE_MARGIN = 0.05  # loaded 2T/1T within 5 % of 1 is read as "equal"


# Settings --------------------------------------------------------------------


@dataclass
class Settings:
    """What to run and how long."""

    quick: bool
    sizes: tuple[int, ...]
    cluster_sizes: tuple[int, ...]
    target_seconds: float
    repeats_small: int = 5
    repeats_large: int = 3
    small_limit: int = 256
    check_size: int = 128
    engine_check_size: int = 512
    check_equilibration: int = 200
    check_samples: int = 40
    loaded: bool = True
    loaded_sizes: tuple[int, ...] = ()
    peers: bool = True
    huge: bool = False
    huge_size: int = 16384

    def repeats(self, size: int) -> int:
        """Timed repeats at lattice side ``size``."""
        return self.repeats_small if size <= self.small_limit else self.repeats_large


def make_settings(args: argparse.Namespace) -> Settings:
    """Settings from the command line."""
    if args.quick:
        s = Settings(
            quick=True,
            sizes=(64, 1024),
            cluster_sizes=(256,),
            target_seconds=0.05,
            engine_check_size=384,
            check_equilibration=60,
            check_samples=15,
        )
    else:
        s = Settings(
            quick=False,
            sizes=(64, 256, 1024, 4096),
            cluster_sizes=(256, 1024),
            target_seconds=0.4,
        )
    if args.sizes:
        s.sizes = tuple(args.sizes)
    if args.target is not None:
        s.target_seconds = args.target
    s.loaded = not args.no_load
    # Quick mode loads only sizes where two threads are actually used.
    s.loaded_sizes = tuple(n for n in s.sizes if not s.quick or n * n > 65536)
    s.peers = not args.no_peers
    s.huge = args.huge
    s.huge_size = args.huge_size
    return s


# The neurophase adapter ------------------------------------------------------


class NeurophaseKernel:
    """neurophase behind the same interface as the baselines.

    The time is taken around ``Simulation.run`` (Python argument checks
    included, a few microseconds); the engine's own ``Run.wall_time`` is kept
    as ``engine_seconds``.
    """

    name = "neurophase"

    def __init__(
        self, size: int, algorithm: str, threads: int, *, start: str = "hot"
    ) -> None:
        self.size = size
        self.algorithm = algorithm
        self.threads = threads
        self.sim = npx.Simulation(
            npx.Lattice.square(size),
            algorithm=algorithm,
            seed=SEED,
            threads=threads,
            start=start,
        )

    def run(self, n_sweeps: int, temperature: float) -> bl.Work:
        """Run ``n_sweeps`` sweeps without recording observables."""
        start = time.perf_counter()
        run = self.sim.run(n_sweeps, temperature=temperature, record=False)
        seconds = time.perf_counter() - start
        return bl.Work(
            seconds,
            n_sweeps,
            int(run.attempts),
            int(run.flips),
            int(run.clusters),
            int(run.threads_used),
            engine_seconds=float(run.wall_time),
            team_sweeps=_optional_int(getattr(run, "team_sweeps", None)),
        )

    def energy(self) -> float:
        """Energy per spin of the current spins."""
        return float(self.sim.measure()["energy"])

    def set_cold(self) -> None:
        """Set every spin to +1."""
        self.sim.spins = np.ones((self.size, self.size), dtype=np.int8)


def _optional_int(x: Any) -> int | None:
    return None if x is None else int(x)


# Cases and timing ------------------------------------------------------------


@dataclass
class Case:
    """One implementation / algorithm / size / thread count / load combination."""

    impl: str
    algorithm: str
    size: int
    threads: int
    loaded: bool
    metric: str
    make: Callable[[], Any] = field(repr=False)
    note: str = ""
    status: str = "pending"
    kernel: Any = field(default=None, repr=False)
    sweeps: int = 0
    calibration: list[dict[str, Any]] = field(default_factory=list)
    repeats: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Identifier used by the ratio and goal tables."""
        return case_key(self.impl, self.algorithm, self.threads, self.loaded)

    def values(self) -> list[float]:
        """The metric of every timed repeat."""
        return [metric_value(self.metric, r, self.size) for r in self.repeats]

    def median(self) -> float:
        """Median of the metric over the repeats (NaN if none)."""
        v = [x for x in self.values() if math.isfinite(x)]
        return statistics.median(v) if v else math.nan

    def best(self) -> float:
        """Best repeat: highest rate or lowest cost."""
        v = [x for x in self.values() if math.isfinite(x)]
        if not v:
            return math.nan
        return max(v) if self.metric == RATE else min(v)

    def threads_used(self) -> int | None:
        """Threads the kernel reported (the most seen over the repeats)."""
        seen = [r["threads_used"] for r in self.repeats + self.calibration]
        return max(seen) if seen else None

    def team_share(self) -> float | None:
        """Fraction of the timed sweeps run by the whole thread team, if reported."""
        reps = [r for r in self.repeats if r.get("team_sweeps") is not None]
        sweeps = sum(r["sweeps"] for r in reps)
        return sum(r["team_sweeps"] for r in reps) / sweeps if sweeps else None

    def acceptance(self) -> float:
        """Flipped spins per attempt over the repeats (NaN if not reported)."""
        flips = [r["flips"] for r in self.repeats]
        attempts = sum(r["attempts"] for r in self.repeats)
        if not flips or any(f is None for f in flips) or attempts == 0:
            return math.nan
        return sum(flips) / attempts

    def to_json(self) -> dict[str, Any]:
        """Everything measured, for the JSON file."""
        return {
            "key": self.key,
            "implementation": self.impl,
            "algorithm": self.algorithm,
            "L": self.size,
            "sites": self.size * self.size,
            "temperature": T_BENCH,
            "threads_requested": self.threads,
            "threads_used": self.threads_used(),
            "team_share": self.team_share(),
            "loaded": self.loaded,
            "status": self.status,
            "note": self.note,
            "metric": self.metric,
            "unit": METRIC_UNITS[self.metric],
            "median": _finite_or_none(self.median()),
            "best": _finite_or_none(self.best()),
            "acceptance": _finite_or_none(self.acceptance()),
            "sweeps_per_repeat": self.sweeps,
            "calibration": self.calibration,
            "repeats": self.repeats,
        }


def case_key(impl: str, algorithm: str, threads: int, loaded: bool) -> str:
    """Key of a case without its size."""
    return f"{impl}|{algorithm}|{threads}T|{'loaded' if loaded else 'idle'}"


def metric_value(metric: str, rep: dict[str, Any], size: int) -> float:
    """The metric of one repeat."""
    seconds = rep["seconds"]
    if metric == RATE:
        return bench.per_ns(rep["attempts"], seconds)
    if metric == COST_FLIP:
        return seconds * 1e9 / rep["flips"] if rep["flips"] else math.nan
    return seconds * 1e9 / (rep["sweeps"] * size * size)


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _work_record(work: bl.Work) -> dict[str, Any]:
    rec = {
        "seconds": work.seconds,
        "sweeps": work.sweeps,
        "attempts": work.attempts,
        "flips": work.flips,
        "clusters": work.clusters,
        "threads_used": work.threads_used,
    }
    if work.engine_seconds is not None:
        rec["engine_seconds"] = work.engine_seconds
    if work.team_sweeps is not None:
        rec["team_sweeps"] = work.team_sweeps
    return rec


_T0 = time.perf_counter()


def log(message: str) -> None:
    """Progress on stderr (stdout carries only the tables), with elapsed time."""
    print(
        f"[{time.perf_counter() - _T0:6.1f} s] {message}", file=sys.stderr, flush=True
    )


def calibrate(case: Case, target: float) -> None:
    """Find the sweeps per repeat; the probe runs double as the warm-up.

    Cluster updates are equilibrated first. Wolff starts cold (all spins up;
    from a hot start its clusters stay small for tens of N flipped spins, and
    the cost per flipped spin depends on the cluster size) and runs until
    10 N spins have flipped; Swendsen-Wang runs 10 sweeps.
    """
    if case.algorithm == "swendsen-wang":
        work = case.kernel.run(10, T_BENCH)
        case.calibration.append({**_work_record(work), "warm_up": True})
    if case.algorithm == "wolff":
        flipped, n, need = 0, 1, 10 * case.size**2
        while flipped < need:
            work = case.kernel.run(n, T_BENCH)
            case.calibration.append({**_work_record(work), "warm_up": True})
            flipped += work.flips or 0
            # Short calls (~2 ms): the clusters grow within a call, so a long
            # call extrapolated from small clusters could run for minutes.
            n = max(1, min(2 * n, int(n * 0.002 / max(work.seconds, 1e-7))))
    n = 1
    while True:
        work = case.kernel.run(n, T_BENCH)
        case.calibration.append(_work_record(work))
        if work.seconds >= 0.25 * target or n >= 1 << 30:
            break
        grow = 0.5 * target / max(work.seconds, 1e-6)
        n = max(n + 1, int(n * min(16.0, max(2.0, grow))))
    per_sweep = work.seconds / n
    case.sweeps = max(1, round(target / per_sweep))


def time_cases(cases: list[Case], settings: Settings, label: str) -> None:
    """Build, calibrate and time ``cases`` (one lattice size) round-robin.

    The same method as :func:`neurophase.bench.interleaved_rates`, kept here
    because this benchmark records every repeat's work (flips, clusters, threads
    used, team sweeps) and must survive a peer that fails in the middle.
    """
    live: list[Case] = []
    for case in cases:
        who = f"{label} {case.impl} {case.algorithm} {case.threads}T"
        try:
            log(f"  setting up {who}")
            case.kernel = case.make()
            calibrate(case, settings.target_seconds)
        except bl.BaselineUnavailable as exc:
            case.status, case.note = "skipped", str(exc)
            log(f"  skipped {who}: {exc}")
            continue
        except Exception as exc:  # a peer that crashes must not stop the run
            case.status, case.note = "failed", f"{type(exc).__name__}: {exc}"
            log(f"  FAILED {who}: {case.note}")
            case.kernel = None
            continue
        live.append(case)
    if not live:
        return
    repeats = max(settings.repeats(c.size) for c in live)
    log(f"  timing {len(live)} kernels x {repeats} repeats ({label})")
    for _ in range(repeats):
        for case in live:
            if case.status == "failed":
                continue
            try:
                work = case.kernel.run(case.sweeps, T_BENCH)
            except Exception as exc:
                case.status, case.note = "failed", f"{type(exc).__name__}: {exc}"
                continue
            case.repeats.append(_work_record(work))
    for case in live:
        if case.status != "failed":
            case.status = "ok"
        if case.impl == "numba checkerboard" and not case.note:
            case.note = f"numba layer {case.kernel.threading_layer()}"
        case.kernel = None  # free the lattice before the next size
    gc.collect()


@contextlib.contextmanager
def one_core_loaded() -> Iterator[int]:
    """A second process spinning on one core for the duration of the block."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it reach the scheduler
        yield proc.pid
    finally:
        proc.kill()
        proc.wait(timeout=30)


# Case lists ------------------------------------------------------------------

NUMBA_HALF = "numba seq. dE0=1/2"
PEER_NOTES = {
    "numpy checkerboard": "Philox raw words",
    "numba sequential": "typewriter, SplitMix64",
    NUMBA_HALF: "as numba seq., dE=0 accepted w.p. 1/2",
    "mcising": "sequential scan, sweep() only",
    "isingenerator": "0 measurement blocks; attempts = sweeps x N",
}


def local_cases(size: int, settings: Settings, loaded: bool) -> list[Case]:
    """neurophase local updates and (unloaded) the baselines at one size."""
    cases = [
        Case(
            "neurophase",
            alg,
            size,
            threads,
            loaded,
            RATE,
            make=lambda a=alg, t=threads: NeurophaseKernel(size, a, t),
        )
        for alg in LOCAL
        for threads in (1, 2)
    ]
    if loaded:
        return cases
    cases += [
        Case(
            "numpy checkerboard",
            "metropolis",
            size,
            1,
            False,
            RATE,
            make=lambda: bl.NumpyCheckerboard(size, seed=SEED),
        ),
        Case(
            "numba sequential",
            "metropolis",
            size,
            1,
            False,
            RATE,
            make=lambda: bl.NumbaSequential(size, seed=SEED),
        ),
        Case(
            NUMBA_HALF,
            "metropolis",
            size,
            1,
            False,
            RATE,
            make=lambda: bl.NumbaSequential(size, seed=SEED, zero_move=0.5),
        ),
    ]
    cases += [
        Case(
            "numba checkerboard",
            "metropolis",
            size,
            threads,
            False,
            RATE,
            make=lambda t=threads: bl.NumbaCheckerboard(size, seed=SEED, threads=t),
        )
        for threads in (1, 2)
    ]
    if settings.peers:
        cases.append(
            Case(
                "mcising",
                "metropolis",
                size,
                1,
                False,
                RATE,
                make=lambda: bl.McisingMetropolis(size, seed=SEED),
            )
        )
        cases += [
            Case(
                "isingenerator",
                "metropolis",
                size,
                threads,
                False,
                RATE,
                make=lambda t=threads: bl.IsingeneratorMetropolis(
                    size, seed=SEED, threads=t
                ),
            )
            for threads in (1, 2)
        ]
    for case in cases:
        case.note = PEER_NOTES.get(case.impl, case.note)
    return cases


def cluster_cases(size: int, settings: Settings) -> list[Case]:
    """Wolff and Swendsen-Wang of neurophase and mcising at one size."""
    cases = [
        Case(
            "neurophase",
            "wolff",
            size,
            1,
            False,
            COST_FLIP,
            make=lambda: NeurophaseKernel(size, "wolff", 1, start="cold"),
        )
    ]
    cases += [
        Case(
            "neurophase",
            "swendsen-wang",
            size,
            threads,
            False,
            COST_SITE,
            make=lambda t=threads: NeurophaseKernel(size, "swendsen-wang", t),
        )
        for threads in (1, 2)
    ]
    if settings.peers:
        cases += [
            Case(
                "mcising",
                "wolff",
                size,
                1,
                False,
                COST_FLIP,
                make=lambda: bl.McisingCluster(size, "wolff", seed=SEED, start="cold"),
                note="one cluster per sweep",
            ),
            Case(
                "mcising",
                "swendsen-wang",
                size,
                1,
                False,
                COST_SITE,
                make=lambda: bl.McisingCluster(size, "swendsen-wang", seed=SEED),
            ),
        ]
    return cases


# Correctness checks ----------------------------------------------------------


def run_checks(settings: Settings) -> list[dict[str, Any]]:
    """Energy at T = 2 against Onsager for neurophase and every baseline."""
    out: list[dict[str, Any]] = []
    n_eq, n_samp = settings.check_equilibration, settings.check_samples
    size = settings.engine_check_size
    big = settings.engine_check_size
    makers: list[tuple[str, str, int, int, Callable[[], Any]]] = [
        (NP, alg, big, 2, lambda a=alg: NeurophaseKernel(big, a, 2))
        for alg in (*LOCAL, "wolff", "swendsen-wang")
    ]
    n = settings.check_size
    makers += [
        ("numpy checkerboard", M, n, 1, lambda: bl.NumpyCheckerboard(n)),
        ("numba sequential", M, n, 1, lambda: bl.NumbaSequential(n)),
        (NUMBA_HALF, M, n, 1, lambda: bl.NumbaSequential(n, zero_move=0.5)),
        ("numba checkerboard", M, n, 2, lambda: bl.NumbaCheckerboard(n, threads=2)),
    ]
    if settings.peers:
        makers += [
            ("mcising", M, n, 1, lambda: bl.McisingMetropolis(n)),
            ("mcising", "wolff", n, 1, lambda: bl.McisingCluster(n, "wolff")),
            (
                "mcising",
                "swendsen-wang",
                n,
                1,
                lambda: bl.McisingCluster(n, "swendsen-wang"),
            ),
            (
                "isingenerator",
                M,
                n,
                2,
                lambda: bl.IsingeneratorMetropolis(n, threads=2),
            ),
        ]
    for impl, alg, size, threads, make in makers:
        rec: dict[str, Any] = {
            "implementation": impl,
            "algorithm": alg,
            "L": size,
            "threads": threads,
        }
        log(f"  check {impl} {alg} L={size} {threads}T")
        try:
            kernel = make()
            # mcising's Wolff "sweep" is one cluster; equilibrated at T = 2 a
            # cluster is most of the lattice, so the same counts suffice.
            check = bl.check_energy(
                kernel,
                name=impl,
                temperature=T_CHECK,
                equilibration_sweeps=n_eq,
                samples=n_samp,
                sweeps_between=2 if alg in ("wolff", "swendsen-wang") else 5,
            )
        except bl.BaselineUnavailable as exc:
            rec.update(status="skipped", note=str(exc))
        except Exception as exc:
            rec.update(status="failed", note=f"{type(exc).__name__}: {exc}")
        else:
            rec.update(
                status="pass" if check.passed else "FAIL",
                energy=check.energy,
                stderr=check.stderr,
                exact=check.exact,
                deviation=check.deviation,
                tolerance=check.tolerance,
                acceptance=check.acceptance if alg in LOCAL else None,
                equilibration_sweeps=check.equilibration_sweeps,
                samples=check.samples,
                sweeps_between=check.sweeps_between,
            )
        out.append(rec)
        gc.collect()
    return out


def failed_checks(checks: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(implementation, algorithm) pairs whose energy check did not pass."""
    return {
        (c["implementation"], c["algorithm"])
        for c in checks
        if c["status"] in ("FAIL", "failed")
    }


def drop_failed(cases: list[Case], bad: set[tuple[str, str]]) -> list[Case]:
    """Mark cases of kernels with a wrong answer as not timed."""
    keep = []
    for case in cases:
        if (case.impl, case.algorithm) in bad:
            case.status = "skipped"
            case.note = "failed the energy check: not timed"
        else:
            keep.append(case)
    return keep


# Huge lattice ----------------------------------------------------------------


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB.

    Linux's ``VmHWM`` belongs to the address space, so it starts afresh at
    ``exec``; ``ru_maxrss`` (the fallback elsewhere) would carry over the peak of
    the parent that forked this process.
    """
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def huge_child(size: int, threads: int, sweeps: int) -> dict[str, Any]:
    """Run in a fresh process: build the lattice, time ``sweeps`` single sweeps."""
    rss_start = peak_rss_mib()
    t0 = time.perf_counter()
    sim = npx.Simulation(
        npx.Lattice.square(size), algorithm="metropolis", seed=SEED, threads=threads
    )
    setup = time.perf_counter() - t0
    rss_setup = peak_rss_mib()
    runs = []
    for _ in range(sweeps):
        t0 = time.perf_counter()
        run = sim.run(1, temperature=T_BENCH, record=False)
        seconds = time.perf_counter() - t0
        runs.append(
            {
                "seconds": seconds,
                "engine_seconds": float(run.wall_time),
                "attempts": int(run.attempts),
                "flips": int(run.flips),
                "threads_used": int(run.threads_used),
                "attempts_per_ns": run.attempts / (seconds * 1e9),
            }
        )
    return {
        "L": size,
        "sites": size * size,
        "spin_bytes": _spin_bytes(sim, size * size),
        "threads_requested": threads,
        "setup_seconds": setup,
        "sweeps": runs,
        "energy_after": float(sim.measure()["energy"]),
        "rss_after_import_mib": rss_start,
        "rss_after_setup_mib": rss_setup,
        "peak_rss_mib": peak_rss_mib(),
    }


def _spin_bytes(sim: Any, sites: int) -> int:
    """Bytes of the spin array (the engine keeps one int8 per spin)."""
    spins = getattr(sim, "_spins", None)
    return int(spins.nbytes) if isinstance(spins, np.ndarray) else sites


def run_huge(settings: Settings) -> list[dict[str, Any]]:
    """The huge lattice in fresh processes (2 sweeps on 2 threads, 1 on 1)."""
    results = []
    for threads, sweeps in ((2, 2), (1, 1)):
        log(f"  huge L={settings.huge_size} {threads}T, {sweeps} sweep(s)")
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--huge-child",
            str(settings.huge_size),
            str(threads),
            str(sweeps),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            results.append(
                {
                    "L": settings.huge_size,
                    "threads_requested": threads,
                    "status": "failed",
                    "note": proc.stderr.strip()[-2000:],
                }
            )
            continue
        rec = json.loads(proc.stdout.strip().splitlines()[-1])
        rec["status"] = "ok"
        results.append(rec)
    return results


# Ratios and goals ------------------------------------------------------------

LOCAL_RATIOS: list[tuple[str, tuple[str, str, int, bool], tuple[str, str, int, bool]]]
LOCAL_RATIOS = [
    (
        "neurophase M 1T / numba sequential",
        (NP, M, 1, False),
        ("numba sequential", M, 1, False),
    ),
    (
        "neurophase M 1T / numba seq. dE0=1/2",
        (NP, M, 1, False),
        (NUMBA_HALF, M, 1, False),
    ),
    (
        "neurophase M 2T / numba checkerb. 2T",
        (NP, M, 2, False),
        ("numba checkerboard", M, 2, False),
    ),
    ("neurophase M 1T / numpy", (NP, M, 1, False), ("numpy checkerboard", M, 1, False)),
    ("neurophase M 1T / mcising", (NP, M, 1, False), ("mcising", M, 1, False)),
    (
        "neurophase M 1T / isingenerator 1T",
        (NP, M, 1, False),
        ("isingenerator", M, 1, False),
    ),
    (
        "neurophase M 2T / isingenerator 2T",
        (NP, M, 2, False),
        ("isingenerator", M, 2, False),
    ),
    ("neurophase M 2T / 1T", (NP, M, 2, False), (NP, M, 1, False)),
    ("neurophase HB 2T / 1T", (NP, HB, 2, False), (NP, HB, 1, False)),
    ("neurophase HB 1T / M 1T", (NP, HB, 1, False), (NP, M, 1, False)),
    ("loaded: neurophase M 2T / 1T", (NP, M, 2, True), (NP, M, 1, True)),
    ("loaded: neurophase HB 2T / 1T", (NP, HB, 2, True), (NP, HB, 1, True)),
    ("neurophase M 1T loaded / idle", (NP, M, 1, True), (NP, M, 1, False)),
    ("neurophase M 2T loaded / idle", (NP, M, 2, True), (NP, M, 2, False)),
    (
        "numba checkerb. 2T / 1T",
        ("numba checkerboard", M, 2, False),
        ("numba checkerboard", M, 1, False),
    ),
]
CLUSTER_RATIOS = [
    (
        "neurophase Wolff / mcising Wolff",
        (NP, "wolff", 1, False),
        ("mcising", "wolff", 1, False),
    ),
    (
        "neurophase SW 1T / mcising SW",
        (NP, "swendsen-wang", 1, False),
        ("mcising", "swendsen-wang", 1, False),
    ),
    (
        "neurophase SW 2T / 1T",
        (NP, "swendsen-wang", 2, False),
        (NP, "swendsen-wang", 1, False),
    ),
]


def index_cases(cases: list[Case]) -> dict[tuple[str, int], Case]:
    """Cases by (key, L), timed ones only."""
    return {(c.key, c.size): c for c in cases if c.status == "ok" and c.repeats}


def speed_ratio(num: Case, den: Case, use_best: bool = False) -> float:
    """How many times faster ``num`` is than ``den`` (either metric kind)."""
    a = num.best() if use_best else num.median()
    b = den.best() if use_best else den.median()
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0 or b <= 0:
        return math.nan
    return a / b if num.metric == RATE else b / a


def compute_ratios(
    cases: list[Case], specs: list[Any], sizes: tuple[int, ...]
) -> list[dict[str, Any]]:
    """Every ratio row at every size where both sides were timed."""
    idx = index_cases(cases)
    rows = []
    for label, num, den in specs:
        row: dict[str, Any] = {"ratio": label, "by_L": {}}
        for size in sizes:
            a, b = idx.get((case_key(*num), size)), idx.get((case_key(*den), size))
            if a is None or b is None:
                continue
            row["by_L"][str(size)] = {
                "median": _finite_or_none(speed_ratio(a, b)),
                "best": _finite_or_none(speed_ratio(a, b, use_best=True)),
                "threads_used": [a.threads_used(), b.threads_used()],
            }
        rows.append(row)
    return rows


def growth_row(cases: list[Case], sizes: tuple[int, ...]) -> dict[str, Any]:
    """Throughput at each L relative to the smallest L (neurophase M 1T)."""
    idx = index_cases(cases)
    key = case_key(NP, M, 1, False)
    base = idx.get((key, min(sizes))) if sizes else None
    row: dict[str, Any] = {"ratio": f"neurophase M 1T: L / L={min(sizes)}", "by_L": {}}
    if base is None:
        return row
    for size in sizes:
        c = idx.get((key, size))
        if c is not None:
            row["by_L"][str(size)] = {
                "median": _finite_or_none(speed_ratio(c, base)),
                "best": _finite_or_none(speed_ratio(c, base, use_best=True)),
            }
    return row


def _verdict(ok_median: bool, ok_best: bool) -> str:
    if ok_median:
        return "pass"
    return "pass (best repeat only)" if ok_best else "FAIL"


def compute_goals(
    local: list[Case], loaded: list[Case], cluster: list[Case]
) -> list[dict[str, Any]]:
    """The README's performance goals, evaluated on this run."""
    goals: list[dict[str, Any]] = []
    idx = index_cases(local + loaded + cluster)
    for threads, bound in ((1, GOAL_1T), (2, GOAL_2T)):
        c = idx.get((case_key(NP, M, threads, False), GOAL_SIZE))
        g: dict[str, Any] = {
            "goal": f"Metropolis L={GOAL_SIZE} {threads}T >= {bound} attempts/ns"
        }
        if c is None:
            g["verdict"] = "not measured"
        else:
            g.update(
                median=c.median(),
                best=c.best(),
                threads_used=c.threads_used(),
                verdict=_verdict(c.median() >= bound, c.best() >= bound),
            )
        goals.append(g)
    for c in cluster:
        if c.impl == NP and c.algorithm == "wolff" and (c.key, c.size) in idx:
            goals.append(
                {
                    "goal": f"Wolff L={c.size} <= {GOAL_WOLFF} ns per flipped spin",
                    "median": c.median(),
                    "best": c.best(),
                    "verdict": _verdict(
                        c.median() <= GOAL_WOLFF, c.best() <= GOAL_WOLFF
                    ),
                }
            )
    for alg in LOCAL:
        one, two = case_key(NP, alg, 1, True), case_key(NP, alg, 2, True)
        for size in sorted({c.size for c in loaded}):
            a, b = idx.get((two, size)), idx.get((one, size))
            if a is None or b is None:
                continue
            r, rb = speed_ratio(a, b), speed_ratio(a, b, use_best=True)
            if a.threads_used() == 1:
                verdict = "n/a: the 2T request ran on 1 thread"
            elif r >= 1.0:
                verdict = "pass"
            elif r >= 1.0 - NOISE_MARGIN:
                verdict = "pass (within 5 % noise)"
            else:
                verdict = "FAIL"
            goals.append(
                {
                    "goal": f"loaded {alg} L={size}: 2T not slower than 1T",
                    "median": r,
                    "best": rb,
                    "threads_used": a.threads_used(),
                    "verdict": verdict,
                }
            )
    return goals


# Machine description ---------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """Build, platform and package versions, load average."""
    info: dict[str, Any] = {
        "neurophase_build": npx.build_info(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "numba": bl.package_version("numba"),
        "mcising": bl.package_version("mcising"),
        "isingenerator": bl.package_version("isingenerator"),
        "omp_env": {k: v for k, v in os.environ.items() if k.startswith("OMP_")},
    }
    with contextlib.suppress(OSError):
        info["load_average_start"] = list(os.getloadavg())
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "cpp", "python"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if rev.returncode == 0:
            info["git_commit"] = rev.stdout.strip()
            info["git_engine_dirty"] = bool(dirty.stdout.strip())
    return info


# Rendering -------------------------------------------------------------------


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, float):
        if x == 0.0:
            return "0"
        mag = math.floor(math.log10(abs(x)))
        return f"{x:.{max(0, digits - 1 - mag)}f}"
    return str(x)


_NUMERIC = re.compile(r"^[-+]?[\d.,/ ()eE+-]*$|^-$")


class Report:
    """Collects tables and prints them with rich (or plain text without it)."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, list[str], list[list[str]], str]] = []

    def table(
        self, title: str, headers: list[str], rows: list[list[str]], caption: str = ""
    ) -> None:
        """Add one table."""
        self.blocks.append((title, headers, rows, caption))

    def render(self) -> str:
        """Print every table to stdout and return the same text."""
        try:
            from rich import box
            from rich.console import Console
            from rich.table import Table
            from rich.text import Text
        except ImportError:
            text = self._plain()
            print(text)
            return text
        console = Console(width=400, record=True, highlight=False, soft_wrap=True)
        for title, headers, rows, caption in self.blocks:
            t = Table(
                title=title,
                box=box.MARKDOWN,
                title_justify="left",
                caption=caption or None,
                caption_justify="left",
            )
            for i, h in enumerate(headers):
                numeric = all(_NUMERIC.match(r[i]) for r in rows if i < len(r))
                t.add_column(h, justify="right" if numeric else "left", no_wrap=True)
            for r in rows:
                t.add_row(*(Text(cell) for cell in r))  # no markup in cells
            console.print(t)
            console.print()
        return console.export_text()

    def _plain(self) -> str:
        out = []
        for title, headers, rows, caption in self.blocks:
            widths = [
                max(len(str(x)) for x in col)
                for col in zip(headers, *rows, strict=False)
            ]
            out.append(title)
            for r in [headers, ["-" * w for w in widths], *rows]:
                out.append(
                    "| "
                    + " | ".join(s.ljust(w) for s, w in zip(r, widths, strict=True))
                    + " |"
                )
            if caption:
                out.append(caption)
            out.append("")
        return "\n".join(out)


def acceptance_note(checks: list[dict[str, Any]]) -> str:
    """A note when neurophase's Metropolis uses another acceptance rule.

    The equilibrium acceptance of single-site Metropolis depends only on the
    acceptance rule (not on the visiting order), so the checks at T = 2 compare
    rules: a difference over 5 % from the textbook numba kernel means, for
    instance, ``dE = 0`` moves accepted with probability 1/2 instead of 1.
    """
    acc = {(c["implementation"], c["algorithm"]): c.get("acceptance") for c in checks}
    ours, ref = acc.get((NP, M)), acc.get(("numba sequential", M))
    if ours is None or ref is None or abs(ours / ref - 1.0) <= 0.05:
        return ""
    return f"acceptance at T=2 {ours:.3f} vs textbook {ref:.3f}: other rule"


def _local_note(case: Case, rule_note: str) -> str:
    if case.status != "ok":
        return f"{case.status}: {case.note}"
    if rule_note and case.impl == NP and case.algorithm == M:
        return f"{case.note}; {rule_note}" if case.note else rule_note
    return case.note


def _threads_cell(case: Case) -> str:
    used = case.threads_used()
    cell = f"{case.threads}/{used if used is not None else '-'}"
    share = case.team_share()
    if used is not None and used > 1 and share is not None and share < 1.0:
        cell += f" (team {100 * share:.0f}%)"
    return cell


def build_report(result: dict[str, Any], cases: dict[str, list[Case]]) -> Report:
    """All tables of the run."""
    rep = Report()
    info = result["machine"]
    build = info["neurophase_build"]
    rep.table(
        "Run",
        ["item", "value"],
        [
            ["date (UTC)", result["date"]],
            ["mode", result["mode"]],
            [
                "neurophase",
                f"{build.get('version')} ({info.get('git_commit', '?')}"
                f"{', engine tree dirty' if info.get('git_engine_dirty') else ''}); "
                f"sweep kernels {build.get('local_update_path', '?')}, "
                f"msc {build.get('msc_kernel', '?')}; OpenMP {build.get('openmp')}; "
                f"max threads {build.get('max_threads')}",
            ],
            ["cpu", f"{info.get('cpu_model', '?')}, {info.get('cpu_count')} cores"],
            [
                "load average",
                f"start {_fmt_load(info.get('load_average_start'))}, "
                f"end {_fmt_load(info.get('load_average_end'))}",
            ],
            [
                "versions",
                f"python {info['python']}, numpy {info['numpy']}, "
                f"numba {info['numba']}, mcising {info['mcising']}, "
                f"isingenerator {info['isingenerator']}",
            ],
            ["temperature", f"{T_BENCH} (checks at {T_CHECK})"],
            ["target per repeat", f"{result['settings']['target_seconds']} s"],
        ],
    )
    rep.table(
        f"Correctness: <E>/N at T = {T_CHECK} from a cold start "
        f"(Onsager {bl.onsager_energy(T_CHECK):.4f})",
        [
            "implementation",
            "algorithm",
            "L",
            "thr",
            "E/N",
            "stderr",
            "E - exact",
            "tol",
            "accept",
            "result",
        ],
        [
            [
                c["implementation"],
                c["algorithm"],
                str(c["L"]),
                str(c["threads"]),
                _fmt(c.get("energy"), 5),
                _fmt(c.get("stderr"), 2),
                f"{c['deviation']:+.4f}" if "deviation" in c else "-",
                _fmt(c.get("tolerance"), 2),
                _fmt(c.get("acceptance")),
                c["status"] + (f": {c['note']}" if c.get("note") else ""),
            ]
            for c in result["checks"]
        ],
    )
    local = cases["local"] + cases["loaded"]
    rule_note = acceptance_note(result["checks"])
    rows = []
    for case in sorted(
        local,
        key=lambda c: (c.size, c.loaded, c.impl != NP, c.impl, c.algorithm, c.threads),
    ):
        rows.append(
            [
                str(case.size),
                case.impl,
                case.algorithm,
                _threads_cell(case),
                "1 core busy" if case.loaded else "",
                str(case.sweeps) if case.repeats else "-",
                str(len(case.repeats)),
                _fmt(case.median()),
                _fmt(case.best()),
                _fmt(case.acceptance()),
                _local_note(case, rule_note),
            ]
        )
    rep.table(
        f"Local updates at T = {T_BENCH}: single-spin attempts per ns "
        "(higher is better)",
        [
            "L",
            "implementation",
            "algorithm",
            "thr req/used",
            "load",
            "sweeps/rep",
            "reps",
            "median",
            "best",
            "accept",
            "note",
        ],
        rows,
        caption="thr req/used: threads asked for / threads the kernel ran on "
        "(neurophase uses at most one thread per 65536 sites).",
    )
    rows = []
    for case in sorted(
        cases["cluster"],
        key=lambda c: (c.algorithm, c.size, c.impl != NP, c.impl, c.threads),
    ):
        mean_cluster = "-"
        if case.repeats and case.algorithm == "wolff":
            flips = sum(r["flips"] or 0 for r in case.repeats)
            clusters = sum(r["clusters"] or 0 for r in case.repeats)
            if clusters:
                mean_cluster = _fmt(flips / clusters)
        rows.append(
            [
                case.algorithm,
                str(case.size),
                case.impl,
                _threads_cell(case),
                str(case.sweeps) if case.repeats else "-",
                str(len(case.repeats)),
                METRIC_UNITS[case.metric],
                _fmt(case.median()),
                _fmt(case.best()),
                mean_cluster,
                case.note if case.status == "ok" else f"{case.status}: {case.note}",
            ]
        )
    rep.table(
        f"Cluster updates at T = {T_BENCH} (lower is better)",
        [
            "algorithm",
            "L",
            "implementation",
            "thr req/used",
            "sweeps/rep",
            "reps",
            "unit",
            "median",
            "best",
            "mean cluster",
            "note",
        ],
        rows,
        caption="Wolff: wall time per flipped spin. Swendsen-Wang: wall time per "
        "spin per sweep. mcising's Wolff sweep is one cluster.",
    )
    sizes = tuple(sorted({c.size for c in local}))
    csizes = tuple(sorted({c.size for c in cases["cluster"]}))
    rep.table(
        "Ratios: throughput of the first over the second, median (best repeats)",
        ["ratio", *[f"L={s}" for s in sizes]],
        _ratio_rows(result["ratios"]["local"], sizes),
        caption="> 1: the first-named is faster. Both sides measured in this run, "
        "interleaved repeat by repeat.",
    )
    if csizes:
        rep.table(
            "Ratios, cluster updates (speed of the first over the second)",
            ["ratio", *[f"L={s}" for s in csizes]],
            _ratio_rows(result["ratios"]["cluster"], csizes),
        )
    rep.table(
        "Goals",
        ["goal", "median", "best", "verdict"],
        [
            [g["goal"], _fmt(g.get("median")), _fmt(g.get("best")), g["verdict"]]
            for g in result["goals"]
        ],
        caption="Read on a shared, noisy 2-core machine: absolute numbers move with "
        "the load; the ratios of one run are the meaningful output.",
    )
    if result.get("huge"):
        rep.table(
            "Huge lattice (fresh process per row)",
            [
                "L",
                "thr req/used",
                "setup s",
                "attempts/ns per sweep",
                "peak RSS MiB",
                "spins MiB",
                "status",
            ],
            [
                [
                    str(h["L"]),
                    f"{h['threads_requested']}/"
                    + ",".join(str(s["threads_used"]) for s in h.get("sweeps", [])),
                    _fmt(h.get("setup_seconds")),
                    ", ".join(_fmt(s["attempts_per_ns"]) for s in h.get("sweeps", [])),
                    _fmt(h.get("peak_rss_mib"), 4),
                    _fmt(h["spin_bytes"] / 2**20, 4) if "spin_bytes" in h else "-",
                    h["status"] + (f": {h['note'][:200]}" if h.get("note") else ""),
                ]
                for h in result["huge"]
            ],
        )
    return rep


def _fmt_load(load: Any) -> str:
    return "/".join(f"{x:.2f}" for x in load) if load else "?"


def _ratio_rows(rows: list[dict[str, Any]], sizes: tuple[int, ...]) -> list[list[str]]:
    out = []
    for row in rows:
        cells = []
        for s in sizes:
            r = row["by_L"].get(str(s))
            cells.append(
                "-" if r is None else f"{_fmt(r['median'])} ({_fmt(r['best'])})"
            )
        out.append([row["ratio"], *cells])
    return out


# Main ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="reduced set, < 1 minute")
    p.add_argument("--out", type=Path, default=HERE / "results", help="result dir")
    p.add_argument("--huge", action="store_true", help="add the 16384^2 run")
    p.add_argument("--huge-size", type=int, default=16384, help="side of --huge")
    p.add_argument("--sizes", type=int, nargs="+", help="override the lattice sides")
    p.add_argument("--target", type=float, help="seconds per repeat")
    p.add_argument("--no-load", action="store_true", help="skip the loaded runs")
    p.add_argument("--no-peers", action="store_true", help="skip mcising/isingenerator")
    p.add_argument("--huge-child", nargs=3, type=int, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables, write JSON and text."""
    args = parse_args(argv)
    if args.huge_child:
        print(json.dumps(huge_child(*args.huge_child)))
        return 0
    warnings.simplefilter("default")
    settings = make_settings(args)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "schema": 1,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if settings.quick else "full",
        "machine": machine_info(),
        "settings": {k: v for k, v in vars(settings).items() if not callable(v)},
    }
    phases: dict[str, float] = {}
    result["phase_seconds"] = phases
    mark = time.perf_counter()

    def phase_done(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = now - mark
        mark = now

    log("checks (energy at T = 2 against Onsager)")
    result["checks"] = run_checks(settings)
    phase_done("checks")
    bad = failed_checks(result["checks"])

    local: list[Case] = []
    for size in settings.sizes:
        log(f"local updates L={size}")
        cases = local_cases(size, settings, loaded=False)
        local += cases
        time_cases(drop_failed(cases, bad), settings, f"L={size}")
    phase_done("local")

    loaded: list[Case] = []
    if settings.loaded:
        with one_core_loaded() as pid:
            result["loader_pid"] = pid
            for size in settings.loaded_sizes:
                log(f"local updates L={size}, one core loaded")
                cases = local_cases(size, settings, loaded=True)
                loaded += cases
                time_cases(drop_failed(cases, bad), settings, f"L={size} loaded")
    phase_done("loaded")

    cluster: list[Case] = []
    for size in settings.cluster_sizes:
        log(f"cluster updates L={size}")
        cases = cluster_cases(size, settings)
        cluster += cases
        time_cases(drop_failed(cases, bad), settings, f"L={size}")

    phase_done("cluster")
    if settings.huge:
        result["huge"] = run_huge(settings)
        phase_done("huge")

    sizes = tuple(settings.sizes)
    result["ratios"] = {
        "local": [
            *compute_ratios(local + loaded, LOCAL_RATIOS, sizes),
            growth_row(local, sizes),
        ],
        "cluster": compute_ratios(cluster, CLUSTER_RATIOS, settings.cluster_sizes),
    }
    result["goals"] = compute_goals(local, loaded, cluster)
    result["cases"] = [c.to_json() for c in local + loaded + cluster]
    with contextlib.suppress(OSError):
        result["machine"]["load_average_end"] = list(os.getloadavg())
    result["elapsed_seconds"] = time.perf_counter() - started

    report = build_report(
        result, {"local": local, "loaded": loaded, "cluster": cluster}
    )
    text = report.render()
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "engine_quick" if settings.quick else "engine"
    json_path = args.out / f"{stem}.json"
    json_path.write_text(json.dumps(result, indent=1, default=_json_default) + "\n")
    (args.out / f"{stem}.txt").write_text(text)
    log(f"wrote {json_path} and {stem}.txt in {result['elapsed_seconds']:.0f} s")
    return 0


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


if __name__ == "__main__":
    raise SystemExit(main())
