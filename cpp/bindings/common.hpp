// Shared by every binding file: pybind11, NumPy arrays and the argument checks that
// turn bad input into Python exceptions before any C++ loop starts.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

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

void bind_engine(py::module_& m);
void bind_msc(py::module_& m);
void bind_rng(py::module_& m);
void bind_info(py::module_& m);
void bind_activations(py::module_& m);

}  // namespace neurophase::bindings
