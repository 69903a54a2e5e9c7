"""Command line: ``neurophase simulate``, ``sweep``, ``scaling``, ``perceptron``,
``quench`` and ``info``."""

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
    _validate,
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


def _counting_progress(console: Any, unit: str, quiet: bool) -> Any:
    """A rich progress bar counting ``unit`` with elapsed and remaining time."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )


def _check_output(option: str, path: str | os.PathLike[str] | None) -> None:
    """Fail before any work if ``path`` (given with ``option``) cannot be written."""
    if path is None:
        return
    try:
        _io.check_writable(path)
    except OSError as exc:
        raise ValueError(f"{option}: {exc}") from None


def _check_figure(option: str, path: str | None) -> None:
    """Like :func:`_check_output`, and the file's extension must be a format
    matplotlib can write (no extension: matplotlib's default, png)."""
    if path is None:
        return
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix:
        from matplotlib.backend_bases import FigureCanvasBase

        formats = FigureCanvasBase.get_supported_filetypes()
        if suffix not in formats:
            raise ValueError(
                f"{option}: cannot save a figure as {path}: .{suffix} is not a "
                f"format matplotlib writes ({', '.join(sorted(formats))})"
            )
    _check_output(option, path)


def _check_folder(option: str, path: str | None) -> None:
    """Create the folder ``path`` now (as the job would later) and check that
    files can be written in it."""
    if path is None:
        return
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(
            f"{option}: cannot create folder {folder}: {exc.strerror or exc}"
        ) from None
    _check_output(option, folder / "binder.png")


def _interrupted(kept: str) -> int:
    """Report Ctrl-C in one line on stderr; the exit status of SIGINT."""
    print(f"neurophase: interrupted; {kept}", file=sys.stderr)
    return 130


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
    with open(path, "rb") as f:
        try:
            job = pickle.load(f)
        except Exception:  # pickle's own message (a memo index...) helps nobody
            raise ValueError(
                f"not a neurophase checkpoint or corrupted: {path}"
            ) from None
    if not isinstance(job, dict) or job.get("kind") != CHECKPOINT_KIND:
        raise ValueError(
            f"{path} is not a checkpoint of 'neurophase simulate' (files written by "
            "Simulation.save are loaded with Simulation.load in Python)"
        )
    return job


# The summary's jackknife needs three recorded sweeps: with two, every
# leave-one-out sample is a single sweep and the derived errors are 0 by
# construction.
_MIN_SWEEPS = 3

# Bytes per recorded sweep the job keeps in memory (magnetisation and energy).
_JOB_BYTES_PER_SWEEP = 16


def _check_shape_options(args: argparse.Namespace) -> None:
    """--shape gives the lattice: refuse options that would be silently ignored."""
    if not args.shape:
        return
    if args.side is not None:
        raise ValueError(
            "--side and --shape exclude each other (--shape sets every side)"
        )
    d = len(args.shape.lower().split("x"))
    expected = {"chain": 1, "square": 2, "cubic": 3, "hypercubic": args.dimension}
    if args.lattice == "complete":
        raise ValueError(
            f"--shape {args.shape} describes a hypercubic lattice; it cannot be "
            "combined with --lattice complete (use --side N for the complete graph)"
        )
    if args.lattice is not None and expected[args.lattice] not in (None, d):
        raise ValueError(
            f"--shape {args.shape} has {d} sides, --lattice {args.lattice} needs "
            f"{expected[args.lattice]}"
        )


def _new_job(args: argparse.Namespace) -> dict[str, Any]:
    _check_shape_options(args)
    values = {
        k: (v if getattr(args, k) is None else getattr(args, k))
        for k, v in _SYSTEM_DEFAULTS.items()
    }
    ns = argparse.Namespace(**values)
    if ns.sweeps < _MIN_SWEEPS:
        raise ValueError(
            f"--sweeps must be >= {_MIN_SWEEPS} (the summary's jackknife errors need "
            f"three recorded sweeps), got {ns.sweeps}"
        )
    ns.sweeps = _validate.sweeps("--sweeps", ns.sweeps, minimum=_MIN_SWEEPS)
    ns.burn_in = _validate.sweeps("--burn-in", ns.burn_in)
    _validate.fits_in_memory(
        f"--sweeps {ns.sweeps} ({_JOB_BYTES_PER_SWEEP} bytes per recorded sweep)",
        _JOB_BYTES_PER_SWEEP * ns.sweeps,
    )
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
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    _check_output("--checkpoint", checkpoint)
    if (
        checkpoint is not None
        and not args.resume
        and checkpoint.exists()
        and not args.force
    ):
        raise ValueError(
            f"--checkpoint {checkpoint} exists: continue its job with --resume "
            f"{checkpoint}, or start over and overwrite it with --force"
        )

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
            _check_output("--resume", checkpoint)
    else:
        job = _new_job(args)
    # The records file is part of the job: a resumed run keeps writing the one the
    # job began with unless --out names another.
    if args.out:
        job["out"] = str(Path(args.out).resolve())
    out = Path(job["out"]) if job.get("out") else None
    _check_output("--out", out)
    if out is not None and checkpoint is not None and _same_file(out, checkpoint):
        raise ValueError(
            f"--out and --checkpoint name the same file {out}: the records would "
            "overwrite the checkpoint; give two different files"
        )
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
        result["summary"] = (
            _summary(sim, m, e, T).as_dict() if m.size >= _MIN_SWEEPS else None
        )
        print(json.dumps(result, indent=2))
        return 0

    table = Table(title=f"{lattice.describe()}, {sim.algorithm}, T = {T}")
    table.add_column("observable")
    table.add_column("value", justify="right")
    table.add_column("error", justify="right")
    table.add_column("tau_int", justify="right")
    notes = [f"fewer than {_MIN_SWEEPS} recorded sweeps: no summary"]
    if m.size >= _MIN_SWEEPS:
        summary = _summary(sim, m, e, T)
        for name, est in summary.estimates().items():
            tau = "" if np.isnan(est.tau_int) else f"{est.tau_int:.3g}"
            table.add_row(name, f"{est.value:.6g}", _error_text(est.error), tau)
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


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file (also through links or ``..``)."""
    if a.exists() and b.exists():
        return a.samefile(b)
    return a.resolve() == b.resolve()


def _error_text(error: float) -> str:
    return "n/a" if not np.isfinite(error) else f"{error:.2g}"


def _summary(sim: Simulation, m: np.ndarray, e: np.ndarray, temperature: float) -> Any:
    from .statistics import summarise

    return summarise(m, e, temperature=temperature, n_sites=sim.lattice.n_sites)


def _sweep(args: argparse.Namespace) -> int:
    from rich.console import Console

    from . import sweeps

    console = Console(stderr=True)
    # Every option is checked before the progress bar starts.
    for option, value in (
        ("--workers", args.workers),
        ("--threads-per-task", args.threads_per_task),
    ):
        if value is not None:
            _validate.positive_int(option, value)
    _validate.finite_float("--timeout", args.timeout, positive=True)
    if args.scheduler is not None:
        try:
            sweeps._check_scheduler_address(args.scheduler)
        except ValueError as exc:
            raise ValueError(f"--scheduler: {exc}") from None
    spec = sweeps.SweepSpec.from_file(args.spec)
    out = Path(args.out)
    _check_output("--out", out)
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else args.executor
    with _counting_progress(console, "tasks", args.quiet) as bar:
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


def _reference_key(kind: str, dimension: int) -> str | None:
    if kind == "complete":
        return "complete"
    return {2: "square", 3: "cubic"}.get(dimension)


def _save_partial_study(args: argparse.Namespace, exc: Any) -> str:
    """Save the finished runs of an interrupted ``scaling run --save``; say what
    was kept."""
    from . import scaling

    done = f"{len(exc.runs)} of {exc.total} runs finished"
    if not args.save:
        return f"{done}; nothing saved (no --save)"
    if not exc.runs:
        return f"{done}; nothing saved"
    try:
        data = scaling.ScalingData.from_runs(
            exc.runs, n_blocks=args.blocks, max_shift=args.max_shift
        )
        data.save(args.save)
    except (ValueError, OSError) as err:
        return f"{done}; could not save them ({err})"
    return f"{done}; their records are saved in {args.save}"


def _scaling(args: argparse.Namespace) -> int:
    from rich.console import Console

    from . import scaling

    console = Console()
    if args.omega is not None:
        _validate.finite_float("--omega", args.omega, positive=True)
    _check_folder("--figures", args.figures)
    if args.action == "run":
        _check_output("--save", args.save)
        if len(args.sizes) < 2:
            raise ValueError(f"--sizes needs at least two sizes, got {args.sizes}")
        if not args.temperatures:
            raise ValueError("--temperatures needs at least one temperature")
        factory = {
            "square": lambda L: Lattice.square(L),
            "cubic": lambda L: Lattice.cubic(L),
            "chain": lambda L: Lattice.chain(L),
            "complete": lambda N: Lattice.complete(N),
        }[args.lattice]
        algorithm = args.algorithm
        if args.lattice == "complete" and algorithm in ("wolff", "swendsen-wang"):
            algorithm = "heat-bath"  # cluster updates need a hypercubic lattice
        from rich.progress import Progress

        total = len(args.sizes) * len(args.temperatures)
        try:
            with Progress(console=console, transient=True, disable=args.quiet) as bar:
                task = bar.add_task("runs", total=total)
                data = scaling.run_study(
                    factory,
                    args.sizes,
                    args.temperatures,
                    sweeps=args.sweeps,
                    burn_in=args.burn_in,
                    algorithm=algorithm,
                    seed=args.seed,
                    threads=args.threads,
                    n_blocks=args.blocks,
                    max_shift=args.max_shift,
                    workers=args.workers,
                    progress=lambda size, t: bar.advance(task),
                )
        except scaling.StudyInterrupted as exc:
            return _interrupted(_save_partial_study(args, exc))
        if args.save:
            data.save(args.save)
        ref_key = {"square": "square", "cubic": "cubic", "complete": "complete"}.get(
            args.lattice
        )
    elif args.action == "analyse":
        data = scaling.ScalingData.load(args.file)
        ref_key = _reference_key(data.kind, data.dimension)
    else:  # curie-weiss: exact finite-N distributions, no sampling
        data = scaling.ScalingData.curie_weiss(args.sizes, args.temperatures)
        ref_key = "complete"

    result = scaling.analyse(data, omega=args.omega, with_collapse=args.collapse)
    reference = scaling.REFERENCES[ref_key] if ref_key else None
    if args.figures:
        folder = Path(args.figures)
        folder.mkdir(parents=True, exist_ok=True)
        scaling.plot_binder(data, result).savefig(folder / "binder.png", dpi=120)
        if result.xi_crossings:
            fig = scaling.plot_binder(data, result, quantity="xi_over_size")
            fig.savefig(folder / "xi_over_size.png", dpi=120)
        if result.collapse is not None:
            fig = scaling.plot_collapse(result.collapse)
            fig.savefig(folder / "collapse.png", dpi=120)
    if args.json:
        out = {
            "sizes": list(data.sizes),
            "kind": data.kind,
            "dimension": data.dimension,
            "temperature_method": result.temperature_method,
            "results": result.as_dict(),
            "reference": None if reference is None else reference.__dict__,
            "notes": list(result.notes),
        }
        print(json.dumps(out, indent=2, default=float))
        return 0
    title = (
        f"{'N' if data.kind == 'complete' else 'L'} = "
        f"{', '.join(map(str, data.sizes))}"
        + (f"; reference: {reference.name}" if reference else "")
    )
    console.print(result.table(reference, title=title))
    console.print(f"T_c: {result.temperature_method}", soft_wrap=True)
    for note in result.notes:
        console.print(f"note: {note}", soft_wrap=True)
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


def _bench(args: argparse.Namespace) -> int:
    """``neurophase bench``: time the engines and kernels, print tables, save JSON."""
    from rich.console import Console
    from rich.table import Table

    from . import bench

    threads = None if args.threads is None else bench.parse_threads(args.threads)
    if args.json is not None:
        target = Path(args.json)
        if not target.parent.is_dir():
            raise ValueError(
                f"--json: folder {target.parent} does not exist (give a file in an "
                "existing folder)"
            )
        try:  # fail before the minute of timing, not after it
            _io.check_writable(target)
        except OSError as exc:
            raise ValueError(f"--json: {exc}") from None
    report = bench.run(quick=args.quick, threads=threads, progress=not args.quiet)

    console = Console()
    if not console.is_terminal:  # a file or pipe: no wrapping at 80 columns
        console = Console(width=200)
    mode = "quick" if report.quick else "full"
    console.print(
        f"neurophase {report.machine.get('version')} bench ({mode}): "
        f"{report.wall_time_s:.1f} s on {report.machine.get('cpu_model')}, "
        f"{report.machine.get('usable_cores')} usable cores",
        soft_wrap=True,
    )
    for t in report.tables:
        table = Table(title=t.title, title_justify="left")
        for i, name in enumerate(t.columns):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in t.text_rows():
            table.add_row(*row)
        console.print(table)
        for note in t.notes:
            console.print(f"  {note}", soft_wrap=True, highlight=False)
    if args.json is not None:
        report.save_json(args.json)
        console.print(f"JSON written to {args.json}", soft_wrap=True)
    return 0


def _floats(text: str) -> list[float]:
    """Parse a comma-separated list of numbers (for argparse)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _ints(text: str) -> list[int]:
    """Parse a comma-separated list of integers (for argparse)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _activation_from_args(args: argparse.Namespace) -> Any:
    from .perceptron import Activation

    keys = ("gain", "temperature", "zJ", "T0", "Tc", "k", "r", "sigma")
    given = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    return Activation(args.activation, **given)


def _print_rows(title: str, header: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _save_figure(result: Any, path: str | None) -> None:
    if path:
        result.figure().savefig(path, dpi=150)
        print(f"figure written to {path}")


def _perceptron_teacher_student(args: argparse.Namespace) -> int:
    from . import perceptron

    _check_figure("--figure", args.figure)
    res = perceptron.teacher_student(
        args.alphas,
        args.dims,
        rule=args.rule,
        activation=_activation_from_args(args),
        n_seeds=args.repetitions,
        seed=args.seed,
        online=args.online,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "rule": res.rule,
                    "activation": res.activation,
                    "n_dims": res.n_dims,
                    "seed": res.seed,
                    "alphas": res.alphas.tolist(),
                    "eps_mean": res.eps_mean.tolist(),
                    "eps_error": res.eps_error.tolist(),
                    "theory": {k: v.tolist() for k, v in res.theory.items()},
                },
                indent=2,
            )
        )
        return 0
    title = (
        f"teacher-student, {res.rule} ({res.activation}), N = {res.n_dims}, "
        f"{res.eps.shape[1]} repetitions, seed {res.seed}"
    )
    _print_rows(title, *res.rows())
    _save_figure(res, args.figure)
    return 0


def _perceptron_capacity(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from . import perceptron

    _check_figure("--figure", args.figure)
    with Progress(transient=True, disable=args.quiet) as progress:
        task = progress.add_task("linear programs", total=None)
        res = perceptron.capacity_scan(
            args.dims,
            args.alphas,
            trials=args.trials,
            seed=args.seed,
            progress=lambda done, total: progress.update(
                task, completed=done, total=total
            ),
        )
    if args.json:
        print(
            json.dumps(
                {
                    "n_dims": list(res.n_dims),
                    "alphas": res.alphas.tolist(),
                    "n_points": res.n_points.tolist(),
                    "trials": res.trials,
                    "seed": res.seed,
                    "fraction": res.fraction.tolist(),
                    "cover": res.cover.tolist(),
                },
                indent=2,
            )
        )
        return 0
    title = (
        f"separable fraction of random labellings, {res.trials} trials, seed {res.seed}"
    )
    _print_rows(title, *res.rows())
    _save_figure(res, args.figure)
    return 0


def _perceptron_data(args: argparse.Namespace) -> int:
    from . import perceptron

    _check_figure("--figure", args.figure)
    common = {
        "seeds": args.seeds,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "target_accuracy": args.target_accuracy,
        "test_size": args.test_size,
    }
    if args.scan == "temperature":
        res = perceptron.temperature_scan(
            args.task, args.ratios, zJ=1.0 if args.zJ is None else args.zJ, **common
        )
    else:
        res = perceptron.gain_scan(
            args.task,
            args.gains,
            activation=args.activation,
            zJ=1.0 if args.zJ is None else args.zJ,
            **common,
        )
    if args.json:
        print(
            json.dumps(
                {
                    "task": res.task,
                    "parameter": res.parameter,
                    "values": res.values.tolist(),
                    "activations": list(res.activations),
                    "gain": res.gain.tolist(),
                    "seeds": list(res.seeds),
                    "accuracy": res.accuracy.tolist(),
                    "balanced_accuracy": res.balanced_accuracy.tolist(),
                    "train_accuracy": res.train_accuracy.tolist(),
                    "epochs_to_target": [
                        [None if np.isnan(v) else v for v in row]
                        for row in res.epochs_to_target.tolist()
                    ],
                },
                indent=2,
            )
        )
        return 0
    family = res.activations[0].split("(")[0]
    title = (
        f"{res.task}: gradient learning ({family}), {res.epochs} epochs, target "
        f"{res.target_accuracy:.0%} train accuracy, seeds {list(res.seeds)}"
    )
    _print_rows(title, *res.rows())
    _save_figure(res, args.figure)
    return 0


def _perceptron_train(args: argparse.Namespace) -> int:
    from . import perceptron

    _check_figure("--figure", args.figure)
    if args.task == "xor":
        X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        y = np.array([0, 1, 1, 0])
    else:
        task = perceptron.load_task(args.task)
        X = (task.X - task.X.mean(axis=0)) / np.where(
            task.X.std(axis=0) > 0, task.X.std(axis=0), 1.0
        )
        y = task.y
    fit = perceptron.train(
        X,
        y,
        rule=args.rule,
        activation=_activation_from_args(args),
        hidden=args.hidden,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        target_accuracy=args.target_accuracy,
        shuffle=args.shuffle,
        seed=args.seed,
    )
    separable = perceptron.is_linearly_separable(X, y, bias=True)
    bound = None
    if fit.rule == "perceptron" and separable and X.shape[0] <= 2000:
        bound = perceptron.novikoff_bound(X, y)
    if args.json:
        print(
            json.dumps(
                {
                    "task": args.task,
                    "examples": int(X.shape[0]),
                    "features": int(X.shape[1]),
                    "linearly_separable": bool(separable),
                    "rule": fit.rule,
                    "activation": None
                    if fit.rule == "hebb"
                    else fit.activation.describe(),
                    "seed": fit.seed,
                    "converged": bool(fit.converged),
                    "epochs_run": int(fit.epochs),
                    "target_accuracy": args.target_accuracy,
                    "epochs_to_target": fit.epochs_to_target,
                    "training_accuracy": float(fit.score(X, y)),
                    "largest_weight_norm": float(fit.weight_norm.max()),
                    "mistakes": int(fit.mistakes),
                    "novikoff_bound": None if bound is None else float(bound),
                },
                indent=2,
            )
        )
        _save_figure_of_fit(fit, args.figure, file=sys.stderr)
        return 0
    # What "converged" means differs by rule; the gradient rule always runs every
    # epoch, so "epochs run" alone would hide when the target was reached.
    converged = {
        "perceptron": "converged (an epoch without mistakes)",
        "gradient": f"target accuracy {args.target_accuracy:g} reached",
        "hebb": "converged (one pass)",
    }[fit.rule]
    epochs_run = str(fit.epochs)
    if fit.rule == "gradient":
        epochs_run += " (all: no stop at the target)"
    rows = [
        ["examples x features", f"{X.shape[0]} x {X.shape[1]}"],
        ["linearly separable (LP)", "yes" if separable else "no"],
        ["rule", fit.rule],
        ["activation", "-" if fit.rule == "hebb" else fit.activation.describe()],
        [converged, "yes" if fit.converged else "no"],
        ["epochs run", epochs_run],
        ["training accuracy", f"{fit.score(X, y):.4f}"],
        ["largest |w| during training", f"{fit.weight_norm.max():.4g}"],
        [
            f"first epoch at accuracy >= {args.target_accuracy:g}",
            "never" if fit.epochs_to_target is None else str(fit.epochs_to_target),
        ],
    ]
    if fit.rule == "perceptron":
        rows.append(["mistakes (updates)", str(fit.mistakes)])
        if bound is not None:
            rows.append(["Novikoff bound (R/gamma)^2", f"{bound:.4g}"])
    _print_rows(
        f"{args.task}: whole dataset, standardised, seed {fit.seed}",
        ["", "value"],
        rows,
    )
    _save_figure_of_fit(fit, args.figure)
    return 0


def _save_figure_of_fit(fit: Any, path: str | None, file: Any = None) -> None:
    from . import perceptron

    if path:
        perceptron.fit_figure(fit).savefig(path, dpi=150)
        print(f"figure written to {path}", file=file)


# Critical temperatures used for the default resting temperature of `quench`
# (J = 1): Onsager's square lattice, the simple-cubic value of Ferrenberg, Xu and
# Landau (2018), and the mean-field zJ of the complete graph.
_QUENCH_TC = {"square": 2.269185314213022, "cubic": 1.0 / 0.221654626}


def _quench_lattice(args: argparse.Namespace) -> tuple[Lattice, float]:
    """The lattice of `quench` and its critical temperature (J = coupling)."""
    side = args.side
    if args.lattice == "complete":
        lattice = Lattice.complete(side or 4096)
        return lattice, lattice.mean_field_coupling(args.coupling)
    if args.lattice == "chain":
        return Lattice.chain(side or 256), 0.0
    if args.lattice == "square":
        return Lattice.square(side or 32), _QUENCH_TC["square"] * args.coupling
    return Lattice.cubic(side or 12), _QUENCH_TC["cubic"] * args.coupling


def _quench(args: argparse.Namespace) -> int:
    from rich.console import Console

    from . import quench as q

    console = Console(stderr=True)
    _check_output("--out", args.out)
    _check_figure("--figure", args.figure)
    lattice, t_c = _quench_lattice(args)
    t0 = args.resting_temperature
    if t0 is None:
        t0 = 1.5 * t_c if t_c > 0 else 1.0
    stimuli = (
        np.asarray(args.stimuli, dtype=float)
        if args.stimuli
        else np.linspace(0.0, 0.95 * t0 / args.k, 12)
    )
    protocols = [
        q.QuenchProtocol(
            t0,
            bias=args.bias,
            rate=r,
            k=args.k,
            theta_on=args.theta_on,
            theta_off=args.theta_on if args.theta_off is None else args.theta_off,
            minimum_temperature=args.minimum_temperature,
            equilibration=args.equilibration,
            tail=args.tail,
            reheating=args.reheating,
            relaxation_time=args.relaxation_time,
        )
        for r in args.rates
    ]
    curves = []
    try:
        with _counting_progress(console, "trajectories", args.quiet) as bar:
            for protocol in protocols:
                label = f"{lattice.describe()}, r = {protocol.rate:g}"
                task_id = bar.add_task(label, total=stimuli.size * args.seeds)

                def show(done: int, total: int, task_id: Any = task_id) -> None:
                    bar.update(task_id, completed=done)

                curves.append(
                    q.quench_curve(
                        lattice,
                        stimuli,
                        protocol,
                        coupling=args.coupling,
                        seeds=args.seeds,
                        seed=args.seed,
                        threads=args.threads,
                        workers=args.workers,
                        progress=show,
                    )
                )
    except KeyboardInterrupt:
        done = f"{len(curves)} of {len(protocols)} rates finished"
        if args.out and curves:
            _save_curves(curves, args.out)
            return _interrupted(f"{done}; their curves are saved in {args.out}")
        return _interrupted(f"{done}; nothing saved")

    for curve in curves:
        glauber = (
            q.glauber_curve(stimuli, curve.protocol, zJ=curve.zJ)
            if lattice.is_complete
            else None
        )
        header = ["s", "T_start", "rate (sweeps)", "int m dt", "episodes"]
        if glauber is not None:
            header.append("Glauber rate")
        start = curve.protocol.schedule(stimuli).start_temperature
        rows = []
        for i, s in enumerate(stimuli):
            row = [
                f"{s:.4g}",
                f"{start[i]:.4g}",
                f"{curve.rate[i]:.4g} ± {curve.rate_error[i]:.2g}",
                f"{curve.integrated[i]:.4g} ± {curve.integrated_error[i]:.2g}",
                f"{curve.episodes[i]:.3g} ± {curve.episodes_error[i]:.2g}",
            ]
            if glauber is not None:
                row.append(f"{glauber.rate[i]:.4g}")
            rows.append(row)
        _print_rows(
            f"Quench on {curve.lattice}: T0 = {t0:g}, h_b = {args.bias:g}, "
            f"r = {curve.protocol.rate:g}, k = {args.k:g}, theta = "
            f"{curve.protocol.theta_on:g}/{curve.protocol.theta_off:g}, "
            f"{args.seeds} seeds",
            header,
            rows,
        )
        fit_rows = []
        jobs = [("rate", m, False) for m in ("relu", "softplus", "power")]
        jobs.append(("integrated", "power", True))
        for quantity, model, offset in jobs:
            label = f"{quantity}: {model}" + (" + c" if offset else "")
            try:
                fit = q.fit_curve(
                    stimuli,
                    getattr(curve, quantity),
                    getattr(curve, f"{quantity}_error"),
                    model,  # type: ignore[arg-type]
                    offset=offset,
                )
            except (ValueError, RuntimeError) as exc:
                fit_rows.append([label, f"fit failed: {exc}", "", ""])
                continue
            params = ", ".join(
                f"{n} = {v:.4g} ± {e:.2g}"
                for n, v, e in zip(fit.names, fit.values, fit.errors, strict=True)
            )
            fit_rows.append([label, params, f"{fit.chi2:.3g}", str(fit.ndof)])
        if lattice.is_complete:
            s0_text = f"mean-field s0 = {curve.threshold_stimulus:.4g}"
        elif args.lattice == "square" and 0.0 < curve.protocol.theta_on < 1.0:
            t_theta = q.lattice_threshold_temperature(
                curve.protocol.theta_on, args.coupling
            )
            s0_text = f"Onsager s0 = {(t0 - t_theta) / args.k:.4g} at h = 0"
        else:
            s0_text = "no closed-form s0 for this lattice"
        _print_rows(
            f"Fits (r -> 0 threshold: {s0_text}; onset exponent of int m dt: "
            "3/2 mean field, 9/8 in 2D as r -> 0)",
            ["curve: model", "parameters", "chi2", "ndof"],
            fit_rows,
        )
    if len(curves) >= 3 and args.reheating == "linear":
        order = 2 if len(curves) >= 4 else 1
        try:
            ex = q.extrapolate_threshold(
                curves, order=order, min_stimulus=args.min_stimulus
            )
            reference = (
                f"; mean-field (T0 - T_theta)/k = {curves[0].threshold_stimulus:.5g}"
                if lattice.is_complete
                else ""
            )
            console.print(
                f"s0(r -> 0) = {ex.s0:.5g} ± {ex.s0_error:.2g} (order {order} in r"
                f"{reference})",
                soft_wrap=True,
            )
        except ValueError as exc:
            console.print(f"no threshold extrapolation: {exc}", soft_wrap=True)
    if args.out:
        _save_curves(curves, args.out)
        print(f"curves written to {args.out}")
    if args.figure:
        q.curve_figure(curves).savefig(args.figure, dpi=150)
        print(f"figure written to {args.figure}")
    return 0


def _save_curves(curves: list[Any], path: str) -> None:
    """Write quench curves to ``path`` (HDF5), one group per reheating rate."""
    for curve in curves:
        curve.save(path, group=f"quench/rate={curve.protocol.rate:g}")


def _add_quench_parser(sub: Any) -> None:
    qp = sub.add_parser(
        "quench",
        help="firing-rate curve of a membrane lattice under quench stimuli",
        description="Equilibrate at T0 with a bias field, cool by k*s, reheat at "
        "rate r per sweep back to T0; the time spent magnetised (signed m above "
        "theta) is the firing rate. Prints the curve with errors over seeds, the "
        "mean-field Glauber curve (complete graph) and ReLU/softplus/power fits.",
    )
    qp.add_argument(
        "--lattice",
        choices=("complete", "square", "cubic", "chain"),
        default="complete",
        help="(complete)",
    )
    qp.add_argument(
        "--side", type=int, help="L, or N for complete/chain (4096, 32, 12, 256)"
    )
    qp.add_argument("--coupling", type=float, default=1.0, help="J (1)")
    qp.add_argument(
        "--resting-temperature", "-T", type=float, help="T0 (1.5 T_c of the lattice)"
    )
    qp.add_argument("--bias", type=float, default=0.05, help="bias field h_b (0.05)")
    qp.add_argument(
        "--rates",
        type=_floats,
        default=[0.02],
        help="reheating rates r per sweep, comma-separated (0.02); three or more "
        "also extrapolate the threshold to r -> 0",
    )
    qp.add_argument("--k", type=float, default=1.0, help="cooling per stimulus (1)")
    qp.add_argument(
        "--stimuli",
        type=_floats,
        help="comma-separated stimuli (12 from 0 to 0.95 T0/k)",
    )
    qp.add_argument("--theta-on", type=float, default=0.5, help="(0.5)")
    qp.add_argument("--theta-off", type=float, help="(theta-on)")
    qp.add_argument("--minimum-temperature", type=float, default=0.05, help="(0.05)")
    qp.add_argument("--equilibration", type=int, default=100, help="sweeps (100)")
    qp.add_argument("--tail", type=int, default=20, help="sweeps after episode (20)")
    qp.add_argument(
        "--reheating",
        choices=("linear", "newtonian"),
        default="linear",
        help="(linear)",
    )
    qp.add_argument(
        "--relaxation-time", type=float, default=50.0, help="Newtonian tau_h (50)"
    )
    qp.add_argument(
        "--min-stimulus",
        type=float,
        default=0.0,
        help="smallest stimulus used in the threshold extrapolation (0)",
    )
    qp.add_argument("--seeds", type=int, default=16, help="replicas (16)")
    qp.add_argument("--seed", type=int, default=1, help="base seed (1)")
    qp.add_argument("--threads", type=int, default=1, help="threads per run (1)")
    qp.add_argument("--workers", type=int, default=1, help="processes (1)")
    qp.add_argument(
        "--out", help="write the curves here (HDF5; none; on Ctrl-C finished rates)"
    )
    qp.add_argument(
        "--figure", help="write a figure of the curves here (png, pdf, svg; none)"
    )
    qp.add_argument("--quiet", action="store_true", help="no progress bar")
    qp.set_defaults(func=_quench)


def _add_activation_options(p: argparse.ArgumentParser, default: str) -> None:
    from .perceptron import ACTIVATIONS

    p.add_argument(
        "--activation", choices=ACTIVATIONS, default=default, help=f"({default})"
    )
    p.add_argument("--gain", type=float, help="gain of logistic/tanh/relu/... (1)")
    p.add_argument(
        "--temperature", "-T", type=float, help="T of meanfield (2; T_c = zJ)"
    )
    p.add_argument("--zJ", type=float, help="zJ of meanfield (1)")
    p.add_argument("--T0", type=float, help="resting temperature of quench (1.5)")
    p.add_argument("--Tc", type=float, help="critical temperature of quench (1)")
    p.add_argument("--k", type=float, help="cooling per unit stimulus of quench (1)")
    p.add_argument("--r", type=float, help="reheating rate of quench (1)")
    p.add_argument("--sigma", type=float, help="logistic noise on T0 of quench (0)")


def _add_perceptron_parser(sub: Any) -> None:
    from .perceptron import TASKS

    perc = sub.add_parser(
        "perceptron",
        help="perceptron learning with the package's activations",
        description="Perceptron learning: teacher-student learning curves, "
        "capacity against Cover's count, real datasets, single fits.",
    )
    jobs = perc.add_subparsers(dest="job", required=True)

    ts = jobs.add_parser(
        "teacher-student",
        help="generalisation error against alpha = P/N beside the theory curves",
    )
    ts.add_argument(
        "--rule",
        choices=("hebb", "perceptron", "gradient"),
        default="hebb",
        help="(hebb)",
    )
    ts.add_argument(
        "--online", action="store_true", help="on-line perceptron rule (one pass)"
    )
    _add_activation_options(ts, "tanh")
    ts.add_argument("--dims", type=int, default=500, help="N (500)")
    ts.add_argument(
        "--alphas", type=_floats, default=[0.5, 1.0, 2.0, 4.0], help="(0.5,1,2,4)"
    )
    ts.add_argument("--repetitions", type=int, default=10, help="teachers (10)")
    ts.add_argument("--seed", type=int, default=1, help="(1)")
    ts.add_argument("--epochs", type=int, default=1000, help="batch rules (1000)")
    ts.add_argument("--learning-rate", type=float, default=0.5, help="(0.5)")
    ts.add_argument("--figure", help="save a figure (png, pdf, svg)")
    ts.add_argument("--json", action="store_true", help="print JSON")
    ts.set_defaults(func=_perceptron_teacher_student)

    cap = jobs.add_parser(
        "capacity", help="fraction of separable random labellings against Cover"
    )
    cap.add_argument(
        "--dims", type=_ints, default=[10, 20, 50, 100], help="(10,20,50,100)"
    )
    cap.add_argument(
        "--alphas",
        type=_floats,
        default=[0.5, 1.0, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 4.0],
        help="(0.5,1,1.5,1.75,2,2.25,2.5,3,4)",
    )
    cap.add_argument("--trials", type=int, default=50, help="labellings per cell (50)")
    cap.add_argument("--seed", type=int, default=1, help="(1)")
    cap.add_argument("--figure", help="save a figure (png, pdf, svg)")
    cap.add_argument("--json", action="store_true", help="print JSON")
    cap.add_argument("--quiet", action="store_true", help="no progress bar")
    cap.set_defaults(func=_perceptron_capacity)

    data = jobs.add_parser(
        "data",
        help="accuracy, learning speed and gradients on a real dataset across "
        "T/T_c or gain",
    )
    data.add_argument("--task", default="breast_cancer", help=f"({', '.join(TASKS)})")
    data.add_argument(
        "--scan",
        choices=("temperature", "gain"),
        default="temperature",
        help="(temperature)",
    )
    data.add_argument(
        "--ratios",
        type=_floats,
        default=[0.25, 0.5, 0.8, 0.95, 1.05, 1.25, 1.5, 2.0, 4.0],
        help="T/T_c values of --scan temperature (0.25,0.5,0.8,0.95,1.05,1.25,1.5,2,4)",
    )
    data.add_argument(
        "--gains",
        type=_floats,
        default=[0.1, 0.3, 1.0, 3.0, 10.0],
        help="gains of --scan gain (0.1,0.3,1,3,10)",
    )
    data.add_argument(
        "--activation",
        choices=("meanfield", "tanh", "logistic", "relu", "softplus", "swish"),
        default="meanfield",
        help="activation of --scan gain (meanfield)",
    )
    data.add_argument("--zJ", type=float, help="zJ of meanfield (1)")
    data.add_argument("--seeds", type=_ints, default=[0, 1, 2], help="splits (0,1,2)")
    data.add_argument("--epochs", type=int, default=200, help="(200)")
    data.add_argument("--learning-rate", type=float, default=0.1, help="(0.1)")
    data.add_argument("--target-accuracy", type=float, default=0.95, help="(0.95)")
    data.add_argument("--test-size", type=float, default=0.3, help="(0.3)")
    data.add_argument("--figure", help="save a figure (png, pdf, svg)")
    data.add_argument("--json", action="store_true", help="print JSON")
    data.set_defaults(func=_perceptron_data)

    tr = jobs.add_parser(
        "train", help="train once on a whole dataset (or xor) and report convergence"
    )
    tr.add_argument("--task", default="xor", help=f"(xor, {', '.join(TASKS)})")
    tr.add_argument(
        "--rule",
        choices=("perceptron", "gradient", "hebb"),
        default="perceptron",
        help="(perceptron)",
    )
    _add_activation_options(tr, "tanh")
    tr.add_argument(
        "--hidden", type=int, help="hidden units (gradient rule; none: no hidden layer)"
    )
    tr.add_argument("--epochs", type=int, default=1000, help="maximum epochs (1000)")
    tr.add_argument("--learning-rate", type=float, default=0.5, help="(0.5)")
    tr.add_argument("--target-accuracy", type=float, default=0.95, help="(0.95)")
    tr.add_argument("--shuffle", action="store_true", help="new order every epoch")
    tr.add_argument("--seed", type=int, default=1, help="(1)")
    tr.add_argument(
        "--figure", help="save accuracy and |w| per epoch (png, pdf, svg; none)"
    )
    tr.add_argument("--json", action="store_true", help="print JSON")
    tr.set_defaults(func=_perceptron_train)


def _reproduce(args: argparse.Namespace) -> int:
    """``neurophase reproduce``: the whole study into one folder with its report."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    from . import reproduce as rp

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    if not (args.timeout > 0):
        raise ValueError(f"--timeout must be > 0, got {args.timeout}")
    console = Console(stderr=True)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[what]}"),
    )
    with Progress(*columns, console=console, disable=args.quiet) as bar:
        tasks: dict[str, TaskID] = {}

        def show(section: str, done: int, total: int, what: str) -> None:
            if done < 0:
                console.print(
                    f"{section}: finished by an earlier run, skipped", soft_wrap=True
                )
                return
            if section not in tasks:
                tasks[section] = bar.add_task(section, total=max(total, 1), what="")
            bar.update(tasks[section], completed=done, total=max(total, 1), what=what)

        try:
            result = rp.reproduce(
                args.out,
                quick=args.quick,
                workers=args.workers,
                scheduler=args.scheduler,
                force=args.force,
                connect_timeout=args.timeout,
                progress=show,
            )
        except KeyboardInterrupt:
            parts = Path(args.out).expanduser() / "parts"
            kept = [n for n in rp.SECTIONS if (parts / n / "section.json").is_file()]
            if kept:
                message = (
                    f"interrupted; the finished sections ({', '.join(kept)}) are kept "
                    f"in {parts} and no report was written: run the same command "
                    "again to continue"
                )
            else:
                message = "interrupted before any section finished; nothing kept"
            print(f"neurophase: {message}", file=sys.stderr)
            return 130
    s = result.results["summary"]
    console.print(
        f"study in {result.out} ({'quick' if args.quick else 'default'}): "
        f"{len(result.ran)} sections run, {len(result.skipped)} skipped, "
        f"{result.wall_time_s:.1f} s; {s['checks']} checks: {s['pass']} pass, "
        f"{s['deviation']} deviation{'' if s['deviation'] == 1 else 's'}, "
        f"{s['info']} for information, {s['missing']} not available",
        soft_wrap=True,
    )
    print(result.report_html)
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
    sim.add_argument(
        "--shape",
        help="explicit shape such as 3x5 (instead of --side; not with --lattice "
        "complete)",
    )
    sim.add_argument("--boundary", choices=("periodic", "open"), help="(periodic)")
    sim.add_argument("--temperature", "-T", type=float, help="T > 0 (2.269185)")
    sim.add_argument("--field", type=float, help="uniform h (0)")
    sim.add_argument("--coupling", type=float, help="J (1)")
    sim.add_argument("--sweeps", type=int, help="recorded sweeps, 3 to 2**62 (10000)")
    sim.add_argument("--burn-in", type=int, help="sweeps before recording (1000)")
    sim.add_argument("--algorithm", choices=ALGORITHMS, help="(wolff)")
    sim.add_argument("--seed", type=int, help="seed in [0, 2**64 - 1] (1)")
    sim.add_argument("--threads", type=int, help="thread limit (all cores)")
    sim.add_argument("--start", choices=("hot", "cold"), help="(hot)")
    sim.add_argument(
        "--out", help="save the per-sweep records here (.npz, after every block)"
    )
    sim.add_argument(
        "--checkpoint",
        help="save the job's state here after every block of sweeps (none; an "
        "existing file needs --resume or --force)",
    )
    sim.add_argument(
        "--resume",
        help="continue the job of a checkpoint (same system, temperature and "
        "length; the records so far are kept)",
    )
    sim.add_argument(
        "--force",
        action="store_true",
        help="start over even if the --checkpoint file exists (it is overwritten)",
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
        "--scheduler",
        help="Dask scheduler address such as tcp://host:8786 (none: run locally)",
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

    _add_perceptron_parser(sub)
    _add_quench_parser(sub)

    fss = sub.add_parser(
        "scaling",
        help="finite-size scaling: T_c and critical exponents with error bars",
        description="Binder and xi/L crossings, their extrapolation, nu, gamma/nu "
        "and beta/nu (jackknife errors), printed next to reference values.",
    )
    fss_sub = fss.add_subparsers(dest="action", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--omega",
        type=float,
        help="fix the correction exponent of the extrapolation, > 0 (fitted)",
    )
    common.add_argument(
        "--collapse", action="store_true", help="also fit a collapse of beta N <m^2>"
    )
    common.add_argument(
        "--figures", help="write binder.png (and more) to this folder (none)"
    )
    common.add_argument("--json", action="store_true", help="print JSON")
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    run = fss_sub.add_parser(
        "run",
        parents=[common],
        help="simulate sizes x temperatures at h = 0 and analyse",
    )
    run.add_argument(
        "--lattice",
        choices=("square", "cubic", "chain", "complete"),
        default="square",
        help="(square)",
    )
    run.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[8, 16, 32],
        help="L, or N if complete (8 16 32)",
    )
    run.add_argument(
        "--temperatures",
        type=float,
        nargs="+",
        default=[2.269185],
        help="T values (2.269185)",
    )
    run.add_argument(
        "--sweeps", type=int, default=20000, help="recorded sweeps per run (20000)"
    )
    run.add_argument(
        "--burn-in", type=int, default=1000, help="sweeps before recording (1000)"
    )
    run.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        default="wolff",
        help="(wolff; heat-bath on the complete graph)",
    )
    run.add_argument("--seed", type=int, default=1, help="study seed (1)")
    run.add_argument("--threads", type=int, help="thread limit (all cores)")
    run.add_argument("--workers", type=int, default=1, help="runs at the same time (1)")
    run.add_argument("--blocks", type=int, default=20, help="jackknife blocks (20)")
    run.add_argument(
        "--max-shift",
        type=float,
        default=1.0,
        help="reweighting range |dbeta| sigma_H (1)",
    )
    run.add_argument(
        "--save",
        help="save the records (.npz) for 'scaling analyse' (none; on Ctrl-C the "
        "finished runs)",
    )
    analyse_cmd = fss_sub.add_parser(
        "analyse", parents=[common], help="analyse records saved with --save"
    )
    analyse_cmd.add_argument("file", help=".npz written by 'scaling run --save'")
    cw = fss_sub.add_parser(
        "curie-weiss",
        parents=[common],
        help="the same analysis on exact finite-N Curie-Weiss distributions",
    )
    cw.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1024, 4096, 16384, 65536],
        help="N values (1024 4096 16384 65536)",
    )
    cw.add_argument(
        "--temperatures",
        type=float,
        nargs="+",
        default=[0.95, 1.0, 1.05],
        help="T values, T_c = 1 (0.95 1.0 1.05)",
    )
    fss.set_defaults(func=_scaling)

    info = sub.add_parser("info", help="version, OpenMP, threads and SIMD paths")
    info.add_argument(
        "--json", action="store_true", help="print JSON instead of a list"
    )
    info.set_defaults(func=_info)

    bench = sub.add_parser(
        "bench",
        help="time the lattice engines and activation kernels on this machine",
        description="Spin-flip attempts per ns of the engines and elements per ns "
        "of the activation kernels beside NumPy, medians of interleaved repeats, "
        "ratios from the same run (about 60 s; --quick about 10 s).",
    )
    bench.add_argument(
        "--quick", action="store_true", help="smaller sizes, shorter repeats (~10 s)"
    )
    bench.add_argument(
        "--threads",
        metavar="1,2",
        help="comma-separated thread counts, each 1..64 (default 1,2; lowered to "
        "the usable cores)",
    )
    bench.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    bench.add_argument("--quiet", action="store_true", help="no progress lines")
    bench.set_defaults(func=_bench)

    rep = sub.add_parser(
        "reproduce",
        help="run the whole study and write a report (HTML, Markdown, JSON, HDF5)",
        description="The membrane lattice against mean field, the quench "
        "experiment, critical exponents, perceptrons and performance, with fixed "
        "seeds, into one folder: report.html, report.md, results.json, results.h5. "
        "Finished sections are kept; the same command continues an interrupted "
        "run (about 3.5 min on 2 cores; --quick about 20-30 s).",
    )
    rep.add_argument(
        "--out", default="neurophase-study", help="output folder (neurophase-study)"
    )
    rep.add_argument(
        "--quick", action="store_true", help="smoke-test sizes (about 20-30 s)"
    )
    rep.add_argument(
        "--workers", type=int, help="local worker processes (the usable cores)"
    )
    rep.add_argument(
        "--scheduler", help="Dask scheduler address for the sweeps (tcp://host:8786)"
    )
    rep.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the Dask scheduler (10)",
    )
    rep.add_argument(
        "--force",
        action="store_true",
        help="write into a folder with other content, or start a study made with "
        "other options over",
    )
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    rep.set_defaults(func=_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neurophase`` command; returns the exit status."""
    try:  # building the parser imports most of the package: Ctrl-C may come here
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        return _interrupted("nothing saved")
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader went away (e.g. `neurophase info | head -2`): not an error.
        # Point stdout at /dev/null so the flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, TypeError, OSError, FloatingPointError) as exc:
        print(f"neurophase: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Jobs that can keep partial results catch Ctrl-C themselves and say
        # what they kept; every other job has written nothing yet.
        return _interrupted("nothing saved")


if __name__ == "__main__":
    sys.exit(main())
