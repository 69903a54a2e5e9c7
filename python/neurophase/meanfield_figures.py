"""Figures of the mean-field membrane (matplotlib).

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot,
so it works under any backend and leaves no global state behind; saving
(``fig.savefig(path)``) or showing it is the caller's choice.  Conventions as in
:mod:`neurophase.meanfield` (``k_B = 1``, ``T_c = zJ``, time in units of
``tau``, one heat-bath sweep per unit).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from . import activations as act
from . import meanfield as mf

__all__ = [
    "free_energy_figure",
    "magnetisation_figure",
    "phase_diagram_figure",
    "quench_figure",
    "rate_figure",
    "response_figure",
    "susceptibility_figure",
]


def _temperatures(zj: float, top: float = 2.0, points: int = 400) -> np.ndarray:
    return np.linspace(1e-3 * zj, top * zj, points)


def magnetisation_figure(
    zJ: float = 1.0, *, coordination: float | None = None, points: int = 400
) -> Figure:
    """Spontaneous magnetisation ``m(T)`` at ``h = 0`` in mean field.

    With ``coordination = z > 2`` the Bethe–Peierls curve for ``J = zJ/z`` is
    drawn too (its ``T_c`` lies below mean field's).
    """
    zj = mf._positive("zJ", zJ)
    t = _temperatures(zj, 1.5, points)
    fig = Figure(figsize=(5.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(t, mf.spontaneous_magnetisation(t, zj), label="mean field")
    if coordination is not None:
        j = zj / coordination
        mb = mf.bethe_magnetisation(t, 0.0, coordination=coordination, coupling=j)
        ax.plot(t, mb, "--", label=f"Bethe–Peierls, z = {coordination:g}")
    ax.axvline(zj, color="0.6", lw=0.8)
    ax.set_xlabel("temperature T")
    ax.set_ylabel("spontaneous magnetisation m")
    ax.set_title("Order parameter at h = 0")
    ax.legend()
    return fig


def response_figure(
    temperatures: Sequence[float] = (0.5, 1.0, 1.5, 3.0),
    zJ: float = 1.0,
    *,
    field_range: float = 3.0,
    points: int = 401,
) -> Figure:
    """``m(h)`` at several ``T`` (solid) beside the independent-channel ``tanh(h/T)``
    (dashed): coupling steepens the response; below ``T_c`` it jumps at ``h = 0``."""
    zj = mf._zj(zJ)
    h = np.linspace(-field_range, field_range, points)
    fig = Figure(figsize=(5.5, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for t in temperatures:
        (line,) = ax.plot(h, mf.magnetisation(t, h, zj), label=f"T = {t:g}")
        ax.plot(h, act.tanh(h, 1.0 / t), "--", color=line.get_color(), lw=0.9)
    ax.set_xlabel("field h (input)")
    ax.set_ylabel("magnetisation m")
    ax.set_title(f"Membrane response, zJ = {zj:g} (dashed: tanh(h/T))")
    ax.legend()
    return fig


def free_energy_figure(
    temperatures: Sequence[float] = (0.6, 0.9, 1.0, 1.2),
    field: float = 0.0,
    zJ: float = 1.0,
    *,
    points: int = 401,
) -> Figure:
    """Free-energy landscapes ``f(m)`` per channel at several ``T``.

    Left: Bragg–Williams (a Landau function of ``m``); right: variational.
    Roots of the self-consistency equation are marked on both (the curves
    agree there).
    """
    zj = mf._zj(zJ)
    m = np.linspace(-0.999, 0.999, points)
    fig = Figure(figsize=(9.0, 3.6), layout="constrained")
    ax_bw, ax_var = fig.subplots(1, 2)
    for t in temperatures:
        r = mf.roots(field, t, zj)
        (line,) = ax_bw.plot(
            m, mf.free_energy_bragg_williams(m, field, t, zj), label=f"T = {t:g}"
        )
        ax_var.plot(
            m, mf.free_energy_variational(m, field, t, zj), color=line.get_color()
        )
        for ax in (ax_bw, ax_var):
            ax.plot(r.magnetisation, r.free_energy, "o", color=line.get_color(), ms=4)
    ax_bw.set_title(f"Bragg–Williams, h = {field:g}")
    ax_var.set_title(f"variational, h = {field:g}")
    for ax in (ax_bw, ax_var):
        ax.set_xlabel("magnetisation m")
        ax.set_ylabel("free energy per channel f(m)")
    ax_bw.legend()
    return fig


def phase_diagram_figure(zJ: float = 1.0, *, points: int = 400) -> Figure:
    """The ``(T, h)`` phase diagram: the first-order line ``h = 0, T < T_c``,
    the spinodals ``+-h_s(T)`` (the metastable region between them is shaded),
    and the critical point."""
    zj = mf._positive("zJ", zJ)
    t = np.linspace(1e-3 * zj, zj, points)
    h_s = np.asarray(mf.spinodal(t, zj)[1])
    fig = Figure(figsize=(5.0, 3.8), layout="constrained")
    ax = fig.add_subplot()
    ax.fill_between(
        t, -h_s, h_s, color="C0", alpha=0.15, label="metastable (hysteresis)"
    )
    ax.plot(t, h_s, "C0", label="spinodals ±h_s(T)")
    ax.plot(t, -h_s, "C0")
    ax.plot([0, zj], [0, 0], "k", lw=2, label="first-order line")
    ax.plot([zj], [0], "ko", label="critical point")
    ax.set_xlim(0, 1.5 * zj)
    ax.set_xlabel("temperature T")
    ax.set_ylabel("field h")
    ax.set_title("Mean-field phase diagram")
    ax.legend(fontsize="small")
    return fig


def susceptibility_figure(zJ: float = 1.0, *, points: int = 400) -> Figure:
    """``chi(T)`` at ``h = 0`` on a log scale: ``1/(T - T_c)`` above,
    ``~1/(2 (T_c - T))`` below."""
    zj = mf._positive("zJ", zJ)
    below = zj * (1.0 - np.geomspace(1e-3, 0.999, points // 2))[::-1]
    above = zj * (1.0 + np.geomspace(1e-3, 2.0, points // 2))
    fig = Figure(figsize=(5.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.semilogy(below, mf.susceptibility(below, 0.0, zj), "C0", label="T < T_c")
    ax.semilogy(above, mf.susceptibility(above, 0.0, zj), "C1", label="T > T_c")
    ax.axvline(zj, color="0.6", lw=0.8)
    ax.set_xlabel("temperature T")
    ax.set_ylabel("susceptibility chi = dm/dh")
    ax.set_title("Susceptibility at h = 0")
    ax.legend()
    return fig


def quench_figure(response: mf.QuenchResponse, *, max_curves: int = 8) -> Figure:
    """The quench protocol: ``T(t)`` (top) and ``m(t)`` (bottom) for a subset of
    the stimuli of a :func:`neurophase.meanfield.quench_response`, with the
    thresholds and ``T_c``."""
    traj = response.trajectory
    n = response.stimulus.size
    pick = np.unique(np.linspace(0, n - 1, min(n, max_curves)).astype(int))
    fig = Figure(figsize=(6.0, 5.0), layout="constrained")
    ax_t, ax_m = fig.subplots(2, 1, sharex=True)
    temps = traj.temperature.reshape(traj.times.size, -1)
    mags = traj.magnetisation.reshape(traj.times.size, -1)
    stim = response.stimulus.reshape(-1)
    for i in pick:
        (line,) = ax_t.plot(traj.times, temps[:, i], label=f"s = {stim[i]:.3g}")
        ax_m.plot(traj.times, mags[:, i], color=line.get_color())
    ax_t.axhline(traj.zJ, color="0.5", ls=":", label="T_c")
    ax_m.axhline(response.theta_on, color="0.5", ls="--", label="theta_on")
    if response.theta_off != response.theta_on:
        ax_m.axhline(response.theta_off, color="0.5", ls=":", label="theta_off")
    ax_t.set_ylabel("temperature T(t)")
    ax_m.set_ylabel("magnetisation m(t)")
    ax_m.set_xlabel("time (units of tau = heat-bath sweeps)")
    ax_t.set_title("Quench and reheating")
    ax_t.legend(fontsize="x-small", ncol=2)
    ax_m.legend(fontsize="x-small")
    return fig


def rate_figure(
    resting_temperature: float = 1.25,
    zJ: float = 1.0,
    *,
    k: float = 1.0,
    rate: float = 2e-3,
    relaxation_time: float = 400.0,
    theta: float = 0.5,
    bias: float = 1e-2,
    points: int = 25,
) -> Figure:
    """Firing rate against stimulus for the two reheating laws.

    Markers: time magnetised from the mean-field Glauber integration (threshold
    ``theta``, bias field ``bias``); lines: the slow-reheating forms, a ReLU
    for linear reheating (``activations.quench_rate`` with ``T_c -> T_theta``)
    and a log-rectifier ``tau_h ln(k s/(T0 - T_theta))`` for Newtonian.  The
    quench is clipped at ``T_min = 1e-4 zJ`` (both laws saturate beyond
    ``s = T0/k``).
    """
    zj = mf._positive("zJ", zJ)
    t0 = resting_temperature
    t_theta = mf.threshold_temperature(theta, zj, bias)
    stim = np.linspace(0.0, (t0 + 0.1 * zj) / k, points)
    lin = mf.LinearReheating.create(
        stim, t0, k=k, rate=rate, minimum_temperature=1e-4 * zj
    )
    newton = mf.NewtonianReheating.create(
        stim, t0, k=k, relaxation_time=relaxation_time, minimum_temperature=1e-4 * zj
    )
    r_lin = mf.quench_response(lin, zJ=zj, bias=bias, theta_on=theta)
    r_new = mf.quench_response(newton, zJ=zj, bias=bias, theta_on=theta)
    fine = np.linspace(0.0, stim[-1], 400)
    fig = Figure(figsize=(9.0, 3.6), layout="constrained")
    ax_l, ax_n = fig.subplots(1, 2)
    ax_l.plot(stim, r_lin.rate, "o", ms=4, label="Glauber")
    ax_l.plot(
        fine, act.quench_rate(fine, t0, t_theta, k, rate), label="(k/r) ReLU(s - s0)"
    )
    ax_l.set_title(f"linear reheating, r = {rate:g}")
    gap = t0 - t_theta
    ax_n.plot(stim, r_new.rate, "o", ms=4, label="Glauber")
    depth = np.minimum(k * fine, t0 - 1e-4 * zj)  # the quench stops at T_min
    log_rect = relaxation_time * np.log(np.maximum(depth / gap, 1.0))
    ax_n.plot(fine, log_rect, label="tau_h ln(k s/(T0 - T_theta))")
    ax_n.set_title(f"Newtonian reheating, tau_h = {relaxation_time:g}")
    for ax in (ax_l, ax_n):
        ax.set_xlabel("stimulus s")
        ax.set_ylabel("time magnetised (firing rate)")
        ax.legend(fontsize="small")
    return fig
