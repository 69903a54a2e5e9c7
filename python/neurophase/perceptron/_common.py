"""Input checks, Markdown tables and figure axes shared by the perceptron modules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from matplotlib.figure import Figure


FloatArray = npt.NDArray[np.float64]


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


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _new_axes() -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    return fig, fig.subplots()
