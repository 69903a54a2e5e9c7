"""Finite-size scaling: wall time to the 2D critical temperature, and the table
of measured against reference values (2D square, 3D cubic, complete graph).

Part 1 runs Wolff simulations of L = 8, 16, 32, 64 at T = 2.269 (one
temperature per size, reweighted), doubling the sweeps per run until the
estimated T_c is within 0.1 % of Onsager's value *and* its error bar is below
0.1 %; it reports the wall time (simulation and analysis) of each attempt.
Part 2 analyses the 2D runs of the final attempt (with a data collapse), 3D
runs on L = 4 ... 16 at T = 4.5115 (with a collapse) and the exact finite-N
Curie-Weiss distributions, and prints one table. Both parts check their
answer against the exact or published values.

    python benchmarks/bench_scaling.py [--workers 2] [--seed 1] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import neurophase as npx
from neurophase import scaling

T_C = scaling.REFERENCES["square"].temperature


def attempt(
    sweeps: int, seed: int, workers: int
) -> tuple[scaling.ScalingResult, scaling.ScalingData, float, float]:
    """One 2D study: (result, data, simulation seconds, analysis seconds)."""
    start = time.perf_counter()
    data = scaling.run_study(
        npx.Lattice.square,
        [8, 16, 32, 64],
        [2.269],
        sweeps=sweeps,
        burn_in=max(500, sweeps // 20),
        seed=seed,
        workers=workers,
        threads=1 if workers > 1 else None,
    )
    mid = time.perf_counter()
    result = scaling.analyse(data)
    return result, data, mid - start, time.perf_counter() - mid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="runs at once (2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-sweeps", type=int, default=256_000)
    parser.add_argument(
        "--repeats", type=int, default=3, help="timings of the final attempt (3)"
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    console = Console(width=150)
    report: dict[str, object] = {
        "cores": len(os.sched_getaffinity(0)),
        "workers": args.workers,
        "seed": args.seed,
        "load_average": os.getloadavg(),
    }

    # Part 1: wall time to T_c within 0.1 %.
    table = Table(title="2D T_c from L = 8..64 (Wolff, T = 2.269, reweighted)")
    for col in ("sweeps/run", "T_c", "deviation", "rel. error", "sim s", "analysis s"):
        table.add_column(col, justify="right")
    attempts = []
    sweeps, total, reached = 2000, 0.0, None
    final = None
    while sweeps <= args.max_sweeps:
        result, data, t_sim, t_an = attempt(sweeps, args.seed, args.workers)
        total += t_sim + t_an
        tc = result.temperature
        dev = tc.value / T_C - 1
        rel = tc.error / tc.value
        ok = abs(dev) < 1e-3 and rel < 1e-3
        table.add_row(
            str(sweeps),
            str(tc),
            f"{dev:+.2e}",
            f"{rel:.2e}",
            f"{t_sim:.1f}",
            f"{t_an:.1f}",
        )
        attempts.append(
            {
                "sweeps": sweeps,
                "tc": tc.as_dict(),
                "method": result.temperature_method,
                "simulation_s": t_sim,
                "analysis_s": t_an,
                "within_0.1%": ok,
            }
        )
        print(f"sweeps {sweeps}: T_c = {tc} ({t_sim + t_an:.1f} s)", file=sys.stderr)
        final, final_data = result, data
        if ok:
            reached = {"sweeps": sweeps, "wall_s": t_sim + t_an, "cumulative_s": total}
            break
        sweeps *= 2
    console.print(table)
    if reached:
        console.print(
            f"T_c within 0.1 % (and error < 0.1 %) after {reached['sweeps']} sweeps "
            f"per run: {reached['wall_s']:.1f} s wall on {report['cores']} cores "
            f"({reached['cumulative_s']:.1f} s including the shorter attempts)"
        )
    else:
        console.print("T_c within 0.1 % not reached within --max-sweeps")
    if reached:
        # The machine is shared and noisy: the final attempt again, several times
        # with 1 and with 2 runs at once; medians and their ratio in one run.
        timing = Table(title=f"time to T_c within 0.1 % ({reached['sweeps']} sweeps)")
        for col in ("runs at once", "median wall s", "all repeats s"):
            timing.add_column(col, justify="right")
        medians = {}
        for workers in (1, 2):
            walls = []
            for _ in range(args.repeats):
                _, _, t_sim, t_an = attempt(reached["sweeps"], args.seed, workers)
                walls.append(t_sim + t_an)
            medians[workers] = float(np.median(walls))
            timing.add_row(
                str(workers),
                f"{medians[workers]:.1f}",
                ", ".join(f"{w:.1f}" for w in walls),
            )
        console.print(timing)
        console.print(f"1 run / 2 runs at once: {medians[1] / medians[2]:.2f}x")
        reached["median_wall_s"] = {str(k): v for k, v in medians.items()}
    report["attempts"] = attempts
    report["reached"] = reached
    assert final is not None
    assert (
        abs(final.temperature.value / T_C - 1)
        < 4 * final.temperature.error / T_C + 1e-3
    )

    # Part 2: the three lattices.
    start = time.perf_counter()
    cubic = scaling.run_study(
        npx.Lattice.cubic,
        [4, 6, 8, 12, 16],
        [4.5115],
        sweeps=40_000,
        burn_in=2000,
        seed=args.seed,
        workers=args.workers,
        threads=1 if args.workers > 1 else None,
    )
    cubic_result = scaling.analyse(cubic, with_collapse=True)
    t_cubic = time.perf_counter() - start
    start = time.perf_counter()
    cw = scaling.ScalingData.curie_weiss([1024, 4096, 16384, 65536], [0.95, 1.0, 1.05])
    cw_result = scaling.analyse(cw)
    t_cw = time.perf_counter() - start
    # The 2D data of the last attempt again, now with the data collapse.
    square = scaling.analyse(final_data, with_collapse=True)
    results = {"square": square, "cubic": cubic_result, "complete": cw_result}
    console.print(scaling.comparison_table(results))
    for key, res in results.items():
        console.print(f"{key}: T_c from {res.temperature_method}", soft_wrap=True)
        for note in res.notes:
            console.print(f"  note: {note}", soft_wrap=True)
    console.print(f"3D: {t_cubic:.1f} s; complete graph (exact): {t_cw:.1f} s")
    report["table"] = {k: r.as_dict() for k, r in results.items()}
    report["times_s"] = {"cubic": t_cubic, "complete": t_cw}
    assert abs(cubic_result.temperature.value / 4.5115 - 1) < 0.01
    assert math.isclose(cw_result.temperature.value, 1.0, abs_tol=1e-4)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps(report, indent=2, default=float))
    console.print(f"wrote {out / 'scaling.json'}")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
