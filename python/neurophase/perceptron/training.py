"""Training a perceptron: perceptron rule, gradient learning, Hebb rule."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .. import _validate, activations
from ._common import FloatArray, _augment, _check_data, _new_axes
from .units import Activation, _activation

if TYPE_CHECKING:
    from matplotlib.figure import Figure


#: Learning rules of :func:`train` and :func:`teacher_student`.
RULES = ("perceptron", "gradient", "hebb")


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
        """Predicted class signs (+1 or -1).

        Gradient rule: the output above the midpoint of the levels; perceptron
        and Hebb rules: ``activations.step(h) > 1/2``, as in training.
        """
        out = self.decision(X)
        if self.rule == "gradient":
            positive = out > self.activation.threshold
        else:
            positive = activations.step(out) > 0.5
        return np.where(positive, 1, -1).astype(np.int8)

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
    acc = float(np.mean(np.where(activations.step(Xa @ w) > 0.5, 1, -1) == s))
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
