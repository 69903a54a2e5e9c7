"""numba Metropolis kernels for the periodic square lattice (imported lazily).

This module imports numba at the top, so only import it when numba is wanted:
``baselines.py`` loads it on first use and reports a clear skip otherwise.

Random numbers come from SplitMix64 (a 64-bit counter advanced by the golden
gamma and passed through a bijective mixer); the top 53 bits of a draw are
compared with integer thresholds ``floor(p * 2**53)``, so the inner loop has no
floating point at all. A random number is drawn only for uphill moves
(``k = s * h > 0``), where ``thresholds[k // 2]`` holds ``p(dE = 2k)``; the
sequential kernel can also accept ``dE = 0`` moves with probability
``thresholds[0]`` instead of always (``zero_draw``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

GAMMA = np.uint64(0x9E3779B97F4A7C15)
MUL1 = np.uint64(0xBF58476D1CE4E5B9)
MUL2 = np.uint64(0x94D049BB133111EB)
SHIFT30 = np.uint64(30)
SHIFT27 = np.uint64(27)
SHIFT31 = np.uint64(31)
SHIFT11 = np.uint64(11)
ROW_KEY = np.uint64(0xD1B54A32D192ED03)
PASS_KEY = np.uint64(0x8CB92BA72F3D8DD7)
ONE = np.uint64(1)


@njit(inline="always")
def mix(z):
    """SplitMix64 finaliser: a bijection of 64-bit words with full avalanche."""
    z = (z ^ (z >> SHIFT30)) * MUL1
    z = (z ^ (z >> SHIFT27)) * MUL2
    return z ^ (z >> SHIFT31)


@njit(cache=True)
def sequential(spins, n_sweeps, thresholds, state, zero_draw):
    """Typewriter-order Metropolis sweeps on one thread.

    Parameters
    ----------
    spins : int8 array (L, L)
        Spins, updated in place.
    n_sweeps : int
        Number of sweeps.
    thresholds : uint64 array (3,)
        53-bit acceptance thresholds indexed by ``k // 2``.
    state : uint64 array (1,)
        Generator counter, advanced in place.
    zero_draw : bool
        Accept ``dE = 0`` moves with probability ``thresholds[0] / 2**53``
        (a random draw) instead of always.

    Returns
    -------
    int
        Spins flipped.
    """
    size = spins.shape[0]
    x = state[0]
    flips = 0
    for _ in range(n_sweeps):
        for i in range(size):
            up = i - 1 if i > 0 else size - 1
            down = i + 1 if i < size - 1 else 0
            for j in range(size):
                left = j - 1 if j > 0 else size - 1
                right = j + 1 if j < size - 1 else 0
                s = spins[i, j]
                h = spins[up, j] + spins[down, j] + spins[i, left] + spins[i, right]
                k = s * h
                if k > 0 or (k == 0 and zero_draw):
                    x += GAMMA
                    if (mix(x) >> SHIFT11) >= thresholds[k >> 1]:
                        continue
                spins[i, j] = -s
                flips += 1
    state[0] = x
    return flips


@njit(cache=True, parallel=True)
def checkerboard(spins, n_sweeps, thresholds, key, first_pass):
    """Checkerboard Metropolis sweeps, the rows of one colour spread over threads.

    Row ``i`` of half-sweep ``p`` (counted from ``first_pass``) draws from its own
    stream started at ``mix(mix(p * PASS_KEY + 1) ^ key ^ i * ROW_KEY)``, so the
    result is the same for any number of threads.

    Returns
    -------
    int
        Spins flipped.
    """
    size = spins.shape[0]
    flips = 0
    for sweep in range(n_sweeps):
        for colour in range(2):
            counter = np.uint64(first_pass + 2 * sweep + colour)
            base = key ^ mix(counter * PASS_KEY + ONE)
            for i in prange(size):
                x = mix(base ^ (np.uint64(i) * ROW_KEY))
                up = i - 1 if i > 0 else size - 1
                down = i + 1 if i < size - 1 else 0
                row_flips = 0
                for j in range((i + colour) & 1, size, 2):
                    left = j - 1 if j > 0 else size - 1
                    right = j + 1 if j < size - 1 else 0
                    s = spins[i, j]
                    h = spins[up, j] + spins[down, j] + spins[i, left] + spins[i, right]
                    k = s * h
                    if k > 0:
                        x += GAMMA
                        if (mix(x) >> SHIFT11) >= thresholds[k >> 1]:
                            continue
                    spins[i, j] = -s
                    row_flips += 1
                flips += row_flips
    return flips
