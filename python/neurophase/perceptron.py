"""Perceptron learning with the package's activation functions.

The learning side of the theory: a unit whose activation is the mean-field
magnetisation of a membrane lattice (or one of its limits: step, tanh, logistic,
ReLU as a quench firing rate, softplus, Swish) is trained on data, and the
results are compared with the statistical mechanics of learning.

Contents
--------
* :class:`Activation` -- an activation of :mod:`neurophase.activations` chosen by
  name, with its parameters, its derivative, its output levels and its gain.
* :func:`train` -- the Rosenblatt perceptron rule (step activation, ``T = 0``),
  gradient learning of the squared error with any activation and its
  derivative, and the Hebb rule; one hidden layer as an option (XOR).
* Teacher–student learning (:func:`teacher_student`) with the reference curves
  :func:`hebb_generalisation`, :func:`online_perceptron_generalisation` and
  :func:`gibbs_generalisation`.
* Capacity: :func:`is_linearly_separable` (an exact linear program),
  :func:`cover_fraction` and :func:`capacity_scan`.
* Real data bundled with scikit-learn: :func:`load_task`, :func:`split_task`,
  :func:`temperature_scan`, :func:`gain_scan`.

Conventions
-----------
Labels are binary, given as ``{-1, +1}``, ``{0, 1}`` or booleans; internally the
class sign ``s = +1`` or ``-1``.  The local field of an input ``x`` is
``h = w . x + b`` (``b = 0`` without a bias).  A gradient-trained unit is asked
to output the activation's upper level for ``s = +1`` and its lower level for
``s = -1`` (``+-1`` for tanh and the mean-field magnetisation, ``0`` and ``1``
for logistic, ReLU, softplus and Swish, ``0`` and ``T_c/r`` for the quench
rate) and classifies by the midpoint.  ``T_c = zJ`` for the mean-field
activation.  Every stochastic function takes ``seed`` and uses a NumPy
``Generator``; the same seed gives the same numbers.

Where this goes beyond arXiv:2102.04896: the paper derives the activations; the
learning experiments, theory curves and capacity measurements here are the
standard statistical mechanics of learning (Engel & Van den Broeck,
*Statistical Mechanics of Learning*, 2001) applied to those activations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import integrate, optimize, special

from . import _validate, activations

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "ACTIVATIONS",
    "RULES",
    "TASKS",
    "Activation",
    "CapacityResult",
    "Fit",
    "ScanResult",
    "Task",
    "TeacherStudentResult",
    "capacity_scan",
    "cover_count",
    "cover_fraction",
    "cover_fraction_exact",
    "fit_figure",
    "gain_scan",
    "gibbs_generalisation",
    "gibbs_overlap",
    "hebb_generalisation",
    "is_linearly_separable",
    "load_task",
    "max_margin",
    "novikoff_bound",
    "online_perceptron_generalisation",
    "online_perceptron_overlaps",
    "split_task",
    "teacher_student",
    "temperature_scan",
    "train",
]

#: Activation names understood by :class:`Activation`.
ACTIVATIONS = (
    "step",
    "meanfield",
    "logistic",
    "tanh",
    "relu",
    "quench",
    "softplus",
    "swish",
)

#: Learning rules of :func:`train` and :func:`teacher_student`.
RULES = ("perceptron", "gradient", "hebb")

_SQRT_2PI = math.sqrt(2.0 * math.pi)


# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """One activation of :mod:`neurophase.activations` with its parameters.

    Parameters
    ----------
    name
        One of :data:`ACTIVATIONS`.
    gain
        Gain ``g`` of ``logistic``, ``tanh``, ``relu``, ``softplus``, ``swish``.
    temperature, zJ
        ``T > 0`` and ``zJ >= 0`` of ``meanfield`` (``m(h; T, zJ)``, the
        lowest-free-energy root of ``m = tanh((zJ m + h)/T)``; ``T_c = zJ``).
    T0, Tc, k, r, sigma
        Resting temperature, critical temperature, cooling per unit stimulus,
        reheating rate and logistic noise on ``T0`` of ``quench`` (the firing
        rate ``(k/r) ReLU(s - (T0 - Tc)/k)`` saturating at ``Tc/r``; softplus-like
        for ``sigma > 0``).

    The step activation has a zero derivative almost everywhere and is used by
    the perceptron rule only.
    """

    name: str = "tanh"
    gain: float = 1.0
    temperature: float = 2.0
    zJ: float = 1.0
    T0: float = 1.5
    Tc: float = 1.0
    k: float = 1.0
    r: float = 1.0
    sigma: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.name!r}"
            )
        for attr in ("gain", "temperature", "T0", "Tc", "k", "r"):
            _validate.finite_float(attr, getattr(self, attr), positive=True)
        zj = _validate.finite_float("zJ", self.zJ)
        if zj < 0:
            raise ValueError(f"zJ must be finite and >= 0, got {self.zJ!r}")
        sigma = _validate.finite_float("sigma", self.sigma)
        if sigma < 0:
            raise ValueError(f"sigma must be finite and >= 0, got {self.sigma!r}")

    # Every call into the kernels is here, so that the arguments are easy to audit.
    def _call(self, h: FloatArray, derivative: bool) -> FloatArray:
        a = activations
        n, g = self.name, self.gain
        if n == "step":
            out = a.step_derivative(h) if derivative else a.step(h)
        elif n == "meanfield":
            T, zJ = self.temperature, self.zJ
            if derivative:
                out = a.meanfield_derivative(h, T, zJ)
            else:
                out = a.meanfield(h, T, zJ)
        elif n == "quench":
            args = (h, self.T0, self.Tc, self.k, self.r)
            if derivative:
                out = a.quench_rate_derivative(*args, sigma=self.sigma)
            else:
                out = a.quench_rate(*args, sigma=self.sigma)
        elif n == "logistic":
            out = a.logistic_derivative(h, g) if derivative else a.logistic(h, g)
        elif n == "tanh":
            out = a.tanh_derivative(h, g) if derivative else a.tanh(h, g)
        elif n == "relu":
            out = a.relu_derivative(h, g) if derivative else a.relu(h, g)
        elif n == "softplus":
            out = a.softplus_derivative(h, g) if derivative else a.softplus(h, g)
        else:
            out = a.swish_derivative(h, g) if derivative else a.swish(h, g)
        return np.asarray(out, dtype=np.float64)

    def __call__(self, h: npt.ArrayLike) -> FloatArray:
        """The activation at local fields ``h`` (float64 array of h's shape)."""
        return self._call(np.asarray(h, dtype=np.float64), derivative=False)

    def derivative(self, h: npt.ArrayLike) -> FloatArray:
        """The derivative d(activation)/dh at ``h`` (the susceptibility for
        ``meanfield``)."""
        return self._call(np.asarray(h, dtype=np.float64), derivative=True)

    @property
    def levels(self) -> tuple[float, float]:
        """(lower, upper) output levels used as targets for the two classes."""
        if self.name in ("meanfield", "tanh"):
            return (-1.0, 1.0)
        if self.name == "quench":
            return (0.0, self.Tc / self.r)
        return (0.0, 1.0)

    @property
    def threshold(self) -> float:
        """Decision threshold on the output: the midpoint of the levels."""
        lo, hi = self.levels
        return 0.5 * (lo + hi)

    @property
    def critical_temperature(self) -> float:
        """``T_c`` of the activation (``zJ`` for meanfield, ``Tc`` for quench)."""
        return self.zJ if self.name == "meanfield" else self.Tc

    @property
    def temperature_ratio(self) -> float:
        """``T / T_c`` of the mean-field activation (inf when ``zJ = 0``)."""
        if self.name != "meanfield":
            raise ValueError("temperature_ratio applies to the meanfield activation")
        return self.temperature / self.zJ if self.zJ > 0 else math.inf

    def gain_at_zero(self) -> float:
        """The derivative at ``h = +0``: the linear-response gain.

        For ``meanfield`` this is the zero-field susceptibility
        ``chi = (1 - m^2)/(T - zJ (1 - m^2))`` (``1/(T - T_c)`` above ``T_c``,
        infinite at ``T_c``, evaluated on the ``m > 0`` branch below it).
        """
        return float(self.derivative(np.array([0.0]))[0])

    def describe(self) -> str:
        """Short human-readable name with the parameters that matter."""
        n = self.name
        if n == "step":
            return "step"
        if n == "meanfield":
            return f"meanfield(T={self.temperature:g}, zJ={self.zJ:g})"
        if n == "quench":
            s = f", sigma={self.sigma:g}" if self.sigma > 0 else ""
            return (
                f"quench(T0={self.T0:g}, Tc={self.Tc:g}, k={self.k:g}, r={self.r:g}{s})"
            )
        return f"{n}(gain={self.gain:g})"


def _activation(value: Activation | str) -> Activation:
    if isinstance(value, Activation):
        return value
    if isinstance(value, str):
        return Activation(value)
    raise TypeError(f"activation must be a name or an Activation, got {value!r}")


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _check_data(
    X: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[FloatArray, npt.NDArray[np.int8], tuple[Any, Any]]:
    """(X as float64 (P, n), class signs +-1, (negative, positive) label values)."""
    x_raw = np.asarray(X)
    if x_raw.dtype.kind not in "biuf":
        raise TypeError(f"X must be an array of real numbers, got {x_raw.dtype} data")
    Xf = np.array(x_raw, dtype=np.float64, order="C")
    if Xf.ndim != 2:
        raise ValueError(f"X must be 2-D (examples x features), got shape {Xf.shape}")
    if Xf.shape[0] == 0:
        raise ValueError("X is empty: the dataset needs at least one example")
    if Xf.shape[1] == 0:
        raise ValueError("X has no features: it needs at least one column")
    if not np.all(np.isfinite(Xf)):
        raise ValueError("X must be finite everywhere (found NaN or infinity)")
    y_raw = np.asarray(y)
    if y_raw.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y_raw.shape}")
    if y_raw.shape[0] != Xf.shape[0]:
        raise ValueError(
            f"X and y must have the same length, got {Xf.shape[0]} and {y_raw.shape[0]}"
        )
    if y_raw.dtype.kind not in "biuf":
        raise TypeError(f"y must hold binary labels, got {y_raw.dtype} data")
    values = set(np.unique(y_raw).tolist())
    if values <= {0, 1}:
        signs = np.where(y_raw.astype(np.float64) > 0.5, 1, -1).astype(np.int8)
        labels: tuple[Any, Any] = (0, 1) if y_raw.dtype.kind != "b" else (False, True)
    elif values <= {-1, 1}:
        signs = np.where(y_raw > 0, 1, -1).astype(np.int8)
        labels = (-1, 1)
    else:
        shown = sorted(values)[:5]
        raise ValueError(
            f"y must be binary labels in {{-1, +1}} or {{0, 1}}, got values {shown}"
        )
    return Xf, signs, labels


def _augment(X: FloatArray, bias: bool) -> FloatArray:
    return np.hstack([X, np.ones((X.shape[0], 1))]) if bias else X


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """A trained unit (or one-hidden-layer network) and how training went.

    Attributes
    ----------
    rule, activation, seed
        What was trained, with which activation and seed.
    weights
        ``(n_features,)`` input weights; ``(hidden, n_features)`` with a hidden
        layer.
    bias
        Scalar bias (0 without one); ``(hidden,)`` with a hidden layer.
    output_weights, output_bias
        The output unit of a hidden-layer network (None otherwise).
    converged
        Perceptron rule: an epoch without mistakes happened.  Gradient rule: the
        training accuracy reached ``target_accuracy``.  Hebb: always True.
    epochs
        Epochs run (passes through the training set; 1 for Hebb).
    mistakes
        Perceptron rule: total number of updates (mistakes); 0 otherwise.
    epochs_to_target
        First epoch (1-based) after which the training accuracy was at least
        ``target_accuracy``; None if never.  Its inverse is the learning speed.
    accuracy, loss, weight_norm, gradient_norm
        Per-epoch training accuracy, mean squared error (gradient rule; the
        fraction of mistakes otherwise), Euclidean norm of all weights and of
        the full-batch gradient (gradient rule; NaN otherwise).
    example_gradients_initial, example_gradients_final
        Gradient rule: norms of the per-example gradients ``|dE_i/dw|`` at the
        initial and the final weights (empty otherwise).
    labels
        The (negative, positive) label values of the training data, used by
        :meth:`predict`.
    initial_weights
        Gradient rule without a hidden layer: the initial weights, bias last
        when there is one (None otherwise).
    """

    rule: str
    activation: Activation
    seed: int
    weights: FloatArray
    bias: FloatArray | float
    converged: bool
    epochs: int
    mistakes: int
    epochs_to_target: int | None
    accuracy: FloatArray
    loss: FloatArray
    weight_norm: FloatArray
    gradient_norm: FloatArray
    example_gradients_initial: FloatArray
    example_gradients_final: FloatArray
    labels: tuple[Any, Any] = (-1, 1)
    initial_weights: FloatArray | None = None
    output_weights: FloatArray | None = None
    output_bias: float | None = None

    def decision(self, X: npt.ArrayLike) -> FloatArray:
        """The unit's output for inputs ``X`` of shape ``(P, n_features)``.

        The local field ``h`` for the perceptron and Hebb rules; the output
        activation for gradient learning.
        """
        Xf = _features(X, self.weights.shape[-1])
        if self.output_weights is not None:
            z = self.activation(Xf @ self.weights.T + self.bias)
            return self.activation(
                z @ self.output_weights + float(self.output_bias or 0)
            )
        h = Xf @ self.weights + float(np.asarray(self.bias))
        return self.activation(h) if self.rule == "gradient" else h

    def predict_sign(self, X: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """Predicted class signs (+1 or -1)."""
        out = self.decision(X)
        threshold = self.activation.threshold if self.rule == "gradient" else 0.0
        return np.where(out > threshold, 1, -1).astype(np.int8)

    def predict(self, X: npt.ArrayLike) -> npt.NDArray[Any]:
        """Predicted labels in the convention of the training labels."""
        s = self.predict_sign(X)
        return np.where(s > 0, self.labels[1], self.labels[0])

    def score(self, X: npt.ArrayLike, y: npt.ArrayLike) -> float:
        """Fraction of correctly classified examples."""
        Xf, s, _ = _check_data(X, y)
        return float(np.mean(self.predict_sign(Xf) == s))


def _features(X: npt.ArrayLike, n: int) -> FloatArray:
    Xf = np.asarray(X, dtype=np.float64)
    if Xf.ndim != 2 or Xf.shape[1] != n:
        raise ValueError(f"X must have shape (P, {n}), got {Xf.shape}")
    if not np.all(np.isfinite(Xf)):
        raise ValueError("X must be finite everywhere (found NaN or infinity)")
    return Xf


def train(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    rule: str = "gradient",
    activation: Activation | str = "tanh",
    hidden: int | None = None,
    bias: bool = True,
    epochs: int = 200,
    learning_rate: float = 0.5,
    target_accuracy: float = 0.95,
    init_scale: float = 0.1,
    shuffle: bool = False,
    seed: int = 0,
) -> Fit:
    """Train a perceptron on binary-labelled data.

    Parameters
    ----------
    X, y
        Inputs ``(P, n_features)`` (finite) and binary labels ``(P,)`` in
        ``{-1, +1}`` or ``{0, 1}``.
    rule
        ``"perceptron"``: Rosenblatt's mistake-driven rule with the step
        activation (``T = 0``): the unit predicts class +1 where
        ``activations.step(h) > 1/2``; on a mistake ``w += s x``; stops after an
        epoch without mistakes or after ``epochs`` epochs (then ``converged``
        is False).  Starts from ``w = 0``, so the first fields are ``+0`` and
        the step's value at zero decides the first prediction.
        ``"gradient"``: full-batch gradient descent on the mean squared error
        ``E = (1/2P) sum_i (t_i - g(h_i))^2`` between the activation ``g`` and the
        class levels ``t_i``, using ``g`` and its derivative.
        ``"hebb"``: ``w = (1/P) sum_i s_i x_i`` (one pass).
    activation
        Name or :class:`Activation` (gradient rule; the perceptron rule always
        uses ``step``, Hebb none).
    hidden
        Number of hidden units of one hidden layer (gradient rule only); both
        layers use ``activation``; trained by back-propagation.
    bias
        Learn a bias (a constant input 1).
    epochs
        Maximum number of epochs (>= 1).
    learning_rate
        Step size of gradient descent (> 0).
    target_accuracy
        Training accuracy in (0, 1] that defines ``epochs_to_target``.
    init_scale
        Standard deviation of the initial weights times ``sqrt(n_inputs)``
        (gradient rule; a hidden layer always starts at unit scale so that
        its units differ).
    shuffle
        Perceptron rule: visit the examples in a new random order every epoch
        (otherwise in the given order).
    seed
        Seed of the NumPy Generator (initial weights, order).
    """
    Xf, s, labels = _check_data(X, y)
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    act = _activation(activation)
    epochs = _validate.positive_int("epochs", epochs)
    lr = _validate.finite_float("learning_rate", learning_rate, positive=True)
    target = _validate.finite_float("target_accuracy", target_accuracy)
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target_accuracy must be in (0, 1], got {target_accuracy}")
    init = _validate.finite_float("init_scale", init_scale)
    if init < 0:
        raise ValueError(f"init_scale must be finite and >= 0, got {init_scale}")
    seed = _validate.seed(seed)
    rng = np.random.default_rng(seed)
    if hidden is not None:
        hidden = _validate.positive_int("hidden", hidden)
        if rule != "gradient":
            raise ValueError("hidden applies to rule='gradient' only")
    if rule == "gradient" and act.name == "step":
        raise ValueError(
            "the step activation has a zero derivative: use rule='perceptron'"
        )

    if rule == "hebb":
        return _hebb(Xf, s, bias, seed, labels)
    if rule == "perceptron":
        return _perceptron(Xf, s, bias, epochs, shuffle, rng, seed, target, labels)
    if hidden is not None:
        return _backprop(
            Xf, s, act, hidden, bias, epochs, lr, target, rng, seed, labels
        )
    return _gradient(Xf, s, act, bias, epochs, lr, target, init, rng, seed, labels)


def _split_bias(w: FloatArray, bias: bool) -> tuple[FloatArray, float]:
    return (w[:-1].copy(), float(w[-1])) if bias else (w.copy(), 0.0)


def _first_reaching(acc: FloatArray, target: float) -> int | None:
    hit = np.flatnonzero(acc >= target - 1e-12)
    return int(hit[0]) + 1 if hit.size else None


def _empty() -> FloatArray:
    return np.empty(0)


def _hebb(
    X: FloatArray, s: npt.NDArray[np.int8], bias: bool, seed: int, labels: Any
) -> Fit:
    Xa = _augment(X, bias)
    w = (s.astype(np.float64) @ Xa) / Xa.shape[0]
    acc = float(np.mean(np.where(Xa @ w >= 0, 1, -1) == s))
    weights, b = _split_bias(w, bias)
    return Fit(
        rule="hebb",
        activation=Activation("step"),
        seed=seed,
        weights=weights,
        bias=b,
        converged=True,
        epochs=1,
        mistakes=0,
        epochs_to_target=None,
        accuracy=np.array([acc]),
        loss=np.array([1.0 - acc]),
        weight_norm=np.array([float(np.linalg.norm(w))]),
        gradient_norm=np.array([math.nan]),
        example_gradients_initial=_empty(),
        example_gradients_final=_empty(),
        labels=labels,
    )


# The next mistake is searched for in blocks of fields computed at once: only
# mistakes change w, so this is exactly the sequential rule.  The block grows
# while no mistake is found and shrinks after one, so dense mistakes cost few
# wasted fields and sparse ones few Python steps.
# Limitation: one Python step per mistake, so runs with millions of updates
# (large non-separable sets, many epochs) take seconds to minutes.
_MIN_BLOCK = 4
_MAX_BLOCK = 4096


def _perceptron_pass(Xo: FloatArray, so: npt.NDArray[np.int8], w: FloatArray) -> int:
    """One sequential pass of the perceptron rule over (Xo, so); updates w."""
    P = Xo.shape[0]
    positive = so > 0
    step = activations.step  # the kernel itself: this loop is call-bound
    pos = 0
    block = _MIN_BLOCK
    mistakes = 0
    while pos < P:
        stop = min(P, pos + block)
        wrong = (step(Xo[pos:stop] @ w) > 0.5) != positive[pos:stop]
        first = int(wrong.argmax())
        if not wrong[first]:
            pos = stop
            block = min(2 * block, _MAX_BLOCK)
            continue
        i = pos + first
        w += so[i] * Xo[i]
        mistakes += 1
        pos = i + 1
        block = max(_MIN_BLOCK, 2 * (first + 1))
    return mistakes


def _perceptron(
    X: FloatArray,
    s: npt.NDArray[np.int8],
    bias: bool,
    epochs: int,
    shuffle: bool,
    rng: np.random.Generator,
    seed: int,
    target: float,
    labels: Any,
) -> Fit:
    Xa = _augment(X, bias)
    step = Activation("step")
    w = np.zeros(Xa.shape[1])
    acc, errs, norms = [], [], []
    total = 0
    converged = False
    for _ in range(epochs):
        order = rng.permutation(Xa.shape[0]) if shuffle else np.arange(Xa.shape[0])
        m = _perceptron_pass(Xa[order], s[order], w)
        total += m
        a = float(np.mean(np.where(step(Xa @ w) > 0.5, 1, -1) == s))
        acc.append(a)
        errs.append(1.0 - a)
        norms.append(float(np.linalg.norm(w)))
        if m == 0:
            converged = True
            break
    weights, b = _split_bias(w, bias)
    accuracy = np.array(acc)
    return Fit(
        rule="perceptron",
        activation=step,
        seed=seed,
        weights=weights,
        bias=b,
        converged=converged,
        epochs=len(acc),
        mistakes=total,
        epochs_to_target=_first_reaching(accuracy, target),
        accuracy=accuracy,
        loss=np.array(errs),
        weight_norm=np.array(norms),
        gradient_norm=np.full(len(acc), math.nan),
        example_gradients_initial=_empty(),
        example_gradients_final=_empty(),
        labels=labels,
    )


def _targets(act: Activation, s: npt.NDArray[np.int8]) -> FloatArray:
    lo, hi = act.levels
    return np.where(s > 0, hi, lo)


# Limitation: plain full-batch gradient descent with a fixed learning rate (no
# momentum, no line search), so that the learning speed reflects the
# activation's gain and not an optimiser's adaptation.
def _gradient(
    X: FloatArray,
    s: npt.NDArray[np.int8],
    act: Activation,
    bias: bool,
    epochs: int,
    lr: float,
    target: float,
    init: float,
    rng: np.random.Generator,
    seed: int,
    labels: Any,
) -> Fit:
    Xa = _augment(X, bias)
    P, n = Xa.shape
    t = _targets(act, s)
    w = np.asarray(rng.standard_normal(n) * (init / math.sqrt(n)), dtype=np.float64)
    w_start = w.copy()
    row_norms = np.linalg.norm(Xa, axis=1)
    acc = np.empty(epochs)
    loss = np.empty(epochs)
    wnorm = np.empty(epochs)
    gnorm = np.empty(epochs)
    h = Xa @ w
    out, slope = act(h), act.derivative(h)
    initial = np.abs((out - t) * slope) * row_norms
    # Entry e of the histories describes the weights after e + 1 updates.
    for e in range(epochs):
        grad = ((out - t) * slope) @ Xa / P
        if not np.all(np.isfinite(grad)):
            raise FloatingPointError(
                f"gradient not finite at epoch {e + 1} ({act.describe()}); lower "
                "learning_rate or move the activation away from its critical point"
            )
        w = np.asarray(w - lr * grad, dtype=np.float64)
        h = Xa @ w
        out, slope = act(h), act.derivative(h)
        acc[e] = np.mean(np.where(out > act.threshold, 1, -1) == s)
        loss[e] = 0.5 * float(np.mean((out - t) ** 2))
        gnorm[e] = float(np.linalg.norm(grad))
        wnorm[e] = float(np.linalg.norm(w))
    final = np.abs((out - t) * slope) * row_norms
    reached = _first_reaching(acc, target)
    weights, b = _split_bias(w, bias)
    return Fit(
        rule="gradient",
        activation=act,
        seed=seed,
        weights=weights,
        bias=b,
        converged=reached is not None,
        epochs=epochs,
        mistakes=0,
        epochs_to_target=reached,
        accuracy=acc,
        loss=loss,
        weight_norm=wnorm,
        gradient_norm=gnorm,
        example_gradients_initial=initial,
        example_gradients_final=final,
        labels=labels,
        initial_weights=w_start,
    )


def _backprop(
    X: FloatArray,
    s: npt.NDArray[np.int8],
    act: Activation,
    hidden: int,
    bias: bool,
    epochs: int,
    lr: float,
    target: float,
    rng: np.random.Generator,
    seed: int,
    labels: Any,
) -> Fit:
    P, n = X.shape
    t = _targets(act, s)
    W1 = rng.standard_normal((hidden, n)) / math.sqrt(n)
    b1 = rng.standard_normal(hidden) if bias else np.zeros(hidden)
    w2 = rng.standard_normal(hidden) / math.sqrt(hidden)
    b2 = 0.0
    sq = np.sum(X * X, axis=1) + (1.0 if bias else 0.0)
    acc = np.empty(epochs)
    loss = np.empty(epochs)
    wnorm = np.empty(epochs)
    gnorm = np.empty(epochs)

    def forward() -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        a1 = X @ W1.T + b1
        z1 = act(a1)
        a2 = z1 @ w2 + b2
        return a1, z1, a2, act(a2)

    def example_norms(
        a1: FloatArray, z1: FloatArray, a2: FloatArray, out: FloatArray
    ) -> FloatArray:
        d2 = (out - t) * act.derivative(a2)
        d1 = d2[:, None] * w2[None, :] * act.derivative(a1)
        z_sq = np.sum(z1 * z1, axis=1) + (1.0 if bias else 0.0)
        return np.sqrt(d2 * d2 * z_sq + np.sum(d1 * d1, axis=1) * sq)

    state = forward()
    initial = example_norms(*state)
    for e in range(epochs):
        a1, z1, a2, out = state
        d2 = (out - t) * act.derivative(a2)
        d1 = d2[:, None] * w2[None, :] * act.derivative(a1)
        g_w2 = z1.T @ d2 / P
        g_b2 = float(d2.mean()) if bias else 0.0
        g_W1 = d1.T @ X / P
        g_b1 = d1.mean(axis=0) if bias else np.zeros(hidden)
        gnorm[e] = math.sqrt(
            float(np.sum(g_W1**2) + np.sum(g_b1**2) + np.sum(g_w2**2) + g_b2**2)
        )
        if not math.isfinite(gnorm[e]):
            raise FloatingPointError(
                f"gradient not finite at epoch {e + 1} ({act.describe()}); lower "
                "learning_rate"
            )
        W1 -= lr * g_W1
        b1 -= lr * g_b1
        w2 -= lr * g_w2
        b2 -= lr * g_b2
        state = forward()
        out = state[3]
        acc[e] = np.mean(np.where(out > act.threshold, 1, -1) == s)
        loss[e] = 0.5 * float(np.mean((out - t) ** 2))
        wnorm[e] = math.sqrt(
            float(np.sum(W1**2) + np.sum(b1**2) + np.sum(w2**2) + b2**2)
        )
    reached = _first_reaching(acc, target)
    return Fit(
        rule="gradient",
        activation=act,
        seed=seed,
        weights=W1.copy(),
        bias=b1.copy(),
        converged=reached is not None,
        epochs=epochs,
        mistakes=0,
        epochs_to_target=reached,
        accuracy=acc,
        loss=loss,
        weight_norm=wnorm,
        gradient_norm=gnorm,
        example_gradients_initial=initial,
        example_gradients_final=example_norms(*state),
        labels=labels,
        output_weights=w2.copy(),
        output_bias=b2,
    )


# ---------------------------------------------------------------------------
# Margins and Novikoff's bound
# ---------------------------------------------------------------------------


def max_margin(X: npt.ArrayLike, y: npt.ArrayLike, *, bias: bool = True) -> float:
    """The largest geometric margin ``gamma = max_w min_i s_i w.x_i / |w|``.

    Computed as ``1/|w|`` of the hard-margin solution ``min |w|^2`` subject to
    ``s_i w.x_i >= 1`` (SciPy's SLSQP); with ``bias`` the inputs get a constant
    1 and ``w`` includes the bias (the margin of the augmented inputs, the one
    Novikoff's bound for the rule with a bias uses).  Returns 0 when the data
    are not linearly separable.

    """
    # Limitation: SLSQP is a dense QP solver; meant for up to a few thousand
    # examples in tens of dimensions.
    Xf, s, _ = _check_data(X, y)
    Xa = _augment(Xf, bias)
    if not is_linearly_separable(Xf, s, bias=bias):
        return 0.0
    A = s[:, None] * Xa
    t, w_box = _box_margin(A)
    w0 = w_box / t  # satisfies A w0 >= 1
    res = optimize.minimize(
        lambda w: float(w @ w),
        w0,
        jac=lambda w: 2.0 * w,
        constraints=[
            {"type": "ineq", "fun": lambda w: A @ w - 1.0, "jac": lambda w: A}
        ],
        method="SLSQP",
        options={"maxiter": 1000, "ftol": 1e-12},
    )
    w = res.x if res.success else w0
    # The margin of the returned w is a valid (lower) value even if the
    # optimiser stopped early; it is exact at the optimum.
    return float(np.min(A @ w) / np.linalg.norm(w))


def novikoff_bound(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    bias: bool = True,
    separator: npt.ArrayLike | None = None,
) -> float:
    """Novikoff's bound ``(R/gamma)^2`` on the perceptron rule's mistakes.

    ``R = max_i |x_i|`` (with the constant input when ``bias``) and ``gamma``
    the margin of ``separator`` (a weight vector, bias last when ``bias``) or,
    by default, the largest margin :func:`max_margin`.  The perceptron rule
    started at ``w = 0`` makes at most this many updates in any order.  Returns
    inf for data that are not linearly separable.
    """
    Xf, s, _ = _check_data(X, y)
    Xa = _augment(Xf, bias)
    R = float(np.max(np.linalg.norm(Xa, axis=1)))
    if separator is None:
        gamma = max_margin(Xf, s, bias=bias)
    else:
        w = np.asarray(separator, dtype=np.float64)
        if w.shape != (Xa.shape[1],):
            raise ValueError(
                f"separator must have shape ({Xa.shape[1]},), got {w.shape}"
            )
        gamma = float(np.min(s * (Xa @ w)) / np.linalg.norm(w))
    return (R / gamma) ** 2 if gamma > 0 else math.inf


# ---------------------------------------------------------------------------
# Capacity: linear separability and Cover's count
# ---------------------------------------------------------------------------


# Optimal margins below this (in units of the largest |x|_1) count as zero:
# HiGHS's feasibility tolerance is 1e-7, so smaller values are not resolved.
_MARGIN_TOLERANCE = 1e-9


def _box_margin(A: FloatArray) -> tuple[float, FloatArray]:
    """``max t`` subject to ``A w >= t``, ``|w_j| <= 1``, ``t <= 1``: (t, w).

    Always feasible (``w = 0, t = 0``) and bounded, so the solver returns an
    optimum; ``t > 0`` exactly when some ``w`` gives ``A w > 0``.
    """
    P, n = A.shape
    c = np.zeros(n + 1)
    c[-1] = -1.0
    res = optimize.linprog(
        c,
        A_ub=np.hstack([-A, np.ones((P, 1))]),
        b_ub=np.zeros(P),
        bounds=[(-1.0, 1.0)] * n + [(None, 1.0)],
        method="highs",
    )
    if res.status != 0:
        raise RuntimeError(f"linprog could not decide separability: {res.message}")
    x = np.asarray(res.x, dtype=np.float64)
    return float(x[-1]), x[:-1]


def is_linearly_separable(
    X: npt.ArrayLike, y: npt.ArrayLike, *, bias: bool = False
) -> bool:
    """Whether some ``w`` (and bias, if ``bias``) gives ``s_i (w.x_i + b) > 0``.

    Decided by the linear program ``max t`` subject to
    ``s_i (w.x_i + b) >= t`` and ``|w_j|, |b| <= 1`` (SciPy's HiGHS): the data
    are separable exactly when the optimum ``t`` is positive.
    """
    Xf, s, _ = _check_data(X, y)
    A = s[:, None] * _augment(Xf, bias)
    # Limitation: an optimum below 1e-9 max_i |x_i|_1 counts as inseparable (the
    # solver's tolerance is 1e-7); for Gaussian points such labellings have
    # negligible probability.
    t, _ = _box_margin(A)
    return t > _MARGIN_TOLERANCE * float(np.max(np.abs(A).sum(axis=1)))


def cover_count(P: int, N: int) -> int:
    """Cover's number of linearly separable dichotomies, exactly.

    ``C(P, N) = 2 sum_{k=0}^{N-1} binom(P - 1, k)``: the number of labellings
    of ``P`` points in general position in ``N`` dimensions realisable by a
    hyperplane through the origin (a Python int; no overflow).
    """
    P = _validate.positive_int("P", P)
    N = _validate.positive_int("N", N)
    return 2 * sum(math.comb(P - 1, k) for k in range(min(N, P)))


def cover_fraction_exact(P: int, N: int) -> Fraction:
    """``C(P, N) / 2^P`` as an exact fraction."""
    return Fraction(cover_count(P, N), 2**P)


def cover_fraction(P: int, N: int) -> float:
    """Fraction of the ``2^P`` labellings that are linearly separable (Cover).

    Exactly ``P(Binomial(P - 1, 1/2) <= N - 1)``; 1 for ``P <= N``, 1/2 at
    ``P = 2N``, a step at ``alpha = P/N = 2`` as ``N -> inf``.  Evaluated as the
    exact integer ratio rounded to float (no overflow for any ``P``).
    """
    return float(cover_fraction_exact(P, N))


@dataclass(frozen=True)
class CapacityResult:
    """Measured and exact fraction of separable random labellings.

    ``fraction[i, j]`` is the measured fraction for ``n_dims[i]`` and
    ``alphas[j]`` (``P = round(alpha N)`` Gaussian points, no bias), out of
    ``trials`` labellings; ``error`` the binomial standard error
    ``sqrt(p (1 - p)/trials)`` with ``p`` Cover's fraction ``cover``;
    ``n_points`` the ``P`` used; :attr:`p_value` the exact two-sided binomial
    test of the measured count against Cover.
    """

    n_dims: tuple[int, ...]
    alphas: FloatArray
    n_points: npt.NDArray[np.int64]
    trials: int
    seed: int
    fraction: FloatArray
    cover: FloatArray
    error: FloatArray

    @property
    def p_value(self) -> FloatArray:
        """Two-sided exact binomial p-value of each measured count under Cover
        (SciPy's ``binomtest``); 1 or 0 where Cover's fraction is exactly 1."""
        from scipy.stats import binomtest

        out = np.empty(self.fraction.shape)
        for idx, f in np.ndenumerate(self.fraction):
            hits = round(f * self.trials)
            out[idx] = binomtest(hits, self.trials, float(self.cover[idx])).pvalue
        return out

    def rows(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows of a report table."""
        header = ["N", "alpha", "P", "separable", "Cover", "error", "p-value"]
        rows = []
        pv = self.p_value
        for i, n in enumerate(self.n_dims):
            for j, a in enumerate(self.alphas):
                rows.append(
                    [
                        str(n),
                        f"{a:.3g}",
                        str(self.n_points[i, j]),
                        f"{self.fraction[i, j]:.3f}",
                        f"{self.cover[i, j]:.4f}",
                        f"{self.error[i, j]:.3f}",
                        f"{pv[i, j]:.2g}",
                    ]
                )
        return header, rows

    def to_markdown(self) -> str:
        """The report table as Markdown."""
        return _markdown(*self.rows())

    def figure(self) -> Figure:
        """Separable fraction against alpha for each N, with Cover's curves."""
        fig, ax = _new_axes()
        for i, n in enumerate(self.n_dims):
            (line,) = ax.plot(self.alphas, self.cover[i], "-", lw=1)
            ax.errorbar(
                self.alphas,
                self.fraction[i],
                yerr=self.error[i],
                fmt="o",
                ms=3,
                color=line.get_color(),
                label=f"N = {n}",
            )
        ax.axvline(2.0, color="0.6", ls=":")
        ax.set_xlabel("alpha = P / N")
        ax.set_ylabel("fraction linearly separable")
        ax.set_title("Capacity: measured (points) and Cover (lines)")
        ax.legend()
        return fig


def capacity_scan(
    n_dims: Sequence[int] = (10, 20, 50, 100),
    alphas: npt.ArrayLike = (0.5, 1.0, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 4.0),
    *,
    trials: int = 50,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> CapacityResult:
    """Measure the fraction of random labellings that are linearly separable.

    For each ``N`` in ``n_dims`` and ``alpha`` in ``alphas``: ``trials`` times
    draw ``P = round(alpha N)`` standard Gaussian points in ``N`` dimensions
    (general position with probability 1) and uniform random labels, and decide
    separability through the origin with :func:`is_linearly_separable`.
    ``progress(done, total)`` is called after each (N, alpha) cell.
    """
    dims = tuple(_validate.positive_int("n_dims", n) for n in n_dims)
    if not dims:
        raise ValueError("n_dims must name at least one dimension")
    a = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError("alphas must be a non-empty list of finite numbers > 0")
    trials = _validate.positive_int("trials", trials)
    seed = _validate.seed(seed)
    n_points = np.array([[max(1, round(x * n)) for x in a] for n in dims])
    frac = np.empty(n_points.shape)
    cover = np.empty(n_points.shape)
    total = n_points.size
    for i, n in enumerate(dims):
        for j in range(a.size):
            P = int(n_points[i, j])
            # One stream per cell: adding a dimension or an alpha leaves the
            # other cells' numbers unchanged.
            rng = np.random.default_rng([seed, n, P])
            hits = 0
            for _ in range(trials):
                X = rng.standard_normal((P, n))
                s = rng.choice(np.array([-1, 1], dtype=np.int8), size=P)
                hits += is_linearly_separable(X, s, bias=False)
            frac[i, j] = hits / trials
            cover[i, j] = cover_fraction(P, n)
            if progress is not None:
                progress(i * a.size + j + 1, total)
    error = np.sqrt(cover * (1.0 - cover) / trials)
    return CapacityResult(dims, a, n_points, trials, seed, frac, cover, error)


# ---------------------------------------------------------------------------
# Teacher–student: theory curves
# ---------------------------------------------------------------------------


def _alphas(alpha: npt.ArrayLike, name: str = "alpha") -> FloatArray:
    a = np.asarray(alpha, dtype=np.float64)
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name} must be finite and >= 0")
    return a


def hebb_generalisation(alpha: npt.ArrayLike) -> FloatArray:
    """Generalisation error of the Hebb rule, ``N -> inf``.

    ``eps = arccos(R)/pi`` with ``R = sqrt(2 alpha / (2 alpha + pi))`` for a
    teacher perceptron without bias and Gaussian inputs, ``P = alpha N``.
    """
    a = _alphas(alpha)
    return np.arccos(np.sqrt(2.0 * a / (2.0 * a + math.pi))) / math.pi


def _online_rhs(_alpha: float, y: FloatArray) -> list[float]:
    R, Q = float(y[0]), float(y[1])
    q = math.sqrt(max(Q, 0.0))
    rho = min(1.0, max(-1.0, R / q)) if q > 0 else 0.0
    drift = (1.0 - rho) / _SQRT_2PI
    return [drift, math.acos(rho) / math.pi - 2.0 * q * drift]


def online_perceptron_overlaps(
    alpha: npt.ArrayLike, *, R0: float = 0.0, Q0: float = 0.0
) -> tuple[FloatArray, FloatArray]:
    """Overlaps ``(R, Q)`` of the on-line perceptron rule, ``N -> inf``.

    Student ``J`` learns from a new example at each step,
    ``J += x sign(B.x) / sqrt(N)`` when ``sign(J.x) != sign(B.x)``, with a
    teacher ``|B|^2 = N`` and Gaussian inputs; ``alpha`` is the number of
    examples over ``N``.  With ``R = J.B/N``, ``Q = J.J/N`` and
    ``rho = R/sqrt(Q)`` the overlaps obey

        dR/dalpha = (1 - rho) / sqrt(2 pi)
        dQ/dalpha = arccos(rho)/pi - 2 sqrt(Q) (1 - rho) / sqrt(2 pi)

    (averages over the jointly Gaussian fields; the mistake probability is
    ``arccos(rho)/pi``), integrated from ``(R0, Q0)`` (default: tabula rasa)
    with SciPy's LSODA.
    """
    a = _alphas(alpha)
    r0 = _validate.finite_float("R0", R0)
    q0 = _validate.finite_float("Q0", Q0)
    if q0 < 0 or r0 * r0 > q0 + 1e-15:
        raise ValueError("need Q0 >= 0 and R0^2 <= Q0 (|rho| <= 1)")
    flat = a.reshape(-1)
    R = np.full(flat.shape, r0)
    Q = np.full(flat.shape, q0)
    positive = flat > 0
    if np.any(positive):
        ts = np.unique(flat[positive])
        sol = integrate.solve_ivp(
            _online_rhs,
            (0.0, float(ts[-1])),
            [r0, q0],
            t_eval=ts,
            method="LSODA",
            rtol=1e-10,
            atol=1e-12,
        )
        if not sol.success:
            raise RuntimeError(f"on-line perceptron ODE failed: {sol.message}")
        idx = np.searchsorted(ts, flat[positive])
        R[positive] = sol.y[0][idx]
        Q[positive] = sol.y[1][idx]
    return R.reshape(a.shape), Q.reshape(a.shape)


def online_perceptron_generalisation(
    alpha: npt.ArrayLike, *, R0: float = 0.0, Q0: float = 0.0
) -> FloatArray:
    """Generalisation error ``arccos(R/sqrt(Q))/pi`` of the on-line perceptron rule.

    See :func:`online_perceptron_overlaps`; 1/2 at ``alpha = 0`` (tabula
    rasa), decaying as ``eps ~ (sqrt(2)/pi) 18^(-1/6) alpha^(-1/3)``
    (``~ 0.278 alpha^(-1/3)``) for large ``alpha``.
    """
    R, Q = online_perceptron_overlaps(alpha, R0=R0, Q0=Q0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(Q > 0, R / np.sqrt(np.where(Q > 0, Q, 1.0)), 0.0)
    return np.arccos(np.clip(rho, -1.0, 1.0)) / math.pi


def _gibbs_integral(R: float) -> float:
    # int Dt exp(-R t^2/2) / H(-sqrt(R) t), with H(-x) = Phi(x); written with
    # log Phi so that the ratio stays finite in the far negative tail.
    sr = math.sqrt(R)

    def f(t: float) -> float:
        return math.exp(-0.5 * (1.0 + R) * t * t - float(special.log_ndtr(sr * t)))

    val, _ = integrate.quad(f, -np.inf, np.inf, epsabs=0.0, epsrel=1e-12, limit=200)
    return val / _SQRT_2PI


def gibbs_overlap(alpha: npt.ArrayLike) -> FloatArray:
    """Teacher–student overlap ``R`` of Gibbs (version-space) learning.

    The replica-symmetric saddle point for a student drawn uniformly from the
    version space of a teacher perceptron (Engel & Van den Broeck, ch. 2):
    ``R`` solves

        R / sqrt(1 - R) = (alpha/pi) int Dt exp(-R t^2/2) / H(-sqrt(R) t)

    with ``H(x) = int_x^inf Dt`` and ``Dt`` the standard Gaussian measure;
    found with Brent's method on ``(0, 1)``.  ``R ~ 2 alpha / pi`` for small
    alpha.
    """
    a = _alphas(alpha)
    out = np.empty(a.shape)
    for idx, x in np.ndenumerate(a):
        if x == 0:
            out[idx] = 0.0
            continue

        def g(R: float, x: float = float(x)) -> float:
            return R / math.sqrt(1.0 - R) - x / math.pi * _gibbs_integral(R)

        out[idx] = optimize.brentq(g, 0.0, 1.0 - 1e-15, xtol=1e-15, rtol=1e-15)
    return out


def gibbs_generalisation(alpha: npt.ArrayLike) -> FloatArray:
    """Generalisation error ``arccos(R)/pi`` of Gibbs learning (replica symmetric).

    1/2 at ``alpha = 0``; ``eps ~ 0.625/alpha`` for large alpha.
    """
    return np.arccos(gibbs_overlap(alpha)) / math.pi


# ---------------------------------------------------------------------------
# Teacher–student: simulations
# ---------------------------------------------------------------------------


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
    """
    a = _alphas(alphas, "alphas").reshape(-1)
    if a.size == 0 or np.any(a <= 0):
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


# ---------------------------------------------------------------------------
# Real data bundled with scikit-learn
# ---------------------------------------------------------------------------

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
    target_accuracy: float = 0.9,
    test_size: float = 0.3,
) -> ScanResult:
    """Gradient learning with the mean-field activation across ``T/T_c``.

    For each ratio the unit uses ``meanfield(h, T = ratio * zJ, zJ)`` and its
    susceptibility as derivative.  Below ``T_c`` the activation saturates
    (``|m| -> 1``, ``chi -> 0``): gradients vanish and learning slows; near
    ``T_c`` the gain ``chi(0) = 1/(T - T_c)`` grows without bound; far above,
    the response is weak and nearly linear.  Each seed is one stratified split
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
    target_accuracy: float = 0.9,
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


# ---------------------------------------------------------------------------
# Tables and figures
# ---------------------------------------------------------------------------


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _new_axes() -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    return fig, fig.subplots()


def fit_figure(fit: Fit) -> Figure:
    """Training accuracy and weight norm per epoch of one :class:`Fit`."""
    fig, ax = _new_axes()
    e = np.arange(1, fit.epochs + 1)
    ax.plot(e, fit.accuracy, label="training accuracy")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax2 = ax.twinx()
    ax2.plot(e, fit.weight_norm, color="C1", label="|w|")
    ax2.set_ylabel("|w|")
    ax.set_title(f"{fit.rule}, {fit.activation.describe()}")
    return fig
