"""What the installed package was built with and what this machine offers."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from . import _core

try:
    __version__ = version("neurophase")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"


def _cpu_flags() -> list[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "bmi2")
                    return [w for w in wanted if w in flags]
    except OSError:
        pass
    return []


def build_info() -> dict[str, Any]:
    """Version, OpenMP, thread limits and SIMD code paths of the compiled core.

    Returns
    -------
    dict
        ``version``, ``openmp`` (bool), ``max_threads`` (OpenMP's limit),
        ``usable_cores`` (cores this process may run on), ``compiler``,
        ``runtime_dispatch`` (AVX2 clones compiled in), ``simd_paths`` (code paths
        compiled in for the loops left to the compiler's vectoriser, such as the
        random-number fills), ``selected_path`` (the one of those this CPU runs;
        the hand-written kernels report their own paths below), ``cpu`` and
        ``cpu_flags`` (relevant instruction-set extensions of this CPU),
        ``activation_simd_paths`` (code paths of the activation kernels compiled
        in), ``activation_simd_path`` (the one in use), ``local_update_paths``
        (code paths of the Metropolis and heat-bath sweeps this CPU can run),
        ``local_update_path`` (the one in use) and ``msc_kernel`` (the kernel of
        ``algorithm="metropolis-msc"``: ``"avx512"``, ``"avx2"`` or
        ``"portable"``; the environment variable ``NEUROPHASE_MSC_KERNEL`` may ask
        for a narrower one).
    """
    info = dict(_core.build_info())
    info["version"] = __version__
    try:
        info["usable_cores"] = len(os.sched_getaffinity(0))
    except AttributeError:
        info["usable_cores"] = os.cpu_count() or 1
    info["cpu"] = platform.processor() or platform.machine()
    info["cpu_flags"] = _cpu_flags()
    info["activation_simd_paths"] = list(_core.activation_paths())
    info["activation_simd_path"] = _core.activation_path()
    info["local_update_paths"] = list(_core.local_update_paths())
    info["local_update_path"] = _core.local_update_path()
    info["msc_kernel"] = _core.msc_kernel()
    info["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY", "")
    info["gomp_spincount"] = os.environ.get("GOMP_SPINCOUNT", "")
    return info
