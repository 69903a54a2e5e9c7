"""Real binary tasks from scikit-learn and scans over temperature and gain."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .. import _validate
from ._common import FloatArray, _markdown
from .training import train
from .units import Activation

if TYPE_CHECKING:
    from matplotlib.figure import Figure


#: Named binary tasks of :func:`load_task` (digits accept any "digits:a-b").
TASKS = (
    "breast_cancer",
    "digits:0-1",
    "digits:3-8",
    "digits:even-odd",
    "iris:setosa-versicolor",
    "iris:setosa-virginica",
    "iris:versicolor-virginica",
)

_IRIS = ("setosa", "versicolor", "virginica")


@dataclass(frozen=True)
class Task:
    """A binary classification task: inputs ``X``, labels ``y`` in {0, 1}."""

    name: str
    X: FloatArray
    y: npt.NDArray[np.int64]
    description: str


def load_task(name: str) -> Task:
    """Load a binary task from scikit-learn's bundled datasets.

    ``"breast_cancer"`` (569 x 30, malignant = 0 / benign = 1);
    ``"digits:a-b"`` (8 x 8 digit images, digit ``a`` -> 0, ``b`` -> 1) or
    ``"digits:even-odd"``; ``"iris:c1-c2"`` for two of setosa, versicolor,
    virginica (versicolor-virginica is not linearly separable; the pairs
    with setosa are).
    """
    from sklearn import datasets

    if not isinstance(name, str):
        raise TypeError(f"task must be a name, got {name!r}")
    if name == "breast_cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
        return Task(name, X.astype(np.float64), y.astype(np.int64), "breast cancer")
    kind, _, spec = name.partition(":")
    if kind == "digits" and spec:
        X, d = datasets.load_digits(return_X_y=True)
        if spec == "even-odd":
            return Task(
                name,
                X.astype(np.float64),
                (d % 2).astype(np.int64),
                "digits even (0) vs odd (1)",
            )
        parts = spec.split("-")
        if len(parts) == 2 and all(p.isdigit() and len(p) == 1 for p in parts):
            a, b = int(parts[0]), int(parts[1])
            if a != b:
                keep = (d == a) | (d == b)
                return Task(
                    name,
                    X[keep].astype(np.float64),
                    (d[keep] == b).astype(np.int64),
                    f"digits {a} (0) vs {b} (1)",
                )
    if kind == "iris" and spec:
        parts = spec.split("-")
        if len(parts) == 2 and all(p in _IRIS for p in parts) and parts[0] != parts[1]:
            X, c = datasets.load_iris(return_X_y=True)
            a, b = _IRIS.index(parts[0]), _IRIS.index(parts[1])
            keep = (c == a) | (c == b)
            return Task(
                name,
                X[keep].astype(np.float64),
                (c[keep] == b).astype(np.int64),
                f"iris {parts[0]} (0) vs {parts[1]} (1)",
            )
    raise ValueError(
        f"task must be one of {', '.join(TASKS)} (or digits:a-b with two different "
        f"digits); got {name!r}"
    )


def split_task(
    task: Task | str, *, test_size: float = 0.3, seed: int = 0
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Stratified, seeded train/test split with standardised inputs.

    Returns ``(X_train, X_test, y_train, y_test)``; a StandardScaler fitted
    on the training inputs only is applied to both (constant features, such
    as blank digit pixels, are left centred at 0).
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    t = load_task(task) if isinstance(task, str) else task
    size = _validate.finite_float("test_size", test_size)
    if not 0.0 < size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    seed = _validate.seed(seed)
    Xtr, Xte, ytr, yte = train_test_split(
        t.X, t.y, test_size=size, random_state=seed % 2**32, stratify=t.y
    )
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


@dataclass(frozen=True)
class ScanResult:
    """Learning on a real task across activations (a temperature or gain scan).

    Per value of ``parameter`` (``values``) and per seed (a split and an
    initialisation each): test ``accuracy`` and ``balanced_accuracy``, training
    accuracy ``train_accuracy`` (arrays ``(n_values, n_seeds)``),
    ``epochs_to_target`` (NaN where the target was not reached) and the
    zero-field ``gain`` of each activation.  ``gradients_initial`` and
    ``gradients_final`` hold, per value, the per-example gradient norms of all
    seeds pooled (for the distribution of gradient magnitudes).
    """

    task: str
    parameter: str
    values: FloatArray
    activations: tuple[str, ...]
    gain: FloatArray
    seeds: tuple[int, ...]
    epochs: int
    target_accuracy: float
    accuracy: FloatArray
    balanced_accuracy: FloatArray
    train_accuracy: FloatArray
    epochs_to_target: FloatArray
    gradients_initial: tuple[FloatArray, ...]
    gradients_final: tuple[FloatArray, ...]

    @property
    def learning_speed(self) -> FloatArray:
        """Mean over seeds of ``1/epochs_to_target`` (0 where never reached)."""
        e = self.epochs_to_target
        return np.asarray(
            np.where(np.isfinite(e), 1.0 / np.where(np.isfinite(e), e, 1.0), 0.0).mean(
                axis=1
            ),
            dtype=np.float64,
        )

    def rows(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows of a report table (means +- standard errors)."""
        header = [
            self.parameter,
            "dg/dh at 0",
            "test acc",
            "balanced acc",
            "train acc",
            "epochs to target",
            "median |grad| start",
        ]
        rows = []
        for i, v in enumerate(self.values):
            ett = self.epochs_to_target[i]
            reached = ett[np.isfinite(ett)]
            ett_s = (
                f"{np.median(reached):.0f} ({reached.size}/{ett.size})"
                if reached.size
                else f"never (0/{ett.size})"
            )
            rows.append(
                [
                    f"{v:.4g}",
                    f"{self.gain[i]:.4g}",
                    _pm(self.accuracy[i]),
                    _pm(self.balanced_accuracy[i]),
                    _pm(self.train_accuracy[i]),
                    ett_s,
                    f"{np.median(self.gradients_initial[i]):.3g}",
                ]
            )
        return header, rows

    def to_markdown(self) -> str:
        """The report table as Markdown."""
        return _markdown(*self.rows())

    def figure(self) -> Figure:
        """Accuracy and learning speed against the scanned parameter, and the
        distributions of per-example gradient magnitudes."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 3.8), layout="constrained")
        ax1, ax2, ax3 = fig.subplots(1, 3)
        n = self.accuracy.shape[1]
        for arr, lab in (
            (self.accuracy, "test accuracy"),
            (self.balanced_accuracy, "balanced accuracy"),
        ):
            err = arr.std(axis=1, ddof=1) / math.sqrt(n) if n > 1 else None
            ax1.errorbar(
                self.values, arr.mean(axis=1), yerr=err, fmt="o-", ms=3, label=lab
            )
        ax1.set_xlabel(self.parameter)
        ax1.set_ylabel("accuracy")
        ax1.set_title(self.task)
        ax1.legend()
        ax2.plot(self.values, self.learning_speed, "o-", ms=3)
        ax2.set_xlabel(self.parameter)
        ax2.set_ylabel(f"1 / epochs to {self.target_accuracy:.0%} train accuracy")
        if self.parameter == "gain":
            ax1.set_xscale("log")
            ax2.set_xscale("log")
        for i, v in enumerate(self.values):
            g = self.gradients_initial[i]
            g = g[g > 0]
            if g.size:
                ax3.hist(
                    np.log10(g),
                    bins=40,
                    histtype="step",
                    label=f"{self.parameter} = {v:.3g}",
                )
        ax3.set_xlabel("log10 |per-example gradient| at the start")
        ax3.set_ylabel("count")
        ax3.legend(fontsize=6)
        return fig


def _pm(a: FloatArray) -> str:
    if a.size > 1:
        return f"{a.mean():.3f} ± {a.std(ddof=1) / math.sqrt(a.size):.3f}"
    return f"{a.mean():.3f}"


def _scan(
    task: Task | str,
    parameter: str,
    values: FloatArray,
    acts: list[Activation],
    *,
    seeds: Sequence[int],
    epochs: int,
    learning_rate: float,
    target_accuracy: float,
    test_size: float,
) -> ScanResult:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    t = load_task(task) if isinstance(task, str) else task
    seeds_t = tuple(_validate.seed(s) for s in seeds)
    if not seeds_t:
        raise ValueError("seeds must hold at least one seed")
    shape = (len(acts), len(seeds_t))
    acc, bal, tr, ett = (np.empty(shape) for _ in range(4))
    g0: list[FloatArray] = []
    g1: list[FloatArray] = []
    splits = [split_task(t, test_size=test_size, seed=s) for s in seeds_t]
    for i, act in enumerate(acts):
        first, last = [], []
        for k, (Xtr, Xte, ytr, yte) in enumerate(splits):
            fit = train(
                Xtr,
                ytr,
                rule="gradient",
                activation=act,
                epochs=epochs,
                learning_rate=learning_rate,
                target_accuracy=target_accuracy,
                seed=seeds_t[k],
            )
            pred = fit.predict(Xte)
            acc[i, k] = accuracy_score(yte, pred)
            bal[i, k] = balanced_accuracy_score(yte, pred)
            tr[i, k] = fit.accuracy[-1]
            ett[i, k] = (
                math.nan if fit.epochs_to_target is None else fit.epochs_to_target
            )
            first.append(fit.example_gradients_initial)
            last.append(fit.example_gradients_final)
        g0.append(np.concatenate(first))
        g1.append(np.concatenate(last))
    gain = np.array([a.gain_at_zero() for a in acts])
    return ScanResult(
        task=t.name,
        parameter=parameter,
        values=values,
        activations=tuple(a.describe() for a in acts),
        gain=gain,
        seeds=seeds_t,
        epochs=epochs,
        target_accuracy=target_accuracy,
        accuracy=acc,
        balanced_accuracy=bal,
        train_accuracy=tr,
        epochs_to_target=ett,
        gradients_initial=tuple(g0),
        gradients_final=tuple(g1),
    )


def _positive_values(name: str, values: npt.ArrayLike) -> FloatArray:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 0 or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"{name} must be a non-empty list of finite numbers > 0")
    return v


def temperature_scan(
    task: Task | str = "breast_cancer",
    ratios: npt.ArrayLike = (0.25, 0.5, 0.8, 0.95, 1.05, 1.25, 1.5, 2.0, 4.0),
    *,
    zJ: float = 1.0,
    seeds: Sequence[int] = (0, 1, 2),
    epochs: int = 200,
    learning_rate: float = 0.1,
    target_accuracy: float = 0.95,
    test_size: float = 0.3,
) -> ScanResult:
    """Gradient learning with the mean-field activation across ``T/T_c``.

    For each ratio the unit uses ``meanfield(h, T = ratio * zJ, zJ)`` and its
    susceptibility as derivative.  Below ``T_c`` the activation saturates
    (``|m| -> 1``, ``chi -> 0``): gradients vanish and learning slows; near
    ``T_c`` the gain ``chi(0) = 1/(T - T_c)`` grows without bound; far above,
    the response is weak and nearly linear.  With a fixed learning rate the
    learning speed is therefore largest at intermediate gain: slow where the
    gradients vanish (ordered), where the gain is small (hot) and, through
    overshooting steps, right at ``T_c``.  Each seed is one stratified split
    (standardised inputs) and one initialisation.
    """
    r = _positive_values("ratios", ratios)
    zj = _validate.finite_float("zJ", zJ, positive=True)
    acts = [Activation("meanfield", temperature=float(x) * zj, zJ=zj) for x in r]
    return _scan(
        task,
        "T/T_c",
        r,
        acts,
        seeds=seeds,
        epochs=_validate.positive_int("epochs", epochs),
        learning_rate=learning_rate,
        target_accuracy=target_accuracy,
        test_size=test_size,
    )


def gain_scan(
    task: Task | str = "breast_cancer",
    gains: npt.ArrayLike = (0.1, 0.3, 1.0, 3.0, 10.0),
    *,
    activation: str = "meanfield",
    zJ: float = 1.0,
    seeds: Sequence[int] = (0, 1, 2),
    epochs: int = 200,
    learning_rate: float = 0.1,
    target_accuracy: float = 0.95,
    test_size: float = 0.3,
) -> ScanResult:
    """Learning speed against the activation's gain (its zero-field slope).

    ``activation="meanfield"``: the gain is the susceptibility above ``T_c``,
    ``chi(0) = 1/(T - zJ)``, so each gain ``g`` uses ``T = zJ + 1/g``.  Other
    names (``tanh``, ``logistic``, ``relu``, ``softplus``, ``swish``) use
    ``gain`` directly.  Recorded as in :func:`temperature_scan`.
    """
    g = _positive_values("gains", gains)
    if activation == "meanfield":
        zj = _validate.finite_float("zJ", zJ, positive=True)
        acts = [
            Activation("meanfield", temperature=zj + 1.0 / float(x), zJ=zj) for x in g
        ]
    elif activation in ("tanh", "logistic", "relu", "softplus", "swish"):
        acts = [Activation(activation, gain=float(x)) for x in g]
    else:
        raise ValueError(
            "activation must be meanfield, tanh, logistic, relu, softplus or swish "
            f"for a gain scan; got {activation!r}"
        )
    return _scan(
        task,
        "gain",
        g,
        acts,
        seeds=seeds,
        epochs=_validate.positive_int("epochs", epochs),
        learning_rate=learning_rate,
        target_accuracy=target_accuracy,
        test_size=test_size,
    )
