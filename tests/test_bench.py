"""``neurophase.bench`` and ``neurophase bench``: structure, JSON, CLI and errors.

Timings are never asserted (a shared machine makes them move by factors of
two); only that every rate is a finite positive number with its units.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from neurophase import bench
from neurophase.cli import main

# Tiny sizes so that a whole run takes about a second.
TINY = bench._Settings(
    sides=(128,),
    wolff_sides=(64,),
    elements=1 << 14,
    target_s=0.002,
    repeats=2,
    brentq_sample=4,
)

RATE_COLUMNS = {
    "Lattice engines": ("attempts/ns", "CPU/wall"),
    "Wolff": ("flipped spins/ns", "ns per flipped spin"),
    "Activation kernels": ("elements/ns", "NumPy elements/ns", "x NumPy", "CPU/wall"),
    "Mean-field": (
        "elements/ns",
        "CPU/wall",
        "np.tanh elements/ns",
        "brentq elements/ns",
    ),
}


@pytest.fixture(scope="module")
def tiny_report() -> bench.BenchReport:
    return bench._run(TINY, quick=True, threads=[1, 2], progress=False)


def test_report_has_every_table_with_consistent_rows(
    tiny_report: bench.BenchReport,
) -> None:
    titles = [t.title for t in tiny_report.tables]
    for start in (*RATE_COLUMNS, "Machine and build"):
        assert any(t.startswith(start) for t in titles), (start, titles)
    for table in tiny_report.tables:
        assert table.rows, table.title
        assert table.notes, table.title
        for row in table.rows:
            assert len(row) == len(table.columns), (table.title, row)
            assert all(isinstance(c, (str, int, float)) for c in row), row


def test_every_throughput_is_finite_and_positive(
    tiny_report: bench.BenchReport,
) -> None:
    for start, columns in RATE_COLUMNS.items():
        table = tiny_report.table(start)
        for name in columns:
            k = table.columns.index(name)
            for row in table.rows:
                value = row[k]
                assert isinstance(value, float), (start, name, row)
                assert math.isfinite(value) and value > 0.0, (start, name, row)


def test_bench_table_prints_as_markdown() -> None:
    table = bench.BenchTable("Kernels", ["kernel", "ns"], [["tanh", 1.5]], ["note"])
    assert str(table) == table.to_markdown().rstrip("\n")
    assert "| tanh | 1.5 |" in str(table)


def test_engine_rows_cover_every_engine_size_and_thread_count(
    tiny_report: bench.BenchReport,
) -> None:
    table = tiny_report.table("Lattice engines")
    seen = {(r[0], r[1], r[2]) for r in table.rows}
    threads = sorted({min(t, bench._usable_cores()) for t in (1, 2)})
    assert seen == {
        (e, L, t) for e in bench._ENGINES for L in TINY.sides for t in threads
    }
    assert "x 1 thread" in table.columns
    used = table.columns.index("threads used")
    assert all(1 <= r[used] <= r[2] for r in table.rows)


def test_machine_info_holds_the_build_and_versions(
    tiny_report: bench.BenchReport,
) -> None:
    m = tiny_report.machine
    for key in ("version", "openmp", "usable_cores", "cpu_model", "python", "numpy"):
        assert key in m, key
    assert tiny_report.quick is True
    assert tiny_report.wall_time_s > 0.0


def test_json_round_trip(tiny_report: bench.BenchReport, tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    tiny_report.save_json(path)
    data = json.loads(path.read_text())
    assert data == json.loads(json.dumps(tiny_report.to_dict()))
    again = bench.BenchReport.from_dict(data)
    assert again.to_dict() == data
    assert again.to_markdown() == tiny_report.to_markdown()
    assert [p.name for p in tmp_path.iterdir()] == ["bench.json"]  # no temp file left


def test_a_non_finite_cell_still_gives_strict_json() -> None:
    table = bench.BenchTable("t", ["a", "b"], [[1, math.nan]], ["note"])
    assert json.loads(json.dumps(table.to_dict(), allow_nan=False))["rows"] == [
        [1, "nan"]
    ]
    assert "| 1 | n/a |" in table.to_markdown()


def test_markdown_has_a_table_per_bench_table(tiny_report: bench.BenchReport) -> None:
    text = tiny_report.to_markdown()
    for table in tiny_report.tables:
        assert f"**{table.title}**" in text
        assert "| " + " | ".join(table.columns) + " |" in text


def test_threads_above_the_usable_cores_are_lowered_with_a_note() -> None:
    cores = bench._usable_cores()
    counts, notes = bench.check_threads([1, cores + 1])
    assert counts == sorted({1, cores})
    assert notes and f"lowered to {cores}" in notes[0]
    assert bench.check_threads(None)[0] == sorted({1, min(2, cores)})


@pytest.mark.parametrize(
    "threads", [[0], [-1], [65], [1.5], ["2"], [True], []], ids=repr
)
def test_run_rejects_bad_thread_counts(threads: list[object]) -> None:
    with pytest.raises(ValueError, match=r"threads must be .*1\.\.64"):
        bench.run(quick=True, threads=threads)  # type: ignore[arg-type]


def test_interleaved_rates_are_work_per_nanosecond() -> None:
    calls: list[str] = []

    def workload(name: str, seconds: float) -> bench.Workload:
        def work(n: int) -> tuple[float, float]:
            calls.append(name)
            return seconds * n, 2e9 * n  # 2e9 units per (seconds * n)

        return work

    out = bench.interleaved_rates(
        {"a": workload("a", 1.0), "b": workload("b", 4.0)},
        target_s=1.0,
        repeats=3,
        counts={"a": 1, "b": 1},
    )
    assert calls == ["a", "b"] * 3  # round-robin
    assert out["a"].median == pytest.approx(2.0)
    assert out["b"].median == pytest.approx(0.5)
    assert bench.per_ns(1e9, 0.0) != bench.per_ns(1e9, 0.0)  # NaN


def test_cli_prints_tables_and_writes_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench, "_QUICK", TINY)
    path = tmp_path / "out.json"
    assert main(["bench", "--quick", "--threads", "1,2", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    # rich wraps long headers to the terminal width; names in cells stay whole.
    assert "Lattice engines" in out and "metropolis-msc" in out
    assert "Activation kernels" in out and "softplus" in out
    data = json.loads(path.read_text())
    assert data["quick"] is True
    assert {t["title"] for t in data["tables"]} >= {
        "Lattice engines: spin-flip attempts per ns",
        "Machine and build",
    }


@pytest.mark.parametrize(
    "value", ["0", "-1", "65", "1.5", "a", "1,,2", ""], ids=lambda v: repr(v)
)
def test_cli_rejects_bad_threads(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--quick", "--threads", value]) == 2
    err = capsys.readouterr().err
    assert "--threads" in err and "1..64" in err
    assert "Traceback" not in err


def test_cli_rejects_json_in_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "out.json"
    assert main(["bench", "--quick", "--json", str(target)]) == 2
    err = capsys.readouterr().err
    assert "--json" in err and "does not exist" in err
    assert "Traceback" not in err
    assert not target.parent.exists()


@pytest.mark.slow
def test_public_quick_run_has_the_documented_sizes() -> None:
    report = bench.run(quick=True)
    sides = {r[1] for r in report.table("Lattice engines").rows}
    assert sides == {256, 1024}
    json.dumps(report.to_dict(), allow_nan=False)
