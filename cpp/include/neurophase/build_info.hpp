// What the compiled core was built with, for `neurophase.build_info()`.
#pragma once

#include <string>
#include <vector>

namespace neurophase {

struct BuildInfo {
    bool openmp;
    int max_threads;
    std::string compiler;
    bool runtime_dispatch;                // target_clones compiled in
    std::vector<std::string> simd_paths;  // code paths compiled in
    std::string selected_path;            // the path this CPU runs
};

BuildInfo build_info();

}  // namespace neurophase
