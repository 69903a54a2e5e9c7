"""Perceptron learning against the statistical mechanics of learning.

Reference facts: the Hebb rule's exact N -> inf learning curve, the on-line
perceptron rule's overlap equations (checked against an independent on-line
simulation and their own asymptotics), the replica-symmetric Gibbs curve (its
small- and large-alpha limits), Cover's count (against brute-force
enumeration with a linear program), Novikoff's mistake bound, the perceptron
cycling theorem on XOR, and the mean-field activation's susceptibility bound
on gradients below T_c.  Statistical checks use the policy of conftest.py:
|z| <= Z_TOLERANCE with the standard error over seeds (or the binomial error)
and the fixed SEED.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEED, Z_TOLERANCE
from neurophase import activations
from neurophase import perceptron as pc
from neurophase.perceptron import Activation

GRADIENT_ACTIVATIONS = [
    pytest.param(Activation("tanh", gain=1.3), id="tanh"),
    pytest.param(Activation("logistic", gain=0.7), id="logistic"),
    pytest.param(Activation("relu", gain=1.0), id="relu"),
    pytest.param(Activation("softplus", gain=2.0), id="softplus"),
    pytest.param(Activation("swish", gain=1.0), id="swish"),
    pytest.param(
        Activation("meanfield", temperature=0.7, zJ=1.0), id="meanfield-ordered"
    ),
    pytest.param(Activation("meanfield", temperature=2.0, zJ=1.0), id="meanfield-para"),
    pytest.param(
        Activation("quench", T0=1.5, Tc=1.0, k=1.0, r=0.5, sigma=0.3), id="quench-noisy"
    ),
    pytest.param(Activation("quench", T0=1.2, Tc=1.0, k=2.0, r=1.0), id="quench"),
]


def _z(value: float, exact: float, error: float) -> float:
    assert error > 0, "no usable error bar"
    return (value - exact) / error


def _xor() -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array([-1, 1, 1, -1])


def _separable(
    P: int, N: int, margin: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian points labelled by a teacher (with bias), keeping |field| >= margin."""
    rng = np.random.default_rng(seed)
    teacher = rng.standard_normal(N + 1)
    teacher /= np.linalg.norm(teacher)
    X = np.empty((0, N))
    while X.shape[0] < P:
        cand = rng.standard_normal((4 * P, N))
        field = cand @ teacher[:-1] + teacher[-1]
        X = np.vstack([X, cand[np.abs(field) >= margin]])
    X = X[:P]
    y = np.where(X @ teacher[:-1] + teacher[-1] > 0, 1, -1)
    return X, y, teacher


# ---------------------------------------------------------------------------
# Theory curves
# ---------------------------------------------------------------------------


def test_hebb_curve_known_values() -> None:
    """Hebb: eps(0) = 1/2, eps -> sqrt(pi/(2 alpha))/pi * ... decays as alpha^(-1/2)."""
    assert pc.hebb_generalisation(0.0) == pytest.approx(0.5)
    # R = sqrt(2a/(2a + pi)); at a = pi/2, R = 1/sqrt(2) and eps = 1/4 exactly.
    assert pc.hebb_generalisation(math.pi / 2) == pytest.approx(0.25, abs=1e-15)
    # Large alpha: 1 - R ~ pi/(4 alpha), eps ~ sqrt(2 (1 - R))/pi = 1/sqrt(2 pi alpha).
    a = 1e8
    assert pc.hebb_generalisation(a) * math.sqrt(2 * math.pi * a) == pytest.approx(
        1, rel=1e-6
    )


def test_gibbs_curve_limits_small_and_large_alpha() -> None:
    """Gibbs (RS): R ~ 2 alpha/pi as alpha -> 0 (eps -> 1/2); alpha eps -> 0.625."""
    assert pc.gibbs_generalisation(0.0) == 0.5
    a = 1e-4
    assert pc.gibbs_overlap(a) == pytest.approx(2 * a / math.pi, rel=1e-3)
    assert pc.gibbs_generalisation(a) == pytest.approx(0.5, abs=1e-4)
    for a in (1e3, 1e4):
        assert a * pc.gibbs_generalisation(a) == pytest.approx(0.625, rel=2e-3)
    eps = pc.gibbs_generalisation(np.array([0.5, 1.0, 2.0, 5.0, 10.0]))
    assert np.all(np.diff(eps) < 0)


def test_gibbs_overlap_solves_saddle_point_with_independent_quadrature() -> None:
    """R(alpha) satisfies R/sqrt(1-R) = (alpha/pi) int Dt e^{-R t^2/2}/H(-sqrt(R) t),
    re-evaluated with Gauss-Hermite quadrature instead of adaptive quad."""
    from scipy.special import ndtr

    t, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / math.sqrt(2 * math.pi)
    for a in (0.3, 1.0, 3.0, 8.0):
        R = float(pc.gibbs_overlap(a))
        rhs = (
            a
            / math.pi
            * float(np.sum(w * np.exp(-R * t * t / 2) / ndtr(math.sqrt(R) * t)))
        )
        assert R / math.sqrt(1 - R) == pytest.approx(rhs, rel=1e-6)


def test_online_perceptron_ode_limits() -> None:
    """On-line perceptron: eps(0) = 1/2; tabula rasa start R/sqrt(Q) = sqrt(alpha/pi);
    asymptote eps ~ (sqrt 2/pi) 18^(-1/6) alpha^(-1/3) from the overlap equations."""
    assert pc.online_perceptron_generalisation(0.0) == 0.5
    a = 1e-4
    eps = pc.online_perceptron_generalisation(a)
    assert eps == pytest.approx(math.acos(math.sqrt(a / math.pi)) / math.pi, abs=2e-5)
    coeff = math.sqrt(2) / math.pi * 18 ** (-1 / 6)
    a = 1e6
    assert pc.online_perceptron_generalisation(a) * a ** (1 / 3) == pytest.approx(
        coeff, rel=3e-3
    )
    eps = pc.online_perceptron_generalisation(np.array([1.0, 2.0, 5.0, 10.0]))
    assert np.all(np.diff(eps) < 0)


def test_online_perceptron_simulation_matches_overlap_equations() -> None:
    """An on-line perceptron at N = 500 (20 repetitions) follows the ODE, |z| <= 4."""
    alphas = [0.5, 1.0, 2.0, 4.0]
    res = pc.teacher_student(
        alphas, 500, rule="perceptron", online=True, n_seeds=20, seed=SEED
    )
    theory = pc.online_perceptron_generalisation(alphas)
    for i, a in enumerate(alphas):
        z = _z(res.eps_mean[i], theory[i], res.eps_error[i])
        assert abs(z) <= Z_TOLERANCE, (
            f"alpha={a}: {res.eps_mean[i]} vs {theory[i]} (z={z:.1f})"
        )


@pytest.mark.slow
def test_hebb_rule_matches_theory_at_n_500() -> None:
    """Hebb, N = 500, 20 teachers: eps = arccos(sqrt(2a/(2a+pi)))/pi, |z| <= 4."""
    alphas = [0.25, 0.5, 1.0, 2.0, 4.0]
    res = pc.teacher_student(alphas, 500, rule="hebb", n_seeds=20, seed=SEED)
    theory = pc.hebb_generalisation(alphas)
    for i, a in enumerate(alphas):
        z = _z(res.eps_mean[i], theory[i], res.eps_error[i])
        assert abs(z) <= Z_TOLERANCE, (
            f"alpha={a}: {res.eps_mean[i]} vs {theory[i]} (z={z:.1f})"
        )
    # The measured curve must also be told apart from the other learning curves.
    gibbs = res.theory["gibbs"]
    assert abs(_z(res.eps_mean[-1], gibbs[-1], res.eps_error[-1])) > Z_TOLERANCE


def test_generalisation_error_is_exact_from_the_overlap() -> None:
    """eps = arccos(R)/pi equals the disagreement rate of student and teacher on
    many fresh inputs (binomial error, |z| <= 4)."""
    res = pc.teacher_student([2.0], 50, rule="hebb", n_seeds=1, seed=SEED)
    rng = np.random.default_rng([SEED, 0, 100])  # the same stream the run used
    B = rng.standard_normal(50)
    X = rng.standard_normal((100, 50))
    J = (np.where(X @ B >= 0, 1.0, -1.0) @ X) / 100
    assert float(res.overlap[0, 0]) == pytest.approx(
        J @ B / np.linalg.norm(J) / np.linalg.norm(B)
    )
    test = np.random.default_rng(SEED + 1).standard_normal((200_000, 50))
    disagree = np.mean(np.sign(test @ J) != np.sign(test @ B))
    eps = float(res.eps[0, 0])
    assert abs(_z(disagree, eps, math.sqrt(eps * (1 - eps) / 200_000))) <= Z_TOLERANCE


# ---------------------------------------------------------------------------
# Capacity
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("P", "N"), [(6, 2), (7, 3), (5, 5), (4, 1)])
def test_cover_count_equals_enumeration_with_linear_program(P: int, N: int) -> None:
    """C(P, N) = number of the 2^P labellings of P points that the LP separates."""
    X = np.random.default_rng(SEED).standard_normal((P, N))
    count = sum(
        pc.is_linearly_separable(X, np.array(lab), bias=False)
        for lab in itertools.product((-1, 1), repeat=P)
    )
    assert count == pc.cover_count(P, N)


def test_cover_fraction_exact_values() -> None:
    """Cover: fraction 1 for P <= N, exactly 1/2 at P = 2N, no overflow at P = 4000."""
    for N in range(1, 80):
        assert pc.cover_fraction_exact(2 * N, N) == Fraction(1, 2)
        assert pc.cover_fraction_exact(N, N) == 1
    assert pc.cover_count(6, 2) == 12  # 2P lines through the origin in the plane
    # C(P, N)/2^P = P(Binomial(P - 1, 1/2) <= N - 1), far into the tail too.
    from scipy.stats import binom

    for P, N in ((4000, 1000), (400, 150), (201, 100), (30, 10)):
        ref = float(binom.cdf(N - 1, P - 1, 0.5))
        assert pc.cover_fraction(P, N) == pytest.approx(ref, rel=1e-9)


def _cover_reference(P: int, N: int) -> Fraction:
    """C(P, N) / 2^P from the definition, term by term."""
    return Fraction(2 * sum(math.comb(P - 1, k) for k in range(min(N, P))), 2**P)


def test_cover_count_agrees_with_the_definition() -> None:
    for P in range(1, 40):
        for N in range(1, P + 3):
            assert pc.cover_fraction_exact(P, N) == _cover_reference(P, N)
            assert pc.cover_fraction(P, N) == float(_cover_reference(P, N))
    for P, N in ((1001, 3), (1001, 500), (1001, 501), (1000, 900)):
        assert pc.cover_fraction_exact(P, N) == _cover_reference(P, N)


def test_cover_fraction_exact_and_incomplete_beta_paths_agree() -> None:
    """Across the switch at P = 20000 the exact ratio and I_{1/2} agree."""
    from scipy.special import betainc

    for P in (20_000, 20_001, 30_001):
        for N in (
            1,
            2,
            40,
            P // 4,
            P // 2 - 150,
            P // 2,
            P // 2 + 1,
            P // 2 + 150,
            P - 3,
            P - 1,
        ):
            exact_value = float(pc.cover_fraction_exact(P, N))
            beta_value = float(betainc(P - N, N, 0.5))
            fast = pc.cover_fraction(P, N)
            if P <= 20_000:
                assert fast == exact_value
            else:
                assert fast == beta_value
            if exact_value > 1e-300:
                tol = 1e-13 if exact_value >= 1e-10 else 1e-12
                assert beta_value == pytest.approx(exact_value, rel=tol, abs=0.0)


def test_cover_fraction_is_fast_for_large_p_and_the_count_is_capped() -> None:
    assert pc.cover_fraction(100_000, 50_000) == pytest.approx(0.5, rel=1e-14)
    assert pc.cover_fraction(10**12, 5 * 10**11) == pytest.approx(0.5, rel=1e-9)
    assert pc.cover_fraction(10**9, 10**9) == 1.0
    assert pc.cover_fraction(10**6, 10) == 0.0  # 2^-999999 underflows
    with pytest.raises(ValueError, match=r"\bP\b.*100000"):
        pc.cover_count(pc.MAX_COVER_COUNT_P + 1, 2)
    with pytest.raises(ValueError, match=r"\bP\b"):
        pc.cover_fraction_exact(10**9, 5 * 10**8)
    with pytest.raises(ValueError, match=r"\bN\b"):
        pc.cover_fraction(10, 0)


@pytest.mark.slow
def test_capacity_matches_cover_and_sharpens_with_n() -> None:
    """Measured separable fractions agree with Cover: the exact binomial test's
    p-value is at least that of |z| = 4 (the tolerance policy, exact in the tails);
    the transition at alpha = 2 is sharper for larger N."""
    from scipy.stats import norm

    res = pc.capacity_scan(
        (10, 20, 40), (1.0, 1.5, 2.0, 2.5, 3.0), trials=60, seed=SEED
    )
    threshold = 2 * norm.sf(Z_TOLERANCE)
    for i, n in enumerate(res.n_dims):
        for j, a in enumerate(res.alphas):
            f, c = res.fraction[i, j], res.cover[i, j]
            if c == 1.0:
                assert f == 1.0, f"N={n}, alpha={a}"
            assert res.p_value[i, j] >= threshold, f"N={n}, alpha={a}: {f} vs {c}"
    # Cover's fraction (exact) sharpens: further from 1/2 at larger N on each side.
    assert res.cover[2, 1] > res.cover[0, 1] and res.cover[2, 3] < res.cover[0, 3]
    assert "| N | alpha |" in res.to_markdown()


# ---------------------------------------------------------------------------
# The perceptron rule
# ---------------------------------------------------------------------------


def _naive_perceptron(
    X: np.ndarray, s: np.ndarray, epochs: int
) -> tuple[np.ndarray, int]:
    """Reference: the textbook loop, one example at a time.  Fields are nonzero
    except at w = 0, where the step kernel's value at +0 decides."""
    plus_at_zero = float(activations.step(np.array([0.0]))[0]) > 0.5
    Xa = np.hstack([X, np.ones((X.shape[0], 1))])
    w = np.zeros(Xa.shape[1])
    total = 0
    for _ in range(epochs):
        m = 0
        for x, t in zip(Xa, s, strict=True):
            h = float(x @ w)
            positive = h > 0 or (h == 0 and plus_at_zero)
            if (1 if positive else -1) != t:
                w += t * x
                m += 1
        total += m
        if m == 0:
            break
    return w, total


def test_perceptron_rule_equals_the_sequential_loop() -> None:
    """The block-searched rule makes exactly the updates of the one-at-a-time loop."""
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((700, 5))
    y = np.where(X[:, 0] + 0.3 * rng.standard_normal(700) > 0, 1, -1)  # not separable
    fit = pc.train(X, y, rule="perceptron", epochs=7)
    w, total = _naive_perceptron(X, y, 7)
    assert fit.mistakes == total
    np.testing.assert_array_equal(np.append(fit.weights, fit.bias), w)


def test_novikoff_bound_on_separable_data() -> None:
    """Mistakes <= (R/gamma)^2 with the largest margin (and so with the teacher's),
    in the given and in shuffled orders; the result separates the data."""
    X, y, teacher = _separable(300, 4, 0.2, SEED)
    bound = pc.novikoff_bound(X, y)
    bound_teacher = pc.novikoff_bound(X, y, separator=teacher)
    assert bound <= bound_teacher * (1 + 1e-9)
    gamma_teacher = np.min(y * (X @ teacher[:-1] + teacher[-1]))
    assert pc.max_margin(X, y) >= gamma_teacher * (1 - 1e-9)
    for shuffle in (False, True):
        fit = pc.train(
            X, y, rule="perceptron", epochs=10_000, shuffle=shuffle, seed=SEED
        )
        assert fit.converged
        assert fit.mistakes <= bound
        assert fit.score(X, y) == 1.0


def test_max_margin_known_case() -> None:
    """Two points (1, 1)+ and (1, -1)- through the origin: the margin is 1."""
    X = np.array([[1.0, 1.0], [1.0, -1.0]])
    assert pc.max_margin(X, [1, -1], bias=False) == pytest.approx(1.0, rel=1e-6)
    assert pc.novikoff_bound(X, [1, -1], bias=False) == pytest.approx(2.0, rel=1e-5)


def test_xor_perceptron_rule_stops_and_weights_stay_bounded() -> None:
    """XOR is not separable: the rule runs max epochs, reports non-convergence, and
    (cycling theorem) its weights repeat with a period, so they stay bounded."""
    X, y = _xor()
    assert not pc.is_linearly_separable(X, y, bias=True)
    fit = pc.train(X, y, rule="perceptron", epochs=500)
    assert not fit.converged
    assert fit.epochs == 500
    assert fit.mistakes >= 500  # at least one mistake per epoch
    assert fit.accuracy.max() <= 0.75  # no line classifies all four points
    norms = fit.weight_norm
    assert norms.max() == norms[:50].max()
    # The integer weight vectors at the ends of epochs 100..119 repeat.
    ends = {
        tuple(np.append(f.weights, f.bias))
        for f in (pc.train(X, y, rule="perceptron", epochs=k) for k in range(100, 120))
    }
    assert len(ends) < 20
    shuffled = pc.train(X, y, rule="perceptron", epochs=2000, shuffle=True, seed=SEED)
    assert not shuffled.converged
    assert np.all(np.isfinite(shuffled.weight_norm))


def test_iris_pairs_separable_or_not() -> None:
    """Iris: setosa-versicolor is separable (LP) and the rule converges;
    versicolor-virginica is not (LP) and the rule does not."""
    for name, separable in (
        ("iris:setosa-versicolor", True),
        ("iris:setosa-virginica", True),
        ("iris:versicolor-virginica", False),
    ):
        task = pc.load_task(name)
        X = (task.X - task.X.mean(axis=0)) / task.X.std(axis=0)
        assert pc.is_linearly_separable(X, task.y, bias=True) is separable, name
        fit = pc.train(X, task.y, rule="perceptron", epochs=300)
        assert fit.converged is separable, name


# ---------------------------------------------------------------------------
# Gradient learning
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("act", GRADIENT_ACTIVATIONS)
def test_gradient_step_equals_finite_difference_of_squared_error(
    act: Activation,
) -> None:
    """One epoch moves w by -lr dE/dw, dE/dw from central differences of
    E = (1/2P) sum (t - g(h))^2 evaluated with the activation values only."""
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((40, 3))
    y = np.where(X[:, 0] - 0.5 * X[:, 1] > 0.2, 1, 0)
    lr = 0.05
    fit = pc.train(
        X, y, activation=act, epochs=1, learning_rate=lr, init_scale=1.0, seed=SEED
    )
    w0 = fit.initial_weights
    assert w0 is not None
    Xa = np.hstack([X, np.ones((40, 1))])
    lo, hi = act.levels
    t = np.where(y > 0, hi, lo)

    def loss(w: np.ndarray) -> float:
        return 0.5 * float(np.mean((act(Xa @ w) - t) ** 2))

    d = 1e-6
    grad = np.array(
        [(loss(w0 + d * e) - loss(w0 - d * e)) / (2 * d) for e in np.eye(4)]
    )
    moved = (w0 - np.append(fit.weights, fit.bias)) / lr
    np.testing.assert_allclose(moved, grad, rtol=1e-5, atol=1e-8)


def test_meanfield_without_coupling_learns_exactly_like_tanh() -> None:
    """J = 0: m = tanh(h/T): meanfield(T, zJ=0) training equals tanh with gain 1/T."""
    Xtr, _, ytr, _ = pc.split_task("iris:versicolor-virginica", seed=SEED)
    a = pc.train(
        Xtr,
        ytr,
        activation=Activation("meanfield", temperature=0.5, zJ=0.0),
        epochs=50,
        seed=SEED,
    )
    b = pc.train(
        Xtr, ytr, activation=Activation("tanh", gain=2.0), epochs=50, seed=SEED
    )
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-10)


def test_ordered_regime_gradients_bounded_by_susceptibility() -> None:
    """Below T_c each per-example gradient is at most |t - m| chi(0) |x| <= 2 chi(0)
    |x| (chi is largest at h = 0 on the stable branch): gradients vanish as T -> 0."""
    Xtr, _, ytr, _ = pc.split_task("breast_cancer", seed=SEED)
    norms = np.linalg.norm(np.hstack([Xtr, np.ones((Xtr.shape[0], 1))]), axis=1)
    previous = math.inf
    for ratio in (0.6, 0.4, 0.25):
        act = Activation("meanfield", temperature=ratio, zJ=1.0)
        chi0 = act.gain_at_zero()
        m0 = math.sqrt(
            max(0.0, 1 - chi0 * ratio / (1 + chi0))
        )  # 1 - m^2 = chi T/(1 + chi zJ)
        assert chi0 == pytest.approx((1 - m0**2) / (ratio - (1 - m0**2)), rel=1e-9)
        fit = pc.train(
            Xtr, ytr, activation=act, epochs=20, learning_rate=0.1, seed=SEED
        )
        for g in (fit.example_gradients_initial, fit.example_gradients_final):
            assert np.all(g <= 2 * chi0 * norms * (1 + 1e-9))
        median = float(np.median(fit.example_gradients_initial))
        assert median < previous
        previous = median


def test_xor_needs_the_hidden_layer() -> None:
    """XOR: a single tanh unit classifies at most 3 of 4 points; with 4 hidden tanh
    units back-propagation reaches 4/4 within 500 epochs for each of 5 seeds."""
    X, y = _xor()
    single = pc.train(X, y, activation="tanh", epochs=500, seed=SEED)
    assert single.accuracy.max() <= 0.75
    for k in range(5):
        fit = pc.train(X, y, activation="tanh", hidden=4, epochs=500, seed=SEED + k)
        assert fit.score(X, y) == 1.0, f"seed {SEED + k}"
        assert fit.epochs_to_target is not None


def test_learning_speed_grows_with_gain_above_tc() -> None:
    """Mean-field unit above T_c: higher susceptibility chi(0) = 1/(T - T_c) reaches
    the training target in fewer epochs (linear regime: speed ~ gain^2)."""
    res = pc.gain_scan(
        "iris:versicolor-virginica", [0.1, 1.0], seeds=(SEED,), epochs=300
    )
    np.testing.assert_allclose(res.gain, [0.1, 1.0], rtol=1e-9)
    slow_, fast = res.epochs_to_target[:, 0]
    assert math.isfinite(fast) and (not math.isfinite(slow_) or slow_ > 3 * fast)
    assert res.learning_speed[1] > res.learning_speed[0]


def test_training_is_reproducible_for_a_seed() -> None:
    """The same seed gives the same numbers; another seed other initial weights."""
    X, y, _ = _separable(100, 3, 0.1, SEED)
    a = pc.train(X, y, activation="logistic", epochs=20, seed=7)
    b = pc.train(X, y, activation="logistic", epochs=20, seed=7)
    c = pc.train(X, y, activation="logistic", epochs=20, seed=8)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert not np.array_equal(a.weights, c.weights)


def test_hebb_rule_is_the_label_weighted_mean() -> None:
    """Hebb: w = (1/P) sum s_i x_i, bias = mean of s; labels 0/1 map to -1/+1."""
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((30, 4))
    y = rng.integers(0, 2, 30)
    fit = pc.train(X, y, rule="hebb")
    s = 2 * y - 1
    np.testing.assert_allclose(fit.weights, s @ X / 30)
    assert fit.bias == pytest.approx(s.mean())
    assert set(np.unique(fit.predict(X))) <= {0, 1}


# ---------------------------------------------------------------------------
# Real data
# ---------------------------------------------------------------------------


def test_split_is_standardised_on_train_and_stratified() -> None:
    """Train inputs have mean 0 and std 1 per feature; class ratios are kept."""
    Xtr, Xte, ytr, yte = pc.split_task("breast_cancer", test_size=0.3, seed=SEED)
    np.testing.assert_allclose(Xtr.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Xtr.std(axis=0), 1, rtol=1e-12)
    assert Xtr.shape[0] + Xte.shape[0] == 569
    assert abs(ytr.mean() - yte.mean()) < 0.01
    again = pc.split_task("breast_cancer", test_size=0.3, seed=SEED)
    np.testing.assert_array_equal(again[0], Xtr)


def test_tasks_have_expected_shapes() -> None:
    """Bundled data: breast cancer 569 x 30, digits 8 x 8 images, iris pairs 100 x 4."""
    assert pc.load_task("breast_cancer").X.shape == (569, 30)
    d = pc.load_task("digits:3-8")
    assert d.X.shape[1] == 64 and set(np.unique(d.y)) == {0, 1}
    assert pc.load_task("digits:even-odd").X.shape == (1797, 64)
    assert pc.load_task("iris:versicolor-virginica").X.shape == (100, 4)


def test_temperature_scan_results_and_figure() -> None:
    """A small T/T_c scan: balanced accuracy from sklearn, gains chi(0) = 1/(T - T_c)
    above T_c, a report table and a matplotlib Figure."""
    from matplotlib.figure import Figure
    from sklearn.metrics import balanced_accuracy_score

    res = pc.temperature_scan("digits:3-8", [0.5, 2.0], seeds=(SEED,), epochs=30)
    assert res.accuracy.shape == (2, 1)
    assert res.gain[1] == pytest.approx(1.0)
    assert np.all((res.balanced_accuracy > 0.5) & (res.balanced_accuracy <= 1))
    Xtr, Xte, ytr, yte = pc.split_task("digits:3-8", seed=SEED)
    fit = pc.train(
        Xtr,
        ytr,
        activation=Activation("meanfield", temperature=2.0),
        epochs=30,
        learning_rate=0.1,
        target_accuracy=0.9,
        seed=SEED,
    )
    assert res.balanced_accuracy[1, 0] == pytest.approx(
        balanced_accuracy_score(yte, fit.predict(Xte))
    )
    assert isinstance(res.figure(), Figure)
    assert res.to_markdown().count("\n") == 3


def test_teacher_student_and_capacity_figures() -> None:
    """Figures of the result objects are matplotlib Figures with the data drawn."""
    from matplotlib.figure import Figure

    ts = pc.teacher_student([0.5, 1.0], 40, n_seeds=3, seed=SEED)
    fig = ts.figure()
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) >= 3
    cap = pc.capacity_scan((5,), (1.0, 2.0), trials=5, seed=SEED)
    assert isinstance(cap.figure(), Figure)
    X, y = _xor()
    assert isinstance(
        pc.fit_figure(pc.train(X, y, rule="perceptron", epochs=5)), Figure
    )


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("X", "y", "exc", "match"),
    [
        pytest.param(np.zeros((3, 2)), [1, -1], ValueError, "same length", id="length"),
        pytest.param(np.zeros((3, 2)), [0, 1, 2], ValueError, "binary", id="labels"),
        pytest.param(
            [[0.0, np.nan], [1.0, 1.0]], [0, 1], ValueError, "finite", id="nan"
        ),
        pytest.param(np.zeros((0, 2)), [], ValueError, "empty", id="empty"),
        pytest.param(np.zeros(3), [0, 1, 1], ValueError, "2-D", id="1d"),
        pytest.param(np.zeros((2, 2)), ["a", "b"], TypeError, "binary", id="strings"),
    ],
)
def test_bad_data_gives_clear_errors(
    X: object, y: object, exc: type, match: str
) -> None:
    for call in (
        lambda: pc.train(X, y),
        lambda: pc.is_linearly_separable(X, y),
    ):
        with pytest.raises(exc, match=match):
            call()


def test_bad_parameters_give_clear_errors() -> None:
    X, y = _xor()
    with pytest.raises(ValueError, match="rule"):
        pc.train(X, y, rule="delta")
    with pytest.raises(ValueError, match="activation"):
        pc.train(X, y, activation="sigmoidal")
    with pytest.raises(ValueError, match="zero derivative"):
        pc.train(X, y, activation="step")
    with pytest.raises(ValueError, match="hidden"):
        pc.train(X, y, rule="perceptron", hidden=3)
    with pytest.raises(ValueError, match="epochs"):
        pc.train(X, y, epochs=0)
    with pytest.raises(ValueError, match="temperature"):
        Activation("meanfield", temperature=-1.0)
    with pytest.raises(ValueError, match="zJ"):
        Activation("meanfield", zJ=-1.0)
    with pytest.raises(ValueError, match="T0 must be > Tc"):
        Activation("quench", T0=1.0, Tc=2.0)
    with pytest.raises(ValueError, match="task"):
        pc.load_task("digits:3-3")
    with pytest.raises(ValueError, match="alphas"):
        pc.capacity_scan((10,), (), trials=1)
    with pytest.raises(ValueError, match="online"):
        pc.teacher_student([1.0], 10, rule="hebb", online=True)
    with pytest.raises(ValueError, match="alpha"):
        pc.hebb_generalisation(-1.0)


@pytest.mark.parametrize("alphas", [[-1.0], [0.0], [0.5, 0], [math.nan]])
def test_teacher_student_alphas_check_and_message_agree(alphas: list[float]) -> None:
    """Every alpha <= 0 or non-finite gets the same message, stating > 0."""
    with pytest.raises(ValueError, match=r"alphas must be finite and > 0, got"):
        pc.teacher_student(alphas, 50)


def test_theory_curves_accept_alpha_zero_and_refuse_strings() -> None:
    assert pc.hebb_generalisation(0.0) == pytest.approx(0.5)
    with pytest.raises(TypeError, match="alpha"):
        pc.hebb_generalisation(["1"])  # type: ignore[list-item]


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def test_cli_teacher_student_json_equals_the_python_api(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`neurophase perceptron teacher-student --json` reports the API's numbers."""
    import json

    from neurophase.cli import main

    argv = ["perceptron", "teacher-student", "--dims", "100", "--alphas", "1,3"]
    rc = main([*argv, "--repetitions", "5", "--seed", str(SEED), "--json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    ref = pc.teacher_student([1.0, 3.0], 100, n_seeds=5, seed=SEED)
    np.testing.assert_array_equal(data["eps_mean"], ref.eps_mean)
    np.testing.assert_array_equal(data["theory"]["gibbs"], ref.theory["gibbs"])


def test_cli_tables_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """The perceptron subcommands print tables; bad input exits with status 2."""
    from neurophase.cli import main

    assert main(["perceptron", "train", "--task", "xor", "--epochs", "50"]) == 0
    out = capsys.readouterr().out
    assert "converged" in out and "no" in out
    argv = ["perceptron", "capacity", "--dims", "5", "--alphas", "1,2"]
    assert main([*argv, "--trials", "4", "--quiet"]) == 0
    assert "p-value" in capsys.readouterr().out
    argv = ["perceptron", "data", "--task", "iris:setosa-versicolor", "--ratios", "2"]
    assert main([*argv, "--seeds", "1", "--epochs", "5"]) == 0
    assert "balanced" in capsys.readouterr().out
    assert main(["perceptron", "capacity", "--alphas", "-1"]) == 2
    assert "alphas" in capsys.readouterr().err
    assert main(["perceptron", "data", "--task", "digits:1-1"]) == 2
    assert "task" in capsys.readouterr().err


def test_first_gradient_step_from_zero_is_the_hebb_direction() -> None:
    """At w = 0 a tanh unit has delta_i = -g t_i, so one gradient step points along
    the Hebb vector sum_i s_i x_i (cosine 1)."""
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((200, 30))
    y = np.where(X @ rng.standard_normal(30) > 0, 1, -1)
    grad = pc.train(X, y, activation="tanh", epochs=1, init_scale=0.0, bias=False)
    hebb = pc.train(X, y, rule="hebb", bias=False)
    cos = grad.weights @ hebb.weights
    cos /= np.linalg.norm(grad.weights) * np.linalg.norm(hebb.weights)
    assert cos == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    P=st.integers(1, 40),
    N=st.integers(1, 5),
    data_seed=st.integers(0, 2**32 - 1),
    shift=st.floats(-1.0, 1.0),
)
def test_block_search_equals_sequential_loop_on_random_data(
    P: int, N: int, data_seed: int, shift: float
) -> None:
    """Any data, separable or not: the same updates as the one-at-a-time loop."""
    rng = np.random.default_rng(data_seed)
    X = rng.standard_normal((P, N))
    y = np.where(X[:, 0] + shift + 0.5 * rng.standard_normal(P) > 0, 1, -1)
    fit = pc.train(X, y, rule="perceptron", epochs=6)
    w, total = _naive_perceptron(X, y, 6)
    assert fit.mistakes == total
    np.testing.assert_array_equal(np.append(fit.weights, fit.bias), w)


def test_batch_perceptron_reaches_zero_training_error_on_teacher_data() -> None:
    """Teacher labels are separable through the origin, so the batch rule converges
    (Novikoff) for every teacher and generalises better than chance."""
    res = pc.teacher_student(
        [0.5, 2.0], 50, rule="perceptron", n_seeds=5, seed=SEED, epochs=5000
    )
    assert res.converged.all()
    assert np.all(res.eps < 0.5)
    grad = pc.teacher_student([2.0], 50, rule="gradient", n_seeds=3, seed=SEED)
    assert grad.eps.shape == (1, 3) and np.all(grad.eps < 0.5)
