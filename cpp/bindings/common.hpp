// Shared by every binding file: pybind11, NumPy arrays and the argument checks that
// turn bad input into Python exceptions before any C++ loop starts.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "neurophase/engine.hpp"
#include "neurophase/lattice.hpp"

namespace py = pybind11;

namespace neurophase::bindings {

// C-contiguous arrays of exactly this dtype; pybind11 converts (copies) others.
template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

inline Geometry make_geometry(const std::vector<int64_t>& shape, bool periodic,
                              bool complete) {
    if (shape.empty() || shape.size() > 5)
        throw py::value_error("shape must have 1 to 5 axes, got " +
                              std::to_string(shape.size()));
    for (const int64_t side : shape)
        if (side < 2)
            throw py::value_error("every side must be >= 2, got " +
                                  std::to_string(side));
    if (complete) {
        if (shape.size() != 1)
            throw py::value_error("the complete graph takes a shape of one axis (N,)");
        return Geometry::complete(shape[0]);
    }
    return Geometry::hypercubic(shape, periodic);
}

inline void require_size(const py::array& a, int64_t size, const char* name) {
    if (a.size() != size)
        throw py::value_error(std::string(name) + " must have " + std::to_string(size) +
                              " elements, got " + std::to_string(a.size()));
}

// Snapshot sweeps must be strictly increasing and inside [0, n_sweeps).
inline void check_snapshot_sweeps(const carray<int64_t>& sweeps, int64_t n_sweeps) {
    const int64_t n = sweeps.size();
    const int64_t* s = sweeps.data();
    for (int64_t k = 0; k < n; ++k)
        if (s[k] < 0 || s[k] >= n_sweeps || (k > 0 && s[k] <= s[k - 1]))
            throw py::value_error(
                "snapshot sweeps must be increasing and within the run");
}

// What a run did, as the dict the Python layer reads.
inline py::dict stats_dict(const RunStats& stats) {
    py::dict info;
    info["attempts"] = stats.attempts;
    info["flips"] = stats.flips;
    info["clusters"] = stats.clusters;
    info["threads_used"] = stats.threads_used;
    info["clusters_per_sweep"] = stats.clusters_per_sweep;
    info["team_sweeps"] = stats.team_sweeps;
    return info;
}

void bind_engine(py::module_& m);
void bind_msc(py::module_& m);
void bind_rng(py::module_& m);
void bind_info(py::module_& m);
void bind_activations(py::module_& m);

}  // namespace neurophase::bindings
