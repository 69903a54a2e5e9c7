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
    # Ctrl-C keeps every finished sweep in --out and --checkpoint; --resume alone,
    # as the message says, then finishes the job into the same --out file with
    # records bitwise equal to an uninterrupted run.
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
    assert f"--resume {ckpt}" in stdout
    assert 0 < np.load(part)["magnetisation"].size < 400000
    resumed = _cli("simulate", "--resume", str(ckpt), "--quiet")
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
        (["simulate", "--sweeps", "1"], "--sweeps must be >= 3"),
        (["simulate", "--sweeps", "2"], "--sweeps must be >= 3"),
        (["simulate", "--sweeps", str(10**20)], "2**62"),
        (["simulate", "--sweeps", str(10**16)], "physical memory"),
        (["simulate", "--shape", "3x5", "--lattice", "complete"], "--lattice complete"),
        (["simulate", "--shape", "3x5", "--lattice", "cubic"], "needs 3"),
        (["simulate", "--shape", "3x5", "--side", "4"], "--side and --shape"),
        (["quench", "--out", "/nonexistent/q.h5"], "--out: cannot write"),
        (["quench", "--figure", "q.xyz"], ".xyz is not a format"),
        (
            ["perceptron", "teacher-student", "--figure", "/nonexistent/a.png"],
            "--figure",
        ),
        (["perceptron", "capacity", "--figure", "/nonexistent/a.png"], "--figure"),
        (["perceptron", "data", "--figure", "/nonexistent/a.png"], "--figure"),
        (["perceptron", "train", "--figure", "/nonexistent/a.png"], "--figure"),
        (["scaling", "run", "--save", "/nonexistent/s.npz"], "--save"),
        (["scaling", "run", "--figures", "/proc/figs"], "--figures"),
        (["scaling", "run", "--omega", "-1"], "--omega must be finite and > 0"),
        (["scaling", "curie-weiss", "--omega", "nan"], "--omega must be finite"),
        (["sweep", "x.toml", "--out", "w.h5", "--workers", "0"], "--workers"),
        (
            ["sweep", "x.toml", "--out", "w.h5", "--threads-per-task", "-1"],
            "--threads-per-task",
        ),
        (["sweep", "x.toml", "--out", "w.h5", "--scheduler", "garbage"], "--scheduler"),
    ],
    ids=[
        "side",
        "temperature",
        "sweeps",
        "shape",
        "dimension",
        "resume",
        "out",
        "sweeps-1",
        "sweeps-2",
        "sweeps-cap",
        "sweeps-memory",
        "shape-complete",
        "shape-cubic",
        "shape-side",
        "quench-out",
        "quench-figure-format",
        "teacher-student-figure",
        "capacity-figure",
        "data-figure",
        "train-figure",
        "scaling-save",
        "scaling-figures",
        "omega-negative",
        "omega-nan",
        "sweep-workers",
        "sweep-threads",
        "sweep-scheduler",
    ],
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
    # A damaged pickle: pickle's internals (a memo index) are not reported.
    bad.write_bytes(b"\x80\x05h\x69." + bytes(range(40)))
    assert main(["simulate", "--resume", str(bad)]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"neurophase: error: not a neurophase checkpoint or corrupted: {bad}\n"
    )


def test_info_reports_openmp_and_simd_paths(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"version", "openmp", "max_threads", "simd_paths"} <= info.keys()
    assert "default" in info["simd_paths"]


_SMALL_JOB = ["simulate", "--side", "8", "--sweeps", "20", "--burn-in", "0"]


def test_an_existing_checkpoint_is_kept_unless_resume_or_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "job.ckpt"
    assert main([*_SMALL_JOB, "--checkpoint", str(ckpt), "--quiet", "--json"]) == 0
    before = ckpt.read_bytes()
    capsys.readouterr()
    assert main([*_SMALL_JOB, "--checkpoint", str(ckpt), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurophase: error:")
    assert "--resume" in err and "--force" in err
    assert ckpt.read_bytes() == before
    args = [*_SMALL_JOB, "--seed", "2", "--checkpoint", str(ckpt), "--quiet", "--json"]
    assert main([*args, "--force"]) == 0
    assert ckpt.read_bytes() != before


def test_out_and_checkpoint_may_not_name_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.npz"
    other = tmp_path / "sub" / ".." / "x.npz"
    (tmp_path / "sub").mkdir()
    assert main([*_SMALL_JOB, "--out", str(path), "--checkpoint", str(other)]) == 2
    assert "same file" in capsys.readouterr().err
    assert not path.exists()


def test_unwritable_outputs_name_the_option_and_path_not_a_temporary_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc")
    for args in (
        [*_SMALL_JOB, "--out", "/proc/x.npz"],
        [*_SMALL_JOB, "--checkpoint", "/proc/x.ckpt"],
        ["scaling", "run", "--save", "/proc/x.npz"],
        ["quench", "--out", "/proc/q.h5"],
        ["perceptron", "train", "--figure", "/proc/x.png"],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err
        option, path = args[-2:]
        assert err.startswith(f"neurophase: error: {option}: cannot write {path}:")
        assert ".tmp" not in err and err.count("\n") == 1


def test_ctrl_c_in_quench_ends_with_one_line_and_status_130() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "neurophase", "quench", "--side", "8192", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3.0)  # past the imports, into the first trajectories
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert stderr == "neurophase: interrupted; 0 of 1 rates finished; nothing saved\n"


@pytest.mark.parametrize(
    ("args", "target"),
    [
        (["perceptron", "capacity", "--quiet"], "capacity_scan"),
        (["perceptron", "teacher-student"], "teacher_student"),
        (["perceptron", "data"], "temperature_scan"),
        (["perceptron", "train"], "train"),
    ],
    ids=["capacity", "teacher-student", "data", "train"],
)
def test_ctrl_c_in_any_perceptron_job_ends_with_one_line_and_status_130(
    args: list[str],
    target: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from neurophase import perceptron

    def interrupted(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(perceptron, target, interrupted)
    assert main(args) == 130
    assert capsys.readouterr().err == "neurophase: interrupted; nothing saved\n"


def test_ctrl_c_in_curie_weiss_ends_with_one_line_and_status_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from neurophase import scaling

    def interrupted(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(scaling.ScalingData, "curie_weiss", interrupted)
    assert main(["scaling", "curie-weiss"]) == 130
    assert capsys.readouterr().err == "neurophase: interrupted; nothing saved\n"


def test_ctrl_c_in_scaling_run_saves_the_finished_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from neurophase import scaling

    def interrupted_after_two_sizes(*args: object, **kwargs: object) -> None:
        runs = [
            npx.simulate(
                npx.Lattice.square(side),
                temperature=2.2,
                sweeps=200,
                burn_in=10,
                seed=SEED,
                record_kmin=True,
            )
            for side in (4, 6)
        ]
        raise scaling.StudyInterrupted(runs, 6)

    monkeypatch.setattr(scaling, "run_study", interrupted_after_two_sizes)
    save = tmp_path / "runs.npz"
    args = ["scaling", "run", "--sizes", "4", "6", "8", "--temperatures", "2.2", "2.3"]
    args += ["--sweeps", "200", "--burn-in", "10", "--blocks", "5", "--quiet"]
    assert main([*args, "--save", str(save)]) == 130
    err = capsys.readouterr().err
    assert err == (
        f"neurophase: interrupted; 2 of 6 runs finished; their records are saved in "
        f"{save}\n"
    )
    assert scaling.ScalingData.load(save).sizes == (4, 6)


def test_a_bad_scheduler_leaves_no_traceback_and_no_parts_folder(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "ok.toml"
    spec.write_text('[grid]\ngeometry = "square"\nL = 4\ntemperature = 2.0\n')
    out = tmp_path / "w.h5"
    result = _cli("sweep", str(spec), "--out", str(out), "--scheduler", "garbage")
    assert result.returncode == 2
    assert result.stderr.startswith("neurophase: error: --scheduler:")
    assert result.stderr.count("\n") == 1, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.toml"]


def test_every_option_has_a_help_text_with_its_default() -> None:
    import argparse

    from neurophase.cli import build_parser

    def options(
        parser: argparse.ArgumentParser, path: str
    ) -> list[tuple[str, argparse.Action]]:
        found = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if name != "bench":  # documented in its own way, tested there
                        found += options(sub, f"{path} {name}")
            elif action.option_strings and not isinstance(
                action, (argparse._HelpAction, argparse._VersionAction)
            ):
                found.append((f"{path} {action.option_strings[0]}", action))
        return found

    for where, action in options(build_parser(), "neurophase"):
        assert action.help, f"{where} has no help"
        if not isinstance(action, argparse._StoreTrueAction):
            assert "(" in action.help, f"{where} shows no default: {action.help!r}"


def test_train_prints_json_and_says_when_the_target_was_reached(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["perceptron", "train", "--task", "xor", "--rule", "gradient"]
    args += ["--hidden", "4", "--epochs", "300"]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["epochs_run"] == 300
    assert result["converged"] is (result["epochs_to_target"] is not None)
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "target accuracy 0.95 reached" in table
    assert "first epoch at accuracy >= 0.95" in table
    assert "no stop at the target" in table
