"""`neurophase reproduce`: the quick study as a smoke test of sane numbers, its four
output files, resume after an interruption or a kill, bad input, and the HTML
report rendered in a real headless browser.

The quick study runs once per module (about 20-40 s on 2 cores); the other tests
work on copies of its folder.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from neurophase import reproduce as rp
from neurophase.cli import main

CHROMIUM = Path("/usr/bin/chromium")
TC_SQUARE = 2.0 / math.log(1.0 + math.sqrt(2.0))


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neurophase", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The quick study, run once through the command line."""
    out = tmp_path_factory.mktemp("study") / "quick"
    start = time.perf_counter()
    proc = _cli("reproduce", "--quick", "--out", str(out), "--quiet")
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    yield {"out": out, "results": results, "wall": wall, "proc": proc}


def _checks(
    results: dict[str, Any], section: str | None = None
) -> list[dict[str, Any]]:
    return [
        c
        for name, s in results["sections"].items()
        if section is None or name == section
        for c in s["checks"]
    ]


def _copy(study: dict[str, Any], tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(study["out"], dst)
    return dst


def _walk(obj: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, value, parent) of every leaf."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{path}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, obj, None


# ---------------------------------------------------------------------------
# The numbers
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_quick_study_runs_within_its_budget(study: dict[str, Any]) -> None:
    # The budget is 1 minute on 2 cores; the bound here only catches a gross
    # regression on a loaded machine (timings belong in benchmarks).
    assert study["wall"] < 180.0
    assert study["results"]["provenance"]["parameters"]["quick"] is True
    assert set(study["results"]["sections"]) == set(rp.SECTIONS)


@pytest.mark.slow
def test_quick_critical_temperatures_are_sane(study: dict[str, Any]) -> None:
    tc = study["results"]["sections"]["scaling"]["extra"]["critical_temperature"]
    square, complete = tc["square"], tc["complete"]
    assert abs(square["value"] / TC_SQUARE - 1.0) < 0.02, square
    assert (
        square["error"] > 0
        and abs(square["value"] - TC_SQUARE) < 4 * square["error"] + 0.002 * TC_SQUARE
    )
    assert abs(complete["value"] - 1.0) < 0.05, complete


@pytest.mark.slow
def test_quick_learning_checks_agree_with_theory(study: dict[str, Any]) -> None:
    checks = _checks(study["results"], "perceptron")
    hebb = [c for c in checks if c["quantity"].startswith("Hebb")]
    capacity = [c for c in checks if c["quantity"].startswith("capacity")]
    assert hebb and all(c["status"] == "pass" for c in hebb), hebb
    assert capacity and all(c["status"] == "pass" for c in capacity), capacity


@pytest.mark.slow
def test_quick_lattice_and_zoo_checks_pass(study: dict[str, Any]) -> None:
    checks = _checks(study["results"], "lattice")
    failing = [c for c in checks if c["status"] not in ("pass", "info")]
    assert not failing, failing
    zoo = [c for c in checks if c["quantity"].startswith("activation zoo")]
    assert len(zoo) >= 9


@pytest.mark.slow
def test_quick_quench_matches_glauber_and_fits(study: dict[str, Any]) -> None:
    checks = {c["quantity"]: c for c in _checks(study["results"], "quench")}
    glauber = [c for q, c in checks.items() if "Glauber" in q and "largest" in q]
    assert glauber and glauber[0]["status"] == "pass", glauber
    slope = checks["complete graph: ReLU slope a (sweeps per unit s)"]
    assert slope["status"] == "pass", slope
    onset = checks["complete graph: onset exponent x of int m dt"]
    assert onset["measured"] is not None and 1.0 < onset["measured"] < 2.0


@pytest.mark.slow
def test_every_number_is_finite_or_null_with_a_reason(study: dict[str, Any]) -> None:
    text = (study["out"] / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    results = json.loads(text)
    for check in _checks(results):
        for key in ("measured", "error", "reference", "z", "relative_deviation"):
            if check[key] is None:
                assert check["null_reasons"], (key, check)
        for key in ("measured", "error", "reference", "z"):
            v = check[key]
            assert v is None or math.isfinite(v)
    for name, section in results["sections"].items():
        for table in section["tables"]:
            if any(c is None for row in table["rows"] for c in row):
                assert table["null_means"], (name, table["title"])
    for path, value, _ in _walk(results):
        if isinstance(value, float):
            assert math.isfinite(value), path


# ---------------------------------------------------------------------------
# The files
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_all_four_outputs_are_present_and_consistent(study: dict[str, Any]) -> None:
    out = study["out"]
    for name in rp.REPORT_FILES:
        assert (out / name).is_file(), name
    results = study["results"]
    md = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    for check in _checks(results):
        # Every number of the check tables is results.json's, formatted once.
        assert check["text"] == rp.format_value(check["measured"], check["error"])
        assert check["text"] in md, check["quantity"]
        assert html.escape(check["text"]) in page, check["quantity"]
    manifest = json.loads((out / rp.MANIFEST).read_text())
    assert manifest["complete"] is True
    with h5py.File(out / "results.h5", "r") as f:
        assert set(f) >= {"lattice", "quench", "scaling", "perceptron"}
        binder = f["scaling/square/table/binder"][()]
        assert binder.shape == (3,) and np.all((binder > 0) & (binder < 2 / 3))
        assert f["quench/complete/rate"].shape == (11,)
        assert f.attrs["format"] == rp.FORMAT
    # Figures: embedded once each as valid PNG; no external resources, no scripts.
    images = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    n_fig = sum(len(s["figures"]) for s in results["sections"].values())
    assert len(images) == n_fig >= 10
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<script" not in page.lower()
    assert not re.search(r"(src|href)=['\"]?(https?:|//|file:)", page)
    for fig in re.findall(r"\]\((figures/[^)]+)\)", md):
        assert (out / fig).is_file()


@pytest.mark.slow
def test_bench_tables_are_in_the_report(study: dict[str, Any]) -> None:
    perf = study["results"]["sections"]["performance"]
    assert perf["extra"]["bench"]["quick"] is True
    titles = [t["title"] for t in perf["tables"]]
    assert titles and all(t in (study["out"] / "report.md").read_text() for t in titles)


# ---------------------------------------------------------------------------
# Resume
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_rerun_skips_finished_parts_with_identical_numbers(
    study: dict[str, Any], tmp_path: Path
) -> None:
    out = _copy(study, tmp_path)
    events: list[tuple[str, int, int, str]] = []
    res = rp.reproduce(out, quick=True, progress=lambda *e: events.append(e))
    assert res.ran == () and res.skipped == rp.SECTIONS
    assert {e[0] for e in events if e[3] == "skipped"} == set(rp.SECTIONS)
    again = json.loads((out / "results.json").read_text())
    assert again["sections"] == study["results"]["sections"]


@pytest.mark.slow
def test_interrupted_run_writes_no_report_and_resumes(
    study: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _copy(study, tmp_path)
    shutil.rmtree(out / "parts" / "perceptron")
    original = rp._SECTION_RUNNERS["perceptron"]

    def interrupted(ctx: Any) -> Any:
        ctx.tick("perceptron", 0, 1, "about to be interrupted")
        raise KeyboardInterrupt

    monkeypatch.setitem(rp._SECTION_RUNNERS, "perceptron", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rp.reproduce(out, quick=True)
    for name in rp.REPORT_FILES:
        assert not (out / name).exists(), name
    assert not list((out / "parts").glob(".*"))
    assert {p.name for p in (out / "parts").iterdir()} == set(rp.SECTIONS) - {
        "perceptron"
    }
    assert json.loads((out / rp.MANIFEST).read_text())["complete"] is False

    monkeypatch.setitem(rp._SECTION_RUNNERS, "perceptron", original)
    res = rp.reproduce(out, quick=True)
    assert res.ran == ("perceptron",)
    assert (
        res.results["sections"]["perceptron"]["checks"]
        == (study["results"]["sections"]["perceptron"]["checks"])
    )
    assert (out / "report.html").is_file()


@pytest.mark.slow
def test_killed_command_leaves_finished_parts_and_resumes(
    study: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "neurophase",
            "reproduce",
            "--quick",
            "--quiet",
            "--out",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "parts" / "lattice").exists():
            assert proc.poll() is None, "the study ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        # The whole process group: the command and its worker processes.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "report.html").exists()
    assert not (out / "results.json").exists()
    assert (out / "parts" / "lattice" / "section.json").is_file()

    # One worker now: the numbers must not depend on it.
    rerun = _cli("reproduce", "--quick", "--out", str(out), "--workers", "1")
    assert rerun.returncode == 0, rerun.stderr
    assert "lattice: finished by an earlier run, skipped" in rerun.stderr
    assert not list((out / "parts").glob(".*"))
    results = json.loads((out / "results.json").read_text())
    # Seeds alone fix the numbers, whatever the workers (timings excepted).
    for name in ("lattice", "quench", "scaling", "perceptron"):
        assert (
            results["sections"][name]["checks"]
            == (study["results"]["sections"][name]["checks"])
        ), name


@pytest.mark.slow
def test_scaling_section_on_a_dask_cluster_gives_the_same_numbers(
    study: dict[str, Any], tmp_path: Path
) -> None:
    import logging

    import distributed

    out = _copy(study, tmp_path)
    shutil.rmtree(out / "parts" / "scaling")
    shutil.rmtree(out / "sweeps")
    with warnings.catch_warnings():
        # Dask's one warning on a busy machine (see test_sweeps.py).
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
    try:
        res = rp.reproduce(out, quick=True, scheduler=cluster.scheduler_address)
    finally:
        cluster.close()
    assert res.ran == ("scaling",)
    assert res.results["provenance"]["scheduler"] == cluster.scheduler_address
    assert (
        res.results["sections"]["scaling"]["checks"]
        == (study["results"]["sections"]["scaling"]["checks"])
    )


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


def _error_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("neurophase: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_foreign_folder_is_refused_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "thesis.tex").write_text("mine")
    msg = _error_of(["reproduce", "--quick", "--out", str(tmp_path)], capsys)
    assert "--force" in msg and "thesis.tex" in msg
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_force_writes_beside_foreign_files(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("mine")
    params = rp.study_parameters(quick=True)
    with pytest.raises(rp.StudyFolderError):
        rp._prepare_folder(tmp_path, params, force=False)
    manifest, fresh = rp._prepare_folder(tmp_path, params, force=True)
    assert fresh and manifest["parameters"] == params
    assert (tmp_path / "thesis.tex").read_text() == "mine"
    assert (tmp_path / rp.MANIFEST).is_file()


@pytest.mark.slow
def test_other_options_are_refused(
    study: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _copy(study, tmp_path)
    before = (out / "results.json").read_bytes()
    msg = _error_of(["reproduce", "--out", str(out)], capsys)
    assert "--quick" in msg and "--force" in msg
    assert (out / "results.json").read_bytes() == before


def test_unwritable_paths_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    msg = _error_of(["reproduce", "--quick", "--out", str(blocker / "study")], capsys)
    assert "not a folder" in msg
    msg = _error_of(["reproduce", "--quick", "--out", str(blocker)], capsys)
    assert "not a folder" in msg
    msg = _error_of(
        ["reproduce", "--quick", "--out", str(tmp_path / "x" / "y")], capsys
    )
    assert "does not exist" in msg
    _error_of(["reproduce", "--quick", "--out", "/proc/neurophase-study"], capsys)
    assert not (tmp_path / "x").exists()


def test_unreachable_scheduler_fails_fast_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "study"
    start = time.monotonic()
    msg = _error_of(
        [
            "reproduce",
            "--quick",
            "--out",
            str(out),
            "--scheduler",
            f"tcp://127.0.0.1:{port}",
            "--timeout",
            "3",
        ],
        capsys,
    )
    assert time.monotonic() - start < 30
    assert "scheduler" in msg
    assert not out.exists()


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_workers_below_one_are_refused(
    workers: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study"
    msg = _error_of(
        ["reproduce", "--quick", "--out", str(out), "--workers", workers], capsys
    )
    assert "--workers" in msg
    assert not out.exists()


def test_format_value() -> None:
    assert rp.format_value(2.27134, 0.00112) == "2.2713 ± 0.0011"
    assert rp.format_value(1.5, None) == "1.5"
    assert rp.format_value(None) == "n/a"
    assert rp.format_value(123.4, 5.6) == "123.4 ± 5.6"
    assert rp.format_value(1234.0, 56.0) == "1234 ± 56"


# ---------------------------------------------------------------------------
# The HTML report in a real browser
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_report_renders_in_headless_chromium(
    study: dict[str, Any], tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.skip(
            f"no browser: {CHROMIUM} is missing (install Debian's chromium; .ci/run "
            "does)"
        )
    from PIL import Image

    page = study["out"] / "report.html"
    shot = tmp_path / "report.png"
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    flags = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
        "--window-size=1200,2400",
    ]
    proc = subprocess.run(
        [*flags, f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    problems = [
        line
        for line in proc.stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "net::ERR_" in line
    ]
    assert not problems, problems
    assert shot.is_file() and shot.stat().st_size > 20_000
    with Image.open(shot) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (1200, 2400)
        colours = rgb.getcolors(maxcolors=1 << 20)
        assert colours is None or len(colours) > 50, "the screenshot is blank"
        # Figures are drawn: a good share of the page is not background white.
        pixels = np.asarray(rgb)
        assert (pixels.sum(axis=2) < 600).mean() > 0.02

    # Every image decodes in the browser: a copy of the page with a probe script
    # appended (the report itself has none) marks the body with the number of
    # images and of those not complete or without a natural width.
    probe = tmp_path / "probe.html"
    probe.write_text(
        page.read_text().replace(
            "</body>",
            "<script>window.addEventListener('load', () => {"
            "const imgs = [...document.images];"
            "document.body.dataset.images = imgs.length;"
            "document.body.dataset.broken = imgs.filter("
            "i => !i.complete || i.naturalWidth === 0).length;});</script></body>",
        )
    )
    dom = subprocess.run(
        [*flags, "--dump-dom", "--virtual-time-budget=10000", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-3000:]
    n_fig = sum(len(s["figures"]) for s in study["results"]["sections"].values())
    assert f'data-images="{n_fig}"' in dom.stdout, dom.stdout[-500:]
    assert 'data-broken="0"' in dom.stdout
    assert "6. Provenance" in dom.stdout
    problems = [
        line
        for line in dom.stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "net::ERR_" in line
    ]
    assert not problems, problems
