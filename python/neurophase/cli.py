"""Command line: ``neurophase simulate`` and ``neurophase info``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import ALGORITHMS, Lattice, Simulation, build_info

# Sweeps are run in chunks so that progress shows and an interrupted run keeps
# every finished chunk (records and checkpoint).
_CHUNKS = 20


def _lattice_from_args(args: argparse.Namespace) -> Lattice:
    boundary = args.boundary
    if args.shape:
        try:
            shape = tuple(int(s) for s in args.shape.lower().split("x"))
        except ValueError:
            raise ValueError(
                f"--shape must look like 3x5 or 16x16x16, got {args.shape!r}"
            ) from None
        return Lattice(shape, boundary)
    if args.lattice == "chain":
        return Lattice.chain(args.side, boundary)
    if args.lattice == "square":
        return Lattice.square(args.side, boundary=boundary)
    if args.lattice == "cubic":
        return Lattice.cubic(args.side, boundary)
    if args.lattice == "hypercubic":
        return Lattice.hypercubic(args.dimension, args.side, boundary)
    return Lattice.complete(args.side)


def _save_npz(path: Path, **arrays: Any) -> None:
    """Write an .npz file atomically: a temporary file renamed into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _simulate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    console = Console()
    if args.resume:
        sim = Simulation.load(args.resume)
        lattice = sim.lattice
    else:
        lattice = _lattice_from_args(args)
        sim = Simulation(
            lattice,
            coupling=args.coupling,
            field=args.field,
            algorithm=args.algorithm,
            seed=args.seed,
            start=args.start,
            threads=args.threads,
        )
    if args.sweeps < 1:
        raise ValueError(f"--sweeps must be >= 1, got {args.sweeps}")
    if args.burn_in < 0:
        raise ValueError(f"--burn-in must be >= 0, got {args.burn_in}")
    out = Path(args.out) if args.out else None
    checkpoint = Path(args.checkpoint) if args.checkpoint else None

    magnetisation: list[np.ndarray] = []
    energy: list[np.ndarray] = []
    wall = 0.0
    flips = attempts = 0
    threads_used = 1
    interrupted = False
    with Progress(console=console, transient=True, disable=args.quiet) as progress:
        try:
            if args.burn_in and not args.resume:
                task = progress.add_task("burn-in", total=args.burn_in)
                for n in np.diff(np.linspace(0, args.burn_in, _CHUNKS + 1).astype(int)):
                    sim.run(int(n), temperature=args.temperature, record=False)
                    progress.advance(task, int(n))
            task = progress.add_task("sweeps", total=args.sweeps)
            for n in np.diff(np.linspace(0, args.sweeps, _CHUNKS + 1).astype(int)):
                if n == 0:
                    continue
                run = sim.run(int(n), temperature=args.temperature)
                magnetisation.append(run.magnetisation)
                energy.append(run.energy)
                wall += run.wall_time
                flips += run.flips
                attempts += run.attempts
                threads_used = run.threads_used
                if checkpoint:
                    sim.save(checkpoint)
                progress.advance(task, int(n))
        except KeyboardInterrupt:
            interrupted = True

    m = np.concatenate(magnetisation) if magnetisation else np.empty(0)
    e = np.concatenate(energy) if energy else np.empty(0)
    if out:
        _save_npz(
            out,
            magnetisation=m,
            energy=e,
            temperature=np.full(m.size, args.temperature),
            n_sites=lattice.n_sites,
            seed=sim.seed,
            sweeps_done=sim.sweeps_done,
        )
    if interrupted:
        saved = [str(p) for p in (out, checkpoint) if p]
        console.print(
            f"interrupted after {m.size} recorded sweeps"
            + (f"; saved {', '.join(saved)}" if saved else "")
        )
        return 130

    if args.json:
        result = {
            "lattice": lattice.describe(),
            "algorithm": sim.algorithm,
            "temperature": args.temperature,
            "sweeps": int(m.size),
            "seed": sim.seed,
            "threads_used": threads_used,
            "wall_time_s": wall,
        }
        if m.size >= 2:
            result["summary"] = _summary(sim, m, e, args.temperature).as_dict()
        print(json.dumps(result, indent=2))
        return 0

    table = Table(
        title=f"{lattice.describe()}, {sim.algorithm}, T = {args.temperature}"
    )
    table.add_column("observable")
    table.add_column("value", justify="right")
    table.add_column("error", justify="right")
    table.add_column("tau_int", justify="right")
    if m.size >= 2:
        for name, est in _summary(sim, m, e, args.temperature).estimates().items():
            tau = "" if np.isnan(est.tau_int) else f"{est.tau_int:.3g}"
            table.add_row(name, f"{est.value:.6g}", f"{est.error:.2g}", tau)
    console.print(table)
    rate = "n/a"
    if sim.algorithm in ("metropolis", "heat-bath") and wall > 0:
        rate = f"{attempts / wall / 1e9:.3f} spin updates/ns"
    elif wall > 0:
        rate = f"{flips / wall / 1e9:.3f} flipped spins/ns"
    console.print(
        f"{m.size} sweeps after {args.burn_in} burn-in, seed {sim.seed}, "
        f"{threads_used} thread(s), {wall:.3g} s in the engine ({rate})"
    )
    return 0


def _summary(sim: Simulation, m: np.ndarray, e: np.ndarray, temperature: float) -> Any:
    from .statistics import summarise

    return summarise(m, e, temperature=temperature, n_sites=sim.lattice.n_sites)


def _info(args: argparse.Namespace) -> int:
    info = build_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(map(len, info))
    for key, value in info.items():
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        print(f"{key:<{width}}  {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neurophase`` command."""
    parser = argparse.ArgumentParser(
        prog="neurophase",
        description="Ising-lattice membranes: simulation and analysis.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser(
        "simulate",
        help="run a Monte Carlo simulation and print a summary table",
        description="Equilibrate, record sweeps, and print means with "
        "autocorrelation-aware errors.",
    )
    sim.add_argument(
        "--lattice",
        choices=("chain", "square", "cubic", "hypercubic", "complete"),
        default="square",
    )
    sim.add_argument(
        "--side", type=int, default=64, help="side L (N for chain/complete)"
    )
    sim.add_argument(
        "--dimension", type=int, default=4, help="d for --lattice hypercubic"
    )
    sim.add_argument("--shape", help="explicit shape such as 3x5 (overrides --lattice)")
    sim.add_argument("--boundary", choices=("periodic", "open"), default="periodic")
    sim.add_argument("--temperature", "-T", type=float, default=2.269185)
    sim.add_argument("--field", type=float, default=0.0)
    sim.add_argument("--coupling", type=float, default=1.0)
    sim.add_argument("--sweeps", type=int, default=10000)
    sim.add_argument("--burn-in", type=int, default=1000)
    sim.add_argument("--algorithm", choices=ALGORITHMS, default="wolff")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--threads", type=int, default=None)
    sim.add_argument("--start", choices=("hot", "cold"), default="hot")
    sim.add_argument("--out", help="save the per-sweep records to this .npz file")
    sim.add_argument(
        "--checkpoint", help="save the full state here after every chunk of sweeps"
    )
    sim.add_argument("--resume", help="continue from a checkpoint file")
    sim.add_argument(
        "--json", action="store_true", help="print JSON instead of a table"
    )
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(func=_simulate)

    info = sub.add_parser("info", help="version, OpenMP, threads and SIMD paths")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neurophase`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError, OSError) as exc:
        print(f"neurophase: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
