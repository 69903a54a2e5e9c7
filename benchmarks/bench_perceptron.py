"""Speed of the perceptron-learning module beside a plain loop and scikit-learn.

Usage::

    python benchmarks/bench_perceptron.py [--repeats 5] [--out benchmarks/results]

What is measured (medians of round-robin repeats, ratios from one run):

* the perceptron rule on 5000 x 20 noisy (non-separable) data and on
  teacher-labelled (separable) data, 5 epochs each:
  ``neurophase.perceptron.train(rule="perceptron")`` (block search for the next
  mistake) beside the textbook one-example-at-a-time Python loop (checked to
  give the same weights) and scikit-learn's compiled ``Perceptron`` (same rule,
  its own convention at h = 0, so only the accuracy is compared);
* one epoch of gradient learning (forward, derivative, gradient) per activation
  on the same data, as examples per microsecond;
* one separability decision (linear program) of 100 Gaussian points in 50
  dimensions;
* one Hebb teacher-student repetition at N = 500, alpha = 4.

Results: a table on stdout and everything raw in ``<out>/perceptron.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neurophase import activations
from neurophase import perceptron as pc


def _naive(X: np.ndarray, s: np.ndarray, epochs: int) -> np.ndarray:
    plus_at_zero = float(activations.step(np.array([0.0]))[0]) > 0.5
    Xa = np.hstack([X, np.ones((X.shape[0], 1))])
    w = np.zeros(Xa.shape[1])
    for _ in range(epochs):
        for x, t in zip(Xa, s, strict=True):
            h = float(x @ w)
            if (1 if (h > 0 or (h == 0 and plus_at_zero)) else -1) != t:
                w += t * x
    return w


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    from sklearn.linear_model import Perceptron

    rng = np.random.default_rng(1)
    P, N, epochs = 5000, 20, 5
    X = rng.standard_normal((P, N))
    s = np.where(X[:, 0] + 0.5 * rng.standard_normal(P) > 0, 1, -1)
    # Separable: labels from a teacher, few mistakes per epoch after the first.
    s_sep = np.where(X @ rng.standard_normal(N) > 0, 1, -1)

    # Correctness before timing.
    fit = pc.train(X, s, rule="perceptron", epochs=epochs)
    same = np.array_equal(np.append(fit.weights, fit.bias), _naive(X, s, epochs))
    fit_sep = pc.train(X, s_sep, rule="perceptron", epochs=epochs)
    same &= np.array_equal(
        np.append(fit_sep.weights, fit_sep.bias), _naive(X, s_sep, epochs)
    )
    sk = Perceptron(max_iter=epochs, tol=None, shuffle=False, eta0=1.0)
    sk.fit(X, s)
    checks = {
        "block search equals the sequential loop": bool(same),
        "training accuracy neurophase": fit.score(X, s),
        "training accuracy scikit-learn": float(sk.score(X, s)),
    }
    if not same:
        raise SystemExit("block-searched perceptron rule differs from the loop")

    names = ["logistic", "tanh", "relu", "softplus", "swish"]
    acts = [pc.Activation(n) for n in names]
    acts += [
        pc.Activation("meanfield", temperature=1.5, zJ=1.0),
        pc.Activation("quench", T0=1.5, Tc=1.0),
    ]
    sep = np.random.default_rng(2)
    Xlp = sep.standard_normal((100, 50))
    slp = sep.choice([-1, 1], size=100)

    jobs: dict[str, Callable[[], Any]] = {
        "perceptron rule, neurophase": lambda: pc.train(
            X, s, rule="perceptron", epochs=epochs
        ),
        "perceptron rule, Python loop": lambda: _naive(X, s, epochs),
        "perceptron rule, scikit-learn": lambda: Perceptron(
            max_iter=epochs, tol=None, shuffle=False, eta0=1.0
        ).fit(X, s),
        "separable, neurophase": lambda: pc.train(
            X, s_sep, rule="perceptron", epochs=epochs
        ),
        "separable, Python loop": lambda: _naive(X, s_sep, epochs),
        "separable, scikit-learn": lambda: Perceptron(
            max_iter=epochs, tol=None, shuffle=False, eta0=1.0
        ).fit(X, s_sep),
        "LP separability, P=100, N=50": lambda: pc.is_linearly_separable(Xlp, slp),
        "Hebb teacher-student, N=500, alpha=4": lambda: pc.teacher_student(
            [4.0], 500, n_seeds=1
        ),
    }
    for a in acts:
        jobs[f"gradient epoch, {a.describe()}"] = lambda a=a: pc.train(
            X, s, activation=a, epochs=1, learning_rate=0.01
        )
    times: dict[str, list[float]] = {k: [] for k in jobs}
    for _ in range(args.repeats):  # round robin: load drifts hit every job alike
        for k, fn in jobs.items():
            times[k].append(_timed(fn))
    med = {k: statistics.median(v) for k, v in times.items()}

    print(f"{'job':<52} {'median':>10} {'note':>30}")
    for k, v in med.items():
        note = ""
        if k.endswith(", neurophase"):
            kind = k.split(",")[0]
            loop = med[f"{kind}, Python loop"] / v
            skl = med[f"{kind}, scikit-learn"] / v
            note = f"{loop:.2f}x loop, {skl:.3f}x sklearn"
        elif k.startswith("gradient epoch"):
            note = f"{P / v / 1e6:.2f} examples/us"
        print(f"{k:<52} {v * 1e3:>8.2f}ms {note:>30}")
    for k, v in checks.items():
        print(f"check: {k}: {v}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "machine": platform.platform(),
        "repeats": args.repeats,
        "data": {"P": P, "N": N, "epochs": epochs},
        "checks": checks,
        "median_seconds": med,
        "all_seconds": times,
    }
    (out / "perceptron.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
