"""Tests of the Monte Carlo engine: records, schedules, checkpoints, threads, input.

Most tests here are exact (bitwise or to rounding); the statistical ones follow
the tolerance policy of ``conftest.py`` (|estimate - exact| <= 4 error, errors
with autocorrelations, fixed seed ``SEED``).  Comparisons of sampled averages
with exact results of statistical mechanics are in ``test_exact_checks.py``.
"""

from __future__ import annotations

import math
import pickle
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import neurophase as npx
from conftest import (
    ALGORITHMS,
    LOCAL_ALGORITHMS,
    SEED,
    Z_TOLERANCE,
    assert_agrees,
    mean_estimate,
    observables_from_spins,
)
from neurophase import simulation

# The engine gives a lattice one thread per 65536 sites.
SITES_PER_THREAD = 65536


def site_field(shape: tuple[int, ...], scale: float = 0.5) -> np.ndarray:
    """A fixed, irregular per-site field (seeded, so every run sees the same)."""
    return scale * np.random.default_rng(SEED).standard_normal(shape)


def assert_runs_identical(a: npx.Run, b: npx.Run) -> None:
    """Bitwise equality of every per-sweep record and snapshot of two runs."""
    np.testing.assert_array_equal(a.magnetisation, b.magnetisation)
    np.testing.assert_array_equal(a.energy, b.energy)
    if a.staggered_magnetisation is None:
        assert b.staggered_magnetisation is None
    else:
        assert b.staggered_magnetisation is not None
        np.testing.assert_array_equal(
            a.staggered_magnetisation, b.staggered_magnetisation
        )
    np.testing.assert_array_equal(a.temperature, b.temperature)
    np.testing.assert_array_equal(a.field, b.field)
    np.testing.assert_array_equal(a.snapshot_sweeps, b.snapshot_sweeps)
    np.testing.assert_array_equal(a.snapshots, b.snapshots)
    assert (a.flips, a.clusters) == (b.flips, b.clusters)


def concatenate(runs: list[npx.Run]) -> dict[str, np.ndarray]:
    """Per-sweep records of consecutive runs, joined."""
    out = {
        name: np.concatenate([getattr(r, name) for r in runs])
        for name in ("magnetisation", "energy", "temperature", "field")
    }
    stag = [r.staggered_magnetisation for r in runs]
    if all(s is not None for s in stag):
        out["staggered_magnetisation"] = np.concatenate(stag)
    return out


# ---------------------------------------------------------------------------
# Conventions: energy, z = 2d, records
# ---------------------------------------------------------------------------


def test_hot_start_draws_independent_unbiased_spins() -> None:
    # For independent spins with P(+1) = 1/2, m has mean 0 and standard deviation
    # 1/sqrt(N) exactly, and so has the mean of the 2N nearest-neighbour products
    # (pairwise independent) with 1/sqrt(2N): the 4-sigma rule with exact errors.
    lattice = npx.Lattice.square(256)
    spins = npx.Simulation(lattice, seed=SEED, start="hot").spins.astype(np.float64)
    n = spins.size
    assert abs(spins.mean()) <= Z_TOLERANCE / math.sqrt(n)
    bonds = np.concatenate(
        [(spins * np.roll(spins, 1, axis=k)).ravel() for k in range(2)]
    )
    assert abs(bonds.mean()) <= Z_TOLERANCE / math.sqrt(2 * n)
    other = npx.Simulation(lattice, seed=SEED + 1, start="hot").spins
    assert not np.array_equal(other, spins.astype(np.int8))


@pytest.mark.parametrize(
    "shape",
    [(2,), (7,), (2, 2), (2, 3), (5, 4), (2, 2, 2), (2, 2, 2, 2), (2, 2, 2, 2, 2)],
    ids=lambda s: "x".join(map(str, s)),
)
def test_all_up_energy_per_spin_is_minus_d_j_minus_h_as_every_site_has_2d_bonds(
    shape: tuple[int, ...],
) -> None:
    # Periodic boundaries: z = 2d bond ends per site, also when a side is 2 (both
    # bonds between the same pair count), so N d bonds and e = -d J - h.
    lattice = npx.Lattice(shape, "periodic")
    assert lattice.coordination == 2 * len(shape)
    sim = npx.Simulation(lattice, coupling=0.75, field=0.25, start="cold")
    measured = sim.measure()
    assert measured["magnetisation"] == 1.0
    assert measured["energy"] == pytest.approx(-0.75 * len(shape) - 0.25, abs=1e-14)


RECORD_CASES = [
    pytest.param(npx.Lattice((3, 5)), 1.0, "site", id="3x5-periodic-site-field"),
    pytest.param(npx.Lattice((4, 3), "open"), 1.0, "uniform", id="4x3-open"),
    pytest.param(npx.Lattice((2, 2, 3)), -1.0, "uniform", id="2x2x3-periodic-J-1"),
    pytest.param(npx.Lattice((5, 3), "open"), 0.7, "site", id="5x3-open-site-field"),
    pytest.param(npx.Lattice.chain(9), 1.0, "uniform", id="chain-9-periodic"),
    pytest.param(npx.Lattice((3, 2, 3, 2)), 1.0, "site", id="3x2x3x2-periodic"),
    pytest.param(npx.Lattice((2, 3, 2, 3, 2)), -0.5, "uniform", id="5d-periodic"),
]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(("lattice", "coupling", "field_kind"), RECORD_CASES)
def test_records_equal_observables_recomputed_from_snapshots(
    lattice: npx.Lattice, coupling: float, field_kind: str, algorithm: str
) -> None:
    # Every recorded m, e and m_s equals the NumPy value of the snapshot of the same
    # sweep (bond list of neurophase.exact, both bonds of a periodic side of 2).
    # T = 1.5 z|J| is above every mean-field T_c, so the spins keep moving (in the
    # ordered phase a per-site field can freeze every Wolff cluster to the ghost).
    sweeps = 25
    field = site_field(lattice.shape) if field_kind == "site" else 0.3
    run = npx.simulate(
        lattice,
        temperature=1.5 * lattice.coordination * abs(coupling),
        field=field,
        coupling=coupling,
        sweeps=sweeps,
        algorithm=algorithm,
        seed=SEED,
        snapshots=range(sweeps),
    )
    for t in range(sweeps):
        m, e, m_s = observables_from_spins(run.snapshots[t], lattice, coupling, field)
        assert run.magnetisation[t] == pytest.approx(m, abs=1e-12)
        assert run.energy[t] == pytest.approx(e, abs=1e-12)
        assert run.staggered_magnetisation is not None
        assert run.staggered_magnetisation[t] == pytest.approx(m_s, abs=1e-12)
    assert len({run.energy[t] for t in range(sweeps)}) > 1, "the spins never moved"


@pytest.mark.parametrize("algorithm", LOCAL_ALGORITHMS)
def test_complete_graph_records_equal_the_curie_weiss_energy_of_the_snapshots(
    algorithm: str,
) -> None:
    # H = -(J/N) sum_{i<j} s_i s_j - sum_i h_i s_i: no self term.
    lattice = npx.Lattice.complete(21)
    field = site_field(lattice.shape)
    run = npx.simulate(
        lattice,
        temperature=1.0,
        field=field,
        coupling=1.3,
        sweeps=20,
        algorithm=algorithm,
        seed=SEED,
        snapshots=range(20),
    )
    assert run.staggered_magnetisation is None
    for t in range(20):
        m, e, _ = observables_from_spins(run.snapshots[t], lattice, 1.3, field)
        assert run.magnetisation[t] == pytest.approx(m, abs=1e-12)
        assert run.energy[t] == pytest.approx(e, abs=1e-12)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_measure_equals_the_last_record_and_the_numpy_recomputation(
    algorithm: str,
) -> None:
    lattice = npx.Lattice((5, 6))
    field = site_field(lattice.shape) + 0.2
    sim = npx.Simulation(lattice, coupling=0.9, field=field, algorithm=algorithm)
    run = sim.run(10, temperature=3.0)
    measured = sim.measure()
    m, e, m_s = observables_from_spins(sim.spins, lattice, 0.9, field)
    assert measured["magnetisation"] == pytest.approx(m, abs=1e-12)
    assert measured["energy"] == pytest.approx(e, abs=1e-12)
    assert measured["staggered_magnetisation"] == pytest.approx(m_s, abs=1e-12)
    assert run.energy[-1] == pytest.approx(e, abs=1e-12)
    assert run.magnetisation[-1] == pytest.approx(m, abs=1e-12)


def test_start_array_sets_the_spins_and_zero_sweeps_leave_them_unchanged() -> None:
    lattice = npx.Lattice((4, 6), "open")
    start = np.where(site_field(lattice.shape) > 0, 1, -1).astype(np.int8)
    sim = npx.Simulation(lattice, start=start, seed=SEED)
    run = sim.run(0, temperature=1.0)
    np.testing.assert_array_equal(sim.spins, start)
    assert sim.spins.dtype == np.int8
    assert run.sweeps == 0 and run.magnetisation.size == 0
    assert sim.sweeps_done == 0
    cold = npx.Simulation(lattice, start="cold")
    np.testing.assert_array_equal(cold.spins, np.ones(lattice.shape, np.int8))
    returned = sim.spins
    returned[...] = 1  # a copy: changing it leaves the simulation alone
    np.testing.assert_array_equal(sim.spins, start)


# ---------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_constant_schedules_give_bitwise_the_constant_run(algorithm: str) -> None:
    lattice = npx.Lattice((6, 5))
    sweeps = 30
    common = {"sweeps": sweeps, "algorithm": algorithm, "seed": SEED}
    constant = npx.simulate(lattice, temperature=2.2, field=0.15, **common)
    scheduled = npx.simulate(
        lattice,
        temperature=np.full(sweeps, 2.2),
        field=0.0,
        field_schedule=np.full(sweeps, 0.15),
        **common,
    )
    assert_runs_identical(constant, scheduled)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_temperature_quench_schedule_equals_consecutive_constant_runs(
    algorithm: str,
) -> None:
    # A quench (hot, cold, then reheated) given as one per-sweep schedule applies
    # each temperature at exactly its sweep.
    lattice = npx.Lattice((7, 6))
    segments = [(5.0, 8), (1.2, 10), (2.6, 7)]
    schedule = np.concatenate([np.full(n, T) for T, n in segments])
    one = npx.Simulation(lattice, algorithm=algorithm, seed=SEED, field=0.05)
    parts = npx.Simulation(lattice, algorithm=algorithm, seed=SEED, field=0.05)
    with warnings.catch_warnings():
        # Wolff warns that its clusters per sweep were chosen at T = 5 (a matter
        # of speed); this test is about where each temperature applies.
        warnings.simplefilter("ignore", npx.WolffSweepWarning)
        whole = one.run(schedule.size, temperature=schedule)
        pieces = [parts.run(n, temperature=T) for T, n in segments]
    for name, joined in concatenate(pieces).items():
        np.testing.assert_array_equal(getattr(whole, name), joined, err_msg=name)
    np.testing.assert_array_equal(whole.temperature, schedule)
    np.testing.assert_array_equal(one.spins, parts.spins)
    assert one.sweeps_done == parts.sweeps_done == schedule.size


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_field_pulse_enters_the_recorded_energy_and_the_updates_of_its_sweeps(
    algorithm: str,
) -> None:
    lattice = npx.Lattice((5, 7))
    static = site_field(lattice.shape, scale=0.3)
    pulse = np.concatenate([np.zeros(6), np.full(6, 1.5), np.zeros(6)])
    sim = npx.Simulation(lattice, field=static, algorithm=algorithm, seed=SEED)
    run = sim.run(
        pulse.size, temperature=2.0, field_schedule=pulse, snapshots=range(pulse.size)
    )
    np.testing.assert_array_equal(run.field, pulse)
    assert run.site_field is not None
    np.testing.assert_array_equal(run.site_field, static)
    # The energy of each sweep uses that sweep's field.
    for t in range(pulse.size):
        _, e, _ = observables_from_spins(
            run.snapshots[t], lattice, 1.0, static + pulse[t]
        )
        assert run.energy[t] == pytest.approx(e, abs=1e-12), f"sweep {t}"
    # The updates of each sweep use that sweep's field too: the same pulse given
    # as three constant pieces reproduces the run bitwise.
    parts = npx.Simulation(lattice, field=static, algorithm=algorithm, seed=SEED)
    pieces = [
        parts.run(6, temperature=2.0, field_schedule=np.full(6, h))
        for h in (0.0, 1.5, 0.0)
    ]
    for name, joined in concatenate(pieces).items():
        np.testing.assert_array_equal(getattr(run, name), joined, err_msg=name)
    np.testing.assert_array_equal(sim.spins, parts.spins)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_burn_in_uses_the_first_temperature_and_field_of_the_schedule(
    algorithm: str,
) -> None:
    # simulate() = unrecorded burn-in at (T[0], h[0]), then the recorded schedule;
    # recording (or not) does not touch the dynamics.
    lattice = npx.Lattice((6, 7))
    temperature = np.linspace(3.0, 1.5, 12)
    pulse = np.linspace(0.4, -0.4, 12)
    common: dict[str, Any] = {"field": 0.1, "algorithm": algorithm, "seed": SEED}
    run = npx.simulate(
        lattice,
        temperature=temperature,
        field_schedule=pulse,
        sweeps=12,
        burn_in=9,
        **common,
    )
    sim = npx.Simulation(lattice, **common)
    burn_in = sim.run(
        9, temperature=temperature[0], field_schedule=np.full(9, pulse[0])
    )
    assert burn_in.energy.size == 9
    if algorithm == "wolff":
        # simulate() chooses the clusters per sweep again after the burn-in.
        sim.clusters_per_sweep = None
    rest = sim.run(12, temperature=temperature, field_schedule=pulse)
    assert run.first_sweep == rest.first_sweep == 9
    assert_runs_identical(run, rest)


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------


def _restore_from_file(sim: npx.Simulation, tmp_path: Path) -> npx.Simulation:
    path = tmp_path / "state.ckpt"
    sim.save(path)
    return npx.Simulation.load(path)


def _restore_from_pickle(sim: npx.Simulation, tmp_path: Path) -> npx.Simulation:
    restored = pickle.loads(pickle.dumps(sim))
    assert isinstance(restored, npx.Simulation)
    return restored


@pytest.mark.parametrize(
    "restore",
    [_restore_from_file, _restore_from_pickle],
    ids=["file", "pickle"],
)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_run_split_by_save_and_restore_equals_the_uninterrupted_run(
    algorithm: str,
    restore: Callable[[npx.Simulation, Path], npx.Simulation],
    tmp_path: Path,
) -> None:
    lattice = npx.Lattice((5, 6))
    options: dict[str, Any] = {
        "coupling": 0.8,
        "field": site_field(lattice.shape, scale=0.2) + 0.1,
        "algorithm": algorithm,
        "seed": SEED,
    }
    temperature = np.linspace(3.0, 1.8, 30)

    whole_sim = npx.Simulation(lattice, **options)
    whole = whole_sim.run(30, temperature=temperature, snapshots=[5, 29])

    first_sim = npx.Simulation(lattice, **options)
    first = first_sim.run(12, temperature=temperature[:12], snapshots=[5])
    second_sim = restore(first_sim, tmp_path)
    del first_sim  # the continuation must not share anything with it
    assert second_sim.sweeps_done == 12
    assert (second_sim.algorithm, second_sim.seed) == (algorithm, SEED)
    second = second_sim.run(18, temperature=temperature[12:], snapshots=[17])

    assert second.first_sweep == 12
    for name, joined in concatenate([first, second]).items():
        np.testing.assert_array_equal(getattr(whole, name), joined, err_msg=name)
    np.testing.assert_array_equal(whole.snapshots[0], first.snapshots[0])
    np.testing.assert_array_equal(whole.snapshots[1], second.snapshots[0])
    np.testing.assert_array_equal(whole_sim.spins, second_sim.spins)
    assert whole_sim.sweeps_done == second_sim.sweeps_done == 30


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------

THREAD_CASES = [
    pytest.param((512, 512), "periodic", False, id="512x512-periodic"),
    pytest.param((513, 511), "periodic", False, id="513x511-periodic"),
    pytest.param((512, 512), "open", True, id="512x512-open-site-field"),
    pytest.param((513, 511), "periodic", True, id="513x511-periodic-site-field"),
    pytest.param((65, 63, 33), "periodic", False, id="65x63x33-periodic"),
    pytest.param((21, 21, 21, 21), "periodic", True, id="21^4-periodic-site-field"),
]


def _thread_runs(
    shape: tuple[int, ...], boundary: str, per_site: bool, algorithm: str
) -> tuple[tuple[npx.Run, npx.Simulation], tuple[npx.Run, npx.Simulation]]:
    lattice = npx.Lattice(shape, boundary)
    field = site_field(shape, scale=0.3) if per_site else 0.05
    out = []
    for threads in (1, 2):
        sim = npx.Simulation(
            lattice, field=field, algorithm=algorithm, seed=SEED, threads=threads
        )
        # Near T_c, so that a good fraction of the spins change in every sweep.
        run = sim.run(6, temperature=2.4, snapshots=[2, 5])
        out.append((run, sim))
    return out[0], out[1]


@pytest.mark.parametrize("algorithm", LOCAL_ALGORITHMS)
@pytest.mark.parametrize(("shape", "boundary", "per_site"), THREAD_CASES)
def test_two_threads_give_bitwise_the_spins_and_records_of_one(
    shape: tuple[int, ...], boundary: str, per_site: bool, algorithm: str
) -> None:
    assert math.prod(shape) >= 2 * SITES_PER_THREAD
    (run1, sim1), (run2, sim2) = _thread_runs(shape, boundary, per_site, algorithm)
    assert run1.threads_used == 1
    assert run2.threads_used == 2, "the lattice is large enough for 2 threads"
    assert_runs_identical(run1, run2)
    np.testing.assert_array_equal(sim1.spins, sim2.spins)
    assert run1.acceptance > 0.05


@pytest.mark.parametrize("algorithm", ["wolff", "swendsen-wang"])
def test_thread_count_does_not_change_cluster_updates(algorithm: str) -> None:
    (run1, sim1), (run2, sim2) = _thread_runs((513, 511), "periodic", True, algorithm)
    assert_runs_identical(run1, run2)
    np.testing.assert_array_equal(sim1.spins, sim2.spins)


@pytest.mark.parametrize("algorithm", LOCAL_ALGORITHMS)
def test_two_threads_give_bitwise_one_thread_while_another_process_loads_a_core(
    algorithm: str, busy_core: object
) -> None:
    (run1, sim1), (run2, sim2) = _thread_runs((513, 511), "periodic", True, algorithm)
    assert run2.threads_used == 2
    assert_runs_identical(run1, run2)
    np.testing.assert_array_equal(sim1.spins, sim2.spins)


# ---------------------------------------------------------------------------
# Code paths of the local updates
# ---------------------------------------------------------------------------

# Row lengths around the kernels' chunks of 64 bytes, odd ones (the seam), rows whose
# first random word is not the first of a Philox block (side not a multiple of 8),
# open boundaries, short rows, and dimensions 1 to 4 (4 and 5 are portable only).
PATH_CASES = [
    pytest.param((64, 64), "periodic", id="64x64-periodic"),
    pytest.param((67, 130), "periodic", id="67x130-periodic"),
    pytest.param((9, 10), "open", id="9x10-open"),
    pytest.param((10, 9), "periodic", id="10x9-periodic"),
    pytest.param((2, 2), "periodic", id="2x2-periodic"),
    pytest.param((6, 126), "open", id="6x126-open"),
    pytest.param((8, 129), "periodic", id="8x129-periodic"),
    pytest.param((5, 6, 131), "periodic", id="5x6x131-periodic"),
    pytest.param((4, 6, 68), "open", id="4x6x68-open"),
    pytest.param((301,), "periodic", id="301-periodic"),
    pytest.param((200,), "open", id="200-open"),
    pytest.param((3, 4, 5, 6), "periodic", id="3x4x5x6-periodic"),
]


@pytest.fixture
def restore_local_update_path() -> Iterator[None]:
    before = simulation.local_update_path()
    yield
    simulation.select_local_update_path(before)


@pytest.mark.parametrize("algorithm", LOCAL_ALGORITHMS)
@pytest.mark.parametrize(("shape", "boundary"), PATH_CASES)
def test_every_local_update_path_gives_bitwise_the_same_run(
    shape: tuple[int, ...],
    boundary: str,
    algorithm: str,
    restore_local_update_path: None,
) -> None:
    """The AVX-512, AVX2 and portable sweeps give the same spins, records and flip
    counts, through temperatures where flips become certain or impossible (the
    thresholds 0 and 2^32) and fields of both signs."""
    temperature = np.array([0.05, 0.4, 2.27, 2.27, 9.0, 20.0, 1.2, 0.05, 3.0, 2.0])
    field = np.array([0.0, 0.0, 0.0, 0.3, -0.7, 0.0, 2.5, -0.2, 0.0, 0.1])
    results = []
    for path in simulation.local_update_paths():
        simulation.select_local_update_path(path)
        sim = npx.Simulation(
            npx.Lattice(shape, boundary), algorithm=algorithm, seed=SEED, threads=1
        )
        run = sim.run(len(temperature), temperature=temperature, field_schedule=field)
        results.append((path, run, sim.spins.copy()))
    _, run0, spins0 = results[0]
    for path, run, spins in results[1:]:
        assert_runs_identical(run0, run)
        np.testing.assert_array_equal(spins0, spins, err_msg=path)


@pytest.mark.parametrize("algorithm", LOCAL_ALGORITHMS)
def test_every_local_update_path_gives_bitwise_the_same_run_on_two_threads(
    algorithm: str, restore_local_update_path: None
) -> None:
    results = []
    for path in simulation.local_update_paths():
        simulation.select_local_update_path(path)
        results.append(_thread_runs((513, 510), "periodic", False, algorithm))
    for (run1, _), (run2, sim2) in results:
        assert run2.threads_used == 2
        assert_runs_identical(results[0][0][0], run1)
        assert_runs_identical(run1, run2)
        np.testing.assert_array_equal(results[0][0][1].spins, sim2.spins)


def test_local_update_paths_end_with_portable_and_bad_names_are_refused(
    restore_local_update_path: None,
) -> None:
    paths = simulation.local_update_paths()
    assert paths[-1] == "portable"
    assert simulation.local_update_path() == paths[0]
    assert npx.build_info()["local_update_paths"] == paths
    for name in ("avx1024", "", 3):
        with pytest.raises(ValueError, match="name must be one of"):
            simulation.select_local_update_path(name)  # type: ignore[arg-type]
    assert simulation.local_update_path() == paths[0]
    simulation.select_local_update_path("portable")
    assert simulation.local_update_path() == "portable"


# ---------------------------------------------------------------------------
# The high-temperature limit of a fixed-order Metropolis sweep
# ---------------------------------------------------------------------------


def test_metropolis_at_huge_temperature_warns_and_flips_every_spin_each_sweep() -> None:
    # Documented limit (MetropolisHighTemperatureWarning): with acceptance ~1 and a
    # fixed update order, every spin flips in every sweep, so from a cold start m
    # alternates between about +1 and -1 and <m^2> stays ~1 instead of 1/N.
    lattice = npx.Lattice.square(16)
    with pytest.warns(npx.MetropolisHighTemperatureWarning, match="heat-bath"):
        run = npx.simulate(
            lattice,
            temperature=1e6,
            sweeps=2000,
            algorithm="metropolis",
            seed=SEED,
            start="cold",
        )
    m = run.magnetisation
    assert np.all(np.sign(m[1:]) == -np.sign(m[:-1])), "m alternates in sign"
    assert float(np.mean(m * m)) > 0.9
    assert run.acceptance > 0.999


def test_heat_bath_at_huge_temperature_samples_independent_spins() -> None:
    # At T = 1e6 the spins are independent up to corrections of order zJ/T = 4e-6,
    # far below the statistical error: <m^2> = 1/N and <m^4> = (3N - 2)/N^3.
    lattice = npx.Lattice.square(16)
    n = lattice.n_sites
    run = npx.simulate(
        lattice,
        temperature=1e6,
        sweeps=20000,
        algorithm="heat-bath",
        seed=SEED,
        start="cold",
        burn_in=10,
    )
    summary = run.summary()
    assert_agrees(summary.magnetisation2, 1.0 / n, "<m^2>")
    assert_agrees(summary.magnetisation4, (3.0 * n - 2.0) / n**3, "<m^4>")
    assert_agrees(mean_estimate(run.energy), 0.0, "<e>")


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

SQUARE = npx.Lattice.square(4)


def _simulate(**kwargs: Any) -> Callable[[], object]:
    options: dict[str, Any] = {"temperature": 2.0, "sweeps": 2, "seed": SEED}
    options.update(kwargs)
    lattice = options.pop("lattice", SQUARE)
    return lambda: npx.simulate(lattice, **options)


def _run(**kwargs: Any) -> Callable[[], object]:
    options: dict[str, Any] = {"temperature": 2.0}
    options.update(kwargs)
    sweeps = options.pop("sweeps", 3)
    return lambda: npx.Simulation(SQUARE).run(sweeps, **options)


BAD_INPUT = [
    ("side L=1", lambda: npx.Lattice.square(1), ValueError, "side"),
    ("shape side 1", lambda: npx.Lattice((1, 4)), ValueError, "side"),
    ("chain n=1", lambda: npx.Lattice.chain(1), ValueError, r"^n must"),
    ("cubic L=0", lambda: npx.Lattice.cubic(0), ValueError, "side"),
    ("side 4.0", lambda: npx.Lattice.square(4.0), TypeError, "side"),  # type: ignore[arg-type]
    ("d=0", lambda: npx.Lattice.hypercubic(0, 4), ValueError, "dimension"),
    ("d=6", lambda: npx.Lattice.hypercubic(6, 2), ValueError, "dimension"),
    ("shape of 6 sides", lambda: npx.Lattice((2,) * 6), ValueError, "shape"),
    ("empty shape", lambda: npx.Lattice(()), ValueError, "shape"),
    ("boundary", lambda: npx.Lattice((4, 4), "twisted"), ValueError, "boundary"),  # type: ignore[arg-type]
    ("T=0", _simulate(temperature=0.0), ValueError, "temperature"),
    ("T<0", _simulate(temperature=-1.0), ValueError, "temperature"),
    ("T=nan", _simulate(temperature=math.nan), ValueError, "temperature"),
    ("T=inf", _simulate(temperature=math.inf), ValueError, "temperature"),
    ("T schedule with 0", _run(temperature=[2.0, 0.0, 1.0]), ValueError, "temperature"),
    (
        "T schedule with nan",
        _run(temperature=[2.0, 1.0, math.nan]),
        ValueError,
        "temperature",
    ),
    ("T schedule length", _run(temperature=np.ones(4)), ValueError, "temperature"),
    ("T string", _simulate(temperature="hot"), TypeError, "temperature"),
    ("field nan", _simulate(field=math.nan), ValueError, "field"),
    ("field inf", _simulate(field=-math.inf), ValueError, "field"),
    (
        "site field with inf",
        _simulate(field=np.full((4, 4), math.inf)),
        ValueError,
        "field",
    ),
    ("site field shape", _simulate(field=np.zeros((4, 5))), ValueError, "field"),
    ("site field flat", _simulate(field=np.zeros(16)), ValueError, "field"),
    ("coupling nan", _simulate(coupling=math.nan), ValueError, "coupling"),
    ("sweeps -1", _simulate(sweeps=-1), ValueError, "sweeps"),
    ("sweeps 1.5", _simulate(sweeps=1.5), TypeError, "sweeps"),
    ("run sweeps -1", _run(sweeps=-1), ValueError, "sweeps"),
    ("burn_in -1", _simulate(burn_in=-1), ValueError, "burn_in"),
    ("algorithm", _simulate(algorithm="glauber"), ValueError, "algorithm"),
    (
        "field_schedule length",
        _simulate(field_schedule=np.zeros(3)),
        ValueError,
        "field_schedule",
    ),
    (
        "run field_schedule length",
        _run(field_schedule=np.zeros(2)),
        ValueError,
        "field_schedule",
    ),
    (
        "field_schedule nan",
        _run(field_schedule=[0.0, math.nan, 0.0]),
        ValueError,
        "field_schedule",
    ),
    ("seed -1", _simulate(seed=-1), ValueError, "seed"),
    ("seed 2**64", _simulate(seed=2**64), ValueError, "seed"),
    ("seed 1.0", _simulate(seed=1.0), TypeError, "seed"),
    ("start string", _simulate(start="warm"), ValueError, "start"),
    ("threads 0", _simulate(threads=0), ValueError, "threads"),
    ("threads -2", _simulate(threads=-2), ValueError, "threads"),
    ("snapshots out of range", _simulate(snapshots=[2]), ValueError, "snapshots"),
    ("lattice not a Lattice", _simulate(lattice=(4, 4)), TypeError, "lattice"),
    (
        "wolff on the complete graph",
        _simulate(lattice=npx.Lattice.complete(8), algorithm="wolff"),
        ValueError,
        "wolff",
    ),
    (
        "swendsen-wang on the complete graph",
        _simulate(lattice=npx.Lattice.complete(8), algorithm="swendsen-wang"),
        ValueError,
        "swendsen-wang",
    ),
]

BAD_START = [
    ("start with 0", _simulate(start=np.zeros((4, 4))), ValueError, "start"),
    ("start with 2", _simulate(start=np.full((4, 4), 2)), ValueError, "start"),
    ("start shape", _simulate(start=np.ones((4, 5))), ValueError, "start"),
]


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [pytest.param(c, e, n, id=i) for i, c, e, n in BAD_INPUT + BAD_START],
)
def test_bad_input_raises_an_error_naming_the_parameter(
    call: Callable[[], object], error: type[Exception], name: str
) -> None:
    with pytest.raises(error, match=name):
        call()


@pytest.mark.parametrize(
    "start",
    [np.zeros((4, 4)), np.full((4, 4), 2), np.ones((4, 5)), np.ones(16)],
    ids=["zeros", "twos", "4x5", "flat"],
)
def test_bad_start_array_is_rejected(start: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"spins|start"):
        npx.Simulation(SQUARE, start=start)


def test_largest_seed_is_accepted_and_seeds_give_different_runs() -> None:
    runs = [
        npx.simulate(SQUARE, temperature=2.5, sweeps=20, seed=seed)
        for seed in (0, 2**64 - 1)
    ]
    assert runs[1].seed == 2**64 - 1
    assert not np.array_equal(runs[0].energy, runs[1].energy)


# ---------------------------------------------------------------------------
# A very large lattice
# ---------------------------------------------------------------------------


@pytest.mark.huge
def test_16384_squared_lattice_runs_a_metropolis_sweep() -> None:
    # 2^28 = 268 M spins (int8: 268 MB); all cores.
    side = 16384
    lattice = npx.Lattice.square(side)
    sim = npx.Simulation(lattice, algorithm="metropolis", seed=SEED, start="cold")
    run = sim.run(1, temperature=2.0)
    spins = sim.spins
    m = float(spins.sum(dtype=np.int64)) / lattice.n_sites
    assert run.magnetisation[0] == pytest.approx(m, abs=1e-12)
    # One sweep at T = 2 from all +1: only a few per cent of the spins flip (a flip
    # in a fully ordered neighbourhood is accepted with e^{-8/T} = 1.8 %).
    assert 0.9 < m < 1.0
    assert -2.0 <= run.energy[0] < -1.7
    assert run.energy[0] == pytest.approx(sim.measure()["energy"], abs=1e-12)
    assert run.attempts == lattice.n_sites


@pytest.mark.slow
def test_first_wolff_cluster_of_an_all_up_4096_lattice_spans_it_without_recursion() -> (
    None
):
    # From all spins up at T = 1.5 every bond is satisfied, so the first cluster
    # is the giant component of bond percolation at p = 1 - exp(-2/T) = 0.736:
    # 1 - (1-p)^4 (isolated sites) - ~1e-3 (small clusters) = 0.994 of 16.8 M sites,
    # whose sampling spread is ~1e-4 (in equilibrium the FK giant cluster would
    # hold m0 = 98.7 %). Growing it must neither recurse nor overflow anything.
    lattice = npx.Lattice.square(4096)
    sim = npx.Simulation(
        lattice, algorithm="wolff", start="cold", seed=SEED, clusters_per_sweep=1
    )
    run = sim.run(1, temperature=1.5)
    covered = run.flips / lattice.n_sites
    assert run.clusters == 1
    assert 0.99 < covered < 0.997
    assert run.magnetisation[0] == pytest.approx(1.0 - 2.0 * covered, abs=1e-12)


def test_summary_needs_three_sweeps_as_the_command_line_does() -> None:
    # With two sweeps every leave-one-out jackknife sample is a single sweep, and
    # the errors of variance-based quantities are 0 by construction.
    run = npx.Simulation(npx.Lattice.square(4), seed=SEED).run(2, temperature=2.0)
    with pytest.raises(ValueError, match=r"at least 3 recorded sweeps"):
        run.summary()
    run3 = npx.Simulation(npx.Lattice.square(4), seed=SEED).run(3, temperature=2.0)
    assert np.isfinite(run3.summary().energy.value)
    with pytest.raises(ValueError, match=r"discard must leave at least 3"):
        run3.summary(discard=1)


def test_sweeps_beyond_the_engine_counters_are_refused() -> None:
    lattice = npx.Lattice.square(4)
    for record in (True, False):
        with pytest.raises(ValueError, match=r"sweeps must be .*2\*\*62"):
            npx.Simulation(lattice).run(10**20, temperature=2.0, record=record)
    with pytest.raises(ValueError, match=r"sweeps must be .*2\*\*62"):
        npx.simulate(lattice, temperature=2.0, sweeps=10**20)
    with pytest.raises(ValueError, match=r"burn_in must be .*2\*\*62"):
        npx.simulate(lattice, temperature=2.0, sweeps=10, burn_in=2**63)


def test_runs_and_lattices_larger_than_memory_are_refused_up_front(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from neurophase import _validate

    monkeypatch.setattr(_validate, "physical_memory", lambda: 2**30)
    lattice = npx.Lattice.square(4)
    # 10**8 recorded sweeps need 40 bytes each (schedules and records): 4 GB.
    with pytest.raises(ValueError, match=r"sweeps = 100000000 \(40 bytes per sweep"):
        npx.simulate(lattice, temperature=2.0, sweeps=10**8)
    with pytest.raises(ValueError, match=r"sweeps = 100000000 \(16 bytes per sweep"):
        npx.Simulation(lattice).run(10**8, temperature=2.0, record=False)
    with pytest.raises(ValueError, match=r"lattice of shape \(65536, 65536\)"):
        npx.Simulation(npx.Lattice((2**16, 2**16)))


def test_save_to_an_unwritable_place_names_the_path_not_a_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    sim = npx.Simulation(npx.Lattice.square(4))
    if Path("/proc").is_dir():
        with pytest.raises(OSError, match=r"cannot write /proc/x\.pkl") as info:
            sim.save("/proc/x.pkl")
        assert ".tmp" not in str(info.value)

    # A failure of the rename itself (full disk, say) also names the target.
    def fail(src: str, dst: object) -> None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), src)

    monkeypatch.setattr(os, "replace", fail)
    target = tmp_path / "state.pkl"
    with pytest.raises(OSError, match=re.escape(f"cannot write {target}")) as info:
        sim.save(target)
    assert ".tmp" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_loading_garbage_says_not_a_checkpoint_or_corrupted(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pkl"
    good = tmp_path / "good.pkl"
    npx.Simulation(npx.Lattice.square(4)).save(good)
    bad.write_bytes(good.read_bytes()[:40] + b"\x00" * 10 + good.read_bytes()[50:])
    with pytest.raises(
        ValueError, match=re.escape(f"not a neurophase checkpoint or corrupted: {bad}")
    ):
        npx.Simulation.load(bad)
