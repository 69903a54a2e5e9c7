"""Teacher–student simulations: a student perceptron learning a random teacher."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .. import _validate
from ._common import FloatArray, _markdown, _new_axes
from .theory import (
    _alphas,
    gibbs_generalisation,
    hebb_generalisation,
    online_perceptron_generalisation,
)
from .training import RULES, train
from .units import Activation, _activation

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class TeacherStudentResult:
    """Generalisation error of a student against ``alpha = P/N``.

    ``eps[i, k]`` and ``overlap[i, k]`` are the exact generalisation error
    ``arccos(R)/pi`` and the normalised overlap ``R`` with the teacher for
    ``alphas[i]`` and seed ``k``; ``eps_mean`` and ``eps_error`` their mean
    and standard error over seeds; ``converged[i, k]`` whether the training
    finished (see :class:`Fit`; always True for Hebb and the on-line rule).
    ``theory`` maps a curve name (``hebb``, ``online perceptron``, ``gibbs``)
    to its values at ``alphas``.
    """

    rule: str
    activation: str
    n_dims: int
    alphas: FloatArray
    seed: int
    eps: FloatArray
    overlap: FloatArray
    converged: npt.NDArray[np.bool_]
    theory: dict[str, FloatArray] = field(default_factory=dict)

    @property
    def eps_mean(self) -> FloatArray:
        """Mean generalisation error over seeds, per alpha."""
        return np.asarray(self.eps.mean(axis=1), dtype=np.float64)

    @property
    def eps_error(self) -> FloatArray:
        """Standard error of :attr:`eps_mean` (NaN with a single seed)."""
        n = self.eps.shape[1]
        if n < 2:
            return np.full(self.alphas.shape, math.nan)
        return np.asarray(self.eps.std(axis=1, ddof=1) / math.sqrt(n), dtype=np.float64)

    def rows(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows of a report table."""
        names = list(self.theory)
        header = ["alpha", "P", "eps", "error", *[f"eps {n}" for n in names]]
        rows = []
        for i, a in enumerate(self.alphas):
            rows.append(
                [
                    f"{a:.3g}",
                    str(round(a * self.n_dims)),
                    f"{self.eps_mean[i]:.4f}",
                    f"{self.eps_error[i]:.4f}",
                    *[f"{self.theory[n][i]:.4f}" for n in names],
                ]
            )
        return header, rows

    def to_markdown(self) -> str:
        """The report table as Markdown."""
        return _markdown(*self.rows())

    def figure(self) -> Figure:
        """eps(alpha) with error bars beside the theory curves."""
        fig, ax = _new_axes()
        ax.errorbar(
            self.alphas,
            self.eps_mean,
            yerr=self.eps_error,
            fmt="o",
            ms=4,
            label=(
                self.rule
                if self.activation == "-"
                else f"{self.rule} ({self.activation})"
            )
            + f", N = {self.n_dims}",
        )
        if self.alphas.size:
            grid = np.linspace(0.0, float(self.alphas.max()), 200)
            ax.plot(grid, hebb_generalisation(grid), label="Hebb (theory)")
            ax.plot(
                grid,
                online_perceptron_generalisation(grid),
                label="on-line perceptron (theory)",
            )
            ax.plot(grid, gibbs_generalisation(grid), label="Gibbs (replica theory)")
        ax.set_xlabel("alpha = P / N")
        ax.set_ylabel("generalisation error")
        ax.set_ylim(0, 0.55)
        ax.legend()
        return fig


def _overlap(J: FloatArray, B: FloatArray) -> FloatArray:
    nj = np.linalg.norm(J, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(
            nj > 0, (J @ B) / (np.where(nj > 0, nj, 1.0) * np.linalg.norm(B)), 0.0
        )
    return np.clip(r, -1.0, 1.0)


def teacher_student(
    alphas: npt.ArrayLike,
    n_dims: int = 500,
    *,
    rule: str = "hebb",
    activation: Activation | str = "tanh",
    n_seeds: int = 10,
    seed: int = 0,
    online: bool = False,
    epochs: int = 1000,
    learning_rate: float = 0.5,
) -> TeacherStudentResult:
    """Generalisation error of a student learning a random teacher perceptron.

    The teacher ``B`` (Gaussian, no bias) labels ``P = round(alpha N)``
    Gaussian inputs by ``sign(B.x)``; the student is trained on them by
    ``rule`` (see :func:`train`, without a bias) and the error on new inputs is
    ``eps = arccos(R)/pi`` exactly, ``R`` the normalised overlap of student and
    teacher (no test set).  Each of ``n_seeds`` repetitions uses a new teacher
    and new examples (NumPy Generator keyed by ``(seed, repetition, P)``).

    ``online=True`` (perceptron rule only) runs the on-line rule instead:
    one new example per step, ``J += s x / sqrt(N)`` on a mistake, from
    ``J = 0``, vectorised over repetitions; ``eps`` is read at each alpha of one
    run (compare :func:`online_perceptron_generalisation`).

    The batch perceptron rule may need many epochs on large training sets;
    ``epochs`` caps it and ``converged`` records whether it reached zero
    training error.

    ``alphas`` (``P/N``) must be a non-empty list of finite numbers ``> 0``.
    """
    a = _alphas(alphas, "alphas", positive=True).reshape(-1)
    if a.size == 0:
        raise ValueError("alphas must be a non-empty list of finite numbers > 0")
    N = _validate.positive_int("n_dims", n_dims)
    n_seeds = _validate.positive_int("n_seeds", n_seeds)
    seed = _validate.seed(seed)
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    act = _activation(activation)
    if online and rule != "perceptron":
        raise ValueError("online=True applies to rule='perceptron' only")
    label = (
        "step" if rule == "perceptron" else ("-" if rule == "hebb" else act.describe())
    )

    if online:
        eps, R = _online_teacher_student(a, N, n_seeds, seed)
        converged = np.ones(eps.shape, dtype=bool)
        label = "step, on-line"
    else:
        eps = np.empty((a.size, n_seeds))
        R = np.empty((a.size, n_seeds))
        converged = np.empty((a.size, n_seeds), dtype=bool)
        for i, x in enumerate(a):
            P = max(1, round(x * N))
            for k in range(n_seeds):
                rng = np.random.default_rng([seed, k, P])
                B = rng.standard_normal(N)
                X = rng.standard_normal((P, N))
                s = np.where(X @ B >= 0, 1, -1).astype(np.int8)
                fit = train(
                    X,
                    s,
                    rule=rule,
                    activation=act,
                    bias=False,
                    epochs=epochs,
                    learning_rate=learning_rate,
                    seed=int(rng.integers(2**63)),
                )
                R[i, k] = _overlap(fit.weights, B)
                converged[i, k] = fit.converged
                eps[i, k] = math.acos(R[i, k]) / math.pi
    theory = {
        "hebb": hebb_generalisation(a),
        "online perceptron": online_perceptron_generalisation(a),
        "gibbs": gibbs_generalisation(a),
    }
    return TeacherStudentResult(rule, label, N, a, seed, eps, R, converged, theory)


# Examples drawn per block of the on-line simulation (memory: block x seeds x N).
_ONLINE_BLOCK = 64


def _online_teacher_student(
    alphas: FloatArray, N: int, n_seeds: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng([seed, N, n_seeds])
    B = rng.standard_normal((n_seeds, N))
    J = np.zeros((n_seeds, N))
    stops = np.array([round(x * N) for x in alphas])
    order = np.argsort(stops, kind="stable")
    eps = np.empty((alphas.size, n_seeds))
    R = np.empty((alphas.size, n_seeds))
    step = Activation("step")
    done = 0
    nxt = 0
    scale = 1.0 / math.sqrt(N)
    while nxt < order.size:
        while nxt < order.size and stops[order[nxt]] == done:
            r = np.array([_overlap(J[k], B[k]) for k in range(n_seeds)])
            R[order[nxt]] = r
            eps[order[nxt]] = np.arccos(r) / math.pi
            nxt += 1
        if nxt >= order.size:
            break
        block = min(_ONLINE_BLOCK, int(stops[order[nxt]]) - done)
        X = rng.standard_normal((block, n_seeds, N))
        s = np.where(np.einsum("tkn,kn->tk", X, B) >= 0, 1.0, -1.0)
        for t in range(block):
            predicted = np.where(step(np.einsum("kn,kn->k", J, X[t])) > 0.5, 1.0, -1.0)
            wrong = (predicted != s[t]).astype(np.float64)
            J += (wrong * s[t] * scale)[:, None] * X[t]
        done += block
    return eps, R
