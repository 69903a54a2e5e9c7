"""The multi-spin-coded Metropolis engine (``algorithm="metropolis-msc"``).

Checks: the bit-serial acceptance rule equals a direct comparison of full 32-bit
uniforms; packing to one bit per spin is lossless; the sampled distribution
agrees with Kaufman's finite lattice, Onsager's infinite lattice and, within
errors, with the byte-per-spin Metropolis engine (2D with and without a field,
3D); one and two threads, and the portable, AVX2 and AVX-512 kernels, give
bitwise the same run; a checkpoint continues bitwise. Statistical checks follow
the tolerance policy of ``conftest.py``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import neurophase as npx
from conftest import SEED, assert_agrees, assert_summary_agrees, observables_from_spins
from neurophase import _core, exact
from neurophase.statistics import Estimate

MSC = "metropolis-msc"
BURN_IN = 2000


# ---------------------------------------------------------------------------
# The acceptance rule
# ---------------------------------------------------------------------------


def _random_thresholds(rng: np.random.Generator, n_groups: int) -> np.ndarray:
    """64 per-lane thresholds in [0, 2^32]: "never", "always" and n_groups values."""
    values = np.concatenate(
        ([0, 2**32, 2**31], rng.integers(1, 2**32, size=n_groups))
    ).astype(np.int64)
    return values[rng.integers(0, values.size, size=64)]


@pytest.mark.parametrize("n_eager", [0, 1, 2, 16])
def test_bit_serial_acceptance_equals_a_direct_32_bit_comparison(n_eager: int) -> None:
    """Lane b flips iff its full 32-bit uniform (bit 31-k from plane k) < t_b.

    The engine draws bit planes lazily, from the most significant bit, until every
    lane is decided; the decision must equal the direct comparison for any number
    of planes drawn up front, including thresholds with long runs of equal bits
    (2^31) and the exact limits 0 and 2^32.
    """
    rng = np.random.default_rng(SEED)
    planes = []
    for trial in range(3000):
        t = _random_thresholds(rng, n_groups=int(rng.integers(0, 11)))
        n_words = 1 + int(rng.integers(0, 10**6))
        word = int(rng.integers(0, n_words))
        serial, direct, used, uniforms = _core.msc_decide_check(
            t, SEED + trial, trial, trial % 2, n_words, word, n_eager
        )
        assert serial == direct, f"trial {trial}: lanes {serial ^ direct:#x} differ"
        assert all(0 <= u < 2**32 for u in uniforms)
        planes.append(used)
    # Most words are decided after a few planes: that is what makes it cheap.
    assert 4.0 < float(np.mean(planes)) < 12.0


def test_lane_uniforms_are_uniform_and_independent_32_bit_numbers() -> None:
    """The 32-bit numbers of the 64 lanes of a word, over many words, are uniform.

    Mean (2^32 - 1)/2 and variance (2^64 - 1)/12 within 4 standard errors, and the
    correlation between neighbouring lanes consistent with 0.
    """
    n_words = 2000
    t = np.zeros(64, np.int64)
    u = (
        np.array(
            [
                _core.msc_decide_check(t, SEED, 3, 1, n_words, w, 0)[3]
                for w in range(n_words)
            ],
            dtype=np.float64,
        )
        / 2.0**32
    )
    n = u.size
    assert_agrees(
        Estimate(u.mean(), math.sqrt(1 / 12 / n)), 0.5, "mean of lane uniforms"
    )
    assert_agrees(
        Estimate(u.var(), math.sqrt((1 / 80 - 1 / 144) / n)), 1 / 12, "variance"
    )
    c = np.mean((u[:, :-1] - 0.5) * (u[:, 1:] - 0.5)) * 12
    assert_agrees(Estimate(c, 1 / math.sqrt(u[:, 1:].size)), 0.0, "lane correlation")


def _reference_sweep(
    spins: np.ndarray, seed: int, sweep: int, temperature: float, field: float
) -> np.ndarray:
    """One sweep of checkerboard Metropolis in NumPy with full 32-bit uniforms.

    Site (z, ..., x) of a lattice with H = L0 / 64 takes lane z // H of word
    (row, x), row = (z mod H, y), stored even-x words first; its 32-bit uniform
    in colour phase c has bit 31 - k equal to that lane's bit of plane k, and
    planes 2q, 2q + 1 are words (0, 1) and (2, 3) of Philox block q * n_words + w
    of the stream (seed, purpose 6, substream c, sweep).
    """
    s = spins.astype(np.int64).copy()
    shape = s.shape
    H = shape[0] // 64
    Lx = shape[-1]
    Ly = shape[1] if s.ndim == 3 else 1
    n_words = H * Ly * Lx
    coords = np.indices(shape)
    z, x = coords[0], coords[-1]
    y = coords[1] if s.ndim == 3 else 0
    row = (z % H) * Ly + y
    word = row * Lx + (x & 1) * (Lx // 2) + (x >> 1)
    lane = (z // H).astype(np.uint64)
    colour_of = coords.sum(axis=0) % 2
    z_nb = 2 * s.ndim
    beta = 1.0 / temperature
    for colour in (0, 1):
        blocks = (
            np.concatenate(
                [
                    _core.philox_stream(seed, 6, colour, sweep, q * n_words, n_words)
                    for q in range(16)
                ]
            )
            .reshape(16, n_words, 4)
            .astype(np.uint64)
        )
        r = np.zeros(shape, dtype=np.uint64)
        for k in range(32):
            pair = blocks[k // 2]
            plane = pair[:, 2 * (k % 2)] | (pair[:, 2 * (k % 2) + 1] << np.uint64(32))
            bit = (plane[word] >> lane) & np.uint64(1)
            r |= bit << np.uint64(31 - k)
        nn = sum(np.roll(s, shift, axis) for axis in range(s.ndim) for shift in (1, -1))
        threshold = np.zeros(shape, dtype=np.uint64)
        for spin in (-1, 1):
            for total in range(-z_nb, z_nb + 1, 2):
                delta_e = 2.0 * spin * (total + field)
                p = (
                    1.0
                    if delta_e < 0
                    else 0.5
                    if delta_e == 0
                    else math.exp(-beta * delta_e)
                )
                t = 2**32 if p >= 1.0 else math.floor(p * 2.0**32)
                threshold[(s == spin) & (nn == total)] = t
        flip = (colour_of == colour) & (r < threshold)
        s[flip] = -s[flip]
    return s.astype(np.int8)


@pytest.mark.parametrize(
    "shape",
    [(64, 6), (128, 4), (64, 4, 6), (128, 2, 2)],
    ids=lambda s: "x".join(map(str, s)),
)
def test_sweeps_equal_a_numpy_metropolis_with_direct_32_bit_uniforms(
    shape: tuple[int, ...],
) -> None:
    """The packed engine (vector kernel, lazy planes) equals a direct reference.

    Every spin of several sweeps, with a field and a temperature schedule, equals
    checkerboard Metropolis written in NumPy, where each site compares its own
    full 32-bit uniform with floor(p 2^32).
    """
    lattice = npx.Lattice(shape)
    T = [2.2, 3.5, 1.7, 4.6]
    for field in (0.0, 0.3):
        sim = npx.Simulation(lattice, algorithm=MSC, seed=SEED, field=field)
        for t, temperature in enumerate(T):
            expected = _reference_sweep(sim.spins, SEED, t, temperature, field)
            sim.run(1, temperature=temperature)
            assert np.array_equal(sim.spins, expected), f"sweep {t}, h = {field}"


# ---------------------------------------------------------------------------
# Packing, hot start, measurement
# ---------------------------------------------------------------------------

PACK_SHAPES = [(64, 6), (128, 2), (192, 4), (64, 4, 6), (128, 2, 2)]


@pytest.mark.parametrize("shape", PACK_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_int8_view_round_trips_and_measures_like_numpy(shape: tuple[int, ...]) -> None:
    """Spins set as int8 come back unchanged; m and e equal a NumPy bond sum."""
    lattice = npx.Lattice(shape)
    rng = np.random.default_rng(SEED)
    spins = np.where(rng.random(shape) < 0.3, 1, -1).astype(np.int8)
    sim = npx.Simulation(lattice, algorithm=MSC, field=0.3, coupling=0.7, start=spins)
    assert np.array_equal(sim.spins, spins)
    assert sim.spins.dtype == np.int8 and sim.spins.shape == shape
    sim.spins = -spins
    assert np.array_equal(sim.spins, -spins)
    m, e, m_s = observables_from_spins(-spins, lattice, 0.7, 0.3)
    got = sim.measure()
    assert got["magnetisation"] == pytest.approx(m, abs=1e-15)
    assert got["energy"] == pytest.approx(e, abs=1e-12)
    assert got["staggered_magnetisation"] == pytest.approx(m_s, abs=1e-15)


@pytest.mark.parametrize("shape", PACK_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_hot_start_equals_the_byte_engines_hot_start(shape: tuple[int, ...]) -> None:
    """Both engines draw the hot start from the same (seed, site) stream."""
    lattice = npx.Lattice(shape)
    packed = npx.Simulation(lattice, algorithm=MSC, seed=SEED)
    byte = npx.Simulation(lattice, algorithm="metropolis", seed=SEED)
    assert np.array_equal(packed.spins, byte.spins)
    cold = npx.Simulation(lattice, algorithm=MSC, start="cold")
    assert np.all(cold.spins == 1)


def test_a_32768_square_lattice_takes_one_bit_per_spin() -> None:
    """L = 32768 in 2D is 2^30 spins in 128 MiB of words."""
    assert _core.msc_n_words([32768, 32768]) * 8 == 128 * 2**20


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lattice",
    [
        npx.Lattice((64,)),
        npx.Lattice((32, 32)),
        npx.Lattice((96, 8)),
        npx.Lattice((64, 7)),
        npx.Lattice((64, 8), boundary="open"),
        npx.Lattice((64, 4, 5)),
        npx.Lattice((64, 4, 4, 4)),
        npx.Lattice.complete(64),
    ],
    ids=lambda lat: lat.describe(),
)
def test_unsupported_lattices_are_a_value_error(lattice: npx.Lattice) -> None:
    with pytest.raises(ValueError, match="multiple of 64"):
        npx.Simulation(lattice, algorithm=MSC)


def test_a_per_site_field_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="uniform field only"):
        npx.Simulation(npx.Lattice((64, 4)), algorithm=MSC, field=np.ones((64, 4)))


# ---------------------------------------------------------------------------
# Determinism: threads, checkpoints, schedules, records
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [(512, 256), (128, 32, 32), (256, 2050), (128, 6, 1030)],
    ids=["2d", "3d", "2d-rows-cut-in-units", "3d-rows-cut-in-units"],
)
def test_two_threads_give_bitwise_the_spins_and_records_of_one(
    shape: tuple[int, ...],
) -> None:
    """Random planes are keyed by (seed, sweep, colour, word, plane), not thread."""
    lattice = npx.Lattice(shape)
    T = np.linspace(2.0, 5.0, 20)
    runs, spins = [], []
    for threads in (1, 2):
        sim = npx.Simulation(lattice, algorithm=MSC, seed=SEED, threads=threads)
        runs.append(
            sim.run(
                20,
                temperature=T,
                field_schedule=np.full(20, 0.1),
                snapshots=[0, 7, 19],
            )
        )
        spins.append(sim.spins)
    assert runs[0].threads_used == 1
    assert runs[1].threads_used == 2, "the lattice is large enough for 2 threads"
    assert np.array_equal(spins[0], spins[1])
    assert np.array_equal(runs[0].magnetisation, runs[1].magnetisation)
    assert np.array_equal(runs[0].energy, runs[1].energy)
    assert np.array_equal(
        runs[0].staggered_magnetisation, runs[1].staggered_magnetisation
    )
    assert np.array_equal(runs[0].snapshots, runs[1].snapshots)
    assert np.array_equal(runs[1].snapshots[-1], spins[1])


# Runs in a fresh process, since the kernel is chosen once per process: a 2D and a 3D
# lattice whose half-rows end in words past the last whole vector (scalar tails), a
# field so that the thresholds depend on the spin, and 1 and 2 threads.
_KERNEL_RUN = """
import hashlib, json
import numpy as np
import neurophase as npx
from neurophase import _core

digests = []
for shape in [(192, 200), (128, 6, 1030)]:
    for threads in (1, 2):
        sim = npx.Simulation(
            npx.Lattice(shape), algorithm="metropolis-msc", seed=SEED, threads=threads
        )
        run = sim.run(
            12,
            temperature=np.linspace(1.5, 5.0, 12),
            field_schedule=np.full(12, 0.1),
        )
        h = hashlib.sha256(sim.spins.tobytes())
        for series in (run.energy, run.magnetisation):
            h.update(np.ascontiguousarray(series).tobytes())
        digests.append(h.hexdigest())
print(json.dumps({"kernel": _core.msc_kernel(), "digests": digests}))
"""


def _run_with_kernel(kernel: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NEUROPHASE_MSC_KERNEL=kernel)
    return subprocess.run(
        [sys.executable, "-c", _KERNEL_RUN.replace("SEED", str(SEED))],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_portable_avx2_and_avx512_kernels_give_bitwise_the_same_spins() -> None:
    """The kernels differ in words per instruction, not in the random planes used.

    Each kernel the CPU runs (a wider one than the CPU has falls back to the
    widest it has) gives the same spins and records for 1 and 2 threads.
    """
    results = {}
    for kernel in ("portable", "avx2", "avx512"):
        proc = _run_with_kernel(kernel)
        assert proc.returncode == 0, proc.stderr
        results[kernel] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results["portable"]["kernel"] == "portable"
    digests = results["portable"]["digests"]
    assert len(set(digests[0:2])) == 1 and len(set(digests[2:4])) == 1
    for kernel in ("avx2", "avx512"):
        assert results[kernel]["digests"] == digests, (
            f"{results[kernel]['kernel']} differs from portable"
        )
    ran = {r["kernel"] for r in results.values()}
    if _core.msc_kernel() == "avx512":
        assert ran == {"portable", "avx2", "avx512"}


def test_an_unknown_msc_kernel_name_is_a_value_error() -> None:
    """NEUROPHASE_MSC_KERNEL accepts portable, avx2 or avx512 only."""
    code = (
        "import numpy as np, neurophase as npx\n"
        "sim = npx.Simulation(npx.Lattice((64, 64)), algorithm='metropolis-msc')\n"
        "try:\n"
        "    sim.run(1, temperature=2.0)\n"
        "except ValueError as e:\n"
        "    print('ValueError:', e)\n"
    )
    env = dict(os.environ, NEUROPHASE_MSC_KERNEL="avx1024")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ValueError: NEUROPHASE_MSC_KERNEL must be portable, avx2 or avx512" in (
        proc.stdout
    )


def test_checkpoint_continues_bitwise_like_an_uninterrupted_run(tmp_path) -> None:
    """save/load keeps the packed spins, seed and sweep counter exactly."""
    lattice = npx.Lattice((128, 64))
    whole = npx.Simulation(lattice, algorithm=MSC, seed=SEED, field=0.05)
    ref = whole.run(60, temperature=2.4)
    part = npx.Simulation(lattice, algorithm=MSC, seed=SEED, field=0.05)
    first = part.run(25, temperature=2.4)
    part.save(tmp_path / "state.pkl")
    state = part.state()
    assert state["spins"] is None and state["spin_words"].dtype == np.uint64
    assert state["spin_words"].nbytes * 8 == lattice.n_sites  # one bit per spin
    resumed = npx.Simulation.load(tmp_path / "state.pkl")
    second = resumed.run(35, temperature=2.4)
    assert np.array_equal(resumed.spins, whole.spins)
    assert np.array_equal(np.concatenate([first.energy, second.energy]), ref.energy)
    assert np.array_equal(
        np.concatenate([first.magnetisation, second.magnetisation]), ref.magnetisation
    )


def test_records_and_snapshots_match_the_spins_under_a_schedule() -> None:
    """Per-sweep m and e (with the sweep's own field) equal NumPy on the snapshots."""
    lattice = npx.Lattice((64, 4, 6))
    sweeps = 12
    T = np.linspace(6.0, 2.0, sweeps)
    h = np.linspace(-0.5, 0.5, sweeps)
    sim = npx.Simulation(lattice, algorithm=MSC, seed=SEED, field=0.1, coupling=0.8)
    run = sim.run(sweeps, temperature=T, field_schedule=h, snapshots=range(sweeps))
    assert np.array_equal(run.temperature, T)
    for t in range(sweeps):
        m, e, m_s = observables_from_spins(run.snapshots[t], lattice, 0.8, 0.1 + h[t])
        assert run.magnetisation[t] == pytest.approx(m, abs=1e-15)
        assert run.energy[t] == pytest.approx(e, abs=1e-12)
        assert run.staggered_magnetisation is not None
        assert run.staggered_magnetisation[t] == pytest.approx(m_s, abs=1e-15)
    assert np.array_equal(run.snapshots[-1], sim.spins)
    assert 0 < run.flips < run.attempts == sweeps * lattice.n_sites


# ---------------------------------------------------------------------------
# The sampled distribution: exact results
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_energy_and_specific_heat_equal_kaufman_for_64x64_near_tc() -> None:
    """Kaufman's exact finite-lattice E and C at T = 2.3 (just above T_c)."""
    side, temperature = 64, 2.3
    run = npx.simulate(
        npx.Lattice.square(side),
        temperature=temperature,
        sweeps=400_000,
        burn_in=BURN_IN,
        algorithm=MSC,
        seed=SEED,
    )
    reference = exact.kaufman(side, temperature)
    assert_summary_agrees(
        run.summary(),
        {"energy": reference.energy, "specific_heat": reference.specific_heat},
        f"{MSC} on {side}x{side} at T = {temperature}",
    )


@pytest.mark.parametrize("temperature", [2.0, 3.0])
def test_energy_and_magnetisation_equal_onsager(temperature: float) -> None:
    """Onsager's energy (and Yang's |m| below T_c) on a 128^2 lattice.

    Away from T_c the correlation length is a few spacings, so finite-size terms
    (~exp(-L/xi)) are far below the statistical errors.
    """
    run = npx.simulate(
        npx.Lattice.square(128),
        temperature=temperature,
        sweeps=8000,
        burn_in=BURN_IN,
        algorithm=MSC,
        seed=SEED,
        start="cold",
    )
    expected = {"energy": float(exact.onsager_energy(temperature))}
    if temperature < exact.critical_temperature_square():
        expected["abs_magnetisation"] = float(exact.onsager_magnetisation(temperature))
    assert_summary_agrees(run.summary(), expected, f"{MSC} at T = {temperature}")


# ---------------------------------------------------------------------------
# The sampled distribution: against the byte engine
# ---------------------------------------------------------------------------


def _difference(a: Estimate, b: Estimate) -> Estimate:
    return Estimate(a.value - b.value, math.hypot(a.error, b.error))


def _compare_with_byte_engine(
    shape: tuple[int, ...], temperature: float, field: float, sweeps: int
) -> None:
    summaries = {}
    for algorithm in ("metropolis", MSC):
        run = npx.simulate(
            npx.Lattice(shape),
            temperature=temperature,
            field=field,
            sweeps=sweeps,
            burn_in=BURN_IN,
            algorithm=algorithm,
            seed=SEED,
        )
        summaries[algorithm] = run.summary()
    for name in ("energy", "abs_magnetisation", "binder"):
        assert_agrees(
            _difference(
                getattr(summaries[MSC], name), getattr(summaries["metropolis"], name)
            ),
            0.0,
            f"{name}: {MSC} - metropolis on {shape} at T = {temperature}, h = {field}",
        )


@pytest.mark.slow
@pytest.mark.parametrize("field", [0.0, 0.02], ids=["h0", "h0.02"])
def test_energy_abs_m_and_binder_agree_with_the_byte_engine_near_tc(
    field: float,
) -> None:
    """Same distribution as "metropolis" on 64^2 at T = 2.3, with and without h."""
    _compare_with_byte_engine((64, 64), 2.3, field, sweeps=100_000)


@pytest.mark.slow
def test_3d_energy_abs_m_and_binder_agree_with_the_byte_engine_near_tc() -> None:
    """Same distribution as "metropolis" on 64 x 8 x 8 near the 3D T_c ~ 4.51."""
    _compare_with_byte_engine((64, 8, 8), 4.6, 0.0, sweeps=50_000)


def test_two_threads_give_bitwise_one_thread_while_another_process_loads_a_core(
    busy_core: object,
) -> None:
    """Team and single-thread batches alternate under load; spins do not change."""
    lattice = npx.Lattice((512, 512))
    spins = []
    for threads in (1, 2):
        sim = npx.Simulation(lattice, algorithm=MSC, seed=SEED, threads=threads)
        run = sim.run(400, temperature=2.3)
        spins.append(sim.spins)
    assert run.threads_used == 2
    assert np.array_equal(spins[0], spins[1])


def test_a_32768_square_lattice_runs_in_128_mib() -> None:
    """2^30 spins: hot start, two sweeps at T = 1.5 with records, 1 bit per spin.

    The hot start has energy 0 within 4 standard errors (sqrt(2 / N) per spin);
    two sweeps of a quench order neighbouring spins, e < -1.
    """
    lattice = npx.Lattice.square(32768)
    sim = npx.Simulation(lattice, algorithm=MSC, seed=SEED)
    assert sim._words.nbytes == 128 * 2**20
    assert abs(sim.measure()["energy"]) < 4 * math.sqrt(2 / lattice.n_sites)
    run = sim.run(2, temperature=1.5)
    assert run.energy[-1] < -1.0
    assert run.energy[-1] == sim.measure()["energy"]
