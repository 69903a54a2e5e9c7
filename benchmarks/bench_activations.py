"""Throughput of the neurophase activation kernels beside NumPy and SciPy.

Usage::

    python benchmarks/bench_activations.py [--quick] [--out benchmarks/results]

What is measured, as elements per nanosecond (higher is better):

* ``logistic``, ``tanh``, ``softplus`` and the mean-field activation ``meanfield``
  of :mod:`neurophase.activations`, float32 and float64, on 10^3 ... 10^8
  elements (``--quick``: 10^3, 10^5, 10^6), with 1 and 2 threads;
* the cost of one call on small arrays (8 and 1000 elements), beside NumPy's
  equivalents (``h > 0`` for ``step``);
* every kernel twice: each call allocating its result (as NumPy's expressions
  do; at 10^8 elements the page faults of the fresh array weigh in) and each
  call writing into one preallocated array (``out=``, NumPy's in-place forms);
* in the same run NumPy's equivalents on the same arrays: ``np.tanh(x)``,
  ``1/(1 + np.exp(-x))`` and ``np.logaddexp(0, x)``; the mean-field activation is
  set beside ``np.tanh`` (the cost of one tanh per element) and beside a
  per-element SciPy root finder (``scipy.optimize.brentq`` on a sample of
  elements, cost per element).

Inputs: ``x ~ 4 N(0, 1)``; the mean-field activation at ``T = 0.8``, ``zJ = 1``
(below ``T_c``: three roots for small ``|h|``, the hard case).

Method: every kernel is first checked against its NumPy (or SciPy) counterpart.
Timing uses :mod:`neurophase.bench` (the code behind ``neurophase bench``): each
implementation is calibrated (calls per repeat doubled until a run lasts a
quarter of the target, then scaled to the target time, 0.2 s; 0.05 s with
``--quick``); then repeats run round-robin
over the implementations of one size and dtype (5 repeats up to 10^6 elements,
3 above), so drifts of the machine's load hit all alike. Ratios are formed from
medians (best repeat in brackets); > 1 means neurophase is faster.

Results: a table on stdout, the same text in ``<out>/activations.txt`` and all
raw repeats with the machine description in ``<out>/activations.json``
(``activations_quick.*`` for ``--quick``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize

import neurophase as npx
from neurophase import activations as act
from neurophase import bench

HERE = Path(__file__).resolve().parent
T_MF, ZJ_MF = 0.8, 1.0
KERNELS = ("logistic", "tanh", "softplus", "meanfield")
NUMPY_NAME = {
    "logistic": "1/(1+np.exp(-x))",
    "tanh": "np.tanh",
    "softplus": "np.logaddexp(0,x)",
    "meanfield": "np.tanh",
}


def ours(
    kernel: str, threads: int, out: np.ndarray | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """Our kernel on ``threads`` threads; with ``out``, writing into that array."""
    if kernel == "meanfield":
        return lambda x: act.meanfield(x, T_MF, ZJ_MF, out=out, threads=threads)
    f = getattr(act, kernel)
    return lambda x: f(x, out=out, threads=threads)


def numpy_equivalent(
    kernel: str, out: np.ndarray | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """NumPy's expression of ``kernel``; with ``out``, its in-place form without
    temporaries (for logistic: negative, exp, add 1, reciprocal, all into ``out``)."""
    if out is None:
        if kernel == "logistic":
            return lambda x: 1 / (1 + np.exp(-x))
        if kernel == "softplus":
            return lambda x: np.logaddexp(0, x)
        return np.tanh

    def logistic(x: np.ndarray) -> np.ndarray:
        np.negative(x, out=out)
        np.exp(out, out=out)
        np.add(out, 1, out=out)
        return np.reciprocal(out, out=out)

    if kernel == "logistic":
        return logistic
    if kernel == "softplus":
        return lambda x: np.logaddexp(0, x, out=out)
    return lambda x: np.tanh(x, out=out)


#: Small calls, where the fixed cost of a call decides (the perceptron rule calls
#: ``step`` once per mistake): kernel, dtype, n, NumPy equivalent.
SMALL_CALLS = (
    ("step", np.float64, 8, "h > 0"),
    ("logistic", np.float64, 8, "1/(1+np.exp(-x))"),
    ("tanh", np.float32, 8, "np.tanh"),
    ("logistic", np.float32, 1000, "1/(1+np.exp(-x))"),
    ("tanh", np.float32, 1000, "np.tanh"),
)


def small_call_costs(
    x_full: np.ndarray, target: float, repeats: int
) -> list[dict[str, Any]]:
    """Microseconds per call on small arrays beside NumPy, default threads."""
    out = []
    for kernel, dtype, n, np_name in SMALL_CALLS:
        x = x_full[:n].astype(dtype)
        f = getattr(act, kernel)
        ref = (lambda v: v > 0) if kernel == "step" else numpy_equivalent(kernel)
        with np.errstate(over="ignore"):
            res = measure({"ours": f, "numpy": ref}, x, target, repeats)
        us = {k: n / v["median"] / 1e3 for k, v in res.items()}
        out.append(
            {
                "kernel": kernel,
                "dtype": np.dtype(dtype).name,
                "n": n,
                "numpy_op": np_name,
                "us_per_call": us,
                **res,
            }
        )
    return out


def brentq_meanfield(h: float) -> float:
    """The default mean-field root by SciPy, the way one would write it per element."""
    s = math.copysign(1.0, h)
    a = abs(h)
    return s * optimize.brentq(
        lambda m: m - math.tanh((ZJ_MF * m + a) / T_MF), 1e-300, 1.0, xtol=1e-15
    )


def check(x64: np.ndarray) -> dict[str, float]:
    """Largest relative deviation of each kernel from its reference."""
    x = x64[:100_000]
    with np.errstate(over="ignore"):
        refs = {
            "logistic": 1 / (1 + np.exp(-x)),
            "tanh": np.tanh(x),
            "softplus": np.logaddexp(0, x),
        }
    out = {}
    for k, ref in refs.items():
        got = ours(k, 2)(x)
        out[k] = float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)))
    sample = x[:300]
    ref = np.array([brentq_meanfield(float(h)) for h in sample])
    got = act.meanfield(sample, T_MF, ZJ_MF)
    out["meanfield"] = float(np.max(np.abs(got - ref)))
    return out


def _record(sample: bench.RateSample) -> dict[str, Any]:
    return {
        "calls": sample.count,
        "rates": sample.rates,
        "median": sample.median,
        "best": sample.best,
        "cpu_per_wall": sample.cpu_per_wall,
    }


def measure(
    impls: dict[str, Callable[[np.ndarray], Any]],
    x: np.ndarray,
    target: float,
    repeats: int,
) -> dict[str, dict[str, Any]]:
    """Elements/ns of every implementation on ``x``: calibrated, round-robin repeats.

    The timing is the package's own (:mod:`neurophase.bench`), so these numbers
    are measured the same way as those of ``neurophase bench``.
    """
    gc.collect()
    workloads = {name: bench.call_workload(f, x) for name, f in impls.items()}
    samples = bench.interleaved_rates(workloads, target_s=target, repeats=repeats)
    return {name: _record(s) for name, s in samples.items()}


def scipy_cost(x: np.ndarray, n: int) -> dict[str, Any]:
    """Per-element rate of SciPy's brentq over a sample (elements/ns)."""
    sample = [float(v) for v in x[:n]]

    def work(passes: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        for _ in range(passes):
            for h in sample:
                brentq_meanfield(h)
        return time.perf_counter() - t0, float(passes * n)

    timed = bench.interleaved_rates(
        {"brentq": work}, target_s=0.0, repeats=3, counts={"brentq": 1}
    )
    return _record(timed["brentq"])


def ratio(a: dict[str, Any], b: dict[str, Any]) -> str:
    return f"{a['median'] / b['median']:.2f} ({a['best'] / b['best']:.2f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="reduced sizes, short repeats")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--sizes", type=int, nargs="*", help="element counts")
    args = p.parse_args(argv)

    sizes = args.sizes or (
        [10**3, 10**5, 10**6]
        if args.quick
        else [10**3, 10**4, 10**5, 10**6, 10**7, 10**8]
    )
    target = 0.05 if args.quick else 0.2
    info = npx.build_info()
    run: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": info.get("cpu"),
        "cpu_flags": info.get("cpu_flags"),
        "activation_simd_path": info.get("activation_simd_path"),
        "usable_cores": info.get("usable_cores"),
        "load_start": os.getloadavg(),
        "mf_temperature": T_MF,
        "mf_zJ": ZJ_MF,
    }
    rng = np.random.default_rng(1)
    x_full = rng.standard_normal(max(sizes)) * 4.0

    run["check"] = check(x_full)
    print(f"checks (max deviation from the reference): {run['check']}", file=sys.stderr)
    bad = [k for k, v in run["check"].items() if not v < 1e-12]
    if bad:
        print(f"kernels failing their check, not timed: {bad}", file=sys.stderr)

    scipy = scipy_cost(x_full, 200 if args.quick else 1000)
    run["scipy_brentq"] = scipy
    results: list[dict[str, Any]] = []
    for dtype in (np.float32, np.float64):
        for n in sizes:
            x = x_full[:n].astype(dtype)
            reps = 5 if n <= 10**6 else 3
            # "new": every call allocates its result, as NumPy's expressions do;
            # "out": every call writes into one preallocated array (out=), which
            # leaves the kernels' own speed without the page faults of a fresh array.
            buf = np.zeros_like(x)
            for kernel in KERNELS:
                if kernel in bad:
                    continue
                for mode, out in (("new", None), ("out", buf)):
                    impls = {
                        "1T": ours(kernel, 1, out),
                        "2T": ours(kernel, 2, out),
                        "numpy": numpy_equivalent(kernel, out),
                    }
                    print(
                        f"{kernel} {np.dtype(dtype).name} n={n:.0e} {mode}",
                        file=sys.stderr,
                    )
                    with np.errstate(over="ignore"):
                        res = measure(impls, x, target, reps)
                    results.append(
                        {
                            "kernel": kernel,
                            "dtype": np.dtype(dtype).name,
                            "n": n,
                            "output": mode,
                            **res,
                        }
                    )
            del buf
    run["results"] = results
    run["small_calls"] = small_call_costs(x_full, target, 5)
    run["load_end"] = os.getloadavg()

    lines = report(run, scipy)
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "activations_quick" if args.quick else "activations"
    (args.out / f"{stem}.txt").write_text(text + "\n")
    (args.out / f"{stem}.json").write_text(json.dumps(run, indent=1))
    print(f"written: {args.out / stem}.json/.txt", file=sys.stderr)
    return 0


def report(run: dict[str, Any], scipy: dict[str, Any]) -> list[str]:
    lines = [
        f"neurophase activation kernels ({run['date']}, path "
        f"{run['activation_simd_path']}, {run['usable_cores']} usable cores, "
        f"load {run['load_start'][0]:.1f} -> {run['load_end'][0]:.1f}, "
        f"NumPy {run['numpy']})",
        "elements/ns: median (best); ratios of medians (of best repeats)",
        "",
        "output: new = each call allocates its result (as NumPy's expressions do),"
        " out = written into a preallocated array (out=) by both sides",
        "",
        f"{'kernel':<10}{'dtype':<9}{'n':>7} {'output':>6}  {'1 thread':>17}"
        f"{'2 threads':>17}"
        f"{'numpy':>17}  {'1T/np':>13}{'2T/np':>13}{'2T/1T':>13}  numpy op",
    ]
    for r in run["results"]:

        def cell(name: str, r: dict[str, Any] = r) -> str:
            return f"{r[name]['median']:.3f} ({r[name]['best']:.3f})"

        lines.append(
            f"{r['kernel']:<10}{r['dtype']:<9}{r['n']:>7.0e} {r['output']:>6}  "
            f"{cell('1T'):>17}"
            f"{cell('2T'):>17}{cell('numpy'):>17}  {ratio(r['1T'], r['numpy']):>13}"
            f"{ratio(r['2T'], r['numpy']):>13}{ratio(r['2T'], r['1T']):>13}  "
            f"{NUMPY_NAME[r['kernel']]}"
        )
    lines += [
        "",
        "Per-call cost on small arrays (default threads): microseconds per call,"
        " median",
        f"{'kernel':<10}{'dtype':<9}{'n':>6}{'neurophase':>12}{'numpy':>9}"
        f"{'ratio':>8}  numpy op",
    ]
    for c in run.get("small_calls", []):
        ours_us, np_us = c["us_per_call"]["ours"], c["us_per_call"]["numpy"]
        lines.append(
            f"{c['kernel']:<10}{c['dtype']:<9}{c['n']:>6}{ours_us:>12.2f}"
            f"{np_us:>9.2f}{ours_us / np_us:>8.2f}  {c['numpy_op']}"
        )
    lines += [
        "",
        f"SciPy brentq per element: {scipy['median'] * 1e3:.4f} elements/us"
        f" ({1 / scipy['median']:.0f} ns per element)",
        "",
        "Goals",
    ]
    big = max(r["n"] for r in run["results"])
    for r in run["results"]:
        if r["n"] != big:
            continue
        k, d, mode = r["kernel"], r["dtype"], r["output"]
        one = r["1T"]["median"] / r["numpy"]["median"]
        two = r["2T"]["median"] / r["numpy"]["median"]
        if k in ("logistic", "tanh", "softplus"):
            goal = 10.0 if k == "softplus" else 1.0
            lines.append(
                f"  {k:<9}{d:<8}{mode:<4} n={big:.0e}: 1T/numpy {one:.2f} (goal >= "
                f"{goal:g}: "
                f"{'pass' if one >= goal else 'MISS'}), 2T/numpy {two:.2f} (goal >= "
                f"{max(goal, 1.8):g}: {'pass' if two >= max(goal, 1.8) else 'MISS'})"
            )
        else:
            cost = r["numpy"]["median"] / r["1T"]["median"]  # our cost / np.tanh's
            vs_scipy = r["1T"]["median"] / scipy["median"]
            lines.append(
                f"  meanfield {d:<8}{mode:<4} n={big:.0e}: cost per element {cost:.2f}x"
                " np.tanh"
                f" (goal <= 10: {'pass' if cost <= 10 else 'MISS'}, stretch <= 3: "
                f"{'pass' if cost <= 3 else 'miss'}); {vs_scipy:.0f}x SciPy brentq "
                f"(goal >= 1000: {'pass' if vs_scipy >= 1000 else 'MISS'})"
            )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
