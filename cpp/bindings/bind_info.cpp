#include "common.hpp"
#include "neurophase/build_info.hpp"

namespace neurophase::bindings {

void bind_info(py::module_& m) {
    m.def("build_info", [] {
        const BuildInfo info = build_info();
        py::dict d;
        d["openmp"] = info.openmp;
        d["max_threads"] = info.max_threads;
        d["compiler"] = info.compiler;
        d["runtime_dispatch"] = info.runtime_dispatch;
        d["simd_paths"] = info.simd_paths;
        d["selected_path"] = info.selected_path;
        return d;
    });
}

}  // namespace neurophase::bindings
