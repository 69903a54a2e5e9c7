"""Parameter sweeps: specification, seeds, executors, crash-safe storage, loading.

Facts checked: task seeds depend only on the specification and the grid point;
every executor (threads, worker processes, a Dask LocalCluster) gives bitwise the
same numbers; a sweep killed with SIGKILL (driver or worker) resumes to bitwise
the numbers of an uninterrupted run; damaged files are refused with an error
naming them; a small sweep's numbers match exact enumeration within the
tolerance policy of conftest.py; bad input raises a clear error.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import h5py
import numpy as np
import pandas as pd
import pytest

from conftest import SEED, assert_summary_agrees, deviation
from neurophase import exact, sweeps
from neurophase.statistics import Estimate

# Columns that describe how a task ran, not what it computed.
RUN_METADATA = (
    "wall_time",
    "engine_wall_time",
    "threads",
    "threads_used",
    "host",
    "pid",
    "finished",
)

# Small enough for the thread, process and Dask tests to run in seconds.
SMALL_SPEC = f"""
[sweep]
seed = {SEED}
sweeps = 3000
burn_in = 200

[grid]
geometry = ["chain", "square"]
L = [4, 6]
temperature = {{ start = 1.5, stop = 3.0, num = 3 }}
field = [0.0, 0.2]
algorithm = "heat-bath"
seed = [0, 1]
"""


def _spec(text: str = SMALL_SPEC) -> sweeps.SweepSpec:
    return sweeps.SweepSpec.from_toml(text)


def _results(result: sweeps.SweepResult) -> pd.DataFrame:
    return result.table.drop(columns=list(RUN_METADATA))


def assert_same_results(a: sweeps.SweepResult, b: sweeps.SweepResult) -> None:
    """Every computed number and time series equal bitwise (NaN equals NaN)."""
    ta, tb = _results(a), _results(b)
    assert list(ta.columns) == list(tb.columns)
    for column in ta.columns:
        x, y = ta[column].to_numpy(), tb[column].to_numpy()
        if x.dtype.kind == "f":
            assert np.array_equal(x.view(np.uint64), y.view(np.uint64)), column
        else:
            assert np.array_equal(x, y), column
    for name in sweeps.SERIES:
        for sa, sb in zip(a.time_series(name), b.time_series(name), strict=True):
            assert np.array_equal(sa.view(np.uint64), sb.view(np.uint64)), name


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> sweeps.SweepResult:
    """SMALL_SPEC run uninterrupted on two threads."""
    out = tmp_path_factory.mktemp("reference") / "reference.h5"
    return sweeps.run_sweep(_spec(), out, executor="threads", workers=2)


# ---------------------------------------------------------------------------
# Specification and seeds
# ---------------------------------------------------------------------------


def test_task_seed_depends_only_on_the_grid_point_and_the_base_seed() -> None:
    # Adding temperatures or reordering nothing else keeps every other task's
    # seed: seeds come from the parameters, not from positions or run order.
    small = {t.key: t.seed for t in _spec().tasks()}
    bigger = _spec(SMALL_SPEC.replace("num = 3", "num = 5"))
    by_key = {t.key: t.seed for t in bigger.tasks()}
    shared = set(small) & set(by_key)
    assert shared == set(small)  # 1.5, 2.25 and 3.0 are in both temperature grids
    assert all(small[k] == by_key[k] for k in shared)
    seeds = [t.seed for t in bigger.tasks()]
    assert len(set(seeds)) == len(seeds), "two tasks share an engine seed"
    other_base = _spec(SMALL_SPEC.replace(f"seed = {SEED}", "seed = 1"))
    assert not {t.seed for t in other_base.tasks()} & set(small.values())


def test_task_index_runs_over_the_grid_in_c_order() -> None:
    spec = _spec()
    assert spec.shape == (2, 2, 3, 2, 1, 2, 1)
    tasks = spec.tasks()
    assert len(tasks) == spec.n_tasks == 48
    for task in tasks:
        i = np.unravel_index(task.index, spec.shape)
        point = [
            spec.grid[axis][k] for axis, k in zip(sweeps.GRID_AXES, i, strict=True)
        ]
        assert point == [
            task.geometry,
            task.L,
            task.temperature,
            task.field,
            task.algorithm,
            task.replica,
            task.schedule.name,
        ]


def test_named_schedules_inherit_missing_keys_from_the_sweep_table() -> None:
    spec = _spec(
        SMALL_SPEC.replace('algorithm = "heat-bath"', 'schedule = ["default", "long"]')
        + "\n[schedule.long]\nsweeps = 9000\nstart = 'cold'\n"
    )
    long = spec.schedules["long"]
    assert (long.sweeps, long.burn_in, long.start) == (9000, 200, "cold")
    assert spec.grid["algorithm"] == ("metropolis",)  # the default algorithm
    assert sweeps.SweepSpec.from_dict(spec.canonical()).canonical() == spec.canonical()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        pytest.param(
            "[grid]\ngeometry='chain'\nL=4\ntemperature=1.0\nsize=3",
            "grid.size",
            id="grid",
        ),
        pytest.param(
            "[sweep]\nsweep=10\n[grid]\ngeometry='chain'\nL=4\ntemperature=1.0",
            "sweep.sweep",
            id="sweep",
        ),
        pytest.param("[grids]\nL=4", "grids", id="top"),
        pytest.param(
            "[grid]\ngeometry='chain'\nL=4\ntemperature=1.0\nschedule='x'\n"
            "[schedule.x]\nsweeps=10\nburnin=2",
            "schedule.x.burnin",
            id="schedule",
        ),
    ],
)
def test_unknown_keys_are_refused_by_name(text: str, named: str) -> None:
    with pytest.raises(ValueError, match=f"unknown key '{named}'"):
        sweeps.SweepSpec.from_toml(text)


@pytest.mark.parametrize(
    "grid",
    [
        pytest.param("temperature = []", id="empty-list"),
        pytest.param(
            "temperature = { start = 1, stop = 2, num = 0 }", id="empty-range"
        ),
    ],
)
def test_an_empty_grid_is_refused(grid: str) -> None:
    text = f"[grid]\ngeometry = 'chain'\nL = 4\n{grid}\n"
    with pytest.raises(ValueError, match=r"grid\.temperature is empty"):
        sweeps.SweepSpec.from_toml(text)


@pytest.mark.parametrize(
    ("line", "error", "message"),
    [
        ("L = 1", ValueError, "grid.L must be an integer >= 2"),
        ("temperature = -1.0", ValueError, "grid.temperature must be finite and > 0"),
        ("geometry = 'hexagonal'", ValueError, "grid.geometry must be chain"),
        ("algorithm = 'glauber'", ValueError, "grid.algorithm must be one of"),
        ("schedule = 'long'", ValueError, "grid.schedule names 'long'"),
        ("seed = -2", ValueError, "grid.seed must be an integer >= 0"),
        ("L = 2.5", TypeError, "grid.L must be an integer"),
        ("field = [0.0, 0.0]", ValueError, "grid.field lists a value twice"),
    ],
)
def test_bad_grid_values_name_the_key_and_the_allowed_range(
    line: str, error: type[Exception], message: str
) -> None:
    base = {"geometry": "'chain'", "L": "4", "temperature": "1.0"}
    key = line.split("=")[0].strip()
    base[key] = line.split("=", 1)[1].strip()
    text = "[grid]\n" + "\n".join(f"{k} = {v}" for k, v in base.items())
    with pytest.raises(error, match=message):
        sweeps.SweepSpec.from_toml(text)


def test_cluster_algorithm_on_the_complete_graph_is_refused_before_running() -> None:
    text = "[grid]\ngeometry='complete'\nL=8\ntemperature=1.0\nalgorithm='wolff'"
    with pytest.raises(ValueError, match="needs a hypercubic lattice"):
        sweeps.SweepSpec.from_toml(text)


@pytest.mark.parametrize("cores", [1, 2, 3, 8])
def test_default_resources_never_oversubscribe_the_cores(cores: int) -> None:
    for workers in (None, 1, 2, 5):
        for threads in (None, 1, 2, 4):
            w, t = sweeps.plan_resources(workers, threads, cores)
            assert w >= 1 and t >= 1
            if workers is None or threads is None:
                # The default adds no oversubscription to what was asked for.
                assert w * t <= max(cores, workers or 0, threads or 0)
            assert workers is None or w == workers
            assert threads is None or t == threads
    assert sweeps.plan_resources(None, None, cores) == (cores, 1)


# ---------------------------------------------------------------------------
# Physics: numbers of a small sweep against exact enumeration
# ---------------------------------------------------------------------------

EXACT_SPEC = f"""
[sweep]
seed = {SEED}
sweeps = 40000
burn_in = 1000

[grid]
geometry = ["chain", "square"]
L = 3
temperature = [2.5, 4.0]
field = [0.0, 0.3]
algorithm = ["heat-bath", "swendsen-wang"]
"""

COMPARED = (
    "energy",
    "magnetisation",
    "abs_magnetisation",
    "magnetisation2",
    "magnetisation4",
    "specific_heat",
    "susceptibility_connected",
)


@pytest.mark.slow
def test_sweep_numbers_match_exact_enumeration(tmp_path: Path) -> None:
    # A 3-ring and a periodic 3 x 3 lattice at two temperatures and fields, with
    # a local and a cluster algorithm: every summary number (and <e^2>, kept for
    # reweighting) agrees with the sum over all 2^N states, |z| <= 4.
    result = sweeps.run_sweep(
        _spec(EXACT_SPEC), tmp_path / "exact.h5", executor="threads", workers=2
    )
    assert len(result.table) == 16
    for row in result.table.itertuples(index=False):
        shape = (3,) if row.geometry == "chain" else (3, 3)
        averages = exact.enumerate_lattice(shape, row.temperature, 1.0, row.field)
        summary = SimpleNamespace(
            n_samples=row.n_samples,
            **{
                name: Estimate(
                    getattr(row, name),
                    getattr(row, f"{name}_error"),
                    getattr(row, f"{name}_tau_int"),
                )
                for name in sweeps.QUANTITIES
            },
        )
        context = f"{row.geometry} T={row.temperature} h={row.field} {row.algorithm}"
        expected = {name: float(getattr(averages, name)) for name in COMPARED}
        assert_summary_agrees(summary, expected, context)  # type: ignore[arg-type]
        problem = deviation(summary.energy2, averages.energy2, "energy2")
        assert problem is None, f"{context}: {problem}"


def test_loaded_arrays_and_series_hold_the_per_task_moments(
    reference: sweeps.SweepResult,
) -> None:
    # The grid arrays are the table in grid order, and the stored series give back
    # the moments: <m^2>, <m^4>, <|m|>, <e> and <e^2> of each task.
    spec = reference.spec
    binder = reference.arrays("binder")
    assert binder.value.shape == binder.error.shape == spec.shape
    assert binder.axes == sweeps.GRID_AXES
    np.testing.assert_array_equal(binder.coords["L"], [4, 6])
    flat = reference.table.sort_values("index")
    np.testing.assert_array_equal(binder.value.reshape(-1), flat["binder"])
    for row in range(len(reference.table)):
        m = reference.series(row, "magnetisation")
        e = reference.series(row, "energy")
        task = reference.table.iloc[row]
        assert m.shape == e.shape == (task["sweeps"],)
        for column, values in (
            ("magnetisation2", m**2),
            ("magnetisation4", m**4),
            ("abs_magnetisation", np.abs(m)),
            ("energy", e),
            ("energy2", e**2),
        ):
            assert math.isclose(
                task[column], values.mean(), rel_tol=1e-12, abs_tol=1e-15
            )
    with pytest.raises(ValueError, match="quantity must be one of"):
        reference.arrays("entropy")


# ---------------------------------------------------------------------------
# Executors: threads, worker processes, Dask distributed
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_worker_processes_give_the_numbers_of_threads_bitwise(
    tmp_path: Path, reference: sweeps.SweepResult
) -> None:
    result = sweeps.run_sweep(
        _spec(), tmp_path / "p.h5", executor="processes", workers=2
    )
    assert_same_results(result, reference)
    assert os.getpid() not in set(result.table["pid"])
    with h5py.File(tmp_path / "p.h5", "r") as f:
        assert f.attrs["neurophase_version"] == sweeps.__version__
        assert sweeps.SweepSpec.from_toml(f.attrs["spec_toml"]).canonical() == (
            _spec().canonical()
        )


@pytest.mark.slow
def test_a_killed_worker_process_is_replaced_and_the_numbers_are_unchanged(
    tmp_path: Path, reference: sweeps.SweepResult
) -> None:
    # SIGKILL of a worker process after the first task: the pool is rebuilt, the
    # lost tasks run again, and every number equals the uninterrupted run.
    killed: list[int] = []

    def kill_a_worker(p: sweeps.Progress) -> None:
        if p.meta is not None and not killed:
            killed.append(int(p.meta["pid"]))
            os.kill(killed[0], signal.SIGKILL)

    result = sweeps.run_sweep(
        _spec(), tmp_path / "k.h5", workers=2, progress=kill_a_worker
    )
    assert killed
    assert_same_results(result, reference)


def _sleep_and_return(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_a_worker_killed_mid_result_breaks_the_pool_instead_of_hanging() -> None:
    # A worker killed half-way through writing its result leaves a partial
    # message in the pool's result pipe, and the pool's reader then waits for
    # the rest forever while a sibling worker keeps the pipe open. Here the
    # partial message is written directly, then a worker is killed: the pool
    # must be declared broken within seconds rather than hang.
    import concurrent.futures as cf
    import multiprocessing
    import struct

    pool = cf.ProcessPoolExecutor(
        max_workers=2, mp_context=multiprocessing.get_context("forkserver")
    )
    try:
        assert list(pool.map(_sleep_and_return, [0.0, 0.0])) == [0.0, 0.0]
        victim = next(iter(pool._processes))
        futures = {pool.submit(_sleep_and_return, 60.0): None}
        writer = pool._result_queue._writer
        os.write(writer.fileno(), struct.pack("!i", 4096) + b"partial")
        time.sleep(0.5)  # the pool's reader is now waiting for the other bytes
        os.kill(victim, signal.SIGKILL)
        start = time.monotonic()
        with pytest.raises(cf.process.BrokenProcessPool):
            for future in sweeps._completed(pool, futures):
                future.result()
        assert time.monotonic() - start < 30
    finally:
        sweeps._terminate_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def dask_client() -> Any:
    """A client of a real LocalCluster: two worker processes of one thread each."""
    import distributed

    with warnings.catch_warnings():
        # The one warning Dask emits here on a busy machine: its scratch folder
        # took over a second to create. Everything else stays an error.
        warnings.filterwarnings(
            "ignore",
            message="Creating scratch directories is taking a surprisingly long",
            category=UserWarning,
        )
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port, never a fixed one
            silence_logs=logging.ERROR,
        )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.mark.slow
def test_dask_local_cluster_gives_the_in_process_numbers_bitwise(
    tmp_path: Path, reference: sweeps.SweepResult, dask_client: Any
) -> None:
    result = sweeps.run_sweep(_spec(), tmp_path / "d.h5", client=dask_client)
    assert_same_results(result, reference)
    worker_pids = set(dask_client.run(os.getpid).values())
    assert len(worker_pids) == 2
    assert set(result.table["pid"]) <= worker_pids
    assert len(set(result.table["pid"])) == 2, "the tasks did not spread"


@pytest.mark.slow
def test_a_killed_dask_worker_loses_no_task_and_changes_no_number(
    tmp_path: Path, reference: sweeps.SweepResult, dask_client: Any
) -> None:
    # SIGKILL of a Dask worker process mid-sweep: its nanny restarts it, the
    # scheduler reruns its tasks, and the result equals the uninterrupted run.
    killed: list[int] = []

    def kill_a_worker(p: sweeps.Progress) -> None:
        if p.meta is not None and not killed:
            killed.append(int(p.meta["pid"]))
            os.kill(killed[0], signal.SIGKILL)

    result = sweeps.run_sweep(
        _spec(), tmp_path / "dk.h5", client=dask_client, progress=kill_a_worker
    )
    assert killed
    assert_same_results(result, reference)
    dask_client.wait_for_workers(2, timeout=60)


def test_data_quality_notes_stay_with_their_own_task_on_threads(tmp_path: Path) -> None:
    # Short runs near T_c give notes (tau_int windows that do not close, short
    # jackknife blocks). Tasks running side by side on threads must each keep
    # exactly the notes of a run of that task alone.
    spec = _spec(
        f"""
[sweep]
seed = {SEED}
sweeps = 1500
burn_in = 100
[grid]
geometry = "square"
L = 16
temperature = [2.2, 2.3, 2.4]
algorithm = "metropolis"
seed = [0, 1]
"""
    )
    result = sweeps.run_sweep(spec, tmp_path / "n.h5", executor="threads", workers=2)
    alone = [sweeps.run_task(t.parameters(), 1, False) for t in spec.tasks()]
    stored = [json.loads(n) for n in result.table.sort_values("index")["notes"]]
    assert stored == [r["meta"]["notes"] for r in alone]
    assert any(stored), "no task had a note: the check would be empty"


def test_an_unreachable_scheduler_is_a_clear_error_within_the_timeout(
    tmp_path: Path,
) -> None:
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(
        ConnectionError,
        match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 2 s",
    ):
        sweeps.run_sweep(
            _spec(),
            tmp_path / "u.h5",
            scheduler=f"tcp://127.0.0.1:{port}",
            connect_timeout=2.0,
        )
    assert time.monotonic() - start < 30


def test_a_peer_that_accepts_but_never_answers_is_given_up_within_the_timeout(
    tmp_path: Path,
) -> None:
    # A listening socket that never speaks Dask (a web server, a silent port):
    # distributed.Client alone would wait for it forever.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(ConnectionError, match="no Dask scheduler answered"):
            sweeps.run_sweep(
                _spec(), tmp_path / "s.h5", scheduler=address, connect_timeout=1.0
            )
        assert time.monotonic() - start < 15
    assert not (tmp_path / "s.h5").exists()


# ---------------------------------------------------------------------------
# Crash safety: resume, spec mismatch, damaged files
# ---------------------------------------------------------------------------


class _Stop(Exception):
    pass


def _interrupted(out: Path, after: int, spec: sweeps.SweepSpec | None = None) -> None:
    """Start the sweep and stop it once ``after`` tasks are committed."""

    def stop(p: sweeps.Progress) -> None:
        if p.meta is not None and p.done - p.resumed >= after:
            raise _Stop

    with pytest.raises(_Stop):
        sweeps.run_sweep(
            spec or _spec(), out, executor="threads", workers=1, progress=stop
        )


def test_resume_skips_finished_tasks_and_equals_an_uninterrupted_run(
    tmp_path: Path, reference: sweeps.SweepResult
) -> None:
    out = tmp_path / "r.h5"
    _interrupted(out, after=5)
    parts = sorted(sweeps.parts_folder(out).glob("task-*.part"))
    assert len(parts) == 5 and not out.exists()
    starts: list[sweeps.Progress] = []
    result = sweeps.run_sweep(
        _spec(), out, executor="threads", progress=lambda p: starts.append(p)
    )
    assert starts[0].resumed == 5 and starts[-1].done == 48
    assert not sweeps.parts_folder(out).exists()
    assert_same_results(result, reference)
    # A finished sweep run again only loads its file.
    again = sweeps.run_sweep(_spec(), out, executor="threads")
    assert_same_results(again, reference)


def test_a_different_spec_is_refused_for_an_existing_sweep(tmp_path: Path) -> None:
    out = tmp_path / "m.h5"
    _interrupted(out, after=2)
    changed = _spec(SMALL_SPEC.replace("sweeps = 3000", "sweeps = 3001"))
    with pytest.raises(
        ValueError, match=r"does not match .*sweep.sweeps: stored 3000, given 3001"
    ):
        sweeps.run_sweep(changed, out, executor="threads")
    small = _spec(SMALL_SPEC.replace("L = [4, 6]", "L = 4"))
    sweeps.run_sweep(small, tmp_path / "small.h5", executor="threads")
    with pytest.raises(
        ValueError, match=r"does not match .*grid.L: stored \[4\], given \[4, 6\]"
    ):
        sweeps.run_sweep(_spec(), tmp_path / "small.h5", executor="threads")


def test_a_truncated_task_file_is_refused_by_name_and_repaired_on_request(
    tmp_path: Path, reference: sweeps.SweepResult
) -> None:
    out = tmp_path / "t.h5"
    _interrupted(out, after=3)
    damaged = sorted(sweeps.parts_folder(out).glob("task-*.part"))[1]
    damaged.write_bytes(damaged.read_bytes()[:-100])
    with pytest.raises(
        sweeps.SweepFileError, match=r"Delete it .* or rerun with --repair"
    ) as info:
        sweeps.run_sweep(_spec(), out, executor="threads")
    assert info.value.path == damaged and str(damaged) in str(info.value)
    result = sweeps.run_sweep(_spec(), out, executor="threads", repair=True)
    assert_same_results(result, reference)


def test_a_flipped_bit_in_a_task_file_is_detected(tmp_path: Path) -> None:
    out = tmp_path / "b.h5"
    _interrupted(out, after=1)
    (part,) = sweeps.parts_folder(out).glob("task-*.part")
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0x01
    part.write_bytes(bytes(data))
    with pytest.raises(sweeps.SweepFileError, match="checksum mismatch"):
        sweeps.run_sweep(_spec(), out, executor="threads")


def test_a_damaged_result_file_is_refused_by_name(
    tmp_path: Path, reference: sweeps.SweepResult
) -> None:
    # A flipped bit in a stored series fails its Fletcher-32 checksum; a truncated
    # file does not open. Both name the file; --repair sets it aside and reruns.
    out = tmp_path / "h.h5"
    out.write_bytes(reference.path.read_bytes())
    with h5py.File(out, "r") as f:
        key = reference.table["key"].iloc[7]
        offset = f[f"series/{key}/energy"].id.get_chunk_info(0).byte_offset
    with open(out, "r+b") as raw:
        raw.seek(offset + 8)
        byte = raw.read(1)
        raw.seek(offset + 8)
        raw.write(bytes([byte[0] ^ 0x10]))
    with pytest.raises(
        sweeps.SweepFileError, match="unreadable, truncated or corrupted"
    ) as info:
        sweeps.load_sweep(out)
    assert info.value.path == out and str(out) in str(info.value)
    with pytest.raises(sweeps.SweepFileError, match="--repair"):
        sweeps.run_sweep(_spec(), out, executor="threads")

    out.write_bytes(reference.path.read_bytes()[:5000])
    with pytest.raises(sweeps.SweepFileError, match=str(out)):
        sweeps.load_sweep(out)
    result = sweeps.run_sweep(_spec(), out, executor="threads", repair=True)
    assert (tmp_path / "h.h5.corrupt").exists()
    assert_same_results(result, reference)


@pytest.mark.parametrize("case", ["no-folder", "is-a-folder", "under-a-file"])
def test_an_output_path_that_cannot_be_written_is_refused_before_running(
    tmp_path: Path, case: str
) -> None:
    out = {
        "no-folder": tmp_path / "missing" / "s.h5",
        "is-a-folder": tmp_path,
        "under-a-file": tmp_path / "file" / "s.h5",
    }[case]
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match=f"cannot write {out}"):
        sweeps.run_sweep(_spec(), out, executor="threads")


# ---------------------------------------------------------------------------
# The command line, killed with SIGKILL mid-sweep
# ---------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neurophase", "sweep", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_a_sweep_killed_with_sigkill_resumes_with_the_same_command_bitwise(
    tmp_path: Path, reference: sweeps.SweepResult
) -> None:
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(SMALL_SPEC)
    out = tmp_path / "cli.h5"
    command = [str(spec_file), "--out", str(out), "--workers", "1", "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "neurophase", "sweep", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parts = sweeps.parts_folder(out)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(parts.glob("task-*.part"))) >= 3:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL, "the sweep ended before the kill"
    finished = len(list(parts.glob("task-*.part")))
    assert 3 <= finished < 48 and not out.exists()

    resumed = _cli(*command)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{48 - finished} run now, {finished} done before" in resumed.stderr.replace(
        "\n", " "
    )
    assert_same_results(sweeps.load_sweep(out), reference)


def test_series_are_optional_and_asking_for_missing_ones_is_a_clear_error(
    tmp_path: Path, reference: sweeps.SweepResult
) -> None:
    # Without series the summary numbers are the same (same seeds, same runs).
    spec = _spec(SMALL_SPEC.replace("burn_in = 200", "burn_in = 200\nseries = false"))
    result = sweeps.run_sweep(spec, tmp_path / "s.h5", executor="threads")
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert len(f["series"]) == 0
    with pytest.raises(ValueError, match="kept no time series"):
        result.series(0)
    np.testing.assert_array_equal(result.table["binder"], reference.table["binder"])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"workers": 0}, ValueError, "workers must be an integer >= 1"),
        ({"threads_per_task": 0}, ValueError, "threads_per_task must be an integer"),
        ({"executor": "mpi"}, ValueError, "executor must be 'processes' or 'threads'"),
        ({"scheduler": "tcp://x:1", "client": object()}, ValueError, "not both"),
    ],
)
def test_bad_run_parameters_are_refused_by_name(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        sweeps.run_sweep(_spec(), tmp_path / "x.h5", **kwargs)


@pytest.mark.slow
def test_cli_errors_name_the_problem_and_exit_with_status_2(tmp_path: Path) -> None:
    spec_file = tmp_path / "bad.toml"
    spec_file.write_text("[grid]\ngeometry='chain'\nL=4\ntemperature=[]\n")
    result = _cli(str(spec_file), "--out", str(tmp_path / "x.h5"))
    assert result.returncode == 2
    assert "grid.temperature is empty" in result.stderr
    assert str(spec_file) in result.stderr
    spec_file.write_text(SMALL_SPEC)
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.monotonic()
    result = _cli(
        str(spec_file),
        "--out",
        str(tmp_path / "x.h5"),
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
        "--timeout",
        "2",
        "--quiet",
    )
    assert result.returncode == 2
    assert "cannot reach the Dask scheduler" in result.stderr
    assert time.monotonic() - start < 60


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("temperature = { start = 2.2, stop = 2.34, num = 100000000 }", "num must"),
        (
            "temperature = { start = 2.2, stop = 2.34, num = 1000 }\n"
            "seed = [" + ", ".join(map(str, range(1001))) + "]",
            "at most 1000000",
        ),
    ],
    ids=["range", "product"],
)
def test_a_grid_of_more_than_a_million_tasks_is_refused_at_once(
    grid: str, message: str
) -> None:
    text = f'[grid]\ngeometry = "square"\nL = 8\n{grid}\n'
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        sweeps.SweepSpec.from_toml(text)
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ("sweeps = 100000000000000000000", r"sweep.sweeps must be .*2\*\*62"),
        ("sweeps = 100000000000000000", "sweep.sweeps = .* physical memory"),
        ("burn_in = 100000000000000000", "sweep.burn_in = .* physical memory"),
    ],
    ids=["cap", "memory", "burn-in"],
)
def test_absurd_run_lengths_are_refused_before_anything_is_written(
    sweep: str, message: str, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(
        f'[sweep]\n{sweep}\n[grid]\ngeometry = "square"\nL = 8\ntemperature = 2\n'
    )
    folder = tmp_path / "run"
    folder.mkdir()
    with pytest.raises(ValueError, match=message):
        sweeps.run_sweep(spec, folder / "w.h5")
    assert list(folder.iterdir()) == []


def test_a_bad_scheduler_address_is_refused_before_a_client_exists(
    tmp_path: Path,
) -> None:
    out = tmp_path / "w.h5"
    with pytest.raises(ValueError, match="scheduler 'garbage' is not a Dask address"):
        sweeps.run_sweep(_spec(), out, scheduler="garbage")
    assert list(tmp_path.iterdir()) == []
