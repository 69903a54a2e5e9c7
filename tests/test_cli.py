"""The command line: summary output, saved records, interrupt and resume, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import neurophase as npx
from neurophase.cli import main

SEED = 12345


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neurophase", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_simulate_json_summary_matches_kaufman_energy_at_t_2() -> None:
    # 32 x 32 Wolff at T = 2: the energy per spin is Kaufman's exact value for
    # the finite periodic lattice, within the run's error bar.
    result = _cli(
        "simulate",
        "--side",
        "32",
        "--temperature",
        "2.0",
        "--sweeps",
        "3000",
        "--burn-in",
        "300",
        "--seed",
        str(SEED),
        "--json",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    energy = data["summary"]["energy"]
    assert data["sweeps"] == 3000
    exact = npx.exact.kaufman(32, 2.0).energy
    assert abs(energy["value"] - exact) <= 4 * energy["error"]


def test_records_saved_by_the_cli_equal_a_python_run(tmp_path: Path) -> None:
    out = tmp_path / "records.npz"
    rc = main(
        [
            "simulate",
            "--side",
            "12",
            "--algorithm",
            "heat-bath",
            "--temperature",
            "2.5",
            "--sweeps",
            "400",
            "--burn-in",
            "50",
            "--seed",
            str(SEED),
            "--out",
            str(out),
            "--quiet",
            "--json",
        ]
    )
    assert rc == 0
    run = npx.simulate(
        npx.Lattice.square(12),
        temperature=2.5,
        sweeps=400,
        burn_in=50,
        algorithm="heat-bath",
        seed=SEED,
    )
    saved = np.load(out)
    np.testing.assert_array_equal(saved["magnetisation"], run.magnetisation)
    np.testing.assert_array_equal(saved["energy"], run.energy)


@pytest.mark.slow
def test_interrupted_cli_run_resumes_to_the_uninterrupted_records(
    tmp_path: Path,
) -> None:
    # Ctrl-C keeps every finished sweep in --out and --checkpoint; --resume then
    # finishes the job with records bitwise equal to an uninterrupted run.
    common = [
        "simulate",
        "--side",
        "48",
        "--algorithm",
        "metropolis",
        "--sweeps",
        "60000",
        "--burn-in",
        "100",
        "--seed",
        str(SEED),
        "--quiet",
    ]
    full = tmp_path / "full.npz"
    assert _cli(*common, "--out", str(full)).returncode == 0

    part = tmp_path / "part.npz"
    ckpt = tmp_path / "job.ckpt"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "neurophase",
            *common,
            "--out",
            str(part),
            "--checkpoint",
            str(ckpt),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if part.exists() and np.load(part)["magnetisation"].size > 0:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, "the run ended before the interrupt"
    assert "interrupted" in stdout
    assert 0 < np.load(part)["magnetisation"].size < 400000
    resumed = _cli("simulate", "--resume", str(ckpt), "--out", str(part), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    a, b = np.load(part), np.load(full)
    np.testing.assert_array_equal(a["magnetisation"], b["magnetisation"])
    np.testing.assert_array_equal(a["energy"], b["energy"])


def test_ctrl_c_in_python_keeps_a_consistent_state_that_continues_bitwise() -> None:
    # SIGINT during Simulation.run raises RunInterrupted with the finished sweeps;
    # spins and sweep counter match them, so running the rest equals one run.
    lattice = npx.Lattice.square(128)
    sweeps = 40000  # over a second at any speed seen here: the signal comes mid-run
    reference = npx.Simulation(lattice, algorithm="metropolis", seed=SEED)
    full = reference.run(sweeps, temperature=2.4)

    sim = npx.Simulation(lattice, algorithm="metropolis", seed=SEED)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(npx.RunInterrupted) as info:
            sim.run(sweeps, temperature=2.4)
    finally:
        timer.cancel()
    first = info.value.run
    assert sim.sweeps_done == first.sweeps
    assert 0 < first.sweeps < sweeps
    rest = sim.run(sweeps - first.sweeps, temperature=2.4)
    np.testing.assert_array_equal(
        np.concatenate([first.energy, rest.energy]), full.energy
    )
    np.testing.assert_array_equal(sim.spins, reference.spins)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--side", "1"], "side"),
        (["simulate", "--temperature", "-1"], "temperature"),
        (["simulate", "--sweeps", "0"], "sweeps"),
        (["simulate", "--shape", "3x"], "shape"),
        (["simulate", "--lattice", "hypercubic", "--side", "4"], "dimension"),
        (["simulate", "--resume", "/nonexistent/job.ckpt"], "nonexistent"),
        (["simulate", "--out", "/nonexistent/dir/x.npz"], "--out"),
    ],
    ids=["side", "temperature", "sweeps", "shape", "dimension", "resume", "out"],
)
def test_bad_cli_input_exits_with_status_2_and_names_the_option(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurophase: error:")
    assert message in err


def test_resume_refuses_options_that_would_change_the_system(tmp_path: Path) -> None:
    ckpt = tmp_path / "job.ckpt"
    assert (
        main(
            [
                "simulate",
                "--side",
                "8",
                "--sweeps",
                "20",
                "--burn-in",
                "0",
                "--checkpoint",
                str(ckpt),
                "--quiet",
                "--json",
            ]
        )
        == 0
    )
    assert main(["simulate", "--resume", str(ckpt), "--temperature", "1.0"]) == 2


def test_corrupt_checkpoint_is_refused_with_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["simulate", "--resume", str(bad)]) == 2
    assert "not a neurophase checkpoint" in capsys.readouterr().err


def test_info_reports_openmp_and_simd_paths(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"version", "openmp", "max_threads", "simd_paths"} <= info.keys()
    assert "default" in info["simd_paths"]
