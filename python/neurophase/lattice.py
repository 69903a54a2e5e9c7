"""Geometries of the membrane lattice: hypercubic (d = 1..5) or complete graph."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Literal

from . import _validate

Boundary = Literal["periodic", "open"]
Kind = Literal["hypercubic", "complete"]

MAX_DIMENSION = 5
# Limitation: one byte per spin, so 2**40 sites would already need a terabyte.
MAX_SITES = 2**40


@dataclass(frozen=True)
class Lattice:
    """A lattice of N ion channels (Ising spins), numbered in row-major order.

    Parameters
    ----------
    shape : tuple of int
        Sides ``(L_1, ..., L_d)``, each >= 2, with 1 <= d <= 5. For the complete
        graph, ``(N,)``.
    boundary : {"periodic", "open"}
        Boundary condition of a hypercubic lattice; the complete graph has none
        (stored as ``"open"``).
    kind : {"hypercubic", "complete"}
        Hypercubic lattice with nearest-neighbour bonds, or the complete graph
        (Curie-Weiss) with ``H = -(J/N) sum_{i<j} s_i s_j - h sum_i s_i``.

    Notes
    -----
    Bonds count once each, except that a periodic side of 2 holds two bonds
    between the same pair (both count), so the coordination is ``z = 2d`` on every
    periodic hypercubic lattice. On an open lattice ``z = 2d`` is the bulk value;
    edge sites have fewer neighbours.
    """

    shape: tuple[int, ...]
    boundary: Boundary = "periodic"
    kind: Kind = "hypercubic"

    def __post_init__(self) -> None:
        if isinstance(self.shape, numbers.Integral):
            object.__setattr__(self, "shape", (int(self.shape),))
        try:
            sides = tuple(self.shape)
        except TypeError:
            raise TypeError(
                f"shape must be a tuple of integer sides, got {self.shape!r}"
            ) from None
        if not 1 <= len(sides) <= MAX_DIMENSION:
            raise ValueError(
                f"shape must have 1 to {MAX_DIMENSION} sides (dimension d in 1..5), "
                f"got {len(sides)}"
            )
        sides = tuple(_validate.positive_int("side L", s, minimum=2) for s in sides)
        n_sites = 1
        for side in sides:
            n_sites *= side
        if n_sites > MAX_SITES:
            raise ValueError(
                f"shape {sides} has {n_sites} sites; at most {MAX_SITES} (2**40) are "
                "supported (one byte per spin)"
            )
        object.__setattr__(self, "shape", sides)
        if self.kind not in ("hypercubic", "complete"):
            raise ValueError(
                f"kind must be 'hypercubic' or 'complete', got {self.kind!r}"
            )
        if self.boundary not in ("periodic", "open"):
            raise ValueError(
                f"boundary must be 'periodic' or 'open', got {self.boundary!r}"
            )
        if self.kind == "complete":
            if len(sides) != 1:
                raise ValueError("the complete graph takes shape=(N,)")
            object.__setattr__(self, "boundary", "open")

    # Constructors -------------------------------------------------------------

    @classmethod
    def chain(cls, n: int, boundary: Boundary = "periodic") -> Lattice:
        """A chain (d = 1) of ``n >= 2`` sites; a ring when periodic."""
        return cls((_validate.positive_int("n", n, minimum=2),), boundary)

    @classmethod
    def square(
        cls, side: int, width: int | None = None, boundary: Boundary = "periodic"
    ) -> Lattice:
        """A ``side x side`` square lattice, or ``side x width`` when given."""
        rows = _validate.positive_int("side", side, minimum=2)
        cols = (
            rows if width is None else _validate.positive_int("width", width, minimum=2)
        )
        return cls((rows, cols), boundary)

    @classmethod
    def cubic(cls, side: int, boundary: Boundary = "periodic") -> Lattice:
        """A ``side^3`` simple cubic lattice."""
        return cls.hypercubic(3, side, boundary)

    @classmethod
    def hypercubic(
        cls, dimension: int, side: int, boundary: Boundary = "periodic"
    ) -> Lattice:
        """A hypercubic lattice of ``side^dimension`` sites, ``dimension`` in 1..5."""
        d = _validate.positive_int("dimension", dimension)
        if d > MAX_DIMENSION:
            raise ValueError(f"dimension must be in 1..{MAX_DIMENSION}, got {d}")
        L = _validate.positive_int("side", side, minimum=2)
        return cls((L,) * d, boundary)

    @classmethod
    def complete(cls, n: int) -> Lattice:
        """The complete graph of ``n >= 2`` sites (Curie-Weiss model)."""
        return cls((_validate.positive_int("n", n, minimum=2),), "open", "complete")

    # Properties ---------------------------------------------------------------

    @property
    def n_sites(self) -> int:
        """Number of sites N."""
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def dimension(self) -> int:
        """Number of axes d (1 for the complete graph)."""
        return len(self.shape)

    @property
    def periodic(self) -> bool:
        """True for periodic boundaries."""
        return self.kind == "hypercubic" and self.boundary == "periodic"

    @property
    def is_complete(self) -> bool:
        """True for the complete graph."""
        return self.kind == "complete"

    @property
    def coordination(self) -> int:
        """Coordination number z: 2d (bulk) on hypercubic lattices, N - 1 on K_N."""
        if self.is_complete:
            return self.n_sites - 1
        return 2 * self.dimension

    def mean_field_coupling(self, coupling: float = 1.0) -> float:
        """The mean-field ``zJ`` of this lattice (its mean-field ``T_c``).

        ``z * J`` on hypercubic lattices; ``J (N - 1) / N`` on the complete graph,
        whose couplings are ``J / N`` per pair.
        """
        J = _validate.finite_float("coupling", coupling)
        if self.is_complete:
            return J * (self.n_sites - 1) / self.n_sites
        return J * self.coordination

    def describe(self) -> str:
        """A short human-readable description, e.g. ``'square 64x64 periodic'``."""
        if self.is_complete:
            return f"complete graph N={self.n_sites}"
        names = {1: "chain", 2: "square", 3: "cubic"}
        name = names.get(self.dimension, f"hypercubic d={self.dimension}")
        return f"{name} {'x'.join(map(str, self.shape))} {self.boundary}"

    def _core_args(self) -> tuple[list[int], bool, bool]:
        return list(self.shape), self.periodic, self.is_complete
