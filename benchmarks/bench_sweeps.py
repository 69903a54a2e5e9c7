"""Throughput and per-task overhead of parameter sweeps: in-process against Dask.

Usage::

    python benchmarks/bench_sweeps.py [--quick] [--repeats N] [--out benchmarks/results]

What is measured: one sweep specification run to its HDF5 file by each executor
on two workers (the cores of this machine) --

* ``threads``: two threads of the driver process (the engine releases the GIL);
* ``processes``: two local worker processes (forkserver), pool start included;
* ``dask``: a ``distributed.LocalCluster`` of two worker processes with one
  thread each, already running (its start-up time is reported separately);

for two task sizes: *tiny* tasks (a 4 x 4 lattice, 200 sweeps: nearly all cost is
overhead) and *small* tasks (32 x 32, 2000 sweeps). Each run includes committing
every task's part file and consolidating the HDF5 file.

Reported per executor and size (medians over the repeats, which run round-robin
so slow drifts of the machine load hit every executor alike):

* tasks per second, ``n_tasks / wall``;
* per-task overhead, ``(workers * wall - engine seconds) / n_tasks``: worker time
  per task not spent in the engine (scheduling, transfer, storage, Python);
* the ratio of tasks per second to ``threads`` from the same repeats.

Check: every executor's numbers equal the ``threads`` run's bitwise (a failing
executor is reported and not timed further).

Results: a table on stdout and ``<out>/sweeps.json`` (``sweeps_quick.json``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import neurophase as npx
from neurophase import sweeps

HERE = Path(__file__).resolve().parent
WORKERS = 2
EXECUTORS = ("threads", "processes", "dask")

SIZES = {
    "tiny": {"geometry": "square", "L": 4, "sweeps": 200, "burn_in": 20},
    "small": {"geometry": "square", "L": 32, "sweeps": 2000, "burn_in": 200},
}


def spec_text(size: str, n_tasks: int) -> str:
    """A sweep of ``n_tasks`` tasks: temperatures x 2 seed labels."""
    s = SIZES[size]
    n_temperatures = n_tasks // 2
    return f"""
[sweep]
seed = 1
sweeps = {s["sweeps"]}
burn_in = {s["burn_in"]}
series = true

[grid]
geometry = "{s["geometry"]}"
L = {s["L"]}
temperature = {{ start = 2.0, stop = 2.6, num = {n_temperatures} }}
algorithm = "metropolis"
seed = [0, 1]
"""


def run_once(
    executor: str, spec: sweeps.SweepSpec, folder: Path, client: Any
) -> tuple[float, sweeps.SweepResult]:
    """Wall seconds of one complete sweep into a fresh file, and its result."""
    out = folder / f"{executor}.h5"
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    if executor == "dask":
        result = sweeps.run_sweep(spec, out, client=client)
    else:
        result = sweeps.run_sweep(
            spec, out, executor=executor, workers=WORKERS, threads_per_task=1
        )
    return time.perf_counter() - start, result


def same_numbers(a: sweeps.SweepResult, b: sweeps.SweepResult) -> bool:
    """True when every computed column and series is bitwise equal."""
    skip = {"wall_time", "engine_wall_time", "threads", "threads_used", "host"}
    skip |= {"pid", "finished"}
    ta, tb = (r.table.drop(columns=list(skip)) for r in (a, b))
    for column in ta.columns:
        x, y = ta[column].to_numpy(), tb[column].to_numpy()
        if x.dtype.kind == "f":
            if not np.array_equal(x.view(np.uint64), y.view(np.uint64)):
                return False
        elif not np.array_equal(x, y):
            return False
    return all(
        np.array_equal(sa, sb)
        for name in sweeps.SERIES
        for sa, sb in zip(a.time_series(name), b.time_series(name), strict=True)
    )


def machine() -> dict[str, Any]:
    """Platform, versions and load average."""
    import dask
    import distributed
    import h5py

    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "neurophase": npx.__version__,
        "dask": dask.__version__,
        "distributed": distributed.__version__,
        "h5py": h5py.__version__,
        "usable_cores": sweeps.usable_cores(),
        "load_average": list(os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and save JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks, 2 repeats")
    parser.add_argument("--repeats", type=int, help="timed repeats (3; quick 2)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 3)
    n_tasks = {"tiny": 24 if args.quick else 60, "small": 8 if args.quick else 16}

    import distributed

    start = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=WORKERS,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster, set_as_default=False)
    cluster_start = time.perf_counter() - start

    folder = Path(tempfile.mkdtemp(prefix="bench-sweeps-"))
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    try:
        for size in SIZES:
            spec = sweeps.SweepSpec.from_toml(spec_text(size, n_tasks[size]))
            # Warm-up, and the check against the threads run.
            reference: sweeps.SweepResult | None = None
            for executor in EXECUTORS:
                _, result = run_once(executor, spec, folder, client)
                if reference is None:
                    reference = result
                ok = same_numbers(result, reference)
                rows[size, executor] = {"check": ok, "walls": [], "engine": []}
            for _ in range(repeats):
                for executor in EXECUTORS:
                    row = rows[size, executor]
                    if not row["check"]:
                        continue
                    wall, result = run_once(executor, spec, folder, client)
                    row["walls"].append(wall)
                    row["engine"].append(float(result.table["wall_time"].sum()))
            for executor in EXECUTORS:
                row = rows[size, executor]
                if not row["walls"]:
                    continue
                walls, engine = np.array(row["walls"]), np.array(row["engine"])
                n = spec.n_tasks
                row["n_tasks"] = n
                row["tasks_per_s"] = float(np.median(n / walls))
                row["overhead_ms"] = float(
                    np.median((WORKERS * walls - engine) / n) * 1e3
                )
                row["task_ms"] = float(np.median(engine / n) * 1e3)
            base = rows[size, "threads"].get("tasks_per_s")
            for executor in EXECUTORS:
                row = rows[size, executor]
                if base and "tasks_per_s" in row:
                    row["vs_threads"] = row["tasks_per_s"] / base
    finally:
        client.close()
        cluster.close()
        shutil.rmtree(folder, ignore_errors=True)

    header = (
        f"{'tasks':<6} {'executor':<10} {'n':>4} {'task ms':>8} {'tasks/s':>8} "
        f"{'overhead ms/task':>17} {'vs threads':>11} {'check':>6}"
    )
    lines = [
        f"Sweeps on {WORKERS} workers, medians of {repeats} repeats "
        f"(LocalCluster start-up {cluster_start:.2f} s, not included)",
        header,
        "-" * len(header),
    ]
    for (size, executor), row in rows.items():
        if "tasks_per_s" not in row:
            lines.append(f"{size:<6} {executor:<10} {'numbers differ: not timed':>40}")
            continue
        lines.append(
            f"{size:<6} {executor:<10} {row['n_tasks']:>4} {row['task_ms']:>8.1f} "
            f"{row['tasks_per_s']:>8.1f} {row['overhead_ms']:>17.1f} "
            f"{row['vs_threads']:>11.2f} {'ok' if row['check'] else 'FAIL':>6}"
        )
    text = "\n".join(lines)
    print(text)

    args.out.mkdir(parents=True, exist_ok=True)
    name = "sweeps_quick.json" if args.quick else "sweeps.json"
    payload = {
        "machine": machine(),
        "workers": WORKERS,
        "repeats": repeats,
        "cluster_start_s": cluster_start,
        "sizes": SIZES,
        "results": [
            {"size": size, "executor": executor, **row}
            for (size, executor), row in rows.items()
        ],
        "table": text,
    }
    (args.out / name).write_text(json.dumps(payload, indent=1))
    print(f"saved {args.out / name}")
    return 0 if all(row["check"] for row in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
