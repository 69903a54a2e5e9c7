"""Margins, Novikoff's bound, linear separability and Cover's count."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from .. import _validate
from ._common import FloatArray, _augment, _check_data, _markdown, _new_axes

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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


#: Largest ``P`` accepted by :func:`cover_count` and :func:`cover_fraction_exact`:
#: the count has ``P`` bits and takes ``min(N, P - N)`` big-integer steps
#: (about 0.7 s at the limit with ``N = P/2``).
MAX_COVER_COUNT_P = 10**5

# Up to this P, cover_fraction rounds the exact integer ratio (at most ~30 ms);
# above it, it evaluates the regularised incomplete beta function.
_COVER_EXACT_MAX_P = 20_000


def _binomial_lower_sum(n: int, k: int) -> int:
    """``sum_{j=0}^{k} binom(n, j)`` exactly, for ``0 <= k <= n``.

    Iterates ``binom(n, j+1) = binom(n, j) (n - j) / (j + 1)`` over the shorter
    side (the complement ``2^n - sum_{j<=n-k-1}`` when ``k > n/2``), so the cost
    is ``min(k, n - k)`` multiplications of ``n``-bit integers.
    """
    if 2 * k > n:
        return 2**n - _binomial_lower_sum(n, n - k - 1) if k < n else 2**n
    total, term = 0, 1
    for j in range(k + 1):
        total += term
        term = term * (n - j) // (j + 1)
    return total


def _check_cover_args(P: int, N: int, *, max_p: int | None = None) -> tuple[int, int]:
    P = _validate.positive_int("P", P)
    N = _validate.positive_int("N", N)
    if max_p is not None and P > max_p:
        raise ValueError(
            f"P must be <= {max_p} for the exact count (it has P bits), got {P}; "
            "use cover_fraction for larger P"
        )
    return P, N


def cover_count(P: int, N: int) -> int:
    """Cover's number of linearly separable dichotomies, exactly.

    ``C(P, N) = 2 sum_{k=0}^{N-1} binom(P - 1, k)``: the number of labellings
    of ``P`` points in general position in ``N`` dimensions realisable by a
    hyperplane through the origin (a Python int; no overflow).

    Parameters
    ----------
    P : int
        Number of points, ``1 <= P <= MAX_COVER_COUNT_P`` (10^5).
    N : int
        Dimension, ``>= 1``.

    Raises
    ------
    ValueError
        If ``P`` or ``N`` is below 1, or ``P`` exceeds ``MAX_COVER_COUNT_P``
        (:func:`cover_fraction` has no such limit).
    """
    P, N = _check_cover_args(P, N, max_p=MAX_COVER_COUNT_P)
    if N >= P:
        return 2**P
    return 2 * _binomial_lower_sum(P - 1, N - 1)


def cover_fraction_exact(P: int, N: int) -> Fraction:
    """``C(P, N) / 2^P`` as an exact fraction (``P <= MAX_COVER_COUNT_P``)."""
    return Fraction(cover_count(P, N), 2**P)


def cover_fraction(P: int, N: int) -> float:
    """Fraction of the ``2^P`` labellings that are linearly separable (Cover).

    Exactly ``P(Binomial(P - 1, 1/2) <= N - 1)``; 1 for ``P <= N``, 1/2 at
    ``P = 2N``, a step at ``alpha = P/N = 2`` as ``N -> inf``.

    Parameters
    ----------
    P : int
        Number of points, ``>= 1`` (no upper limit).
    N : int
        Dimension, ``>= 1``.

    Returns
    -------
    float
        For ``P <= 20000`` the exact integer ratio, correctly rounded to
        double.  Above, the regularised incomplete beta function
        ``I_{1/2}(P - N, N)`` (SciPy), in O(1) time: relative error below
        ~1e-13 where the fraction is at least 1e-10 and below ~1e-12 down to
        1e-300; fractions in the subnormal range may come out as 0.
    """
    P, N = _check_cover_args(P, N)
    if N >= P:
        return 1.0
    if P <= _COVER_EXACT_MAX_P:
        return _binomial_lower_sum(P - 1, N - 1) / 2 ** (P - 1)
    # P(X <= k) for X ~ Binomial(n, 1/2) is I_{1/2}(n - k, k + 1).
    return float(special.betainc(P - N, N, 0.5))


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
