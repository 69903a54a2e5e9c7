// The compiled core of neurophase; private: the public API is the Python package.
#include "common.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "neurophase compiled core (private; use the neurophase package)";
    neurophase::bindings::bind_info(m);
    neurophase::bindings::bind_rng(m);
    neurophase::bindings::bind_engine(m);
    neurophase::bindings::bind_activations(m);
    neurophase::bindings::bind_msc(m);
}
