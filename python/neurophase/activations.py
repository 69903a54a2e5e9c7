"""Activation functions of the mean-field membrane, evaluated over whole arrays in C++.

A patch of N ion channels with cooperative gating ``zJ`` at temperature ``T`` in a
drive ``h`` has the mean-field magnetisation ``m = tanh((zJ m + h)/T)``: its
activation function (DESIGN section 1; Sakthivadivel, arXiv:2102.04896). The
textbook units are limits of it: ``tanh(h/T)`` at ``J = 0``, the open fraction
``logistic(h; 2/T)``, the step as ``T -> 0``, and ReLU/softplus as firing rates of
a quench with linear reheating.

Every function here is NumPy-first:

* ``x`` (or ``h``, ``s``) is any array-like of any shape and strides (views
  included). float32 and float64 arrays keep their dtype; Python numbers, lists
  of numbers and integer and bool arrays become float64 (bool as 0 and 1);
  complex, object, string and other float (float16, longdouble) arrays raise
  ``TypeError``. The dtype of the result is that of ``x``; parameters never
  change it (integer arrays of parameters are converted too; bool parameters
  are refused). float32 input to
  :func:`logistic`, :func:`tanh`, :func:`softplus` and their derivatives runs
  through native single-precision kernels (16 lanes per AVX-512 instruction, 8
  per AVX2 one; within 4 float32 ulp, typically 2); every other element is
  computed in double precision and rounded once to the result dtype (float32 roots of
  :func:`meanfield` from a double solve stopped at a relative error below
  2^-35: within 1/2 + 2^-10 float32 ulp of the exact root).
* Parameters are numbers or arrays broadcasting against ``x``; the result has the
  broadcast shape. A parameter given as a number costs no temporary array.
* ``out=`` (keyword) receives the result: an array of the result dtype and shape,
  which may be ``x`` itself (in place); any other overlap with an input is
  resolved through a temporary copy.
* ``threads=`` is the number of OpenMP threads (``None``: every core this process
  may use). Results are bitwise identical for any thread count and for every SIMD
  code path (see :func:`simd_path`).
* A 0-d input without ``out`` returns a NumPy scalar of the result dtype, like a
  NumPy ufunc; otherwise an array (``out`` itself when given).
* Small calls are cheap (a few microseconds): numbers as parameters and a
  float32/float64 array as input take a fast path, and below ~16 000 elements
  (~2 000 for the mean-field kernels) the work runs on the calling thread.
* NaN in gives NaN out. Accuracy: within a few units in the last place (ulp) of
  the exact value over the whole range, subnormal numbers included, for every
  function and derivative and any gain (``g x`` is carried with its rounding
  error into the exponentials; checked against mpmath in the tests).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from . import _validate as validate

__all__ = [
    "logistic",
    "logistic_derivative",
    "meanfield",
    "meanfield_derivative",
    "open_fraction",
    "open_fraction_derivative",
    "quench_meanfield_plateau",
    "quench_meanfield_rate",
    "quench_meanfield_rate_derivative",
    "quench_rate",
    "quench_rate_derivative",
    "relu",
    "relu_derivative",
    "select_simd_path",
    "simd_path",
    "simd_paths",
    "softplus",
    "softplus_derivative",
    "step",
    "step_derivative",
    "swish",
    "swish_derivative",
    "tanh",
    "tanh_derivative",
]

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.floating[Any]]
Result = Any  # an ndarray, or a NumPy scalar for 0-d input

# Indices of cpp/include/neurophase/activations.hpp `Activation`.
_OPS = {
    name: i
    for i, name in enumerate(
        (
            "logistic",
            "logistic_d",
            "tanh",
            "tanh_d",
            "step",
            "step_d",
            "relu",
            "relu_d",
            "softplus",
            "softplus_d",
            "swish",
            "swish_d",
            "meanfield",
            "meanfield_d",
            "open_fraction",
            "open_fraction_d",
            "meanfield_h",
            "meanfield_h_d",
            "open_fraction_h",
            "open_fraction_h_d",
            "quench",
            "quench_d",
            "quench_sat",
            "quench_sat_d",
            "quench_mf",
            "quench_mf_d",
        )
    )
}

# ---------------------------------------------------------------------------
# Argument handling
# ---------------------------------------------------------------------------


#: dtype numbers of float32 and float64 (a cheaper test than comparing dtypes).
_FLOAT_NUMS = (np.dtype(np.float32).num, np.dtype(np.float64).num)

#: A parameter as passed to the core: a Python float (no 0-d array is made for it)
#: or a float64 array.
Param = float | npt.NDArray[np.float64]


def _input(name: str, value: Any, *, bools: bool = True) -> FloatArray:
    """The input array: float32/float64 kept; integers (and bools, if ``bools``),
    Python numbers and lists of them -> float64; anything else a TypeError."""
    if type(value) is np.ndarray and value.dtype.num in _FLOAT_NUMS:
        return value  # the common case, checked first: calls on tiny arrays
    if isinstance(value, np.ndarray | np.generic):
        arr = np.asarray(value)
    elif isinstance(value, bool):
        arr = np.asarray(value)
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as exc:  # ragged lists and the like
            raise TypeError(f"{name} must be a real number or array: {exc}") from None
    if arr.dtype.num in _FLOAT_NUMS:
        return arr
    kind = arr.dtype.kind
    if kind in "iu" or (bools and kind == "b"):
        return arr.astype(np.float64)
    allowed = "float32, float64, integer" + (" or bool" if bools else "")
    raise TypeError(
        f"{name} must be a real number or an array of real numbers ({allowed}), "
        f"got {arr.dtype} data"
    )


def _param(
    name: str, value: Any, *, minimum: float | None, strict: bool, allowed: str
) -> Param:
    """A parameter: a Python float for numbers, else a float64 array; finite and
    within its range."""
    if type(value) is float or type(value) is int:  # fast path: plain numbers
        v = float(value)
    elif isinstance(value, bool | np.bool_) or (
        isinstance(value, np.ndarray) and value.dtype.kind not in "fiu"
    ):
        raise TypeError(
            f"{name} must be a real number or a float or integer array ({allowed})"
        )
    elif isinstance(value, numbers.Real):  # NumPy scalars
        v = float(value)
    else:
        arr = _input(name, value, bools=False).astype(np.float64, copy=False)
        ok = np.isfinite(arr)
        if minimum is not None:
            ok &= arr > minimum if strict else arr >= minimum
        if not ok.all():
            first = arr[~ok].flat[0]
            raise ValueError(f"{name} must be {allowed} everywhere, got {first!r}")
        return arr
    bad = not math.isfinite(v) or (
        minimum is not None and (v <= minimum if strict else v < minimum)
    )
    if bad:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return v


def _gain(value: Any) -> Param:
    if type(value) is float and 0.0 < value < math.inf:  # the common case
        return value
    return _param("gain", value, minimum=0.0, strict=True, allowed="finite and > 0")


def _temperature(name: str, value: Any) -> Param:
    return _param(name, value, minimum=0.0, strict=True, allowed="finite and > 0")


def _coupling(value: Any) -> Param:
    return _param("zJ", value, minimum=0.0, strict=False, allowed="finite and >= 0")


def _m_prev(value: Any) -> npt.NDArray[np.float64]:
    arr = _input("m_prev", value)
    return arr.astype(np.float64, copy=False)


# Limitation: the default thread count (the cores this process may use) is read
# once, at the first call; a later change of the CPU affinity is not seen.
_USABLE_CORES: list[int] = []


def _threads(value: Any) -> int:
    if value is None:
        if not _USABLE_CORES:
            _USABLE_CORES.append(validate.threads(None))
        return _USABLE_CORES[0]
    return validate.threads(value)


def _apply(
    op: str,
    x: FloatArray,
    params: list[tuple[str, Param]],
    out: Any,
    threads: Any,
) -> Result:
    n_threads = _threads(threads)
    # One pass over the parameters: numbers (Python floats) and 0-d arrays never
    # change the shape, so the common call skips NumPy's broadcasting rules.
    operands: list[FloatArray | float] = [x]
    arrays: list[FloatArray] = []
    shape = x.shape
    spread = False  # a parameter with axes: NumPy's broadcasting rules apply
    for _, p in params:
        operands.append(p)
        if not isinstance(p, float):
            arrays.append(p)
            spread = spread or p.ndim > 0
    if spread:
        try:
            shape = np.broadcast_shapes(x.shape, *(p.shape for p in arrays))
        except ValueError:
            shapes = ", ".join(f"{n} {np.shape(p)}" for n, p in [("input", x), *params])
            raise ValueError(
                f"the arguments do not broadcast together: {shapes}"
            ) from None

    if out is None:  # the fast path: nothing can overlap a fresh array
        target = np.empty(shape, x.dtype)
        if target.size:
            # Broadcasting (stride 0) happens in the compiled core: no copies here.
            _core.activation(_OPS[op], target, operands, n_threads)
        return target if target.ndim else target[()]

    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array, got {type(out).__name__}")
    if out.dtype != x.dtype:
        raise TypeError(
            f"out must have the dtype of the input ({x.dtype}), got {out.dtype}"
        )
    if out.shape != shape:
        raise ValueError(f"out must have the broadcast shape {shape}, got {out.shape}")
    if not out.flags.writeable:
        raise ValueError("out must be writeable")
    # The kernels may read and write the same element; any other overlap (a
    # shifted view, a broadcast parameter inside out) goes through a copy.
    address = out.__array_interface__["data"][0]
    clash = any(
        not (
            a.shape == out.shape
            and a.strides == out.strides
            and a.__array_interface__["data"][0] == address
        )
        and np.may_share_memory(a, out)
        for a in (x, *arrays)
    )
    target = np.empty(shape, dtype=x.dtype) if clash else out
    if target.size:
        _core.activation(_OPS[op], target, operands, n_threads)
    if target is not out:
        np.copyto(out, target)
    return out


# ---------------------------------------------------------------------------
# Elementwise units
# ---------------------------------------------------------------------------

_COMMON = """
    Parameters
    ----------
    x : array_like
        Input (float32/float64 kept; numbers, lists, integer and bool arrays
        become float64).{gain}
    out : ndarray, optional
        Array of the result dtype and broadcast shape to write into (may be ``x``).
    threads : int, optional
        OpenMP threads (default: every usable core); results do not depend on it.

    Returns
    -------
    ndarray or NumPy scalar
        Same dtype as ``x``, broadcast shape; ``out`` when given.
"""

_GAIN = """
    gain : float or array_like, default 1
        Gain ``g`` (finite, > 0), broadcasting against ``x``."""


def _doc(text: str, gain: bool = True) -> str:
    return text + _COMMON.format(gain=_GAIN if gain else "")


def logistic(
    x: ArrayLike, gain: ArrayLike = 1.0, *, out: Any = None, threads: Any = None
) -> Result:
    return _apply("logistic", _input("x", x), [("gain", _gain(gain))], out, threads)


logistic.__doc__ = _doc(
    """Logistic sigmoid ``1/(1 + exp(-g x))``.

    Exact limits: 0 at ``-inf`` (and wherever ``exp(-g x)`` overflows, e.g.
    ``x = -1000``), 1 at ``+inf``; subnormal results below ``x ~ -708/g`` are kept.
    The open fraction of the membrane at ``J = 0`` is ``logistic(h, 2/T)``.
"""
)


def logistic_derivative(
    x: ArrayLike, gain: ArrayLike = 1.0, *, out: Any = None, threads: Any = None
) -> Result:
    return _apply("logistic_d", _input("x", x), [("gain", _gain(gain))], out, threads)


logistic_derivative.__doc__ = _doc(
    """Derivative ``g l (1 - l)`` of :func:`logistic` with respect to ``x``.

    Computed as ``g e/(1 + e)^2`` with ``e = exp(-g|x|)``, so the tails keep full
    relative accuracy (no ``1 - l`` cancellation).
"""
)


def tanh(
    x: ArrayLike, gain: ArrayLike = 1.0, *, out: Any = None, threads: Any = None
) -> Result:
    return _apply("tanh", _input("x", x), [("gain", _gain(gain))], out, threads)


tanh.__doc__ = _doc(
    """Hyperbolic tangent ``tanh(g x)``: the mean-field unit at ``J = 0`` with gain 1/T.

    Odd, including the sign of zero (``tanh(-0) = -0``); ``+-1`` at ``+-inf``.
"""
)


def tanh_derivative(
    x: ArrayLike, gain: ArrayLike = 1.0, *, out: Any = None, threads: Any = None
) -> Result:
    return _apply("tanh_d", _input("x", x), [("gain", _gain(gain))], out, threads)


tanh_derivative.__doc__ = _doc(
    """Derivative ``g (1 - tanh(g x)^2)`` of :func:`tanh`.

    Computed as ``g 4e/(1 + e)^2`` with ``e = exp(-2 g|x|)``: full relative
    accuracy in the tails (``tanh_derivative(20) = 1.7e-17``, not 0).
"""
)


def step(x: ArrayLike, *, out: Any = None, threads: Any = None) -> Result:
    return _apply("step", _input("x", x), [], out, threads)


step.__doc__ = _doc(
    """Heaviside step: 1 for ``x > 0``, 0 for ``x < 0``, NaN for NaN.

    At zero the sign of zero decides: ``step(+0.0) = 1`` and ``step(-0.0) = 0``,
    the ``T -> 0`` limit of the mean-field open fraction (where ``h = +0`` selects
    the open state and ``h = -0`` the closed one).
""",
    gain=False,
)


def step_derivative(x: ArrayLike, *, out: Any = None, threads: Any = None) -> Result:
    return _apply("step_d", _input("x", x), [], out, threads)


step_derivative.__doc__ = _doc(
    """Derivative of :func:`step`: 0 everywhere (also at 0: the delta function at
    the jump is not represented), NaN for NaN.
""",
    gain=False,
)


def relu(
    x: ArrayLike, gain: ArrayLike = 1.0, *, out: Any = None, threads: Any = None
) -> Result:
    return _apply("relu", _input("x", x), [("gain", _gain(gain))], out, threads)


relu.__doc__ = _doc(
    """Rectified linear unit ``g max(0, x)``.

    Signs of zero: the result is ``+0`` for every ``x <= 0`` including ``x = -0``
    (never ``-0``); NaN for NaN.
"""
)


def relu_derivative(
    x: ArrayLike, gain: ArrayLike = 1.0, *, out: Any = None, threads: Any = None
) -> Result:
    return _apply("relu_d", _input("x", x), [("gain", _gain(gain))], out, threads)


relu_derivative.__doc__ = _doc(
    """Derivative ``g step(x)`` of :func:`relu`: ``g`` for ``x > 0``, 0 for ``x < 0``.

    At the kink the convention of :func:`step` holds: ``g`` at ``+0``, 0 at ``-0``
    (the derivative from the right at ``+0``, from the left at ``-0``).
"""
)


def softplus(
    x: ArrayLike, gain: ArrayLike = 1.0, *, out: Any = None, threads: Any = None
) -> Result:
    return _apply("softplus", _input("x", x), [("gain", _gain(gain))], out, threads)


softplus.__doc__ = _doc(
    """Softplus ``ln(1 + exp(g x))/g``: the expected quench firing rate under logistic
    noise on the resting temperature.

    Evaluated as ``max(z, 0) + log1p(exp(-|z|))`` (``z = g x``), so
    ``softplus(1e4) = 1e4`` and ``softplus(-50) = 1.93e-22`` (not 0).
"""
)


def softplus_derivative(
    x: ArrayLike, gain: ArrayLike = 1.0, *, out: Any = None, threads: Any = None
) -> Result:
    return _apply("softplus_d", _input("x", x), [("gain", _gain(gain))], out, threads)


softplus_derivative.__doc__ = _doc(
    """Derivative of :func:`softplus`: ``logistic(x; g)``.
"""
)


def swish(
    x: ArrayLike, gain: ArrayLike = 1.0, *, out: Any = None, threads: Any = None
) -> Result:
    return _apply("swish", _input("x", x), [("gain", _gain(gain))], out, threads)


swish.__doc__ = _doc(
    """Swish ``x logistic(g x)``: the drive times the open fraction at ``J = 0``.

    Limits: ``-0`` at ``x = -inf`` and ``+inf`` at ``+inf``.
"""
)


def swish_derivative(
    x: ArrayLike, gain: ArrayLike = 1.0, *, out: Any = None, threads: Any = None
) -> Result:
    return _apply("swish_d", _input("x", x), [("gain", _gain(gain))], out, threads)


swish_derivative.__doc__ = _doc(
    """Derivative ``l + g x l (1 - l)`` of :func:`swish` (``l = logistic(x; g)``).

    0 at ``-inf``, 1 at ``+inf``. Near its zero (``g x = -1.2785``) the error is a
    few ulp of the two terms rather than of their (small) sum.
"""
)


# ---------------------------------------------------------------------------
# Mean-field membrane
# ---------------------------------------------------------------------------

_MF_PARAMS = """
    Parameters
    ----------
    h : array_like
        Field (stimulus drive), energy units (k_B = 1). Its dtype sets the result
        dtype (float32/float64 kept; numbers, lists, integer and bool arrays
        become float64).
    temperature : float or array_like
        Temperature ``T`` (finite, > 0), broadcasting against ``h``.
    zJ : float or array_like, default 1
        Coordination times coupling (finite, >= 0); ``T_c = zJ``.
    m_prev : array_like, optional
        Previous magnetisation, broadcasting against ``h``: selects the hysteresis
        mode (the stable root whose basin under the Glauber dynamics
        ``dm/dt = -m + tanh((zJ m + h)/T)`` contains ``m_prev``). A ``m_prev`` exactly
        on the unstable root gets the default root; NaN gives NaN.
    out, threads
        As for every function of this module.
"""


def _meanfield(
    op: str,
    h: ArrayLike,
    temperature: ArrayLike,
    zJ: ArrayLike,
    m_prev: ArrayLike | None,
    out: Any,
    threads: Any,
) -> Result:
    params: list[tuple[str, Param]] = [
        ("temperature", _temperature("temperature", temperature)),
        ("zJ", _coupling(zJ)),
    ]
    if m_prev is not None:
        params.append(("m_prev", _m_prev(m_prev)))
        derivative = op.endswith("_d")
        op = op.removesuffix("_d") + "_h" + ("_d" if derivative else "")
    return _apply(op, _input("h", h), params, out, threads)


def meanfield(
    h: ArrayLike,
    temperature: ArrayLike,
    zJ: ArrayLike = 1.0,
    *,
    m_prev: ArrayLike | None = None,
    out: Any = None,
    threads: Any = None,
) -> Result:
    return _meanfield("meanfield", h, temperature, zJ, m_prev, out, threads)


meanfield.__doc__ = (
    """Mean-field magnetisation ``m(h; T, zJ)``, the root of ``m = tanh((zJ m + h)/T)``.

    Above ``T_c = zJ``, and below it for ``|h|`` beyond the spinodal field
    ``h_sp = zJ m* - T artanh(m*)``, ``m* = sqrt(1 - T/zJ)``, there is one root.
    Where there are three, the default is the root of lowest free energy: the one
    with the sign of ``h``, and at ``h = 0`` the sign of the zero decides
    (``+0.0`` gives ``m >= 0``, ``-0.0`` gives ``m <= 0``), so ``m(-h) = -m(h)``
    holds bitwise everywhere. At ``T = T_c``, ``m ~ (3h/T_c)^(1/3)`` for small
    ``h``; ``m -> sign(h)`` as ``T -> 0``; ``m = +-1`` for ``h = +-inf``.

    The solver starts from the largest root of the cubic truncation of
    ``artanh(m) - zJ m/T = h/T`` (an upper bound) and runs Newton's method on a
    convex form of the equation, so the iterates decrease monotonically onto the
    root with no overshoot; near ``m = 0`` it uses ``artanh(m) - m`` by its series,
    which keeps full relative accuracy at ``T = T_c``, ``h -> 0``.
"""
    + _MF_PARAMS
    + """
    Returns
    -------
    ndarray or NumPy scalar
        ``m`` in [-1, 1], dtype of ``h``, broadcast shape.
"""
)


def meanfield_derivative(
    h: ArrayLike,
    temperature: ArrayLike,
    zJ: ArrayLike = 1.0,
    *,
    m_prev: ArrayLike | None = None,
    out: Any = None,
    threads: Any = None,
) -> Result:
    return _meanfield("meanfield_d", h, temperature, zJ, m_prev, out, threads)


meanfield_derivative.__doc__ = (
    """Susceptibility ``chi = dm/dh = (1 - m^2)/(T - zJ (1 - m^2))`` at the root of
    :func:`meanfield` (per unit field).

    Where the denominator vanishes the value is ``+inf``: at ``T = T_c``, ``h = 0``
    (the critical point, ``chi ~ |T - T_c|^-1`` nearby) and, in hysteresis mode,
    at the end of a metastable branch (``|h|`` at the spinodal field). ``1 - m^2``
    is computed as ``sech^2((zJ m + h)/T)``, so deep in the tails chi keeps its
    relative accuracy instead of rounding to 0 (there: about ``2|y|`` ulp,
    ``y = (zJ m + h)/T``, from the rounding of ``y``).
"""
    + _MF_PARAMS
)


def open_fraction(
    h: ArrayLike,
    temperature: ArrayLike,
    zJ: ArrayLike = 1.0,
    *,
    m_prev: ArrayLike | None = None,
    out: Any = None,
    threads: Any = None,
) -> Result:
    return _meanfield("open_fraction", h, temperature, zJ, m_prev, out, threads)


open_fraction.__doc__ = (
    """Open fraction ``n = (1 + m)/2`` of the mean-field membrane, in [0, 1].

    Evaluated as ``logistic(2y)``, ``y = (zJ m + h)/T`` at the root, which equals
    ``(1 + m)/2`` without its cancellation as ``n -> 0``. At ``zJ = 0`` this is
    ``logistic(h, 2/T)``, the sigmoid unit.

    Accuracy: as ``n -> 0`` the relative error grows to about
    ``(1 + 2 zJ/T + 2|y|)`` ulp: ``n`` is formed from the rounded ``m`` and ``y``.
"""
    + _MF_PARAMS
)


def open_fraction_derivative(
    h: ArrayLike,
    temperature: ArrayLike,
    zJ: ArrayLike = 1.0,
    *,
    m_prev: ArrayLike | None = None,
    out: Any = None,
    threads: Any = None,
) -> Result:
    return _meanfield("open_fraction_d", h, temperature, zJ, m_prev, out, threads)


open_fraction_derivative.__doc__ = (
    """Derivative ``dn/dh = chi/2`` of :func:`open_fraction` (``+inf`` where chi is).
"""
    + _MF_PARAMS
)


# ---------------------------------------------------------------------------
# Quench firing rates
# ---------------------------------------------------------------------------

_QUENCH_PARAMS = """
    Parameters
    ----------
    s : array_like
        Stimulus; its dtype sets the result dtype. Any real value (``s`` below
        the threshold gives 0).
    T0 : float or array_like
        Resting temperature (finite, ``T0 > Tc`` elementwise: the quench starts
        at rest above the critical temperature).
    Tc : float or array_like
        Critical temperature (finite, > 0).
    k : float or array_like, default 1
        Cooling per unit stimulus (finite, > 0).
    r : float or array_like, default 1
        Reheating rate, temperature per unit time (finite, > 0).
    sigma : float or array_like, default 0
        Scale of the logistic noise on ``T0`` (finite, >= 0; 0: no noise).
    saturate : bool, default True
        Cap the time at ``Tc/r`` (the quench cannot go below ``T = 0``).
    out, threads
        As for every function of this module.
"""


def _quench_params(
    T0: ArrayLike, Tc: ArrayLike, k: ArrayLike, r: ArrayLike, sigma: ArrayLike
) -> list[tuple[str, Param]]:
    t0, tc = _temperature("T0", T0), _temperature("Tc", Tc)
    _check_above_critical(t0, tc, "Tc")
    return [
        ("T0", t0),
        ("Tc", tc),
        ("k", _param("k", k, minimum=0.0, strict=True, allowed="finite and > 0")),
        ("r", _param("r", r, minimum=0.0, strict=True, allowed="finite and > 0")),
        (
            "sigma",
            _param(
                "sigma", sigma, minimum=0.0, strict=False, allowed="finite and >= 0"
            ),
        ),
    ]


def _check_above_critical(t0: Param, tc: Param, tc_name: str) -> None:
    """Refuse ``T0 <= T_c`` anywhere: the quench protocol starts at rest above
    ``T_c`` (below it the membrane never stops firing and the rate is
    meaningless)."""
    if type(t0) is float and type(tc) is float:  # the common case: two numbers
        if t0 > tc:
            return
        raise ValueError(
            f"T0 must be > {tc_name} (the quench starts at rest above the critical "
            f"temperature), got T0 = {t0!r}, {tc_name} = {tc!r}"
        )
    try:
        a, b = np.broadcast_arrays(np.asarray(t0), np.asarray(tc))
    except ValueError:  # shapes that do not broadcast: _apply reports them
        return
    below = a <= b
    if below.any():
        first = int(np.flatnonzero(below)[0])
        raise ValueError(
            f"T0 must be > {tc_name} everywhere (the quench starts at rest above "
            f"the critical temperature), got T0 = {float(a.flat[first])!r}, "
            f"{tc_name} = {float(b.flat[first])!r}"
        )


def _saturate(value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"saturate must be True or False, got {value!r}")
    return bool(value)


def quench_rate(
    s: ArrayLike,
    T0: ArrayLike,
    Tc: ArrayLike,
    k: ArrayLike = 1.0,
    r: ArrayLike = 1.0,
    *,
    sigma: ArrayLike = 0.0,
    saturate: bool = True,
    out: Any = None,
    threads: Any = None,
) -> Result:
    op = "quench_sat" if _saturate(saturate) else "quench"
    return _apply(op, _input("s", s), _quench_params(T0, Tc, k, r, sigma), out, threads)


quench_rate.__doc__ = (
    """Firing rate of a quench: time spent below ``T_c`` after a stimulus ``s`` cools
    the membrane from ``T0`` to ``T0 - k s``, followed by reheating at rate ``r``.

    ``sigma = 0``: ``(k/r) max(0, s - s0)`` with threshold ``s0 = (T0 - Tc)/k``, the
    ReLU; with ``saturate`` capped at ``Tc/r``, reached at ``s = T0/k``.
    ``sigma > 0``: the expectation under logistic noise of scale ``sigma`` on
    ``T0``, ``(sigma/r) softplus(u)`` with ``u = (k s - (T0 - Tc))/sigma``; with
    ``saturate`` minus ``(sigma/r) softplus(u - Tc/sigma)``, evaluated without
    cancellation. Units: time (temperature over ``r``).
"""
    + _QUENCH_PARAMS
)


def quench_rate_derivative(
    s: ArrayLike,
    T0: ArrayLike,
    Tc: ArrayLike,
    k: ArrayLike = 1.0,
    r: ArrayLike = 1.0,
    *,
    sigma: ArrayLike = 0.0,
    saturate: bool = True,
    out: Any = None,
    threads: Any = None,
) -> Result:
    op = "quench_sat_d" if _saturate(saturate) else "quench_d"
    return _apply(op, _input("s", s), _quench_params(T0, Tc, k, r, sigma), out, threads)


quench_rate_derivative.__doc__ = (
    """Derivative of :func:`quench_rate` with respect to ``s``.

    ``sigma = 0``: ``k/r`` on ``s0 <= s < T0/k`` (``s >= s0`` without saturation),
    0 elsewhere: at each kink the derivative from the right. ``sigma > 0``:
    ``(k/r) [logistic(u) - logistic(u - Tc/sigma)]``, evaluated as a product.
"""
    + _QUENCH_PARAMS
)


_QMF_PARAMS = """
    Parameters
    ----------
    s : array_like
        Stimulus; its dtype sets the result dtype.
    T0 : float or array_like
        Resting temperature (finite, ``T0 > zJ = T_c`` elementwise: the quench
        starts at rest above the critical temperature).
    zJ : float or array_like, default 1
        Coordination times coupling (finite, > 0): ``T_c = zJ``.
    k, r : float or array_like, default 1
        Cooling per unit stimulus and reheating rate (finite, > 0).
    out, threads
        As for every function of this module.
"""


def _qmf(
    op: str,
    s: ArrayLike,
    T0: ArrayLike,
    zJ: ArrayLike,
    k: ArrayLike,
    r: ArrayLike,
    out: Any,
    threads: Any,
) -> Result:
    t0 = _temperature("T0", T0)
    zj = _param("zJ", zJ, minimum=0.0, strict=True, allowed="finite and > 0")
    _check_above_critical(t0, zj, "T_c = zJ")
    params: list[tuple[str, Param]] = [
        ("T0", t0),
        ("zJ", zj),
        ("k", _param("k", k, minimum=0.0, strict=True, allowed="finite and > 0")),
        ("r", _param("r", r, minimum=0.0, strict=True, allowed="finite and > 0")),
    ]
    return _apply(op, _input("s", s), params, out, threads)


def quench_meanfield_rate(
    s: ArrayLike,
    T0: ArrayLike,
    zJ: ArrayLike = 1.0,
    k: ArrayLike = 1.0,
    r: ArrayLike = 1.0,
    *,
    out: Any = None,
    threads: Any = None,
) -> Result:
    return _qmf("quench_mf", s, T0, zJ, k, r, out, threads)


quench_meanfield_rate.__doc__ = (
    """Integrated mean-field magnetisation over the reheating after a quench:
    ``(1/r) * integral of m_sp(T) dT`` from ``max(0, T0 - k s)`` to ``T_c = zJ``,
    with ``m_sp`` the spontaneous magnetisation (0 when ``T0 - k s >= T_c``).

    Onset: ``~ (2/sqrt(3)) (zJ/r) ((k s - (T0 - zJ))/zJ)^(3/2)`` above the threshold
    ``s0 = (T0 - zJ)/k`` (the exponent ``1 + beta = 3/2``). Plateau, once the quench
    reaches ``T = 0``: ``(zJ/r) * integral_0^1 m_sp(t) dt`` =
    ``zJ/r * quench_meanfield_plateau()``, computed by quadrature. Units: time
    (magnetisation x temperature / rate).
"""
    + _QMF_PARAMS
)


def quench_meanfield_rate_derivative(
    s: ArrayLike,
    T0: ArrayLike,
    zJ: ArrayLike = 1.0,
    k: ArrayLike = 1.0,
    r: ArrayLike = 1.0,
    *,
    out: Any = None,
    threads: Any = None,
) -> Result:
    return _qmf("quench_mf_d", s, T0, zJ, k, r, out, threads)


quench_meanfield_rate_derivative.__doc__ = (
    """Derivative of :func:`quench_meanfield_rate` with respect to ``s``:
    ``(k/r) m_sp(T0 - k s)`` while ``0 < T0 - k s < zJ``, else 0 (at
    ``T0 - k s = 0`` the derivative from the right, 0).
"""
    + _QMF_PARAMS
)


def quench_meanfield_plateau() -> float:
    """``integral_0^1 m_sp(t) dt`` of the reduced spontaneous magnetisation
    (``t = T/T_c``): the plateau of :func:`quench_meanfield_rate` in units of
    ``zJ/r``. Computed once by Gauss-Legendre quadrature in the variable
    ``u = artanh(m)``."""
    return float(_core.quench_meanfield_plateau())


# ---------------------------------------------------------------------------
# Code paths
# ---------------------------------------------------------------------------


def simd_paths() -> list[str]:
    """SIMD code paths of the activation kernels compiled into this build."""
    return list(_core.activation_paths())


def simd_path() -> str:
    """The code path the activation kernels use: ``"avx512"`` (8 doubles or 16
    floats per instruction, chosen at import when the CPU has AVX-512 F, DQ, BW and
    VL), ``"avx2-fma"`` (4 doubles or 8 floats, chosen when the CPU has AVX2 and FMA
    but not AVX-512) or ``"scalar"``. All give bitwise identical results."""
    return str(_core.activation_path())


def select_simd_path(name: str) -> None:
    """Switch the activation kernels to a compiled path this CPU can run (for
    testing and benchmarking; results do not change, only speed).

    Raises
    ------
    ValueError
        If ``name`` is not compiled in or the CPU cannot run it.
    """
    if not isinstance(name, str) or not _core.select_activation_path(name):
        raise ValueError(
            f"name must be one of the paths this CPU can run {simd_paths()}, "
            f"got {name!r}"
        )
