# Type stub of the private compiled core; kept in step with cpp/bindings/.
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

def build_info() -> dict[str, Any]: ...
def philox4x32(
    counter: tuple[int, int, int, int] | list[int], key: tuple[int, int] | list[int]
) -> list[int]: ...
def philox_stream(
    seed: int,
    purpose: int,
    substream: int,
    sweep: int,
    first_block: int,
    n_blocks: int,
    vectorised: bool = True,
) -> npt.NDArray[np.uint32]: ...
def run(
    shape: list[int] | tuple[int, ...],
    periodic: bool,
    complete: bool,
    spins: npt.NDArray[np.int8],
    algorithm: str,
    seed: int,
    first_sweep: int,
    coupling: float,
    temperature: npt.NDArray[np.float64],
    field_uniform: npt.NDArray[np.float64],
    field_site: npt.NDArray[np.float64] | None,
    threads: int,
    record: bool,
    snapshot_sweeps: npt.NDArray[np.int64],
    clusters_per_sweep: int = 0,
    record_kmin: bool = False,
) -> tuple[
    dict[str, int],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int8],
    npt.NDArray[np.float64],
]: ...
def measure(
    shape: list[int] | tuple[int, ...],
    periodic: bool,
    complete: bool,
    spins: npt.NDArray[np.int8],
    field_site: npt.NDArray[np.float64] | None,
    coupling: float,
    field: float,
    threads: int,
    fourier: bool = False,
) -> dict[str, Any]: ...
def hot_start(
    shape: list[int] | tuple[int, ...],
    periodic: bool,
    complete: bool,
    spins: npt.NDArray[np.int8],
    seed: int,
    threads: int,
) -> None: ...
def effective_threads(
    shape: list[int] | tuple[int, ...], periodic: bool, complete: bool, requested: int
) -> int: ...
def coordination(
    shape: list[int] | tuple[int, ...], periodic: bool, complete: bool
) -> int: ...
def local_update_paths() -> list[str]: ...
def local_update_path() -> str: ...
def select_local_update_path(name: str) -> bool: ...
def activation(
    op: int,
    out: npt.NDArray[Any],
    inputs: Sequence[npt.NDArray[Any] | float],
    threads: int,
) -> None: ...
def activation_paths() -> list[str]: ...
def activation_path() -> str: ...
def select_activation_path(name: str) -> bool: ...
def quench_meanfield_plateau() -> float: ...

# Multi-spin-coded Metropolis (1 bit per spin; layout in cpp/include/neurophase/msc.hpp)
def msc_n_words(shape: list[int] | tuple[int, ...]) -> int: ...
def msc_kernel() -> str: ...
def msc_effective_threads(
    shape: list[int] | tuple[int, ...], requested: int
) -> int: ...
def msc_pack(
    shape: list[int] | tuple[int, ...], spins: npt.NDArray[np.int8], threads: int
) -> npt.NDArray[np.uint64]: ...
def msc_unpack(
    shape: list[int] | tuple[int, ...], words: npt.NDArray[np.uint64], threads: int
) -> npt.NDArray[np.int8]: ...
def msc_hot_start(
    shape: list[int] | tuple[int, ...], seed: int, threads: int
) -> npt.NDArray[np.uint64]: ...
def msc_measure(
    shape: list[int] | tuple[int, ...], words: npt.NDArray[np.uint64], threads: int
) -> dict[str, int]: ...
def msc_run(
    shape: list[int] | tuple[int, ...],
    words: npt.NDArray[np.uint64],
    seed: int,
    first_sweep: int,
    coupling: float,
    temperature: npt.NDArray[np.float64],
    field_uniform: npt.NDArray[np.float64],
    threads: int,
    record: bool,
    snapshot_sweeps: npt.NDArray[np.int64],
) -> tuple[
    dict[str, int],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int8],
]: ...
def msc_decide_check(
    thresholds: npt.NDArray[np.int64],
    seed: int,
    sweep: int,
    colour: int,
    n_words: int,
    word: int,
    n_eager: int,
) -> tuple[int, int, int, list[int]]: ...
