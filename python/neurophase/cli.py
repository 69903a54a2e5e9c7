"""Command line: ``neurophase simulate``, ``sweep`` and ``info``."""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import (
    ALGORITHMS,
    Lattice,
    RunInterrupted,
    Simulation,
    __version__,
    _io,
    build_info,
)
from .simulation import _InterruptFlag


class _InterruptedBetweenRuns(Exception):
    """Ctrl-C arrived between two engine calls of a CLI job."""


# Options that define the simulated system: on --resume they come from the
# checkpoint, and giving them again is an error rather than silently ignored.
_SYSTEM_DEFAULTS: dict[str, Any] = {
    "lattice": "square",
    "side": 64,
    "dimension": None,
    "shape": None,
    "boundary": "periodic",
    "temperature": 2.269185,
    "field": 0.0,
    "coupling": 1.0,
    "sweeps": 10000,
    "burn_in": 1000,
    "algorithm": "wolff",
    "seed": 1,
    "start": "hot",
}

CHECKPOINT_KIND = "neurophase simulate"

# Sweeps are run in blocks of about this many seconds; after each block the
# records (--out) and the checkpoint (--checkpoint) are written.
_BLOCK_SECONDS = 2.0


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
    if args.dimension is not None and args.lattice != "hypercubic":
        raise ValueError("--dimension applies to --lattice hypercubic only")
    if args.lattice == "chain":
        return Lattice.chain(args.side, boundary)
    if args.lattice == "square":
        return Lattice.square(args.side, boundary=boundary)
    if args.lattice == "cubic":
        return Lattice.cubic(args.side, boundary)
    if args.lattice == "hypercubic":
        if args.dimension is None:
            raise ValueError("--lattice hypercubic needs --dimension (1 to 5)")
        return Lattice.hypercubic(args.dimension, args.side, boundary)
    return Lattice.complete(args.side)


def _save_npz(path: Path, **arrays: Any) -> None:
    """Write an .npz file atomically (temporary file renamed into place)."""
    _io.write_atomically(path, lambda f: np.savez(f, **arrays))


def _save_checkpoint(path: Path, job: dict[str, Any]) -> None:
    _io.write_atomically(
        path, lambda f: pickle.dump(job, f, protocol=pickle.HIGHEST_PROTOCOL)
    )


def _load_checkpoint(path: str) -> dict[str, Any]:
    if not Path(path).is_file():
        raise ValueError(f"--resume: no checkpoint file {path}")
    try:
        with open(path, "rb") as f:
            job = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise ValueError(f"{path} is not a neurophase checkpoint ({exc})") from None
    if not isinstance(job, dict) or job.get("kind") != CHECKPOINT_KIND:
        raise ValueError(
            f"{path} is not a checkpoint of 'neurophase simulate' (files written by "
            "Simulation.save are loaded with Simulation.load in Python)"
        )
    return job


def _new_job(args: argparse.Namespace) -> dict[str, Any]:
    values = {
        k: (v if getattr(args, k) is None else getattr(args, k))
        for k, v in _SYSTEM_DEFAULTS.items()
    }
    ns = argparse.Namespace(**values)
    if ns.sweeps < 1:
        raise ValueError(f"--sweeps must be >= 1, got {ns.sweeps}")
    if ns.burn_in < 0:
        raise ValueError(f"--burn-in must be >= 0, got {ns.burn_in}")
    lattice = _lattice_from_args(ns)
    sim = Simulation(
        lattice,
        coupling=ns.coupling,
        field=ns.field,
        algorithm=ns.algorithm,
        seed=ns.seed,
        start=ns.start,
        threads=args.threads,
    )
    return {
        "kind": CHECKPOINT_KIND,
        "simulation": sim.state(),
        "temperature": float(ns.temperature),
        "burn_in": int(ns.burn_in),
        "sweeps": int(ns.sweeps),
        "burn_in_done": 0,
        "magnetisation": np.empty(0),
        "energy": np.empty(0),
        "wall_time": 0.0,
        "attempts": 0,
        "flips": 0,
    }


def _simulate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    console = Console()
    out = Path(args.out) if args.out else None
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    for path, option in ((out, "--out"), (checkpoint, "--checkpoint")):
        if path is not None:
            try:
                _io.check_writable(path)
            except OSError as exc:
                raise ValueError(f"{option}: {exc}") from None

    if args.resume:
        given = [k for k in _SYSTEM_DEFAULTS if getattr(args, k) is not None]
        if given:
            names = ", ".join("--" + k.replace("_", "-") for k in given)
            raise ValueError(
                f"{names}: the system and run length come from the checkpoint on "
                "--resume; do not give them again"
            )
        job = _load_checkpoint(args.resume)
        if checkpoint is None:
            checkpoint = Path(args.resume)
    else:
        job = _new_job(args)
    sim = Simulation.from_state(job["simulation"])
    if args.threads is not None:
        sim.threads = args.threads
    T = job["temperature"]

    def save() -> list[str]:
        written = []
        job["simulation"] = sim.state()
        if checkpoint is not None:
            _save_checkpoint(checkpoint, job)
            written.append(str(checkpoint))
        if out is not None:
            m = job["magnetisation"]
            _save_npz(
                out,
                magnetisation=m,
                energy=job["energy"],
                temperature=np.full(m.size, T),
                n_sites=sim.lattice.n_sites,
                seed=sim.seed,
                sweeps_done=sim.sweeps_done,
            )
            written.append(str(out))
        return written

    def advance(n: int, record: bool) -> float:
        run = sim.run(n, temperature=T, record=record)
        if record:
            job["magnetisation"] = np.concatenate(
                [job["magnetisation"], run.magnetisation]
            )
            job["energy"] = np.concatenate([job["energy"], run.energy])
            job["wall_time"] += run.wall_time
            job["attempts"] += run.attempts
            job["flips"] += run.flips
        else:
            job["burn_in_done"] += run.sweeps
        return run.wall_time / max(run.sweeps, 1)

    save()  # an unwritable --out or --checkpoint fails now, not after the run
    # Ctrl-C between engine calls (while saving, say) only sets a flag, read after
    # each save; inside Simulation.run it raises RunInterrupted.
    with (
        Progress(console=console, transient=True, disable=args.quiet) as progress,
        _InterruptFlag() as between_runs,
    ):
        try:
            for phase, total_key, done_key, record in (
                ("burn-in", "burn_in", "burn_in_done", False),
                ("sweeps", "sweeps", None, True),
            ):
                total = job[total_key]
                task = progress.add_task(phase, total=total)
                per_sweep = 0.0
                while True:
                    done = job[done_key] if done_key else job["magnetisation"].size
                    progress.update(task, completed=done)
                    if done >= total:
                        break
                    n = total - done
                    if per_sweep > 0:
                        n = min(n, max(1, int(_BLOCK_SECONDS / per_sweep)))
                    else:
                        n = min(n, 10)
                    per_sweep = advance(n, record)
                    save()
                    if between_runs.raised:
                        raise _InterruptedBetweenRuns
        except (RunInterrupted, _InterruptedBetweenRuns) as exc:
            run = exc.run if isinstance(exc, RunInterrupted) else None
            if run is not None and run.sweeps:
                if run.magnetisation.size:
                    job["magnetisation"] = np.concatenate(
                        [job["magnetisation"], run.magnetisation]
                    )
                    job["energy"] = np.concatenate([job["energy"], run.energy])
                else:
                    job["burn_in_done"] += run.sweeps
            written = save()
            console.print(
                f"interrupted after {job['burn_in_done']} burn-in and "
                f"{job['magnetisation'].size} recorded sweeps"
                + (f"; saved {', '.join(written)}" if written else "; nothing saved")
                + (f"; continue with --resume {checkpoint}" if checkpoint else ""),
                soft_wrap=True,
            )
            return 130

    m, e = job["magnetisation"], job["energy"]
    wall = job["wall_time"]
    lattice = sim.lattice
    if args.json:
        result = {
            "lattice": lattice.describe(),
            "algorithm": sim.algorithm,
            "temperature": T,
            "burn_in": job["burn_in"],
            "sweeps": int(m.size),
            "seed": sim.seed,
            "wall_time_s": wall,
        }
        result["summary"] = _summary(sim, m, e, T).as_dict() if m.size >= 2 else None
        print(json.dumps(result, indent=2))
        return 0

    table = Table(title=f"{lattice.describe()}, {sim.algorithm}, T = {T}")
    table.add_column("observable")
    table.add_column("value", justify="right")
    table.add_column("error", justify="right")
    table.add_column("tau_int", justify="right")
    notes = ["fewer than 2 recorded sweeps: no summary"]
    if m.size >= 2:
        summary = _summary(sim, m, e, T)
        for name, est in summary.estimates().items():
            tau = "" if np.isnan(est.tau_int) else f"{est.tau_int:.3g}"
            table.add_row(name, f"{est.value:.6g}", f"{est.error:.2g}", tau)
        notes = list(summary.notes)
    console.print(table)
    for note in notes:
        console.print(f"note: {note}", soft_wrap=True)
    rate = "n/a"
    if sim.algorithm in ("metropolis", "heat-bath") and wall > 0:
        rate = f"{job['attempts'] / wall / 1e9:.3f} spin updates/ns"
    elif wall > 0:
        rate = f"{job['flips'] / wall / 1e9:.3f} flipped spins/ns"
    console.print(
        f"{m.size} sweeps after {job['burn_in_done']} burn-in sweeps, seed {sim.seed}, "
        f"{wall:.3g} s in the engine while recording ({rate})",
        soft_wrap=True,
    )
    return 0


def _summary(sim: Simulation, m: np.ndarray, e: np.ndarray, temperature: float) -> Any:
    from .statistics import summarise

    return summarise(m, e, temperature=temperature, n_sites=sim.lattice.n_sites)


def _sweep(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from . import sweeps

    console = Console(stderr=True)
    spec = sweeps.SweepSpec.from_file(args.spec)
    out = Path(args.out)
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else args.executor
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tasks"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=args.quiet) as bar:
        task_id = bar.add_task(f"sweep ({where})", total=spec.n_tasks)
        resumed = [0]

        def show(p: sweeps.Progress) -> None:
            resumed[0] = p.resumed
            bar.update(task_id, completed=p.done)

        try:
            result = sweeps.run_sweep(
                spec,
                out,
                workers=args.workers,
                threads_per_task=args.threads_per_task,
                executor=args.executor,
                scheduler=args.scheduler,
                repair=args.repair,
                connect_timeout=args.timeout,
                progress=show,
            )
        except KeyboardInterrupt:
            console.print(
                f"interrupted; finished tasks are kept in {sweeps.parts_folder(out)}: "
                "run the same command again to continue",
                soft_wrap=True,
            )
            return 130
        except sweeps.SweepTaskError as exc:
            raise ValueError(str(exc)) from None
    wall = float(result.table["wall_time"].sum())
    console.print(
        f"{spec.n_tasks} tasks ({spec.n_tasks - resumed[0]} run now, {resumed[0]} "
        f"done before) in {out}; {wall:.3g} s of task time",
        soft_wrap=True,
    )
    return 0


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
    parser.add_argument(
        "--version", action="version", version=f"neurophase {__version__}"
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
        default=None,
        help="lattice (default square)",
    )
    sim.add_argument("--side", type=int, help="side L, or N for chain/complete (64)")
    sim.add_argument(
        "--dimension", type=int, help="d (1 to 5) for --lattice hypercubic"
    )
    sim.add_argument("--shape", help="explicit shape such as 3x5 (overrides --lattice)")
    sim.add_argument("--boundary", choices=("periodic", "open"), help="(periodic)")
    sim.add_argument("--temperature", "-T", type=float, help="T > 0 (2.269185)")
    sim.add_argument("--field", type=float, help="uniform h (0)")
    sim.add_argument("--coupling", type=float, help="J (1)")
    sim.add_argument("--sweeps", type=int, help="recorded sweeps (10000)")
    sim.add_argument("--burn-in", type=int, help="sweeps before recording (1000)")
    sim.add_argument("--algorithm", choices=ALGORITHMS, help="(wolff)")
    sim.add_argument("--seed", type=int, help="seed in [0, 2**64 - 1] (1)")
    sim.add_argument("--threads", type=int, help="thread limit (all cores)")
    sim.add_argument("--start", choices=("hot", "cold"), help="(hot)")
    sim.add_argument(
        "--out", help="save the per-sweep records here (.npz, after every block)"
    )
    sim.add_argument(
        "--checkpoint", help="save the job's state here after every block of sweeps"
    )
    sim.add_argument(
        "--resume",
        help="continue the job of a checkpoint (same system, temperature and "
        "length; the records so far are kept)",
    )
    sim.add_argument(
        "--json", action="store_true", help="print JSON instead of a table"
    )
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(func=_simulate)

    sweep = sub.add_parser(
        "sweep",
        help="run a parameter sweep from a TOML specification into one HDF5 file",
        description="Run every grid point of a sweep (locally or on a Dask "
        "cluster). Finished tasks are kept in FILE.parts/ as they finish; the same "
        "command resumes an interrupted sweep, and the results equal those of an "
        "uninterrupted run bitwise.",
    )
    sweep.add_argument("spec", help="sweep specification (TOML)")
    sweep.add_argument("--out", required=True, help="result file (HDF5)")
    sweep.add_argument(
        "--scheduler", help="Dask scheduler address such as tcp://host:8786"
    )
    sweep.add_argument(
        "--workers",
        type=int,
        help="tasks in flight (local: cores // threads per task; Dask: 2 x threads)",
    )
    sweep.add_argument(
        "--threads-per-task",
        type=int,
        help="OpenMP threads per task (local: cores // workers; Dask: 1)",
    )
    sweep.add_argument(
        "--executor",
        choices=("processes", "threads"),
        default="processes",
        help="local executor when no --scheduler is given (processes)",
    )
    sweep.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the Dask scheduler (10)",
    )
    sweep.add_argument(
        "--repair",
        action="store_true",
        help="delete damaged task files and set a damaged result file aside as "
        "FILE.corrupt; their tasks run again",
    )
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(func=_sweep)

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
    except BrokenPipeError:
        # The reader went away (e.g. `neurophase info | head -2`): not an error.
        # Point stdout at /dev/null so the flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, TypeError, OSError) as exc:
        print(f"neurophase: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
