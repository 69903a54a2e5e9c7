"""Throughput of multi-spin-coded Metropolis beside the byte engine and numba.

Usage::

    python benchmarks/bench_msc.py [--quick] [--sizes 256 1024 ...] [--out DIR]

For every side L of a periodic L x L lattice at T = 2.269 (near T_c, from a hot
start), in one process and one run: ``metropolis-msc`` (1 bit per spin) with 1
and 2 threads, the byte-per-spin ``metropolis`` engine with 1 and 2 threads,
and the numba sequential Metropolis baseline of ``baselines.py`` (1 thread).
Each case is timed in repeats of about ``--target`` seconds, the cases of one
size interleaved round-robin; the table shows median spin-flip attempts per
nanosecond and same-run ratios of medians, including the goals (>= 3
attempts/ns on one core, >= 6 on two, at L >= 1024). Before timing, the
multi-spin-coded engine is checked against Onsager's energy at T = 3.

Writes ``<out>/msc.json`` (every repeat) and ``<out>/msc.txt`` (the table).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

try:  # run as ``python benchmarks/bench_msc.py`` or imported as a package
    from . import baselines as bl
except ImportError:
    import baselines as bl

import neurophase as npx
from neurophase import bench

HERE = Path(__file__).resolve().parent
T_BENCH = 2.269
SEED = 1
MSC = "metropolis-msc"
GOAL_ONE_CORE = 3.0  # attempts per ns, L >= 1024
GOAL_TWO_CORES = 6.0

# sweeps -> (seconds, attempts, threads used, sweeps run by the whole team)
Runner = Callable[[int], tuple[float, int, int, int]]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def neurophase_runner(size: int, algorithm: str, threads: int) -> Runner:
    sim = npx.Simulation(
        npx.Lattice.square(size), algorithm=algorithm, seed=SEED, threads=threads
    )

    def run(sweeps: int) -> tuple[float, int, int, int]:
        result = sim.run(sweeps, temperature=T_BENCH, record=False)
        return (
            result.wall_time,
            result.attempts,
            result.threads_used,
            result.team_sweeps,
        )

    return run


def numba_runner(size: int) -> Runner:
    kernel = bl.NumbaSequential(size, seed=SEED)

    def run(sweeps: int) -> tuple[float, int, int, int]:
        work = kernel.run(sweeps, T_BENCH)
        return work.seconds, work.attempts, work.threads_used, sweeps

    return run


def time_cases(
    runners: list[tuple[str, int, Runner]], size: int, target: float, repeats: int
) -> list[dict[str, Any]]:
    """Time every case of one size, repeats interleaved round-robin.

    The timing is the package's (:func:`neurophase.bench.interleaved_rates`, as
    in ``neurophase bench``): each case's sweeps per repeat are calibrated to
    about ``target`` seconds, the calibration runs doubling as warm-up (and numba
    compilation); interleaving the repeats exposes every case to the same changes
    of load from other processes, so the ratios of medians stay meaningful on a
    busy machine.
    """
    threads_used = [1] * len(runners)
    sweeps_run = [0] * len(runners)
    team_sweeps = [0] * len(runners)

    def workload(k: int, run: Runner) -> bench.Workload:
        def work(sweeps: int) -> tuple[float, float]:
            seconds, attempts, threads_used[k], team = run(sweeps)
            sweeps_run[k] += sweeps
            team_sweeps[k] += team
            return seconds, float(attempts)

        return work

    workloads = {
        f"{name}|{threads}": workload(k, run)
        for k, (name, threads, run) in enumerate(runners)
    }
    log(f"L = {size}: calibrating and timing {len(runners)} cases x {repeats} repeats")
    samples = bench.interleaved_rates(workloads, target_s=target, repeats=repeats)
    cases = []
    for k, (name, threads, _) in enumerate(runners):
        s = samples[f"{name}|{threads}"]
        cases.append(
            {
                "impl": name,
                "threads": threads,
                "size": size,
                "threads_used": threads_used[k],
                # Sweeps (calibration included) run by all threads_used threads;
                # the rest ran on one, chosen when other processes hold the cores.
                "team_fraction": team_sweeps[k] / max(sweeps_run[k], 1),
                "sweeps_per_repeat": s.count,
                "attempts_per_ns": s.rates,
                "median": s.median,
                "best": s.best,
                "cpu_per_wall": s.cpu_per_wall,
            }
        )
    return cases


def check_onsager() -> dict[str, Any]:
    """Mean energy of the msc engine on 256^2 at T = 3 against Onsager."""
    run = npx.simulate(
        npx.Lattice.square(256),
        temperature=3.0,
        sweeps=400,
        burn_in=200,
        algorithm=MSC,
        seed=SEED,
    )
    energy = float(np.mean(run.energy))
    exact = float(npx.exact.onsager_energy(3.0))
    return {
        "check": "msc energy at T = 3 on 256^2 vs Onsager",
        "value": energy,
        "exact": exact,
        "ok": abs(energy - exact) < 2e-3,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes 256, 1024 only")
    parser.add_argument("--sizes", type=int, nargs="+", help="lattice sides")
    parser.add_argument("--target", type=float, default=0.4, help="s per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([256, 1024] if args.quick else [256, 1024, 4096, 16384])
    for size in sizes:
        if size % 64:
            parser.error(f"--sizes: the msc engine needs multiples of 64, got {size}")

    check = check_onsager()
    log(f"check: {check}")
    if not check["ok"]:
        log("the msc engine failed its check; no timings")
        return 1
    numba_ok, numba_reason = bl.numba_status()

    cases: list[dict[str, Any]] = []
    for size in sizes:
        runners: list[tuple[str, int, Runner]] = [
            (MSC, 1, neurophase_runner(size, MSC, 1)),
            (MSC, 2, neurophase_runner(size, MSC, 2)),
            ("metropolis", 1, neurophase_runner(size, "metropolis", 1)),
            ("metropolis", 2, neurophase_runner(size, "metropolis", 2)),
        ]
        if numba_ok:
            runners.append(("numba sequential", 1, numba_runner(size)))
        cases.extend(time_cases(runners, size, args.target, args.repeats))
        del runners  # free the lattices before the next size

    rows = table_rows(cases, sizes)
    text = render(rows, numba_ok, numba_reason)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "msc.txt").write_text(text + "\n")
    record = {
        "temperature": T_BENCH,
        "check": check,
        "numba": numba_reason if not numba_ok else bl.package_version("numba"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build": npx.build_info(),
        },
        "cases": cases,
        "rows": rows,
    }
    (args.out / "msc.json").write_text(json.dumps(record, indent=2))
    return 0


def table_rows(cases: list[dict[str, Any]], sizes: list[int]) -> list[dict[str, Any]]:
    def median(impl: str, threads: int, size: int, key: str = "median") -> float:
        for c in cases:
            if c["impl"] == impl and c["threads"] == threads and c["size"] == size:
                return float(c[key])
        return math.nan

    rows = []
    for size in sizes:
        msc1, msc2 = median(MSC, 1, size), median(MSC, 2, size)
        byte1, byte2 = median("metropolis", 1, size), median("metropolis", 2, size)
        numba = median("numba sequential", 1, size)
        rows.append(
            {
                "size": size,
                "msc_1t": msc1,
                "msc_2t": msc2,
                "byte_1t": byte1,
                "byte_2t": byte2,
                "numba_1t": numba,
                "msc_1t_over_goal": msc1 / GOAL_ONE_CORE,
                "msc_2t_over_goal": msc2 / GOAL_TWO_CORES,
                "msc_1t_over_numba": msc1 / numba,
                "msc_2t_over_numba": msc2 / numba,
                "msc_1t_over_byte_1t": msc1 / byte1,
                "msc_2t_over_1t": msc2 / msc1,
                "msc_2t_team_fraction": median(MSC, 2, size, "team_fraction"),
            }
        )
    return rows


def render(rows: list[dict[str, Any]], numba_ok: bool, numba_reason: str) -> str:
    head = (
        f"{'L':>6} | {'msc 1T':>7} {'msc 2T':>7} | {'byte 1T':>7} {'byte 2T':>7} | "
        f"{'numba':>7} | {'1T/goal':>7} {'2T/goal':>7} | {'1T/numba':>8} "
        f"{'2T/numba':>8} | {'1T/byte':>7} {'2T/1T':>6} {'team':>5}"
    )
    lines = [
        "2T columns ran on the threads the engine chose (one below 64k spins per "
        "thread; see msc.json 'threads_used'); team: the fraction of msc 2T sweeps "
        "run by both threads (the rest ran on one, found faster while other "
        "processes held a core)",
        f"Metropolis spin-flip attempts per ns at T = {T_BENCH} (median of repeats); "
        f"goals {GOAL_ONE_CORE:g}/ns on 1 core, {GOAL_TWO_CORES:g}/ns on 2 (L >= 1024)",
        head,
        "-" * len(head),
    ]
    for r in rows:
        lines.append(
            f"{r['size']:>6} | {r['msc_1t']:7.3f} {r['msc_2t']:7.3f} | "
            f"{r['byte_1t']:7.3f} {r['byte_2t']:7.3f} | {r['numba_1t']:7.4f} | "
            f"{r['msc_1t_over_goal']:7.2f} {r['msc_2t_over_goal']:7.2f} | "
            f"{r['msc_1t_over_numba']:8.1f} {r['msc_2t_over_numba']:8.1f} | "
            f"{r['msc_1t_over_byte_1t']:7.2f} {r['msc_2t_over_1t']:6.2f} "
            f"{r['msc_2t_team_fraction']:5.2f}"
        )
    if not numba_ok:
        lines.append(f"numba: {numba_reason}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
